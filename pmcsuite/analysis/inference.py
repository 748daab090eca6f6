"""Inference that respects how runs are made: the benchmark *process* is the unit.

``collect`` runs each point's iterations inside a few benchmark processes, and a process keeps
its regime (CPU, page placement, cache colouring) for its whole life: iterations of one process
are not independent draws. Treating them so made 97 % of no-effect sweeps call a difference.
Everything here is a two-level random-effects model estimated by the *two-stage* method
(summary statistics, as Kalibera & Jones recommend for "rigorous benchmarking in reasonable time"):

1. **Stage one, per process.** Each process's runs of a point are reduced to the median of their
   log bandwidth (``process_medians``): robust to a slow iteration, and it removes the iteration
   level (its variation is reported, as ``within_cv``, but it cannot make a difference look real).
2. **Stage two, across processes.** A point's level is the 20 %-trimmed mean of its processes'
   log medians (Yuen's trimmed mean; with fewer than five processes nothing is trimmed); its
   standard error comes from the winsorised spread of the processes, and its t distribution has
   (processes - 2 x trimmed - 1) degrees of freedom. So the interval widens when there are few
   processes, whatever their iterations, and a slow process among ten cannot move it.

Any quantity the analysis reads is a **contrast** of point levels: the log ratio of a pass to the
baseline at one size, the mean log ratio over a mode's sizes ("this pass costs pipe 18 %"), one
set against another. ``contrast`` sums the points' own variances and adds the covariance that
processes running several points give them (``--points-per-process``: a process's regime shifts
every point it ran): ``shared_variance`` estimates that process effect per variant from the pairs
of points one process ran (a moment estimate on winsorised residuals, scaled to the plain variance
of normal data), and two points sharing k processes get k x that / (h h'), h the processes a trimmed
mean keeps (conservative when it trims). Without it the overall interval of a default sweep covered 86 %;
with it 93-97 % on synthetic sweeps laid out by the plan (process CV 3-10 %, iteration CV 1-3 %,
slow runs, drift). Degrees of freedom: Welch-Satterthwaite over the points' own degrees of
freedom, capped at (processes - 1). The ratio shown is exp(contrast) and its interval exp(lo),
exp(hi): the ratio of the points' (per-process) medians, never outside its interval.

A verdict is read off its interval and nothing else (``verdict``): below 1 "slower", above 1
"faster", inside +-``margin`` "negligible", otherwise "not established". The level of the interval
is the family's: ``family_level(alpha, m)`` = 1 - alpha/m (Bonferroni: simultaneous intervals).
``mde`` is the smallest ratio the same runs would detect with 80 % power at that level, and
``processes_needed`` the processes per point that would detect a given one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from ..schema import LEVEL, MARGIN

TRIM = 0.2
POWER = 0.8
#: verdict words (``verdict``)
SLOWER, FASTER, NEGLIGIBLE, NOT_ESTABLISHED, TOO_FEW = "slower", "faster", "negligible", "not established", \
    "too few processes"
#: a contrast needs at least this many processes on each side of it for an interval
MIN_PROCESSES = 2


def family_level(alpha: float, members: int) -> float:
    """The confidence level of each of ``members`` simultaneous intervals (Bonferroni) at ``alpha``."""
    return 1 - alpha / max(int(members), 1)


def process_medians(runs: pd.DataFrame, keys: list[str], value: str = "bandwidth") -> pd.DataFrame:
    """Stage one: one row per point (``keys``) and benchmark process: ``y`` = median of log(value)
    over its runs, ``n_runs`` = how many, ``within`` = their robust spread (MAD x 1.4826, log scale).

    ``runs`` must be the measured runs (``results.measured``). A run without a process number (an
    old or imported record) is its own process; ``cluster`` is a string that identifies the process
    across the whole table (prefix it to compare sets). ``collect`` numbers processes over the whole
    sweep, and a process runs points of one variant; where the numbers cannot be that (a number used
    by two variants, or version-1 records whose process is their run number), a process is only
    known within its point and ``cluster`` says so."""
    x = runs[value].astype(float)
    keep = np.isfinite(x) & (x > 0)
    part = runs.loc[keep, keys].copy()
    part["logv"] = np.log(x[keep])
    process = runs.loc[keep, "process"] if "process" in runs.columns else pd.Series(pd.NA, index=part.index)
    own = process.isna()
    part["cluster"] = process.astype("Int64").astype(str)
    if _numbered_per_point(runs.loc[keep], process, keys):
        point = part[keys[0]].astype(str)
        for k in keys[1:]:
            point = point + "/" + part[k].astype(str)
        part["cluster"] = point + ":" + part["cluster"]
    if own.any():
        part.loc[own, "cluster"] = "run-" + pd.Series(part.index[own], index=part.index[own]).astype(str)
    if part.empty:
        return pd.DataFrame(columns=keys + ["cluster", "y", "n_runs", "within"])
    group_keys = [part[k].astype(object).where(part[k].notna(), "") for k in keys] + [part["cluster"]]
    grouped = part.groupby(group_keys, sort=True)["logv"]
    out = grouped.agg(y="median", n_runs="size").reset_index()
    deviation = (part["logv"] - grouped.transform("median")).abs()
    mad = 1.4826 * deviation.groupby(group_keys, sort=True).median()
    out["within"] = np.where(out["n_runs"].to_numpy() > 1, mad.to_numpy(), np.nan)
    out.columns = keys + ["cluster", "y", "n_runs", "within"]
    for k in keys:
        out[k] = out[k].replace("", None)
    return out


def _numbered_per_point(runs: pd.DataFrame, process: pd.Series, keys: list[str]) -> bool:
    """True when the process numbers cannot be collect's sweep-wide ones (``process_medians``)."""
    known = process.notna()
    if not known.any():
        return False
    ids = process[known].to_numpy()
    family = [k for k in keys if k not in ("ipc", "buffer_size") and k in runs.columns]
    if family and (runs.loc[known, family].astype(str).groupby(ids).nunique() > 1).any(axis=None):
        return True
    if "run" in runs.columns and (runs.loc[known, "run"].astype("Int64") == process[known].astype("Int64")).all():
        return bool((runs.loc[known, keys].astype(str).groupby(ids).nunique() > 1).any(axis=None))
    return False


