"""Probe-effect analysis on the benchmark process as the unit: the overall verdict per IPC mode and pass
first, cells with simultaneous intervals, verdicts read off the interval beside them, what would reach a
verdict, reliability from the processes' spread, the JSON contract, moved breakpoints (claimed only when
both fits are confident about the difference)."""
import json
import math
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import sweeps
from collected import sweep
from synthetic import peak_at, runs_table

from pmcsuite.analysis import inference as inf
from pmcsuite.analysis import overhead
from pmcsuite.analysis.display import interval, level_text
from pmcsuite.analysis.overhead import TOO_FEW, VERDICTS, describe_cell, describe_mode
from pmcsuite.schema import DEFAULT_SWEEP as DEFAULT, QUICK_SWEEP as QUICK
from pmcsuite.errors import PmcsuiteError

pytestmark = [pytest.mark.unit, pytest.mark.filterwarnings("error")]
SMALL = [1 << k for k in range(10, 17)]          # 1K..64K: 7 sizes keep the sweeps quick
PLAN = dict(runs=DEFAULT["runs"], processes=DEFAULT["processes"], points_per_process=DEFAULT["points_per_process"])


def _called(res) -> bool:
    """Any verdict of a change, overall or at a size."""
    return bool(res.cells["verdict"].isin(["slower", "faster"]).any()
                or res.modes["overall_verdict"].isin(["slower", "faster"]).any())


def test_a_planted_overall_slowdown_is_found_first():
    df = sweep(3, ratio=0.85, process_cv=0.10, iteration_cv=0.03, slow=0.02, **PLAN)
    res = overhead(df, breakpoints=False)
    assert len(res.modes) == 3 and len(res.cells) == 45
    assert (res.modes["overall_verdict"] == "slower").all()
    assert ((res.modes["overall_ci_low"] < 0.85) & (res.modes["overall_ci_high"] > 0.85)).sum() >= 2
    row = res.modes.iloc[0]
    text = describe_mode(row)
    assert text.startswith(f"{row['ipc']}, pass pmc: costs ") and "of the bandwidth [" in text
    assert interval(row["overall_ci_low"], row["overall_ci_high"]) in text
    assert level_text(res.overall_level) in text and res.overall_level == inf.family_level(0.025, 3)
    summary = str(res.summary())
    assert summary.index("Overhead per IPC mode and pass") < summary.index("Per size:")


def test_no_effect_sweeps_rarely_give_a_verdict():
    """20 no-effect sweeps of the default plan (process CV 6 %, iteration CV 2 %, 2 % slow iterations):
    at most one has any verdict of a change, overall or at a size (the two families spend 2.5 % each)."""
    called = [_called(overhead(sweep(seed, ipcs=("pipe", "local"), sizes=SMALL, slow=0.02, **PLAN),
                               breakpoints=False)) for seed in range(20)]
    assert sum(called) <= 1, called


def test_verdicts_and_intervals_never_disagree():
    seen = set()
    for seed, ratio in ((1, 1.0), (2, 0.9), (3, 0.5), (4, 1.1)):
        res = overhead(sweep(seed, ratio=ratio, ipcs=("pipe",), sizes=SMALL, process_cv=0.05, **PLAN),
                       breakpoints=False)
        for r in res.cells.to_dict("records"):
            assert r["verdict"] == inf.verdict(r["ci_low"], r["ci_high"])
            assert r["ci_low"] <= r["ratio"] <= r["ci_high"]
            if r["ci_high"] < 1 or r["ci_low"] > 1:
                assert r["verdict"] in ("slower", "faster")
            seen.add(r["verdict"])
        for r in res.modes.to_dict("records"):
            assert r["overall_verdict"] == inf.verdict(r["overall_ci_low"], r["overall_ci_high"])
            head = describe_mode(r).split(" over ")[0]
            assert "not established" not in head or r["overall_ci_low"] <= 1 <= r["overall_ci_high"]
            seen.add(r["overall_verdict"])
    assert {"slower", "faster", "not established"} <= seen       # the checks above were exercised


