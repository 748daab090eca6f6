"""Probe-effect analysis: ratios, exact bootstrap intervals, verdicts (only with >= 3 runs a side) corrected
across the result set (Holm for slowdown/speedup, TOST + Benjamini-Hochberg for negligible), Mann-Whitney
with enough runs and a permutation test below, reliability, the JSON contract, moved breakpoints (claimed
only when both fits are confident about the difference)."""
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from synthetic import SIZES, peak_at, runs_table

from pmcsuite.analysis import overhead
from pmcsuite.analysis.breakpoints import BreakpointFit, Breakpoint
from pmcsuite.analysis.overhead import (MIN_RUNS, TOO_FEW, _mwu_p, cell_verdict, describe_cell, describe_mode,
                                        format_interval, median_table, moved, permutation_p, ratio_ci, verdict)
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


def test_mann_whitney_from_nine_runs_per_side_permutation_below():
    same = lambda x: 1000 + 0 * x  # noqa: E731
    eight = overhead(table({"baseline": same, "pmc": same}, runs=8, sizes=SIZES[:3]), breakpoints=False)
    assert eight.cells["p_value"].notna().all() and (eight.cells["test"] == "permutation").all()
    nine = overhead(table({"baseline": same, "pmc": same}, runs=9, sizes=SIZES[:3]), breakpoints=False)
    assert nine.cells["p_value"].notna().all() and (nine.cells["test"] == "mann-whitney").all()
    # exact permutation p-values on the difference of medians: 3 v 3 completely separated, 4 of the 20
    # splits are as extreme two-sided (the observed one, the swap of the outer values, their mirrors)
    assert permutation_p([1.0, 1.1, 1.2], [2.0, 2.1, 2.2]) == pytest.approx(0.2)
    assert permutation_p([1.0, 1.1, 1.2], [2.0, 2.1, 2.2], "greater") == pytest.approx(0.1)
    assert permutation_p([1.0, 1.1, 1.2], [2.0, 2.1, 2.2], "less") == pytest.approx(1.0)
    # the exact Mann-Whitney distribution agrees with scipy's
    from scipy.stats import mannwhitneyu
    rng = np.random.default_rng(3)
    for _ in range(50):
        x, y = rng.normal(size=10), rng.normal(size=12) + rng.normal()
        for alt in ("two-sided", "greater", "less"):
            assert _mwu_p(x, y, alt) == pytest.approx(mannwhitneyu(y, x, alternative=alt, method="exact").pvalue)


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
    assert "at least 3 runs on each side" in " ".join(two.summary().split())    # wrapped at 100 columns
    d = json.loads(json.dumps(two.to_dict(), allow_nan=False))
    assert d["min_runs"] == 3 and d["cells"][0]["ci_low"] is None and d["cells"][0]["verdict"] == TOO_FEW
    assert d["cells"][0]["p_value"] is None and d["cells"][0]["p_corrected"] is None
    # three a side: an interval and a verdict, but a 3 v 3 permutation test cannot go below p = 0.1,
    # so even a halving is not a *significant* slowdown (a deliberate change: it was called one before)
    three = overhead(table(curves, runs=3, noise=0.01, sizes=SIZES[:3]), breakpoints=False)
    assert (three.cells["verdict"] == "inconclusive").all() and three.cells["ci_high"].lt(1).all()
    assert three.modes.iloc[0]["n_too_few"] == 0 and "fewer than" not in describe_mode(three.modes.iloc[0])
    six = overhead(table(curves, runs=6, noise=0.01, sizes=SIZES[:3]), breakpoints=False)
    assert (six.cells["verdict"] == "slowdown").all()
    # one side short is enough to withhold the verdict
    uneven = table(curves, runs=5, noise=0.01, sizes=SIZES[:2])
    uneven = uneven[~((uneven["variant"] == "pmc") & (uneven["run"] > 2))]     # warm-up + 2 measured runs
    res = overhead(uneven, breakpoints=False)
    assert list(res.cells["n_variant"]) == [2, 2] and (res.cells["verdict"] == TOO_FEW).all()
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
    assert (res.cells["n_baseline"] == 2).all() and (res.cells["verdict"] == TOO_FEW).all()
    assert res.cells[["ci_low", "ci_high"]].isna().all().all()
    # l1d at 64K: medians of the two runs each side, from the files (KBytes/sec)
    base = (557770.59 + 554593.18) / 2    # run00002/3
    inst = (229171.03 + 246475.71) / 2    # run00018/19
    ratio = cells.loc[("l1d", 65536), "ratio"]
    assert ratio == pytest.approx(inst / base, rel=1e-9) and math.isfinite(ratio)
    assert all("fewer than 3 runs on a side" in describe_mode(r) for r in res.modes.to_dict("records"))


# ----------------------------------------------------------------------------------------------
# Verdicts under control (issue 8, item 1)

