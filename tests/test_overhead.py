"""Probe-effect analysis: ratios, intervals, verdicts, Mann-Whitney only with enough runs, moved breakpoints."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from pmcsuite.analysis import overhead
from pmcsuite.analysis.overhead import describe_mode, ratio_ci, verdict
from pmcsuite.errors import PmcsuiteError

SIZES = [1 << k for k in range(10, 25)]


def peak_at(k_peak):
    def curve(x):
        y = 100 + 70 * (x - 10)
        y = np.where(x > k_peak, 100 + 70 * (k_peak - 10) - 175 * (x - k_peak), y)
        return np.maximum(y, 100 + 70 * (k_peak - 10) - 350)
    return curve


def table(variants, runs=11, noise=0.03, seed=0, sizes=SIZES, ipcs=("pipe",)):
    """variants: name -> function(log2 size) giving MiB/s."""
    rng = np.random.default_rng(seed)
    rows = []
    for ipc in ipcs:
        for size in sizes:
            for variant, curve in variants.items():
                for run in range(runs + 1):
                    bw = float(curve(math.log2(size))) * (1 + noise * rng.standard_normal()) * (1 << 20)
                    rows.append({"ipc": ipc, "buffer_size": size, "total_size": 1 << 24, "run": run,
                                 "warmup": run == 0, "variant": variant, "ok": True,
                                 "loop_ns": (1 << 24) / bw * 1e9, "bandwidth": bw})
    return pd.DataFrame(rows)


def test_half_speed_pass_is_a_slowdown_with_ci_excluding_one():
    base = peak_at(16)
    df = table({"baseline": base, "pmc": lambda x: 0.5 * base(x)}, sizes=SIZES[:6], ipcs=("pipe", "local"))
    res = overhead(df, breakpoints=False)
    assert len(res.cells) == 12
    assert res.cells["ratio"].between(0.45, 0.55).all()
    assert (res.cells["ci_high"] < 1).all()
    assert (res.cells["verdict"] == "slowdown").all()
    assert (res.cells["p_value"] < 0.01).all()
    row = res.for_mode("pipe").iloc[0]
    assert row["median_ratio"] == pytest.approx(0.5, abs=0.03)
    assert f"{row['median_ratio']:.2f}x the baseline" in describe_mode(row)
    assert "unknown" in describe_mode(row)  # breakpoints were not fitted


def test_identical_distributions_are_negligible_in_most_draws():
    same = lambda x: 1000 + 0 * x  # noqa: E731
    verdicts = []
    for seed in range(10):
        res = overhead(table({"baseline": same, "pmc": same}, noise=0.01, seed=seed, sizes=SIZES[:4]),
                       breakpoints=False, seed=seed)
        verdicts += list(res.cells["verdict"])
    assert sum(v == "negligible" for v in verdicts) >= 0.8 * len(verdicts)
    assert verdicts.count("slowdown") + verdicts.count("speedup") <= 0.1 * len(verdicts)


def test_mann_whitney_only_with_nine_runs_per_side():
    same = lambda x: 1000 + 0 * x  # noqa: E731
    eight = overhead(table({"baseline": same, "pmc": same}, runs=8, sizes=SIZES[:3]), breakpoints=False)
    assert eight.cells["p_value"].isna().all()
    nine = overhead(table({"baseline": same, "pmc": same}, runs=9, sizes=SIZES[:3]), breakpoints=False)
    assert nine.cells["p_value"].notna().all()


def test_verdict_rules():
    assert verdict(0.99, 0.985, 1.01) == "negligible"
    assert verdict(0.9, 0.85, 0.95) == "slowdown"
    assert verdict(1.1, 1.05, 1.15) == "speedup"
    assert verdict(1.0, 0.9, 1.1) == "inconclusive"
    r, lo, hi = ratio_ci(np.full(10, 2.0), np.full(10, 1.0))
    assert (r, lo, hi) == (0.5, 0.5, 0.5)


def test_breakpoints_moved_or_not():
    base = peak_at(16)
    df = table({"baseline": base, "same_shape": lambda x: 0.6 * base(x), "shifted": peak_at(14)})
    res = overhead(df)
    modes = res.modes.set_index("variant")
    assert modes.loc["same_shape", "breakpoints_moved"] is not None
    assert not modes.loc["same_shape", "breakpoints_moved"]
    assert modes.loc["shifted", "breakpoints_moved"]
    assert 65536 in modes.loc["shifted", "baseline_breakpoints"]
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert {m["variant"]: m["breakpoints_moved"] for m in d["modes"]} == {"same_shape": False, "shifted": True}
    assert "Per IPC mode" in res.summary()


def test_no_baseline_is_an_error():
    df = table({"pmc": lambda x: 1 + 0 * x}, sizes=SIZES[:3])
    with pytest.raises(PmcsuiteError, match="baseline"):
        overhead(df)


def test_moved_is_unknown_when_the_grid_cannot_hold_a_breakpoint():
    base = peak_at(16)
    res = overhead(table({"baseline": base, "pmc": lambda x: 0.5 * base(x)}, sizes=[1024, 65536, 131072, 1 << 20]))
    row = res.modes.iloc[0]
    assert row["breakpoints_moved"] is None
    assert "unknown" in describe_mode(row)
