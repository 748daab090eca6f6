"""Probe effect: how much each instrumentation pass slows the benchmark down, point by point, with
verdicts whose error rates are controlled across the whole result set.

Per cell (ipc, buffer size, pass): ``ratio`` = median bandwidth of the pass's runs / median bandwidth
of the baseline (uninstrumented) runs of the same ipc and size; ``change_pct`` = (ratio - 1) * 100.

**Interval.** A 95 % percentile bootstrap interval of the ratio, baseline and instrumented runs
resampled independently. The bootstrap is *exact* (``resamples: "exact"``): the distribution of a
resample's median is computed from the multinomial probabilities of the order statistics (it does
not depend on the data, only on the number of runs), so the interval is the limit of infinitely many
resamples, has no Monte Carlo error and does not depend on the seed; its printed digits are stable by
construction (a Monte Carlo bootstrap of 4,000 resamples changed the 3rd significant digit of 55 % of
intervals between two seeds, and of 10 % even at 100,000). It needs at least ``min_runs`` (3) runs a
side: a bootstrap over 2 runs has at most 3 distinct medians per side, far too narrow an interval
(the L41 sample's 2 runs a side gave 0.414-0.455). Below that: interval NaN, verdict ``too few runs``,
the ratio is still reported.

**Difference test** (``p_value``, raw): two-sided Mann-Whitney U (exact distribution when there are no
ties and few runs, else the normal approximation) when both sides have at least ``min_runs_test`` (9)
runs; with fewer (but >= ``min_runs``) an exact permutation test of the difference of the medians of
log bandwidth (every split of the pooled runs enumerated, or 20,000 seeded random splits when there are
more). ``p_corrected``: Holm's step-down correction (``statsmodels.stats.multitest.multipletests``,
``method="holm"``) across every cell of the result set that has a p-value (all modes, sizes, passes).
Holm controls the family-wise error rate: with no real effect anywhere, at most ``alpha`` (5 %) of
result sets have any cell called slowdown or speedup.

**Equivalence test** (``equivalence_p``, raw; ``equivalence_p_corrected``): two one-sided tests (TOST)
against the margin ``margin`` (5 % of the baseline): H0 ratio <= 1 - margin and H0 ratio >= 1 + margin,
each tested with the same test as above (one-sided) after scaling the baseline runs by 1 -/+ margin;
``equivalence_p`` is the larger of the two (intersection-union: no correction needed within a cell).
``equivalence_p_corrected``: Benjamini-Hochberg (``multipletests``, ``method="fdr_bh"``) across the
same cells: among the cells called negligible, the expected share whose true effect exceeds the margin
is at most ``alpha``. Holm here would demand a per-cell p below 0.05/90 from 10 runs a side, and
"negligible" would again be out of reach (21 % of no-effect cells at CV 3 % with Holm, 98 % with BH:
``bench/validation_overhead.py``).

**Verdict**: ``too few runs`` (fewer than ``min_runs`` a side); ``slowdown`` / ``speedup`` when
``p_corrected`` < ``alpha`` AND the interval excludes 1 (below / above); else ``negligible`` when
``equivalence_p_corrected`` < ``alpha`` (the effect is shown to lie within +-margin); else
``inconclusive`` (neither a change nor its absence is established: more runs or less noise needed).
A real change smaller than the margin but significant is a slowdown/speedup with its ``change_pct``.

**Reliability.** A cell is ``unreliable`` when the baseline's or the pass's runs have a coefficient of
variation (sample std / mean of bandwidth) above ``cv_threshold`` (10 %), or when any of its runs
shared the CPU (column ``shared_cpu``, True for a run); ``reasons`` says which ("baseline cv 14% >
10%", "3 of 10 pmc runs shared the CPU"). Other cells are ``reliable``. The verdict is kept; the cell's
sentence (``describe_cell``) and its mode's sentence (``describe_mode``) carry the caveat.

**JSON contract** (``OverheadResult.to_dict()``, ``pmcsuite overhead --json``). Top level:
``correction`` ("holm": the correction of ``p_corrected``), ``equivalence_correction`` ("fdr_bh":
that of ``equivalence_p_corrected``), ``alpha`` (0.05),
``margin`` (0.05, a fraction of the baseline), ``ci`` (0.95), ``resamples`` ("exact"),
``min_runs`` (3), ``min_runs_test`` (9), ``cv_threshold`` (0.10), ``cells``, ``modes``. Each of
``cells``: ``ipc``, ``variant`` (the pass), ``buffer_size`` (bytes), ``ratio``, ``ci_low``,
``ci_high`` (95 % interval, null with too few runs), ``p_value`` (raw), ``p_corrected``,
``equivalence_p`` (raw), ``equivalence_p_corrected``, ``test`` ("mann-whitney" | "permutation" |
null), ``verdict`` (slowdown | speedup | negligible | inconclusive | too few runs), ``change_pct``,
``n_baseline``, ``n_variant``, ``baseline_mib_s``, ``variant_mib_s`` (medians), ``cv_baseline``,
``cv_variant``, ``reliability`` ("reliable" | "unreliable"), ``reasons`` (list of strings, empty when
reliable). Each of ``modes``: ``ipc``, ``variant``, ``n_sizes``, ``median_ratio``, ``min_ratio``,
``max_ratio``, ``n_slowdown``, ``n_speedup``, ``n_negligible``, ``n_inconclusive``, ``n_too_few``,
``n_unreliable``, ``unreliable`` (list of "size: reasons"), ``baseline_breakpoints``,
``variant_breakpoints`` (bytes), ``breakpoints_moved`` (true | false | null), ``baseline_agreement``,
``variant_agreement``, ``moved_verdict``, ``moved_note``. NaN is written as null.

Per IPC mode and pass (``modes``): median, min and max ratio over sizes, the verdict counts, and
whether the instrumentation moved the inflexion points. Breakpoints are fitted on each variant's
bandwidth and compared with the baseline's (``same_breakpoints``: as many, each within one size step).
``breakpoints_moved`` is

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

import itertools
import math
import textwrap
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.stats import binom, mannwhitneyu
from statsmodels.stats.multitest import multipletests

from ..errors import PmcsuiteError
from ..sizes import format_size
from ..schema import BASELINE
from .display import Displayable, Text, size_axis
from .breakpoints import (MIB, BreakpointFit, bandwidth_fit, measured_runs, presence, same_breakpoints, same_sizes,
                          _jsonable)

#: runs needed on each side for a bootstrap interval and a verdict (see the module docstring)
MIN_RUNS = 3
#: runs needed on each side for the Mann-Whitney U test (fewer: permutation test)
MIN_RUNS_TEST = 9
TOO_FEW = "too few runs"
ALPHA = 0.05
MARGIN = 0.05
CV_THRESHOLD = 0.10
CORRECTION = "holm"
EQUIVALENCE_CORRECTION = "fdr_bh"
VERDICTS = ("slowdown", "speedup", "negligible", "inconclusive", TOO_FEW)
#: permutation test: enumerate every split up to this many, else as many seeded random splits
PERMUTATIONS = 20000

CELL_FIELDS = ["ipc", "variant", "buffer_size", "ratio", "ci_low", "ci_high", "p_value", "p_corrected",
               "equivalence_p", "equivalence_p_corrected", "test", "verdict", "change_pct", "n_baseline",
               "n_variant", "baseline_mib_s", "variant_mib_s", "cv_baseline", "cv_variant", "reliability", "reasons"]
MODE_FIELDS = ["ipc", "variant", "n_sizes", "median_ratio", "min_ratio", "max_ratio", "n_slowdown", "n_speedup",
               "n_negligible", "n_inconclusive", "n_too_few", "n_unreliable", "unreliable", "baseline_breakpoints",
               "variant_breakpoints", "breakpoints_moved", "baseline_agreement", "variant_agreement",
               "moved_verdict", "moved_note"]


@dataclass(repr=False)
class OverheadResult(Displayable):
    """``cells``: one row per ipc/buffer_size/variant; ``modes``: one row per ipc/variant (module docstring).
    In a notebook: ``.to_frame()`` (the cells), ``.summary()`` (text), ``.plot()`` (a Figure)."""
    cells: pd.DataFrame
    modes: pd.DataFrame
    fits: dict = field(default_factory=dict)   # (ipc, variant) -> BreakpointFit (baseline included)
    margin: float = MARGIN
    alpha: float = ALPHA
    ci: float = 0.95
    min_runs: int = MIN_RUNS
    min_runs_test: int = MIN_RUNS_TEST
    cv_threshold: float = CV_THRESHOLD
    correction: str = CORRECTION
    equivalence_correction: str = EQUIVALENCE_CORRECTION
    resamples: str = "exact"

    def method(self) -> str:
        """One paragraph saying how the verdicts are reached (for the summary and the report)."""
        return (f"ratio of instrumented to baseline median bandwidth, {self.ci:.0%} exact bootstrap interval; "
                f"p-values from Mann-Whitney U (>= {self.min_runs_test} runs a side) or a permutation test, "
                f"corrected across all {self.n_tested} cells tested with {self.correction.capitalize()} "
                f"(family-wise error {self.alpha:.0%}); slowdown/speedup: corrected p < {self.alpha:g} and the "
                f"interval excludes 1; negligible: equivalence within +-{self.margin:.0%} of the baseline shown by "
                f"two one-sided tests (Benjamini-Hochberg corrected p < {self.alpha:g}); otherwise inconclusive; an "
                f"interval and a verdict need at least {self.min_runs} runs on each side, else '{TOO_FEW}'; "
                f"unreliable: cv > {self.cv_threshold:.0%} on a side or runs that shared the CPU")

    @property
    def n_tested(self) -> int:
        return int(self.cells["p_value"].notna().sum()) if not self.cells.empty else 0

    def to_frame(self) -> pd.DataFrame:
        """One row per IPC mode, buffer size and pass: ratio, interval, p-values, verdict, reliability."""
        return self.cells.copy()

    def plot(self):
        """The probe effect as a matplotlib Figure: ratio vs buffer size per pass and IPC mode, with
        the 95 % interval as a band and a line at 1.0."""
        from matplotlib.figure import Figure
        fig = Figure(figsize=(8, 4.5), layout="constrained")
        ax = fig.add_subplot()
        ax.axhline(1.0, color="black", linewidth=0.8)
        for (ipc, variant), g in self.cells.groupby(["ipc", "variant"], sort=True):
            g = g.sort_values("buffer_size")
            line, = ax.plot(g["buffer_size"], g["ratio"], marker="o", markersize=3, label=f"{ipc}, {variant}")
            ax.fill_between(g["buffer_size"], g["ci_low"], g["ci_high"], color=line.get_color(), alpha=0.2)
        size_axis(ax)
        ax.set_ylabel("bandwidth with counters / without")
        if not self.cells.empty:
            ax.legend(fontsize=7)
        return fig

    def summary(self) -> str:
        return Text(self._summary())

    def _summary(self) -> str:
        if self.cells.empty:
            return "overhead: no instrumented pass to compare with the baseline"
        cells = self.cells.copy()
        num = lambda v, f: "n/a" if v != v else format(v, f)          # noqa: E731 - NaN -> n/a
        shown = pd.DataFrame({
            "ipc": cells["ipc"], "pass": cells["variant"], "size": cells["buffer_size"].map(format_size),
            "runs": [f"{a}/{b}" for a, b in zip(cells["n_baseline"], cells["n_variant"])],
            "MiB/s base": cells["baseline_mib_s"].map(lambda v: num(v, ",.0f")),
            "MiB/s pass": cells["variant_mib_s"].map(lambda v: num(v, ",.0f")),
            "ratio": cells["ratio"].map(lambda v: num(v, ".3f")),
            "95% interval": [format_interval(lo, hi) for lo, hi in zip(cells["ci_low"], cells["ci_high"])],
            "p (Holm)": cells["p_corrected"].map(lambda v: num(v, ".2g")),
            "verdict": cells["verdict"],
            "": ["unreliable" if r == "unreliable" else "" for r in cells["reliability"]]})
        text = [textwrap.fill(f"Overhead: {self.method()}.", 100), "", shown.to_string(index=False), "",
                "Per IPC mode and pass:"]
        text += [textwrap.fill(f"- {describe_mode(r, self.min_runs)}", 100, subsequent_indent="  ")
                 for r in self.modes.to_dict("records")]
        bad = self.cells[self.cells["reliability"] == "unreliable"]
        if not bad.empty:
            text += ["", "Unreliable cells:"] + [textwrap.fill(f"- {describe_cell(r)}", 100, subsequent_indent="  ")
                                                  for r in bad.to_dict("records")]
        return "\n".join(text)

    def to_dict(self) -> dict:
        cells = [{k: (list(r[k]) if k == "reasons" else _jsonable(r[k])) for k in CELL_FIELDS}
                 for r in self.cells.to_dict("records")]
        return {
            "correction": self.correction, "equivalence_correction": self.equivalence_correction,
            "alpha": self.alpha, "margin": self.margin, "ci": self.ci,
            "resamples": self.resamples, "min_runs": self.min_runs, "min_runs_test": self.min_runs_test,
            "cv_threshold": self.cv_threshold, "cells": cells,
            "modes": [{k: (_jsonable(v) if not isinstance(v, list) else v) for k, v in r.items()}
                      for r in self.modes.to_dict("records")],
        }

    def for_mode(self, ipc: str) -> pd.DataFrame:
        return self.modes[self.modes["ipc"] == ipc]


def format_interval(lo: float, hi: float) -> str:
    """The printed interval: 3 decimals ('0.951-1.012'), '—' when there is none."""
    return f"{lo:.3f}-{hi:.3f}" if math.isfinite(lo) and math.isfinite(hi) else "—"


# ----------------------------------------------------------------------------------------------
# Exact bootstrap of a ratio of medians

@lru_cache(maxsize=256)
def median_table(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, p): a bootstrap resample of n sorted values x has median (x[a] + x[b]) / 2 with probability p.

    Exact: the resample's order statistics are order statistics of n uniform draws of indices 0..n-1.
    For odd n, a == b is the middle order statistic k = (n+1)/2; P(M_k <= a) = P(Bin(n, (a+1)/n) >= k).
    For even n, (a, b) are order statistics k = n/2 and k+1; for a < b,
    H(a, c) = P(M_k <= a, M_{k+1} > c) = C(n, k) F(a)^k (1 - F(c))^(n-k) and
    P(a, b) = H(a, b-1) - H(a-1, b-1) - H(a, b) + H(a-1, b); a == b takes the rest of P(M_k = a).
    Pairs with probability below 1e-15 are dropped (their total is negligible)."""
    F = np.arange(1, n + 1) / n
    k = (n + 1) // 2 if n % 2 else n // 2
    marginal = np.diff(np.concatenate([[0.0], binom.sf(k - 1, n, F)]))
    if n % 2:
        a = b = np.arange(n)
        p = marginal
    else:
        Fm = np.concatenate([[0.0], F])             # Fm[a + 1] = F(a), F(-1) = 0

        def H(a_, c_):
            return math.comb(n, k) * Fm[a_ + 1] ** k * (1 - Fm[c_ + 1]) ** (n - k)
        A, B = np.triu_indices(n, 1)
        off = H(A, B - 1) - H(A - 1, B - 1) - H(A, B) + H(A - 1, B)
        diag = marginal - np.bincount(A, off, minlength=n)
        a, b = np.concatenate([A, np.arange(n)]), np.concatenate([B, np.arange(n)])
        p = np.concatenate([off, diag])
    keep = p > 1e-15
    p = p[keep] / p[keep].sum()
    return a[keep], b[keep], p


