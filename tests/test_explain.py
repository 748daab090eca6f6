"""Findings a person can trust (issue 8): measured values with intervals, attribution that can say
"none" (own breakpoint, direction, Holm-corrected bootstrap test; time counters are context), noise
named, findings across modes and ranges, the JSON contract, the report sections, the Cortex-A8 sample."""
import json
import math

import numpy as np
import pandas as pd
import pytest
from synthetic import SIZES, TOTAL, add_counter, runs_table

from pathlib import Path

from pmcsuite.analysis import (ALIGN_NOTE, explain, findings, findings_dict, is_time_counter, mode_sentences, per_call,
                               per_kib, sentences)
from pmcsuite.analysis.findings import KINDS
from pmcsuite.analysis.labels import counter_labels, short_description

pytestmark = pytest.mark.filterwarnings("error")   # no RuntimeWarning/statsmodels warning may leak

RUNS = 10


def bandwidth(x):
    """MiB/s: rises to a peak at 64K, falls to 256K, flat beyond."""
    if x <= 16:
        return 100 + 70 * (x - 10)
    return 520 - 175 * (min(x, 18) - 16)


def axi_per_kib(x):
    """Flat 0.5 per KiB up to 64K, rises 4x per doubling to 256K, flat beyond (16x in all)."""
    return 0.5 * 4 ** (min(max(x, 16), 18) - 16)


def sweep(seed=0, ipcs=("pipe",)):
    """Baseline + pass 'bus' (axi_read, instructions unsupported) + pass 'misc' (noise counter, syscalls)."""
    slow = lambda x: 0.7 * bandwidth(x)  # noqa: E731
    df = runs_table({"baseline": bandwidth, "bus": slow, "misc": slow}, runs=RUNS, noise=0.04, seed=seed, ipcs=ipcs)
    add_counter(df, "axi_read", axi_per_kib, variant="bus", noise=0.03, seed=seed + 1)
    add_counter(df, "instructions", None, variant="bus", status="not_supported")
    add_counter(df, "noise", lambda x: 3.0, variant="misc", noise=0.05, seed=seed + 2)
    add_counter(df, "syscalls_write", lambda x: 1024 / 2 ** x, variant="misc")
    return df


@pytest.fixture(scope="module")
def expl():
    return explain(sweep(), n_boot=100)


def test_planted_counter_explains_the_peak_and_the_noise_counter_does_not(expl):
    m = expl.modes["pipe"]
    assert m.bandwidth_source == "baseline"
    sizes = m.bandwidth.breakpoint_sizes
    assert any(abs(math.log2(s) - 16) <= 1 for s in sizes)
    peak_index = min(range(len(sizes)), key=lambda i: abs(math.log2(sizes[i]) - 16))
    atts = m.explained_by[peak_index]
    names = [a.counter for a in atts]
    assert names[0] == "axi_read"
    assert "noise" not in names
    axi = atts[0]
    assert axi.consistent and axi.slope_change == "up" and axi.named
    assert axi.fold_change == pytest.approx(16, rel=0.3)
    assert axi.variants == ["bus"]
    assert axi.p_adjusted < 0.05 and axi.support >= 0.8
    assert m.counters["noise"].breakpoints == []
    assert all("noise" not in [a.counter for a in a_list] for a_list in m.explained_by)
    tried = {a.counter: a for a in m.tried[peak_index]}
    assert "noise" in tried and not tried["noise"].named and tried["noise"].reason


def test_unsupported_counter_is_never_a_zero(expl):
    m = expl.modes["pipe"]
    assert "instructions" not in m.counters
    assert "instructions" not in m.table.columns
    assert "instructions" not in list(m.correlations["counter"])
    assert m.unmeasured == {"instructions": "not_supported"}


