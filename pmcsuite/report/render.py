"""Write the report: ``report.md`` (figures linked from ``figures/``) and a self-contained
``report.html`` (python-markdown with tables; PNGs embedded as base64 data URIs; small CSS).

Both open with the provenance a reader needs to trust the numbers (host, OS, kernel, CPU, platform,
backend, tool versions, catalogue, command line, time, seed, plan), taken from metadata.json.
"""
import base64
import html
import re
import shlex
from datetime import datetime, timezone
from pathlib import Path

import markdown

from .. import __version__
from ..errors import PmcsuiteError
from ..sizes import format_size

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1000px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; border-bottom: 2px solid #ccc; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; vertical-align: top; }
th { background: #f3f3f3; } tr:nth-child(even) td { background: #fafafa; }
td:not(:first-child) { font-variant-numeric: tabular-nums; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
code { background: #f5f5f5; padding: 0 0.2em; }
"""

_MD_SPECIAL = re.compile(r"([\\`*_\[\]>|#])")


def md_escape(text) -> str:
    """Text -> Markdown that shows it literally (also safe inside a table cell)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split())).replace("<", "&lt;")


def _value(value) -> str:
    return "unknown" if value in (None, "", [], {}) else md_escape(value)


def provenance(meta: dict, df) -> list[tuple[str, str]]:
    """(field, Markdown value) pairs describing where and how the results were produced."""
    host = meta.get("host") or {}
    plan = meta.get("plan") or {}
    catalogue = meta.get("catalogue") or {}
    tools = meta.get("tools") or {}
    command = meta.get("command_line")
    os_name = " ".join(str(v) for v in (host.get("os"), host.get("os_release")) if v)
    cpu = host.get("cpu_model")
    if cpu and host.get("cpus"):
        cpu = f"{cpu} ({host['cpus']} CPUs)"
    sizes = plan.get("sizes") or []
    runs = plan.get("runs")
    warmup = plan.get("warmup")
    passes = "; ".join(f"{p.get('name')}: {', '.join(p.get('counters') or [])}" for p in plan.get("passes") or [])
    rows = [
        ("Note", meta.get("note")),
        ("Source", f"{meta.get('source', 'unknown')} (result format {meta.get('format_version', '?')}, "
                   f"pmcsuite {meta.get('pmcsuite_version', '?')})"),
        ("Collected", meta.get("created")),
        ("Command line", shlex.join(map(str, command)) if isinstance(command, list) else command),
        ("Seed", meta.get("seed")),
        ("Host", host.get("hostname")),
        ("OS", os_name),
        ("Kernel", host.get("kernel")),
        ("Machine", host.get("machine")),
        ("CPU", cpu),
        ("Python", host.get("python")),
        ("Platform", ", ".join(meta.get("platform") or [])),
        ("Backend", meta.get("backend")),
        *((f"Tool: {name}", version) for name, version in tools.items()),
        ("Catalogue", (f"version {catalogue.get('version', '?')}, sha256 {str(catalogue.get('sha256', '?'))[:16]}…, "
                       f"{', '.join(map(str, catalogue.get('sources') or [])) or 'no sources listed'}"
                       + ("; analysed with the snapshot stored in metadata.json" if catalogue.get("snapshot")
                          else "; no snapshot stored (made before snapshots): analysed with today's catalogue files"))
         if catalogue else None),
        ("Plan: IPC modes", ", ".join(plan.get("ipc") or [])),
        ("Plan: buffer sizes", ", ".join(format_size(s) for s in sizes)),
        ("Plan: runs", None if runs is None else f"{runs} per point" + (f" + {warmup} warm-up" if warmup else "")),
        ("Plan: total per run", format_size(plan["total_size"]) if plan.get("total_size") else None),
        ("Plan: actors / placement", " / ".join(str(plan.get(k)) for k in ("actors", "placement") if plan.get(k))),
        ("Plan: counter passes", passes),
        ("Resumed", f"{len(meta['resumes'])} time(s)" if meta.get("resumes") else None),
    ]
    out = [(name, _value(value)) for name, value in rows if value or name not in ("Note", "Resumed")]
    failed, warm = int((~df["ok"]).sum()), int(df["warmup"].sum())
    skipped = df.attrs.get("skipped_lines") or []
    data = f"{len(df)} runs stored ({failed} failed, {warm} warm-ups)"
    if skipped:
        data += f"; {len(skipped)} corrupt line(s) skipped"
    out.append(("Data", md_escape(data)))
    out.append(("Counters", md_escape(", ".join(df.attrs.get("counters") or []) or "none")))
    out.append(("Report", md_escape(f"generated {datetime.now(timezone.utc).isoformat(timespec='seconds')} "
                                    f"by pmcsuite {__version__} from {df.attrs.get('directory', '?')}")))
    return out


def header_markdown(meta: dict, df, title: str) -> str:
    """The report's opening: title and the provenance table."""
    lines = [f"# {md_escape(title)}", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in provenance(meta, df)]
    return "\n".join(lines) + "\n"


def _relative(path: Path, outdir: Path) -> str:
    try:
        return Path(path).resolve().relative_to(outdir.resolve()).as_posix()
    except ValueError:
        return Path(path).resolve().as_posix()


def to_markdown(header: str, sections, outdir: Path) -> str:
    """The whole report as Markdown, figures linked by relative path."""
    parts = [header]
    for section in sections:
        parts.append(f"## {md_escape(section.title)}\n")
        for figure in section.figures:
            parts.append(f"![{md_escape(figure.caption)}]({_relative(figure.path, outdir)})\n\n"
                         f"*{md_escape(figure.caption)}*\n")
        parts.append(section.markdown)
    return "\n".join(parts)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _html(text: str) -> str:
    return markdown.markdown(text, extensions=["tables"], output_format="html")


def to_html(header: str, sections, title: str) -> str:
    """The whole report as one HTML page with its figures embedded (no external files)."""
    body = [_html(header)]
    for section in sections:
        body.append(f"<section>\n<h2>{html.escape(section.title)}</h2>")
        for figure in section.figures:
            caption = html.escape(figure.caption)
            body.append(f'<figure><img src="{_data_uri(figure.path)}" alt="{caption}">'
                        f"<figcaption>{caption}</figcaption></figure>")
        body.append(_html(section.markdown))
        body.append("</section>")
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def render(df, meta: dict, sections, outdir: Path, title: str = "pmcsuite report") -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``outdir``; returns their paths."""
    outdir = Path(outdir)
    header = header_markdown(meta, df, title)
    md_path, html_path = outdir / "report.md", outdir / "report.html"
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        md_path.write_text(to_markdown(header, sections, outdir), encoding="utf-8")
        html_path.write_text(to_html(header, sections, title), encoding="utf-8")
    except OSError as exc:
        raise PmcsuiteError(f"cannot write the report in {outdir}: {exc.strerror}; choose another --out") from None
    return md_path, html_path
