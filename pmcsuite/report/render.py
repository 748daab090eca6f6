"""Write the report: ``report.md`` (figures linked from ``figures/``) and a self-contained
``report.html`` (python-markdown with tables, fenced code as ``<pre>``, Markdown inside
``<details markdown="1">``; PNGs embedded as base64 data URIs; small CSS; wide tables scroll inside
their own box).

Order: the title and one line on the data; the lead sections (the findings); a table of contents;
the other sections; the provenance a reader needs to trust the numbers (host, OS, kernel, CPU,
platform, backend, tool versions, catalogue, command line, time, seed, plan, what was measured),
compact, at the end.
"""
import base64
import html
import re
import shlex
from pathlib import Path

import markdown

from ..version import __version__
from ..errors import PmcsuiteError
from ..schema import now
from ..sizes import format_size
from .context import ReportContext
from .toolbox import Section, fold, md_escape, pipe_table, size_list, slug

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px; margin: 1.5em auto;
       padding: 0 1em; color: #222; line-height: 1.45; overflow-wrap: break-word; }
h1 { font-size: 1.6em; border-bottom: 2px solid #ccc; margin-bottom: 0.2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ddd; } h3 { margin-top: 1.5em; }
p.lede { color: #555; margin-top: 0; }
.scroll { overflow-x: auto; max-width: 100%; margin: 1em 0; }
table { border-collapse: collapse; font-size: 0.88em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; vertical-align: top; text-align: left; }
th { background: #f3f3f3; white-space: nowrap; } tr:nth-child(even) td { background: #fafafa; }
td { white-space: nowrap; font-variant-numeric: tabular-nums; }
td.wrap { white-space: normal; min-width: 18em; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.88em; color: #555; }
code { background: #f5f5f5; padding: 0 0.2em; }
pre { background: #f7f7f7; border: 1px solid #e3e3e3; padding: 0.5em 0.8em; overflow-x: auto; font-size: 0.8em;
      line-height: 1.25; }
pre code { background: none; padding: 0; }
details { margin: 0.8em 0; border: 1px solid #e3e3e3; border-radius: 4px; padding: 0.3em 0.8em; }
details > summary { cursor: pointer; font-weight: 600; color: #345; }
nav.toc { background: #f8f8f8; border: 1px solid #e3e3e3; padding: 0.4em 1.2em; margin: 1.5em 0; }
nav.toc h2 { margin-top: 0.4em; border: none; font-size: 1.1em; } nav.toc ol { margin: 0.3em 0 0.6em; }
ul.findings li { margin: 0.2em 0; }
.tag { font-size: 0.78em; padding: 0 0.45em; border-radius: 3px; white-space: nowrap; }
.tag.reliable { background: #e3f4e1; color: #1f5f1a; } .tag.unreliable { background: #fbe9d5; color: #7a3f00; }
.figrow { display: flex; flex-wrap: wrap; gap: 0 1em; } .figrow figure { flex: 1 1 480px; min-width: 0; }
"""

def _value(value) -> str:
    return "unknown" if value in (None, "", [], {}) else md_escape(value)


def _virtualisation(value) -> str | None:
    """host.virtualisation in words: its kind, what, and the evidence ("vm (kvm): cpuinfo flag ...")."""
    if not isinstance(value, dict) or not value.get("kind"):
        return None
    evidence = "; ".join(map(str, value.get("evidence") or []))
    return f"{value['kind']}{' (' + str(value['by']) + ')' if value.get('by') else ''}" + \
        (f": {evidence}" if evidence else "")


def _tool(value) -> str:
    """A tool's version: a string, or the ipcbench build as one line (compiler, flags, static, hash)."""
    if not isinstance(value, dict):
        return str(value)
    parts = [str(value.get("compiler_version") or value.get("compiler") or "")]
    if value.get("flags"):
        parts.append(" ".join(map(str, value["flags"])))
    if value.get("static") is not None:
        parts.append("static" if value["static"] else "dynamic")
    if value.get("target"):
        parts.append(f"target {value['target']}")
    if value.get("source_sha256"):
        parts.append(f"source sha256 {str(value['source_sha256'])[:12]}…")
    return ", ".join(p for p in parts if p)


def provenance(meta: dict, df, ctx=None) -> list[tuple[str, str]]:
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
    passes = "; ".join(f"{p.get('name')}: {', '.join(p.get('counters') or [])}" for p in plan.get("passes") or [])
    if ctx is None:
        ctx = ReportContext(df, meta)
    machine = " · ".join(str(v) for v in (host.get("hostname"), os_name, host.get("kernel") and
                                          f"kernel {host.get('kernel')}", host.get("machine"), cpu) if v)
    rows = [
        ("Note", meta.get("note")),
        ("Source", f"{meta.get('source', 'unknown')} (result format {meta.get('format_version', '?')}, "
                   f"pmcsuite {meta.get('pmcsuite_version', '?')})"),
        ("Collected", meta.get("created")),
        ("Command line", shlex.join(map(str, command)) if isinstance(command, list) else command),
        ("Seed", meta.get("seed")),
        ("Host", machine),
        ("Virtualisation", _virtualisation(host.get("virtualisation"))),
        ("Kernel tunables", ", ".join(f"{k} {v}" for k, v in (host.get("tunables") or {}).items() if v is not None)
         if isinstance(host.get("tunables"), dict) else None),
        ("Python", host.get("python")),
        ("Platform / backend", " / ".join(str(v) for v in (", ".join(meta.get("platform") or []) or None,
                                                             meta.get("backend")) if v)),
        *((f"Tool: {md_escape(name)}", _tool(version)) for name, version in tools.items()),
        ("Catalogue", (f"version {catalogue.get('version', '?')}, sha256 {str(catalogue.get('sha256', '?'))[:16]}…, "
                       f"{', '.join(map(str, catalogue.get('sources') or [])) or 'no sources listed'}"
                       + ("; analysed with the snapshot stored in metadata.json" if catalogue.get("snapshot")
                          else "; no snapshot stored (made before snapshots): analysed with today's catalogue files"))
         if catalogue else None),
        ("Plan: IPC modes", ", ".join(plan.get("ipc") or [])),
        ("Plan: buffer sizes", size_list(sizes, "")),
        ("Runs measured", ctx.runs_measured),
        ("Plan: total per run", format_size(plan["total_size"]) if plan.get("total_size") else None),
        ("Plan: actors / placement", " / ".join(str(plan.get(k)) for k in ("actors", "placement") if plan.get(k))),
        ("Plan: counter passes", passes),
        ("Resumed", f"{len(meta['resumes'])} time(s)" if meta.get("resumes") else None),
    ]
    out = [(name, _value(value)) for name, value in rows
           if value or name not in ("Note", "Resumed", "Virtualisation", "Kernel tunables")]   # older results
    failed, warm = int((~df["ok"]).sum()), int(df["warmup"].sum())
    skipped = df.attrs.get("skipped_lines") or []
    data = f"{len(df)} runs stored ({failed} failed, {warm} warm-ups)"
    if skipped:
        data += f"; {len(skipped)} corrupt line(s) skipped"
    out.append(("Data", md_escape(data)))
    out.append(("Counters", md_escape(", ".join(df.attrs.get("counters") or []) or "none")))
    out.append(("Report", md_escape(f"generated {now()} by pmcsuite {__version__} "
                                    f"from {df.attrs.get('directory', '?')}")))
    return out


def lede(meta: dict, df) -> str:
    """One line under the title: what data this is."""
    host = (meta.get("host") or {}).get("hostname") or "unknown host"
    plan = meta.get("plan") or {}
    when = str(meta.get("created") or "")[:16].replace("T", " ")
    modes = ", ".join(plan.get("ipc") or list(dict.fromkeys(df["ipc"].astype(str))))
    sizes = sorted({int(s) for s in df["buffer_size"].dropna()})
    span = f"{format_size(sizes[0])}–{format_size(sizes[-1])}" if len(sizes) > 1 else \
        (format_size(sizes[0]) if sizes else "?")
    return md_escape(f"{meta.get('source', 'collect')} on {host}" + (f", {when}" if when else "")
                     + f": {len(df):,} runs of {modes}, buffer sizes {span}. Provenance at the end.")


def provenance_markdown(meta: dict, df, ctx=None) -> str:
    """The provenance section's body: the table."""
    return pipe_table(["", ""], [[name, value] for name, value in provenance(meta, df, ctx)]) + "\n"


def header_markdown(meta: dict, df, title: str) -> str:
    """The report's opening: title and one line on the data."""
    return f"# {md_escape(title)}\n\n{lede(meta, df)}\n"


def _relative(path: Path, outdir: Path) -> str:
    try:
        return Path(path).resolve().relative_to(outdir.resolve()).as_posix()
    except ValueError:
        return Path(path).resolve().as_posix()


def anchor(section) -> str:
    """The HTML id of a section: its ``anchor`` or a slug of its title."""
    if getattr(section, "anchor", ""):
        return section.anchor
    return slug(section.title, "section")


def _ordered(sections):
    """Lead sections, the others, with unique anchors."""
    lead = [s for s in sections if getattr(s, "lead", False)]
    rest = [s for s in sections if not getattr(s, "lead", False)]
    seen, out = {}, []
    for s in lead + rest:
        a = anchor(s)
        seen[a] = seen.get(a, 0) + 1
        out.append((s, a if seen[a] == 1 else f"{a}-{seen[a]}"))
    return [x for x in out if x[0] in lead], [x for x in out if x[0] not in lead]


def _toc_markdown(rest) -> str:
    return "\n".join(["## Contents", ""] + [f"1. [{md_escape(s.title)}](#{a})" for s, a in rest]) + "\n"


def to_markdown(header: str, sections, outdir: Path, provenance_md: str = "") -> str:
    """The whole report as Markdown, figures linked by relative path."""
    lead, rest = _ordered(list(sections) + ([_provenance_section(provenance_md)] if provenance_md else []))
    parts = [header]

    def add(section):
        parts.append(f"## {md_escape(section.title)}\n")
        figures = [f"![{md_escape(f.caption)}]({_relative(f.path, outdir)})\n\n*{md_escape(f.caption)}*\n"
                   for f in section.figures]
        body = section.markdown.rstrip("\n") + "\n"        # a blank line before the next heading
        first = getattr(section, "figures_first", True)
        parts.extend(figures if first else [body])
        parts.extend([body] if first else figures)
    for section, _ in lead:
        add(section)
    if rest:
        parts.append(_toc_markdown(rest))
    for section, _ in rest:
        add(section)
    return "\n".join(parts)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


_TD = re.compile(r"<td([^>]*)>(.*?)</td>", re.S)
_TAGS = re.compile(r"<[^>]+>")


def _wrap_long_cells(match) -> str:
    attrs, inner = match.group(1), match.group(2)
    if len(html.unescape(_TAGS.sub("", inner))) > 48:
        attrs += ' class="wrap"'
    return f"<td{attrs}>{inner}</td>"


def _html(text: str) -> str:
    out = markdown.markdown(text, extensions=["tables", "fenced_code", "md_in_html"], output_format="html")
    out = out.replace("<table>", '<div class="scroll"><table>').replace("</table>", "</table></div>")
    return _TD.sub(_wrap_long_cells, out)


def _provenance_section(body: str) -> Section:
    return Section("Provenance", fold("Where, when and how these results were produced (host, tools, catalogue, "
                                      "plan, runs)", body, open_=False), anchor="provenance")


def to_html(header: str, sections, title: str, provenance_md: str = "") -> str:
    """The whole report as one HTML page with its figures embedded (no external files)."""
    lead, rest = _ordered(list(sections) + ([_provenance_section(provenance_md)] if provenance_md else []))
    body = [_html(header)]

    def add(section, ident):
        body.append(f'<section id="{html.escape(ident)}">\n<h2>{html.escape(section.title)}</h2>')
        figures = [f'<figure><img src="{_data_uri(f.path)}" alt="{html.escape(f.caption)}">'
                   f"<figcaption>{html.escape(f.caption)}</figcaption></figure>" for f in section.figures]
        first = getattr(section, "figures_first", True)
        if figures and first:
            body.append("\n".join(figures))
        body.append(_html(section.markdown))
        if figures and not first:
            body.append('<div class="figrow">' + "\n".join(figures) + "</div>" if len(figures) > 1
                        else figures[0])
        body.append("</section>")
    for section, ident in lead:
        add(section, ident)
    if rest:
        body.append('<nav class="toc" id="contents"><h2>Contents</h2><ol>'
                    + "".join(f'<li><a href="#{html.escape(a)}">{html.escape(s.title)}</a></li>' for s, a in rest)
                    + "</ol></nav>")
    for section, ident in rest:
        add(section, ident)
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def render(df, meta: dict, sections, outdir: Path, title: str = "pmcsuite report", ctx=None) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``outdir``; returns their paths."""
    outdir = Path(outdir)
    header = header_markdown(meta, df, title)
    prov = provenance_markdown(meta, df, ctx)
    md_path, html_path = outdir / "report.md", outdir / "report.html"
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        md_path.write_text(to_markdown(header, sections, outdir, prov), encoding="utf-8")
        html_path.write_text(to_html(header, sections, title, prov), encoding="utf-8")
    except OSError as exc:
        raise PmcsuiteError(f"cannot write the report in {outdir}: {exc.strerror}; choose another --out") from None
    return md_path, html_path