@dataclass(frozen=True)
class Level:
    """Stage two for one point: its trimmed mean of process log medians and what it rests on."""
    mean: float                 # log scale
    se: float                   # standard error of ``mean`` (NaN with one process)
    df: float                   # degrees of freedom of its t interval
    n_processes: int
    resid: np.ndarray           # per process: its winsorised residual, scaled to a plain one (log scale)
    clusters: np.ndarray        # the process of each residual
    shared: float = 0.0         # variance of the process effect shared by the points of one process
    shared_df: float = math.inf  # degrees of freedom of ``shared`` (processes it was estimated from - 1)

    def with_shared(self, shared: float, shared_df: float = math.inf) -> "Level":
        return replace(self, shared=float(shared), shared_df=float(shared_df))


def level(y, clusters, trim: float = TRIM) -> Level:
    """Yuen's trimmed mean of ``y`` (one value per process) with its winsorised standard error."""
    y = np.asarray(y, dtype=float)
    clusters = np.asarray(clusters, dtype=object)
    n = len(y)
    if n == 0:
        return Level(float("nan"), float("nan"), float("nan"), 0, np.zeros(0), clusters)
    g = int(math.floor(trim * n))
    order = np.argsort(y, kind="stable")
    ys = y[order]
    mean = float(ys[g:n - g].mean())
    if n < 2:
        return Level(mean, float("nan"), float("nan"), n, np.zeros(n), clusters)
    low, high = ys[g], ys[n - g - 1]
    wins = np.clip(y, low, high)
    h = n - 2 * g
    resid = wins - wins.mean()
    se = float(math.sqrt(np.sum(resid ** 2) / (h * (h - 1))))      # Yuen's standard error
    # the residuals the shared process effect is estimated from: winsorised (a slow process cannot
    # inflate it), scaled back to the plain variance of normal data; with the 1/(h h') scaling of
    # ``contrast`` that errs on the wide side when processes are trimmed
    return Level(mean, se, float(h - 1), n, resid / math.sqrt(_winsorised_share(g / n)), clusters)


