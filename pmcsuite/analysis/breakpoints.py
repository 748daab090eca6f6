"""Inflexion points of a curve against log2(buffer size): continuous segmented (hinge) regression.

Model, for one curve (bandwidth, or one counter per KiB) of one IPC mode::

    y(x) = b0 + b1 * x + sum_j d_j * max(0, x - c_j),     x = log2(buffer size)

so the slope left of the first breakpoint is ``b1`` and changes by ``d_j`` at ``c_j``: slopes are
in y-units *per doubling* of the buffer size.

Decisions (documented here once, relied upon elsewhere):

- **Fit on medians.** y is the per-size median of the individual non-warm-up ok runs (robust to the
  bimodal runs a VM produces), every size weighted equally (the sizes are a designed grid).
- **Breakpoints lie on observed sizes**, with at least ``min_sizes_per_segment`` (3) sizes in every
  segment, ends included (so two breakpoints are at least two size steps apart). With 15 sizes and
  up to 3 breakpoints there are fewer than a hundred combinations: all are fitted (vectorised least
  squares) and the number of breakpoints (0..3) is chosen by BIC, counting each breakpoint's
  location as a parameter (``n ln(RSS/n) + (2 + 2k) ln n``). The final fit at the chosen
  locations is a statsmodels OLS; its BIC (plus ``k ln n`` for the locations) is what is reported.
- **A breakpoint is claimed** only when (1) its slope change is *material*:
  ``|d_j| >= min_slope_change`` (default: 10 % of the median |y| per doubling on a linear scale,
  0.25 log2-units per doubling on a log scale), and (2) a bootstrap over runs agrees: resampling runs
  with replacement within each size, re-running the whole selection ``n_boot`` times, a breakpoint
  within one size step is found in at least ``min_support`` (80 %) of the resamples.
  Unclaimed candidates are kept in ``BreakpointFit.rejected`` with the reason.
- **Exact fits.** The RSS is floored at 1e-12 of the curve's total sum of squares (the precision of
  the numbers): a curve the model reproduces exactly (e.g. write() calls per KiB = 1024/size, a
  straight line on log2 scales) then ties on fit with every richer model and the penalty picks the
  fewest breakpoints. Such a fit has no finite BIC (ln 0): ``final_bic`` is NaN (null in JSON) and
  ``exact`` is True; nothing is computed from ln(0), so no warning is raised.
- **Agreement** of the whole answer: the share of bootstrap resamples whose BIC-selected, material
  breakpoints are the claimed ones (as many, each within one size step). ``confident`` is
  ``agreement >= min_support``; an answer of "no breakpoint" is tested the same way. Comparisons
  between fits (e.g. did instrumentation move the breakpoints) rely on it.
- **Confidence interval** of a location: percentile interval of the nearest bootstrap breakpoint
  (among those closer to it than to any other claimed breakpoint), reported in bytes.
- **Kind**: ``peak`` (slope + to -), ``trough`` (- to +), ``plateau`` (start of a plateau: the
  slope after is about 0), ``knee`` (same sign, different magnitude, or the end of a plateau).
  "About 0" means below half the materiality threshold.
- ``scale="log"`` fits log2(y) (counters spanning orders of magnitude: slopes are then log2-fold
  changes per doubling); it needs positive values.
"""
from __future__ import annotations

import functools
import itertools
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm

from ..errors import PmcsuiteError
from ..results import measured
from ..sizes import format_size

MIB = float(1 << 20)
REQUIRED = ("ipc", "buffer_size", "total_size", "variant", "ok", "warmup", "bandwidth")


# ----------------------------------------------------------------------------------------------
# Helpers on the result table (shared by overhead.py and explain.py)

def measured_runs(df: pd.DataFrame) -> pd.DataFrame:
    """The rows analysis uses: ``ok & ~warmup``. Raises PmcsuiteError when required columns are missing."""
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise PmcsuiteError(f"result table lacks column(s) {', '.join(missing)}: load it with pmcsuite.load(DIR)")
    out = measured(df)
    if out.empty:
        raise PmcsuiteError("no successful non-warm-up runs in the result table: collect or import some runs first")
    return out


