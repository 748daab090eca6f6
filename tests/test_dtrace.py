"""FreeBSD dtrace backend: D script generation, the aggregation-output parser on exact-format
fixtures, and DtraceBackend end to end through tests/standins/dtrace (no FreeBSD here)."""
import re
from pathlib import Path

import pytest

from pmcsuite.collect.backends import get_backend
from pmcsuite.catalogue import load_catalogue
from pmcsuite.collect.backends.dtrace import (
    D_COUNTERS, DtraceBackend, classify_error, counter_values, d_counters, dtrace_argv, dtrace_script,
    parse_aggregations)
from pmcsuite.errors import PmcsuiteError

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent
STANDINS = HERE / "standins"


def fixture(name: str) -> str:
    """A dtrace_*.txt fixture without its leading '#' provenance comment."""
    lines = (HERE / "fixtures" / name).read_text().splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "".join(lines)


def test_parse_pmcsuite_script_output():
    entries = parse_aggregations(fixture("dtrace_pmcsuite_counts.txt"))
    scalars = {e.keys[0]: e.value for e in entries if not e.is_histogram and len(e.keys) == 1}
    assert scalars == {"syscalls_write": 129, "syscalls_read": 263, "context_switches": 396,
                       "syscalls_all": 517, "page_faults": 4211, "offcpu_ns": 7842113}
    # a (string, int)-keyed aggregation and quantize blocks, as an older script printed them
    assert {e.keys: e.value for e in entries if len(e.keys) == 2} == {
        ("offcpu_ns_thread", 100148): 3101877, ("offcpu_ns_thread", 100147): 4740236}
    h = {e.keys[0]: {b: n for b, n in e.buckets.items() if n} for e in entries if e.is_histogram}
    assert h == {"write_sizes": {256: 1, 131072: 128}, "read_sizes": {8: 7, 65536: 256}}
    quant = next(e for e in entries if e.keys == ("write_sizes",))
    assert quant.buckets[512] == 0 and quant.buckets[262144] == 0   # printed empty rows kept


def test_parse_count_with_string_keys():
    entries = parse_aggregations(fixture("dtrace_count_execname.txt"))
    assert [(e.keys, e.value) for e in entries] == [
        (("dtrace",), 1), (("basename",), 2), (("bash",), 9), (("Xorg",), 21),
        (("write() calls",), 33)]                    # a key with a space stays one key


def test_parse_quantize_blocks():
    entries = parse_aggregations(fixture("dtrace_quantize_execname.txt"))
    assert [e.keys for e in entries] == [("bash",), ("gnome-terminal",)]
    assert all(e.is_histogram for e in entries)
    assert {b: n for b, n in entries[0].buckets.items() if n} == {16384: 4, 131072: 1}
    assert sum(entries[1].buckets.values()) == 15


def test_parse_multikey_and_keyless_quantize():
    entries = parse_aggregations(fixture("dtrace_multikey.txt"))
    assert [(e.keys, e.value) for e in entries[:3]] == [
        (("ipcbench", 1204), 12), (("sh", 1203), 40), (("ipcbench", 1205), 1031)]
    assert entries[3].keys == () and {b: n for b, n in entries[3].buckets.items() if n} == \
        {1024: 3, 4096: 10}


def test_parse_lquantize_rows_and_garbage():
    text = ("\n\n           value  ------------- Distribution ------------- count    \n"
            "             < 0 |                                         0        \n"
            "               0 |@@@@@@@@@@@@@@@@@@@@                     5        \n"
            "           >= 10 |@@@@@@@@@@@@@@@@@@@@                     5        \n\n")
    (entry,) = parse_aggregations(text)
    assert entry.buckets == {"<0": 0, 0: 5, ">=10": 5}
    with pytest.raises(PmcsuiteError, match="dtrace"):
        parse_aggregations("\n  syscalls_read     not-a-number\n")


def test_script_generation():
    d = dtrace_script(["syscalls_read", "offcpu_ns", "minor_faults"])
    assert d.startswith("#pragma D option quiet")
    assert 'BEGIN\n{\n    @counts["syscalls_read"] = sum(0);\n    @counts["offcpu_ns"] = sum(0);\n}' in d
    assert "syscall::read:entry\n/progenyof($target)/" in d
    assert "sched:::off-cpu" in d and "minor_faults" not in d
    assert set(re.findall(r"@(\w+)\[", d)) == {"counts"}      # one aggregation, all read back
    assert d.count("{") == d.count("}")
    with pytest.raises(PmcsuiteError, match="dtrace backend counts"):
        dtrace_script(["cycles"])