@pytest.mark.parametrize("plan", [DEFAULT, QUICK], ids=["default", "quick"])
def test_one_slow_run_does_not_flip_a_verdict(plan):
    """A run at 0.3x moves its point's level by far less than a mean of the runs would (-12 % with 10
    runs): a slowdown stays a slowdown with a slow baseline run, no effect stays without a verdict with
    a slow pass run; with either plan of collect."""
    plan = dict(runs=plan["runs"], processes=plan["processes"], points_per_process=plan["points_per_process"])
    for ratio, side in ((0.75, "baseline"), (1.0, "pmc")):
        df = sweep(7, ratio=ratio, ipcs=("pipe",), sizes=SMALL, process_cv=0.03, **plan)
        before = overhead(df, breakpoints=False)
        for size in SMALL[::2]:
            slowed = df.copy()
            at = slowed.index[(slowed["buffer_size"] == size) & (slowed["variant"] == side) & ~slowed["warmup"]][0]
            slowed.loc[at, "bandwidth"] *= 0.3
            after = overhead(slowed, breakpoints=False)
            assert list(after.cells["verdict"]) == list(before.cells["verdict"]), (ratio, size)
            assert list(after.modes["overall_verdict"]) == list(before.modes["overall_verdict"])
            change = after.cells["ratio"] / before.cells["ratio"]
            assert change.between(0.97, 1.03).all(), (ratio, size)
        called = before.cells["verdict"].isin(["slower", "faster"])
        assert called.all() if ratio < 1 else not called.any()


def test_a_verdict_not_reached_says_what_would_reach_one():
    df = sweep(2, ratio=0.97, ipcs=("pipe",), sizes=SMALL, runs=9, processes=3, process_cv=0.08)
    row = overhead(df, breakpoints=False).modes.iloc[0]
    assert row["overall_verdict"] == "not established"
    need = row["processes_needed"]
    assert need > row["processes"] == 3
    assert f"{need} processes per point (now 3) would detect a 5 % change" in describe_mode(row)
    # what it says is what processes_needed computes from the overall's standard error
    assert 0 < row["overall_mde"] < 1


def test_negligible_is_reachable():
    df = sweep(5, ipcs=("pipe",), process_cv=0.01, iteration_cv=0.01, **PLAN)
    row = overhead(df, breakpoints=False).modes.iloc[0]
    assert row["overall_verdict"] == "negligible"
    assert 0.95 <= row["overall_ci_low"] and row["overall_ci_high"] <= 1.05
    assert "costs nothing material" in describe_mode(row)


def test_one_process_a_side_gives_a_ratio_but_no_interval():
    df = sweep(1, ratio=0.5, ipcs=("pipe",), sizes=SMALL[:3], runs=4, processes=1, points_per_process=1)
    res = overhead(df, breakpoints=False)
    assert (res.cells["verdict"] == TOO_FEW).all() and res.cells[["ci_low", "ci_high"]].isna().all().all()
    assert res.cells["ratio"].between(0.4, 0.6).all()
    row = res.modes.iloc[0]
    assert row["overall_verdict"] == TOO_FEW and row["n_too_few"] == 3
    assert "too few processes for an interval or a verdict" in describe_mode(row)
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert d["cells"][0]["ci_low"] is None and d["modes"][0]["overall_ci_low"] is None


