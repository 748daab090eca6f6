"""What the bandwidth curve of each IPC mode does, measured, and which counters change with it.

Steps (all pure functions of the result table):

1. **Cells.** Per IPC mode and size, the bandwidth runs of the baseline (all runs pooled when there is no
   baseline): measured median, its 95 % interval (percentile bootstrap of the median over runs,
   ``CELL_BOOT`` resamples), number of runs, coefficient of variation (sd / mean) and how many runs
   shared the CPU (``shared_cpu``). A cell is *noisy* when its CV exceeds ``CV_LIMIT`` (10 %), when
   any of its runs shared the CPU, or when it has fewer than ``MIN_RUNS`` (3) runs (a bootstrap over 2
   runs has 3 possible medians: its "95 %" interval means nothing). Every finding built on a noisy cell
   is *unreliable* and says why (``findings.py``).
2. **Breakpoints.** The bandwidth curve and every counter per KiB (``value * 1024 / total_size``;
   log2 scale when all values are positive) get the segmented fit of ``breakpoints.fit_breakpoints``.
   When the size grid is too small for a fit (fewer than 5 sizes), a *measured peak* stands in: an
   interior size whose median's interval lies above both neighbours' intervals.
3. **Attribution that can say "none".** For each bandwidth breakpoint (or measured peak) at size i,
   every counter measured there is *tried* unless it measures time (``labels.is_time_counter``: cycles,
   CPU time, loop or off-CPU time are *context*, listed with their fold change, never the explanation)
   or is constant across sizes. A tried counter is *named* only when all of these hold:

   - its own change there is confident: its own fit claims a breakpoint (>= ``min_support`` bootstrap
     support) within one size step (grid index) of i, with a change of slope of the consistent sign;
     on a grid too small for a fit, a material change of slope at i in at least ``min_support`` of the
     bootstrap resamples instead;
   - the consistent direction: its local change of slope at i (continuous two-segment fit with the
     hinge at i, on its per-size medians between the neighbouring bandwidth breakpoints, at most 4
     sizes each side) opposes the bandwidth's (a cost: the counter's slope rises where the bandwidth's
     falls, or the reverse), and is material (``min_slope_change`` of the counter's fit);
   - chance controlled: a one-sided bootstrap z test of that local change of slope (z = change /
     bootstrap sd over runs resampled within each size), p-values corrected with **Holm** across all
     the counters tried for that breakpoint (``CORRECTION``), adjusted p < ``ALPHA`` (0.05);
   - run-level pairing: where a counter's rows carry the bandwidth of the same iteration (``scope``
     ``actors`` or ``loop``: the counts cover the loop whose bandwidth is measured), runs are resampled
     jointly and, in >= ``min_support`` of the joint resamples, the same runs' bandwidth must change
     slope at i the way the baseline's does while the counter changes the opposite way.

   Named counters are ranked by effect size, |log fold change| of the counter per KiB from the
   breakpoint to the next bandwidth breakpoint (or the largest size). When none qualifies the finding
   says that no measured counter changes there. Counters that duplicate a named one (|r| > 0.999
   across sizes, e.g. sched_switch and context_switches) are folded into it (``same_as``).
4. **Context.** Spearman correlations of bandwidth with each counter per KiB across sizes (not an
   explanation). The former OLS of loop time per KiB on all counters is **dropped**: with up to 13
   regressors on 15 sizes it reached R^2 = 1 by construction, and cycles (time) explained time.

Counters from different passes come from different runs: they are aligned with each other and with
the bandwidth by IPC mode and buffer size through per-size medians (``ALIGN_NOTE``); only counters
counted over the measured loop itself are paired run by run.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm, spearmanr
from statsmodels.stats.multitest import multipletests

from ..errors import PmcsuiteError
from ..schema import BASELINE
from ..sizes import format_size
from .breakpoints import (MIB, Breakpoint, BreakpointFit, _jsonable, _runs_matrix, bootstrap_indices,
                          counter_columns, fit_breakpoints, measured_runs, median_intervals, medians_of)
from .labels import counter_labels, time_counters
from .display import Displayable, Text, size_axis
from .overhead import OverheadResult, overhead

ALIGN_NOTE = ("Counters from different passes were measured in different runs: they are aligned with each "
              "other and with the bandwidth by IPC mode and buffer size (per-size medians); only counters "
              "counted over the measured loop itself are paired with its bandwidth run by run.")
CV_LIMIT = 0.10          # a cell's coefficient of variation above which its findings are unreliable
MIN_RUNS = 3             # runs a cell needs for its interval to mean something
ALPHA = 0.05             # family-wise error rate of the counters named for one finding
CORRECTION = "holm"      # statsmodels.stats.multitest method
CELL_BOOT = 1000         # bootstrap resamples of each cell's median (interval digits stable to ~1 %)
WINDOW = 4               # sizes each side of a breakpoint in the local fit of a counter
SAME_AS_R = 0.999
PAIRED_SCOPES = ("actors", "loop")


# ----------------------------------------------------------------------------------------------
# Normalisation

def per_kib(df: pd.DataFrame, counter: str) -> pd.Series:
    """Counter per KiB transferred: ``value * 1024 / total_size`` (NaN stays NaN)."""
    return df[counter].astype(float) * 1024.0 / df["total_size"].astype(float)


def per_call(df: pd.DataFrame, counter: str) -> pd.Series:
    """Counter per ``write()`` call of the benchmark loop (NaN where ``writes`` is unknown or 0)."""
    writes = df["writes"].astype(float) if "writes" in df.columns else pd.Series(np.nan, index=df.index)
    return df[counter].astype(float) / writes.where(writes > 0)


# ----------------------------------------------------------------------------------------------
# Results

@dataclass
class Attribution:
    """One counter tried for one bandwidth breakpoint (``named`` says whether it explains it)."""
    counter: str
    named: bool
    fold_change: float          # counter per KiB at to_size / at from_size (measured medians)
    from_size: int
    to_size: int
    delta_slope: float          # local change of slope at the breakpoint, per doubling (log2-fold if log)
    support: float              # own breakpoint's bootstrap support (or share of resamples with the change)
    p_value: float = float("nan")      # one-sided bootstrap z test of the change in the consistent direction
    p_adjusted: float = float("nan")   # Holm across the counters tried for this breakpoint
    scale: str = "log"
    counter_breakpoint: Breakpoint | None = None   # the counter's own claimed breakpoint, if any
    consistent: bool = False    # the change of slope opposes the bandwidth's
    paired: bool = False        # tested on the same runs as their own bandwidth
    paired_agreement: float = float("nan")
    variants: list = field(default_factory=list)
    reason: str = ""            # why it was not named
    from_value: tuple = (float("nan"),) * 3   # counter per KiB median, low, high at from_size
    to_value: tuple = (float("nan"),) * 3
    same_as: list = field(default_factory=list)  # counters folded into this one (same measurement)

    @property
    def slope_change(self) -> str:
        return "up" if self.delta_slope > 0 else "down"

    def to_dict(self) -> dict:
        cb = self.counter_breakpoint
        return {"id": self.counter, "named": self.named, "fold_change": _jsonable(self.fold_change),
                "from_size": int(self.from_size), "to_size": int(self.to_size),
                "support": _jsonable(self.support), "p_value": _jsonable(self.p_value),
                "p_adjusted": _jsonable(self.p_adjusted), "delta_slope": _jsonable(self.delta_slope),
                "slope_change": self.slope_change, "consistent": self.consistent, "scale": self.scale,
                "counter_breakpoint": int(cb.size) if cb is not None else None, "paired": self.paired,
                "paired_agreement": _jsonable(self.paired_agreement), "variants": list(self.variants),
                "per_kib_from": [_jsonable(v) for v in self.from_value],
                "per_kib_to": [_jsonable(v) for v in self.to_value],
                "same_as": list(self.same_as), "reason": self.reason}


@dataclass
class ModeExplanation:
    """Everything about one IPC mode."""
    ipc: str
    bandwidth: BreakpointFit
    bandwidth_source: str                               # "baseline" or "all runs pooled"
    cells: pd.DataFrame = field(default_factory=pd.DataFrame)   # per size: n, median, ci_low, ci_high (bytes/s), cv, n_shared
    boot: np.ndarray | None = field(default=None, repr=False)  # (CELL_BOOT, n_sizes) resampled medians, bytes/s
    breakpoints: list = field(default_factory=list)     # claimed (fit) or measured peaks: list[Breakpoint]
    breakpoint_source: str = "fit"                      # "fit" | "measured" (grid too small for a fit)
    counters: dict = field(default_factory=dict)        # counter -> BreakpointFit of its per-KiB curve
    counter_cells: dict = field(default_factory=dict)   # counter -> DataFrame(buffer_size, median, ci_low, ci_high)
    counter_variants: dict = field(default_factory=dict)
    tried: list = field(default_factory=list)           # per breakpoint: list[Attribution] (named and not)
    context: list = field(default_factory=list)         # per breakpoint: list[Attribution] of time counters
    time_counters: list = field(default_factory=list)
    correlations: pd.DataFrame = field(default_factory=pd.DataFrame)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)  # per-size medians, aligned
    notes: list = field(default_factory=list)
    constant: dict = field(default_factory=dict)
    unmeasured: dict = field(default_factory=dict)
    same_as: dict = field(default_factory=dict)         # counter -> the counter it duplicates

    @property
    def explained_by(self) -> list:
        """Per breakpoint: the named counters, largest effect first."""
        return [[a for a in atts if a.named] for atts in self.tried]

    def explained_table(self) -> pd.DataFrame:
        """One row per (bandwidth breakpoint, counter tried)."""
        rows = []
        for bp, atts in zip(self.breakpoints, self.tried):
            if not atts:
                rows.append({"breakpoint": format_size(bp.size), "kind": bp.kind, "counter": "(none tried)"})
            for a in atts:
                rows.append({"breakpoint": format_size(bp.size), "kind": bp.kind, "counter": a.counter,
                             "named": a.named, "fold change": a.fold_change, "to": format_size(a.to_size),
                             "support": a.support, "p (Holm)": a.p_adjusted,
                             "why not": a.reason or "—"})
        return pd.DataFrame(rows)

    def summary(self) -> str:
        parts = [f"=== {self.ipc} (bandwidth from {self.bandwidth_source}) ===", self.bandwidth.summary()]
        if self.breakpoints:
            parts += ["Counters tried at each breakpoint:",
                      self.explained_table().to_string(index=False, float_format=lambda v: f"{v:.3g}")]
        if not self.correlations.empty:
            parts += ["Spearman correlation of bandwidth with counters per KiB across sizes (context):",
                      self.correlations.to_string(index=False, float_format=lambda v: f"{v:.3g}")]
        return "\n".join(parts + self.notes)

    def to_dict(self) -> dict:
        return {"ipc": self.ipc, "bandwidth_source": self.bandwidth_source,
                "breakpoint_source": self.breakpoint_source,
                "breakpoints": [dict(b.to_dict(), tried=[a.to_dict() for a in atts])
                                for b, atts in zip(self.breakpoints, self.tried)],
                "bandwidth": self.bandwidth.to_dict(),
                "cells": [{k: _jsonable(v) for k, v in r.items()} for r in self.cells.to_dict("records")],
                "counters": {c: f.to_dict() for c, f in self.counters.items()},
                "counter_variants": self.counter_variants, "time_counters": list(self.time_counters),
                "correlations": [{k: _jsonable(v) for k, v in r.items()} for r in self.correlations.to_dict("records")],
                "constant": {k: _jsonable(v) for k, v in self.constant.items()},
                "unmeasured": dict(self.unmeasured), "same_as": dict(self.same_as), "notes": list(self.notes)}


@dataclass(repr=False)
class Explanation(Displayable):
    """Per IPC mode explanations, plus the overhead of every pass. In a notebook: ``.to_frame()``
    (one row per finding), ``.summary()`` (text), ``.plot()`` (a Figure of every mode's bandwidth)."""
    modes: dict                                   # ipc -> ModeExplanation
    overhead: OverheadResult | None = None
    notes: list = field(default_factory=lambda: [ALIGN_NOTE])
    labels: dict = field(default_factory=dict)    # counter id -> human label
    settings: dict = field(default_factory=dict)  # thresholds used (cv_limit, flat_tolerance, alpha, ...)

    def summary(self) -> str:
        parts = [m.summary() for m in self.modes.values()]
        if self.overhead is not None:
            parts.append(self.overhead.summary())
        return Text("\n\n".join(parts + self.notes))

    def to_frame(self) -> pd.DataFrame:
        """One row per finding (kind, ipc, sizes, measured value and interval, counters named,
        reliability, sentence): the ``explain --json`` findings as a table."""
        from .findings import findings
        rows = []
        for f in findings(self):
            measured = f.get("measured") or {}
            rows.append({"kind": f["kind"], "ipc": f.get("ipc") or "/".join(f.get("ipcs", [])),
                         "size": f.get("size", f.get("from_size")), "to_size": f.get("to_size"),
                         "measured": measured.get("value"), "ci_low": (measured.get("ci") or [None, None])[0],
                         "ci_high": (measured.get("ci") or [None, None])[1],
                         "counters": ", ".join(c["id"] for c in f.get("counters", [])),
                         "reliability": f.get("reliability"), "sentence": f.get("sentence")})
        return pd.DataFrame(rows, columns=["kind", "ipc", "size", "to_size", "measured", "ci_low", "ci_high",
                                           "counters", "reliability", "sentence"])

    def plot(self):
        """Every IPC mode's measured median bandwidth (MiB/s) with its 95 % interval, per buffer size,
        and the detected breakpoints, as a matplotlib Figure."""
        from matplotlib.figure import Figure
        fig = Figure(figsize=(8, 4.5), layout="constrained")
        ax = fig.add_subplot()
        for ipc, m in sorted(self.modes.items()):
            c = m.cells
            if c.empty:
                continue
            mib = 1 << 20
            bars = ax.errorbar(c["buffer_size"], c["median"] / mib,
                               yerr=[(c["median"] - c["ci_low"]) / mib, (c["ci_high"] - c["median"]) / mib],
                               marker="o", markersize=3, capsize=2, label=ipc)
            for b in m.breakpoints:
                ax.axvline(b.size, color=bars[0].get_color(), linestyle=":", linewidth=1)
        size_axis(ax)
        ax.set_ylabel("bandwidth (MiB/s, median and 95 % interval)")
        if self.modes:
            ax.legend(fontsize=8)
        return fig

    def to_dict(self) -> dict:
        return {"modes": {k: m.to_dict() for k, m in self.modes.items()},
                "overhead": self.overhead.to_dict() if self.overhead is not None else None,
                "notes": list(self.notes), "settings": dict(self.settings)}


# ----------------------------------------------------------------------------------------------
# Cells

def cell_table(sel: pd.DataFrame, values: np.ndarray, *, n_boot: int = CELL_BOOT, seed: int = 0,
               ci: float = 0.95) -> tuple[pd.DataFrame, np.ndarray]:
    """Per size of ``sel``: n, median, ci_low, ci_high (bootstrap of the median), cv, n_shared; and the
    (n_boot, n_sizes) resampled medians."""
    sizes = sel["buffer_size"].to_numpy()
    usizes, med, lo, hi, counts, boot = median_intervals(sizes, values, n_boot=n_boot, ci=ci, seed=seed)
    cv, n_shared = spread(sel, values, usizes)
    cells = pd.DataFrame({"buffer_size": usizes.astype(np.int64), "n": counts.astype(int), "median": med,
                          "ci_low": lo, "ci_high": hi, "cv": cv, "n_shared": n_shared})
    return cells, boot


def spread(sel: pd.DataFrame, values: np.ndarray, usizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per size in ``usizes``: coefficient of variation (sd / |mean|, ddof 1) of ``values`` and the number
    of runs of ``sel`` that shared the CPU."""
    frame = pd.DataFrame({"s": sel["buffer_size"].to_numpy(), "v": np.asarray(values, dtype=float)})
    frame = frame[np.isfinite(frame["v"])]
    g = frame.groupby("s")["v"]
    mean, sd = g.mean().reindex(usizes).to_numpy(), g.std(ddof=1).reindex(usizes).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        cv = np.where(np.abs(mean) > 0, sd / np.abs(mean), np.nan)
    if "shared_cpu" in sel.columns:
        shared = sel["shared_cpu"].astype("boolean").fillna(False).astype(bool).groupby(sel["buffer_size"]).sum()
        n_shared = shared.reindex(usizes).fillna(0).astype(int).to_numpy()
    else:
        n_shared = np.zeros(len(usizes), dtype=int)
    return cv, n_shared


def noise_reasons(cells: pd.DataFrame, sizes, ipc: str, cv_limit: float = CV_LIMIT) -> list[str]:
    """Why the cells at ``sizes`` (bytes) make a finding unreliable (empty: they do not)."""
    out = []
    rows = cells.set_index("buffer_size")
    for s in sizes:
        if s not in rows.index:
            continue
        r = rows.loc[s]
        where = f"{ipc} {format_size(int(s))}"
        if int(r["n"]) < MIN_RUNS:
            out.append(f"{where}: {int(r['n'])} run{'s' if int(r['n']) != 1 else ''} (an interval needs >= {MIN_RUNS})")
        if math.isfinite(r["cv"]) and r["cv"] > cv_limit:
            out.append(f"{where}: spread CV {100 * r['cv']:.0f} % > {100 * cv_limit:.0f} %")
        if int(r["n_shared"]) > 0:
            out.append(f"{where}: {int(r['n_shared'])} of {int(r['n'])} runs shared the CPU")
    return out


# ----------------------------------------------------------------------------------------------
# Attribution

@dataclass
class _CounterData:
    """A counter's per-size data in one IPC mode, on its fitting scale (log2 when positive)."""
    name: str
    sizes: np.ndarray
    med: np.ndarray            # fitting scale
    boot: np.ndarray           # (B, n) fitting scale
    raw_cells: pd.DataFrame    # original units: buffer_size, median, ci_low, ci_high
    scale: str
    threshold: float
    fit: BreakpointFit | None
    variants: list
    paired: bool = False
    bw_boot: np.ndarray | None = None   # (B, n) same runs' bandwidth (paired only)
    bw_med: np.ndarray | None = None


def _hinge_row(x: np.ndarray, i: int) -> np.ndarray:
    """Row of the pseudo-inverse giving the change of slope at x[i] of a continuous two-segment fit."""
    X = np.column_stack([np.ones_like(x), x, np.maximum(0.0, x - x[i])])
    return np.linalg.pinv(X)[2]


def _window(sizes: np.ndarray, size: int, lo_size: int, hi_size: int) -> tuple[np.ndarray, int] | None:
    """Indices of ``sizes`` within [lo_size, hi_size], at most WINDOW each side of ``size``, and the
    position of ``size`` in them; None when ``size`` is absent or has no neighbour on a side."""
    where = np.flatnonzero(sizes == size)
    if not len(where):
        return None
    i = int(where[0])
    idx = [j for j in range(max(0, i - WINDOW), min(len(sizes), i + WINDOW + 1)) if lo_size <= sizes[j] <= hi_size]
    if not idx or idx[0] >= i or idx[-1] <= i:
        return None
    return np.array(idx), idx.index(i)


def _p_one_sided(estimate: float, boot: np.ndarray, sign: float) -> float:
    """One-sided bootstrap z test that ``sign * change > 0``."""
    sd = float(np.nanstd(boot, ddof=1)) if np.isfinite(boot).sum() > 1 else float("nan")
    t = sign * estimate
    if not math.isfinite(t):
        return 1.0
    if not math.isfinite(sd) or sd <= 1e-12 * max(abs(estimate), 1e-300):
        return 0.0 if t > 0 else 1.0
    return float(norm.sf(t / sd))


def _try(c: _CounterData, bp: Breakpoint, bw_sizes: list, from_size: int, to_size: int, lo_size: int,
         hi_size: int, min_support: float) -> Attribution | None:
    """Test one counter at one bandwidth breakpoint (p_adjusted and named are set by ``attribute``)."""
    win = _window(c.sizes, bp.size, lo_size, hi_size)
    if win is None:
        return None
    idx, pos = win
    x = np.log2(c.sizes[idx].astype(float))
    row = _hinge_row(x, pos)
    d_hat = float(row @ c.med[idx])
    d_boot = c.boot[:, idx] @ row
    sign = -float(np.sign(bp.delta_slope)) or 1.0
    raw = c.raw_cells.set_index("buffer_size")
    fr = tuple(float(v) for v in raw.loc[from_size, ["median", "ci_low", "ci_high"]]) if from_size in raw.index else (float("nan"),) * 3
    to = tuple(float(v) for v in raw.loc[to_size, ["median", "ci_low", "ci_high"]]) if to_size in raw.index else (float("nan"),) * 3
    fold = to[0] / fr[0] if math.isfinite(fr[0]) and fr[0] != 0 and math.isfinite(to[0]) else float("nan")
    att = Attribution(counter=c.name, named=False, fold_change=float(fold), from_size=int(from_size),
                      to_size=int(to_size), delta_slope=d_hat, support=float("nan"),
                      p_value=_p_one_sided(d_hat, d_boot, sign), scale=c.scale,
                      consistent=bool(sign * d_hat > 0), variants=list(c.variants), from_value=fr, to_value=to,
                      paired=c.paired)
    reasons = []
    grid = {int(s): k for k, s in enumerate(bw_sizes)}
    if c.fit is not None and c.fit.can_break:
        near = [cb for cb in c.fit.breakpoints
                if cb.size in grid and bp.size in grid and abs(grid[cb.size] - grid[bp.size]) <= 1]
        if near:
            cb = min(near, key=lambda b: abs(grid[b.size] - grid[bp.size]))
            att.counter_breakpoint, att.support = cb, float(cb.support)
            if np.sign(cb.delta_slope) != sign:
                reasons.append("its own breakpoint changes slope the same way as bandwidth")
        else:
            from .breakpoints import presence
            att.support = presence(c.fit, bp.size)
            reasons.append("no breakpoint of its own within one size step")
    else:
        att.support = float(np.mean(sign * d_boot >= c.threshold))
        if att.support < min_support:
            reasons.append(f"its change of slope is material in {att.support:.0%} of resamples (< {min_support:.0%})")
    if not att.consistent:
        reasons.append("changes slope the same way as bandwidth (not a cost)")
    elif abs(d_hat) < c.threshold:
        reasons.append(f"change of slope {abs(d_hat):.2g} below materiality {c.threshold:.2g}")
    if c.paired and c.bw_boot is not None:
        bw_d = c.bw_boot[:, idx] @ row
        agree = (np.sign(bw_d) == np.sign(bp.delta_slope)) & (sign * d_boot > 0)
        att.paired_agreement = float(np.mean(agree))
        if att.paired_agreement < min_support:
            reasons.append(f"on the same runs, counter and bandwidth move oppositely in only "
                           f"{att.paired_agreement:.0%} of resamples")
    att.reason = "; ".join(reasons)
    return att


def attribute(bps: list, bw_sizes: list, data: dict, *, min_support: float = 0.8, alpha: float = ALPHA,
              same_as: dict | None = None) -> list[list[Attribution]]:
    """For each bandwidth breakpoint, every counter of ``data`` tried (see the module docstring, step 3):
    named ones first, by decreasing |log fold change|."""
    same_as = same_as or {}
    out = []
    sizes = [int(s) for s in bw_sizes]
    for j, bp in enumerate(bps):
        from_size = bp.size
        to_size = bps[j + 1].size if j + 1 < len(bps) else sizes[-1]
        lo_size = bps[j - 1].size if j > 0 else sizes[0]
        atts = [a for a in (_try(c, bp, sizes, from_size, to_size, lo_size, to_size, min_support)
                            for c in data.values()) if a is not None]
        if atts:
            adjusted = multipletests([a.p_value for a in atts], alpha=alpha, method=CORRECTION)[1]
            for a, p in zip(atts, adjusted):
                a.p_adjusted = float(p)
                if not a.reason and p >= alpha:
                    a.reason = f"not significant after {CORRECTION.title()} correction over {len(atts)} counters (p = {p:.2g})"
                a.named = not a.reason
        # fold duplicates (same measurement) into the first named one
        named = {a.counter for a in atts if a.named}
        for a in atts:
            twin = same_as.get(a.counter)
            if a.named and twin in named:
                a.named, a.reason = False, f"same measurement as {twin}"
                next(b for b in atts if b.counter == twin).same_as.append(a.counter)

        def effect(a):
            return abs(math.log(a.fold_change)) if math.isfinite(a.fold_change) and a.fold_change > 0 else 0.0
        atts.sort(key=lambda a: (not a.named, -effect(a)))
        out.append(atts)
    return out


def _context(bps: list, bw_sizes: list, data: dict) -> list[list[Attribution]]:
    """Fold changes of the time counters over each breakpoint's range (context, never named)."""
    out = []
    for j, bp in enumerate(bps):
        to_size = bps[j + 1].size if j + 1 < len(bps) else int(bw_sizes[-1])
        rows = []
        for c in data.values():
            raw = c.raw_cells.set_index("buffer_size")
            if bp.size in raw.index and to_size in raw.index and raw.loc[bp.size, "median"]:
                fold = float(raw.loc[to_size, "median"] / raw.loc[bp.size, "median"])
                rows.append(Attribution(counter=c.name, named=False, fold_change=fold, from_size=int(bp.size),
                                        to_size=int(to_size), delta_slope=float("nan"), support=float("nan"),
                                        scale=c.scale, variants=list(c.variants),
                                        reason="measures time: context, not an explanation"))
        out.append(rows)
    return out


def measured_peaks(cells: pd.DataFrame, boot: np.ndarray) -> list[Breakpoint]:
    """Interior sizes whose median's interval lies above both neighbours' (grids too small for a fit)."""
    out = []
    med, lo, hi = (cells[c].to_numpy(float) for c in ("median", "ci_low", "ci_high"))
    sizes = cells["buffer_size"].to_numpy()
    x = np.log2(sizes.astype(float))
    for i in range(1, len(cells) - 1):
        if lo[i] > hi[i - 1] and lo[i] > hi[i + 1]:
            support = float(np.mean((boot[:, i] > boot[:, i - 1]) & (boot[:, i] > boot[:, i + 1])))
            before = (med[i] - med[i - 1]) / (x[i] - x[i - 1]) / MIB
            after = (med[i + 1] - med[i]) / (x[i + 1] - x[i]) / MIB
            out.append(Breakpoint(size=int(sizes[i]), ci_low=int(sizes[i]), ci_high=int(sizes[i]),
                                  slope_before=float(before), slope_after=float(after), kind="peak",
                                  delta_slope=float(after - before), support=support, value=float(med[i] / MIB),
                                  index=i))
    return out


# ----------------------------------------------------------------------------------------------
# Helpers

def _constant(v: pd.Series) -> bool:
    v = v.dropna().to_numpy(float)
    return len(v) == 0 or float(np.ptp(v)) <= 1e-12 * max(float(np.max(np.abs(v))), 1e-300)


def _same(a: pd.Series, b: pd.Series) -> bool:
    """Same measurement up to scale: |Pearson r| > SAME_AS_R across sizes, on the values and, when both
    are positive, on their logarithms too."""
    pair = pd.concat([a, b], axis=1).dropna()
    if len(pair) < 6:    # with fewer sizes any two monotone curves correlate that well
        return False
    a, b = pair.iloc[:, 0], pair.iloc[:, 1]
    if a.std() == 0 or b.std() == 0 or abs(float(np.corrcoef(a, b)[0, 1])) <= SAME_AS_R:
        return False
    if (a > 0).all() and (b > 0).all():
        return abs(float(np.corrcoef(np.log(a), np.log(b))[0, 1])) > SAME_AS_R
    return True


def duplicates(table: pd.DataFrame, counters: list[str]) -> dict:
    """{counter: earlier counter (catalogue order) it duplicates} among ``counters`` (columns of ``table``)."""
    same_as, distinct = {}, []
    for c in counters:
        twin = next((k for k in distinct if _same(table[c], table[k])), None)
        if twin is not None:
            same_as[c] = twin
        else:
            distinct.append(c)
    return same_as


def correlations(table: pd.DataFrame, counters: list[str]) -> pd.DataFrame:
    """Spearman rho (and p) of bandwidth with each counter per KiB across sizes (context only)."""
    rows = []
    for c in counters:
        pair = table[["bandwidth_mib_s", c]].dropna()
        rho = p = float("nan")
        if len(pair) >= 3 and pair[c].nunique() > 1 and pair["bandwidth_mib_s"].nunique() > 1:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = spearmanr(pair["bandwidth_mib_s"], pair[c])
            rho, p = float(res.statistic), float(res.pvalue)
        rows.append({"counter": c, "rho": rho, "p_value": p, "n_sizes": len(pair)})
    return pd.DataFrame(rows, columns=["counter", "rho", "p_value", "n_sizes"])


def _paired(sel: pd.DataFrame, c: str) -> bool:
    return ("scope" in sel.columns and bool(sel["scope"].isin(PAIRED_SCOPES).all())
            and bool(sel["bandwidth"].notna().all()))


# ----------------------------------------------------------------------------------------------
# Analysis

def explain_mode(runs: pd.DataFrame, ipc: str, counters: list[str], *, n_boot: int = 200, seed: int = 0,
                 min_slope_change: float | None = None, counter_min_slope_change: float | None = None,
                 min_support: float = 0.8, alpha: float = ALPHA, time_ids=()) -> ModeExplanation:
    """Explanation for one IPC mode from the measured runs (``measured_runs(df)``)."""
    mode = runs[runs["ipc"] == ipc]
    notes = []
    base = mode[mode["variant"] == BASELINE]
    source = BASELINE
    if base.empty:
        base, source = mode, "all runs pooled"
        notes.append(f"{ipc}: no baseline runs; the bandwidth curve pools every pass (instrumented) run.")
    kw = dict(n_boot=n_boot, seed=seed, min_support=min_support)
    bw_values = base["bandwidth"].to_numpy(float)
    bw = fit_breakpoints(base["buffer_size"].to_numpy(), bw_values / MIB,
                         label=f"{ipc} bandwidth", unit="MiB/s", min_slope_change=min_slope_change, **kw)
    cells, boot = cell_table(base, bw_values, seed=seed)
    if bw.can_break:
        bps, bp_source = list(bw.breakpoints), "fit"
    else:
        bps, bp_source = (measured_peaks(cells, boot) if len(cells) >= 3 else []), "measured"
    table = pd.DataFrame({"buffer_size": bw.sizes, "bandwidth_mib_s": bw.medians}).set_index("buffer_size")

    fits, variants, constant, unmeasured, data, context_data, raw_cells = {}, {}, {}, {}, {}, {}, {}
    rng = np.random.default_rng(seed + 1)
    for c in counters:
        sel = mode[mode[c].notna()]
        if sel.empty:
            statuses = mode[f"{c}_status"].dropna() if f"{c}_status" in mode else pd.Series(dtype=object)
            unmeasured[c] = str(statuses.mode().iloc[0]) if len(statuses) else "not measured"
            continue
        values = per_kib(sel, c)
        variants[c] = sorted(sel["variant"].unique().tolist())
        table[c] = values.groupby(sel["buffer_size"]).median()
        if c.startswith("syscalls"):
            table[f"{c}_per_write"] = per_call(sel, c).groupby(sel["buffer_size"]).median()
        if _constant(table[c]):
            constant[c] = float(sel[c].astype(float).median())
            continue
        scale = "log" if bool((values > 0).all()) else "linear"
        try:
            fits[c] = fit_breakpoints(sel["buffer_size"].to_numpy(), values.to_numpy(), label=f"{c} per KiB",
                                      unit="per KiB", scale=scale, min_slope_change=counter_min_slope_change, **kw)
        except PmcsuiteError as exc:
            notes.append(f"{ipc}: {c} not fitted ({exc})")
            continue
        paired = _paired(sel, c)
        y = values.to_numpy(float)
        ys = np.log2(y) if scale == "log" else y
        usizes, mat, counts = _runs_matrix(sel["buffer_size"].to_numpy(), ys)
        idx = bootstrap_indices(counts, n_boot, rng)
        cboot = medians_of(mat, idx)
        raw_med = 2.0 ** np.nanmedian(mat, axis=1) if scale == "log" else np.nanmedian(mat, axis=1)
        craw = 2.0 ** cboot if scale == "log" else cboot
        alpha_q = 0.025
        cv, n_shared = spread(sel, y, usizes)
        raw = pd.DataFrame({"buffer_size": usizes, "n": counts, "cv": cv, "n_shared": n_shared, "median": raw_med,
                            "ci_low": np.minimum(np.quantile(craw, alpha_q, axis=0), raw_med),
                            "ci_high": np.maximum(np.quantile(craw, 1 - alpha_q, axis=0), raw_med)})
        raw_cells[c] = raw
        d = _CounterData(name=c, sizes=usizes, med=np.nanmedian(mat, axis=1), boot=cboot, raw_cells=raw,
                         scale=scale, threshold=fits[c].threshold, fit=fits[c], variants=variants[c], paired=paired)
        if paired:
            # the same runs' bandwidth, resampled with the same indices (runs in the same order per size)
            _, bmat, bcounts = _runs_matrix(sel["buffer_size"].to_numpy(), sel["bandwidth"].to_numpy(float) / MIB)
            if np.array_equal(bcounts, counts):
                d.bw_boot, d.bw_med = medians_of(bmat, idx), np.nanmedian(bmat, axis=1)
            else:
                d.paired = False
        (context_data if c in time_ids else data)[c] = d
    if constant:
        notes.append(f"{ipc}: constant across sizes, so left out of the fits and correlations: "
                     + ", ".join(f"{c} ({v:g} per run)" for c, v in constant.items()) + ".")
    measured = [c for c in counters if c in variants and c not in constant]
    same_as = duplicates(table, [c for c in measured if c in data])
    tried = attribute(bps, bw.sizes, data, min_support=min_support, alpha=alpha, same_as=same_as)
    return ModeExplanation(ipc=ipc, bandwidth=bw, bandwidth_source=source, cells=cells, boot=boot,
                           breakpoints=bps, breakpoint_source=bp_source, counters=fits, counter_cells=raw_cells,
                           counter_variants=variants, tried=tried, context=_context(bps, bw.sizes, context_data),
                           time_counters=[c for c in counters if c in time_ids],
                           correlations=correlations(table.reset_index(), measured),
                           table=table.reset_index(), notes=notes, constant=constant, unmeasured=unmeasured,
                           same_as=same_as)


def explain(df: pd.DataFrame, *, n_boot: int = 200, seed: int = 0, min_slope_change: float | None = None,
            counter_min_slope_change: float | None = None, min_support: float = 0.8, alpha: float = ALPHA,
            cv_limit: float = CV_LIMIT, flat_tolerance: float = 0.05, with_overhead: bool = True,
            labels: dict | None = None) -> Explanation:
    """Explain every IPC mode of a result table (see the module docstring). ``labels``: counter id ->
    readable name for sentences and figures (default: ``labels.counter_labels``, from the catalogue;
    pass ``{}`` for the bare ids). ``cv_limit`` and ``flat_tolerance`` are used by the findings."""
    runs = measured_runs(df)
    counters = counter_columns(df)
    metadata = df.attrs.get("metadata") if hasattr(df, "attrs") else None
    time_ids = time_counters(counters, metadata)
    modes = {}
    for ipc in sorted(runs["ipc"].unique()):
        modes[ipc] = explain_mode(runs, ipc, counters, n_boot=n_boot, seed=seed, min_slope_change=min_slope_change,
                                  counter_min_slope_change=counter_min_slope_change, min_support=min_support,
                                  alpha=alpha, time_ids=time_ids)
    ovh = None
    variants = set(runs["variant"])
    if with_overhead and BASELINE in variants and len(variants) > 1:
        ovh = overhead(runs, n_boot=n_boot, seed=seed, min_slope_change=min_slope_change, min_support=min_support)
    if labels is None:
        labels = counter_labels(counters, metadata)
    settings = {"cv_limit": cv_limit, "flat_tolerance": flat_tolerance, "alpha": alpha, "correction": CORRECTION,
                "min_support": min_support, "min_runs": MIN_RUNS, "n_boot": n_boot, "cell_boot": CELL_BOOT}
    return Explanation(modes=modes, overhead=ovh, labels=dict(labels), settings=settings)
