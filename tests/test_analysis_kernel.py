"""The kernel view's computations (pmcsuite.analysis.kernel): pure tables of the result table,
rendered by pmcsuite.report.kernel_sections (which re-exports the old names)."""
import json

import pytest

from pmcsuite.analysis import kernel
from pmcsuite.analysis.kernel import (KernelView, crosschecks, exact_crosschecks, faults_table, kernel_view,
                                      pipe_reads, return_sizes, syscall_checks, tracepoint_passes)
from pmcsuite.catalogue import load_catalogue

from test_kernel_sections import M, kernel_table

pytestmark = pytest.mark.unit


@pytest.fixture
def df():
    frame = kernel_table(extra_reads=1.0)
    del frame.attrs["metadata"]
    return frame


def test_report_module_reexports_the_computations():
    from pmcsuite.report import kernel_sections
    assert kernel_sections.CROSSCHECKS is kernel.CROSSCHECKS
    assert kernel_sections.crosschecks is kernel.crosschecks
    assert kernel_sections.return_sizes is kernel.return_sizes


def test_no_crosscheck_says_which_counters_would_have_been_checked():
    import pandas as pd
    from pmcsuite.report import kernel_sections
    [text] = kernel_sections._crosscheck_text(pd.DataFrame(columns=kernel.CROSSCHECK_COLUMNS))
    assert text.startswith("No run counted any of `page_faults`, `context_switches`, `syscalls_read`, "
                           "`syscalls_write`, so")


def test_pipe_reads_and_syscall_checks(df):
    found = pipe_reads(return_sizes(df))
    assert found == {"max_read_bucket": 65536, "max_buffer": M, "pipe_size": 65536,
                     "writes_1m": 16.0, "reads_1m": 256.0}
    checks = syscall_checks(df).set_index("counter")
    assert checks.loc["syscalls_write", "median_extra"] == 2 and checks.loc["syscalls_read", "max_extra"] == 1
    assert (checks["below"] == 0).all() and (checks["runs"] == 18).all()    # 2 modes x 3 sizes x 3 measured runs
    assert pipe_reads(return_sizes(df[df["ipc"] == "local"])) is None


OLD_CATALOGUE = """version: 1
counters:
  syscalls_write: {description: write() calls, unit: count, kind: tracepoint}
groups:
  calls: {description: calls, counters: [syscalls_write]}
platforms:
  software: {description: kernel, kinds: [tracepoint], slots: null}
"""


def test_syscall_checks_read_the_result_catalogue(df, tmp_path):
    """The checked counters are the crosschecks with an exact scope: the result's catalogue's, the
    built-in one's for a counter whose snapshot predates the field."""
    assert exact_crosschecks() == [("syscalls_read", ("reads",)), ("syscalls_write", ("writes",))]
    old = {"catalogue": {"snapshot": {"format": 1, "files": [{"source": "old.yaml", "text": OLD_CATALOGUE}]}}}
    assert exact_crosschecks(old) == [("syscalls_write", ("writes",)), ("syscalls_read", ("reads",))]
    user = tmp_path / "user.yaml"
    user.write_text("counters:\n  page_faults: {crosscheck: {own: [minflt, majflt], exact: [loop]}}\n"
                    "  syscalls_read: {crosscheck: {own: [reads]}}\n")
    df.attrs["metadata"] = {"catalogue": load_catalogue([user]).metadata()}
    checks = syscall_checks(df).set_index("counter")
    assert list(checks.index) == ["page_faults", "syscalls_write"]
    assert checks.loc["page_faults", "own"] == "minflt+majflt" and checks.loc["page_faults", "median_extra"] == 0


def test_faults_table_and_crosschecks(df):
    rusage, perf, fault_ns, merged = faults_table(df)
    assert fault_ns.empty and len(merged) == 6
    row = merged[(merged.ipc == "pipe") & (merged.buffer_size == M)].iloc[0]
    assert row["faults"] == M // 4096 + 2 == row["page_faults"]
    table = crosschecks(df).set_index(["counter", "ipc"])
    assert table.loc[("page_faults", "pipe"), "equal"] == 9
    assert table.loc[("context_switches", "pipe"), "median_diff"] == 2     # nvcsw + 3 - (nvcsw + nivcsw)


def test_kernel_view_collects_everything_once(df):
    view = kernel_view(df, probe=False)
    assert isinstance(view, KernelView) and view.source == "baseline"
    assert tracepoint_passes(df) == view.tracepoint_passes == ["syscalls+faults"]
    assert view.probe is None
    assert list(view.sleep.columns[:2]) == ["ipc", "buffer_size"] and len(view.sleep) == 6
    doc = view.to_dict()
    json.dumps(doc)                                  # JSON-able: histograms keyed by str, NaN -> None
    assert doc["pipe_reads"]["max_read_bucket"] == 65536
    assert "kernel view over the baseline runs" in view.summary()


def test_imported_like_data_has_empty_tables_not_zeros(df):
    plain = df.drop(columns=["offcpu_writer_ns", "offcpu_reader_ns"]).assign(write_sizes=None, read_sizes=None)
    view = kernel_view(plain, probe=False)
    assert view.offcpu.empty and view.offcpu_counter.empty
    assert view.return_sizes["max_read_bucket"].isna().all()
