"""Which counters explain the inflexion points: attribution, alignment across passes, regression
(screened for constant, duplicate and redundant counters), readable findings (sentences + JSON) and
the report sections."""
import json
import math

import numpy as np
import pandas as pd
import pytest
from synthetic import SIZES, TOTAL, add_counter, runs_table

from pmcsuite.analysis import ALIGN_NOTE, explain, findings_dict, mode_sentences, per_call, per_kib, sentences
from pmcsuite.analysis.explain import format_vif, regress
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
    assert axi.consistent and axi.slope_change == "up"
    assert axi.fold_change == pytest.approx(16, rel=0.3)
    assert axi.variants == ["bus"]
    assert m.counters["noise"].breakpoints == []
    assert all("noise" not in [a.counter for a in a_list] for a_list in m.explained_by)


def test_unsupported_counter_is_never_a_zero(expl):
    m = expl.modes["pipe"]
    assert "instructions" not in m.counters
    assert "instructions" not in m.table.columns
    assert "instructions" not in list(m.correlations["counter"])
    assert "instructions" not in m.regression.counters and "instructions" not in m.regression.dropped
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


def test_regression_and_correlations(expl):
    m = expl.modes["pipe"]
    assert not m.regression.note
    assert 0 <= m.regression.r_squared <= 1
    assert set(m.regression.partial_r2) == {"axi_read", "noise", "syscalls_write"}
    rho = m.correlations.set_index("counter")["rho"]
    assert rho["axi_read"] < -0.2               # more DRAM traffic per KiB where bandwidth is low
    assert abs(rho["noise"]) < abs(rho["axi_read"])
    # collinearity warning among kept counters (r ~ 0.99: correlated, not the same measurement)
    rng = np.random.default_rng(0)
    a = pd.Series(rng.standard_normal(15))
    X = pd.DataFrame({"a": a, "b": a * 2 + 0.2 * rng.standard_normal(15), "c": rng.standard_normal(15)})
    reg = regress(3 * a + 0.1 * rng.standard_normal(15), X)
    assert reg.counters == ["a", "b", "c"] and not reg.dropped
    assert "collinear" in reg.warning and "a" in reg.warning and "c" not in reg.warning.split("(")[1].split(";")[0]
    assert reg.r_squared > 0.99 and reg.r_squared_adj <= reg.r_squared
    assert "too few" in regress(a[:2], X.iloc[:2]).note


def real_like_table(n=11, seed=0):
    """Per-size medians like the real x86 software collection: pipe reads capped at 64K, syscalls_all =
    read + write + 3, sched_switch == context_switches, one page fault per run, zero major faults."""
    rng = np.random.default_rng(seed)
    size = 2.0 ** np.arange(10, 10 + n)
    reads, writes = 1024 / np.minimum(size, 65536), 1024 / size
    ctx = 0.06 * (1 + 0.05 * rng.standard_normal(n))
    X = pd.DataFrame({"syscalls_read": reads, "syscalls_write": writes, "syscalls_all": reads + writes + 3 / 16384,
                      "page_faults": np.full(n, 1 / 16384), "major_faults": np.zeros(n),
                      "context_switches": ctx, "sched_switch": ctx * 1.0000001,
                      "task_clock": 2e-4 + 1e-3 * reads * (1 + 0.1 * rng.standard_normal(n))})
    loop = 300 + 2000 * reads + 500 * writes + 100 * rng.standard_normal(n)
    return pd.Series(loop), X


def test_regression_sets_aside_constant_duplicate_and_redundant_counters():
    y, X = real_like_table()
    reg = regress(y, X)
    assert reg.dropped["page_faults"] == "constant across sizes"
    assert reg.dropped["major_faults"] == "constant across sizes"
    assert reg.dropped["sched_switch"].startswith("same as context_switches")
    assert reg.same_as == {"sched_switch": "context_switches"}
    assert reg.dropped["syscalls_all"].startswith("a linear combination of")
    assert set(reg.counters) == {"syscalls_read", "syscalls_write", "context_switches", "task_clock"}
    assert reg.counters == [c for c in X.columns if c in reg.counters]          # catalogue order
    assert all(0 <= v <= 1 for v in reg.partial_r2.values())                    # no -8e-14
    assert all(math.isfinite(v) and v < 1e6 for v in reg.vif.values())
    assert "set aside" in reg.summary() and "syscalls_all" in reg.summary()
    json.dumps(reg.to_dict(), allow_nan=False)


