"""How precisely each point's median is known: the 95 % interval of a cell's median bandwidth.

The interval is distribution-free, from order statistics: with n runs, the number of runs below
the true median is Binomial(n, 1/2), so the k-th smallest and k-th largest runs bracket the median
with probability 1 - 2 P(B <= k - 1); ``k`` is the largest that keeps that >= 95 %. It needs
n >= 6 (with fewer runs no pair of order statistics reaches 95 %: the interval is unknown, NaN).
No resampling, so it is exact, fast and the same on every call.

``precision(df)`` gives one row per cell (ipc, actors, placement, buffer_size, variant) of the
measured runs (ok, not warm-up): n, median, ci_low, ci_high and ``half_width_pct`` = half the
interval's width as a percentage of the median. ``collect --target-ci PCT`` adds runs to the cells
whose half width is above PCT (``needs_runs``); ``pmcsuite summary`` lists the cells that did not
get there.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binom

from ..results import GROUP_KEYS, measured

LEVEL = 0.95


def median_interval(values, level: float = LEVEL) -> tuple[float, float]:
    """Distribution-free interval for the median of ``values`` (NaN, NaN when too few)."""
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
    """Per cell: n, median, ci_low, ci_high, half_width_pct of ``value`` over the measured runs."""
    columns = GROUP_KEYS + ["n", "median", "ci_low", "ci_high", "half_width_pct"]
    runs = measured(df)
    runs = runs[runs[value].notna()]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    keys = runs[GROUP_KEYS].astype(object).where(runs[GROUP_KEYS].notna(), "")
    rows = []
    for cell, part in runs.groupby([keys[k] for k in GROUP_KEYS], sort=True):
        values = part[value].to_numpy(dtype=float)
        low, high = median_interval(values)
        median = float(np.median(values))
        rows.append([*cell, len(values), median, low, high, 100 * (high - low) / 2 / median if median else np.nan])
    out = pd.DataFrame(rows, columns=columns)
    out[["ipc", "actors", "placement", "variant"]] = out[["ipc", "actors", "placement", "variant"]].replace("", None)
    out["buffer_size"] = out["buffer_size"].astype("Int64")
    return out


def needs_runs(table: pd.DataFrame, target_pct: float) -> pd.DataFrame:
    """The cells of ``precision()`` whose interval is wider than ±``target_pct`` % (or unknown)."""
    wide = table["half_width_pct"].isna() | (table["half_width_pct"] > target_pct)
    return table[wide]