def _winsorised_share(gamma: float) -> float:
    """The variance of a standard normal winsorised at ``gamma`` in each tail (1 when nothing is)."""
    if gamma <= 0:
        return 1.0
    z = float(stats.norm.ppf(1 - gamma))
    return (1 - 2 * gamma) - 2 * z * float(stats.norm.pdf(z)) + 2 * gamma * z * z


def shared_variance(points) -> float:
    """The covariance a process's own effect gives every pair of points it ran, from the
    points (``Level``s of one variant) that share processes: a moment estimate over every such pair,
    E[r_pc r_pc'] = s^2 (1 - 1/n_c - 1/n_c' + k/(n_c n_c')) (k processes shared, r the
    residuals); 0 when no process ran two of them, never negative."""
    points = [p for p in points if p.n_processes >= 2]
    where: dict = {}
    for i, p in enumerate(points):
        for c, r in zip(p.clusters, p.resid):
            where.setdefault(c, []).append((i, float(r)))
    members = [set(p.clusters) for p in points]
    num = den = 0.0
    for entries in where.values():
        for a in range(len(entries)):
            for b in range(a + 1, len(entries)):
                (i, ri), (j, rj) = entries[a], entries[b]
                ni, nj = points[i].n_processes, points[j].n_processes
                k = len(members[i] & members[j])
                num += ri * rj
                den += 1 - 1 / ni - 1 / nj + k / (ni * nj)
    return max(0.0, num / den) if den > 0 else 0.0


@dataclass(frozen=True)
class Contrast:
    """A linear contrast of point levels on the log scale; read it as a ratio (``ratio``, ``interval``)."""
    estimate: float
    se: float
    df: float
    n_processes: int
    min_side: int               # processes of the smallest point in it

    @property
    def ratio(self) -> float:
        return float(math.exp(self.estimate)) if math.isfinite(self.estimate) else float("nan")

    def defined(self) -> bool:
        return math.isfinite(self.se) and self.se >= 0 and math.isfinite(self.df) and self.df >= 1 \
            and self.min_side >= MIN_PROCESSES

    def interval(self, level: float = LEVEL) -> tuple[float, float]:
        """The two-sided ``level`` interval of the ratio (NaN, NaN when undefined)."""
        if not self.defined():
            return float("nan"), float("nan")
        half = float(stats.t.ppf(1 - (1 - level) / 2, self.df)) * self.se
        return float(math.exp(self.estimate - half)), float(math.exp(self.estimate + half))

    def p_value(self) -> float:
        """Two-sided p of "no change" from the same t: below 1 - level exactly when the interval excludes 1."""
        if not self.defined():
            return float("nan")
        if self.se == 0:
            return 0.0 if self.estimate != 0 else 1.0
        return float(2 * stats.t.sf(abs(self.estimate) / self.se, self.df))

    def mde(self, level: float = LEVEL, power: float = POWER) -> float:
        """The smallest slowdown these runs detect with ``power`` at ``level``: a ratio below 1
        (1 - mde is the change, e.g. 0.93 = 7 % slower); NaN when undefined."""
        if not self.defined():
            return float("nan")
        t = float(stats.t.ppf(1 - (1 - level) / 2, self.df)) + float(stats.t.ppf(power, self.df))
        return float(math.exp(-t * self.se))

    def verdict(self, level: float = LEVEL, margin: float = MARGIN) -> str:
        return verdict(*self.interval(level), margin=margin)