def test_normalisation_per_kib_and_per_call(expl):
    df = sweep()
    bus = df[(df["variant"] == "bus") & ~df["warmup"] & (df["buffer_size"] == 1024)]
    assert per_kib(bus, "axi_read").median() == pytest.approx(0.5, rel=0.05)
    misc = df[(df["variant"] == "misc") & ~df["warmup"]]
    assert np.allclose(per_call(misc, "syscalls_write"), 1.0)     # one write syscall per write() call
    assert per_call(misc.assign(writes=0), "syscalls_write").isna().all()   # unknown, never inf or 0
    assert per_kib(df.iloc[[0]].assign(axi_read=2048.0), "axi_read").iloc[0] == pytest.approx(2048 * 1024 / TOTAL)
    table = expl.modes["pipe"].table
    assert "axi_read_per_write" not in table.columns                # per call only for syscalls
    assert np.allclose(table["syscalls_write_per_write"], 1.0)


def test_counters_from_different_passes_are_aligned_by_size_medians(expl):
    table = expl.modes["pipe"].table
    assert list(table["buffer_size"]) == SIZES
    assert table[["bandwidth_mib_s", "axi_read", "noise", "syscalls_write"]].notna().all().all()
    assert table.loc[table["buffer_size"] == 1024, "syscalls_write_per_write"].iloc[0] == pytest.approx(1.0)
    assert ALIGN_NOTE in expl.notes


def test_findings_sentences_and_json(expl):
    lines = sentences(expl)
    assert any(s.startswith("pipe: bandwidth falls from 64 KiB") and "AXI bus reads per KiB rise " in s for s in lines)
    assert not any("axi_read" in s for s in lines)                 # readable names, not ids
    bare = sentences(explain(sweep(), n_boot=50, labels={}))
    assert any("axi_read per KiB rises " in s for s in bare)       # singular verb for a bare id
    assert any("with pass bus bandwidth is 0.7" in s for s in lines)
    assert not any("R^2" in s for s in lines)                      # the loop-time regression is gone
    doc = json.loads(json.dumps(findings_dict(expl), allow_nan=False))
    assert doc["format_version"] == 2 and doc["settings"]["correction"] == "holm"
    peak = next(f for f in doc["findings"] if f["kind"] == "peak")
    fall = next(f for f in doc["findings"] if f["kind"] == "fall")
    assert fall["counters"][0]["id"] == "axi_read"
    assert doc["overhead"]["pipe"]["bus"]["median_ratio"] == pytest.approx(0.7, abs=0.05)
    assert doc["labels"]["axi_read"] == "AXI bus reads"
    assert doc["modes"]["pipe"]["unmeasured"] == {"instructions": "not_supported"}
    assert ALIGN_NOTE in doc["notes"]
    assert peak["fit"]["value"] != peak["measured"]["value"]       # fit and measurement kept apart


def check_finding(f):
    """The JSON contract of one finding (findings.py docstring)."""
    assert f["kind"] in KINDS
    assert ("ipcs" in f) == (f["kind"] == "crossover") and ("ipc" in f) != ("ipcs" in f)
    assert ("size" in f) or ("from_size" in f and "to_size" in f)
    lo, hi = f["size_interval"]
    assert isinstance(lo, int) and isinstance(hi, int) and lo <= hi
    m = f["measured"]
    assert {"size", "value", "ci", "n", "unit"} <= set(m) and m["ci"][0] <= m["value"] <= m["ci"][1]
    assert m["unit"] in ("bytes/s", "per KiB")
    for c in f["counters"]:
        assert {"id", "fold_change", "support", "p_adjusted"} <= set(c)
    assert f["reliability"] in ("reliable", "unreliable")
    assert bool(f["reliability_reasons"]) == (f["reliability"] == "unreliable")
    assert isinstance(f["sentence"], str) and ("[unreliable" in f["sentence"]) == (f["reliability"] == "unreliable")


def test_json_contract(expl):
    doc = json.loads(json.dumps(findings_dict(expl), allow_nan=False))
    assert doc["findings"] and {f["kind"] for f in doc["findings"]} >= {"peak", "fall", "plateau", "flat"}
    for f in doc["findings"]:
        check_finding(f)
    peak = next(f for f in doc["findings"] if f["kind"] == "peak")
    assert abs(math.log2(peak["size"]) - 16) <= 1
    med = expl.modes["pipe"].cells.set_index("buffer_size").loc[peak["size"], "median"]
    assert peak["measured"]["value"] == pytest.approx(med)        # measured median, bytes/s
    assert peak["measured"]["value"] / (1 << 20) == pytest.approx(520, rel=0.08)