def median_atoms(x) -> tuple[np.ndarray, np.ndarray]:
    """(values, probabilities) of the exact bootstrap distribution of the median of ``x``."""
    x = np.sort(np.asarray(x, float))
    a, b, p = median_table(len(x))
    return (x[a] + x[b]) / 2, p


def _quantiles(values: np.ndarray, weights: np.ndarray, qs) -> list[float]:
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    cum /= cum[-1]
    idx = np.minimum(np.searchsorted(cum, np.asarray(qs) - 1e-12, side="left"), len(cum) - 1)
    return [float(v) for v in values[order][idx]]


def _ratio_quantiles(vi, wi, vb, wb, qs) -> list[float]:
    """Quantiles of I/B for independent discrete I (vi, wi) and B (vb, wb), all values > 0."""
    if len(vi) * len(vb) <= 400_000:
        return _quantiles((vi[:, None] / vb[None, :]).ravel(), (wi[:, None] * wb[None, :]).ravel(), qs)
    order = np.argsort(vi)
    vi, ci_ = vi[order], np.cumsum(wi[order])

    def cdf(t):                                     # P(I / B <= t)
        j = np.searchsorted(vi, t * vb, side="right")
        return float(np.sum(wb * np.where(j > 0, ci_[np.maximum(j - 1, 0)], 0.0)))
    out = []
    for q in qs:
        lo, hi = float(vi.min() / vb.max()), float(vi.max() / vb.min())
        for _ in range(80):
            mid = math.sqrt(lo * hi)
            lo, hi = (lo, mid) if cdf(mid) >= q - 1e-12 else (mid, hi)
        out.append(hi)
    return out


