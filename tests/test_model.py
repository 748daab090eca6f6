"""The model of a bandwidth curve (``analysis.model``): parameters recovered within their intervals,
departures found where a regime changes and not on smooth curves, flat tops and single peaks; and the
helpers every analysis module reads the table with (``analysis.runs``)."""
import json

import numpy as np
import pandas as pd
import pytest
import sweeps
from synthetic import peak_then_plateau, runs_table

from pmcsuite.analysis import counter_columns, measured_runs
from pmcsuite.analysis.model import INFLEXION_KINDS, fit_model, flat_ranges, point_levels, top
from pmcsuite.errors import PmcsuiteError

pytestmark = [pytest.mark.unit, pytest.mark.filterwarnings("error")]   # no RuntimeWarning may leak


def _table(curve, seed=0):
    return runs_table({"baseline": curve}, runs=10, noise=0.05, seed=seed)


def test_measured_runs_and_counter_columns():
    with pytest.raises(PmcsuiteError):
        measured_runs(pd.DataFrame({"ipc": ["pipe"]}))
    df = _table(peak_then_plateau)
    df["axi_read"], df["axi_read_status"] = 1.0, "ok"
    df["instructions"], df["instructions_status"] = np.nan, "not_supported"
    assert counter_columns(df) == ["axi_read", "instructions"]
    df.attrs["counters"] = ["instructions"]
    assert counter_columns(df) == ["instructions"]

K = 1024
SEEDS = range(10)


def curve_runs(curves: dict, seed: int, **noise):
    """Measured runs of a synthetic sweep: {ipc: curve}; default noise: process CV 6 %, iteration CV 2 %,
    3 % slow runs."""
    df = sweeps.process_sweep(curves, seed=seed, **noise)
    return df[~df["warmup"]]


def per_mode(curves: dict, seed: int, **noise) -> dict:
    runs = curve_runs(curves, seed, **noise)
    return {ipc: runs[runs["ipc"] == ipc] for ipc in curves}


def test_model_parameters_are_recovered_within_their_intervals():
    truth = {"pipe": (2e-6, 4e9), "local": (1e-6, 8e9), "tcp": (5e-6, 2e9)}
    inside, per_call = {"t0_ns": 0, "r_inf": 0, "n_half": 0}, 0
    n = 0
    for seed in range(20):
        for ipc, runs in per_mode({k: sweeps.hockney(*v) for k, v in truth.items()}, seed).items():
            t0, r = truth[ipc]
            m = fit_model(runs)
            for name, value in (("t0_ns", t0 * 1e9), ("r_inf", r), ("n_half", t0 * r)):
                est, lo, hi = getattr(m, name)
                assert lo <= est <= hi
                inside[name] += lo <= value <= hi
            per_call += m.per_call
            n += 1
    # 95 % intervals: measured coverage 91-97 % over 180 curves (bench/validation_findings.py)
    assert all(v >= 0.85 * n for v in inside.values()), inside
    assert per_call >= 0.85 * n


def test_no_departure_on_the_per_call_model_and_no_located_point_on_smooth_curves():
    curves = {"pipe": sweeps.hockney(4e-6, 6e9), "local": sweeps.log_saturating(), "tcp": sweeps.logistic()}
    departed = 0
    for seed in SEEDS:
        models = {ipc: fit_model(runs) for ipc, runs in per_mode(curves, seed).items()}
        departed += bool(models["pipe"].departures)
        for ipc, m in models.items():
            assert not m.located, (seed, ipc, m.summary())
            assert all(d.kind == "departure" for d in m.departures)
    assert departed <= 1


def test_planted_fall_at_64k_is_located_between_64k_and_128k():
    sharp = sweeps.level_off(20e-6, at=64 * K, fall=0.3)          # rises steeply to 64K, then falls 30 % a doubling
    for seed in SEEDS:
        m = fit_model(per_mode({"pipe": sharp}, seed)["pipe"])
        d = m.departures[0]
        assert d.located and d.kind == "fall" and d.direction == "below"
        assert tuple(d.size_interval) == (64 * K, 128 * K) and d.from_size == 128 * K
        assert d.by < 0 and d.by_interval[1] < 0                    # measured below the model, interval too
        assert m.fit_sizes[-1] == 64 * K


def test_location_interval_comes_from_the_data():
    runs = per_mode({"pipe": sweeps.level_off(5e-6, fall=0.15)}, 3)["pipe"]
    m = fit_model(runs)
    table = m.table.set_index("buffer_size")
    for d in m.departures:
        last, first = d.size_interval
        assert table.loc[first, "status"] == d.direction            # the first size clearly off
        assert last < first and table.loc[last, "status"] in ("fit", "on model")
        assert all(table.loc[s, "status"] == d.direction for s in d.sizes)


def test_flat_top_is_a_peak_region_and_a_sharp_top_a_single_peak():
    for seed in SEEDS:
        modes = per_mode({"pipe": sweeps.flat_top(start=16 * K, stop=64 * K),
                          "local": sweeps.flat_top(start=32 * K, stop=128 * K)}, seed)
        for ipc, (a, b) in (("pipe", (16 * K, 64 * K)), ("local", (32 * K, 128 * K))):
            t = top(*point_levels(modes[ipc]))
            assert t is not None and t.flat and t.from_size <= a and t.to_size >= b, (seed, ipc, t)
        sharp = curve_runs({"pipe": sweeps.level_off(20e-6, fall=0.4)}, seed, pcv=0.03, icv=0.01, slow=0.01)
        t = top(*point_levels(sharp))
        assert t is not None and not t.flat and t.size == t.from_size == t.to_size == 64 * K
        assert t.below == (32 * K, 128 * K)


def test_monotone_curves_have_no_peak_and_flat_ranges_need_flat_levels():
    curves = {"pipe": sweeps.hockney(), "local": sweeps.log_saturating()}
    for seed in SEEDS[:4]:
        for ipc, runs in per_mode(curves, seed).items():
            sizes, levels = point_levels(runs)
            assert top(sizes, levels) is None
            for r in flat_ranges(sizes, levels):
                true = curves[ipc](np.array([s for s in sizes if r["from_size"] <= s <= r["to_size"]]))
                assert len(true) >= 3 and true.max() / true.min() < 1.2   # where the curve has levelled off
                assert r["ci"][0] <= r["value"] <= r["ci"][1]


def test_model_results_are_json_and_text_and_small_grids_say_why():
    runs = per_mode({"pipe": sweeps.level_off(20e-6, fall=0.3)}, 0)["pipe"]
    m = fit_model(runs)
    d = json.loads(json.dumps(m.to_dict(), allow_nan=False))
    assert {"t0_ns", "r_inf", "n_half", "h", "departures", "sizes", "fit_sizes"} <= set(d)
    assert d["departures"][0]["kind"] in INFLEXION_KINDS and "fall" in m.summary()
    few = runs[runs["buffer_size"].isin([1024, 4096, 65536, 1 << 20])]
    assert fit_model(few) is None                                   # 4 sizes: none left to test a model on
    assert fit_model(runs[runs["buffer_size"] <= 16 * K]) is not None
    single = runs.assign(process=None)                              # one process a run: still a model
    assert fit_model(single) is not None
