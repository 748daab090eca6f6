"""pmcstat backend: pure parser on pmcstat's exact counting layout, and the real PmcstatBackend
driven through tests/standins/pmcstat (a test double printing pmcstat's format with fake,
deterministic counts: zlib.crc32(event name)).

Fixtures tests/fixtures/pmcstat_*.txt follow pmcstat.c's printf logic (header "# " + "p/%*s "
per column, field width max(len(name)+2, floor(bits/3.32193)+1), first field 2 wider, a newline
before each row, header again after 256 rows); pmcstat_formats_md.txt is formats.md verbatim.
"""
import os
import zlib
from pathlib import Path

import pytest

from pmcsuite.collect.backends.pmcstat import (
    PmcstatBackend, build_argv, classify_failure, parse_pmcstat, to_counter_values)
from pmcsuite.errors import PmcsuiteError

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures"
STANDINS = ROOT / "tests" / "standins"
FAKEBENCH = str(STANDINS / "fakebench")
EVENTS = {"instructions": "INSTR_EXECUTED", "axi_read": "AXI_READ", "cycles": "CLOCK_CYCLES"}


def fx(name):
    return (FIX / name).read_text()


def test_formats_md_sample():
    assert parse_pmcstat(fx("pmcstat_formats_md.txt")) == {"INSTR_EXECUTED": 89107476,
                                                           "L1_DCACHE_REFILL": 69673}


def test_cumulative_uses_last_row():
    assert parse_pmcstat(fx("pmcstat_a8_cumulative.txt"), cumulative=True) == {
        "INSTR_EXECUTED": 89107476, "L1_DCACHE_REFILL": 69673}


def test_increments_are_summed_and_no_final_newline():
    text = fx("pmcstat_a8_increments.txt")
    assert not text.endswith("\n")
    assert parse_pmcstat(text, cumulative=False) == {
        "INSTR_EXECUTED": 4000000000 + 89107476, "CLOCK_CYCLES": 4294967295 + 2000,
        "AXI_READ": 12 + 31000, "MEM_READ": 107}
    # the same file read as cumulative gives only the last row: the flag matters
    assert parse_pmcstat(text, cumulative=True)["INSTR_EXECUTED"] == 89107476


def test_system_mode_columns_summed_48bit():
    text = fx("pmcstat_x86_system_48bit.txt")
    assert text.splitlines()[0] == "# s/00/instructions s/01/instructions     p/dc-misses "
    assert parse_pmcstat(text, cumulative=False) == {"instructions": 281474976710655 + 5,
                                                     "dc-misses": 123456789012345}


def test_64bit_widths_and_short_names():
    text = fx("pmcstat_64bit.txt")
    head, row = text.splitlines()
    assert head == "#          p/ic-misses    p/unhalted-cycles "
    assert len(row.split(" ")[0]) == 0 and row.index("18446744073709551615") == 2
    assert parse_pmcstat(text) == {"ic-misses": 18446744073709551615, "unhalted-cycles": 1}


def test_header_repeated_every_256_rows():
    text = fx("pmcstat_header_repeat.txt")
    assert [i for i, ln in enumerate(text.splitlines()) if ln.startswith("#")] == [0, 257]
    assert parse_pmcstat(text, cumulative=False) == {"INSTR_EXECUTED": 300, "CPU_CYCLES": 600}


def test_header_only_and_bad_input():
    assert parse_pmcstat("# p/INSTR_EXECUTED \n") == {}
    with pytest.raises(PmcsuiteError, match="no pmcstat header"):
        parse_pmcstat("")
    with pytest.raises(PmcsuiteError, match="before its"):
        parse_pmcstat("   12 \n# p/A \n")
    with pytest.raises(PmcsuiteError, match="does not match its header"):
        parse_pmcstat("# p/A p/B \n  1 \n")
    with pytest.raises(PmcsuiteError, match="does not match its header"):
        parse_pmcstat("# p/A \n  -1 \n")
    with pytest.raises(PmcsuiteError, match="neither"):
        parse_pmcstat("# INSTR_EXECUTED \n 1 \n")


def test_to_counter_values_by_name_and_missing():
    vals = to_counter_values({"INSTR_EXECUTED": 5}, {"i": "instr_executed", "a": "AXI_READ"})
    assert (vals[0].status, vals[0].value) == ("ok", 5.0)
    assert vals[1].status == "error" and vals[1].value is None