def ratio_ci(base, inst, *, ci: float = 0.95, n_boot=None, rng=None) -> tuple[float, float, float]:
    """Ratio of medians inst/base with an exact percentile bootstrap interval (independent resampling).

    ``n_boot``: None (exact, the default), or a number of Monte Carlo resamples drawn with ``rng``
    (vectorised; only for comparisons: its interval depends on the seed)."""
    base = np.asarray(base, float)
    inst = np.asarray(inst, float)
    ratio = float(np.median(inst) / np.median(base))
    alpha = (1 - ci) / 2
    if n_boot is None:
        vi, wi = median_atoms(inst)
        vb, wb = median_atoms(base)
        lo, hi = _ratio_quantiles(vi, wi, vb, wb, [alpha, 1 - alpha])
        return ratio, lo, hi
    rng = np.random.default_rng(0) if rng is None else rng
    mb = np.median(base[rng.integers(0, len(base), (n_boot, len(base)))], axis=1)
    mi = np.median(inst[rng.integers(0, len(inst), (n_boot, len(inst)))], axis=1)
    lo, hi = np.quantile(mi / mb, [alpha, 1 - alpha])
    return ratio, float(lo), float(hi)


# ----------------------------------------------------------------------------------------------
# Tests

@lru_cache(maxsize=64)
def _splits(n: int, k: int, limit: int, seed: int) -> np.ndarray:
    """Index sets of size k out of n: every one (the observed split first) or ``limit`` random ones."""
    if math.comb(n, k) <= limit:
        return np.array(list(itertools.combinations(range(n), k)), dtype=np.intp)
    rng = np.random.default_rng(seed)
    perms = np.argsort(rng.random((limit, n)), axis=1)[:, :k]
    return np.vstack([np.arange(n - k, n)[None, :], perms])


