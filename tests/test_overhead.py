"""Probe-effect analysis: ratios, intervals, verdicts (only with >= 3 runs a side), Mann-Whitney only with
enough runs, moved breakpoints (claimed only when both fits are confident about the difference)."""
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from synthetic import SIZES, peak_at, runs_table

from pmcsuite.analysis import overhead
from pmcsuite.analysis.breakpoints import BreakpointFit, Breakpoint
from pmcsuite.analysis.overhead import MIN_RUNS, TOO_FEW, describe_mode, moved, ratio_ci, verdict
from pmcsuite.errors import PmcsuiteError

pytestmark = pytest.mark.filterwarnings("error")


def table(variants, runs=11, **kwargs):
    """variants: name -> function(log2 size) giving MiB/s."""
    return runs_table(variants, runs=runs, **kwargs)


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
    assert verdict(0.985, 1.01) == "negligible"
    assert verdict(0.85, 0.95) == "slowdown"
    assert verdict(1.05, 1.15) == "speedup"
    assert verdict(0.9, 1.1) == "inconclusive"
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
    assert {m["variant"]: m["moved_verdict"] for m in d["modes"]} == {"same_shape": "not moved", "shifted": "moved"}
    assert "Per IPC mode" in res.summary()
    assert "moved (4K, 64K, 256K -> 16K, 64K)" in describe_mode(modes.reset_index().iloc[1])


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


def _fit(claimed, boot_sets, sizes=SIZES[:11]):
    """A BreakpointFit with the given claimed sizes and bootstrap sets (only what ``moved`` reads)."""
    bps = [Breakpoint(size=c, ci_low=c, ci_high=c, slope_before=1.0, slope_after=-1.0, kind="peak", support=0.9)
           for c in claimed]
    same = np.mean([tuple(b) == tuple(claimed) for b in boot_sets])
    return BreakpointFit(label="bw", unit="MiB/s", scale="linear", sizes=list(sizes), medians=[1.0] * len(sizes),
                         n_runs=[4] * len(sizes), fitted=[1.0] * len(sizes), breakpoints=bps,
                         n_boot=len(boot_sets), max_possible=3, agreement=float(same), boot_sets=list(boot_sets))


def test_a_breakpoint_the_other_fit_nearly_found_is_unclear_not_moved():
    # the real local-mode case: baseline claims none but finds 256K in 62 % of its resamples
    base = _fit([], [(262144,)] * 62 + [()] * 38)
    inst = _fit([262144], [(262144,)] * 87 + [()] * 13)
    result, note = moved(base, inst)
    assert result is None and "62%" in note
    row = {"ipc": "local", "variant": "pmc", "n_sizes": 11, "median_ratio": 0.8, "min_ratio": 0.7,
           "max_ratio": 1.1, "baseline_breakpoints": [], "variant_breakpoints": [262144],
           "breakpoints_moved": result, "moved_note": note, "moved_verdict": "unclear"}
    text = describe_mode(row)
    assert "unclear (none -> 256K" in text and "moved (" not in text
    # the same difference is a move when the baseline rarely finds 256K
    assert moved(_fit([], [(262144,)] * 10 + [()] * 90), inst)[0] is True
    # within one size step is no move at all
    assert moved(_fit([131072], [(131072,)] * 100), inst)[0] is False


@pytest.mark.parametrize("seed", [2, 9, 11])
def test_same_shape_with_a_weak_extra_breakpoint_is_unclear(seed):
    # same curve shape, 4 runs, 15 % noise (like a busy VM): these draws give the two fits different
    # claimed sets, because one fit narrowly claims (or narrowly misses) an extra breakpoint
    curves = {"baseline": peak_at(16), "pmc": lambda x: 0.8 * peak_at(16)(x)}
    res = overhead(table(curves, runs=4, noise=0.15, sizes=SIZES[:11], seed=seed))
    row = res.modes.iloc[0]
    assert row["baseline_breakpoints"] != row["variant_breakpoints"]
    assert row["breakpoints_moved"] is None and row["moved_verdict"] == "unclear"
    assert "unclear" in describe_mode(row) and "bootstrap resamples" in describe_mode(row)


def test_two_runs_a_side_give_a_ratio_but_no_interval_and_no_verdict():
    half = lambda x: 500 + 0 * x  # noqa: E731
    curves = {"baseline": lambda x: 1000 + 0 * x, "pmc": half}
    assert MIN_RUNS == 3
    two = overhead(table(curves, runs=2, noise=0.01, sizes=SIZES[:3]), breakpoints=False)
    assert (two.cells["verdict"] == TOO_FEW).all()
    assert two.cells["ci_low"].isna().all() and two.cells["ci_high"].isna().all()
    assert two.cells["ratio"].between(0.48, 0.52).all()           # the ratio is still reported
    row = two.modes.iloc[0]
    assert row["n_too_few"] == 3 and row["n_negligible"] == 0
    text = describe_mode(row)
    assert "0.50x the baseline" in text and "fewer than 3 runs on a side at every size" in text
    assert "at least 3 runs on each side" in two.summary()
    d = json.loads(json.dumps(two.to_dict(), allow_nan=False))
    assert d["min_runs"] == 3 and d["cells"][0]["ci_low"] is None and d["cells"][0]["verdict"] == TOO_FEW
    # three a side: an interval and a verdict
    three = overhead(table(curves, runs=3, noise=0.01, sizes=SIZES[:3]), breakpoints=False)
    assert (three.cells["verdict"] == "slowdown").all() and three.cells["ci_high"].lt(1).all()
    assert three.modes.iloc[0]["n_too_few"] == 0 and "fewer than" not in describe_mode(three.modes.iloc[0])
    # one side short is enough to withhold the verdict
    uneven = table(curves, runs=5, noise=0.01, sizes=SIZES[:2])
    uneven = uneven[~((uneven["variant"] == "pmc") & (uneven["run"] > 2))]     # warm-up + 2 measured runs
    res = overhead(uneven, breakpoints=False)
    assert list(res.cells["n_inst"]) == [2, 2] and (res.cells["verdict"] == TOO_FEW).all()
    with pytest.raises(PmcsuiteError, match="min_runs"):
        overhead(uneven, min_runs=1)


def test_the_real_l41_sample_has_too_few_runs_for_verdicts(tmp_path):
    import pmcsuite

    fixtures = Path(__file__).parent / "fixtures" / "l41"
    src = tmp_path / "l41"
    src.mkdir()
    for f in fixtures.glob("run*.txt"):
        shutil.copy(f, src)
    shutil.copy(fixtures / "manifest.csv", src)
    df = pmcsuite.load(pmcsuite.import_l41(src, tmp_path / "res"))
    res = overhead(df, breakpoints=False)
    cells = res.cells.set_index(["variant", "buffer_size"])
    assert (res.cells["n_base"] == 2).all() and (res.cells["verdict"] == TOO_FEW).all()
    assert res.cells[["ci_low", "ci_high"]].isna().all().all()
    # l1d at 64K: medians of the two runs each side, from the files (KBytes/sec)
    base = (557770.59 + 554593.18) / 2    # run00002/3
    inst = (229171.03 + 246475.71) / 2    # run00018/19
    ratio = cells.loc[("l1d", 65536), "ratio"]
    assert ratio == pytest.approx(inst / base, rel=1e-9) and math.isfinite(ratio)
    assert all("fewer than 3 runs on a side" in describe_mode(r) for r in res.modes.to_dict("records"))
