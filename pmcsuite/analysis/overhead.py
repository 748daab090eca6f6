"""Probe effect: how much each instrumentation pass slows the benchmark down, per pass and IPC mode
first (the headline), then size by size; every verdict read off the interval printed beside it.

The runs of a point are iterations of a few benchmark *processes* (``collect``), and a process keeps
its regime for its whole life: the process is the unit (``inference``). A point's **level** is the
20 %-trimmed mean over its processes of each process's median log bandwidth (``inference.levels``,
keyed like ``results.GROUP_KEYS``: ipc, actors, placement, buffer_size, variant); a run without a
process number (an import) is its own process.

**Overall** (``modes``, one row per IPC mode and pass: the headline). ``overall_ratio`` = the geometric
mean over the sizes both have of pass / baseline (``inference.mean_ratio_contrast``: "this pass costs
pipe 18 % [12, 24]"), with its interval at the overall family's level (``level`` =
``family_level(0.025, number of IPC mode x pass pairs)``: Bonferroni, simultaneous), its verdict and
``overall_mde`` (the smallest slowdown these runs detect with 80 % power at that level). When the
verdict is "not established", ``processes_needed`` says how many processes per point would detect a
change of ``target`` (0.95: 5 %); ``processes`` is how many a point has now.

**Cells** (``cells``, one row per IPC mode, size and pass): ``ratio`` = level of the pass / level of the
baseline (``inference.ratio_contrast``; its process-clustered interval never excludes its ratio),
``ci_low``/``ci_high`` at the cell family's level (``level`` = ``family_level(0.025, number of cells
with an interval)``), ``verdict`` from that interval only (``inference.verdict``): "slower" / "faster"
(the interval excludes 1), "negligible" (within +-``margin``), "not established", "too few processes"
(fewer than 2 on a side: no interval). The two families each spend 0.025, so the chance of any false
verdict in a result set is at most 5 %. A slow run cannot flip a verdict: it moves its process's median
at most, and a process among five or more is trimmed.

**Reliability.** A cell is ``unreliable`` when the processes of a side differ more than ``cv_threshold``
(10 %): the winsorised standard deviation of their median log bandwidth (``spread``: the scale the
level's interval rests on; one odd process among five or more cannot make it; decided on the value as
printed, to 0.1 %), or when runs of it shared the CPU (column ``shared_cpu``); ``reasons`` says which.
The verdict is kept (its interval already carries the spread); the sentences carry the caveat.

**JSON contract** (``OverheadResult.to_dict()``, ``pmcsuite overhead --json``). Top level: ``alpha`` (0.05,
over both families), ``family_alpha`` (0.025 each), ``cell_level``, ``overall_level`` (the families'
confidence levels), ``margin`` (0.05), ``target`` (0.95), ``min_processes`` (2), ``cv_threshold`` (0.10),
``method`` (one paragraph), ``modes``, ``cells``. Each of ``modes``: ``ipc``, ``actors``, ``placement``,
``variant``, ``n_sizes``, ``overall_ratio``, ``overall_ci_low``, ``overall_ci_high``, ``overall_verdict``,
``overall_mde``, ``level``, ``processes``, ``processes_needed`` (null unless not established and
computable), ``median_ratio``, ``min_ratio``, ``max_ratio`` (of the cells), ``n_slower``, ``n_faster``,
``n_negligible``, ``n_not_established``, ``n_too_few``, ``n_unreliable``, ``unreliable`` (list of
"size: reasons"), and the inflexion-point fields ``baseline_breakpoints``, ``variant_breakpoints``
(the located inflexion points of each curve's per-call model, bytes), ``breakpoints_moved`` (true |
false | null), ``moved_verdict`` ("moved" | "not moved" | "unclear" | "unknown"), ``moved_note``. Each of
``cells``: ``ipc``, ``actors``, ``placement``, ``variant``, ``buffer_size``, ``ratio``, ``ci_low``,
``ci_high`` (null without an interval), ``level``, ``verdict``, ``mde``, ``p_value`` (two-sided, from the
same t as the interval, not corrected: the verdict does not use it), ``change_pct``, ``n_baseline``,
``n_variant`` (runs), ``p_baseline``, ``p_variant`` (processes), ``baseline_mib_s``, ``variant_mib_s``
(the levels), ``spread_baseline``, ``spread_variant`` (``spread``, a fraction),
``reliability`` ("reliable" | "unreliable"), ``reasons``. NaN is written as null.

**Inflexion points** (``moved``): the per-call model (``model.fit_model``) is fitted to the baseline's
and to each pass's bandwidth, and their *located* inflexion points (abrupt departures from the model,
each with the interval of its location as the data give it) are compared. ``breakpoints_moved`` is
False when every located point of each curve has one in the other whose location interval overlaps
it (or neither curve has one), True when one curve has a located point whose interval overlaps none
of the other's while the other curve still follows its model there (its fitted sizes reach past that
interval), None otherwise ("unclear"; "unknown" without a model of the baseline).
"""
from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import PmcsuiteError
from ..results.load import GROUP_KEYS
from ..schema import ALPHA, BASELINE, MARGIN, MIB, jsonable
from ..sizes import format_size
from . import inference as inf
from .runs import measured_runs
from .model import fit_model
from .display import Displayable, Text, interval, level_text, number, over, percent, ratio, size_axis, size_list

