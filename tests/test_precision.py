"""analysis.precision: how precisely each point's level over its processes is known, and how many whole
processes --target-ci adds (what its between-process spread needs, not one at a time)."""
import math

import numpy as np
import pandas as pd
import pytest
from collected import sweep
from scipy import stats

import pmcsuite
from pmcsuite.collect import sweep as collect_sweep
from pmcsuite.analysis import inference as inf
from pmcsuite.analysis.precision import _df, median_interval, needs_runs, precision, processes_wanted

pytestmark = pytest.mark.e2e


def test_order_statistics_bracket_the_median():
    assert median_interval(range(1, 11)) == (2.0, 9.0)        # n = 10: x(2), x(9), coverage 97.9 %
    assert median_interval([5, 1, 4, 2, 3, 6]) == (1.0, 6.0)  # n = 6: the extremes, coverage 96.9 %
    assert all(math.isnan(v) for v in median_interval([1, 2, 3, 4, 5]))   # n = 5 cannot reach 95 %
    assert all(math.isnan(v) for v in median_interval([]))


def _rows(spreads, processes=3, iterations=4):
    """Two cells, each ``processes`` processes of ``iterations`` (the first a warm-up); process k of a
    cell is 1 + spread x (k - 1) times as fast."""
    rows, number = [], 0
    for size, spread in spreads:
        for k in range(processes):
            for i in range(iterations):
                rows.append({"ipc": "pipe", "actors": "2thread", "placement": None, "buffer_size": size,
                             "variant": "baseline", "ok": True, "warmup": i == 0, "process": number,
                             "bandwidth": 100.0 * (1 + spread * (k - 1)) * (1 + 0.001 * i)})
            number += 1
    return pd.DataFrame(rows)


def test_precision_is_over_processes_and_names_what_needs_more():
    table = precision(_rows(((4096, 0.001), (65536, 0.10))))
    assert list(table["n"]) == [9, 9] and list(table["n_processes"]) == [3, 3]    # warm-ups left out
    assert table["placement"].isna().all()
    small, large = table["half_width_pct"]
    assert small < 1 < large
    # the level's interval: the t interval of the three process medians (2 degrees of freedom)
    y = np.log(np.array([90.0, 100.0, 110.0]) * 1.002)       # each process: the median of its 3 runs
    half = stats.t.ppf(0.975, 2) * np.std(y, ddof=1) / math.sqrt(3)
    row = table.iloc[1]
    assert row["ci_low"] == pytest.approx(math.exp(y.mean() - half), rel=1e-3)
    assert row["ci_high"] == pytest.approx(math.exp(y.mean() + half), rel=1e-3)
    assert list(needs_runs(table, 1.0)["buffer_size"]) == [65536]


def test_runs_without_a_process_are_each_their_own():
    df = _rows(((4096, 0.01),)).drop(columns="process")
    row = precision(df).iloc[0]
    assert row["n_processes"] == row["n"] == 9


def test_one_process_has_no_interval_and_needs_a_second():
    row = precision(_rows(((4096, 0.01),), processes=1)).iloc[0]
    assert row["n_processes"] == 1 and math.isnan(row["half_width_pct"])
    assert processes_wanted(1, float("nan"), 2.0) == 2


def test_processes_wanted_is_the_fewest_that_reach_the_target():
    for p, now, target in ((3, 10.0, 2.0), (4, 5.0, 1.0), (7, 3.0, 2.5), (2, 40.0, 10.0)):
        n = processes_wanted(p, now, target)
        h, goal = math.asinh(now / 100), math.asinh(target / 100)
        se = h / stats.t.ppf(0.975, _df(p))
        width = lambda m, se=se, p=p: stats.t.ppf(0.975, _df(m)) * se * math.sqrt(p / m)   # noqa: E731
        assert width(n) <= goal < width(n - 1), (p, now, target, n)
    assert processes_wanted(5, 1.0, 2.0) == 5                   # already there: nothing to add
    assert processes_wanted(3, 10.0, 2.0) > processes_wanted(3, 10.0, 5.0) > 3


def test_precision_of_a_collected_sweep_narrows_with_processes():
    """The same noise, 3 or 9 processes a point: the level's interval narrows (about as 1/sqrt)."""
    few = precision(sweep(1, passes=(), ipcs=("pipe",), runs=12, processes=3, process_cv=0.05))
    many = precision(sweep(1, passes=(), ipcs=("pipe",), runs=36, processes=9, process_cv=0.05))
    assert (few["n_processes"] == 3).all() and (many["n_processes"] == 9).all()
    assert many["half_width_pct"].median() < 0.6 * few["half_width_pct"].median()


def test_target_ci_adds_whole_processes_at_once(tmp_path, monkeypatch):
    """An unreachable target: the first round adds every process --max-runs allows (3 processes of 4
    iterations: 8 + 12 = 20 runs), not one process per round."""
    rounds = []
    execute = collect_sweep.execute

    def counting(store, jobs, *args, **kwargs):
        rounds.append(sorted({j.process for j in jobs}))
        return execute(store, jobs, *args, **kwargs)
    monkeypatch.setattr(collect_sweep, "execute", counting)
    out = pmcsuite.collect(out=tmp_path / "t", backend="none", ipcs=["pipe"], sizes="64K", runs=8, processes=2,
                           total="1M", target_ci=0.001, max_runs=20, progress=False)
    assert len(rounds) == 2 and len(rounds[1]) == 3          # the plan, then one round of 3 processes
    df = pmcsuite.load(out)
    assert len(df) == 20 and df["process"].nunique() == 5 and df["warmup"].sum() == 5
    assert (df.groupby("process")["run"].count() == 4).all()
    assert not df.duplicated(["ipc", "buffer_size", "variant", "run"]).any()
    assert set(inf.point_table(df[~df["warmup"]], ["ipc", "buffer_size"])["n_processes"]) == {5}
