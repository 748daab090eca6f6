"""Kernel-view report sections on a synthetic result table (columns as pmcsuite.load gives them)."""
import numpy as np
import pandas as pd
import pytest

from pmcsuite.report import Section
from pmcsuite.report.kernel_sections import (crosschecks, distributions_section, faults_section,
                                             kernel_sections, median_histogram, offcpu_per_actor,
                                             quantize_text, return_sizes, sleep_section,
                                             switch_counts)

pytestmark = pytest.mark.unit

K, M = 1024, 1 << 20
TOTAL = 16 * M


def _row(ipc, size, run, variant="baseline", **counters):
    writes = TOTAL // size
    cap = 64 * K if ipc == "pipe" else size
    per_read = min(size, cap)
    reads = TOTAL // per_read
    row = {"ipc": ipc, "actors": "2thread", "placement": "same", "buffer_size": size,
           "total_size": TOTAL, "run": run, "warmup": run == 0, "variant": variant,
           "backend": "none" if variant == "baseline" else "perf",
           "scope": None if variant == "baseline" else "loop", "seq": run,
           "started": pd.Timestamp("2026-01-01"), "ok": True, "error": None,
           "loop_ns": 10_000_000 + size, "bandwidth": TOTAL / 0.01, "writes": writes,
           "reads": reads, "minflt": size // 4096 + 2, "majflt": 0, "nvcsw": 10 + reads // 4,
           "nivcsw": 1, "utime_ns": 1_000_000, "stime_ns": 8_000_000,
           "offcpu_writer_ns": 4_000_000 + size, "offcpu_reader_ns": 5_000_000 + run,
           "sndbuf": np.nan,
           "rcvbuf": np.nan, "pipe_size": 65536 if ipc == "pipe" else np.nan, "cpu_writer": 0,
           "cpu_reader": 0, "other_cpu_frac": 0.0,
           "write_sizes": {size: writes}, "read_sizes": {per_read: reads}}
    row.update(counters)
    return row


def kernel_table(extra_reads: float = 2.0) -> pd.DataFrame:
    """pipe and local at 4K/64K/1M, 4 runs of the baseline and of a syscalls+faults pass whose
    counts relate to the benchmark's own as perf stat's do (``extra_reads`` reads of the harness)."""
    rows = []
    for ipc in ("pipe", "local"):
        for size in (4 * K, 64 * K, M):
            for run in range(4):
                rows.append(_row(ipc, size, run))
                base = rows[-1]
                rows.append(_row(ipc, size, run, "syscalls+faults",
                                 syscalls_write=base["writes"] + 2.0,
                                 syscalls_read=base["reads"] + extra_reads,
                                 page_faults=float(base["minflt"]),
                                 context_switches=float(base["nvcsw"] + 3)))
    frame = pd.DataFrame(rows)
    for c in ("syscalls_write", "syscalls_read", "page_faults", "context_switches"):
        frame[f"{c}_status"] = np.where(frame[c].notna(), "ok", None)
    frame.attrs["metadata"] = {"plan": {"ipc": ["pipe", "local"]}}
    return frame


@pytest.fixture
def df():
    return kernel_table()


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


def test_offcpu_per_actor_medians_of_baseline_runs(df):
    table = offcpu_per_actor(df)
    pipe_1m = table[(table.ipc == "pipe") & (table.buffer_size == M)].iloc[0]
    assert pipe_1m.n == 3                                   # warm-up excluded, baseline only
    assert pipe_1m.writer_ms == pytest.approx((4_000_000 + M) / 1e6)
    assert pipe_1m.reader_ms == pytest.approx(5.000002)     # median of runs 1, 2, 3
    assert pipe_1m.loop_ms == pytest.approx((10_000_000 + M) / 1e6)
    assert list(switch_counts(df)["nvcsw"]) == list(table["nvcsw"])


def test_sleep_section_uses_the_benchmark_clocks(df, tmp_path):
    s = sleep_section(df, {}, tmp_path)
    assert "not measured" not in s.markdown and "CLOCK_THREAD_CPUTIME_ID" in s.markdown
    assert "writer off-CPU (ms)" in s.markdown and "context_switches (perf)" in s.markdown
    assert "offcpu_ns (dtrace" not in s.markdown            # no dtrace column without dtrace data
    pipe_4k = [ln for ln in s.markdown.splitlines() if ln.startswith("| pipe | 4K |")][0]
    cells = [c.strip() for c in pipe_4k.split("|")[1:-1]]
    assert cells[3:5] == ["4", "5"]                         # writer, reader off-CPU (ms)
    assert cells[7] == f"{10 + 4096 // 4 + 3:,}"            # perf context_switches median
    assert "per actor" in s.figures[0].caption
    assert s.figures[0].path.read_bytes()[:4] == b"\x89PNG"