def permutation_p(base, inst, alternative: str = "two-sided", *, limit: int = PERMUTATIONS, seed: int = 0) -> float:
    """Permutation test of T = median(log inst) - median(log base): the share of splits of the pooled
    runs whose T is at least as extreme as the observed one (exact enumeration when there are at most
    ``limit`` splits, else ``limit`` seeded random splits plus the observed one)."""
    x = np.log(np.asarray(base, float))
    y = np.log(np.asarray(inst, float))
    pooled = np.concatenate([x, y])
    n, k = len(pooled), len(y)
    sel = _splits(n, k, limit, seed)
    mask = np.zeros((len(sel), n), bool)
    np.put_along_axis(mask, sel, True, axis=1)
    srt = np.sort(np.broadcast_to(pooled, mask.shape)[mask].reshape(len(sel), k), axis=1)
    rest = np.sort(np.broadcast_to(pooled, mask.shape)[~mask].reshape(len(sel), n - k), axis=1)
    t = np.median(srt, axis=1) - np.median(rest, axis=1)
    obs = float(np.median(y) - np.median(x))
    eps = 1e-12 * max(1.0, abs(obs))
    if alternative == "greater":
        hits = t >= obs - eps
    elif alternative == "less":
        hits = t <= obs + eps
    else:
        hits = np.abs(t) >= abs(obs) - eps
    return float(hits.mean())