def test_regression_fits_at_most_sizes_minus_two_counters_by_spearman():
    rng = np.random.default_rng(1)
    n = 6
    y = pd.Series(np.arange(n, dtype=float) + 0.1 * rng.standard_normal(n))
    X = pd.DataFrame({f"c{i}": rng.standard_normal(n) for i in range(6)})
    X["strong"] = y + 0.01 * rng.standard_normal(n)
    reg = regress(y, X)
    assert len(reg.counters) == n - 2 and "strong" in reg.counters
    assert sum("at most 4 counters" in why for why in reg.dropped.values()) == 7 - (n - 2)
    assert math.isfinite(reg.r_squared_adj)


def test_vif_is_rounded_for_people():
    assert format_vif(1.234) == "1.2" and format_vif(67.4) == "67" and format_vif(5e9) == ">1000"
    assert format_vif(float("inf")) == ">1000" and format_vif(None) == ">1000"


def test_findings_sentences_and_json(expl):
    lines = sentences(expl)
    assert any(s.startswith("pipe: bandwidth peaks at") and "AXI bus reads per KiB rise " in s for s in lines)
    assert not any("axi_read" in s for s in lines)                 # readable names, not ids
    bare = sentences(explain(sweep(), n_boot=50, labels={}))
    assert any("axi_read per KiB rises " in s for s in bare)       # singular verb for a bare id
    assert any("with pass bus bandwidth is 0.7" in s for s in lines)
    doc = json.loads(json.dumps(findings_dict(expl), allow_nan=False))
    bps = doc["modes"]["pipe"]["breakpoints"]
    assert bps and {"size", "ci", "slope_before", "slope_after", "kind", "explained_by"} <= set(bps[0])
    assert bps[0]["explained_by"][0]["counter"] == "axi_read"
    assert doc["overhead"]["pipe"]["bus"]["median_ratio"] == pytest.approx(0.7, abs=0.05)
    assert doc["overhead"]["pipe"]["bus"]["breakpoints_moved"] is False
    assert doc["overhead"]["pipe"]["bus"]["moved_verdict"] == "not moved"
    assert doc["labels"]["axi_read"] == "AXI bus reads"
    assert doc["modes"]["pipe"]["unmeasured"] == {"instructions": "not_supported"}
    assert ALIGN_NOTE in doc["notes"]


def test_a_counter_that_falls_then_levels_off_has_slope_change_up():
    # read() calls per KiB fall as 1/size up to 64K (the pipe's capacity), then stay level: the slope goes
    # from -1 to 0 log2-fold per doubling, so it changes *up* although the counter never rises
    df = sweep()
    add_counter(df, "syscalls_read", lambda x: 1024 / 2 ** min(x, 16), variant="misc")
    ex = explain(df, n_boot=50)
    m = ex.modes["pipe"]
    peak = next(i for i, b in enumerate(m.bandwidth.breakpoints) if b.kind == "peak")
    att = next(a for a in m.explained_by[peak] if a.counter == "syscalls_read")
    assert att.breakpoint.slope_before == pytest.approx(-1, abs=0.05)
    assert att.breakpoint.slope_after == pytest.approx(0, abs=0.05)
    assert att.slope_change == "up" and att.consistent
    doc = json.loads(json.dumps(findings_dict(ex), allow_nan=False))
    explained = doc["modes"]["pipe"]["breakpoints"][peak]["explained_by"]
    entry = next(e for e in explained if e["counter"] == "syscalls_read")
    assert entry["slope_change"] == "up" and "direction" not in entry
    assert att.to_dict()["slope_change"] == "up" and "direction" not in att.to_dict()
    assert any("read() calls per KiB stop falling" in s for s in sentences(ex))   # the sentence is unchanged
    table = m.explained_table()
    assert "slope change" in table.columns and "direction" not in table.columns
    assert set(table["slope change"].dropna()) <= {"up", "down"}


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
    assert "Explained by" in pipe.markdown and "Spearman" in pipe.markdown
    assert "| slope change |" in pipe.markdown and "| direction |" not in pipe.markdown
    assert "aligned" in pipe.markdown
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
    assert "CPU time per KiB also changes slope there, but in the same direction as bandwidth, so it does not " \
           "explain it as a cost" in text
    assert "same sense" not in text


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