def counter_columns(df: pd.DataFrame) -> list[str]:
    """Counter ids: ``df.attrs['counters']`` if present, else columns that have a ``<id>_status`` twin."""
    attrs = df.attrs.get("counters") if hasattr(df, "attrs") else None
    if attrs:
        return [c for c in attrs if c in df.columns]
    return [c for c in df.columns if not str(c).endswith("_status") and f"{c}_status" in df.columns]


def size_step_label(size: int) -> str:
    """65536 -> '64 KiB', 1048576 -> '1 MiB', 1000 -> '1000 B' (for sentences and axis labels)."""
    text = format_size(int(size))
    return {"K": f"{text[:-1]} KiB", "M": f"{text[:-1]} MiB", "G": f"{text[:-1]} GiB"}.get(text[-1:], f"{text} B")


# ----------------------------------------------------------------------------------------------
# Results

@dataclass
class Breakpoint:
    """One inflexion point. Slopes are y-units per doubling of the buffer size (log2-fold if scale=log)."""
    size: int                 # bytes: the observed size where the slope changes
    ci_low: int               # bytes: bootstrap percentile interval of the location
    ci_high: int
    slope_before: float
    slope_after: float
    kind: str                 # peak | trough | plateau | knee
    delta_slope: float = 0.0  # slope_after - slope_before
    support: float = 0.0      # share of bootstrap resamples with a breakpoint within one size step
    value: float = float("nan")  # fitted curve at the breakpoint, in the curve's own unit
    index: int = 0            # position in BreakpointFit.sizes
    reason: str = ""          # why a candidate was rejected ("" when claimed)

    def to_dict(self) -> dict:
        return {k: _jsonable(v) for k, v in asdict(self).items()}


@dataclass
class BreakpointFit:
    """Segmented fit of one curve; ``breakpoints`` are the claimed ones, ``rejected`` the other candidates."""
    label: str
    unit: str
    scale: str                          # linear | log
    sizes: list[int]
    medians: list[float]                # per-size medians, in the curve's unit (not log)
    n_runs: list[int]
    fitted: list[float]                 # final model at each size, in the curve's unit
    breakpoints: list[Breakpoint] = field(default_factory=list)
    rejected: list[Breakpoint] = field(default_factory=list)
    bic: dict = field(default_factory=dict)       # k -> best BIC with k breakpoints (selection)
    n_selected: int = 0                 # breakpoints chosen by BIC before the materiality/bootstrap tests
    threshold: float = float("nan")     # materiality threshold on |delta slope|
    r_squared: float = float("nan")     # final OLS on medians
    final_bic: float = float("nan")
    n_boot: int = 0
    slope: float = float("nan")         # overall slope when there is no breakpoint (per doubling)
    max_possible: int = 0               # breakpoints the size grid allows (0 with fewer than 5 sizes)
    exact: bool = False                 # the final model reproduces the medians exactly (no finite BIC)
    agreement: float = float("nan")     # share of bootstrap resamples giving the same claimed set
    min_support: float = 0.8
    boot_sets: list = field(default_factory=list, repr=False)  # material breakpoint sizes of each resample

    @property
    def confident(self) -> bool:
        """The claimed set of breakpoints (possibly none) is what most bootstrap resamples find."""
        return self.can_break and math.isfinite(self.agreement) and self.agreement >= self.min_support

    @property
    def can_break(self) -> bool:
        """False when the grid has too few sizes to place any breakpoint."""
        return self.max_possible > 0

    @property
    def breakpoint_sizes(self) -> list[int]:
        return [b.size for b in self.breakpoints]

    def summary(self) -> str:
        """Text table, statsmodels-style."""
        head = (f"{self.label}: segmented fit on log2(size), {len(self.sizes)} sizes, scale={self.scale}, "
                f"unit={self.unit}\nBIC by number of breakpoints: "
                + ", ".join(f"{k}: {v:.1f}" for k, v in sorted(self.bic.items()))
                + f"\nmateriality |delta slope| >= {self.threshold:.4g} per doubling; bootstrap B={self.n_boot}, "
                f"agreement {self.agreement:.2f}; R^2={self.r_squared:.3f}" + (" (exact fit)" if self.exact else ""))
        rows = [dict(status="claimed", **_bp_row(b)) for b in self.breakpoints]
        rows += [dict(status="rejected: " + b.reason, **_bp_row(b)) for b in self.rejected]
        if not rows:
            return head + f"\nno breakpoint (slope {self.slope:.4g} per doubling)"
        return head + "\n" + pd.DataFrame(rows).to_string(index=False)

    def to_dict(self) -> dict:
        return {
            "label": self.label, "unit": self.unit, "scale": self.scale,
            "sizes": [int(s) for s in self.sizes], "medians": [_jsonable(v) for v in self.medians],
            "n_runs": [int(n) for n in self.n_runs], "fitted": [_jsonable(v) for v in self.fitted],
            "breakpoints": [b.to_dict() for b in self.breakpoints],
            "rejected": [b.to_dict() for b in self.rejected],
            "bic": {str(k): _jsonable(v) for k, v in self.bic.items()}, "n_selected": self.n_selected,
            "threshold": _jsonable(self.threshold), "r_squared": _jsonable(self.r_squared),
            "final_bic": _jsonable(self.final_bic), "n_boot": self.n_boot, "slope": _jsonable(self.slope),
            "max_possible": self.max_possible, "exact": bool(self.exact),
            "agreement": _jsonable(self.agreement), "confident": bool(self.confident),
        }


