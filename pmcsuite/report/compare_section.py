"""Report section "Compared with REF": ``pmcsuite report DIR --compare REF`` (``build_report(...,
compare_with=[REF])``) puts :func:`pmcsuite.analysis.compare.compare` of the report's result set
against each reference after the findings.

Each section opens with the overall verdict (the geometric mean ratio over the points both sets have,
with its interval, or what would reach one), then how many points are faster, slower, negligible or
not established (each read off its simultaneous interval), what was left out and why, overlays the
baseline curves with their intervals, lists the points that changed (the 10 largest changes open,
every point folded), the findings that moved (intervals that do not overlap), appeared or disappeared,
and the counters per KiB that changed most.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..analysis.compare import compare
from ..sizes import format_size
from .toolbox import (Figure, Section, figure_path, fold, interval, ipc_colour, level_text, md_escape, md_table,
                      percent, ratio, save_figure, slug)

SHOWN = 10
#: a counter's median per KiB is listed when it changed by more than this fraction
COUNTER_CHANGE = 0.10


def _points_table(points: pd.DataFrame) -> pd.DataFrame:
    level = level_text(float(points["level"].iloc[0])) if len(points) else "95 %"
    return pd.DataFrame({
        "IPC mode": points["ipc"], "buffer": points["buffer_size"].map(format_size), "variant": points["variant"],
        "reference MiB/s": points["ref_mib_s"], "this MiB/s": points["other_mib_s"],
        "ratio": points["ratio"].map(ratio),
        f"{level} interval": [interval(lo, hi) for lo, hi in zip(points["ci_low"], points["ci_high"])],
        "verdict": points["said"], "reliability": points["reliability"],
        "processes": [f"{a} / {b}" for a, b in zip(points["p_ref"], points["p_other"])],
        "runs": [f"{a} / {b}" for a, b in zip(points["n_ref"], points["n_other"])]})


def compare_section(df: pd.DataFrame, meta: dict, outdir: Path, reference, name: str | None = None) -> Section:
    """The section comparing ``df`` (the report's set) with the result directory or table ``reference``."""
    ref_name = name or str(reference)
    this = str(df.attrs.get("directory") or "this result set")
    short = [Path(ref_name).name, Path(this).name]          # for the figure's legend
    result = compare(reference, df, names=short if short[0] != short[1] and all(short) else [ref_name, this])
    points = result.points
    lines = [f"**Overall: {md_escape(result.headline(r))}.**" for r in result.overall.to_dict("records")]
    counts = points["verdict"].value_counts()
    lines += ["", f"{len(points)} point(s) compared with `{md_escape(ref_name)}` (the reference): "
              + ", ".join(f"{n} {k}" for k, n in counts.items())
              + f". The overall ratio is the geometric mean over the points, with its "
                f"{level_text(result.overall_level)} interval; each point's ratio has a "
                f"{level_text(result.point_level)} interval, simultaneous over the {len(points)} points; a "
                "verdict is read off its interval (faster or slower when it excludes 1, negligible within ±5 %). "
                "Both rest on the benchmark processes, not on the runs: a process keeps its regime.", ""]
    lines += [f"- Left out: {md_escape(note)}" for note in result.notes]
    if result.notes:
        lines.append("")
    changed = points[points["verdict"].isin(["faster", "slower"])].copy()
    if changed.empty:
        lines.append("No point on its own is shown faster or slower.")
    else:
        changed = changed.assign(size=(changed["ratio"] - 1).abs()).sort_values("size", ascending=False)
        lines += [f"The {min(SHOWN, len(changed))} largest changes:", "",
                  md_table(_points_table(changed.head(SHOWN)))]
    lines += ["", fold(f"Every point compared ({len(points)})", md_table(_points_table(points)))]
    if result.findings:
        lines += ["", "**Findings that changed**", ""] + [f"- {f['change']}: {md_escape(f['description'])}"
                                                         for f in result.findings]
    lines += ["", "**Counters per KiB that changed most**", ""] + _counter_lines(result.counters)
    path = figure_path(outdir, f"compare-{slug(Path(ref_name).name, 'reference')}.png")
    save_figure(result.plot(colour_of=ipc_colour), path)
    figure = Figure(path, f"Baseline bandwidth per buffer size (the level over processes) with its 95 % interval: "
                          f"{ref_name} (the reference, grey, solid) and {this} (dashed, in the colour of its IPC "
                          "mode).")
    return Section(f"Compared with {ref_name}", "\n".join(lines) + "\n", [figure],
                   anchor=f"compare-{slug(ref_name, 'reference')}")


def _counter_lines(moved: pd.DataFrame) -> list[str]:
    moved = moved[(moved["ratio"] - 1).abs() > COUNTER_CHANGE] if not moved.empty else moved
    if moved.empty:
        return [f"No counter's median per KiB changed by more than {percent(COUNTER_CHANGE)} at any point compared."]
    top = moved.head(SHOWN)
    return [md_table(pd.DataFrame({
        "counter": top["counter"], "IPC mode": top["ipc"], "buffer": top["buffer_size"].map(format_size),
        "variant": top["variant"], "reference": top["ref_per_kib"], "this": top["other_per_kib"],
        "ratio": top["ratio"].map(lambda v: ratio(v, 2))})), "",
        f"*Medians per KiB of the runs of each point that changed by more than {percent(COUNTER_CHANGE)}; a change "
        "of a counter is a lead to follow, not a tested finding.*"]
