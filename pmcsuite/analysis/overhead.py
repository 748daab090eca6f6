"""Probe effect: how much each instrumentation pass slows the benchmark down, point by point.

For every (ipc, buffer size, pass): ratio = median bandwidth of the pass's runs / median bandwidth of
the baseline (uninstrumented) runs of the same ipc and size. Its 95 % confidence interval comes from
a bootstrap that resamples baseline runs and instrumented runs independently; a two-sided
Mann-Whitney U p-value is given only when both sides have at least ``min_runs_test`` (9) runs.

The interval and the verdict need at least ``min_runs`` (``MIN_RUNS``, 3) runs on each side: a
bootstrap over 2 runs has at most 3 distinct medians per side, so its "95 %" interval is far too
narrow (the L41 sample's 2 runs a side gave 0.414-0.455 for a ratio nobody could trust). Below
that the interval is NaN and the verdict ``too few runs``; the ratio is still reported.

Verdict per cell: ``negligible`` when the whole interval lies within +-``tolerance`` (2 %) of 1;
otherwise ``slowdown`` / ``speedup`` when the interval excludes 1, and ``inconclusive`` when it
includes 1 but is too wide to call the effect negligible. ``change_pct`` always gives the size.

Per IPC mode and pass: median, min and max ratio over sizes, and whether the instrumentation moved
the inflexion points. Breakpoints are fitted on each variant's bandwidth and compared with the
baseline's (``same_breakpoints``: as many, each within one size step). ``breakpoints_moved`` is

- ``False`` when the two fits agree (two independent fits finding the same answer);
- ``True`` only when both fits are confident about a difference: one fit claims a breakpoint the
  other does not (not within one size step), the claiming fit finds it in >= 80 % (``min_support``)
  of its bootstrap resamples (true of every claimed breakpoint) and the other fit finds one there in
  at most 20 % of its own resamples (``breakpoints.presence``). A breakpoint that one fit narrowly
  missed (e.g. found in 60 % of the baseline's resamples, short of being claimed) does not make a move;
- ``None`` when they differ but no difference is confident (``moved_verdict`` "unclear"), or when
  the size grid cannot hold a breakpoint at all ("unknown"). ``moved_note`` says which; ``baseline_agreement`` /
  ``variant_agreement`` give each fit's own bootstrap agreement (``BreakpointFit.agreement``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

from ..errors import PmcsuiteError
from ..sizes import format_size
from ..schema import BASELINE
from .breakpoints import (MIB, BreakpointFit, bandwidth_fit, measured_runs, presence, same_breakpoints, same_sizes,
                          _jsonable)

#: runs needed on each side for a bootstrap interval and a verdict (see the module docstring)
MIN_RUNS = 3
TOO_FEW = "too few runs"


@dataclass
class OverheadResult:
    """``cells``: one row per ipc/buffer_size/variant; ``modes``: one row per ipc/variant."""
    cells: pd.DataFrame
    modes: pd.DataFrame
    fits: dict = field(default_factory=dict)   # (ipc, variant) -> BreakpointFit (baseline included)
    tolerance: float = 0.02
    ci: float = 0.95
    min_runs: int = MIN_RUNS

    def summary(self) -> str:
        if self.cells.empty:
            return "overhead: no instrumented pass to compare with the baseline"
        cells = self.cells.copy()
        cells["buffer_size"] = cells["buffer_size"].map(format_size)
        cols = ["ipc", "variant", "buffer_size", "n_base", "n_inst", "base_mib_s", "inst_mib_s",
                "ratio", "ci_low", "ci_high", "p_value", "verdict"]
        text = [f"Overhead (ratio of instrumented to baseline median bandwidth, {self.ci:.0%} bootstrap CI; "
                f"negligible = CI within +-{self.tolerance:.0%}; an interval and a verdict need at least "
                f"{self.min_runs} runs on each side, else '{TOO_FEW}')",
                cells[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"), "",
                "Per IPC mode and pass:", self.modes.to_string(index=False, float_format=lambda v: f"{v:.3g}")]
        return "\n".join(text)

    def to_dict(self) -> dict:
        return {
            "tolerance": self.tolerance, "ci": self.ci, "min_runs": self.min_runs,
            "cells": [{k: _jsonable(v) for k, v in r.items()} for r in self.cells.to_dict("records")],
            "modes": [{k: (_jsonable(v) if not isinstance(v, list) else v) for k, v in r.items()}
                      for r in self.modes.to_dict("records")],
        }

    def for_mode(self, ipc: str) -> pd.DataFrame:
        return self.modes[self.modes["ipc"] == ipc]


def ratio_ci(base: np.ndarray, inst: np.ndarray, *, n_boot: int = 200, ci: float = 0.95,
             rng=None) -> tuple[float, float, float]:
    """Ratio of medians inst/base with a percentile bootstrap interval (independent resampling)."""
    rng = np.random.default_rng(0) if rng is None else rng
    base = np.asarray(base, float)
    inst = np.asarray(inst, float)
    ratio = float(np.median(inst) / np.median(base))
    mb = np.median(base[rng.integers(0, len(base), (n_boot, len(base)))], axis=1)
    mi = np.median(inst[rng.integers(0, len(inst), (n_boot, len(inst)))], axis=1)
    alpha = (1 - ci) / 2
    lo, hi = np.quantile(mi / mb, [alpha, 1 - alpha])
    return ratio, float(lo), float(hi)


def verdict(lo: float, hi: float, tolerance: float = 0.02) -> str:
    """'negligible' | 'slowdown' | 'speedup' | 'inconclusive' for an interval (see module docstring)."""
    if lo >= 1 - tolerance and hi <= 1 + tolerance:
        return "negligible"
    if hi < 1:
        return "slowdown"
    if lo > 1:
        return "speedup"
    return "inconclusive"


def overhead(df: pd.DataFrame, *, n_boot: int = 200, ci: float = 0.95, tolerance: float = 0.02,
             min_runs: int = MIN_RUNS, min_runs_test: int = 9, seed: int = 0, breakpoints: bool = True,
             **fit_kwargs) -> OverheadResult:
    """Overhead of every instrumentation pass against the baseline; see the module docstring."""
    if min_runs < 2:
        raise PmcsuiteError(f"min_runs={min_runs} is too small: a bootstrap interval needs at least 2 runs a side")
    runs = measured_runs(df)
    if BASELINE not in set(runs["variant"]):
        raise PmcsuiteError("no baseline runs: the overhead needs uninstrumented runs (collect without --no-baseline)")
    rng = np.random.default_rng(seed)
    rows = []
    groups = {key: g["bandwidth"].to_numpy(float) / MIB
              for key, g in runs.groupby(["ipc", "buffer_size", "variant"], sort=True)}
    for (ipc, size, variant), inst in groups.items():
        if variant == BASELINE or (ipc, size, BASELINE) not in groups:
            continue
        base = groups[(ipc, size, BASELINE)]
        if min(len(base), len(inst)) >= min_runs:
            ratio, lo, hi = ratio_ci(base, inst, n_boot=n_boot, ci=ci, rng=rng)
            judged = verdict(lo, hi, tolerance)
        else:
            ratio, lo, hi, judged = float(np.median(inst) / np.median(base)), float("nan"), float("nan"), TOO_FEW
        p = float("nan")
        if len(base) >= min_runs_test and len(inst) >= min_runs_test:
            p = float(mannwhitneyu(inst, base, alternative="two-sided").pvalue)
        rows.append({"ipc": ipc, "variant": variant, "buffer_size": int(size), "n_base": len(base),
                     "n_inst": len(inst), "base_mib_s": float(np.median(base)),
                     "inst_mib_s": float(np.median(inst)), "ratio": ratio, "ci_low": lo, "ci_high": hi,
                     "change_pct": (ratio - 1) * 100, "p_value": p,
                     "verdict": judged})
    cells = pd.DataFrame(rows, columns=["ipc", "variant", "buffer_size", "n_base", "n_inst", "base_mib_s",
                                        "inst_mib_s", "ratio", "ci_low", "ci_high", "change_pct", "p_value",
                                        "verdict"])

    fits: dict[tuple[str, str], BreakpointFit] = {}
    modes = []
    for (ipc, variant), g in cells.groupby(["ipc", "variant"], sort=True):
        row = {"ipc": ipc, "variant": variant, "n_sizes": len(g), "median_ratio": float(g["ratio"].median()),
               "min_ratio": float(g["ratio"].min()), "max_ratio": float(g["ratio"].max()),
               "n_negligible": int((g["verdict"] == "negligible").sum()),
               "n_too_few": int((g["verdict"] == TOO_FEW).sum()),
               "baseline_breakpoints": [], "variant_breakpoints": [], "breakpoints_moved": None,
               "baseline_agreement": float("nan"), "variant_agreement": float("nan"),
               "moved_note": "breakpoints not fitted", "moved_verdict": "unknown"}
        if breakpoints:
            try:
                if (ipc, BASELINE) not in fits:
                    fits[(ipc, BASELINE)] = bandwidth_fit(runs, ipc, BASELINE, seed=seed, n_boot=n_boot, **fit_kwargs)
                fits[(ipc, variant)] = bandwidth_fit(runs, ipc, variant, seed=seed, n_boot=n_boot, **fit_kwargs)
            except PmcsuiteError as exc:
                row["moved_note"] = f"breakpoints not fitted: {exc}"
            else:
                fb, fv = fits[(ipc, BASELINE)], fits[(ipc, variant)]
                row.update(baseline_breakpoints=fb.breakpoint_sizes, variant_breakpoints=fv.breakpoint_sizes,
                           baseline_agreement=fb.agreement, variant_agreement=fv.agreement)
                row["breakpoints_moved"], row["moved_note"] = moved(fb, fv)
                row["moved_verdict"] = {True: "moved", False: "not moved"}.get(
                    row["breakpoints_moved"], "unclear" if fb.can_break else "unknown")
        modes.append(row)
    modes_df = pd.DataFrame(modes, columns=["ipc", "variant", "n_sizes", "median_ratio", "min_ratio", "max_ratio",
                                            "n_negligible", "n_too_few", "baseline_breakpoints", "variant_breakpoints",
                                            "breakpoints_moved", "baseline_agreement", "variant_agreement",
                                            "moved_verdict", "moved_note"])
    return OverheadResult(cells=cells, modes=modes_df, fits=fits, tolerance=tolerance, ci=ci, min_runs=min_runs)


def moved(base: BreakpointFit, inst: BreakpointFit) -> tuple[bool | None, str]:
    """(moved, note) for a baseline fit and an instrumented fit; see the module docstring."""
    if not base.can_break:
        return None, (f"{len(base.sizes)} sizes are too few to locate an inflexion point" if len(base.sizes) > 1
                      else "one size cannot show an inflexion point")
    if same_breakpoints(base, inst):
        return False, "same breakpoints"
    step = float(np.median(np.diff(np.log2(base.sizes))))
    confident, doubtful = [], []
    for fit, other_name, other in ((base, "instrumented", inst), (inst, "baseline", base)):
        for bp in fit.breakpoints:
            if any(same_sizes([bp.size], [o], step) for o in other.breakpoint_sizes):
                continue
            there = presence(other, bp.size)
            text = f"the {other_name} fit finds {format_size(bp.size)} in {there:.0%} of its bootstrap resamples"
            (confident if there <= 1 - fit.min_support else doubtful).append(text)
    if confident:
        return True, "; ".join(confident)
    return None, "; ".join(doubtful) or "the fits differ only in breakpoints neither claims"


def _sizes(sizes) -> str:
    return ", ".join(map(format_size, sizes)) or "none"


def describe_mode(row, min_runs: int = MIN_RUNS) -> str:
    """One sentence for a row of ``OverheadResult.modes`` (``min_runs``: ``OverheadResult.min_runs``)."""
    moved_ = row["breakpoints_moved"]
    change = f"{_sizes(row['baseline_breakpoints'])} -> {_sizes(row['variant_breakpoints'])}"
    if moved_ is False:
        where = "the inflexion points did not move"
    elif moved_:
        where = f"the inflexion points moved ({change})"
    elif row.get("moved_verdict") == "unclear":
        where = f"whether the inflexion points moved is unclear ({change}, but {row['moved_note']})"
    else:
        where = f"whether the inflexion points moved is unknown ({row.get('moved_note') or 'not fitted'})"
    lo, hi = row["min_ratio"], row["max_ratio"]
    few, n = int(row.get("n_too_few") or 0), int(row["n_sizes"])
    caveat = ""
    if few:
        at = ("" if n == 1 else " at every size") if few == n else f" at {few} of {n} sizes"
        caveat = (f"; fewer than {min_runs} runs on a side{at}: too few for an interval or a verdict, so the "
                  f"ratio is only indicative")
    return (f"{row['ipc']}: with pass {row['variant']} bandwidth is {row['median_ratio']:.2f}x the baseline "
            + (f"(median over {n} sizes, range {lo:.2f}-{hi:.2f}{caveat}); {where}." if n > 1
               else f"(one size{caveat}); {where}."))