def test_an_l41_import_without_processes_still_works(tmp_path):
    """Runs without a process number (the L41 import) are each their own process."""
    import pmcsuite
    fixtures = Path(__file__).parent / "fixtures" / "l41"
    src = tmp_path / "l41"
    src.mkdir()
    for f in fixtures.glob("run*.txt"):
        shutil.copy(f, src)
    shutil.copy(fixtures / "manifest.csv", src)
    df = pmcsuite.load(pmcsuite.import_l41(src, tmp_path / "res"))
    res = overhead(df, breakpoints=False)
    assert (res.cells["n_baseline"] == 2).all() and (res.cells["p_baseline"] == 2).all()
    assert set(res.cells["verdict"]) <= set(VERDICTS)
    # l1d at 64K: two processes a side, so the level is the geometric mean of the two runs (KBytes/sec)
    base = math.sqrt(557770.59 * 554593.18)    # run00002/3
    inst = math.sqrt(229171.03 * 246475.71)    # run00018/19
    cell = res.cells.set_index(["variant", "buffer_size"]).loc[("l1d", 65536)]
    assert cell["ratio"] == pytest.approx(inst / base, rel=1e-9)
    assert cell["ci_low"] <= cell["ratio"] <= cell["ci_high"]
    assert all(describe_mode(r) for r in res.modes.to_dict("records"))


def test_no_baseline_is_an_error():
    df = sweep(1, ipcs=("pipe",), sizes=SMALL[:2], baseline=False)
    with pytest.raises(PmcsuiteError, match="baseline"):
        overhead(df)


def test_processes_that_differ_or_shared_the_cpu_are_unreliable_and_say_so():
    df = sweep(4, ipcs=("pipe",), sizes=SMALL, process_cv=0.01, **PLAN)
    noisy, shared = 4096, 65536
    rows = (df["buffer_size"] == noisy) & (df["variant"] == "baseline")
    other = sorted(df.loc[rows, "process"].unique())[::2]
    df.loc[rows & df["process"].isin(other), "bandwidth"] *= 1.3         # every other process in another regime
    measured = df.index[(df["buffer_size"] == shared) & (df["variant"] == "pmc") & ~df["warmup"]]
    df.loc[measured[:3], "shared_cpu"] = True
    res = overhead(df, breakpoints=False)
    c = res.cells.set_index("buffer_size")
    assert c.loc[noisy, "reliability"] == "unreliable"
    reason = c.loc[noisy, "reasons"][0]
    printed, limit = map(float, re.match(r"baseline processes differ by ([\d.]+) % \(> (\d+) %\)", reason).groups())
    assert printed > limit                          # never "10 % > 10 %"
    assert c.loc[shared, "reasons"] == [f"3 of {c.loc[shared, 'n_variant']} pmc runs shared the CPU"]
    others = c.drop([noisy, shared])
    assert (others["reliability"] == "reliable").all()
    assert "unreliable" in describe_cell(c.loc[shared].to_dict() | {"buffer_size": shared})
    text = describe_mode(res.modes.iloc[0])
    assert "unreliable at 2 of 7 sizes (4K, 64K)" in text


CELLS = ["ipc", "variant", "buffer_size", "ratio", "ci_low", "ci_high", "level", "verdict", "mde", "n_baseline",
         "n_variant", "p_baseline", "p_variant", "baseline_mib_s", "variant_mib_s", "reliability", "reasons"]
MODES = ["ipc", "variant", "n_sizes", "overall_ratio", "overall_ci_low", "overall_ci_high", "overall_verdict",
         "overall_mde", "level", "processes", "processes_needed", "median_ratio", "n_slower", "n_faster",
         "n_negligible", "n_not_established", "n_too_few", "n_unreliable", "breakpoints_moved", "moved_verdict"]


def test_json_contract():
    res = overhead(sweep(5, ratio=0.9, ipcs=("pipe", "local"), sizes=SMALL, passes=("a", "b"), **PLAN),
                   breakpoints=False)
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert d["alpha"] == 0.05 and d["family_alpha"] == 0.025 and d["margin"] == 0.05 and d["min_processes"] == 2
    assert d["cell_level"] == pytest.approx(inf.family_level(0.025, 28))
    assert d["overall_level"] == pytest.approx(inf.family_level(0.025, 4))
    assert len(d["cells"]) == 28 and len(d["modes"]) == 4
    for cell in d["cells"]:
        assert set(CELLS) <= set(cell) and cell["verdict"] in VERDICTS
        assert cell["ci_low"] <= cell["ratio"] <= cell["ci_high"]
        assert cell["ratio"] == pytest.approx(cell["variant_mib_s"] / cell["baseline_mib_s"])
        assert isinstance(cell["buffer_size"], int) and isinstance(cell["p_baseline"], int)
    for mode in d["modes"]:
        assert set(MODES) <= set(mode)
        assert mode["n_sizes"] == sum(mode[f"n_{v}"] for v in ("slower", "faster", "negligible", "not_established",
                                                                "too_few"))


