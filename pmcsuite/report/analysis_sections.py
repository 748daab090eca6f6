"""Report sections for the analysis (issues 3 and 8): per IPC mode, the findings (measured values with
their intervals, the counters named behind them, reliability); the findings across IPC modes; then the
probe overhead of every pass.

``analysis_sections(df, meta, outdir) -> list[Section]`` computes the explanation once and returns one
Section per IPC mode plus one for the overhead. Per-mode section: bandwidth curve with breakpoints and
their intervals, one panel per counter per KiB with its own breakpoints, the overhead figure of that
mode, the findings table, the counters tried at each breakpoint (named or why not), the correlation table
(context), and sentences generated from the numbers. Figures are drawn with matplotlib's Agg canvas (no display) under ``outdir/figures``.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ..analysis import ALIGN_NOTE, Explanation, explain, mode_sentences
from ..analysis.findings import crossovers, mode_findings
from ..analysis.breakpoints import MIB, BreakpointFit
from ..analysis.overhead import OverheadResult, describe_mode
from ..results import measured
from ..sizes import format_size
from . import Figure, Section, figure_path, ipc_colour, ipc_marker, save_figure
from .render import fold, header, md_escape

CI_NOTE = ("Shaded bands: 95 % bootstrap interval of each breakpoint's location, widened by half a size step "
           "on each side (locations are resolved to the grid of measured sizes).")
METHOD = ("Method: continuous segmented (hinge) regression of the per-size medians on log2(buffer size); 0-3 "
          "breakpoints on measured sizes, at least 3 sizes per segment, chosen by BIC; a breakpoint is claimed "
          "only when its change of slope is material (default >= 10 % of the median bandwidth per doubling; "
          "0.25 log2-fold per doubling for counters, which are fitted on a log scale when positive) and a "
          "bootstrap over runs finds it within one size step in >= 80 % of resamples. Slopes are per doubling "
          "of the buffer size.")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_") or "x"


def _fmt(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.{digits}g}"
    return md_escape(v)


def md_table(frame: pd.DataFrame) -> str:
    """A DataFrame as a Markdown pipe table (numbers compact, text escaped)."""
    if frame.empty:
        return "_(empty)_"
    lines = ["| " + " | ".join(md_escape(header(c)) for c in frame.columns) + " |",
             "|" + "---|" * len(frame.columns)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_fmt(v) for v in row) + " |")
    return "\n".join(lines)


def _size_axis(ax, sizes) -> None:
    ax.set_xscale("log", base=2)
    ticks = sizes if len(sizes) <= 8 else sizes[::2]
    ax.set_xticks(ticks, [format_size(s) for s in ticks])
    ax.minorticks_off()
    ax.grid(True, alpha=0.3)


def _half(sizes) -> float:
    return float(np.median(np.diff(np.log2(sizes)))) / 2 if len(sizes) > 1 else 0.5


def _compact(v: float, _pos=None) -> str:
    """Tick label without scientific notation where possible: 0.06, 2000, 1.5e+06."""
    if v == 0:
        return "0"
    a = abs(v)
    if 1000 <= a < 1e7:
        return f"{v:.0f}"
    return f"{v:.3g}" if 1e-4 <= a < 1000 else f"{v:.0e}"


def _log_y(ax) -> None:
    """Log y axis labelled with plain numbers: decades, and 2x/5x ticks when the data span less than
    two decades (matplotlib's default labels minor ticks as 6x10^-2, which reads badly)."""
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    subs = tuple(range(1, 10)) if hi / lo < 4 else (1.0, 2.0, 5.0) if hi / lo < 100 else (1.0,)
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.yaxis.set_major_formatter(FuncFormatter(_compact))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _draw_fit(ax, fit: BreakpointFit, colour: str, other_breakpoints=()) -> None:
    """Medians (markers), fitted segments (line), claimed breakpoints (line + shaded interval). When the
    size grid cannot hold a breakpoint the medians are only joined by a thin line (a straight fit
    through so few sizes would suggest a trend the data cannot show)."""
    ax.plot(fit.sizes, fit.medians, "o", color=colour, markersize=4)
    if fit.can_break:
        ax.plot(fit.sizes, fit.fitted, "-", color=colour, linewidth=1.4)
    else:
        ax.plot(fit.sizes, fit.medians, "-", color=colour, linewidth=0.8, alpha=0.5)
    h = 2 ** _half(fit.sizes)
    for size in other_breakpoints:
        ax.axvline(size, color="0.5", linestyle=":", linewidth=1)
    for bp in fit.breakpoints:
        ax.axvspan(bp.ci_low / h, bp.ci_high * h, color=colour, alpha=0.15, linewidth=0)
        ax.axvline(bp.size, color=colour, linestyle="--", linewidth=1)
    _size_axis(ax, fit.sizes)
    if fit.scale == "log":
        _log_y(ax)


def plot_bandwidth_breakpoints(fit: BreakpointFit, title: str, path: Path, cells: pd.DataFrame | None = None) -> Path:
    """Bandwidth medians (with their 95 % intervals when ``cells`` is given), the segmented fit,
    breakpoints and their intervals."""
    fig = MplFigure(figsize=(8.5, 4.6), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    _draw_fit(ax, fit, ipc_colour(fit.label))
    if cells is not None and not cells.empty:
        med = cells["median"].to_numpy(float) / MIB
        err = np.vstack([med - cells["ci_low"].to_numpy(float) / MIB, cells["ci_high"].to_numpy(float) / MIB - med])
        ax.errorbar(cells["buffer_size"], med, yerr=np.maximum(err, 0), fmt="none", ecolor=ipc_colour(fit.label),
                    elinewidth=1, capsize=2)
    for bp in fit.breakpoints:
        ax.annotate(f"{bp.kind} {format_size(bp.size)} (fit)", (bp.size, bp.value), textcoords="offset points",
                    xytext=(5, 6), fontsize=8, bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none",
                                                    "alpha": 0.8})
    top = max([*fit.medians, *fit.fitted, 0.0])
    ax.set_ylim(0, top * 1.15 if top > 0 else None)   # room for the labels under the title
    ax.set_xlabel("buffer size (bytes per write())")
    ax.set_ylabel(f"median bandwidth ({fit.unit})")
    if not fit.can_break:
        title += f" ({len(fit.sizes)} sizes: too few to fit inflexion points)"
    ax.set_title(title, fontsize=11)
    return save_figure(fig, path)


_UNITS = {"count": "events", "msec": "ms", "": "events", None: "events"}


def counter_unit(counter: str, units: dict | None) -> str:
    """'events per KiB', 'ms per KiB' (the catalogue's unit of the counter)."""
    unit = (units or {}).get(counter)
    return f"{_UNITS.get(unit, unit)} per KiB"


def plot_counter_panels(fits: dict, bandwidth: BreakpointFit, title: str, path: Path, labels=None,
                        colour: str | None = None, units: dict | None = None) -> Path | None:
    """One panel per counter per KiB (y axis in the counter's unit per KiB), with its own breakpoints; the
    bandwidth's breakpoints dotted grey; drawn in the IPC mode's colour when ``colour`` is given."""
    if not fits:
        return None
    labels = labels or {}
    n = len(fits)
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    # fixed margins rather than constrained layout: same look for this regular grid, half the drawing time
    height = 2.9 * nrows + 0.4
    fig = MplFigure(figsize=(4.0 * ncols, height), dpi=100)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.3 / ncols, right=1 - 0.05 / ncols, bottom=0.35 / height, top=1 - 0.65 / height,
                        wspace=0.32, hspace=0.42)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for k, (name, fit) in enumerate(fits.items()):
        ax = axes[k // ncols][k % ncols]
        _draw_fit(ax, fit, colour or f"C{(k + 1) % 10}", bandwidth.breakpoint_sizes)
        ax.set_title(f"{labels.get(name, name)}", fontsize=9)
        ax.set_ylabel(counter_unit(name, units), fontsize=8)
        ax.tick_params(labelsize=7)
    for k in range(n, nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def plot_overhead(ovh: OverheadResult, path: Path, ipcs=None, title: str = "Probe effect") -> Path | None:
    """Median bandwidth per pass: baseline dashed, instrumented solid, one colour per IPC mode;
    one panel per pass."""
    cells = ovh.cells if ipcs is None else ovh.cells[ovh.cells["ipc"].isin(ipcs)]
    if cells.empty:
        return None
    passes = list(dict.fromkeys(cells["variant"]))
    colours = {ipc: ipc_colour(ipc) for ipc in dict.fromkeys(ovh.cells["ipc"])}
    fig = MplFigure(figsize=(max(6.5, 5.0 * len(passes)), 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(passes), squeeze=False)[0]
    for ax, variant in zip(axes, passes):
        sel = cells[cells["variant"] == variant].sort_values("buffer_size")
        for ipc, g in sel.groupby("ipc", sort=False):
            ax.plot(g["buffer_size"], g["baseline_mib_s"], "--o", color=colours[ipc], markersize=3, linewidth=1.2)
            ax.plot(g["buffer_size"], g["variant_mib_s"], "-s", color=colours[ipc], markersize=3, linewidth=1.5)
        _size_axis(ax, sorted(sel["buffer_size"].unique()))
        ax.set_ylim(bottom=0)
        ax.set_title(f"pass: {variant}", fontsize=10)
        ax.set_xlabel("buffer size")
        ax.set_ylabel("median bandwidth (MiB/s)")
    shown = [i for i in colours if i in set(cells["ipc"])]
    handles = [Line2D([], [], color=colours[i], linewidth=3) for i in shown]
    handles += [Line2D([], [], color="0.3", linestyle="--"), Line2D([], [], color="0.3", linestyle="-")]
    fig.legend(handles, shown + ["baseline", "instrumented"], loc="outside right upper", fontsize=8)
    fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)


NOISE_NOTE = ("Measured: per-size median of the runs with its 95 % bootstrap interval; *fit*: the segmented "
              "fit's value, never quoted as a measurement. A finding is *unreliable* when a cell it is built on "
              "has a spread (CV) above {cv:.0f} %, runs that shared the CPU, or fewer than 3 runs. Flat: every "
              "median within ±{tol:.0f} % of the range's median over ≥ 3 consecutive sizes.")
ATTRIBUTION_NOTE = ("A counter is *named* only when its own fit claims a breakpoint within one size step (bootstrap "
                    "support ≥ 80 %), its local change of slope opposes the bandwidth's (a cost) and is material, and "
                    "a one-sided bootstrap test of that change stays below 0.05 after Holm correction over the "
                    "counters tried. Counters that measure time (cycles, CPU time, loop or off-CPU time) are "
                    "context, never the explanation. Fold change: counter per KiB at *to* / at the breakpoint.")


def _interval(lo, hi, scale=1.0) -> str:
    if lo is None or hi is None:
        return "—"
    return f"{lo / scale:,.4g}–{hi / scale:,.4g}"


def _findings_table(found: list, labels: dict) -> str:
    rows = []
    for f in found:
        meas = f.get("measured") or {}
        scale = MIB if meas.get("unit") == "bytes/s" else 1.0
        unit = "MiB/s" if scale == MIB else meas.get("unit", "")
        where = (format_size(f["size"]) if "size" in f and "from_size" not in f
                 else f"{format_size(f['from_size'])}–{format_size(f['to_size'])}")
        fit = f.get("fit") or {}
        rows.append({"kind": f["kind"], "of": labels.get(f["of"], f["of"]), "size": where,
                     "measured": f"{(meas.get('value') or float('nan')) / scale:,.4g} {unit}",
                     "95 % interval": _interval(*(meas.get("ci") or [None, None]), scale=scale),
                     "fit": f"{fit['value'] / scale:,.4g}" if fit.get("value") is not None else "—",
                     "counters named": ", ".join(f"{c['label']} ×{c['fold_change']:.3g}" if c.get("fold_change")
                                                 else c["label"] for c in f.get("counters", [])) or "none",
                     "reliability": f["reliability"]})
    return md_table(pd.DataFrame(rows))


def _explained_markdown(m) -> str:
    table = m.explained_table()
    if table.empty:
        return "No bandwidth breakpoint, so nothing to explain."
    return md_table(table)


def _not_shown(m, labels: dict) -> str:
    """Caption sentence listing the counters without a panel: constant across sizes, or never counted."""
    parts = []
    if m.constant:
        parts.append("constant across sizes: " + ", ".join(f"{labels.get(c, c)} ({v:g} per run)"
                                                           for c, v in m.constant.items()))
    if m.unmeasured:
        parts.append("no value counted: " + ", ".join(f"{labels.get(c, c)} ({s.replace('_', ' ')})"
                                                      for c, s in m.unmeasured.items()))
    return (" Not shown — " + "; ".join(parts) + ".") if parts else ""


def _units(meta: dict | None) -> dict:
    from ..catalogue import result_catalogue
    try:
        cat = result_catalogue(meta or {})
    except Exception:          # a broken snapshot must not stop the report: panels then say "events"
        cat = None
    return {c: k.unit for c, k in cat.counters.items()} if cat is not None else {}


def mode_section(expl: Explanation, ipc: str, outdir: Path, meta: dict | None = None, units: dict | None = None) -> Section:
    """The section of one IPC mode (see the module docstring); its bandwidth figure is in the findings."""
    m = expl.modes[ipc]
    slug = _slug(ipc)
    figures = []
    panel = plot_counter_panels(m.counters, m.bandwidth, f"{ipc}: counters per KiB transferred",
                                figure_path(outdir, f"counters-{slug}.png"), expl.labels, colour=ipc_colour(ipc),
                                units=units if units is not None else _units(meta))
    if panel is not None:
        figures.append(Figure(panel, f"{ipc}: per-size median of each counter per KiB transferred (log scale where "
                                     f"positive), its segmented fit and its own breakpoints (dashed, shaded); dotted "
                                     f"grey: the bandwidth's breakpoints." + _not_shown(m, expl.labels)))
    text = ["The bandwidth figure of this mode, with its inflexion points, is in the findings at the top.", "",
            "### Findings", ""]
    text += [f"- {md_escape(s)}" for s in mode_sentences(m, expl.labels, expl.settings)]
    if panel is None and (m.constant or m.unmeasured):
        text.append(f"- {md_escape(_not_shown(m, expl.labels).strip())}")
    if expl.overhead is not None:
        text += [f"- {md_escape(describe_mode(r, expl.overhead.min_runs))}"
                 for r in expl.overhead.for_mode(ipc).to_dict("records")]
    found = mode_findings(m, expl.labels, expl.settings.get("cv_limit", 0.10), expl.settings.get("flat_tolerance", 0.05))
    text += ["", "### Findings table", "", _findings_table(found, expl.labels) if found else "None.", "",
             NOISE_NOTE.format(cv=100 * expl.settings.get("cv_limit", 0.10),
                               tol=100 * expl.settings.get("flat_tolerance", 0.05)), ""]
    tried = _explained_markdown(m)
    n_tried = tried.count("\n") - 1
    text += ["### Counters tried at each breakpoint", "",
             tried if n_tried <= 8 else fold(f"Counters tried at each breakpoint ({n_tried} rows)", tried), "",
             ATTRIBUTION_NOTE, ""]
    corr = md_table(m.correlations.rename(columns={"n_sizes": "sizes"})) if not m.correlations.empty \
        else "No counter measured."
    text += ["", fold("Spearman correlation of bandwidth with counters per KiB (across sizes)", corr), ""]
    text += [f"*{md_escape(n)}*" for n in m.notes]
    text += ["", fold("Method", f"*{ALIGN_NOTE}*\n\n*{METHOD}*"), ""]
    return Section(f"Inflexion points and counters — {ipc}", "\n".join(text), figures)


def overhead_section(expl: Explanation, outdir: Path) -> Section:
    """The overhead of every pass, all IPC modes together."""
    ovh = expl.overhead
    if ovh is None or ovh.cells.empty:
        return Section("Probe effect (overhead of the counters)",
                       "No instrumented pass with a baseline to compare: overhead not measured.\n", [])
    figures = []     # the ratio figure is in the lead section "Probe effect at a glance"
    cells = ovh.cells.copy()
    cells["buffer_size"] = cells["buffer_size"].map(format_size)
    cells["ci"] = [f"{lo:.3f}–{hi:.3f}" if math.isfinite(lo) and math.isfinite(hi) else "—"
                   for lo, hi in zip(cells["ci_low"], cells["ci_high"])]
    modes = ovh.modes.copy()
    for col in ("baseline_breakpoints", "variant_breakpoints"):
        modes[col] = modes[col].map(lambda v: ", ".join(map(format_size, v)) or "none")
    modes = modes[["ipc", "variant", "n_sizes", "median_ratio", "min_ratio", "max_ratio", "n_slowdown", "n_speedup",
                   "n_negligible", "n_inconclusive", "n_too_few", "n_unreliable",
                   "baseline_breakpoints", "variant_breakpoints", "moved_verdict", "moved_note"]]
    cells["reasons"] = cells["reasons"].map(lambda r: "; ".join(r) if isinstance(r, (list, tuple)) else "")
    method = ovh.method()
    modes = modes.rename(columns={"moved_verdict": "inflexions", "moved_note": "why"})
    per_mode = md_table(modes[["ipc", "variant", "n_sizes", "median_ratio", "min_ratio", "max_ratio", "n_slowdown",
                               "n_speedup", "n_negligible", "n_inconclusive", "n_too_few", "n_unreliable",
                               "inflexions"]])
    moved = md_table(modes[["ipc", "variant", "baseline_breakpoints", "variant_breakpoints", "inflexions", "why"]])
    table = md_table(cells[["ipc", "variant", "buffer_size", "n_baseline", "n_variant", "baseline_mib_s",
                            "variant_mib_s", "ratio", "ci", "p_corrected", "equivalence_p_corrected", "verdict",
                            "reliability", "reasons"]])
    text = ["The ratio per buffer size, with its interval, is drawn in *Probe effect at a glance* at the top.", "",
            per_mode, "",
            "Inflexion points *moved* only when both fits are confident about a difference: one claims a "
            "breakpoint (found in ≥ 80 % of its bootstrap resamples) that the other finds in at most 20 % of "
            "its own; otherwise a difference is *unclear*.", "", fold("Inflexion points with and without counters",
                                                                       moved), "",
            fold(f"Every cell: ratio, interval, tests ({len(cells)} rows)", table), "",
            fold("Method", method[0].upper() + method[1:] + "."), ""]
    return Section("Probe effect (overhead of the counters)", "\n".join(text), figures)


def analysis_sections(df: pd.DataFrame, meta: dict, outdir: Path, ctx=None, **explain_kwargs) -> list[Section]:
    """One Section per IPC mode, then the overhead section (explanation computed once per report: the
    context's, or here when called alone)."""
    if measured(df).empty:
        return [Section("Inflexion points and counters",
                        "No successful non-warm-up runs: nothing to analyse.")]
    expl = ctx.expl if ctx is not None and not explain_kwargs else explain(df, **explain_kwargs)
    units = _units(meta)
    sections = [mode_section(expl, ipc, Path(outdir), units=units) for ipc in _ordered(expl, meta)]
    cross = crossovers(expl, expl.settings.get("cv_limit", 0.10))
    if cross:
        sections.append(Section("Findings across IPC modes",
                                "\n".join([f"- {md_escape(f['sentence'])}" for f in cross]
                                          + ["", "A crossover: from that size on, the first mode's 95 % interval lies "
                                                 "below the other's at every common size, after being at or above "
                                                 "it (by median) at some smaller size.", ""])))
    sections.append(overhead_section(expl, Path(outdir)))
    return sections


def _ordered(expl: Explanation, meta: dict) -> list[str]:
    plan = list(((meta or {}).get("plan") or {}).get("ipc") or [])
    return sorted(expl.modes, key=lambda i: (plan.index(i) if i in plan else len(plan), i))