def test_no_counter_qualifies_says_none():
    df = runs_table({"baseline": bandwidth, "misc": bandwidth}, runs=RUNS, noise=0.03)
    for k in range(12):   # twelve unrelated counters: noise, straight lines, a breakpoint far away
        curve = ((lambda x: 3.0) if k % 3 == 0 else (lambda x, k=k: 2.0 ** (0.1 * k * (x - 10))) if k % 3 == 1
                 else (lambda x: 0.5 * 4 ** (min(max(x, 21), 23) - 21)))
        add_counter(df, f"c{k}", curve, variant="misc", noise=0.05, seed=k)
    ex = explain(df, n_boot=100)
    doc = findings_dict(ex)
    fall = next(f for f in doc["findings"] if f["kind"] == "fall")
    assert fall["counters"] == [] and fall["counters_tried"] == 12
    assert "no measured counter changes there (12 tried)" in fall["sentence"]


def test_time_counters_are_context_never_the_explanation():
    df = runs_table({"baseline": bandwidth, "bus": bandwidth}, runs=RUNS, noise=0.03)
    add_counter(df, "axi_read", axi_per_kib, variant="bus", noise=0.03, seed=1)
    add_counter(df, "cycles", lambda x: 1000 / bandwidth(x), variant="bus", noise=0.02, seed=2)
    add_counter(df, "task_clock", lambda x: 1 / bandwidth(x), variant="bus", noise=0.02, seed=3)
    assert is_time_counter("cycles") and is_time_counter("task_clock") and not is_time_counter("axi_read")
    ex = explain(df, n_boot=100)
    fall = next(f for f in findings_dict(ex)["findings"] if f["kind"] == "fall")
    assert [c["id"] for c in fall["counters"]] == ["axi_read"]
    assert {c["id"] for c in fall["context"]} == {"cycles", "task_clock"}
    assert "context (time, not an explanation)" in fall["sentence"]


def test_noisy_or_shared_cells_make_findings_unreliable():
    df = runs_table({"baseline": bandwidth}, runs=RUNS, noise=0.03)
    df["shared_cpu"] = False
    df.loc[(df["buffer_size"] == 65536) & (df["run"] == 3), "shared_cpu"] = True
    ex = explain(df, n_boot=100)
    found = findings(ex)
    peak = next(f for f in found if f["kind"] == "peak")
    assert peak["reliability"] == "unreliable"
    assert any("64K: 1 of 10 runs shared the CPU" in r for r in peak["reliability_reasons"])
    assert "[unreliable: " in peak["sentence"] and "shared the CPU" in peak["sentence"]
    flat = next(f for f in found if f["kind"] == "flat")
    assert flat["reliability"] == "reliable"
    noisy = explain(runs_table({"baseline": bandwidth}, runs=RUNS, noise=0.2), n_boot=100)
    assert all(f["reliability"] == "unreliable" and any("CV" in r for r in f["reliability_reasons"])
               for f in findings(noisy))


def test_crossover_and_flat_range_across_modes():
    local = lambda x: 400 + 0 * x if x <= 16 else 400 - 40 * (x - 16)  # noqa: E731
    local_s = lambda x: 300 + 30 * (x - 10) if x <= 15 else 450 - 80 * (x - 15)  # noqa: E731
    a = runs_table({"baseline": local}, runs=RUNS, noise=0.02, ipcs=("local",), seed=1)
    b = runs_table({"baseline": local_s}, runs=RUNS, noise=0.02, ipcs=("local-s",), seed=2)
    ex = explain(pd.concat([a, b], ignore_index=True), n_boot=100)
    found = findings(ex)
    for f in found:
        check_finding(json.loads(json.dumps(f, allow_nan=False)))
    cross = [f for f in found if f["kind"] == "crossover"]
    assert len(cross) == 1 and cross[0]["ipcs"] == ["local-s", "local"]
    assert cross[0]["from_size"] in (1 << 16, 1 << 17) and cross[0]["to_size"] == SIZES[-1]
    assert cross[0]["measured"]["ci"][1] < cross[0]["measured_other"]["ci"][0]
    flat = [f for f in found if f["kind"] == "flat" and f["ipc"] == "local"]
    assert flat and flat[0]["from_size"] == 1024 and flat[0]["to_size"] >= 1 << 15
    assert "flat (within ±5%)" in flat[0]["sentence"]