def test_kernel_view_words_follow_the_verdict():
    from pmcsuite.report.kernel_sections import _probe_effect
    probe = pd.DataFrame([{"ipc": "pipe", "variant": "syscalls", "overall_ratio": 0.69, "overall_ci_low": 0.6,
                           "overall_ci_high": 0.8, "overall_verdict": "slower", "level": 0.99, "median_ratio": 0.7,
                           "min_ratio": 0.6, "max_ratio": 0.8, "n_sizes": 5},
                          {"ipc": "local", "variant": "syscalls", "overall_ratio": 0.99, "overall_ci_low": 0.97,
                           "overall_ci_high": 1.01, "overall_verdict": "negligible", "level": 0.99,
                           "median_ratio": 0.99, "min_ratio": 0.97, "max_ratio": 1.0, "n_sizes": 5}])
    text = _probe_effect(["syscalls"], probe)
    assert "cost little" not in text
    assert "pipe with syscalls: costs 31 % of the bandwidth" in text and "local with syscalls: costs nothing" in text


# ----------------------------------------------------------------------------------------------
# Inflexion points moved (``moved``: isolated; these use runs without processes)

def table(variants, runs=11, **kwargs):
    return runs_table(variants, runs=runs, **kwargs)


def _two_curves(base_curve, pass_curve, seed=5, **kwargs):
    """A baseline with one curve and a pass with another, laid out like collect's processes."""
    base = sweeps.process_sweep({"pipe": base_curve}, seed=seed, pcv=0.02, icv=0.01, slow=0.0, **kwargs)
    inst = sweeps.process_sweep({"pipe": pass_curve}, seed=seed + 1, pcv=0.02, icv=0.01, slow=0.0,
                                variants=("pmc",), **kwargs)
    inst["process"] += int(base["process"].max()) + 1
    return pd.concat([base, inst], ignore_index=True)


def test_inflexion_points_moved_or_not():
    """The per-call model's located inflexion points of the baseline and the pass: a pass that only
    scales the curve moves nothing; one whose fall starts at 16K instead of 64K moved it."""
    same = overhead(_two_curves(sweeps.level_off(fall=0.3), lambda n: 0.7 * sweeps.level_off(fall=0.3)(n)))
    row = same.modes.iloc[0]
    assert row["breakpoints_moved"] is not None and not row["breakpoints_moved"]
    assert row["moved_verdict"] == "not moved"
    assert row["baseline_breakpoints"] and row["variant_breakpoints"] == row["baseline_breakpoints"]
    shifted = overhead(_two_curves(sweeps.level_off(fall=0.3), sweeps.level_off(at=1 << 14, fall=0.3)))
    row = shifted.modes.iloc[0]
    assert row["breakpoints_moved"] and row["moved_verdict"] == "moved", row["moved_note"]
    assert "moved (" in describe_mode(row)
    d = json.loads(json.dumps(shifted.to_dict(), allow_nan=False))
    assert d["modes"][0]["moved_verdict"] == "moved"


def test_moved_is_unknown_without_a_model():
    base = peak_at(16)
    res = overhead(table({"baseline": base, "pmc": lambda x: 0.5 * base(x)}, sizes=[1024, 65536, 131072, 1 << 20]))
    row = res.modes.iloc[0]
    assert row["breakpoints_moved"] is None and "unknown" in describe_mode(row)
