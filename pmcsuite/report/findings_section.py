"""The report's opening (issue 10): what was found, before any table.

``findings_section(df, meta, outdir, ctx=None) -> list[Section]``, two lead sections (shown before the
table of contents):

- **Findings**: one line per finding of ``explain`` (``analysis.findings``: peaks, knees, falls, flat
  ranges, crossovers...) with its reliability, per IPC mode; a one-line note on the data's quality
  (failed runs, runs that shared the CPU, sanity warnings) pointing to the warnings; one figure per
  IPC mode: the baseline's median bandwidth with its 95 % intervals, the segmented fit, the detected
  inflexion points with their intervals (shaded) and the measured peak.
- **Probe effect**: the bandwidth ratio instrumented / baseline against buffer size, one panel per
  pass, one colour and marker per IPC mode, the exact 95 % bootstrap interval of each ratio as a band,
  and a line at 1.0 (no effect); the overhead's one-line summary per mode and pass.

The explanation and the overhead come from the report's :class:`~pmcsuite.report.context.ReportContext`
(computed once, shared with the detail sections).
"""
from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure
from matplotlib.lines import Line2D

from ..analysis.breakpoints import MIB
from ..analysis.findings import mode_sentences
from ..sizes import format_size
from . import Figure, Section, figure_path, ipc_colour, ipc_marker, save_figure
from .render import md_escape

TITLE = "Findings"
PROBE_TITLE = "Probe effect at a glance"


def tag(reliability: str) -> str:
    """The reliability of a finding as a small coloured label (inline HTML, also fine in Markdown)."""
    kind = "reliable" if reliability == "reliable" else "unreliable"
    return f'<span class="tag {kind}">{html.escape(str(reliability))}</span>'


def _slug(text: str) -> str:
    import re
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_") or "x"


def size_axis(ax, sizes, label: bool = True) -> None:
    """log2 buffer-size axis with K/M tick labels (every other one past 8 sizes)."""
    sizes = sorted(int(s) for s in sizes)
    ax.set_xscale("log", base=2)
    ticks = sizes if len(sizes) <= 8 else sizes[::2]
    ax.set_xticks(ticks, [format_size(s) for s in ticks])
    ax.minorticks_off()
    ax.grid(True, alpha=0.3)
    if label:
        ax.set_xlabel("buffer size (bytes per write(), log scale)")


def plot_mode(m, ipc: str, found: list[dict], path: Path) -> Path:
    """One IPC mode: median bandwidth (baseline, solid) with 95 % intervals, fit, inflexion points with
    their intervals, the measured peak."""
    fit = m.bandwidth
    colour, marker = ipc_colour(ipc), ipc_marker(ipc)
    fig = MplFigure(figsize=(6.4, 3.7), dpi=100)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.16, top=0.89)
    ax = fig.add_subplot()
    cells = m.cells
    if cells is not None and not cells.empty and {"median", "ci_low", "ci_high"} <= set(cells.columns):
        med = cells["median"].to_numpy(float) / MIB
        err = np.vstack([med - cells["ci_low"].to_numpy(float) / MIB, cells["ci_high"].to_numpy(float) / MIB - med])
        ax.errorbar(cells["buffer_size"].astype(float), med, yerr=np.maximum(np.nan_to_num(err), 0), fmt="none",
                    ecolor=colour, elinewidth=1, capsize=2)
    ax.plot(fit.sizes, fit.medians, marker, color=colour, markersize=4.5, linestyle="none")
    if fit.can_break:
        ax.plot(fit.sizes, fit.fitted, "-", color=colour, linewidth=1.5)
    else:
        ax.plot(fit.sizes, fit.medians, "-", color=colour, linewidth=1.0, alpha=0.6)
    h = 2 ** (float(np.median(np.diff(np.log2(fit.sizes)))) / 2 if len(fit.sizes) > 1 else 0.5)
    top = max([*fit.medians, *fit.fitted, 0.0])
    for bp in fit.breakpoints:
        ax.axvspan(bp.ci_low / h, bp.ci_high * h, color=colour, alpha=0.13, linewidth=0)
        ax.axvline(bp.size, color=colour, linestyle=":", linewidth=1)
        ax.annotate(f"{bp.kind} {format_size(bp.size)}", (bp.size, top * 1.08), ha="center", fontsize=7.5,
                    color="0.2")
    for f in found:
        if f.get("kind") == "peak" and f.get("of") == "bandwidth" and f.get("measured"):
            value = (f["measured"].get("value") or 0) / MIB
            ax.plot([f["size"]], [value], "*", color="black", markersize=10, zorder=5)
            ax.annotate(f"peak {value:,.0f} MiB/s", (f["size"], value), textcoords="offset points", xytext=(6, -10),
                        fontsize=7.5)
    ax.set_ylim(0, top * 1.18 if top > 0 else None)
    size_axis(ax, fit.sizes)
    ax.set_ylabel(f"median bandwidth ({fit.unit})")
    title = f"{ipc}: bandwidth ({m.bandwidth_source})"
    if not fit.can_break:
        title += f", {len(fit.sizes)} sizes: too few for inflexions"
    ax.set_title(title, fontsize=10)
    return save_figure(fig, path)