@lru_cache(maxsize=256)
def _u_cdf(m: int, n: int) -> np.ndarray:
    """CDF of the Mann-Whitney U statistic (no ties) for samples of m and n: cdf[u] = P(U <= u)."""
    # f[i][j] = counts of U values for i and j values; f(i, j, u) = f(i-1, j, u-j) + f(i, j-1, u)
    prev = [np.ones(1)] + [None] * n                     # i = 0: U = 0 for every j
    for j in range(1, n + 1):
        prev[j] = np.ones(1)
    for i in range(1, m + 1):
        cur = [np.ones(1)]                               # j = 0
        for j in range(1, n + 1):
            a = np.concatenate([np.zeros(j), prev[j]])   # shift by j
            b = cur[j - 1]
            size = i * j + 1
            out = np.zeros(size)
            out[:len(a)] += a[:size]
            out[:len(b)] += b
            cur.append(out)
        prev = cur
    counts = prev[n]
    return np.cumsum(counts) / counts.sum()


def _mwu_p(base, inst, alternative: str) -> float:
    """Mann-Whitney U p-value of inst against base: the exact null distribution (cached per pair of
    sizes) when there are no ties and at most 2,500 pairs, else scipy's normal approximation."""
    pooled = np.concatenate([base, inst])
    m, n = len(inst), len(base)
    if len(np.unique(pooled)) == len(pooled) and m * n <= 2500:
        u = int(np.sum(inst[:, None] > base[None, :]))   # U of inst
        cdf = _u_cdf(m, n)
        greater = 1.0 - (cdf[u - 1] if u > 0 else 0.0)   # P(U >= u)
        less = float(cdf[u])                              # P(U <= u)
        if alternative == "greater":
            return float(greater)
        if alternative == "less":
            return less
        hi = max(u, m * n - u)
        return float(min(1.0, 2 * (1.0 - cdf[hi - 1]))) if hi > 0 else 1.0
    return float(mannwhitneyu(inst, base, alternative=alternative, method="asymptotic").pvalue)


