"""The report's opening (issue 10): what was found, before any table.

``findings_section(df, meta, outdir, ctx=None) -> list[Section]``, two lead sections (shown before the
table of contents):

- **Findings**: first what to know before any finding (``caveat_lines``: a sweep stopped before its
  end, an emulated or virtual machine, buffers the kernel capped); then per IPC mode, one short
  numbered sentence per finding of ``explain`` (``analysis.findings``: its ``sentence``, the cause
  first where the evidence gives one, ``why.py``) with its reliability, and the numbers of all of them
  folded below (``details``); on a noisy machine one line that says what to do (``why.noise_from_table``);
  a one-line note on the data's quality pointing to the warnings; the words used, defined once
  (``why.GLOSSARY``); one figure per IPC mode, captioned with the marks it draws for these data (``mode_caption``).
- **Probe effect**: the bandwidth ratio instrumented / baseline against buffer size, one panel per
  pass, one colour and marker per IPC mode, each ratio's interval (the overhead's simultaneous level)
  as a band, and a line at 1.0 (no effect); the overhead's one-line summary per mode and pass.

The explanation and the overhead come from the report's :class:`~pmcsuite.report.context.ReportContext`
(computed once, shared with the detail sections).
"""
from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from ..analysis import why
from ..analysis.findings import mode_intro
from ..analysis.overhead import COUNT, overall_words
from ..analysis.why import glossary_markdown, noise_from_table
from ..collect.hostenv import CAPPED, describe
from ..schema import MIB
from ..sizes import format_size
from .analysis_sections import draw_departures, draw_model, draw_points
from .context import ReportContext
from .toolbox import (Figure, Section, figure_path, fold, ipc_colour, ipc_marker, level_text, md_escape, new_figure,
                      save_figure, size_axis, slug)

TITLE = "Findings"
PROBE_TITLE = "Probe effect at a glance"


def tag(reliability: str) -> str:
    """The reliability of a finding as a small coloured label (inline HTML, also fine in Markdown)."""
    kind = "reliable" if reliability == "reliable" else "unreliable"
    return f'<span class="tag {kind}">{html.escape(str(reliability))}</span>'


def plot_mode(m, ipc: str, found: list[dict], path: Path) -> Path:
    """One IPC mode: each size's bandwidth level with its 95 % interval (the measured curve), the model
    (dashed where fitted, dotted where extrapolated), its departures (shaded; located ones dotted and
    labelled) and the peak (star; a bar over a flat peak region)."""
    colour, marker = ipc_colour(ipc), ipc_marker(ipc)
    fig = new_figure(6.4, 3.7)
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.16, top=0.89)
    ax = fig.add_subplot()
    cells = m.cells
    draw_points(ax, cells, colour, scale=MIB, marker=marker)
    draw_model(ax, m, scale=MIB)
    draw_departures(ax, m, colour)
    for f in found:
        if f.get("kind") == "peak" and f.get("measured"):
            value = (f["measured"].get("value") or 0) / MIB
            if f.get("flat"):
                ax.plot([f["from_size"], f["to_size"]], [value * 1.04] * 2, "-", color="black", linewidth=2.5)
            ax.plot([f["size"]], [value], "*", color="black", markersize=10, zorder=5)
    top = float(np.nanmax(cells["ci_high"].fillna(cells["median"]).to_numpy(float) / MIB)) if not cells.empty else 0
    ax.set_ylim(0, top * 1.12 if top > 0 else None)
    size_axis(ax, cells["buffer_size"])
    ax.set_ylabel("bandwidth (MiB/s)")
    title = f"{ipc}: bandwidth ({m.bandwidth_source})"
    if m.model is None:
        title += f", {len(cells)} sizes: too few for a model"
    ax.set_title(title, fontsize=10)
    return save_figure(fig, path)