KEYS = list(GROUP_KEYS)           # ipc, actors, placement, buffer_size, variant
FAMILY_ALPHA = ALPHA / 2          # each family (overall, cells) spends half
CV_THRESHOLD = 0.10
TARGET = 1 - MARGIN               # the change ``processes_needed`` plans for: just past negligible (5 % slower)
MIN_PROCESSES = inf.MIN_PROCESSES
MIN_RUNS = MIN_PROCESSES          # the old name: what a side needs for an interval (processes now)
TOO_FEW = inf.TOO_FEW
VERDICTS = (inf.SLOWER, inf.FASTER, inf.NEGLIGIBLE, inf.NOT_ESTABLISHED, inf.TOO_FEW)
COUNT = {inf.SLOWER: "n_slower", inf.FASTER: "n_faster", inf.NEGLIGIBLE: "n_negligible",
         inf.NOT_ESTABLISHED: "n_not_established", inf.TOO_FEW: "n_too_few"}

CELL_FIELDS = ["ipc", "actors", "placement", "variant", "buffer_size", "ratio", "ci_low", "ci_high", "level",
               "verdict", "mde", "p_value", "change_pct", "n_baseline", "n_variant", "p_baseline", "p_variant",
               "baseline_mib_s", "variant_mib_s", "spread_baseline", "spread_variant", "reliability", "reasons"]
MOVED_FIELDS = ["baseline_breakpoints", "variant_breakpoints", "breakpoints_moved", "moved_verdict", "moved_note"]
MODE_FIELDS = ["ipc", "actors", "placement", "variant", "n_sizes", "overall_ratio", "overall_ci_low",
               "overall_ci_high", "overall_verdict", "overall_mde", "level", "processes", "processes_needed",
               "median_ratio", "min_ratio", "max_ratio", *COUNT.values(), "n_unreliable", "unreliable", *MOVED_FIELDS]


