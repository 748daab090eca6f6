"""Report sections for the analysis (issues 3 and 8): per IPC mode, the findings (measured values with
their intervals, the counters named behind them, reliability); the findings across IPC modes; then the
probe overhead of every pass.

``analysis_sections(df, meta, outdir) -> list[Section]`` computes the explanation once and returns one
Section per IPC mode plus one for the overhead. Per-mode section: one panel per counter per KiB (levels
with their intervals, the bandwidth's departures from its model shaded), the findings and their table,
the counters tried for each change (named or why not), the correlation table (context). The bandwidth
figure of each mode (``draw_points``, ``draw_model``, ``draw_departures``) is in the findings section.
Figures are drawn with matplotlib's Agg canvas (no display) under ``outdir/figures``.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ..analysis import ALIGN_NOTE, Explanation, explain, mode_sentences
from ..analysis.findings import describe, findings, mode_findings
from ..analysis.overhead import describe_mode
from ..results.load import measured
from ..schema import FLAT_TOLERANCE, MIB
from ..sizes import format_size
from .toolbox import (MISSING, Figure, Section, figure_path, fold, interval, ipc_colour, level_text, md_escape,
                      md_table, new_figure, number, percent, ratio, save_figure, size_axis, size_list, slug)

METHOD = ("Method: per size, the bandwidth level of the baseline's runs (per benchmark process the median of "
          "its runs, per size the 20 %-trimmed mean over processes, its 95 % interval). The model: bandwidth(n) = "
          "r_inf / (1 + (n_1/2 / n)^h), h = 1 being one fixed cost t0 per write() call plus a cost per byte; it is "
          "fitted on the longest run of the smallest sizes it explains (each next size inside the 99 % interval of "
          "the prediction), with the process spread pooled over the sizes. A size departs from it when the "
          "interval of measured / model at the curve's family level (Bonferroni over the sizes that could be "
          "tested) excludes 1; a departure is *located* (an inflexion point) only when it starts at the first size "
          "after the fit and measured / model changes there by clearly more than 5 % in one size step, and is "
          "*gradual* otherwise. The peak: the highest level with every neighbour not clearly below it (or within "
          "3 %), a flat region when several sizes.")


def _half(sizes) -> float:
    return float(np.median(np.diff(np.log2(sizes)))) / 2 if len(sizes) > 1 else 0.5


def _log_y(ax) -> None:
    """Log y axis labelled with plain numbers: decades, and 2x/5x ticks when the data span less than
    two decades (matplotlib's default labels minor ticks as 6x10^-2, which reads badly)."""
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    subs = tuple(range(1, 10)) if hi / lo < 4 else (1.0, 2.0, 5.0) if hi / lo < 100 else (1.0,)
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: number(v)))
    ax.yaxis.set_minor_formatter(NullFormatter())


def draw_points(ax, cells: pd.DataFrame, colour: str, scale: float = 1.0, marker: str = "o") -> None:
    """Each size's level (markers, joined by a thin line: the measured curve) with its 95 % interval (bars)."""
    x = cells["buffer_size"].to_numpy(float)
    med = cells["median"].to_numpy(float) / scale
    lo, hi = cells["ci_low"].to_numpy(float) / scale, cells["ci_high"].to_numpy(float) / scale
    ax.plot(x, med, "-", color=colour, linewidth=0.9, alpha=0.6)
    ax.plot(x, med, marker, color=colour, markersize=4.5, linestyle="none")
    err = np.vstack([med - lo, hi - med])
    if np.isfinite(err).any():
        ax.errorbar(x, med, yerr=np.maximum(np.nan_to_num(err), 0), fmt="none", ecolor=colour, elinewidth=1,
                    capsize=2)


def draw_model(ax, m, scale: float = 1.0) -> bool:
    """The mode's model: dashed over the sizes it is fitted on, dotted where extrapolated (grey); False
    when the mode has none."""
    model = m.model
    if model is None or not model.describes:
        return False
    fit = np.geomspace(model.fit_sizes[0], model.fit_sizes[-1], 60)
    ax.plot(fit, model.predict(fit) / scale, "--", color="0.25", linewidth=1.2)
    if model.fit_sizes[-1] < model.sizes[-1]:
        rest = np.geomspace(model.fit_sizes[-1], model.sizes[-1], 40)
        ax.plot(rest, model.predict(rest) / scale, ":", color="0.45", linewidth=1.2)
    return True