def plot_probe_ratio(cells: pd.DataFrame, path: Path, ipcs=None) -> Path | None:
    """Ratio instrumented / baseline bandwidth (the points' levels over processes) vs buffer size: one panel
    per pass, one colour and marker per IPC mode, the cells' simultaneous interval as a band, a line at 1.0."""
    if cells is None or cells.empty:
        return None
    passes = list(dict.fromkeys(cells["variant"]))
    ipcs = ipcs or list(dict.fromkeys(cells["ipc"]))
    n = len(passes)
    width = 11.0 if n > 1 else 7.5
    fig = new_figure(width, 3.6)
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
    """One short Markdown line per IPC mode and pass, the overall verdict first: 'pipe, pass syscalls: costs
    18 % of the bandwidth [12 %, 24 %] (0.820x, 99.58 % interval 0.760-0.880) over 15 sizes; sizes: 3 slower,
    12 not established' + the reliability tag."""
    def num(v):
        return float("nan") if v is None else float(v)
    n = int(r.get("n_sizes") or 0)
    head = overall_words(num(r.get("overall_ratio")), num(r.get("overall_ci_low")), num(r.get("overall_ci_high")),
                         r.get("overall_verdict") or "", num(r.get("level")))
    said = ", ".join(f"{int(r[name])} {v}" for v, name in COUNT.items() if r.get(name))
    need = r.get("processes_needed")
    more = (f"; {int(need)} processes per point (now {int(r.get('processes') or 0)}) would detect a 5 % change"
            if need is not None and need == need and int(need) > int(r.get("processes") or 0) else "")
    text = (f"**{md_escape(r['ipc'])}**, pass {md_escape(r['variant'])}: {md_escape(head)} over {n} "
            f"size{'s' if n != 1 else ''}{md_escape(more)}" + (f"; sizes: {said}" if said and n > 1 else ""))
    unreliable = int(r.get("n_unreliable") or 0)
    return f"{tag('unreliable' if unreliable else 'reliable')} {text}" + \
        (f" ({unreliable} of {n} sizes unreliable)" if unreliable else "")


def quality_line(ctx, advice: str = "") -> str | None:
    """'Data quality: ...' in one line (failed runs, sanity warnings, and runs that shared the CPU unless
    the noisy-machine ``advice`` already says so), or None when clean."""
    df = ctx.df
    parts = []
    failed = int((~df["ok"].fillna(False).astype(bool)).sum())
    if failed:
        parts.append(f"{failed:,} of {len(df):,} runs failed")
    shared = ctx.shared_cpu
    if shared["shared"] and not advice:
        parts.append(f"{shared['shared']:,} of {shared['ok']:,} successful runs shared the CPU "
                     f"({shared['shared_measured']:,} measured, {shared['shared_warmup']:,} warm-ups)")
    sanity = len(df.attrs.get("warnings") or [])
    if sanity:
        parts.append(f"{sanity:,} sanity-check warning(s)")
    if not parts:
        return None
    return "Data quality: " + "; ".join(parts) + "; see Warnings."


def planned_runs(meta: dict) -> int | None:
    """The runs a collection planned (IPC modes x sizes x (baseline + passes) x runs), None for imports."""
    plan = meta.get("plan") if isinstance(meta.get("plan"), dict) else {}
    parts = (plan.get("ipc"), plan.get("sizes"), plan.get("passes"))
    if meta.get("source") != "collect" or not all(isinstance(p, list) for p in parts) \
            or not isinstance(plan.get("runs"), int):
        return None
    return len(parts[0]) * len(parts[1]) * (1 + len(parts[2])) * plan["runs"]


def caveat_lines(df: pd.DataFrame, meta: dict) -> list[str]:
    """What to know before any finding: a sweep stopped before its end, counts and times from an
    emulator or a virtual machine, buffers the kernel capped below the size asked (one per point)."""
    out = []
    planned = planned_runs(meta)
    if planned and len(df) < planned:
        out.append(f"This sweep is incomplete: {len(df):,} of {planned:,} runs (finish it with "
                   "'pmcsuite collect --resume DIR').")
    said = describe((meta.get("host") or {}).get("virtualisation") if isinstance(meta.get("host"), dict) else None)
    if said:
        out.append(f"Measured on an {said}." if said.startswith("emulated") else f"Measured on a {said}.")
    capped: dict[tuple, str] = {}
    for item in df.attrs.get("warnings") or []:
        row, warning = item.get("row"), str(item.get("warning", ""))
        if warning.startswith(CAPPED) and row is not None and row < len(df):
            key = (str(df["ipc"].iloc[row]), int(df["buffer_size"].iloc[row]))
            capped.setdefault(key, warning)
    out += [f"{ipc} {format_size(size)}: {warning}." for (ipc, size), warning in sorted(capped.items())]
    return out


def finding_lines(found: list[dict]) -> list[str]:
    """Numbered bullets, one short sentence each with its reliability, then the numbers of every one
    of them (``details``, which say why an unreliable one is) folded below, numbered alike."""
    if not found:
        return []
    bullets = [f"{i}. {tag(f.get('reliability', 'unreliable'))} {md_escape(f.get('sentence', ''))}"
               for i, f in enumerate(found, 1)]
    details = [f"{i}. {md_escape(f.get('details') or '')}" for i, f in enumerate(found, 1)]
    return bullets + ["", fold("The numbers behind them", "\n".join(details))]


