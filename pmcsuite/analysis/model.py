"""The per-call model of a bandwidth curve, and where the measured curve leaves it.

**Model.** A ``write()`` of n bytes costs a fixed time per call plus a time per byte,
t(n) = t0 + n / r_inf (Hockney), so bandwidth(n) = n / (t0 + n / r_inf) = r_inf / (1 + n_half / n): it
rises with n towards ``r_inf`` (bytes/s) and reaches half of it at ``n_half`` = t0 x r_inf. Real curves
often rise more gently (h < 1) or more steeply (h > 1) than one fixed cost explains, so the model
fitted is bandwidth(n) = r_inf / (1 + (n_half / n)^h), with ``h`` reported: h = 1 (within its interval)
is the per-call model exactly, t0 = n_half / r_inf its fixed time per call. Anything else the curve
does (the pipe stalling once a write exceeds its 64 KiB capacity, a cache overflowing) is a
*departure* from this model, and that is what an inflexion point means here.

**Points.** Each size's level is the inference core's (``inference.process_medians`` then
``inference.levels``: trimmed mean over benchmark processes of each process's median log bandwidth).
With the default 3 processes a point's own standard error has 2 degrees of freedom, too few to test
anything at a family level, so the process spread is **pooled** over the curve's sizes (the processes
of one mode vary alike): each point's standard error is the larger of its own and the pooled one
(never narrower than its own evidence), with the pooled degrees of freedom. The 95 % intervals the
figures draw are ``inference.point_table``'s (own spread only); the intervals of departures are these.

**Fit.** Weighted least squares of log bandwidth (weights 1 / se^2), started from the per-call fit of
time per call (linear in t0 and 1/r_inf). It uses the **longest prefix of sizes the model explains**,
grown forward so that a later regime cannot bend it: start with the ``MIN_FIT`` (4) smallest sizes and
add the next size while its level lies inside the ``EXTEND`` (99 %) interval of the current fit's
prediction for it (a stricter level than 95 % stops a curve that follows the model early less often).
When h's interval holds 1 the final fit fixes h = 1: the per-call model itself. Every residual
log(measured / model) is a linear contrast of point levels (the fit linearised at its solution), so
``inference.contrast`` gives it a process-clustered standard error (points run by the same process
share its effect) that includes the fit's own uncertainty. The intervals of t0,
r_inf, n_half and h (95 %) are contrasts too: the fit's linearised covariance with process-clustered
point variances.

**Departures.** A size beyond the fitted prefix *departs* when the interval of measured / model at
the curve's family level (``family_level(ALPHA, sizes - MIN_FIT)``, Bonferroni over every size that
could be tested) excludes 1: below the model (the curve levels off or falls) or above it (rises).
Consecutive departing sizes of one direction form a region (sizes between them that are not clearly
off stay in it; an opposite departure ends it). Each region has ``by`` = measured / model - 1 at its
largest departure, with that interval, and ``size_interval`` = [the last size before it whose 95 %
interval still contains the model, its first clearly departing size]: the location as the data
give it, never widened to fit an estimate.

**Located inflexion point.** Only the first region can be located, and only when the departure starts
abruptly: its first departing size is the first size after the fitted prefix, and the change of
measured / model from the last fitted size to it is itself clear and material (its interval at the
family level lies beyond ``JUMP``, inference's 5 % "negligible" margin, in the region's direction).
Then ``located`` is True, ``size_interval`` is those two adjacent sizes, and the kind is ``rise``
(above), ``fall`` (below, and the level somewhere in the region is clearly below the level at the last
fitted size, 95 %) or ``level-off`` (below otherwise).
Any other departure is *gradual* (kind ``departure``): the curve leaves the model over several sizes,
with no single size to name. Smooth curves (the per-call model, a log-saturating curve, a logistic in
log size) then give a located point in a few % of draws at most at realistic process noise
(``bench/validation_findings.py`` measures it); the price is that a gentle knee in noisy data is
reported as a gradual departure, or not at all.

If the model cannot explain even the ``MIN_FIT`` smallest sizes (each within its interval at the
family level of those sizes), no departure is claimed and its parameters are NaN (``describes`` is
False): there is no regime to leave. With ``MIN_FIT`` sizes or fewer there is no model (None).

Measured (``bench/validation_findings.py``, 40 draws a condition; 13 runs in 3 processes a point, 15
sizes, process CV 3-10 %): a located point on a smooth curve in 0.6-1.2 % of curves, a departure on the
per-call model in 2.5-7.5 %; the 95 % intervals of t0, r_inf and n_half hold the truth in 80-95 % of
per-call curves (linearised intervals, a little narrow: read them as approximate).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import least_squares

from ..schema import ALPHA, FLAT_TOLERANCE, KIB, LEVEL, MIB, jsonable  # ALPHA: of one curve's departures
from . import inference as inf
from .runs import size_step_label

MIN_FIT = 4           # sizes the model is first fitted on
EXTEND = 0.99         # the fit grows while the next size is inside its prediction interval at this level
JUMP = inf.MARGIN     # a located departure changes measured / model by clearly more than this in one size step
INFLEXION_KINDS = ("level-off", "fall", "rise")
NAN = float("nan")


@dataclass
class Departure:
    """One region where the measured bandwidth leaves the model (sizes in bytes)."""
    from_size: int                  # first size clearly off the model
    to_size: int                    # last size clearly off the model in this region
    size_interval: tuple            # (last size still consistent, first size clearly not)
    by: float                       # measured / model - 1 at the largest departure
    by_interval: tuple              # its interval (family level), as measured / model - 1
    at_size: int                    # where the largest departure is
    direction: str                  # "below" | "above"
    located: bool                   # an abrupt start: a located inflexion point
    kind: str                       # "level-off" | "fall" | "rise" | "departure" (gradual)
    sizes: list = field(default_factory=list)   # the sizes clearly off the model

    def to_dict(self) -> dict:
        return {"from_size": int(self.from_size), "to_size": int(self.to_size),
                "size_interval": [int(v) for v in self.size_interval], "by": jsonable(self.by),
                "by_interval": jsonable(self.by_interval), "at_size": int(self.at_size),
                "direction": self.direction, "located": bool(self.located), "kind": self.kind,
                "sizes": [int(s) for s in self.sizes]}


@dataclass
class PerCallModel:
    """The model fitted to one curve, what it predicts per size, and the departures from it. Each
    parameter is (estimate, low, high), 95 %."""
    sizes: list                     # every size of the curve (bytes)
    fit_sizes: list                 # the prefix the model is fitted on
    t0_ns: tuple                    # n_half / r_inf: the fixed time per call when h = 1, ns
    r_inf: tuple                    # the limit of bandwidth, bytes/s
    n_half: tuple                   # the size reaching half of r_inf, bytes
    h: tuple                        # the steepness: 1 = a fixed cost per call plus a cost per byte
    table: pd.DataFrame             # per size: buffer_size, measured, model, ratio, ratio_low, ratio_high, status
    level: float                    # the family level of the departure intervals
    departures: list = field(default_factory=list)
    pooled_cv: float = NAN          # pooled spread of one process's level (log scale)
    pooled_df: float = NAN
    note: str = ""                  # why no departure can be claimed ("" when they can)

    @property
    def located(self) -> list:
        return [d for d in self.departures if d.located]

    @property
    def describes(self) -> bool:
        """The model describes the curve's smallest sizes (False: no parameters, nothing to compare with)."""
        return math.isfinite(self.r_inf[0])

    @property
    def per_call(self) -> bool:
        """The fitted steepness is consistent with one fixed cost per call (h's interval holds 1)."""
        return bool(self.h[1] <= 1 <= self.h[2])

    def predict(self, sizes) -> np.ndarray:
        """Model bandwidth (bytes/s) at ``sizes`` (bytes)."""
        n = np.asarray(sizes, dtype=float)
        return self.r_inf[0] / (1 + (self.n_half[0] / n) ** self.h[0])

    def to_dict(self) -> dict:
        return jsonable({"t0_ns": self.t0_ns, "r_inf": self.r_inf, "n_half": self.n_half, "h": self.h,
                         "per_call": self.per_call, "describes": self.describes, "fit_sizes": self.fit_sizes,
                         "level": self.level, "pooled_cv": self.pooled_cv, "pooled_df": self.pooled_df,
                         "note": self.note, "sizes": self.table.to_dict("records"),
                         "departures": [d.to_dict() for d in self.departures]})

    def summary(self) -> str:
        def rng(v, scale=1.0, unit=""):
            est, lo, hi = v
            ci = f" ({lo / scale:,.3g}-{hi / scale:,.3g})" if math.isfinite(lo) and math.isfinite(hi) else ""
            return f"{est / scale:,.4g}{unit}{ci}"
        if not self.describes:
            return self.note
        head = (f"model on {size_step_label(self.fit_sizes[0])}-{size_step_label(self.fit_sizes[-1])}: "
                f"r_inf {rng(self.r_inf, MIB, ' MiB/s')}, n_1/2 {rng(self.n_half, KIB, ' KiB')}, "
                f"h {rng(self.h)}" + (f", t0 {rng(self.t0_ns, 1, ' ns')}" if self.per_call else
                                      " (not one fixed cost per call)"))
        lines = [head] + ([self.note] if self.note else [])
        for d in self.departures:
            lines.append(f"{d.kind} ({'located' if d.located else 'gradual'}): {d.direction} the model from "
                         f"{size_step_label(d.from_size)} to {size_step_label(d.to_size)}, by {d.by:+.0%} at "
                         f"{size_step_label(d.at_size)}; leaves it between {size_step_label(d.size_interval[0])} "
                         f"and {size_step_label(d.size_interval[1])}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Points

def point_levels(runs: pd.DataFrame) -> tuple[np.ndarray, list]:
    """(sizes, Levels) of one curve's measured runs (one mode; one variant or pooled): each Level's
    standard error floored at the pooled one, with the pooled degrees of freedom (module docstring)."""
    sizes, levels, _, _ = _pooled_levels(runs)
    return sizes, levels


def _pooled_levels(runs: pd.DataFrame) -> tuple[np.ndarray, list, float, float]:
    """``point_levels`` and the pooled (variance of one process's log level, degrees of freedom)."""
    med = inf.process_medians(runs, ["buffer_size"])
    if med.empty:
        return np.zeros(0), [], NAN, NAN
    lv = inf.levels(med, ["buffer_size"], share_by=[])
    sizes = np.array(sorted(int(k[0]) for k in lv), dtype=float)
    levels = [lv[(int(s),)] for s in sizes]
    s2, df = pooled(levels)
    if math.isfinite(s2):
        levels = [replace(v, se=max(v.se, math.sqrt(s2 / (v.df + 1))), df=df) if _has_se(v) else v for v in levels]
    return sizes, levels, s2, df


def _has_se(v) -> bool:
    return v.n_processes >= inf.MIN_PROCESSES and math.isfinite(v.se) and math.isfinite(v.df) and v.df >= 1


def pooled(levels) -> tuple[float, float]:
    """(variance of one process's log level, degrees of freedom) pooled over the points that have one."""
    ok = [v for v in levels if _has_se(v)]
    den = sum(v.df for v in ok)
    if not den:
        return NAN, NAN
    return sum(v.df * v.se ** 2 * (v.df + 1) for v in ok) / den, float(den)


# ----------------------------------------------------------------------------------------------
# Fit

def _per_call_start(n, mu, se) -> np.ndarray:
    """(log r_inf, log n_half, h = 1) from the per-call model fitted to time per call n / level, linear in
    (t0, 1/r_inf), weights 1 / (T se)^2 iterated on the model's T."""
    T = n * np.exp(-mu)
    X = np.column_stack([np.ones(len(n)), n])
    M = T.copy()
    for _ in range(4):
        XtW = X.T / (M * se) ** 2
        t0, g = np.linalg.lstsq(XtW @ X, XtW @ T, rcond=None)[0]
        M = np.maximum(X @ np.array([t0, g]), 1e-30)
    r = 1 / g if g > 0 else 2 * float(np.exp(mu).max())
    nh = t0 / g if t0 > 0 and g > 0 else float(np.median(n))
    return np.array([math.log(r), math.log(max(nh, 1e-3)), 1.0])


class _Fit:
    """Weighted least squares of log bandwidth = log r_inf - log(1 + (n_half / n)^h) on the sizes ``idx``,
    weights 1 / se^2; ``A`` = d(theta) / d(log levels of ``idx``), the fit linearised at its solution
    (theta = log r_inf, log n_half, h)."""

    def __init__(self, n: np.ndarray, mu: np.ndarray, se: np.ndarray, idx: np.ndarray, h: float | None = None):
        self.n, self.idx, self.L, self.fixed = n, idx, np.log(n), h
        w = 1 / se[idx]
        lo = np.array([-np.inf, math.log(n[0]) - 20, 0.05])
        hi = np.array([np.inf, math.log(n[-1]) + 20, 4.0])
        x0 = np.clip(_per_call_start(n[idx], mu[idx], se[idx]), lo + 1e-9, hi - 1e-9)
        free = slice(0, 3) if h is None else slice(0, 2)

        def full(th):
            return th if h is None else np.array([th[0], th[1], h])
        sol = least_squares(lambda th: (mu[idx] - self.f(full(th), self.L[idx])) * w, x0[free],
                            bounds=(lo[free], hi[free]))
        self.theta = full(sol.x)
        J = self.jac(self.theta, self.L[idx])[:, free]
        JtW = J.T * w ** 2
        A = np.linalg.pinv(JtW @ J) @ JtW
        self.A = A if h is None else np.vstack([A, np.zeros(len(idx))])

    @staticmethod
    def f(th, L):
        return th[0] - np.logaddexp(0.0, th[2] * (th[1] - L))

    @staticmethod
    def jac(th, L):
        s = 1 / (1 + np.exp(-th[2] * (th[1] - L)))
        return np.column_stack([np.ones_like(L), -s * th[2], -s * (th[1] - L)])

    def value(self, j: int) -> float:
        """Model bandwidth at size j (bytes/s)."""
        return float(np.exp(self.f(self.theta, self.L[j:j + 1]))[0])

    def weights(self, j: int) -> np.ndarray:
        """Weights on every point's log level of log(measured / model) at size ``j``."""
        w = np.zeros(len(self.n))
        w[self.idx] = -(self.jac(self.theta, self.L[j:j + 1])[0] @ self.A)
        w[j] += 1.0
        return w

    def log_ratio(self, j: int, mu: np.ndarray) -> float:
        return float(mu[j] - self.f(self.theta, self.L[j:j + 1])[0])

    def parameters(self, levels: list) -> dict:
        """t0_ns, r_inf, n_half, h: each (estimate, low, high) at 95 % (contrasts of the point levels)."""
        def interval(est, row):
            w = np.zeros(len(levels))
            w[self.idx] = row @ self.A
            return (est, *_log_ci(_contrast(w, levels, est), LEVEL))

        def exp(t, scale=1.0):
            with np.errstate(over="ignore"):
                return tuple(float(np.exp(v)) * scale for v in t)
        a, c, h = (float(v) for v in self.theta)
        return {"t0_ns": exp(interval(c - a, np.array([-1.0, 1.0, 0.0])), 1e9),
                "r_inf": exp(interval(a, np.array([1.0, 0.0, 0.0]))),
                "n_half": exp(interval(c, np.array([0.0, 1.0, 0.0]))),
                "h": interval(h, np.array([0.0, 0.0, 1.0]))}


def _contrast(w: np.ndarray, levels: list, estimate: float) -> inf.Contrast:
    terms = [(float(w[i]), levels[i]) for i in range(len(levels)) if abs(w[i]) > 1e-12]
    return replace(inf.contrast(terms), estimate=float(estimate))


def _log_ci(c: inf.Contrast, level: float) -> tuple[float, float]:
    """The interval of contrast ``c`` on its own (log) scale; NaN, NaN when undefined."""
    if not c.defined():
        return NAN, NAN
    half = float(stats.t.ppf(1 - (1 - level) / 2, c.df)) * c.se
    return c.estimate - half, c.estimate + half


def _ratio_ci(c: inf.Contrast, level: float) -> tuple[float, float]:
    """``c``'s interval as a ratio (exp of the log interval; inf where it overflows)."""
    lo, hi = _log_ci(c, level)
    with np.errstate(over="ignore"):
        return float(np.exp(lo)), float(np.exp(hi))


def _inside(c: inf.Contrast, level: float) -> bool | None:
    """True when the interval of ``c`` (a log ratio) contains 1; None when it is undefined."""
    lo, hi = _log_ci(c, level)
    return None if not (math.isfinite(lo) and math.isfinite(hi)) else bool(lo <= 0 <= hi)


# ----------------------------------------------------------------------------------------------
# Public API

def fit_model(runs: pd.DataFrame, *, alpha: float = ALPHA, min_fit: int = MIN_FIT) -> PerCallModel | None:
    """The model of one curve's measured runs (columns buffer_size, bandwidth and, when the runs came
    from benchmark processes, process), with its departures (module docstring); None with ``min_fit``
    sizes or fewer (a model fitted on every size, with none left to test it on, would describe nothing)."""
    sizes, levels, s2, df = _pooled_levels(runs)
    N = len(sizes)
    if N <= min_fit:
        return None
    mu = np.array([v.mean for v in levels])
    se = np.array([v.se if _has_se(v) else (math.sqrt(s2) if math.isfinite(s2) else 0.05) for v in levels])
    family = inf.family_level(alpha, max(N - min_fit, 1))
    k, note, fits = _prefix(sizes, mu, se, levels, min(min_fit, N), alpha, math.isfinite(s2))
    fit = _Fit(sizes, mu, se, np.arange(k))
    steep = fit.parameters(levels)["h"]
    if steep[1] <= 1 <= steep[2]:          # one fixed cost per call explains it: the per-call model itself
        fit = _Fit(sizes, mu, se, np.arange(k), h=1.0)
    rows, contrasts = [], []
    for j in range(N):
        c = _contrast(fit.weights(j), levels, fit.log_ratio(j, mu))
        contrasts.append(c)
        lo, hi = _ratio_ci(c, family)
        inside = _inside(c, family)
        status = ("fit" if j < k else "unknown" if inside is None else "on model" if inside
                  else "below" if hi < 1 else "above")
        rows.append({"buffer_size": int(sizes[j]), "measured": math.exp(mu[j]), "model": fit.value(j),
                     "ratio": math.exp(c.estimate), "ratio_low": lo, "ratio_high": hi, "status": status})
    table = pd.DataFrame(rows)
    departures = [] if note else _departures(table, contrasts, fit, levels, k, family)
    params = dict(fit.parameters(levels), h=steep) if fits else dict.fromkeys(("t0_ns", "r_inf", "n_half", "h"),
                                                                              (NAN, NAN, NAN))
    if not fits:                            # no model to compare with: the table says so, the figure draws none
        table[["model", "ratio", "ratio_low", "ratio_high"]] = NAN
        table["status"] = "unknown"
    return PerCallModel(sizes=[int(s) for s in sizes], fit_sizes=[int(s) for s in sizes[:k]], table=table,
                        level=family, departures=departures, pooled_cv=math.sqrt(s2) if math.isfinite(s2) else NAN,
                        pooled_df=df, note=note, **params)


def _prefix(sizes, mu, se, levels, k: int, alpha: float, pooled_ok: bool) -> tuple[int, str, bool]:
    """(how many of the smallest sizes the model is fitted on, why no departure can be tested or "",
    whether the model describes them)."""
    N = len(sizes)
    if not pooled_ok:
        return N, "no size was measured by two processes or more: departures from the model cannot be tested", True
    first = _Fit(sizes, mu, se, np.arange(k))
    if any(_inside(_contrast(first.weights(j), levels, first.log_ratio(j, mu)), inf.family_level(alpha, k)) is False
           for j in range(k)):
        return k, f"the model does not describe the {k} smallest sizes: no departure from it is claimed", False
    while k < N:
        fit = _Fit(sizes, mu, se, np.arange(k))
        if _inside(_contrast(fit.weights(k), levels, fit.log_ratio(k, mu)), EXTEND) is False:
            break
        k += 1
    return k, "", True


def _regions(status: list) -> list[tuple[int, int, str]]:
    """(first, last, direction) of each run of departing sizes of one direction; sizes not clearly
    off between two of one direction stay inside; an opposite departure starts a new region."""
    out = []
    for j, s in enumerate(status):
        if s not in ("below", "above"):
            continue
        if out and out[-1][2] == s:
            out[-1] = (out[-1][0], j, s)
        else:
            out.append((j, j, s))
    return out


def _departures(table: pd.DataFrame, contrasts: list, fit: _Fit, levels: list, k: int, family: float) -> list:
    sizes = table["buffer_size"].tolist()
    status = table["status"].tolist()
    out = []
    for r, (a, b, direction) in enumerate(_regions(status)):
        members = [j for j in range(a, b + 1) if status[j] == direction]
        top = max(members, key=lambda j: abs(contrasts[j].estimate))
        lo, hi = _ratio_ci(contrasts[top], family)
        last_ok = next((i for i in range(a - 1, -1, -1) if _inside(contrasts[i], LEVEL) is not False), 0)
        located = r == 0 and a == k and _abrupt(fit, levels, k - 1, k, direction, family)
        kind = "departure"
        if located:
            kind = "rise" if direction == "above" else ("fall" if _falls(levels, k - 1, members) else "level-off")
        out.append(Departure(from_size=sizes[a], to_size=sizes[b],
                             size_interval=(sizes[k - 1] if located else sizes[last_ok], sizes[a]),
                             by=math.exp(contrasts[top].estimate) - 1, by_interval=(lo - 1, hi - 1),
                             at_size=sizes[top], direction=direction, located=located, kind=kind,
                             sizes=[sizes[j] for j in members]))
    return out


def _abrupt(fit: _Fit, levels: list, i: int, j: int, direction: str, family: float) -> bool:
    """The change of measured / model from size i to size j is clear (family level) in ``direction``."""
    mu = np.array([v.mean for v in levels])
    c = _contrast(fit.weights(j) - fit.weights(i), levels, fit.log_ratio(j, mu) - fit.log_ratio(i, mu))
    lo, hi = _ratio_ci(c, family)
    return bool(hi < 1 - JUMP) if direction == "below" else bool(lo > 1 + JUMP)


def _falls(levels: list, i: int, members: list) -> bool:
    """Some size of the region is clearly (95 %) below the level at size i."""
    return any(_ratio_ci(inf.ratio_contrast(levels[j], levels[i]), LEVEL)[1] < 1 for j in members)


# ----------------------------------------------------------------------------------------------
# The top of the curve and its flat ranges (measured levels only, no model)

FLAT_TOL = 0.03       # a neighbour within this of the top belongs to the top


@dataclass
class Top:
    """The highest point of a curve when it is a peak (lower on both sides): one size, or a flat region."""
    size: int                       # the highest level
    from_size: int                  # the region of sizes not clearly below it
    to_size: int
    flat: bool                      # more than one size
    value: float                    # the top's level, bytes/s
    ci: tuple                       # its 95 % interval
    below: tuple                    # (size left of the region, size right of it): both clearly lower


def top(sizes, levels, *, alpha: float = ALPHA, tolerance: float = FLAT_TOL) -> Top | None:
    """The peak of a curve from its point levels (``point_levels``), or None when the highest level is at
    either end of the sizes or its flat region reaches one. A neighbour belongs to the top's region when it
    is within ``tolerance`` of the top or not clearly below it (the interval of their ratio, at the family
    level of the curve's sizes, contains 1); the region grows outwards until a size is clearly below. So a
    peak at one size beats both neighbours by more than their intervals."""
    n = len(levels)
    if n < 3:
        return None
    mu = np.array([v.mean for v in levels])
    i = int(np.argmax(mu))
    family = inf.family_level(alpha, n)

    def with_top(j):
        c = inf.ratio_contrast(levels[j], levels[i])
        return abs(c.ratio - 1) <= tolerance or _inside(c, family) is not False

    lo = i
    while lo > 0 and with_top(lo - 1):
        lo -= 1
    hi = i
    while hi < n - 1 and with_top(hi + 1):
        hi += 1
    if lo == 0 or hi == n - 1:
        return None
    lv = levels[i]
    ci = _level_interval(lv)
    return Top(size=int(sizes[i]), from_size=int(sizes[lo]), to_size=int(sizes[hi]), flat=hi > lo,
               value=math.exp(lv.mean), ci=ci, below=(int(sizes[lo - 1]), int(sizes[hi + 1])))


def _level_interval(lv) -> tuple:
    c = inf.contrast([(1.0, lv)])
    lo, hi = _ratio_ci(c, LEVEL)
    return (lo, hi) if math.isfinite(lo) else (float("nan"), float("nan"))


def flat_ranges(sizes, levels, *, tolerance: float = FLAT_TOLERANCE, min_sizes: int = 3) -> list[dict]:
    """Maximal runs of >= ``min_sizes`` consecutive sizes (greedy from the smallest) whose levels all lie
    within +-``tolerance`` of the run's median level and none of which clearly differs from another (the
    interval of the highest level over the lowest, 95 %, contains 1). Each: from_size, to_size, value (the
    geometric mean level, bytes/s) and its 95 % interval ``ci``."""
    mu = np.array([v.mean for v in levels])
    out, i, n = [], 0, len(levels)

    def flat(a, b):
        part = mu[a:b + 1]
        centre = float(np.median(part))
        if np.any(np.abs(np.exp(part - centre) - 1) > tolerance):
            return False
        hi, lo = a + int(np.argmax(part)), a + int(np.argmin(part))
        return hi == lo or _inside(inf.ratio_contrast(levels[hi], levels[lo]), LEVEL) is not False

    while i <= n - min_sizes:
        j = i + min_sizes - 1
        if not flat(i, j):
            i += 1
            continue
        while j + 1 < n and flat(i, j + 1):
            j += 1
        k = j - i + 1
        c = inf.contrast([(1.0 / k, levels[q]) for q in range(i, j + 1)])
        lo, hi = _ratio_ci(c, LEVEL)
        out.append({"from_size": int(sizes[i]), "to_size": int(sizes[j]), "value": math.exp(c.estimate),
                    "ci": (lo, hi)})
        i = j + 1
    return out
