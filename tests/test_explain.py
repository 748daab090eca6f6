"""Findings a person can trust (issue 15): each mode's model and its departures, located inflexion
points only where the curve leaves the model abruptly, flat peak regions, the counters tried once per
result set for every finding's range, the JSON contract, the report's figures, the Cortex-A8 sample."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sweeps
from synthetic import TOTAL, add_counter

from pmcsuite.analysis import ALIGN_NOTE, explain, findings, findings_dict, per_call, per_kib, sentences
from pmcsuite.analysis.findings import INFLEXION_KINDS, KINDS
from pmcsuite.analysis.labels import counter_labels, short_description

pytestmark = [pytest.mark.unit, pytest.mark.filterwarnings("error")]   # no RuntimeWarning/statsmodels warning may leak

K = 1024
CURVES = {"pipe": sweeps.level_off(20e-6, at=64 * K, fall=0.3),        # rises steeply, falls from 64K
          "local": sweeps.flat_top(start=16 * K, stop=64 * K),           # a flat top 16K-64K
          "tcp": sweeps.hockney(4e-6, 6e9)}                               # the per-call model only


def axi_per_kib(x):
    """Flat 0.5 per KiB up to 64K, rises 4x per doubling to 256K, flat beyond (16x in all)."""
    return 0.5 * 4 ** (min(max(x, 16), 18) - 16)


def sweep(seed=0, curves=CURVES):
    """Baseline + pass 'bus' (axi_read; instructions unsupported) + pass 'misc' (noise, syscalls_write),
    every point's runs from 3 benchmark processes."""
    df = sweeps.process_sweep(curves, seed=seed, variants=("baseline", "bus", "misc"))
    add_counter(df, "axi_read", axi_per_kib, variant="bus", noise=0.03, seed=seed + 1)
    add_counter(df, "instructions", None, variant="bus", status="not_supported")
    add_counter(df, "noise", lambda x: 3.0, variant="misc", noise=0.05, seed=seed + 2)
    add_counter(df, "syscalls_write", lambda x: 1024 / 2 ** x, variant="misc")
    return df


@pytest.fixture(scope="module")
def expl():
    return explain(sweep(), n_boot=50)


@pytest.fixture(scope="module")
def doc(expl):
    return json.loads(json.dumps(findings_dict(expl), allow_nan=False))


def check_finding(f):
    """The JSON contract of one finding (findings.py docstring)."""
    assert f["kind"] in KINDS
    assert ("ipcs" in f) == (f["kind"] == "crossover") and ("ipc" in f) != ("ipcs" in f)
    assert ("size" in f) or ("from_size" in f and "to_size" in f)
    lo, hi = f["size_interval"]
    assert isinstance(lo, int) and isinstance(hi, int) and lo <= hi
    m = f["measured"]
    assert {"size", "value", "ci", "unit"} <= set(m) and m["unit"] == "bytes/s"
    if m["ci"][0] is not None:
        assert m["ci"][0] <= m["value"] <= m["ci"][1]
    if f["kind"] in ("level-off", "fall", "rise", "departure"):
        assert f["located"] == (f["kind"] != "departure")
        assert f["direction"] in ("below", "above") and lo < hi == f["from_size"] <= f["to_size"]
        assert (f["by"] < 0) == (f["direction"] == "below")
        a, b = f["by_interval"]
        assert a <= f["by"] <= b and (b < 0 if f["direction"] == "below" else a > 0)   # verdict = interval
        assert f["model"]["r_inf"][1] <= f["model"]["r_inf"][0] <= f["model"]["r_inf"][2]
    if f["kind"] == "peak":
        assert isinstance(f["flat"], bool) and lo <= f["size"] <= hi
        assert ("from_size" in f) == f["flat"]
    for c in f["counters"]:
        assert {"id", "fold_change", "p_adjusted"} <= set(c)
    assert f["reliability"] in ("reliable", "unreliable")
    assert bool(f["reliability_reasons"]) == (f["reliability"] == "unreliable")
    assert isinstance(f["sentence"], str) and f["sentence"]


def test_every_mode_carries_its_model_and_departures(expl):
    for _ipc, m in expl.modes.items():
        assert m.bandwidth_source == "baseline" and m.model is not None
        assert {"t0_ns", "r_inf", "n_half", "h"} <= set(m.model.to_dict())
        for d in m.departures:
            assert {"from_size", "to_size", "by", "direction"} <= set(d)
        assert set(m.cells["buffer_size"]) == set(sweeps.SIZES)
        assert (m.cells["n_processes"] == 3).all() and (m.cells["median"] == m.cells["centre"]).all()
    assert expl.modes["tcp"].departures == [] and expl.modes["tcp"].model.per_call
    d = expl.modes["pipe"].departures[0]
    assert d["located"] and d["kind"] == "fall" and d["size_interval"] == [64 * K, 128 * K]