def cell_tests(base, inst, *, margin: float = MARGIN, min_runs_test: int = MIN_RUNS_TEST,
               seed: int = 0) -> tuple[float, float, str]:
    """(p_value, equivalence_p, test) for one cell: the two-sided difference test and the TOST p-value
    (the larger of the one-sided p-values against ratio 1 - margin and 1 + margin)."""
    base = np.asarray(base, float)
    inst = np.asarray(inst, float)
    if min(len(base), len(inst)) >= min_runs_test:
        test = "mann-whitney"
        p = _mwu_p(base, inst, "two-sided")
        lower = _mwu_p(base * (1 - margin), inst, "greater")
        upper = _mwu_p(base * (1 + margin), inst, "less")
    else:
        test = "permutation"
        p = permutation_p(base, inst, seed=seed)
        lower = permutation_p(base * (1 - margin), inst, "greater", seed=seed)
        upper = permutation_p(base * (1 + margin), inst, "less", seed=seed)
    return p, max(lower, upper), test


def correct(pvalues, method: str = CORRECTION, alpha: float = ALPHA) -> np.ndarray:
    """Corrected p-values (``statsmodels.stats.multitest.multipletests``); NaN stays NaN, not counted."""
    p = np.asarray(pvalues, float)
    out = np.full(len(p), np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], alpha=alpha, method=method)[1]
    return out