def test_cortex_a8_sample_reports_the_64k_peak_and_axi_reads_behind_its_fall(tmp_path):
    import pmcsuite

    out = tmp_path / "l41"
    pmcsuite.import_l41([Path(__file__).resolve().parent / "fixtures" / "l41"], out)
    df = pmcsuite.load(out)
    doc = json.loads(json.dumps(findings_dict(df), allow_nan=False))
    for f in doc["findings"]:
        check_finding(f)
    peak = next(f for f in doc["findings"] if f["kind"] == "peak" and f["ipc"] == "pipe")
    assert peak["size"] == 65536 and peak["fit"] is None           # 4 sizes: measured, not fitted
    base = df[(df["variant"] == "baseline") & (df["buffer_size"] == 65536) & df["ok"]]["bandwidth"]
    assert peak["measured"]["value"] == pytest.approx(base.median())
    assert peak["measured"]["ci"][0] >= base.min() - 1 and peak["measured"]["ci"][1] <= base.max() + 1
    assert peak["measured"]["value"] / 2 ** 20 == pytest.approx(543, abs=3)
    fall = next(f for f in doc["findings"] if f["kind"] == "fall" and f["ipc"] == "pipe")
    assert fall["from_size"] == 65536
    axi = next(c for c in fall["counters"] if c["id"] == "axi_read")
    assert axi["fold_change"] > 10 and axi["per_kib_from"][0] == pytest.approx(3.8, abs=0.2)
    assert "AXI bus reads per KiB rise" in fall["sentence"] and "543 MiB/s" in fall["sentence"]
    assert "cycles" not in [c["id"] for c in fall["counters"]]      # time: context only
    assert all(c["id"] != "l1d_refill" for c in fall["counters"])   # immaterial change: not named
    assert peak["reliability"] == "unreliable"                        # 2 runs a cell, CV 22 % at 1K


def test_explain_of_a_full_sweep_runs():
    """A full sweep's shape (3 modes x 15 sizes x 3 variants); its time is measured by
    bench/bench_analysis_speed.py, not asserted here."""
    variants = {"baseline": bandwidth, "bus": bandwidth, "misc": bandwidth}
    df = runs_table(variants, runs=RUNS, noise=0.05, ipcs=("pipe", "local", "tcp"))
    for k, name in enumerate(["axi_read", "axi_write", "l1d_refill", "instructions", "cycles", "mem_read"]):
        add_counter(df, name, axi_per_kib if k % 2 else (lambda x: 3.0 + x), variant=["bus", "misc"][k % 2],
                    noise=0.03, seed=k)
    result = findings_dict(df)
    assert {f["ipc"] for f in result["findings"] if "ipc" in f} <= {"pipe", "local", "tcp"} and result["findings"]


def test_a_counter_that_falls_then_levels_off_has_slope_change_up():
    # read() calls per KiB fall as 1/size up to 64K (the pipe's capacity), then stay level: the slope goes
    # from -1 to 0 log2-fold per doubling, so it changes *up* although the counter never rises
    df = sweep()
    add_counter(df, "syscalls_read", lambda x: 1024 / 2 ** min(x, 16), variant="misc")
    ex = explain(df, n_boot=50)
    m = ex.modes["pipe"]
    peak = next(i for i, b in enumerate(m.breakpoints) if b.kind == "peak")
    att = next(a for a in m.explained_by[peak] if a.counter == "syscalls_read")
    assert att.counter_breakpoint.slope_before == pytest.approx(-1, abs=0.05)
    assert att.counter_breakpoint.slope_after == pytest.approx(0, abs=0.05)
    assert att.slope_change == "up" and att.consistent
    doc = json.loads(json.dumps(findings_dict(ex), allow_nan=False))
    fall = next(f for f in doc["findings"] if f["kind"] == "fall")
    entry = next(e for e in fall["counters"] if e["id"] == "syscalls_read")
    assert entry["slope_change"] == "up" and "direction" not in entry
    assert any("read() calls per KiB stop falling" in s for s in sentences(ex))


