"""Kernel-view report sections on a synthetic result table (columns as pmcsuite.load gives them)."""
import numpy as np
import pandas as pd
import pytest

from pmcsuite.report import Section
from pmcsuite.report.kernel_sections import (derived_offcpu, distributions_section,
                                             fault_crosscheck, faults_section, kernel_sections,
                                             median_histogram, quantize_text, return_sizes,
                                             sleep_section)

K, M = 1024, 1 << 20
TOTAL = 16 * M


def _row(ipc, size, run, variant="baseline", **counters):
    writes = TOTAL // size
    cap = 64 * K if ipc == "pipe" else size
    per_read = min(size, cap)
    reads = TOTAL // per_read
    row = {"ipc": ipc, "actors": "2thread", "placement": "same", "buffer_size": size,
           "total_size": TOTAL, "run": run, "warmup": run == 0, "variant": variant,
           "backend": "none" if variant == "baseline" else "perf", "scope": None, "seq": run,
           "started": pd.Timestamp("2026-01-01"), "ok": True, "error": None,
           "loop_ns": 10_000_000 + size, "bandwidth": TOTAL / 0.01, "writes": writes,
           "reads": reads, "minflt": size // 4096 + 2, "majflt": 0, "nvcsw": 10 + reads // 4,
           "nivcsw": 1, "utime_ns": 1_000_000, "stime_ns": 8_000_000, "sndbuf": np.nan,
           "rcvbuf": np.nan, "pipe_size": 65536 if ipc == "pipe" else np.nan, "cpu_writer": 0,
           "cpu_reader": 0, "other_cpu_frac": 0.0,
           "write_sizes": {size: writes}, "read_sizes": {per_read: reads}}
    row.update(counters)
    return row


@pytest.fixture
def df():
    rows = []
    for ipc in ("pipe", "local"):
        for size in (4 * K, 64 * K, M):
            for run in range(4):
                rows.append(_row(ipc, size, run))
                base = rows[-1]
                rows.append(_row(ipc, size, run, "syscalls+faults",
                                 syscalls_write=base["writes"] + 2.0,
                                 syscalls_read=base["reads"] + 2.0,
                                 page_faults=float(base["minflt"] + 1),
                                 context_switches=float(base["nvcsw"] + 3)))
    frame = pd.DataFrame(rows)
    for c in ("syscalls_write", "syscalls_read", "page_faults", "context_switches"):
        frame[f"{c}_status"] = np.where(frame[c].notna(), "ok", None)
    frame.attrs["metadata"] = {"plan": {"ipc": ["pipe", "local"]}}
    return frame


def test_quantize_text_is_dtrace_layout():
    text = quantize_text({65536: 256})
    lines = text.splitlines()
    assert lines[0] == "           value  ------------- Distribution ------------- count"
    assert lines[1] == "           32768 |" + " " * 40 + " 0"
    assert lines[2] == "           65536 |" + "@" * 40 + " 256"
    assert lines[3] == "          131072 |" + " " * 40 + " 0"
    mixed = quantize_text({8: 1, 64: 3}).splitlines()
    assert [ln.split("|")[0].strip() for ln in mixed[1:]] == ["4", "8", "16", "32", "64", "128"]
    assert mixed[2].count("@") == 10 and mixed[5].count("@") == 30
    assert "no calls" in quantize_text({})


def test_median_histogram():
    assert median_histogram([{4096: 10}, {4096: 12, 8192: 1}, {4096: 11}]) == {4096: 11}
    assert median_histogram([None, float("nan")]) == {}


def test_return_sizes_and_distribution_section(df, tmp_path):
    table = return_sizes(df)
    pipe_1m = table[(table.ipc == "pipe") & (table.buffer_size == M)].iloc[0]
    assert (pipe_1m.writes, pipe_1m.reads, pipe_1m.max_read_bucket) == (16, 256, 65536)
    assert pipe_1m.n == 3                                   # warm-up excluded, baseline only
    s = distributions_section(df, df.attrs["metadata"], tmp_path)
    assert isinstance(s, Section)
    assert s.markdown.count("------------- Distribution -------------") == 2 * 6
    assert "#### pipe" in s.markdown and "#### local" in s.markdown
    assert "no read() returned 128K or more" in s.markdown and "16 writes and 256 reads" in s.markdown
    assert "`syscalls_write` counted writes + 2" in s.markdown
    assert len(s.figures) == 1 and s.figures[0].path.read_bytes()[:4] == b"\x89PNG"


def test_sleep_section_is_honest_without_offcpu(df, tmp_path):
    s = sleep_section(df, {}, tmp_path)
    assert "not measured" in s.markdown and "`offcpu_ns`" in s.markdown
    assert "derived" in s.markdown
    est = derived_offcpu(df)
    assert (est["offcpu_est_ns"] == 2 * est["loop_ns"] - 9_000_000).all()
    assert s.figures[0].path.exists()


def test_sleep_section_with_measured_offcpu(df, tmp_path):
    df = df.copy()
    df["offcpu_ns"] = np.where(df["variant"] == "syscalls+faults", 3_000_000.0, np.nan)
    df.loc[(df["ipc"] == "local") & (df["buffer_size"] == M), "offcpu_ns"] = np.nan
    s = sleep_section(df, {}, tmp_path)
    assert "not measured" not in s.markdown
    assert "offcpu_ns (ms)" in s.markdown
    local_1m = [ln for ln in s.markdown.splitlines() if ln.startswith("| local | 1M |")][0]
    assert local_1m.split("|")[7].strip() == "—"            # missing stays missing, not 0
    pipe_1m = [ln for ln in s.markdown.splitlines() if ln.startswith("| pipe | 1M |")][0]
    assert pipe_1m.split("|")[7].strip() == "3"


def test_faults_section(df, tmp_path):
    check = fault_crosscheck(df)
    assert check["runs"] == 18 and check["within_10pct"] == 18
    s = faults_section(df, {}, tmp_path)
    assert "Time in page faults was not measured" in s.markdown and "fault_ns" in s.markdown
    assert "Cross-check on the 18 runs" in s.markdown
    assert "Probe effect" in s.markdown
    assert s.figures[0].path.read_bytes()[:4] == b"\x89PNG"


def test_all_sections(df, tmp_path):
    parts = kernel_sections(df, df.attrs["metadata"], tmp_path)
    assert [p.title for p in parts] == ["Kernel view: read()/write() return sizes",
                                        "Kernel view: time asleep / off-CPU",
                                        "Kernel view: page faults"]
    assert len(list((tmp_path / "figures").glob("kernel-*.png"))) == 3