def test_findings_follow_the_json_contract(doc):
    assert doc["format_version"] == 3 and set(INFLEXION_KINDS) == {"level-off", "fall", "rise", "peak"}
    for f in doc["findings"]:
        check_finding(f)
    pipe = [f for f in doc["findings"] if f.get("ipc") == "pipe"]
    fall = next(f for f in pipe if f["kind"] == "fall")
    assert fall["size_interval"] == [64 * K, 128 * K] and fall["from_size"] == 128 * K
    assert fall["measured"]["size"] == 128 * K and fall["model"]["at"][str(128 * K)] > fall["measured"]["value"]
    peak = next(f for f in doc["findings"] if f.get("ipc") == "local" and f["kind"] == "peak")
    assert peak["flat"] and peak["from_size"] <= 16 * K and peak["to_size"] >= 64 * K
    assert not any(f["kind"] in INFLEXION_KINDS for f in doc["findings"] if f.get("ipc") == "tcp")
    model = doc["modes"]["pipe"]["model"]
    assert model["fit_sizes"][-1] == 64 * K and doc["modes"]["pipe"]["departures"][0]["kind"] == "fall"
    assert doc["modes"]["pipe"]["unmeasured"] == {"instructions": "not_supported"}
    assert ALIGN_NOTE in doc["notes"] and doc["labels"]["axi_read"] == "AXI bus reads"
    assert len(doc["sentences"]) >= len(doc["findings"])


def test_measured_values_are_the_points_levels(expl, doc):
    from pmcsuite.analysis.inference import point_table
    df = sweep()
    base = df[(df["variant"] == "baseline") & ~df["warmup"] & (df["ipc"] == "pipe")]
    table = point_table(base, ["buffer_size"]).set_index("buffer_size")
    fall = next(f for f in doc["findings"] if f.get("ipc") == "pipe" and f["kind"] == "fall")
    assert fall["measured"]["value"] == pytest.approx(table.loc[128 * K, "centre"])
    assert fall["measured"]["ci"] == pytest.approx([table.loc[128 * K, "ci_low"], table.loc[128 * K, "ci_high"]])


def test_counters_are_tried_once_per_result_set_for_every_finding_range(monkeypatch):
    from pmcsuite.analysis import attribution
    calls = []
    real = attribution.attribute_changes

    def spy(runs, changes, counters, **kw):
        calls.append((set(runs["ipc"]), list(changes), list(counters)))
        return real(runs, changes, counters, **kw)
    monkeypatch.setattr(attribution, "attribute_changes", spy)
    ex = explain(sweep(), with_overhead=False)
    assert len(calls) == 1
    ipcs, changes, counters = calls[0]
    assert ipcs == set(CURVES) and {"axi_read", "noise", "syscalls_write"} <= set(counters)
    assert [(c.ipc, c.from_size, c.to_size) for c in changes] == [(ipc, a, b) for ipc, m in ex.modes.items()
                                                                   for a, b in m.changes]
    found = findings(ex)
    fall = next(f for f in found if f.get("ipc") == "pipe" and f["kind"] == "fall")
    assert (64 * K, fall["to_size"]) in ex.modes["pipe"].changes
    assert fall["counters_tried"] >= 1 and all(c["id"] != "cycles" for c in fall["counters"])


def test_unsupported_and_constant_counters_are_noted_never_zero():
    df = sweep()
    add_counter(df, "page_faults", lambda x: 1024 / TOTAL, variant="misc")      # one fault per run
    ex = explain(df, with_overhead=False)
    m = ex.modes["pipe"]
    assert m.unmeasured == {"instructions": "not_supported"} and "instructions" not in m.table.columns
    assert m.constant == {"page_faults": 1.0} and "page_faults" not in m.counter_cells
    assert any("constant across sizes" in n and "page_faults (1 per run)" in n for n in m.notes)
    assert "page_faults" not in list(m.correlations["counter"])


def test_normalisation_per_kib_and_per_call_and_alignment(expl):
    df = sweep()
    bus = df[(df["variant"] == "bus") & ~df["warmup"] & (df["buffer_size"] == 1024)]
    assert per_kib(bus, "axi_read").median() == pytest.approx(0.5, rel=0.05)
    misc = df[(df["variant"] == "misc") & ~df["warmup"]]
    assert np.allclose(per_call(misc, "syscalls_write"), 1.0)
    assert per_call(misc.assign(writes=0), "syscalls_write").isna().all()
    table = expl.modes["pipe"].table
    assert list(table["buffer_size"]) == sweeps.SIZES
    assert table[["bandwidth_mib_s", "axi_read", "noise", "syscalls_write"]].notna().all().all()
    assert np.allclose(table["syscalls_write_per_write"], 1.0) and "axi_read_per_write" not in table.columns
    cells = expl.modes["pipe"].counter_cells["axi_read"]
    assert (cells["ci_low"] <= cells["median"]).all() and (cells["median"] <= cells["ci_high"]).all()


