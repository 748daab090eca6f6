"""Segmented regression: planted breakpoints recovered, none invented on straight curves; exact fits
and bootstrap agreement handled without warnings."""
import json
import math

import numpy as np
import pandas as pd
import pytest
from synthetic import SIZES as SIZE_LIST
from synthetic import peak_then_plateau, runs_table

from pmcsuite.analysis import bandwidth_fit, counter_columns, fit_breakpoints, measured_runs, same_breakpoints
from pmcsuite.analysis.breakpoints import presence, same_sizes
from pmcsuite.errors import PmcsuiteError

pytestmark = pytest.mark.filterwarnings("error")   # no RuntimeWarning/statsmodels warning may leak

SIZES = np.array(SIZE_LIST)
RUNS = 10


def draw(curve, rng, noise=0.05, runs=RUNS):
    s = np.repeat(SIZES, runs)
    return s, curve(np.log2(s)) * (1 + noise * rng.standard_normal(len(s)))


def steps_apart(a, b):
    return abs(math.log2(a) - math.log2(b))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_breakpoints_recovered_within_one_step(seed):
    s, y = draw(peak_then_plateau, np.random.default_rng(seed))
    fit = fit_breakpoints(s, y, label="bw", unit="MiB/s", seed=seed)
    assert len(fit.breakpoints) == 2
    peak, plateau = fit.breakpoints
    assert steps_apart(peak.size, 65536) <= 1 and peak.kind == "peak"
    assert steps_apart(plateau.size, 262144) <= 1 and plateau.kind == "plateau"
    assert peak.slope_before == pytest.approx(70, rel=0.25)
    assert peak.slope_after == pytest.approx(-175, rel=0.25)
    for bp in fit.breakpoints:
        assert bp.ci_low <= bp.size <= bp.ci_high
        assert bp.support >= 0.8


def test_straight_noisy_curve_yields_no_breakpoint_in_90_percent_of_draws():
    rng = np.random.default_rng(12345)
    empty = 0
    for i in range(50):
        s, y = draw(lambda x: 200 + 10 * (x - 10), rng)
        empty += not fit_breakpoints(s, y, seed=i).breakpoints
    assert empty >= 45


def test_flat_noisy_curve_yields_no_breakpoint():
    rng = np.random.default_rng(7)
    empty = sum(not fit_breakpoints(*draw(lambda x: 300 + 0 * x, rng, noise=0.1), seed=i).breakpoints
                for i in range(20))
    assert empty >= 18


def test_immaterial_slope_change_is_rejected_with_a_reason():
    # a real but tiny kink (2 % of the level per doubling) on a nearly noiseless curve
    s = np.repeat(SIZES, 5)
    x = np.log2(s)
    y = 1000 + np.where(x > 16, 20 * (x - 16), 0) + 0.01 * np.random.default_rng(0).standard_normal(len(s))
    fit = fit_breakpoints(s, y)
    assert fit.breakpoints == []
    assert any("materiality" in b.reason for b in fit.rejected)
    # ...and claimed when the threshold is lowered explicitly
    assert fit_breakpoints(s, y, min_slope_change=5).breakpoint_sizes == [65536]


def test_log_scale_counter_with_a_knee():
    # reads per KiB fall as 1/size up to 64K, then stay level (the pipe read cap)
    s = np.repeat(SIZES, 5)
    y = 1024.0 / np.minimum(s, 65536) * (1 + 0.02 * np.random.default_rng(3).standard_normal(len(s)))
    fit = fit_breakpoints(s, y, scale="log")
    assert fit.breakpoint_sizes == [65536]
    bp = fit.breakpoints[0]
    assert bp.slope_before == pytest.approx(-1, abs=0.1) and bp.slope_after == pytest.approx(0, abs=0.1)
    assert bp.kind == "plateau"
    # a pure power law has no breakpoint on the log scale
    assert fit_breakpoints(s, 1024.0 / s, scale="log").breakpoints == []


def test_results_are_json_and_text():
    s, y = draw(peak_then_plateau, np.random.default_rng(0))
    fit = fit_breakpoints(s, y, label="pipe bandwidth", unit="MiB/s")
    d = json.loads(json.dumps(fit.to_dict(), allow_nan=False))
    assert [b["size"] for b in d["breakpoints"]] == fit.breakpoint_sizes
    assert "peak" in fit.summary() and "pipe bandwidth" in fit.summary()