@dataclass(repr=False)
class OverheadResult(Displayable):
    """``modes``: one row per IPC mode and pass (the overall verdicts); ``cells``: one row per IPC mode,
    size and pass (module docstring). In a notebook: ``.to_frame()`` (the cells), ``.summary()``, ``.plot()``."""
    cells: pd.DataFrame
    modes: pd.DataFrame
    fits: dict = field(default_factory=dict)   # (ipc, variant) -> BreakpointFit (baseline included)
    margin: float = MARGIN
    alpha: float = ALPHA
    cv_threshold: float = CV_THRESHOLD
    cell_level: float = float("nan")
    overall_level: float = float("nan")
    target: float = TARGET
    min_runs: int = MIN_PROCESSES             # kept for callers: processes a side needs for an interval

    def method(self) -> str:
        """One paragraph saying how the verdicts are reached (for the summary and the report)."""
        return (f"per point, the trimmed mean over its benchmark processes of each process's median bandwidth "
                f"(a run without a process is its own); overall: the geometric mean over sizes of pass / "
                f"baseline with its {level_text(self.overall_level)} interval, simultaneous over the "
                f"{len(self.modes)} IPC mode x pass pairs; per size: the ratio with its "
                f"{level_text(self.cell_level)} interval, simultaneous over the cells (each family spends "
                f"{percent(FAMILY_ALPHA)} of a {percent(self.alpha)} error); a verdict is read off its interval: "
                f"slower or faster when it excludes 1, negligible when it lies within ±{percent(self.margin)}, else "
                f"not established; an interval needs at least {self.min_runs} processes on each side; unreliable: "
                f"processes of a side that differ by more than {percent(self.cv_threshold)}, or runs that shared "
                "the CPU")

    def to_frame(self) -> pd.DataFrame:
        """One row per IPC mode, buffer size and pass: ratio, interval, verdict, reliability."""
        return self.cells.copy()

    def plot(self):
        """The probe effect as a matplotlib Figure: ratio vs buffer size per pass and IPC mode, with
        the cells' simultaneous interval as a band and a line at 1.0."""
        from matplotlib.figure import Figure
        fig = Figure(figsize=(8, 4.5), layout="constrained")
        ax = fig.add_subplot()
        ax.axhline(1.0, color="black", linewidth=0.8)
        for (ipc, variant), g in self.cells.groupby(["ipc", "variant"], sort=True):
            g = g.sort_values("buffer_size")
            line, = ax.plot(g["buffer_size"], g["ratio"], marker="o", markersize=3, label=f"{ipc}, {variant}")
            ax.fill_between(g["buffer_size"], g["ci_low"], g["ci_high"], color=line.get_color(), alpha=0.2)
        size_axis(ax, self.cells["buffer_size"])
        ax.set_ylabel("bandwidth with counters / without")
        if not self.cells.empty:
            ax.legend(fontsize=7)
        return fig

    def summary(self) -> str:
        return Text(self._summary())

    def _summary(self) -> str:
        if self.cells.empty:
            return "overhead: no instrumented pass to compare with the baseline"
        text = ["Overhead per IPC mode and pass (geometric mean over sizes):"]
        text += [textwrap.fill(f"- {describe_mode(r)}", 100, subsequent_indent="  ")
                 for r in self.modes.to_dict("records")]
        cells = self.cells
        shown = pd.DataFrame({
            "ipc": cells["ipc"], "pass": cells["variant"], "size": cells["buffer_size"].map(format_size),
            "processes": [f"{a}/{b}" for a, b in zip(cells["p_baseline"], cells["p_variant"])],
            "MiB/s base": cells["baseline_mib_s"].map(number),
            "MiB/s pass": cells["variant_mib_s"].map(number),
            "ratio": cells["ratio"].map(ratio),
            f"{level_text(self.cell_level)} interval": [interval(lo, hi) for lo, hi in
                                                        zip(cells["ci_low"], cells["ci_high"])],
            "verdict": cells["verdict"], "": ["unreliable" if r == "unreliable" else "" for r in cells["reliability"]]})
        text += ["", "Per size:", shown.to_string(index=False), "", textwrap.fill(f"Method: {self.method()}.", 100)]
        bad = cells[cells["reliability"] == "unreliable"]
        if not bad.empty:
            text += ["", "Unreliable cells:"] + [textwrap.fill(f"- {describe_cell(r)}", 100, subsequent_indent="  ")
                                                  for r in bad.to_dict("records")]
        return "\n".join(text)

    def to_dict(self) -> dict:
        return jsonable({"alpha": self.alpha, "family_alpha": FAMILY_ALPHA, "cell_level": self.cell_level,
                         "overall_level": self.overall_level, "margin": self.margin, "target": self.target,
                         "min_processes": self.min_runs, "cv_threshold": self.cv_threshold, "method": self.method(),
                         "modes": [{k: r[k] for k in MODE_FIELDS} for r in self.modes.to_dict("records")],
                         "cells": [{k: r[k] for k in CELL_FIELDS} for r in self.cells.to_dict("records")]})

    def for_mode(self, ipc: str) -> pd.DataFrame:
        return self.modes[self.modes["ipc"] == ipc]


