"""How precisely each point's level is known, and how many more benchmark processes would pin it down.

A point's runs are iterations of a few benchmark processes, and a process keeps its regime for its
whole life: the precision of a point is the precision of its **level** over processes
(``inference.point_table``: the trimmed mean of the processes' median log bandwidth, its t interval
with processes - 1 degrees of freedom, fewer with trimming). More iterations in the same processes
cannot narrow it much; more processes can.

``precision(df)`` gives one row per cell (ipc, actors, placement, buffer_size, variant) of the measured
runs (ok, not warm-up): ``n`` (runs), ``n_processes``, ``median`` (the level, in the value's unit),
``ci_low``, ``ci_high`` (its 95 % interval; NaN with fewer than 2 processes), ``half_width_pct`` = half
the interval's width as a percentage of the level, ``between_cv`` and ``within_cv``.
``collect --target-ci PCT`` adds whole processes to the cells whose half width is above PCT
(``needs_runs``), as many as ``processes_wanted`` says their between-process spread needs (the
standard error shrinks as 1/sqrt(processes), and the t quantile with the degrees of freedom they
bring); ``pmcsuite summary`` lists the cells that did not get there.

``median_interval`` (the distribution-free interval of a median of independent values, from order
statistics) is kept for callers that have such values.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats import binom

from ..results.load import GROUP_KEYS, measured
from ..schema import LEVEL
from . import inference as inf

#: never plan more processes per point than this in one go (a noisy point is capped by --max-runs anyway)
MAX_PROCESSES = 1000


def median_interval(values, level: float = LEVEL) -> tuple[float, float]:
    """Distribution-free interval for the median of independent ``values`` (NaN, NaN when too few)."""
    x = np.sort(np.asarray(values, dtype=float)[np.isfinite(np.asarray(values, dtype=float))])
    n = len(x)
    if n == 0:
        return float("nan"), float("nan")
    # coverage of [x_(k), x_(n-k+1)] (1-based) is 1 - 2 * P(B <= k - 1), B ~ Binomial(n, 1/2)
    k = np.arange(1, n // 2 + 1)
    coverage = 1 - 2 * binom.cdf(k - 1, n, 0.5)
    ok = k[coverage >= level]
    if not len(ok):
        return float("nan"), float("nan")
    j = int(ok.max())
    return float(x[j - 1]), float(x[n - j])


def precision(df: pd.DataFrame, value: str = "bandwidth") -> pd.DataFrame:
    """Per cell: n, n_processes, median (the level), ci_low, ci_high, half_width_pct, between_cv,
    within_cv of ``value`` over the measured runs (module docstring)."""
    columns = GROUP_KEYS + ["n", "n_processes", "median", "ci_low", "ci_high", "half_width_pct", "between_cv",
                            "within_cv"]
    runs = measured(df)
    runs = runs[runs[value].notna()] if value in runs.columns else runs.iloc[0:0]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    runs = runs.assign(**{k: None for k in GROUP_KEYS if k not in runs.columns})
    table = inf.point_table(runs, GROUP_KEYS, value, LEVEL)
    out = table.rename(columns={"n_runs": "n", "centre": "median"})
    out["half_width_pct"] = 100 * (out["ci_high"] - out["ci_low"]) / 2 / out["median"]
    out["buffer_size"] = out["buffer_size"].astype("Int64")
    return out[columns].reset_index(drop=True)


def needs_runs(table: pd.DataFrame, target_pct: float) -> pd.DataFrame:
    """The cells of ``precision()`` whose interval is wider than ±``target_pct`` % (or unknown)."""
    wide = table["half_width_pct"].isna() | (table["half_width_pct"] > target_pct)
    return table[wide]


def _df(processes: int) -> int:
    """The degrees of freedom of a level over ``processes`` (``inference.level``: 20 % trimmed)."""
    g = int(math.floor(inf.TRIM * processes))
    return max(1, processes - 2 * g - 1)


def processes_wanted(n_processes: int, half_width_pct: float, target_pct: float, level: float = LEVEL) -> int:
    """Processes a point needs in all for its ``level`` interval to be within ±``target_pct`` %, from
    its ``n_processes`` now and its half width now (``precision``); with fewer than 2 processes (no
    interval yet) the 2 an interval needs. Never fewer than it has; at most ``MAX_PROCESSES``."""
    p = int(n_processes)
    if p < inf.MIN_PROCESSES or not math.isfinite(half_width_pct):
        return max(inf.MIN_PROCESSES, p + 1)
    h = math.asinh(half_width_pct / 100)          # the half width on the log scale (t x se)
    goal = math.asinh(target_pct / 100)
    if h <= goal:
        return p
    q = lambda d: float(stats.t.ppf(1 - (1 - level) / 2, d))   # noqa: E731
    se = h / q(_df(p))
    start = max(p + 1, math.ceil(p * (stats.norm.ppf(1 - (1 - level) / 2) * se / goal) ** 2))   # t > z
    for n in range(min(start, MAX_PROCESSES), MAX_PROCESSES + 1):
        if q(_df(n)) * se * math.sqrt(p / n) <= goal:
            return n
    return MAX_PROCESSES