def cell_verdict(lo: float, hi: float, p_corrected: float, eq_corrected: float, alpha: float = ALPHA) -> str:
    """The verdict of one cell (module docstring); NaN interval: too few runs."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return TOO_FEW
    if p_corrected < alpha and (hi < 1 or lo > 1):
        return "slowdown" if hi < 1 else "speedup"
    if eq_corrected < alpha:
        return "negligible"
    return "inconclusive"


def verdict(lo: float, hi: float, tolerance: float = MARGIN) -> str:
    """Interval-only reading (no test, no correction): 'negligible' when the interval lies within
    +-tolerance, 'slowdown'/'speedup' when it excludes 1, else 'inconclusive'. ``overhead`` uses
    ``cell_verdict``; this is kept for quick looks at a single interval."""
    if lo >= 1 - tolerance and hi <= 1 + tolerance:
        return "negligible"
    if hi < 1:
        return "slowdown"
    if lo > 1:
        return "speedup"
    return "inconclusive"


def reliability(base, inst, base_shared=None, inst_shared=None, *, variant: str = "instrumented",
                cv_threshold: float = CV_THRESHOLD) -> tuple[str, list[str], float, float]:
    """(reliability, reasons, cv_baseline, cv_variant) of one cell (module docstring)."""
    reasons = []
    cvs = []
    for name, x, shared in (("baseline", base, base_shared), (variant, inst, inst_shared)):
        x = np.asarray(x, float)
        cv = float(np.std(x, ddof=1) / np.mean(x)) if len(x) > 1 else float("nan")
        cvs.append(cv)
        if cv > cv_threshold:
            reasons.append(f"{name} cv {cv:.0%} > {cv_threshold:.0%}")
        n_shared = int(np.sum(shared)) if shared is not None else 0
        if n_shared:
            reasons.append(f"{n_shared} of {len(x)} {name} runs shared the CPU")
    return ("unreliable" if reasons else "reliable"), reasons, cvs[0], cvs[1]


# ----------------------------------------------------------------------------------------------

def overhead(df: pd.DataFrame, *, n_boot: int = 200, ci: float = 0.95, margin: float = MARGIN, alpha: float = ALPHA,
             cv_threshold: float = CV_THRESHOLD, min_runs: int = MIN_RUNS, min_runs_test: int = MIN_RUNS_TEST,
             seed: int = 0, breakpoints: bool = True,
             **fit_kwargs) -> OverheadResult:
    """Overhead of every instrumentation pass against the baseline; see the module docstring.

    ``n_boot``: bootstrap resamples of the breakpoint fits only (the ratio interval is exact)."""
    if min_runs < 2:
        raise PmcsuiteError(f"min_runs={min_runs} is too small: a bootstrap interval needs at least 2 runs a side")
    runs = measured_runs(df)
    if BASELINE not in set(runs["variant"]):
        raise PmcsuiteError("no baseline runs: the overhead needs uninstrumented runs (collect without --no-baseline)")
    shared_col = (runs["shared_cpu"].astype("boolean").fillna(False).astype(bool) if "shared_cpu" in runs.columns
                  else pd.Series(False, index=runs.index))
    keys = ["ipc", "buffer_size", "variant"]
    bw = (runs["bandwidth"].to_numpy(float) / MIB)
    groups = {}
    for key, idx in runs.groupby(keys, sort=True).indices.items():
        groups[key] = (bw[idx], shared_col.to_numpy()[idx])
    rows = []
    for (ipc, size, variant), (inst, inst_sh) in groups.items():
        if variant == BASELINE or (ipc, size, BASELINE) not in groups:
            continue
        base, base_sh = groups[(ipc, size, BASELINE)]
        p = eq = float("nan")
        test = None
        if min(len(base), len(inst)) >= min_runs:
            ratio, lo, hi = ratio_ci(base, inst, ci=ci)
            p, eq, test = cell_tests(base, inst, margin=margin, min_runs_test=min_runs_test, seed=seed)
        else:
            ratio, lo, hi = float(np.median(inst) / np.median(base)), float("nan"), float("nan")
        rel, reasons, cv_b, cv_v = reliability(base, inst, base_sh, inst_sh, variant=variant,
                                               cv_threshold=cv_threshold)
        rows.append({"ipc": ipc, "variant": variant, "buffer_size": int(size), "ratio": ratio, "ci_low": lo,
                     "ci_high": hi, "p_value": p, "equivalence_p": eq, "test": test,
                     "change_pct": (ratio - 1) * 100, "n_baseline": len(base), "n_variant": len(inst),
                     "baseline_mib_s": float(np.median(base)), "variant_mib_s": float(np.median(inst)),
                     "cv_baseline": cv_b, "cv_variant": cv_v, "reliability": rel, "reasons": reasons})
    cells = pd.DataFrame(rows, columns=[c for c in CELL_FIELDS if c not in ("p_corrected", "equivalence_p_corrected",
                                                                             "verdict")])
    cells["p_corrected"] = correct(cells["p_value"], CORRECTION, alpha)
    cells["equivalence_p_corrected"] = correct(cells["equivalence_p"], EQUIVALENCE_CORRECTION, alpha)
    cells["verdict"] = [cell_verdict(lo, hi, pc, ec, alpha) for lo, hi, pc, ec in
                        zip(cells["ci_low"], cells["ci_high"], cells["p_corrected"], cells["equivalence_p_corrected"])]
    cells = cells[CELL_FIELDS]

    fits: dict[tuple[str, str], BreakpointFit] = {}
    modes = []
    for (ipc, variant), g in cells.groupby(["ipc", "variant"], sort=True):
        bad = g[g["reliability"] == "unreliable"]
        row = {"ipc": ipc, "variant": variant, "n_sizes": len(g), "median_ratio": float(g["ratio"].median()),
               "min_ratio": float(g["ratio"].min()), "max_ratio": float(g["ratio"].max()),
               **{f"n_{v if v != TOO_FEW else 'too_few'}": int((g["verdict"] == v).sum()) for v in VERDICTS},
               "n_unreliable": len(bad),
               "unreliable": [f"{format_size(s)}: {'; '.join(r)}" for s, r in zip(bad["buffer_size"], bad["reasons"])],
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
    modes_df = pd.DataFrame(modes, columns=MODE_FIELDS)
    return OverheadResult(cells=cells, modes=modes_df, fits=fits, margin=margin, alpha=alpha, ci=ci,
                          min_runs=min_runs, min_runs_test=min_runs_test, cv_threshold=cv_threshold)


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




def _sizes(sizes) -> str:
    return ", ".join(map(format_size, sizes)) or "none"


def describe_cell(row) -> str:
    """One sentence for a row of ``OverheadResult.cells``, with its reliability caveat."""
    head = f"{row['ipc']} {format_size(row['buffer_size'])}, pass {row['variant']}: {row['ratio']:.3g}x the baseline"
    lo, hi = row["ci_low"], row["ci_high"]
    if row["verdict"] == TOO_FEW:
        text = f"{head}; {TOO_FEW} for an interval or a verdict"
    else:
        text = (f"{head} ({format_interval(lo, hi)}), {row['verdict']} "
                f"(corrected p {row['p_corrected']:.2g}, equivalence p {row['equivalence_p_corrected']:.2g})")
    if row.get("reliability") == "unreliable":
        text += f"; unreliable: {'; '.join(row['reasons'])}"
    return text + "."


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
    counts = [f"{int(row.get(f'n_{v}') or 0)} {v}" for v in ("slowdown", "speedup", "negligible", "inconclusive")
              if row.get(f"n_{v}")]
    tally = f"; verdicts: {', '.join(counts)}" if counts else ""
    bad = int(row.get("n_unreliable") or 0)
    unreliable = ""
    if bad:
        at = ("" if n == 1 else " at every size") if bad == n else f" at {bad} of {n} sizes"
        unreliable = f"; unreliable{at} ({', '.join(row.get('unreliable') or [])})"
    return (f"{row['ipc']}: with pass {row['variant']} bandwidth is {row['median_ratio']:.2f}x the baseline "
            + (f"(median over {n} sizes, range {lo:.2f}-{hi:.2f}{caveat}){tally}{unreliable}; {where}." if n > 1
               else f"(one size{caveat}){tally}{unreliable}; {where}."))