def test_argv_is_not_a_shell():
    argv = dtrace_argv("/t/s.d", "/t/o", ["/x/ipcbench", "-i", "pipe", "-b", "65536"])
    assert argv == ["dtrace", "-q", "-o", "/t/o", "-s", "/t/s.d", "-c",
                    "/x/ipcbench -i pipe -b 65536"]
    with pytest.raises(PmcsuiteError, match="white space"):
        dtrace_argv("/t/s.d", "/t/o", ["/my dir/ipcbench"])


def test_classify_and_values():
    assert classify_error("dtrace: failed to initialize dtrace: DTrace requires additional "
                          "privileges\n")[0] == "permission_denied"
    status, msg = classify_error("dtrace: failed to compile script /t/s.d: line 9: probe "
                                 "description fbt::vm_fault:entry does not match any probes\n")
    assert status == "not_supported" and "fbt::vm_fault:entry" in msg and "\n" not in msg
    vals = counter_values(parse_aggregations(fixture("dtrace_pmcsuite_counts.txt")),
                          {"syscalls_read": "", "fault_ns": "", "cycles": "cpu_cycles"})
    assert (vals[0].status, vals[0].value) == ("ok", 263.0)
    assert (vals[1].status, vals[1].value) == ("not_counted", None)     # absent: never 0
    assert (vals[2].status, vals[2].value) == ("not_supported", None)


@pytest.fixture
def standin_path(monkeypatch):
    monkeypatch.setenv("PATH", f"{STANDINS}:{__import__('os').environ['PATH']}")
    monkeypatch.delenv("PMCSUITE_DTRACE_FAIL", raising=False)


@pytest.fixture(scope="module")
def bench_cmd(exe):
    from pmcsuite.collect.benchmark import bench_argv
    return bench_argv(exe, "pipe", 65536, 1 << 20, "2thread", "any")


def test_backend_runs_through_standin(standin_path, bench_cmd):
    backend = get_backend("dtrace")
    assert isinstance(backend, DtraceBackend) and backend.scope == "process"
    assert backend.available()[0] and backend.version() == "dtrace: Sun D 1.13"
    events = {"syscalls_write": "syscall::write:entry", "syscalls_read": "", "offcpu_ns": "",
              "minor_faults": ""}
    bench, values = backend.run(events, bench_cmd, timeout=60)
    assert bench["tool"] == "ipcbench" and bench["writes"] == 16
    assert [v.counter for v in values] == list(events)
    by = {v.counter: v for v in values}
    assert by["syscalls_write"].status == "ok" and by["syscalls_write"].value >= bench["writes"]
    assert by["syscalls_read"].value >= bench["reads"]
    assert by["offcpu_ns"].unit == "ns" and by["offcpu_ns"].value > 0
    assert by["minor_faults"].status == "not_supported" and by["minor_faults"].value is None


def test_backend_drops_missing_probe(standin_path, bench_cmd, monkeypatch):
    monkeypatch.setenv("PMCSUITE_DTRACE_FAIL", "noprobe:fbt::vm_fault:entry")
    bench, values = DtraceBackend().run({"page_faults": "", "syscalls_write": ""}, bench_cmd, 60)
    assert values[0].status == "not_supported" and values[0].value is None
    assert values[1].status == "ok"
    probed = DtraceBackend().probe({"page_faults": "", "syscalls_write": ""})
    assert [p.status for p in probed] == ["not_supported", "available"]