def test_no_baseline_pools_runs_and_says_so():
    df = sweep()
    df = df[df["variant"] != "baseline"]
    ex = explain(df, n_boot=50)
    assert ex.overhead is None
    assert ex.modes["pipe"].bandwidth_source == "all runs pooled"
    assert any("no baseline" in n for n in ex.modes["pipe"].notes)


def test_report_sections(tmp_path):
    from pmcsuite.report import Section
    from pmcsuite.report.analysis_sections import analysis_sections

    df = sweep(ipcs=("pipe", "local"))
    sections = analysis_sections(df, {"plan": {"ipc": ["pipe", "local"]}}, tmp_path, n_boot=50)
    assert [s.title.split("— ")[-1] for s in sections[:2]] == ["pipe", "local"]
    assert all(isinstance(s, Section) for s in sections)
    for s in sections:
        for fig in s.figures:
            assert fig.path.exists() and fig.path.stat().st_size > 1000
    pipe = sections[0]
    assert "peaks at 64 KiB" in pipe.markdown.replace("\\", "")
    assert "Counters tried at each breakpoint" in pipe.markdown and "Spearman" in pipe.markdown
    assert "| reliability |" in pipe.markdown and "95 % interval" in pipe.markdown
    assert "R²" not in pipe.markdown and "aligned" in pipe.markdown
    assert sections[-1].title.startswith("Probe effect") and "| pipe |" in sections[-1].markdown


def test_counter_labels_from_the_catalogue():
    labels = counter_labels(["syscalls_read", "task_clock", "not_in_catalogue"])
    assert labels == {"syscalls_read": "read() calls", "task_clock": "CPU time",
                      "not_in_catalogue": "not_in_catalogue"}
    assert short_description("Read traffic on the AXI bus to DRAM/IO (Cortex-A8); bus read accesses") == \
        "read traffic on the AXI bus to DRAM/IO"
    assert short_description("L1 data cache refills (misses that allocate a line)") == "L1 data cache refills"


def test_counter_changing_with_bandwidth_is_said_not_to_be_a_cost():
    df = runs_table({"baseline": bandwidth, "pass": bandwidth}, runs=RUNS, noise=0.03)
    add_counter(df, "task_clock", lambda x: bandwidth(x) / 1000, variant="pass", noise=0.02, seed=5)
    m = explain(df, n_boot=50).modes["pipe"]
    text = " ".join(mode_sentences(m, {"task_clock": "CPU time"}))
    assert "no measured counter changes there" in text and "CPU time" in text   # time: context only


def test_constant_and_unsupported_counters_are_noted_not_plotted(tmp_path):
    from pmcsuite.report.analysis_sections import analysis_sections

    df = sweep()
    add_counter(df, "page_faults", lambda x: 1024 / TOTAL, variant="misc")     # one fault per run
    ex = explain(df, n_boot=50)
    m = ex.modes["pipe"]
    assert m.constant == {"page_faults": 1.0} and "page_faults" not in m.counters
    assert m.unmeasured == {"instructions": "not_supported"}
    assert any("constant across sizes" in n and "page_faults (1 per run)" in n for n in m.notes)
    assert "page_faults" not in list(m.correlations["counter"])
    sections = analysis_sections(df, {}, tmp_path, n_boot=50)
    caption = next(f.caption for f in sections[0].figures if "counters" in f.path.name)
    assert "page faults (1 per run)" in caption and "instructions (not supported)" in caption