def plot_probe_ratio(cells: pd.DataFrame, path: Path, ipcs=None) -> Path | None:
    """Ratio instrumented / baseline median bandwidth vs buffer size: one panel per pass, one colour and
    marker per IPC mode, the 95 % interval as a band, a line at 1.0."""
    if cells is None or cells.empty:
        return None
    passes = list(dict.fromkeys(cells["variant"]))
    ipcs = ipcs or list(dict.fromkeys(cells["ipc"]))
    n = len(passes)
    width = 11.0 if n > 1 else 7.5
    fig = MplFigure(figsize=(width, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.08 if n > 1 else 0.11, right=0.86 if n > 1 else 0.80, bottom=0.17, top=0.88,
                        wspace=0.12)
    axes = fig.subplots(1, n, squeeze=False, sharey=True)[0]
    # y range from the ratios, widened to the intervals but never more than 0.3 past the ratios (a very wide
    # interval of one cell must not flatten every curve): such a band runs off the axis
    ratios = cells["ratio"].to_numpy(float)
    ratios = ratios[np.isfinite(ratios)]
    bands = cells[["ci_low", "ci_high"]].to_numpy(float)
    bands = bands[np.isfinite(bands)]
    if ratios.size:
        lo = max(float(ratios.min()) - 0.3, float(bands.min()) if bands.size else -np.inf, 0.0)
        hi = min(float(ratios.max()) + 0.3, float(bands.max()) if bands.size else np.inf)
        lo, hi = min(0.9, lo - 0.02), max(1.1, hi + 0.02)
    else:
        lo, hi = 0.5, 1.5
    for k, (ax, variant) in enumerate(zip(axes, passes)):
        sel = cells[cells["variant"] == variant]
        for ipc in ipcs:
            g = sel[sel["ipc"] == ipc].sort_values("buffer_size")
            if g.empty:
                continue
            x = g["buffer_size"].to_numpy(float)
            colour = ipc_colour(ipc)
            ax.fill_between(x, g["ci_low"].to_numpy(float), g["ci_high"].to_numpy(float), color=colour, alpha=0.15,
                            linewidth=0)
            ax.plot(x, g["ratio"].to_numpy(float), "--", marker=ipc_marker(ipc), color=colour, markersize=4,
                    linewidth=1.3)
        ax.axhline(1.0, color="black", linewidth=1.2)
        ax.set_ylim(lo, hi)
        size_axis(ax, sel["buffer_size"].unique())
        ax.set_title(f"pass: {variant}", fontsize=9.5)
        if k == 0:
            ax.set_ylabel("bandwidth ratio, with / without counters")
    handles = [Line2D([], [], color=ipc_colour(i), marker=ipc_marker(i), linestyle="--") for i in ipcs]
    handles += [Line2D([], [], color="black", linewidth=1.2)]
    fig.legend(handles, list(ipcs) + ["1.0: no effect"], loc="upper right", fontsize=8, title="IPC mode",
               title_fontsize=8)
    return save_figure(fig, path)


def short_overhead(r: dict) -> str:
    """One short Markdown line per IPC mode and pass: 'pipe, pass syscalls: ×0.76 (range 0.60–0.84 over 3
    sizes); slower at 2 sizes, 1 inconclusive' + the reliability tag."""
    def num(v):
        return "—" if v is None or not np.isfinite(v) else f"{v:.2f}"
    verdicts = [(r.get("n_slowdown"), "slower"), (r.get("n_speedup"), "faster"), (r.get("n_negligible"), "negligible"),
                (r.get("n_inconclusive"), "inconclusive"), (r.get("n_too_few"), "too few runs")]
    said = ", ".join(f"{int(n)} {w}" for n, w in verdicts if n)
    text = (f"**{md_escape(r['ipc'])}**, pass {md_escape(r['variant'])}: bandwidth ×{num(r.get('median_ratio'))} of the "
            f"baseline (median over {int(r.get('n_sizes') or 0)} sizes, range {num(r.get('min_ratio'))}–"
            f"{num(r.get('max_ratio'))})" + (f"; sizes: {said}" if said else ""))
    unreliable = int(r.get("n_unreliable") or 0)
    return f"{tag('unreliable' if unreliable else 'reliable')} {text}" + \
        (f" ({unreliable} of {int(r.get('n_sizes') or 0)} sizes unreliable)" if unreliable else "")


def quality_line(ctx) -> str | None:
    """'Data quality: ...' in one line (failed runs, shared CPU, sanity warnings), or None when clean."""
    df = ctx.df
    parts = []
    failed = int((~df["ok"].fillna(False).astype(bool)).sum())
    if failed:
        parts.append(f"{failed:,} of {len(df):,} runs failed")
    shared = ctx.shared_cpu
    if shared["shared"]:
        parts.append(f"{shared['shared']:,} of {shared['ok']:,} successful runs shared the CPU "
                     f"({shared['shared_measured']:,} measured, {shared['shared_warmup']:,} warm-ups)")
    sanity = len(df.attrs.get("warnings") or [])
    if sanity:
        parts.append(f"{sanity:,} sanity-check warning(s)")
    if not parts:
        return None
    return "Data quality: " + "; ".join(parts) + ". Findings built on such cells are marked unreliable; see Warnings."


def findings_section(df: pd.DataFrame, meta: dict, outdir: Path, ctx=None) -> list[Section]:
    """The two lead sections (module docstring)."""
    if ctx is None:
        from .context import ReportContext
        ctx = ReportContext(df, meta)
    expl = ctx.expl
    if expl is None:
        return [Section(TITLE, "No successful, non-warm-up run: nothing was found.\n", lead=True, anchor="findings")]
    plan = list((meta.get("plan") or {}).get("ipc") or [])
    modes = sorted(expl.modes, key=lambda i: (plan.index(i) if i in plan else len(plan), i))
    lines, figures = [], []
    found = ctx.findings
    for ipc in modes:
        mine = [f for f in found if f.get("ipc") == ipc]
        lines.append(f"**{md_escape(ipc)}**\n")
        if mine:
            lines += [f"- {tag(f.get('reliability', 'unreliable'))} {md_escape(f['sentence'])}" for f in mine]
        else:
            said = mode_sentences(expl.modes[ipc], expl.labels, expl.settings)
            lines += [f"- {md_escape(s)}" for s in said[:2]] or ["- Nothing found."]
        lines.append("")
        path = plot_mode(expl.modes[ipc], ipc, mine, figure_path(outdir, f"findings-{_slug(ipc)}.png"))
        figures.append(Figure(path, f"{ipc}: median bandwidth of the {expl.modes[ipc].bandwidth_source} per buffer "
                                    "size (markers) with its 95 % bootstrap interval, the segmented fit (line), "
                                    "inflexion points (dotted) with their 95 % intervals (shaded), the measured peak "
                                    "(star)."))
    cross = [f for f in found if "ipcs" in f]
    if cross:
        lines.append("**Across IPC modes**\n")
        lines += [f"- {tag(f.get('reliability', 'unreliable'))} {md_escape(f['sentence'])}" for f in cross]
        lines.append("")
    n_rel = sum(f.get("reliability") == "reliable" for f in found)
    lines.insert(0, f"{len(found)} finding(s), {n_rel} reliable. A finding is *unreliable* when a cell it is built on "
                    "has a spread (CV) above 10 %, runs that shared the CPU, or fewer than 3 runs.\n")
    quality = quality_line(ctx)
    if quality:
        lines.append(f"*{md_escape(quality)}*\n")
    sections = [Section(TITLE, "\n".join(lines) + "\n", figures, lead=True, anchor="findings", figures_first=False)]
    ovh = ctx.overhead
    if ovh is not None and not ovh.cells.empty:
        path = plot_probe_ratio(ovh.cells, figure_path(outdir, "probe-effect.png"),
                                [i for i in modes if i in set(ovh.cells["ipc"])])
        text = [f"- {short_overhead(r)}" for r in ovh.modes.to_dict("records")]
        text.append("\nEach pass's tests per size, intervals and inflexion points: *Probe effect (overhead of the "
                    "counters)* below.")
        sections.append(Section(PROBE_TITLE, "\n".join(text) + "\n",
                                [Figure(path, "Median bandwidth with each pass's counters divided by the baseline's "
                                              "(no counters), per buffer size; bands: exact 95 % bootstrap interval "
                                              "of the ratio; below the line at 1.0 the counters slow the transfer.")]
                                if path else [], lead=True, anchor="probe-effect-at-a-glance", figures_first=False))
    return sections
