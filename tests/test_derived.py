"""Derived metrics (counters.yaml ``derived:``): ratios of per-cell medians across passes, never 0 for a
missing input; the "Derived metrics" report section; checked by hand on the real L41 Cortex-A8 sample."""
import shutil
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pmcsuite
from pmcsuite.catalogue import load_catalogue
from pmcsuite.report import SECTIONS
from pmcsuite.report.derived_section import derived_section
from pmcsuite.results.load import derived_metrics

pytestmark = pytest.mark.unit

COLUMNS = ["ipc", "actors", "placement", "buffer_size", "metric", "value", "unit", "description", "inputs"]

L41 = Path(__file__).parent / "fixtures" / "l41"


def synthetic():
    """Two sizes of pipe; pass 'hw' counts cycles and instructions (3 runs each), pass 'sc' counts the
    syscalls (2 runs each); a warm-up and a failed run carry absurd values that must not count;
    l1d_access is not supported (status only)."""
    rows = []

    def run(size, variant, r, ok=True, warmup=False, **counters):
        row = {"ipc": "pipe", "actors": "2thread", "placement": "same", "buffer_size": size, "variant": variant,
               "run": r, "ok": ok, "warmup": warmup}
        for c in ("cycles", "instructions", "syscalls_read", "syscalls_write", "syscalls_all", "l1d_access"):
            row[c] = counters.get(c, np.nan)
            row[f"{c}_status"] = "ok" if c in counters else None
        rows.append(row)

    for size, k in ((4096, 1), (65536, 10)):
        # medians: cycles 300k, instructions 100k (3000k, 200k at 64K); ratio of medians 3, median of ratios 3.33
        for r, (cyc, ins) in enumerate(((200, 100), (300, 90), (400, 100))):
            run(size, "hw", r, cycles=cyc * 1000.0 * k, instructions=ins * 1000.0 * (2 if k == 10 else 1))
        run(size, "hw", 9, warmup=True, cycles=1e15, instructions=1.0)
        run(size, "hw", 8, ok=False, cycles=1e15, instructions=1.0)
        for r, (rd, wr) in enumerate(((1000, 250), (1200, 250))):
            run(size, "sc", r, syscalls_read=rd / k, syscalls_write=wr / k, syscalls_all=rd / k + wr / k + 20)
        rows[-1]["l1d_access_status"] = "not_supported"
    df = pd.DataFrame(rows)
    df.attrs["counters"] = ["cycles", "instructions", "syscalls_read", "syscalls_write", "syscalls_all", "l1d_access"]
    return df


def test_ratios_of_medians_known_exactly():
    out = derived_metrics(synthetic())
    assert list(out.columns) == COLUMNS
    got = {(r.metric, r.buffer_size): r.value for r in out.itertuples()}
    # cpi = median(cycles) / median(instructions): 300k / 100k; at 64K 3000k / 200k
    assert got[("cpi", 4096)] == pytest.approx(3.0, rel=1e-12)
    assert got[("cpi", 65536)] == pytest.approx(15.0, rel=1e-12)
    assert got[("ipc", 4096)] == pytest.approx(1 / 3, rel=1e-12)
    # reads_per_write = median(1000, 1200) / 250 = 4.4 (same at 64K: both divided by 10)
    assert got[("reads_per_write", 4096)] == pytest.approx(4.4, rel=1e-12)
    assert got[("reads_per_write", 65536)] == pytest.approx(4.4, rel=1e-12)
    # syscalls_other = median(all) - median(read) - median(write) = 1370 - 1100 - 250
    assert got[("syscalls_other", 4096)] == pytest.approx(20.0, rel=1e-12)
    # nothing for metrics with an input missing (l1d_access not supported, l1d_refill never measured)
    assert set(out["metric"]) == {"cpi", "ipc", "syscalls_other", "reads_per_write"}
    assert not (out["value"] == 0).any()
    row = out[(out["metric"] == "cpi") & (out["buffer_size"] == 4096)].iloc[0]
    assert row["unit"] == "cycles/instruction" and row["description"] == "Cycles per instruction"
    assert row["inputs"] == "cycles (n=3), instructions (n=3)"           # warm-up and failed runs left out
    assert (row["ipc"], row["actors"], row["placement"]) == ("pipe", "2thread", "same")
    # catalogue order, then the cells
    assert list(dict.fromkeys(out["metric"])) == ["cpi", "ipc", "syscalls_other", "reads_per_write"]


