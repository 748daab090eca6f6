"""Which counters explain the inflexion points: attribution, alignment across passes, regression,
findings (sentences + JSON) and the report sections."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from pmcsuite.analysis import ALIGN_NOTE, explain, findings_dict, normalise, per_kib, sentences
from pmcsuite.analysis.explain import regress

SIZES = [1 << k for k in range(10, 25)]
TOTAL = 1 << 24
RUNS = 10


def bandwidth(x):
    """MiB/s: rises to a peak at 64K, falls to 256K, flat beyond."""
    if x <= 16:
        return 100 + 70 * (x - 10)
    return 520 - 175 * (min(x, 18) - 16)


def axi_per_kib(x):
    """Flat 0.5 per KiB up to 64K, rises 4x per doubling to 256K, flat beyond (16x in all)."""
    return 0.5 * 4 ** (min(max(x, 16), 18) - 16)


def sweep(seed=0, ipcs=("pipe",), shift=0):
    """Baseline + pass 'bus' (axi_read, instructions unsupported) + pass 'misc' (noise counter, syscalls)."""
    rng = np.random.default_rng(seed)
    rows = []
    for ipc in ipcs:
        for size in SIZES:
            x = math.log2(size) - shift
            for variant in ("baseline", "bus", "misc"):
                for run in range(RUNS + 1):
                    mib = bandwidth(x) * (1 + 0.04 * rng.standard_normal()) * (0.7 if variant != "baseline" else 1)
                    row = {"ipc": ipc, "actors": "2thread", "placement": "same", "buffer_size": size,
                           "total_size": TOTAL, "run": run, "warmup": run == 0, "variant": variant, "ok": True,
                           "loop_ns": TOTAL / (mib * (1 << 20)) * 1e9, "bandwidth": mib * (1 << 20),
                           "writes": TOTAL // size, "reads": TOTAL // min(size, 65536),
                           "axi_read": np.nan, "axi_read_status": None, "instructions": np.nan,
                           "instructions_status": None, "noise": np.nan, "noise_status": None,
                           "syscalls_write": np.nan, "syscalls_write_status": None}
                    if variant == "bus":
                        row["axi_read"] = axi_per_kib(x) * TOTAL / 1024 * (1 + 0.03 * rng.standard_normal())
                        row["axi_read_status"] = "ok"
                        row["instructions_status"] = "not_supported"
                    if variant == "misc":
                        row["noise"] = 3.0 * TOTAL / 1024 * (1 + 0.05 * rng.standard_normal())
                        row["noise_status"] = "ok"
                        row["syscalls_write"] = float(TOTAL // size)
                        row["syscalls_write_status"] = "ok"
                    rows.append(row)
    df = pd.DataFrame(rows)
    df.attrs["counters"] = ["axi_read", "instructions", "noise", "syscalls_write"]
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
    assert axi.consistent and axi.direction == "rises"
    assert axi.fold_change == pytest.approx(16, rel=0.3)
    assert axi.variants == ["bus"]
    assert m.counters["noise"].breakpoints == []
    assert all("noise" not in [a.counter for a in a_list] for a_list in m.explained_by)


def test_unsupported_counter_is_never_a_zero(expl):
    m = expl.modes["pipe"]
    assert "instructions" not in m.counters
    assert "instructions" not in m.table.columns
    assert "instructions" not in list(m.correlations["counter"])
    long = normalise(sweep())
    assert "instructions" not in set(long["counter"])
    assert not (long["value"] == 0).any()


def test_normalisation_per_kib_and_per_call():
    df = sweep()
    long = normalise(df)
    axi = long[(long["counter"] == "axi_read") & (long["buffer_size"] == 1024)]
    assert axi["per_kib"].median() == pytest.approx(0.5, rel=0.05)
    assert axi["per_call"].isna().all()                 # per call only for syscalls
    sc = long[long["counter"] == "syscalls_write"]
    assert np.allclose(sc["per_call"], 1.0)              # one write syscall per write() call
    assert per_kib(df.iloc[[0]].assign(axi_read=2048.0), "axi_read").iloc[0] == pytest.approx(2048 * 1024 / TOTAL)


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
    # collinearity warning
    rng = np.random.default_rng(0)
    a = pd.Series(rng.standard_normal(15))
    X = pd.DataFrame({"a": a, "b": a * 2 + 1e-3 * rng.standard_normal(15), "c": rng.standard_normal(15)})
    reg = regress(3 * a + 0.1 * rng.standard_normal(15), X)
    assert "collinear" in reg.warning and "a" in reg.warning and "c" not in reg.warning.split("(")[1].split(";")[0]
    assert reg.r_squared > 0.99
    assert "too few" in regress(a[:3], X.iloc[:3]).note


def test_findings_sentences_and_json(expl):
    lines = sentences(expl)
    assert any(s.startswith("pipe: bandwidth peaks at") and "axi_read per KiB rises" in s for s in lines)
    assert any("with pass bus bandwidth is 0.7" in s for s in lines)
    doc = json.loads(json.dumps(findings_dict(expl), allow_nan=False))
    bps = doc["modes"]["pipe"]["breakpoints"]
    assert bps and {"size", "ci", "slope_before", "slope_after", "kind", "explained_by"} <= set(bps[0])
    assert bps[0]["explained_by"][0]["counter"] == "axi_read"
    assert doc["overhead"]["pipe"]["bus"]["median_ratio"] == pytest.approx(0.7, abs=0.05)
    assert doc["overhead"]["pipe"]["bus"]["breakpoints_moved"] is False
    assert ALIGN_NOTE in doc["notes"]


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
    assert "aligned" in pipe.markdown
    assert sections[-1].title.startswith("Probe effect") and "| pipe |" in sections[-1].markdown