def verdict(lo: float, hi: float, margin: float = MARGIN) -> str:
    """The verdict an interval of a ratio supports, and only that."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return TOO_FEW
    if hi < 1:
        return SLOWER
    if lo > 1:
        return FASTER
    if lo >= 1 - margin and hi <= 1 + margin:
        return NEGLIGIBLE
    return NOT_ESTABLISHED


def contrast(terms) -> Contrast:
    """``terms``: (weight, Level) pairs; the contrast sum(weight x level.mean), its variance (the points'
    own plus the covariance of points that share processes, module docstring) and Welch-Satterthwaite
    degrees of freedom over the terms, capped at (distinct processes - 1)."""
    terms = [(float(w), lv) for w, lv in terms if w != 0]
    if not terms or any(lv.n_processes == 0 for _, lv in terms):
        return Contrast(float("nan"), float("nan"), float("nan"), 0, 0)
    estimate = float(sum(w * lv.mean for w, lv in terms))
    min_side = min(lv.n_processes for _, lv in terms)
    parts, dfs = [], []
    for w, lv in terms:
        parts.append((w * lv.se) ** 2 if math.isfinite(lv.se) else float("nan"))
        dfs.append(lv.df)
    n_clusters = len({c for _, lv in terms for c in lv.clusters})
    if min_side < MIN_PROCESSES or not all(math.isfinite(p) for p in parts):
        return Contrast(estimate, float("nan"), float("nan"), n_clusters, min_side)
    var = float(sum(parts))
    # points run by the same processes share those processes' effects: their covariance
    sets = [set(lv.clusters) for _, lv in terms]
    cov, cov_df = 0.0, math.inf
    for i in range(len(terms)):
        for j in range(i + 1, len(terms)):
            k = len(sets[i] & sets[j])
            if k:
                (wi, li), (wj, lj) = terms[i], terms[j]
                # the covariance of two trimmed means sharing k processes: k x (the winsorised
                # covariance) / (h h'), h = processes kept (Yuen's influence of one process)
                cov += 2 * wi * wj * math.sqrt(li.shared * lj.shared) * k / ((li.df + 1) * (lj.df + 1))
                cov_df = min(cov_df, li.shared_df, lj.shared_df)
    var = max(var + cov, 0.0)
    # Welch-Satterthwaite over the points' variances and the estimated covariance (itself uncertain)
    denom = sum(p * p / d for p, d in zip(parts, dfs) if d > 0)
    if cov > 0 and math.isfinite(cov_df) and cov_df > 0:
        denom += cov * cov / cov_df
    total = sum(parts) + max(cov, 0.0)
    df = total * total / denom if denom > 0 else float(n_clusters - 1)
    df = float(max(1.0, min(df, n_clusters - 1)))
    return Contrast(estimate, math.sqrt(var), df, n_clusters, min_side)


def ratio_contrast(new: Level, ref: Level) -> Contrast:
    """log(new / ref) of two points."""
    return contrast([(1.0, new), (-1.0, ref)])


def mean_ratio_contrast(pairs) -> Contrast:
    """The mean over points of log(new / ref): ``pairs`` = [(new Level, ref Level), ...]; exp of it is
    the geometric mean ratio over the points ("overall")."""
    pairs = list(pairs)
    if not pairs:
        return Contrast(float("nan"), float("nan"), float("nan"), 0, 0)
    k = 1.0 / len(pairs)
    return contrast([t for new, ref in pairs for t in ((k, new), (-k, ref))])


def levels(medians: pd.DataFrame, keys: list[str], trim: float = TRIM, share_by: list[str] | None = None) -> dict:
    """Stage two for every point of ``process_medians``: {tuple(point keys): Level}, each carrying the
    shared process variance (``shared_variance``) of the points with its ``share_by`` keys (default: the
    keys other than ``buffer_size`` and ``ipc``, i.e. one variant: a process runs points of one variant)."""
    out = {}
    if medians.empty:
        return out
    group = [medians[k].astype(object).where(medians[k].notna(), "") for k in keys]
    for point, part in medians.groupby(group, sort=True):
        point = point if isinstance(point, tuple) else (point,)
        out[tuple(None if v == "" else v for v in point)] = level(part["y"], part["cluster"], trim)
    share_by = [k for k in keys if k not in ("buffer_size", "ipc")] if share_by is None else share_by
    index = [keys.index(k) for k in share_by]
    families: dict = {}
    for point in out:
        families.setdefault(tuple(point[i] for i in index), []).append(point)
    for members in families.values():
        shared = shared_variance([out[p] for p in members])
        processes = len({c for p in members for c in out[p].clusters})
        for p in members:
            out[p] = out[p].with_shared(shared, max(processes - 1, 1))
    return out


def point_table(runs: pd.DataFrame, keys: list[str], value: str = "bandwidth", level_: float = LEVEL,
                trim: float = TRIM) -> pd.DataFrame:
    """Per point: ``n_processes``, ``n_runs``, ``centre`` (exp of its level, in ``value``'s unit),
    ``ci_low``/``ci_high`` (its ``level_`` interval, NaN with fewer than two processes),
    ``between_cv`` and ``within_cv`` (between- and within-process variation, as a fraction:
    robust spread of the process medians less what iteration noise explains, and the median
    within-process robust spread)."""
    med = process_medians(runs, keys, value)
    cols = keys + ["n_processes", "n_runs", "centre", "ci_low", "ci_high", "between_cv", "within_cv"]
    if med.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    group = [med[k].astype(object).where(med[k].notna(), "") for k in keys]
    for point, part in med.groupby(group, sort=True):
        point = point if isinstance(point, tuple) else (point,)
        lv = level(part["y"], part["cluster"], trim)
        if lv.n_processes >= MIN_PROCESSES and math.isfinite(lv.se):
            half = float(stats.t.ppf(1 - (1 - level_) / 2, lv.df)) * lv.se
            lo, hi = math.exp(lv.mean - half), math.exp(lv.mean + half)
        else:
            lo = hi = float("nan")
        within = float(np.nanmedian(part["within"])) if part["within"].notna().any() else float("nan")
        y = part["y"].to_numpy(float)
        spread = 1.4826 * float(np.median(np.abs(y - np.median(y)))) if len(y) > 2 else (
            float(np.std(y, ddof=1)) if len(y) == 2 else float("nan"))
        m = float(part["n_runs"].median())
        between = math.sqrt(max(0.0, spread ** 2 - (within ** 2 / m if math.isfinite(within) else 0.0))) \
            if math.isfinite(spread) else float("nan")
        rows.append([*(None if v == "" else v for v in point), lv.n_processes, int(part["n_runs"].sum()),
                     math.exp(lv.mean), lo, hi, between, within])
    return pd.DataFrame(rows, columns=cols)


def processes_needed(se: float, processes: int, target: float, level: float = LEVEL,
                     power: float = POWER) -> int | None:
    """Processes per point that would detect a ratio of ``target`` (< 1, e.g. 0.95) with ``power`` at
    ``level``, from a contrast whose standard error is ``se`` with ``processes`` per point now
    (standard errors shrink as 1/sqrt(processes)); None when unknown."""
    if not (math.isfinite(se) and se > 0 and processes >= 1 and 0 < target < 1):
        return None
    z = float(stats.norm.ppf(1 - (1 - level) / 2) + stats.norm.ppf(power))
    need = processes * (z * se / abs(math.log(target))) ** 2
    # t rather than z: iterate once with the df that many processes would give (two sides)
    df = max(1.0, 2 * need - 2)
    t = float(stats.t.ppf(1 - (1 - level) / 2, df) + stats.t.ppf(power, df))
    return max(MIN_PROCESSES, int(math.ceil(processes * (t * se / abs(math.log(target))) ** 2)))