def test_sleep_section_falls_back_to_dtrace_counter(df, tmp_path):
    df = df.drop(columns=["offcpu_writer_ns", "offcpu_reader_ns"])
    df["offcpu_ns"] = np.where(df["variant"] == "syscalls+faults", 3_000_000.0, np.nan)
    df.loc[(df["ipc"] == "local") & (df["buffer_size"] == M), "offcpu_ns"] = np.nan
    s = sleep_section(df, {}, tmp_path)
    assert "not measured" not in s.markdown and "`offcpu_ns` (dtrace" in s.markdown
    local_1m = [ln for ln in s.markdown.splitlines() if ln.startswith("| local | 1M |")][0]
    assert local_1m.split("|")[-2].strip() == "—"           # missing stays missing, not 0
    pipe_1m = [ln for ln in s.markdown.splitlines() if ln.startswith("| pipe | 1M |")][0]
    assert pipe_1m.split("|")[-2].strip() == "3"


def test_sleep_section_says_what_is_missing(df, tmp_path):
    df = df.drop(columns=["offcpu_writer_ns", "offcpu_reader_ns"])
    s = sleep_section(df, {}, tmp_path)
    assert "Off-CPU time was not measured" in s.markdown
    assert "offcpu_writer_ns" in s.markdown and "`offcpu_ns`" in s.markdown
    assert "writer off-CPU" not in s.markdown
    assert s.figures[0].path.exists()
    nan = df.assign(offcpu_writer_ns=np.nan, offcpu_reader_ns=np.nan)   # columns present, no values
    assert offcpu_per_actor(nan).empty and "not measured" in sleep_section(nan, {}, tmp_path).markdown


def test_crosschecks(df):
    table = crosschecks(df).set_index(["counter", "ipc"])
    assert set(table.index.get_level_values(0)) == {"page_faults", "context_switches",
                                                     "syscalls_write", "syscalls_read"}
    pf = table.loc[("page_faults", "pipe")]
    assert (pf.runs, pf.equal, pf.median_diff, pf.below) == (9, 9, 0.0, 0)
    cs = table.loc[("context_switches", "local")]
    assert (cs.equal, cs.min_diff, cs.max_diff) == (0, 2.0, 2.0)   # nvcsw + 3 - (nvcsw + nivcsw)
    assert table.loc[("syscalls_write", "pipe")].median_diff == 2.0
    broken = df.copy()
    broken.loc[broken["page_faults"].notna() & (broken["ipc"] == "local"), "page_faults"] = -1.0
    bad = crosschecks(broken).set_index(["counter", "ipc"]).loc[("page_faults", "local")]
    assert bad.below == 9 and bad.equal == 0
    assert crosschecks(df[df["variant"] == "baseline"]).empty


def test_faults_section(df, tmp_path):
    s = faults_section(df, {}, tmp_path)
    assert "Time in page faults was not measured" in s.markdown and "fault_ns" in s.markdown
    assert "perf stat counts faults but cannot" in s.markdown
    assert "| `page_faults` | minflt+majflt | pipe | loop | 9 | 9 | +0 (+0 to +0) |" in s.markdown
    assert "| `syscalls_write` | writes | local | loop | 9 | 0 | +2 (+2 to +2) |" in s.markdown
    assert "writes + 2: the controller's write()" in s.markdown
    assert "Disagreement" not in s.markdown
    assert "Probe effect" in s.markdown
    assert s.figures[0].path.read_bytes()[:4] == b"\x89PNG"
    broken = df.copy()
    broken.loc[broken["syscalls_write"].notna(), "syscalls_write"] = 1.0
    assert "**Disagreement:** `syscalls_write` counted fewer" in faults_section(broken, {}, tmp_path).markdown
    timed = df.assign(fault_ns=np.where(df["variant"] == "baseline", np.nan, 250_000.0))
    s = faults_section(timed, {}, tmp_path)
    assert "not measured" not in s.markdown and "time in faults (ms)" in s.markdown
    assert [ln for ln in s.markdown.splitlines() if ln.startswith("| pipe | 1M |")][0] \
        .split("|")[-2].strip() == "0.25"


def test_all_sections(df, tmp_path):
    parts = kernel_sections(df, df.attrs["metadata"], tmp_path)
    assert [p.title for p in parts] == ["Kernel view: read()/write() return sizes",
                                        "Kernel view: time asleep / off-CPU",
                                        "Kernel view: page faults"]
    assert len(list((tmp_path / "figures").glob("kernel-*.png"))) == 3