def _sweep(seed, noise=0.03, ratio=1.0, runs=10, ipcs=("pipe", "local", "local-s")):
    base = peak_at(16)
    return table({"baseline": base, "pmc": lambda x: ratio * base(x)}, runs=runs, noise=noise, seed=seed,
                 ipcs=ipcs)


def test_holm_correction_is_applied_across_every_cell():
    from statsmodels.stats.multitest import multipletests
    # find no-effect sweeps with a cell whose raw p < 0.05 and whose interval excludes 1: uncorrected,
    # it would be called a slowdown or a speedup
    tempted = 0
    for seed in range(12):
        res = overhead(_sweep(seed), breakpoints=False)
        c = res.cells
        assert len(c) == 45
        assert np.allclose(c["p_corrected"], multipletests(c["p_value"], method="holm")[1])
        assert np.allclose(c["equivalence_p_corrected"], multipletests(c["equivalence_p"], method="fdr_bh")[1])
        raw = c[(c["p_value"] < 0.05) & ((c["ci_high"] < 1) | (c["ci_low"] > 1))]
        tempted += len(raw)
        assert not raw["verdict"].isin(["slowdown", "speedup"]).any()
        assert ((c["verdict"] == "slowdown") <= ((c["p_corrected"] < 0.05) & (c["ci_high"] < 1))).all()
    assert tempted >= 3          # the check above was exercised


def test_too_few_runs_cells_are_not_in_the_family():
    df = _sweep(0, ipcs=("pipe",))
    few = df[~((df["variant"] == "pmc") & (df["buffer_size"] == 1024) & (df["run"] > 2))]
    res = overhead(few, breakpoints=False)
    c = res.cells.set_index("buffer_size")
    assert c.loc[1024, "verdict"] == TOO_FEW and math.isnan(c.loc[1024, "p_corrected"])
    assert res.n_tested == 14


def test_negligible_is_reachable_and_a_real_slowdown_is_not_negligible():
    res = overhead(_sweep(1), breakpoints=False)          # no effect, 10 runs a side, CV 3 %
    share = (res.cells["verdict"] == "negligible").mean()
    assert share >= 0.7, share
    assert (res.cells["equivalence_p_corrected"][res.cells["verdict"] == "negligible"] < 0.05).all()
    slow = overhead(_sweep(1, ratio=0.92), breakpoints=False)    # 8 % slower: beyond the 5 % margin
    assert not (slow.cells["verdict"] == "negligible").any()
    assert (slow.cells["verdict"] == "slowdown").mean() >= 0.9
    # a 3 % slowdown measured at CV 1 %: within a 10 % margin (equivalence shown), but a significant
    # change wins: it is a slowdown with its size, not "negligible"
    small = overhead(_sweep(2, noise=0.01, ratio=0.97, ipcs=("pipe",)), breakpoints=False, margin=0.1)
    assert (small.cells["equivalence_p_corrected"] < 0.05).all()
    assert (small.cells["verdict"] == "slowdown").all()
    assert small.to_dict()["margin"] == 0.1


def test_cell_verdict_rules():
    assert cell_verdict(0.9, 0.95, 0.01, 0.9) == "slowdown"
    assert cell_verdict(1.05, 1.1, 0.01, 0.9) == "speedup"
    assert cell_verdict(0.9, 0.95, 0.06, 0.9) == "inconclusive"      # interval excludes 1, not significant
    assert cell_verdict(0.98, 1.01, 0.01, 0.9) == "inconclusive"     # significant, interval includes 1
    assert cell_verdict(0.98, 1.01, 0.5, 0.01) == "negligible"
    assert cell_verdict(0.97, 0.99, 0.01, 0.01) == "slowdown"        # a real change inside the margin
    assert cell_verdict(float("nan"), float("nan"), 0.0, 0.0) == TOO_FEW


def test_noisy_or_shared_cells_are_unreliable_and_say_so():
    df = _sweep(4, ipcs=("pipe",))
    noisy_size, shared_size = 4096, 65536
    rng = np.random.default_rng(0)
    rows = (df["buffer_size"] == noisy_size) & (df["variant"] == "baseline")
    df.loc[rows, "bandwidth"] *= 1 + 0.25 * rng.standard_normal(rows.sum())
    df["shared_cpu"] = False
    shared = (df["buffer_size"] == shared_size) & (df["variant"] == "pmc") & df["run"].isin([1, 2, 3])
    df.loc[shared, "shared_cpu"] = True
    res = overhead(df, breakpoints=False)
    c = res.cells.set_index("buffer_size")
    assert c.loc[noisy_size, "reliability"] == "unreliable"
    assert any(r.startswith("baseline cv ") and r.endswith("> 10%") for r in c.loc[noisy_size, "reasons"])
    assert c.loc[shared_size, "reliability"] == "unreliable"
    assert c.loc[shared_size, "reasons"] == ["3 of 10 pmc runs shared the CPU"]
    others = c.drop([noisy_size, shared_size])
    assert (others["reliability"] == "reliable").all() and all(r == [] for r in others["reasons"])
    assert "unreliable" in describe_cell(c.loc[shared_size].to_dict() | {"buffer_size": shared_size})
    mode = res.modes.iloc[0]
    assert mode["n_unreliable"] == 2
    text = describe_mode(mode)
    assert "unreliable at 2 of 15 sizes" in text and "64K: 3 of 10 pmc runs shared the CPU" in text
    text = " ".join(res.summary().split())
    assert "Unreliable cells:" in text and "shared the CPU" in text
    # a stricter threshold marks more cells; NA in shared_cpu counts as not shared
    df["shared_cpu"] = df["shared_cpu"].astype(object)
    df.loc[df.index[:3], "shared_cpu"] = None
    strict = overhead(df, breakpoints=False, cv_threshold=0.01)
    assert (strict.cells["reliability"] == "unreliable").sum() > 2