def test_few_sizes_and_bad_input():
    # 4 sizes: no room for a breakpoint with 3 sizes per segment, but a line is fitted
    fit = fit_breakpoints([1024, 2048, 4096, 8192] * 3, [1, 2, 3, 4] * 3)
    assert fit.breakpoints == [] and fit.slope == pytest.approx(1)
    one = fit_breakpoints([1024] * 3, [1, 2, 3])          # one size: shown, never fitted
    assert one.sizes == [1024] and one.medians == [2] and one.breakpoints == [] and not one.can_break
    with pytest.raises(PmcsuiteError, match="no buffer size with data"):
        fit_breakpoints([1024] * 3, [np.nan] * 3)
    with pytest.raises(PmcsuiteError):
        fit_breakpoints(SIZES, np.zeros(len(SIZES)), scale="log")
    with pytest.raises(PmcsuiteError):
        fit_breakpoints(SIZES, np.ones(3))


def _table(curve, seed=0, variant="baseline"):
    return runs_table({variant: curve}, runs=RUNS, seed=seed)


def test_bandwidth_fit_ignores_warmups_and_failed_runs():
    df = _table(peak_then_plateau)
    df.loc[df["warmup"], "bandwidth"] = 1e12            # absurd warm-ups must not matter
    bad = df.iloc[:30].copy()
    bad["ok"], bad["warmup"], bad["bandwidth"] = False, False, 1e13
    df = pd.concat([df, bad], ignore_index=True)
    fit = bandwidth_fit(df, "pipe")
    assert fit.n_runs == [RUNS] * len(SIZES)
    assert [round(math.log2(s)) for s in fit.breakpoint_sizes] in ([16, 18], [16, 17], [15, 18], [17, 18])
    assert same_breakpoints(fit, bandwidth_fit(_table(peak_then_plateau, seed=1), "pipe"))
    with pytest.raises(PmcsuiteError):
        bandwidth_fit(df, "local")


def test_measured_runs_and_counter_columns():
    with pytest.raises(PmcsuiteError):
        measured_runs(pd.DataFrame({"ipc": ["pipe"]}))
    df = _table(peak_then_plateau)
    df["axi_read"], df["axi_read_status"] = 1.0, "ok"
    df["instructions"], df["instructions_status"] = np.nan, "not_supported"
    assert counter_columns(df) == ["axi_read", "instructions"]
    df.attrs["counters"] = ["instructions"]
    assert counter_columns(df) == ["instructions"]


@pytest.mark.parametrize("values", [lambda s: 1024.0 / s, lambda s: 3.0 + 0 * s])
def test_exact_fit_has_no_finite_bic_and_raises_no_warning(values):
    # write() calls per KiB = 1024/size is a straight line on log2 scales; a constant is fitted exactly too
    s = np.repeat(SIZES[:11], 4)
    fit = fit_breakpoints(s, values(s.astype(float)), scale="log")
    assert fit.exact and math.isnan(fit.final_bic) and fit.breakpoints == []
    assert fit.confident and fit.agreement == 1.0
    d = json.loads(json.dumps(fit.to_dict(), allow_nan=False))
    assert d["final_bic"] is None and d["exact"] is True
    assert "exact fit" in fit.summary()
    # a noisy curve is not exact and has a finite BIC
    noisy = fit_breakpoints(s, 1024.0 / s * (1 + 0.02 * np.random.default_rng(0).standard_normal(len(s))),
                            scale="log")
    assert not noisy.exact and math.isfinite(noisy.final_bic)


def test_agreement_and_presence_follow_the_bootstrap():
    s, y = draw(peak_then_plateau, np.random.default_rng(0))
    fit = fit_breakpoints(s, y)
    assert fit.confident and fit.agreement >= 0.8
    assert len(fit.boot_sets) == fit.n_boot == 200
    assert presence(fit, 65536) >= 0.8            # the peak recurs in the resamples
    assert presence(fit, 1 << 22) <= 0.2          # nothing at 4M
    # a noisy straight line: "no breakpoint" is itself the confident answer most of the time
    flat_fit = fit_breakpoints(*draw(lambda x: 300 + 0 * x, np.random.default_rng(1), noise=0.1))
    assert flat_fit.breakpoints == [] and flat_fit.agreement >= 0.5
    # too few sizes: never confident (nothing to bootstrap)
    few = fit_breakpoints([1024, 2048, 4096, 8192] * 3, [1, 2, 3, 4] * 3)
    assert not few.confident and few.n_boot == 0


def test_same_sizes_tolerates_one_step():
    assert same_sizes([65536], [131072]) and not same_sizes([65536], [262144])
    assert not same_sizes([65536], []) and same_sizes([], [])