def test_crossover_is_read_off_intervals():
    fast_then_slow = sweeps.level_off(2e-6, 8e9, at=16 * K, fall=0.3)
    ex = explain(sweeps.process_sweep({"local": fast_then_slow, "tcp": sweeps.hockney(4e-6, 4e9)}, seed=1))
    cross = [f for f in findings(ex) if f["kind"] == "crossover"]
    assert len(cross) == 1 and cross[0]["ipcs"] == ["local", "tcp"]
    assert cross[0]["measured"]["ci"][1] < cross[0]["measured_other"]["ci"][0]
    check_finding(json.loads(json.dumps(cross[0], allow_nan=False)))


def test_no_baseline_pools_runs_and_says_so():
    df = sweep()
    ex = explain(df[df["variant"] != "baseline"], with_overhead=False)
    assert ex.overhead is None and ex.modes["pipe"].bandwidth_source == "all runs pooled"
    assert any("no baseline" in n for n in ex.modes["pipe"].notes)


def test_cortex_a8_sample(tmp_path):
    """4 sizes, 2 runs each (each its own process): too few sizes to test a departure; any peak claimed
    is the measured top; every value is the points' level."""
    import pmcsuite

    out = tmp_path / "l41"
    pmcsuite.import_l41([Path(__file__).resolve().parent / "fixtures" / "l41"], out)
    df = pmcsuite.load(out)
    doc = json.loads(json.dumps(findings_dict(df), allow_nan=False))
    for f in doc["findings"]:
        check_finding(f)
    m = doc["modes"]["pipe"]
    assert m["departures"] == [] and m["model"] is None
    assert any("too few to show where the curve leaves" in s for s in doc["sentences"])
    assert not any(f["kind"] in ("level-off", "fall", "rise", "departure") for f in doc["findings"])
    cells = pd.DataFrame(m["cells"]).set_index("buffer_size")
    assert cells["median"].idxmax() == 65536 and cells.loc[65536, "median"] / 2 ** 20 == pytest.approx(543, abs=3)
    for f in doc["findings"]:
        if f["kind"] == "peak":
            assert f["size"] == 65536


def test_report_sections_and_figures(tmp_path):
    from pmcsuite.report import Section
    from pmcsuite.report.analysis_sections import analysis_sections
    from pmcsuite.report.findings_section import mode_caption, plot_mode

    df = sweep()
    sections = analysis_sections(df, {"plan": {"ipc": ["pipe", "local", "tcp"]}}, tmp_path, n_boot=50)
    assert [s.title.split("— ")[-1] for s in sections[:3]] == ["pipe", "local", "tcp"]
    assert all(isinstance(s, Section) for s in sections)
    for s in sections:
        for fig in s.figures:
            assert fig.path.exists() and fig.path.stat().st_size > 1000
            assert "segmented" not in fig.caption and "breakpoint" not in fig.caption
    assert "| reliability |" in sections[0].markdown and "segmented" not in sections[0].markdown
    ex = explain(df, with_overhead=False)
    found = findings(ex)
    for ipc, m in ex.modes.items():
        mine = [f for f in found if f.get("ipc") == ipc]
        path = plot_mode(m, ipc, mine, tmp_path / f"{ipc}.png")
        assert path.stat().st_size > 1000
        caption = mode_caption(m, ipc, mine)
        assert ("located inflexion" in caption) == bool(m.model.located)
        assert ("flat region" in caption) == any(f["kind"] == "peak" and f["flat"] for f in mine)
        assert ("beyond" in caption) == (m.model.fit_sizes[-1] < m.model.sizes[-1])


def test_explain_plot_and_summary(expl):
    fig = expl.plot()
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) >= 3
    text = expl.summary()
    assert "fall (located)" in text and "peak region" in text
    frame = expl.to_frame()
    assert set(frame["kind"]) <= set(KINDS) and len(frame) == len(findings(expl))


def test_sentences_cover_every_finding(expl):
    said = sentences(expl)
    assert all(f["sentence"] in said for f in findings(expl))


def test_counter_labels_from_the_catalogue():
    labels = counter_labels(["syscalls_read", "task_clock", "not_in_catalogue"])
    assert labels == {"syscalls_read": "read() calls", "task_clock": "CPU time",
                      "not_in_catalogue": "not_in_catalogue"}
    assert short_description("Read traffic on the AXI bus to DRAM/IO (Cortex-A8); bus read accesses") == \
        "read traffic on the AXI bus to DRAM/IO"
    assert short_description("L1 data cache refills (misses that allocate a line)") == "L1 data cache refills"


def test_bad_input_is_one_line_error():
    from pmcsuite.errors import PmcsuiteError
    with pytest.raises(PmcsuiteError):
        explain(pd.DataFrame({"ipc": ["pipe"]}))