def draw_departures(ax, m, colour: str, label: bool = True) -> tuple[bool, bool]:
    """Shade each departure's sizes (half a size step either side); a vertical line at a located one's
    first departing size, labelled with its kind. Returns (any shaded, any located)."""
    deps = m.model.departures if m.model is not None else []
    sizes = m.cells["buffer_size"].to_numpy(float)
    h = 2 ** _half(sizes)
    for d in deps:
        ax.axvspan(d.from_size / h, d.to_size * h, color=colour, alpha=0.10, linewidth=0)
        if d.located:
            ax.axvline(d.from_size, color=colour, linestyle=":", linewidth=1.2)
            if label:
                ax.annotate(f"{d.kind} {interval(*d.size_interval, show=format_size)}",
                            (d.from_size, 0.02), xycoords=("data", "axes fraction"), xytext=(4, 2),
                            textcoords="offset points", fontsize=7.5, color="0.2")
    return bool(deps), any(d.located for d in deps)


_UNITS = {"count": "events", "msec": "ms", "": "events", None: "events"}


def counter_unit(counter: str, units: dict | None) -> str:
    """'events per KiB', 'ms per KiB' (the catalogue's unit of the counter)."""
    unit = (units or {}).get(counter)
    return f"{_UNITS.get(unit, unit)} per KiB"