CONTRACT = ["ipc", "variant", "buffer_size", "ratio", "ci_low", "ci_high", "p_value", "p_corrected",
            "equivalence_p_corrected", "verdict", "change_pct", "n_baseline", "n_variant", "reliability", "reasons"]


def test_json_contract():
    res = overhead(_sweep(5, ipcs=("pipe", "local")), breakpoints=False)
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert d["correction"] == "holm" and d["equivalence_correction"] == "fdr_bh"
    assert d["margin"] == 0.05 and d["alpha"] == 0.05 and d["ci"] == 0.95 and d["resamples"] == "exact"
    assert d["cv_threshold"] == 0.10 and d["min_runs"] == 3
    assert isinstance(d["cells"], list) and len(d["cells"]) == 30
    for cell in d["cells"]:
        assert set(CONTRACT) <= set(cell)
        assert cell["verdict"] in ("slowdown", "speedup", "negligible", "inconclusive", TOO_FEW)
        assert isinstance(cell["buffer_size"], int) and isinstance(cell["n_baseline"], int)
        assert cell["ci_low"] <= cell["ratio"] <= cell["ci_high"]
        assert cell["p_corrected"] >= cell["p_value"]
        assert cell["reliability"] in ("reliable", "unreliable") and isinstance(cell["reasons"], list)
        assert cell["change_pct"] == pytest.approx((cell["ratio"] - 1) * 100)
        assert "n_base" not in cell           # legacy DataFrame aliases stay out of the contract
    for mode in d["modes"]:
        assert {"n_slowdown", "n_speedup", "n_negligible", "n_inconclusive", "n_too_few", "n_unreliable",
                "unreliable", "moved_verdict"} <= set(mode)


def test_exact_bootstrap_table_matches_resampling():
    for n in (3, 4, 9, 10):
        a, b, p = median_table(n)
        assert p.sum() == pytest.approx(1) and (p > 0).all()
        rng = np.random.default_rng(n)
        idx = np.sort(rng.integers(0, n, (200_000, n)), axis=1)
        k = n // 2
        i1, i2 = (idx[:, k - 1], idx[:, k]) if n % 2 == 0 else (idx[:, k], idx[:, k])
        freq = np.bincount(i1 * n + i2, minlength=n * n) / len(i1)
        exact = np.zeros(n * n)
        exact[a * n + b] = p
        assert np.abs(freq - exact).max() < 0.005


def test_printed_intervals_are_stable_across_seeds_and_agree_with_resampling():
    df = _sweep(6, noise=0.05)
    printed = [[format_interval(lo, hi) for lo, hi in zip(r.cells["ci_low"], r.cells["ci_high"])]
               for r in (overhead(df, breakpoints=False, seed=s) for s in (0, 1, 2))]
    same = np.mean([a == b == c for a, b, c in zip(*printed)])
    assert same >= 0.95, same
    # the exact interval is what a large Monte Carlo bootstrap converges to
    rng = np.random.default_rng(0)
    for _ in range(5):
        base, inst = 1000 * (1 + 0.05 * rng.standard_normal(10)), 950 * (1 + 0.05 * rng.standard_normal(10))
        _, lo, hi = ratio_ci(base, inst)
        _, mlo, mhi = ratio_ci(base, inst, n_boot=200_000, rng=rng)
        assert lo == pytest.approx(mlo, abs=0.003) and hi == pytest.approx(mhi, abs=0.003)


def test_a_full_sweep_is_analysed():
    """All 90 cells of a full sweep (the time is bench/bench_analysis_speed.py's to measure)."""
    base = peak_at(16)
    df = table({"baseline": base, "pmc": lambda x: 0.9 * base(x), "l1d": base}, runs=10,
               ipcs=("pipe", "local", "local-s"))
    res = overhead(df, breakpoints=False)
    assert len(res.cells) == 90