# ----------------------------------------------------------------------------------------------
# Points: levels and what they rest on

def _keyed(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs with every key of ``KEYS`` (a missing one as None)."""
    return runs.assign(**{k: None for k in KEYS if k not in runs.columns})


def _tuples(frame: pd.DataFrame, keys) -> list[tuple]:
    values = frame[keys].astype(object).where(frame[keys].notna(), None)
    return [tuple(None if v is None else v for v in row) for row in values.itertuples(index=False)]


def spread(lv: inf.Level) -> float:
    """The spread of a point's processes: the winsorised standard deviation of their median log
    bandwidth (the scale of ``inference.level``'s standard error: with five or more processes the most
    extreme on each side is pulled in, so one odd process cannot make it; NaN with one process)."""
    n = len(lv.resid)
    return float(math.sqrt(np.sum(lv.resid ** 2) / (n - 1))) if n >= 2 else float("nan")


def point_facts(runs: pd.DataFrame, keys, lv: dict, medians: pd.DataFrame) -> dict:
    """{point tuple: {"runs", "processes", "spread", "shared"}}: a point's measured runs, processes,
    their spread (``spread``) and its runs that shared the CPU; ``lv`` and ``medians`` are
    ``inference.levels`` and ``inference.process_medians`` of ``runs`` with ``keys``."""
    keys = list(keys)
    counts: dict = {}
    for key, n in zip(_tuples(medians, keys), medians["n_runs"].to_numpy()):
        counts[key] = counts.get(key, 0) + int(n)
    facts = {key: {"runs": counts.get(key, 0), "processes": int(level.n_processes), "spread": spread(level),
                   "shared": 0} for key, level in lv.items()}
    if "shared_cpu" in runs.columns:
        shared = runs["shared_cpu"].astype("boolean").fillna(False).astype(bool).to_numpy()
        for key in _tuples(runs[shared], keys):
            if key in facts:
                facts[key]["shared"] += 1
    return facts


def reliability(facts_base: dict, facts_inst: dict, variant: str = "instrumented",
                cv_threshold: float = CV_THRESHOLD) -> tuple[str, list[str]]:
    """(reliability, reasons) of a contrast of two points (module docstring)."""
    reasons = []
    for name, f in (("baseline", facts_base), (variant, facts_inst)):
        spread = round(f["spread"], 3) if math.isfinite(f["spread"]) else float("nan")
        if spread > cv_threshold:
            reasons.append(f"{name} processes differ by {over(spread, cv_threshold)} (> {percent(cv_threshold)})")
        if f["shared"]:
            reasons.append(f"{f['shared']} of {f['runs']} {name} runs shared the CPU")
    return ("unreliable" if reasons else "reliable"), reasons


# ----------------------------------------------------------------------------------------------

def overhead(df: pd.DataFrame, *, n_boot: int = 200, margin: float = MARGIN, alpha: float = ALPHA,
             cv_threshold: float = CV_THRESHOLD, target: float = TARGET, seed: int = 0, breakpoints: bool = True,
             **fit_kwargs) -> OverheadResult:
    """Overhead of every instrumentation pass against the baseline; see the module docstring.

    ``n_boot``, ``seed`` and ``fit_kwargs``: the breakpoint fits only (the verdicts do not resample)."""
    if not (0 < alpha < 1 and 0 <= margin < 1 and 0 < target < 1):
        raise PmcsuiteError(f"alpha {alpha}, margin {margin} and target {target} must be fractions between 0 and 1")
    runs = _keyed(measured_runs(df))
    if BASELINE not in set(runs["variant"]):
        raise PmcsuiteError("no baseline runs: the overhead needs uninstrumented runs (collect without --no-baseline)")
    medians = inf.process_medians(runs, KEYS)
    lv = inf.levels(medians, KEYS)
    facts = point_facts(runs, KEYS, lv, medians)
    vi = KEYS.index("variant")
    pairs = {}
    for key in sorted(lv, key=lambda k: tuple("" if v is None else v for v in k)):
        base = key[:vi] + (BASELINE,) + key[vi + 1:]
        if key[vi] != BASELINE and base in lv:
            pairs[key] = (lv[key], lv[base], base)
    contrasts = {k: inf.ratio_contrast(new, ref) for k, (new, ref, _) in pairs.items()}
    cell_level = inf.family_level(alpha / 2, sum(c.defined() for c in contrasts.values()))
    rows = [_cell_row(key, contrasts[key], new, ref, facts[key], facts[base], cell_level, margin, cv_threshold)
            for key, (new, ref, base) in pairs.items()]
    cells = pd.DataFrame(rows, columns=CELL_FIELDS)
    groups = _mode_groups(pairs)
    overall = {g: inf.mean_ratio_contrast(_overall_pairs(members, pairs, contrasts)) for g, members in groups.items()}
    overall_level = inf.family_level(alpha / 2, sum(c.defined() for c in overall.values()))
    modes, fits = [], {}
    for g, members in groups.items():
        row = _mode_row(g, overall[g], cells, members, overall_level, margin, target)
        row.update(_moved_fields(runs, g[0], g[3], fits, breakpoints))
        modes.append(row)
    return OverheadResult(cells=cells, modes=pd.DataFrame(modes, columns=MODE_FIELDS), fits=fits, margin=margin,
                          alpha=alpha, cv_threshold=cv_threshold, cell_level=cell_level, overall_level=overall_level,
                          target=target)


def _cell_row(key, c: inf.Contrast, new: inf.Level, ref: inf.Level, fi: dict, fb: dict, level: float,
              margin: float, cv_threshold: float) -> dict:
    ipc, actors, placement, size, variant = key
    lo, hi = c.interval(level)
    rel, reasons = reliability(fb, fi, variant=variant, cv_threshold=cv_threshold)
    return {"ipc": ipc, "actors": actors, "placement": placement, "variant": variant, "buffer_size": int(size),
            "ratio": c.ratio, "ci_low": lo, "ci_high": hi, "level": level, "verdict": c.verdict(level, margin),
            "mde": c.mde(level), "p_value": c.p_value(), "change_pct": (c.ratio - 1) * 100,
            "n_baseline": fb["runs"], "n_variant": fi["runs"], "p_baseline": fb["processes"],
            "p_variant": fi["processes"], "baseline_mib_s": math.exp(ref.mean) / MIB,
            "variant_mib_s": math.exp(new.mean) / MIB, "spread_baseline": fb["spread"], "spread_variant": fi["spread"],
            "reliability": rel, "reasons": reasons}


def _mode_groups(pairs: dict) -> dict:
    """(ipc, actors, placement, variant) -> the cell keys of that IPC mode and pass, by size."""
    groups: dict = {}
    for key in pairs:
        ipc, actors, placement, _, variant = key
        groups.setdefault((ipc, actors, placement, variant), []).append(key)
    return groups


def _overall_pairs(members, pairs, contrasts) -> list:
    """The (pass, baseline) Levels the overall averages: the sizes with an interval (all when none has)."""
    usable = [k for k in members if contrasts[k].defined()] or members
    return [(pairs[k][0], pairs[k][1]) for k in usable]


def _mode_row(group, c: inf.Contrast, cells: pd.DataFrame, members, level: float, margin: float,
              target: float) -> dict:
    ipc, actors, placement, variant = group
    sizes = {int(k[3]) for k in members}
    g = cells[(cells["ipc"] == ipc) & (cells["variant"] == variant) & cells["buffer_size"].isin(sizes)
              & _same(cells["actors"], actors) & _same(cells["placement"], placement)]
    lo, hi = c.interval(level)
    verdict = c.verdict(level, margin)
    processes = int(np.median(np.minimum(g["p_baseline"], g["p_variant"]))) if len(g) else 0
    needed = inf.processes_needed(c.se, processes, target, level) if verdict == inf.NOT_ESTABLISHED else None
    bad = g[g["reliability"] == "unreliable"]
    return {"ipc": ipc, "actors": actors, "placement": placement, "variant": variant, "n_sizes": len(g),
            "overall_ratio": c.ratio, "overall_ci_low": lo, "overall_ci_high": hi, "overall_verdict": verdict,
            "overall_mde": c.mde(level), "level": level, "processes": processes, "processes_needed": needed,
            "median_ratio": float(g["ratio"].median()), "min_ratio": float(g["ratio"].min()),
            "max_ratio": float(g["ratio"].max()),
            **{name: int((g["verdict"] == v).sum()) for v, name in COUNT.items()}, "n_unreliable": len(bad),
            "unreliable": [f"{format_size(s)}: {'; '.join(r)}" for s, r in zip(bad["buffer_size"], bad["reasons"])]}


def _same(column: pd.Series, value) -> pd.Series:
    return column.isna() if value is None else column == value


# ----------------------------------------------------------------------------------------------
# Inflexion points: did the pass move them? (isolated: the breakpoint model may be replaced)

def _moved_fields(runs: pd.DataFrame, ipc: str, variant: str, fits: dict, fit: bool) -> dict:
    """The ``MOVED_FIELDS`` of one IPC mode and pass; ``fits`` caches the models ((ipc, variant) -> model)."""
    row = {"baseline_breakpoints": [], "variant_breakpoints": [], "breakpoints_moved": None,
           "moved_note": "inflexion points not compared", "moved_verdict": "unknown"}
    if not fit:
        return row
    for v in (BASELINE, variant):
        if (ipc, v) not in fits:
            fits[(ipc, v)] = fit_model(runs[(runs["ipc"] == ipc) & (runs["variant"] == v)])
    fb, fv = fits[(ipc, BASELINE)], fits[(ipc, variant)]
    if fb is None or not fb.describes or fv is None or not fv.describes:
        row["moved_note"] = "no per-call model of both curves to compare"
        return row
    row.update(baseline_breakpoints=[int(d.size_interval[1]) for d in fb.located],
               variant_breakpoints=[int(d.size_interval[1]) for d in fv.located])
    row["breakpoints_moved"], row["moved_note"] = moved(fb, fv)
    row["moved_verdict"] = {True: "moved", False: "not moved"}.get(row["breakpoints_moved"], "unclear")
    return row


def _overlaps(a, b) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def moved(base, inst) -> tuple[bool | None, str]:
    """(moved, note) for the baseline's and a pass's per-call models; see the module docstring."""
    confident, doubtful = [], []
    for one, name, other in ((base, "baseline", inst), (inst, "instrumented", base)):
        for d in one.located:
            if any(_overlaps(d.size_interval, o.size_interval) for o in other.located):
                continue
            where = f"{format_size(d.size_interval[0])}-{format_size(d.size_interval[1])}"
            if other.fit_sizes and other.fit_sizes[-1] >= d.size_interval[1]:
                confident.append(f"the {name} curve leaves its model at {where}; the other follows its model there")
            else:
                doubtful.append(f"the {name} curve leaves its model at {where}; the other does not say there")
    if confident:
        return True, "; ".join(confident)
    if doubtful:
        return None, "; ".join(doubtful)
    return False, ("the same located inflexion points" if base.located
                   else "neither curve has a located inflexion point")


# ----------------------------------------------------------------------------------------------
# Words

def overall_words(value: float, lo: float, hi: float, verdict: str, level: float, margin: float = MARGIN,
                  cost: bool = True) -> str:
    """'costs 18 % of the bandwidth [12 %, 24 %] (0.820x, 99.58 % interval 0.760–0.880)' and the like
    (``cost=False``: 'is 18 % slower [12 %, 24 %] ...', for a comparison): the verdict in words, from
    the interval only."""
    shown = f"{ratio(value)}x" if math.isfinite(value) else "no ratio"
    said = f"{level_text(level)} interval {interval(lo, hi)}"
    if verdict == inf.SLOWER:
        head = f"costs {percent(1 - value)} of the bandwidth" if cost else f"is {percent(1 - value)} slower"
        return f"{head} [{percent(1 - hi)}, {percent(1 - lo)}] ({shown}, {said})"
    if verdict == inf.FASTER:
        head = "runs" if cost else "is"
        return f"{head} {percent(value - 1)} faster [{percent(lo - 1)}, {percent(hi - 1)}] ({shown}, {said})"
    if verdict == inf.NEGLIGIBLE:
        head = "costs nothing material" if cost else "no material change"
        return f"{head}: {shown} ({said}, within ±{percent(margin)})"
    if verdict == inf.NOT_ESTABLISHED:
        return f"{shown}: {'a cost' if cost else 'a change'} is not established ({said})"
    return f"{shown}; {TOO_FEW} for an interval or a verdict (at least {MIN_PROCESSES} a side)"


def _needed_words(row) -> str:
    """The smallest change these runs detect (beside every verdict) and, when none is established, the
    processes per point that would detect a 5 % change."""
    mde, need, now = row.get("overall_mde"), row.get("processes_needed"), int(row.get("processes") or 0)
    target = TARGET
    can = (f"these runs detect a change of {percent(1 - mde)} or more (80 % power)"
           if mde is not None and mde == mde else "")
    if row.get("overall_verdict") != inf.NOT_ESTABLISHED:
        return f"; {can}" if can else ""
    if need is not None and need == need and int(need) > now:
        more = f"{int(need)} processes per point (now {now}) would detect a {percent(1 - target)} change"
        return f"; {can}, {more}" if can else f"; {more}"
    return f"; {can}" if can else ""


def describe_mode(row, min_runs: int | None = None) -> str:
    """One sentence for a row of ``OverheadResult.modes``: the overall verdict first, then the sizes'
    verdicts, reliability and the inflexion points. (``min_runs``: accepted for old callers, unused.)"""
    n = int(row.get("n_sizes") or 0)
    ratio, lo, hi, level = (float("nan") if row.get(k) is None else float(row[k])
                            for k in ("overall_ratio", "overall_ci_low", "overall_ci_high", "level"))
    head = overall_words(ratio, lo, hi, row.get("overall_verdict") or TOO_FEW, level)
    over = "at its one size" if n == 1 else f"over {n} sizes"
    counts = [f"{int(row.get(name) or 0)} {v}" for v, name in COUNT.items() if row.get(name)]
    tally = f"; per size: {', '.join(counts)}" if counts and n > 1 else ""
    bad = int(row.get("n_unreliable") or 0)
    unreliable = ""
    if bad:
        at = ("" if n == 1 else " at every size") if bad == n else f" at {bad} of {n} sizes"
        sizes = [u.split(":")[0] for u in row.get("unreliable") or []]
        where = f" ({', '.join(sizes)})" if n > 1 and bad < n and sizes else ""
        unreliable = f"; unreliable{at}{where}: processes that differ or runs that shared the CPU"
    return (f"{row['ipc']}, pass {row['variant']}: {head} {over}{_needed_words(row)}{tally}{unreliable}; "
            f"{_moved_words(row)}.")


def _moved_words(row) -> str:
    moved_ = row.get("breakpoints_moved")
    change = f"{size_list(row.get('baseline_breakpoints') or [])} -> {size_list(row.get('variant_breakpoints') or [])}"
    if moved_ is False:
        return "the inflexion points did not move"
    if moved_:
        return f"the inflexion points moved ({change})"
    if row.get("moved_verdict") == "unclear":
        return f"whether the inflexion points moved is unclear ({change}, but {row.get('moved_note')})"
    return f"whether the inflexion points moved is unknown ({row.get('moved_note') or 'not fitted'})"


def describe_cell(row) -> str:
    """One sentence for a row of ``OverheadResult.cells``, with its reliability caveat."""
    head = f"{row['ipc']} {format_size(row['buffer_size'])}, pass {row['variant']}"
    text = f"{head}: {overall_words(row['ratio'], row['ci_low'], row['ci_high'], row['verdict'], row['level'])}"
    if row.get("reliability") == "unreliable":
        text += f"; unreliable: {'; '.join(row['reasons'])}"
    return text + "."