def plot_counter_panels(m, title: str, path: Path, labels=None, colour: str | None = None,
                        units: dict | None = None) -> Path | None:
    """One panel per counter per KiB of mode ``m`` (y axis in the counter's unit per KiB, log scale where
    positive): each size's level with its 95 % interval (``counter_cells``), the bandwidth's departures
    from its model shaded, located ones dotted; in the IPC mode's colour when ``colour`` is given."""
    cells = m.counter_cells
    if not cells:
        return None
    labels = labels or {}
    n = len(cells)
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    # fixed margins rather than constrained layout: same look for this regular grid, half the drawing time
    height = 2.9 * nrows + 0.4
    fig = new_figure(4.0 * ncols, height)
    fig.subplots_adjust(left=0.3 / ncols, right=1 - 0.05 / ncols, bottom=0.35 / height, top=1 - 0.65 / height,
                        wspace=0.32, hspace=0.42)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for k, (name, table) in enumerate(cells.items()):
        ax = axes[k // ncols][k % ncols]
        c = colour or f"C{(k + 1) % 10}"
        draw_points(ax, table, c)
        draw_departures(ax, m, "0.5", label=False)
        size_axis(ax, table["buffer_size"], label=None)
        if bool((table["median"] > 0).all()):
            _log_y(ax)
        ax.set_title(f"{labels.get(name, name)}", fontsize=9)
        ax.set_ylabel(counter_unit(name, units), fontsize=8)
        ax.tick_params(labelsize=7)
    for k in range(n, nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


NOISE_NOTE = ("Measured: each size's level (the trimmed mean over benchmark processes of each process's median) "
              "with its 95 % interval; the model's values are never quoted as measurements. Flat: every level "
              "within ±{tol} of the range's median over ≥ 3 consecutive sizes, none clearly different from "
              "another.")
ATTRIBUTION_NOTE = ("A counter is *named* for a change only when its own change over that range is established (its "
                    "interval, at the level of every counter and range tried, excludes 1), it moves the way that "
                    "costs time, and its change can account for at least a tenth of the change of time per KiB. "
                    "Counters that measure time (cycles, CPU time, loop or off-CPU time) are context, never the cause.")


def _findings_table(found: list, labels: dict) -> str:
    """One row per finding: its kind, what it is about, where, the measured value and its interval, the
    counters named (with the share of the time change each can account for), reliability."""
    rows = []
    for f in found:
        meas = f.get("measured") or {}
        scale = MIB if meas.get("unit", "bytes/s") == "bytes/s" else 1.0
        unit = "MiB/s" if scale == MIB else meas.get("unit", "")
        where = (format_size(f["size"]) if "size" in f and "from_size" not in f
                 else f"{format_size(f['from_size'])}–{format_size(f['to_size'])}")
        value = meas.get("value")
        named = []
        for c in f.get("counters", []):
            label = c.get("label") or labels.get(c.get("id"), c.get("id"))
            fold, share = c.get("fold_change"), c.get("share")
            text = f"{label} ×{number(fold)}" if fold else str(label)
            if share is not None and math.isfinite(share):
                text += f" ({percent(share)} of the time change)"
            named.append(text)
        lo, hi = meas.get("ci") or [None, None]
        rows.append({"kind": f.get("kind", ""), "of": labels.get(f.get("of"), f.get("of", "")), "size": where,
                     "measured": f"{number(value / scale)} {unit}" if value is not None else MISSING,
                     "95 % interval": interval(lo / scale, hi / scale, number) if lo is not None and hi is not None
                     else MISSING,
                     "counters named": ", ".join(named) or "none",
                     "reliability": f.get("reliability", "")})
    return md_table(pd.DataFrame(rows))


def _explained_markdown(m) -> str:
    """Every counter tried for each change of the bandwidth: named or why not, its change per KiB, the
    share of the time change it can account for (where the attribution gives one), its adjusted p."""
    rows = []
    for (start, end), atts in zip(m.changes, m.tried):
        if not atts:
            rows.append({"from": format_size(start), "to": format_size(end), "counter": "(none tried)"})
        for a in atts:
            share = getattr(a, "share", None)
            rows.append({"from": format_size(a.from_size), "to": format_size(a.to_size),
                         "counter": getattr(a, "label", None) or getattr(a, "id", None) or a.counter,
                         "named": a.named, "change per KiB": f"×{number(a.fold_change)}" if math.isfinite(a.fold_change)
                         else MISSING, "share of the time change": percent(share),
                         "p (adjusted)": a.p_adjusted, "why not": a.reason or MISSING})
    if not rows:
        return "No departure from the model and no peak, so nothing to explain."
    return md_table(pd.DataFrame(rows))


def _not_shown(m, labels: dict) -> str:
    """Caption sentence listing the counters without a panel: constant across sizes, or never counted."""
    parts = []
    if m.constant:
        parts.append("constant across sizes: " + ", ".join(f"{labels.get(c, c)} ({number(v)} per run)"
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
    # a profile counter is shown as its sampled time per KiB (``explain``), not as samples
    return {c: "ns (sampled)" if k.kind == "sample" else k.unit for c, k in cat.counters.items()} \
        if cat is not None else {}


def counter_caption(m, ipc: str) -> str:
    """The caption of ``plot_counter_panels``: only the marks it draws for mode ``m``."""
    text = (f"{ipc}: each counter per KiB transferred per buffer size, its level (markers; log scale where every "
            f"level is positive)")
    if any(t["ci_low"].notna().any() for t in m.counter_cells.values()):
        text += " with its 95 % interval (bars)"
    deps = m.model.departures if m.model is not None else []
    if deps:
        text += "; grey shading: where the bandwidth departs from its model"
    if any(d.located for d in deps):
        text += "; dotted: where a located departure starts"
    return text + "."


def mode_section(expl: Explanation, ipc: str, outdir: Path, meta: dict | None = None,
                 units: dict | None = None) -> Section:
    """The section of one IPC mode (see the module docstring); its bandwidth figure is in the findings."""
    m = expl.modes[ipc]
    figures = []
    path = figure_path(outdir, f"counters-{slug(ipc)}.png")
    panel = plot_counter_panels(m, f"{ipc}: counters per KiB transferred", path, expl.labels, colour=ipc_colour(ipc),
                                units=units if units is not None else _units(meta))
    if panel is not None:
        figures.append(Figure(panel, counter_caption(m, ipc) + _not_shown(m, expl.labels)))
    text = ["The bandwidth figure of this mode, with its inflexion points, is in the findings at the top.", "",
            "### Findings", ""]
    text += [f"- {md_escape(s)}" for s in mode_sentences(m, expl.labels, expl.settings)]
    if panel is None and (m.constant or m.unmeasured):
        text.append(f"- {md_escape(_not_shown(m, expl.labels).strip())}")
    if expl.overhead is not None:
        text += [f"- {md_escape(describe_mode(r, expl.overhead.min_runs))}"
                 for r in expl.overhead.for_mode(ipc).to_dict("records")]
    tolerance = expl.settings.get("flat_tolerance", FLAT_TOLERANCE)
    found = describe(mode_findings(m, expl.labels, tolerance), {ipc: m}, expl.labels)
    text += ["", "### Findings table", "", _findings_table(found, expl.labels) if found else "None.", "",
             NOISE_NOTE.format(tol=percent(tolerance)), ""]
    tried = _explained_markdown(m)
    n_tried = tried.count("\n") - 1
    text += ["### Counters tried for each change", "",
             tried if n_tried <= 8 else fold(f"Counters tried for each change ({n_tried} rows)", tried), "",
             ATTRIBUTION_NOTE, ""]
    corr = md_table(m.correlations.rename(columns={"n_sizes": "sizes"})) if not m.correlations.empty \
        else "No counter measured."
    text += ["", fold("Spearman correlation of bandwidth with counters per KiB (across sizes)", corr), ""]
    text += [f"*{md_escape(n)}*" for n in m.notes]
    text += ["", fold("Method", f"*{ALIGN_NOTE}*\n\n*{METHOD}*"), ""]
    return Section(f"Inflexion points and counters — {ipc}", "\n".join(text), figures)


def overhead_section(expl: Explanation, outdir: Path) -> Section:
    """The overhead of every pass, all IPC modes together: the overall verdicts first, then every size."""
    ovh = expl.overhead
    if ovh is None or ovh.cells.empty:
        return Section("Probe effect (overhead of the counters)",
                       "No instrumented pass with a baseline to compare: overhead not measured.\n", [])
    figures = []     # the ratio figure is in the lead section "Probe effect at a glance"
    modes = ovh.modes.copy()
    for col in ("baseline_breakpoints", "variant_breakpoints"):
        modes[col] = modes[col].map(size_list)
    overall = pd.DataFrame({
        "IPC": modes["ipc"], "pass": modes["variant"], "sizes": modes["n_sizes"],
        "overall ratio": modes["overall_ratio"].map(ratio),
        f"{level_text(ovh.overall_level)} interval": [interval(lo, hi) for lo, hi in
                                                      zip(modes["overall_ci_low"], modes["overall_ci_high"])],
        "verdict": modes["overall_verdict"],
        "detects (80 % power)": modes["overall_mde"].map(lambda v: f"{percent(1 - v)} slower" if v == v else MISSING),
        "slower": modes["n_slower"], "faster": modes["n_faster"], "negligible": modes["n_negligible"],
        "not established": modes["n_not_established"], "too few processes": modes["n_too_few"],
        "unreliable": modes["n_unreliable"], "inflexions": modes["moved_verdict"]})
    moved = md_table(modes[["ipc", "variant", "baseline_breakpoints", "variant_breakpoints", "moved_verdict",
                            "moved_note"]].rename(columns={"moved_verdict": "inflexions", "moved_note": "why"}))
    cells = ovh.cells
    table = md_table(pd.DataFrame({
        "IPC": cells["ipc"], "pass": cells["variant"], "buffer": cells["buffer_size"].map(format_size),
        "processes (baseline / pass)": [f"{a} / {b}" for a, b in zip(cells["p_baseline"], cells["p_variant"])],
        "runs (baseline / pass)": [f"{a} / {b}" for a, b in zip(cells["n_baseline"], cells["n_variant"])],
        "baseline (MiB/s)": cells["baseline_mib_s"], "with the pass (MiB/s)": cells["variant_mib_s"],
        "ratio": cells["ratio"].map(ratio),
        f"{level_text(ovh.cell_level)} interval": [interval(lo, hi) for lo, hi in
                                                   zip(cells["ci_low"], cells["ci_high"])],
        "verdict": cells["verdict"], "reliability": cells["reliability"],
        "why": cells["reasons"].map(lambda r: "; ".join(r) if isinstance(r, (list, tuple)) else "")}))
    method = ovh.method()
    text = [f"- {md_escape(describe_mode(r))}" for r in ovh.modes.to_dict("records")]
    text += ["", md_table(overall), "",
             "The ratio per buffer size, with its interval, is drawn in *Probe effect at a glance* at the top.", "",
             "Inflexion points *moved* only when both fits are confident about a difference: one claims a "
             "breakpoint (found in ≥ 80 % of its bootstrap resamples) that the other finds in at most 20 % of "
             "its own; otherwise a difference is *unclear*.", "", fold("Inflexion points with and without counters",
                                                                       moved), "",
             fold(f"Every cell: ratio, interval, verdict ({len(cells)} rows)", table), "",
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
    cross = [f for f in (ctx.findings if ctx is not None and not explain_kwargs else findings(expl)) if "ipcs" in f]
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