def mode_caption(m, ipc: str, found: list[dict]) -> str:
    """The caption of ``plot_mode``'s figure: only the marks it draws for these data."""
    cells, model = m.cells, m.model
    parts = [f"{ipc}: bandwidth level of the {m.bandwidth_source} per buffer size (markers, joined by a thin line)"]
    if cells is not None and not cells.empty and cells[["ci_low", "ci_high"]].notna().all(axis=1).any():
        parts[0] += " with its 95 % interval (bars)"
    if model is not None and model.describes:
        model_part = "the per-call model (dashed where fitted"
        if model.fit_sizes[-1] < model.sizes[-1]:
            model_part += ", dotted grey beyond"
        parts.append(model_part + ")")
        deps = model.departures
        if deps:
            parts.append("where the curve departs from it (shaded)")
        if any(d.located for d in deps):
            parts.append("a located inflexion point (dotted line, labelled with its interval)")
    peaks = [f for f in found if f.get("kind") == "peak" and f.get("measured")]
    if peaks:
        parts.append("the peak (star)" + ("; a bar over its flat region" if any(f.get("flat") for f in peaks) else ""))
    return "; ".join(parts) + "."


def probe_caption(ovh) -> str:
    """The caption of ``plot_probe_ratio``'s figure, with the level of the intervals it draws."""
    level = getattr(ovh, "cell_level", None)
    band = (f"bands: the ratio's {level_text(level)} interval, simultaneous over every size and pass"
            if level is not None else "bands: the ratio's interval")
    return ("Bandwidth with each pass's counters divided by the baseline's (no counters), per buffer size "
            f"(markers, dashed); {band}; below the line at 1.0 the counters slow the transfer.")


def findings_section(df: pd.DataFrame, meta: dict, outdir: Path, ctx=None) -> list[Section]:
    """The two lead sections (module docstring)."""
    if ctx is None:
        ctx = ReportContext(df, meta)
    expl = ctx.expl
    if expl is None:
        return [Section(TITLE, "No successful, non-warm-up run: nothing was found.\n", lead=True, anchor="findings")]
    plan = list((meta.get("plan") or {}).get("ipc") or [])
    modes = sorted(expl.modes, key=lambda i: (plan.index(i) if i in plan else len(plan), i))
    lines, figures = [], []
    why.attach_evidence(expl.modes, ctx.runs)          # until explain() keeps it (see analysis/why.py)
    found = ctx.findings
    for ipc in modes:
        mine = [f for f in found if f.get("ipc") == ipc]
        lines.append(f"**{md_escape(ipc)}**\n")
        intro = mode_intro(expl.modes[ipc])
        lines += [f"{md_escape(s)}\n" for s in intro]
        lines += finding_lines(mine) if mine else ([] if intro else ["Nothing found."])
        lines.append("")
        path = plot_mode(expl.modes[ipc], ipc, mine, figure_path(outdir, f"findings-{slug(ipc)}.png"))
        figures.append(Figure(path, mode_caption(expl.modes[ipc], ipc, mine)))
    cross = [f for f in found if "ipcs" in f]
    if cross:
        lines.append("**Across IPC modes**\n")
        lines += finding_lines(cross)
        lines.append("")
    n_rel = sum(f.get("reliability") == "reliable" for f in found)
    advice = noise_from_table(ctx.df)
    head = [f"**{md_escape(line)}**" for line in caveat_lines(df, meta)]
    head.append(f"{len(found)} finding(s), {n_rel} reliable (*reliable*: see the words below).")
    if advice:
        head.append(f"**{md_escape(advice)}**")
    lines[0:0] = ["\n\n".join(head) + "\n"]
    quality = quality_line(ctx, advice)
    if quality:
        lines.append(f"*{md_escape(quality)}*\n")
    lines.append(fold("Words used here", glossary_markdown()))
    sections = [Section(TITLE, "\n".join(lines) + "\n", figures, lead=True, anchor="findings", figures_first=False)]
    ovh = ctx.overhead
    if ovh is not None and not ovh.cells.empty:
        path = plot_probe_ratio(ovh.cells, figure_path(outdir, "probe-effect.png"),
                                [i for i in modes if i in set(ovh.cells["ipc"])])
        text = [f"- {short_overhead(r)}" for r in ovh.modes.to_dict("records")]
        text.append("\nEach pass's tests per size, intervals and inflexion points: *Probe effect (overhead of the "
                    "counters)* below.")
        sections.append(Section(PROBE_TITLE, "\n".join(text) + "\n", [Figure(path, probe_caption(ovh))]
                                if path else [], lead=True, anchor="probe-effect-at-a-glance", figures_first=False))
    return sections
