"""analysis.precision: the distribution-free interval of a cell's median (what --target-ci uses)."""
import math

import numpy as np
import pandas as pd

from pmcsuite.analysis.precision import median_interval, needs_runs, precision


def test_order_statistics_bracket_the_median():
    assert median_interval(range(1, 11)) == (2.0, 9.0)        # n = 10: x(2), x(9), coverage 97.9 %
    assert median_interval([5, 1, 4, 2, 3, 6]) == (1.0, 6.0)  # n = 6: the extremes, coverage 96.9 %
    assert all(math.isnan(v) for v in median_interval([1, 2, 3, 4, 5]))   # n = 5 cannot reach 95 %
    assert all(math.isnan(v) for v in median_interval([]))


def test_coverage_is_at_least_95_percent():
    rng = np.random.default_rng(3)
    hits = 0
    for _ in range(4000):
        low, high = median_interval(rng.lognormal(0.0, 0.3, size=10))     # true median 1.0
        hits += low <= 1.0 <= high
    assert hits / 4000 >= 0.95


def test_precision_per_cell_and_what_needs_runs():
    rows = [{"ipc": "pipe", "actors": "2thread", "placement": None, "buffer_size": size, "variant": "baseline",
             "ok": True, "warmup": run == 0, "bandwidth": 100.0 + run * spread}
            for size, spread in ((4096, 0.1), (65536, 10.0)) for run in range(11)]
    table = precision(pd.DataFrame(rows))
    assert list(table["n"]) == [10, 10] and table["placement"].isna().all()     # warm-ups left out
    small, large = table["half_width_pct"]
    assert small < 1 < large
    assert list(needs_runs(table, 1.0)["buffer_size"]) == [65536]