def _bp_row(b: Breakpoint) -> dict:
    return {"size": format_size(b.size), "ci": f"{format_size(b.ci_low)}..{format_size(b.ci_high)}",
            "slope_before": round(b.slope_before, 4), "slope_after": round(b.slope_after, 4),
            "kind": b.kind, "support": round(b.support, 2)}


def _jsonable(v):
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if not math.isfinite(float(v)) else float(v)
    return v


# ----------------------------------------------------------------------------------------------
# Core numerics (pure, vectorised)

def _combinations(n: int, kmax: int, min_seg: int) -> list[tuple[int, ...]]:
    """Breakpoint index tuples with >= min_seg sizes per segment (ends included)."""
    gap = min_seg - 1
    positions = range(gap, n - gap)
    combos: list[tuple[int, ...]] = []
    for k in range(kmax + 1):
        for c in itertools.combinations(positions, k):
            if all(b - a >= gap for a, b in zip(c, c[1:])):
                combos.append(c)
    return combos


def _design(x: np.ndarray, combo: tuple[int, ...]) -> np.ndarray:
    cols = [np.ones_like(x), x] + [np.maximum(0.0, x - x[i]) for i in combo]
    return np.column_stack(cols)


class _Selector:
    """Residual-maker matrices for every breakpoint combination: RSS of many curves at once."""

    def __init__(self, x: np.ndarray, kmax: int, min_seg: int):
        self.x = x
        self.n = len(x)
        self.combos = _combinations(self.n, kmax, min_seg)
        self.k = np.array([len(c) for c in self.combos])
        resid, slopes = [], []
        kmax_found = max(len(c) for c in self.combos)
        for c in self.combos:
            X = _design(x, c)
            pinv = np.linalg.pinv(X)
            resid.append(np.eye(self.n) - X @ pinv)
            pad = np.zeros((kmax_found, self.n))
            pad[: len(c)] = pinv[2:]                         # rows giving the slope changes d_j
            slopes.append(pad)
        self.resid = np.stack(resid)                         # (C, n, n)
        self.delta = np.stack(slopes)                        # (C, kmax, n)

    def bic(self, Y: np.ndarray) -> np.ndarray:
        """BIC (B, C) of each combination for each curve in Y (B, n)."""
        R = np.einsum("cnm,bm->bcn", self.resid, Y)
        rss = np.einsum("bcn,bcn->bc", R, R)
        return _bic(rss, _tss(Y)[:, None], self.n, self.k[None, :])

    def deltas(self, picks: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """(B, kmax) slope changes of combination ``picks[b]`` fitted to curve ``Y[b]`` (0-padded)."""
        return np.einsum("bkn,bn->bk", self.delta[picks], Y) if self.delta.shape[1] else np.zeros((len(Y), 0))


@functools.lru_cache(maxsize=64)
def _selector(x: tuple, kmax: int, min_seg: int) -> "_Selector":
    """One ``_Selector`` per size grid (the matrices depend on the grid only: built once, reused by every curve)."""
    return _Selector(np.array(x, dtype=float), kmax, min_seg)


def _tss(Y: np.ndarray) -> np.ndarray:
    """Total sum of squares, plus 1e-12 of the raw sum of squares so that a constant curve has a scale."""
    centred = Y - Y.mean(axis=-1, keepdims=True)
    return np.einsum("...n,...n->...", centred, centred) + 1e-12 * np.einsum("...n,...n->...", Y, Y)


def _rss_floor(tss):
    """Below this an RSS is round-off: 1e-12 of the total sum of squares (module docstring, "Exact fits")."""
    return np.maximum(1e-12 * np.asarray(tss, dtype=float), 1e-300)


def _bic(rss, tss, n: int, k):
    """``n ln(RSS/n) + (2 + 2k) ln n`` with the RSS floored (an exact fit must not give -inf)."""
    return n * np.log(np.maximum(rss, _rss_floor(tss)) / n) + (2 + 2 * np.asarray(k)) * math.log(n)


def _runs_matrix(sizes: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group individual runs by size: (unique sizes, NaN-padded (n_sizes, max_runs) matrix, counts)."""
    frame = pd.DataFrame({"s": sizes, "y": y}).dropna()
    frame = frame[np.isfinite(frame["y"])]
    groups = [g["y"].to_numpy(float) for _, g in frame.groupby("s", sort=True)]
    usizes = np.array(sorted(frame["s"].unique()), dtype=np.int64)
    m = max((len(g) for g in groups), default=0)
    mat = np.full((len(groups), m), np.nan)
    for i, g in enumerate(groups):
        mat[i, : len(g)] = g
    return usizes, mat, np.array([len(g) for g in groups])


def bootstrap_indices(counts: np.ndarray, n_boot: int, rng) -> np.ndarray:
    """(n_boot, n_sizes, max_runs) run indices drawn with replacement within each size (columns beyond a
    size's own count are -1: not drawn). The same indices applied to two matrices of the same runs give a
    paired bootstrap."""
    counts = np.asarray(counts)
    m = int(counts.max()) if len(counts) else 0
    idx = np.floor(rng.random((n_boot, len(counts), m)) * counts[None, :, None]).astype(np.int64)
    idx[:, np.arange(m)[None, :] >= counts[:, None]] = -1
    return idx


def medians_of(mat: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """(n_boot, n_sizes) medians of ``mat`` (n_sizes, max_runs) resampled with ``bootstrap_indices``."""
    n = mat.shape[0]
    if idx.shape[2] == 0:
        return np.full(idx.shape[:2], np.nan)
    sample = mat[np.arange(n)[None, :, None], np.maximum(idx, 0)]
    sample[idx < 0] = np.nan
    # sort-based median (NaN last): much faster than np.nanmedian on many small rows
    sample.sort(axis=2)
    k = (idx >= 0).sum(axis=2)
    lo = np.take_along_axis(sample, np.maximum((k - 1) // 2, 0)[..., None], axis=2)[..., 0]
    hi = np.take_along_axis(sample, np.maximum(k // 2, 0)[..., None], axis=2)[..., 0]
    out = (lo + hi) / 2
    out[k == 0] = np.nan
    return out


def _bootstrap_medians(mat: np.ndarray, counts: np.ndarray, n_boot: int, rng) -> np.ndarray:
    """(n_boot, n_sizes) medians of runs resampled with replacement within each size."""
    return medians_of(mat, bootstrap_indices(counts, n_boot, rng))


def median_intervals(sizes, values, *, n_boot: int = 1000, ci: float = 0.95, seed: int = 0):
    """Measured medians per size with a percentile bootstrap interval (runs resampled within each size).

    Returns (unique sizes, medians, low, high, counts, boot) where ``boot`` is the (n_boot, n_sizes) array
    of resampled medians (reused for the support of findings built on these cells)."""
    usizes, mat, counts = _runs_matrix(np.asarray(sizes), np.asarray(values, dtype=float))
    med = np.nanmedian(mat, axis=1) if mat.size else np.zeros(0)
    boot = _bootstrap_medians(mat, counts, n_boot, np.random.default_rng(seed))
    alpha = (1 - ci) / 2
    lo, hi = np.quantile(boot, alpha, axis=0), np.quantile(boot, 1 - alpha, axis=0)
    return usizes, med, np.minimum(lo, med), np.maximum(hi, med), counts, boot


def _classify(before: float, after: float, flat: float) -> str:
    if abs(after) < flat and abs(before) >= flat:
        return "plateau"
    if before >= flat and after <= -flat:
        return "peak"
    if before <= -flat and after >= flat:
        return "trough"
    return "knee"


# ----------------------------------------------------------------------------------------------
# Public API

def fit_breakpoints(sizes, values, *, label: str = "", unit: str = "", scale: str = "linear",
                    max_breakpoints: int = 3, min_sizes_per_segment: int = 3,
                    min_slope_change: float | None = None, min_support: float = 0.8,
                    n_boot: int = 200, ci: float = 0.95, seed: int = 0) -> BreakpointFit:
    """Segmented regression of ``values`` (one per run) against log2(``sizes``); see the module docstring.

    ``min_slope_change`` is the materiality threshold on |change of slope| per doubling, in the fitted
    scale's units (default 10 % of the median |y| for ``scale="linear"``, 0.25 for ``scale="log"``).
    """
    if scale not in ("linear", "log"):
        raise PmcsuiteError(f"unknown scale {scale!r}: use 'linear' or 'log'")
    if not 0 <= max_breakpoints <= 3:
        raise PmcsuiteError(f"max_breakpoints={max_breakpoints} is out of range: use 0 to 3")
    sizes = np.asarray(sizes, dtype=np.int64)
    y = np.asarray(values, dtype=float)
    if sizes.shape != y.shape:
        raise PmcsuiteError("sizes and values differ in length: give one value per run")
    if scale == "log":
        if np.any(y[np.isfinite(y)] <= 0):
            raise PmcsuiteError(f"{label or 'curve'} has values <= 0: fit it with scale='linear'")
        y = np.log2(y)
    usizes, mat, counts = _runs_matrix(sizes, y)
    if len(usizes) == 0:
        raise PmcsuiteError(f"{label or 'curve'} has no buffer size with data: measure some runs first")
    if len(usizes) == 1:   # one point: nothing to fit, but a report can still show it
        med = float(np.nanmedian(mat[0]))
        value = float(2.0 ** med) if scale == "log" else med
        return BreakpointFit(label=label, unit=unit, scale=scale, sizes=[int(usizes[0])], medians=[value],
                             n_runs=[int(counts[0])], fitted=[value], min_support=min_support)
    x = np.log2(usizes.astype(float))
    med = np.nanmedian(mat, axis=1)
    if min_slope_change is None:
        level = float(np.median(np.abs(med))) or float(np.max(np.abs(med)))  # mostly-zero curves: use the peak
        min_slope_change = 0.25 if scale == "log" else 0.10 * level
    threshold = float(min_slope_change)

    selector = _selector(tuple(float(v) for v in x), max_breakpoints, min_sizes_per_segment)
    bic0 = selector.bic(med[None, :])[0]
    best = int(np.argmin(bic0))
    chosen = selector.combos[best]
    bic_by_k = {int(k): float(bic0[selector.k == k].min()) for k in np.unique(selector.k)}

    # Slope changes of the BIC-selected combination
    X = _design(x, chosen)
    beta = np.linalg.lstsq(X, med, rcond=None)[0]
    deltas = beta[2:]

    # Bootstrap: rerun the whole selection on resampled medians
    rng = np.random.default_rng(seed)
    supports, cis = [], []
    boot_sets, material_sets = [], []
    if selector.k.max() > 0 and n_boot > 0:
        boot = _bootstrap_medians(mat, counts, n_boot, rng)
        picks = np.argmin(selector.bic(boot), axis=1)
        boot_sets = [selector.combos[p] for p in picks]
        material = np.abs(selector.deltas(picks, boot)) >= threshold
        material_sets = [tuple(i for j, i in enumerate(c) if material[b, j]) for b, c in enumerate(boot_sets)]
    if chosen:
        for j, i in enumerate(chosen):
            others = [c for c in chosen if c != i]
            found, nearest = 0, []
            for bset in boot_sets:
                if not bset:
                    continue
                # bootstrap breakpoints in this breakpoint's territory (closer to it than to the others)
                mine = [b for b in bset if all(abs(b - i) < abs(b - o) for o in others)]
                if not mine:
                    continue
                near = min(mine, key=lambda b: abs(b - i))
                nearest.append(near)
                found += abs(near - i) <= 1
            supports.append(found / n_boot)
            if nearest:
                alpha = (1 - ci) / 2
                lo = int(np.quantile(nearest, alpha, method="lower"))
                hi = int(np.quantile(nearest, 1 - alpha, method="higher"))
                cis.append((min(lo, i), max(hi, i)))
            else:
                cis.append((i, i))

    claimed, rejected_raw = [], []
    for j, i in enumerate(chosen):
        reasons = []
        if abs(deltas[j]) < threshold:
            reasons.append(f"slope change {deltas[j]:.3g} below materiality {threshold:.3g}")
        if supports[j] < min_support:
            reasons.append(f"bootstrap support {supports[j]:.2f} < {min_support}")
        (rejected_raw if reasons else claimed).append((j, i, "; ".join(reasons)))

    # Final fit at the claimed locations (statsmodels OLS); BIC as in the selection (see "Exact fits")
    final_combo = tuple(i for _, i, _ in claimed)
    ols = sm.OLS(med, _design(x, final_combo)).fit()
    params = np.asarray(ols.params)
    slopes = np.cumsum(np.concatenate([[params[1]], params[2:]]))  # slope of each segment
    fitted_y = np.asarray(ols.fittedvalues)
    n = len(x)
    tss = float(_tss(med))
    exact = bool(float(ols.ssr) <= float(_rss_floor(tss)))
    final_bic = (float(_bic(float(ols.ssr), tss, n, len(final_combo)))
                 if n > len(params) and not exact else float("nan"))
    r2 = float(ols.rsquared) if np.ptp(med) > 0 else float("nan")
    agreement = float("nan")
    if material_sets:
        agreement = float(np.mean([len(m) == len(final_combo) and all(abs(a - b) <= 1 for a, b in zip(m, final_combo))
                                   for m in material_sets]))

    def back(v):
        return float(2.0 ** v) if scale == "log" else float(v)

    breakpoints = []
    for pos, (j, i, _) in enumerate(claimed):
        before, after = float(slopes[pos]), float(slopes[pos + 1])
        lo, hi = cis[j]
        breakpoints.append(Breakpoint(
            size=int(usizes[i]), ci_low=int(usizes[lo]), ci_high=int(usizes[hi]),
            slope_before=before, slope_after=after, kind=_classify(before, after, threshold / 2),
            delta_slope=after - before, support=float(supports[j]), value=back(fitted_y[i]), index=int(i)))
    # Rejected candidates: slopes from the BIC-selected fit
    sel_slopes = np.cumsum(np.concatenate([[beta[1]], deltas]))
    rejected = []
    for j, i, reason in rejected_raw:
        before, after = float(sel_slopes[j]), float(sel_slopes[j + 1])
        lo, hi = cis[j]
        rejected.append(Breakpoint(
            size=int(usizes[i]), ci_low=int(usizes[lo]), ci_high=int(usizes[hi]),
            slope_before=before, slope_after=after, kind=_classify(before, after, threshold / 2),
            delta_slope=float(deltas[j]), support=float(supports[j]), value=back(fitted_y[i]),
            index=int(i), reason=reason))

    return BreakpointFit(
        label=label, unit=unit, scale=scale, sizes=[int(s) for s in usizes],
        medians=[back(v) for v in med], n_runs=[int(c) for c in counts],
        fitted=[back(v) for v in fitted_y], breakpoints=breakpoints, rejected=rejected,
        bic=bic_by_k, n_selected=len(chosen), threshold=threshold, r_squared=r2, final_bic=final_bic,
        n_boot=n_boot if boot_sets else 0, slope=float(slopes[0]), max_possible=int(selector.k.max()),
        exact=exact, agreement=agreement, min_support=min_support,
        boot_sets=[tuple(int(usizes[i]) for i in m) for m in material_sets])


def bandwidth_fit(df: pd.DataFrame, ipc: str, variant: str | None = "baseline", **kwargs) -> BreakpointFit:
    """Breakpoints of one IPC mode's bandwidth (MiB/s) for one variant (``None``: all variants pooled)."""
    runs = measured_runs(df)
    sel = runs[runs["ipc"] == ipc]
    if variant is not None:
        sel = sel[sel["variant"] == variant]
    if sel.empty:
        raise PmcsuiteError(f"no measured runs for ipc={ipc!r} variant={variant!r}: check the result directory")
    kwargs.setdefault("label", f"{ipc} bandwidth" + (f" ({variant})" if variant not in (None, "baseline") else ""))
    kwargs.setdefault("unit", "MiB/s")
    return fit_breakpoints(sel["buffer_size"].to_numpy(), sel["bandwidth"].to_numpy(float) / MIB, **kwargs)


def same_sizes(a, b, step: float = 1.0, tolerance: int = 1) -> bool:
    """Two lists of breakpoint sizes (bytes) are the same: as many, pairwise within ``tolerance`` steps
    of ``step`` doublings."""
    if len(a) != len(b):
        return False
    return all(abs(math.log2(p) - math.log2(q)) <= tolerance * step + 1e-9 for p, q in zip(sorted(a), sorted(b)))


def same_breakpoints(a: BreakpointFit, b: BreakpointFit, tolerance: int = 1) -> bool:
    """True when both fits claim as many breakpoints, pairwise within ``tolerance`` size steps."""
    step = float(np.median(np.diff(np.log2(a.sizes)))) if len(a.sizes) > 1 else 1.0
    return same_sizes(a.breakpoint_sizes, b.breakpoint_sizes, step, tolerance)


def presence(fit: BreakpointFit, size: int, tolerance: int = 1) -> float:
    """Share of ``fit``'s bootstrap resamples with a material breakpoint within ``tolerance`` size steps
    of ``size`` (bytes); NaN when the fit has no bootstrap."""
    if not fit.boot_sets:
        return float("nan")
    step = float(np.median(np.diff(np.log2(fit.sizes)))) if len(fit.sizes) > 1 else 1.0
    x = math.log2(size)
    return float(np.mean([any(abs(math.log2(b) - x) <= tolerance * step + 1e-9 for b in bset)
                          for bset in fit.boot_sets]))


#: Alias used by ``pmcsuite.find_breakpoints`` (the package's lazy API table).
find_breakpoints = fit_breakpoints