def test_build_argv():
    assert build_argv(["INSTR_EXECUTED", "AXI_READ"], "/t/o", ["ipcbench", "-i", "pipe"]) == [
        "pmcstat", "-C", "-d", "-o", "/t/o", "-p", "INSTR_EXECUTED", "-p", "AXI_READ", "--",
        "ipcbench", "-i", "pipe"]
    assert build_argv(["X"], "o", ["b"], pmcstat="/usr/sbin/pmcstat")[0] == "/usr/sbin/pmcstat"


def test_classify_failures():
    st, msg = classify_failure(71, 'pmcstat: ERROR: Cannot allocate process-mode pmc with '
                                   'specification "FOO": Invalid argument\n')
    assert st == "not_supported" and "'FOO'" in msg
    st, msg = classify_failure(69, "pmcstat: ERROR: Initialization of the pmc(3) library failed: "
                                   "No such file or directory\n")
    assert st == "permission_denied" and "kldload hwpmc" in msg
    st, _ = classify_failure(71, 'pmcstat: ERROR: Cannot allocate system-mode pmc with '
                                 'specification "X": Operation not permitted\n')
    assert st == "permission_denied"
    assert classify_failure(0, "ipcbench: error: boom\n") is None


@pytest.fixture
def standin_path(monkeypatch):
    monkeypatch.setenv("PATH", f"{STANDINS}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv("PMCSTAT_STANDIN_NO_HWPMC", raising=False)


def test_standin_writes_pmcstat_layout(standin_path, tmp_path):
    import subprocess
    out = tmp_path / "o"
    subprocess.run(build_argv(["INSTR_EXECUTED", "L1_DCACHE_REFILL", "MEM_READ"], out, ["true"]),
                   check=True)
    lines = out.read_text().split("\n")
    assert lines[0] == "# p/INSTR_EXECUTED p/L1_DCACHE_REFILL p/MEM_READ "
    assert lines[1] == " " * 17 + "0" + " " * 18 + "0" + " " * 10 + "0" + " "
    assert len(lines) == 3 and not lines[2].endswith("\n")


def test_run_through_standin(standin_path):
    be = PmcstatBackend()
    assert be.available()[0] and be.name == "pmcstat" and be.scope == "process"
    bench, values = be.run(EVENTS, [FAKEBENCH, "--writes", "10"], 30)
    assert bench["writes"] == 10 and bench["counting"] == "none"
    assert [v.counter for v in values] == list(EVENTS)
    assert [v.value for v in values] == [float(zlib.crc32(e.encode())) for e in EVENTS.values()]
    assert {v.status for v in values} == {"ok"}


def test_run_errors_through_standin(standin_path, monkeypatch):
    be = PmcstatBackend()
    with pytest.raises(PmcsuiteError, match="'L3_MAGIC'"):
        be.run({"x": "L3_MAGIC", **EVENTS}, [FAKEBENCH], 30)
    with pytest.raises(PmcsuiteError, match="Too many open files"):
        be.run(EVENTS, [FAKEBENCH, "--fail"], 30)     # pmcstat exits 0 anyway
    # a benchmark that printed its result and then crashed: pmcstat exits 0, the guard tells
    with pytest.raises(PmcsuiteError, match=r"crashed under pmcstat: killed by signal 11"):
        be.run(EVENTS, [FAKEBENCH, "--crash-after"], 30)
    with pytest.raises(PmcsuiteError, match="benchmark hung: no result after 1 s"):
        be.run(EVENTS, [FAKEBENCH, "--hang"], 1)
    monkeypatch.setenv("PMCSTAT_STANDIN_NO_HWPMC", "1")
    with pytest.raises(PmcsuiteError, match="kldload hwpmc"):
        be.run(EVENTS, [FAKEBENCH], 30)


def test_probe_through_standin(standin_path, monkeypatch):
    vals = PmcstatBackend().probe({"i": "INSTR_EXECUTED", "x": "L3_MAGIC"})
    assert [(v.status, v.value) for v in vals] == [("available", None), ("not_supported", None)]
    monkeypatch.setenv("PMCSTAT_STANDIN_NO_HWPMC", "1")
    assert PmcstatBackend().probe({"i": "INSTR_EXECUTED"})[0].status == "permission_denied"


def test_pmcstat_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    be = PmcstatBackend()
    assert be.available()[0] is False and be.version() is None
    assert be.probe(EVENTS)[0].status == "tool_missing"
    with pytest.raises(PmcsuiteError, match="pmcstat not found"):
        be.run(EVENTS, [FAKEBENCH], 10)
