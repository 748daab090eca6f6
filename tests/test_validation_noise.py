"""bench/validation_noise.py: the synthetic sweeps of issue 15's validation have collect's shape and the
noise they claim (processes, shared process level, warm-ups, slow runs, drift, planted effects)."""
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import validation_noise as vn  # noqa: E402
from pmcsuite.schema import DEFAULT_SWEEP as DEFAULT, QUICK_SWEEP as QUICK, REFERENCE_IPCS  # noqa: E402
from pmcsuite.results.load import GROUP_KEYS, measured  # noqa: E402
from pmcsuite.sizes import parse_sizes  # noqa: E402

pytestmark = pytest.mark.unit

QUIET = vn.Noise(0.0, 0.0, 0.0, 0.0)
COLUMNS = ["ipc", "actors", "placement", "buffer_size", "total_size", "run", "process", "iteration", "warmup",
           "variant", "ok", "loop_ns", "bandwidth", "writes", "reads", "shared_cpu"]


def curve_of(df, curves=("hockney", "logistic", "flat_top")):
    """Each run's noiseless baseline bandwidth (its mode's curve at its size)."""
    by_ipc = dict(zip(REFERENCE_IPCS, curves))
    return np.array([float(vn.CURVES[by_ipc[i]](s)) for i, s in zip(df["ipc"], df["buffer_size"])])


@pytest.mark.parametrize("sweep, settings", [("default", DEFAULT), ("quick", QUICK)])
def test_layout_is_collects(sweep, settings):
    df, drawn = vn.sweep_table(np.random.default_rng(1), sweep=sweep)
    assert set(COLUMNS + GROUP_KEYS) <= set(df.columns)
    sizes, runs = parse_sizes(settings["sizes"]), settings["runs"]
    processes = drawn["settings"]["processes"]
    variants = ["baseline", *vn.PASSES]
    assert len(df) == len(REFERENCE_IPCS) * len(sizes) * len(variants) * runs
    cells = df.groupby(["ipc", "buffer_size", "variant"])
    assert cells.size().eq(runs).all() and len(cells) == len(df) // runs
    assert cells["process"].nunique().eq(processes).all()            # each point from `processes` processes
    assert cells["run"].apply(lambda r: sorted(r) == list(range(runs))).all()
    per_process = df.groupby("process")
    assert per_process["variant"].nunique().eq(1).all()               # a process runs one variant
    points = per_process.apply(lambda p: p[["ipc", "buffer_size"]].drop_duplicates().shape[0])
    assert points.max() == settings["points_per_process"] and points.min() >= 1
    assert (df["process"].diff().fillna(0) >= 0).all()                # numbered in execution order
    # warm-ups: every point's first `warmup` iterations in each process
    assert df["warmup"].eq(df["iteration"] < settings["warmup"]).all()
    assert cells["warmup"].sum().eq(processes * settings["warmup"]).all()
    assert df["ok"].all() and not df["shared_cpu"].any() and df["process"].dtype == "Int64"
    np.testing.assert_allclose(df["loop_ns"], df["total_size"] / df["bandwidth"] * 1e9)


def test_process_level_is_shared_by_the_points_of_a_process():
    df, _ = vn.sweep_table(np.random.default_rng(2), noise=vn.Noise(0.08, 0.0, 0.0, 0.0))
    m = measured(df).copy()
    m["level"] = np.log(m["bandwidth"] / curve_of(m))
    spread = m.groupby("process")["level"].agg(lambda v: v.max() - v.min())
    assert spread.max() < 1e-9                                        # one level per process, every point
    levels = m.groupby("process")["level"].first()
    assert 0.04 < levels.std() < 0.14 and levels.nunique() == len(levels)


def test_slow_runs_warm_ups_and_drift():
    df, drawn = vn.sweep_table(np.random.default_rng(3), noise=vn.Noise(0.0, 0.0, 0.0, 0.05))
    ratio = df["bandwidth"] / curve_of(df)
    slow = np.zeros(len(df), bool)
    slow[drawn["slow_rows"]] = True
    assert 0.02 < slow.mean() < 0.09 and (slow & ~df["warmup"].to_numpy()).any()
    fast = ~slow & ~df["warmup"].to_numpy()
    np.testing.assert_allclose(ratio[fast], 1.0)
    assert ratio[slow & ~df["warmup"].to_numpy()].between(vn.SLOW_FACTOR[0], vn.SLOW_FACTOR[1]).all()
    first = df.groupby("process").head(1).index                      # the cold first iteration of a process
    cold = ratio[first][~slow[first]]
    assert cold.between(*vn.COLD_FACTOR).all() and len(cold) > 10
    # drift alone: the level moves monotonically over execution order by `drift` in all
    df, drawn = vn.sweep_table(np.random.default_rng(4), noise=vn.Noise(0.0, 0.0, 0.04, 0.0))
    m = measured(df)
    level = np.log(m["bandwidth"] / curve_of(m)).to_numpy()
    steps = np.diff(level) * drawn["drift_sign"]
    assert (steps > 0).all() and math.isclose(abs(level[-1] - level[0]), 0.04, rel_tol=0.02)


def test_planted_effects_and_curves():
    df = vn.table(np.random.default_rng(5), noise=QUIET, effects=vn.PLANTED_EFFECTS)
    m = measured(df).groupby(["ipc", "buffer_size", "variant"])["bandwidth"].first().unstack("variant")
    ratio_a = m[vn.PASSES[0]] / m["baseline"]
    ratio_b = m[vn.PASSES[1]] / m["baseline"]
    np.testing.assert_allclose(ratio_a, 0.85)
    half = (vn.HALF_CELL[1], vn.HALF_CELL[2])
    assert ratio_b[half] == pytest.approx(0.5) and np.allclose(ratio_b.drop(half), 1.0)
    assert vn.truth(vn.PLANTED_EFFECTS, vn.PASSES[1], "pipe", [1024, 65536]) == pytest.approx(math.sqrt(0.5))
    t0, r_inf = 4e-6, 6e9
    assert vn.hockney(t0 * r_inf, t0, r_inf) == pytest.approx(r_inf / 2)
    top = [float(vn.flat_top(1 << k)) for k in range(10, 25)]
    assert max(top) == top[6] == top[10] and top[5] < top[6] and top[11] < top[10]    # flat 64K..1M
    for name in vn.SMOOTH:
        y = np.log([float(vn.CURVES[name](1 << k)) for k in range(10, 25)])
        assert (np.diff(y) > 0).all(), name                          # smooth and rising, no breakpoint


def test_conditions_are_well_formed():
    names = [c.name for c in vn.CONDITIONS]
    assert len(set(names)) == len(names)
    assert {c.sweep for c in vn.CONDITIONS if c.effects is vn.PLANTED_EFFECTS} == {"default", "quick"}
    assert vn.HALF_CELL[2] in parse_sizes(QUICK["sizes"])
    with pytest.raises(SystemExit, match="unknown condition"):
        vn.condition("nope")