def test_backend_errors(standin_path, bench_cmd, monkeypatch, tmp_path):
    monkeypatch.setenv("PMCSUITE_DTRACE_FAIL", "privileges")
    with pytest.raises(PmcsuiteError, match="root"):
        DtraceBackend().run({"syscalls_write": ""}, bench_cmd, 60)
    monkeypatch.delenv("PMCSUITE_DTRACE_FAIL")
    with pytest.raises(PmcsuiteError, match="failed under dtrace.*ipcbench"):
        DtraceBackend().run({"syscalls_write": ""}, [bench_cmd[0], "-i", "bogus"], 60)
    # dtrace exits 0 when the traced command dies: ipcbench's guard says so
    fakebench = str(STANDINS / "fakebench")
    with pytest.raises(PmcsuiteError, match="crashed under dtrace: killed by signal 11"):
        DtraceBackend().run({"syscalls_write": ""}, [fakebench, "--crash-after"], 60)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not DtraceBackend().available()[0]
    with pytest.raises(PmcsuiteError, match="dtrace not found"):
        DtraceBackend().run({"syscalls_write": ""}, bench_cmd, 60)
    assert DtraceBackend().probe({"syscalls_write": ""})[0].status == "tool_missing"


def test_every_counter_clause_is_balanced():
    for cid in D_COUNTERS:
        d = dtrace_script([cid])
        assert d.count("{") == d.count("}") and f'@counts["{cid}"]' in d


def test_clauses_come_from_the_catalogue(tmp_path):
    """The backend counts what counters.yaml spells for dtrace: its D clauses where it gives them,
    else a clause counting every firing of the probes; the catalogue's unit, "" for a count."""
    assert set(D_COUNTERS) == set(load_catalogue().platforms["freebsd-kernel"].events)
    assert "sched_switch" not in D_COUNTERS          # the catalogue says FreeBSD has no probe of its own for it
    user = tmp_path / "user.yaml"
    user.write_text('platforms:\n  freebsd-kernel:\n    events:\n'
                    '      sched_switch: {dtrace: "sched:::off-cpu,sched:::remain-cpu"}\n'
                    '      context_switches:\n        dtrace: "sched:::off-cpu"\n        clause: |\n'
                    '          sched:::off-cpu\n          /{target} && arg0 == 0/\n'
                    '          {\n              @counts["context_switches"] = sum(1);\n          }\n')
    counters = d_counters(load_catalogue([user]))
    assert counters["sched_switch"] == ("sched:::off-cpu,sched:::remain-cpu", "",
                                        'sched:::off-cpu, sched:::remain-cpu\n/{target}/\n{\n'
                                        '    @counts["sched_switch"] = sum(1);\n}\n')
    assert "/{target} && arg0 == 0/" in counters["context_switches"][2]
    assert counters["offcpu_ns"][1] == "ns" and counters["offcpu_ns"][2] == D_COUNTERS["offcpu_ns"][2]


def test_collect_with_the_catalogue_freebsd_kernel_platform(standin_path, tmp_path):
    """``collect --backend dtrace --platform freebsd-kernel --counters sched,faults`` through the
    stand-in: the catalogue's dtrace-only counters (offcpu_ns, fault_ns) are counted, the ones
    FreeBSD has no probe for are skipped by design, and the kernel view shows the times."""
    import pmcsuite
    from pmcsuite.report.kernel_sections import faults_section, sleep_section
    out = pmcsuite.collect(out=tmp_path / "fbsd", counters="sched,faults", backend="dtrace",
                           platform="freebsd-kernel", ipcs=["pipe"], sizes="4K,64K", runs=2,
                           warmup=1, total="1M", progress=False)
    df = pmcsuite.load(out)
    assert df["ok"].all()
    counted = df[df["backend"] == "dtrace"]
    assert len(counted) == 4 and set(counted["scope"]) == {"process"}
    assert {"offcpu_ns", "fault_ns", "page_faults", "context_switches"} <= set(df.attrs["counters"])
    assert "sched_switch" not in df.columns and "minor_faults" not in df.columns
    assert (counted["offcpu_ns"] == 1_000_000 + 1000 * counted["reads"]).all()   # stand-in values
    assert (counted[["offcpu_writer_ns", "offcpu_reader_ns"]].notna()).all().all()
    sleep = sleep_section(df, df.attrs["metadata"], tmp_path / "report").markdown
    assert "writer off-CPU (ms)" in sleep and "offcpu_ns (dtrace, ms)" in sleep
    faults = faults_section(df, df.attrs["metadata"], tmp_path / "report").markdown
    assert "time in faults (ms)" in faults and "not measured" not in faults
    assert "| `page_faults` | minflt+majflt | pipe | process |" in faults