def test_missing_inputs_and_zero_denominators_are_left_out_never_zero():
    df = synthetic()
    df.loc[df["buffer_size"] == 65536, "syscalls_write"] = 0.0          # x / 0: no value, not inf, not 0
    df.loc[(df["buffer_size"] == 65536) & (df["variant"] == "hw"), "instructions"] = np.nan
    out = derived_metrics(df)
    at64 = out[out["buffer_size"] == 65536]
    assert set(at64["metric"]) == {"syscalls_other"}                    # cpi lacks instructions there
    assert np.isfinite(out["value"]).all()
    assert derived_metrics(df[df["variant"] == "nothing"]).empty
    no_counters = df[["ipc", "actors", "placement", "buffer_size", "variant", "run", "ok", "warmup"]].copy()
    assert list(derived_metrics(no_counters).columns) == COLUMNS


def test_a_given_catalogue_is_used(tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text("version: 1\nderived:\n  cycles_per_read:\n    formula: cycles / syscalls_read\n"
                     "    unit: cycles/call\n    description: Cycles per read() call\n")
    cat = load_catalogue([extra])
    out = derived_metrics(synthetic(), cat)
    row = out[(out["metric"] == "cycles_per_read") & (out["buffer_size"] == 4096)].iloc[0]
    assert row["value"] == pytest.approx(300_000 / 1100, rel=1e-12)


def _hand_medians(counter_names):
    """{(size, counter): median} from the L41 text files, parsed here independently of the importer."""
    manifest = pd.read_csv(L41 / "manifest.csv")
    values = {}
    for row in manifest.itertuples():
        text = (L41 / row.file).read_text()
        for line in text.splitlines():
            name, _, value = line.strip().partition(": ")
            if name in counter_names and "/" not in name:
                values.setdefault((row.buffersize, name), []).append(float(value))
    return {key: statistics.median(v) for key, v in values.items()}


@pytest.fixture(scope="module")
def l41(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("l41")
    src = tmp / "in"
    src.mkdir()
    for f in L41.glob("run*.txt"):
        shutil.copy(f, src)
    shutil.copy(L41 / "manifest.csv", src)
    return pmcsuite.load(pmcsuite.import_l41(src, tmp / "res"))


def test_real_l41_sample_cpi_by_hand(l41):
    out = derived_metrics(l41)
    hand = _hand_medians({"CLOCK_CYCLES", "INSTR_EXECUTED", "L1_DCACHE_ACCESS", "L1_DCACHE_REFILL"})
    cpi = out[out["metric"] == "cpi"].set_index("buffer_size")["value"]
    assert sorted(cpi.index) == [1024, 65536, 131072, 1048576]
    for size in cpi.index:
        # CLOCK_CYCLES and INSTR_EXECUTED are in the mem, l1d and axi sets: 8 runs per size
        assert cpi[size] == pytest.approx(hand[(size, "CLOCK_CYCLES")] / hand[(size, "INSTR_EXECUTED")], rel=1e-12)
    # by hand, the 8 files at 64K: cycles median (31940327 + 31966135) / 2, instructions (13532438 + 13534063) / 2
    assert cpi[65536] == pytest.approx(31_953_231 / 13_533_250.5, rel=1e-12)
    miss = out[out["metric"] == "l1d_miss_ratio"].set_index("buffer_size")["value"]
    assert miss[131072] == pytest.approx(((340189 + 339786) / 2) / ((8274736 + 8275113) / 2), rel=1e-12)
    row = out[(out["metric"] == "cpi") & (out["buffer_size"] == 1024)].iloc[0]
    assert row["inputs"] == "cycles (n=8), instructions (n=8)" and row["placement"] is None
    assert "reads_per_write" not in set(out["metric"])             # no syscall counts in the L41 data


def test_report_section_on_the_l41_sample(l41, tmp_path):
    section = derived_section(l41, l41.attrs["metadata"], tmp_path)
    assert section.title == "Derived metrics"
    md = section.markdown
    assert "| metric | IPC mode | 1K | 64K | 128K | 1M |" in md
    assert "| cpi (cycles/instruction) | pipe | 2.23 | 2.36 | 4.16 | 7.28 |" in md
    assert "ratio (or sum) of medians" in md
    assert "reads\\_per\\_write — " in md and "syscalls\\_read (tracepoint: not collected)" in md
    assert derived_section in SECTIONS
    assert SECTIONS.index(derived_section) > [s.__name__ for s in SECTIONS].index("analysis_sections")


def test_report_section_says_why_nothing_can_be_computed(tmp_path):
    df = synthetic()
    df = df[df["variant"] != "sc"].copy()
    df["cycles_status"] = df["cycles_status"].where(df["cycles_status"].isna(), "not_supported")
    df["cycles"] = np.nan
    md = derived_section(df, {}, tmp_path).markdown
    assert md.startswith("No derived metric has all its inputs measured here:")
    assert "cpi — Cycles per instruction — needs cycles (hardware counter: not supported)" in md
    assert "reads\\_per\\_write — " in md and "syscalls\\_write (tracepoint: not collected)" in md
    assert "performance monitoring unit" in md
    assert "|" not in md                                            # no table of nothing
