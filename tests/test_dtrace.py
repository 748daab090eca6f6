"""FreeBSD dtrace backend: D script generation, the aggregation-output parser on exact-format
fixtures, and DtraceBackend end to end through tests/standins/dtrace (no FreeBSD here)."""
import re
from pathlib import Path

import pytest

from pmcsuite.collect.backends import get_backend
from pmcsuite.catalogue import load_catalogue
from pmcsuite.collect.backends.dtrace import (
    D_COUNTERS, P_COUNTERS, DtraceBackend, classify_error, counter_values, d_counters, d_profile_counters, drops,
    dtrace_argv, dtrace_script, frame_function, parse_aggregations, profile_period_ns, profile_result, profile_values)
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
    events = load_catalogue().platforms["freebsd-kernel"].events
    assert set(D_COUNTERS) | set(P_COUNTERS) == set(events) and not set(D_COUNTERS) & set(P_COUNTERS)
    assert set(P_COUNTERS) == {c.counter for c in load_catalogue().profile_categories}
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


# ------------------------------------------------------------------ the profile (profile-997 + stack())

#: The profile clauses' aggregations at exit, in dtrace's layout (dt_print_aggs/dt_print_stack: string key
#: "  %-50s", tid " %8d", then the stack: "\n" and one frame a line indented 14 spaces, leaf first, then the
#: count " %16lld"), with FreeBSD 14 amd64 kernel symbols of the pipe path. Illustrative: written from
#: libdtrace's source, never printed by a FreeBSD dtrace (none here).
PROFILE_OUTPUT = """
  kstack                                                 100101
              kernel`__mtx_lock_sleep+0xe8
              kernel`pipe_write+0x9b4
              kernel`dofilewrite+0x81
              kernel`sys_write+0xb8
              kernel`amd64_syscall+0x15a
              kernel`fast_syscall_common+0x101
                2
  kstack                                                 100100
              kernel`spinlock_exit+0x2d
              kernel`0xffffffff80fa4b0e
                2
  kstack                                                 100101
              kernel`pmap_enter+0x9e1
              kernel`vm_fault+0x14c1
              kernel`vm_fault_trap+0x6d
              kernel`trap_pfault+0x1f8
              kernel`trap+0x442
              kernel`calltrap+0x8
              kernel`copyin_smap_erms+0x1d
              kernel`uiomove_faultflag+0x12c
              kernel`pipe_write+0x9b4
              kernel`dofilewrite+0x81
              kernel`sys_write+0xb8
              kernel`amd64_syscall+0x15a
              kernel`fast_syscall_common+0x101
                3
  kstack                                                 100102
              kernel`sched_switch+0x5d2
              kernel`mi_switch+0x171
              kernel`sleepq_switch+0x109
              kernel`sleepq_catch_signals+0x3f1
              kernel`sleepq_wait_sig+0x9
              kernel`_sleep+0x1e3
              kernel`pipe_read+0x3e4
              kernel`dofileread+0x82
              kernel`sys_read+0xb8
              kernel`amd64_syscall+0x15a
              kernel`fast_syscall_common+0x101
                9
  kstack                                                 100102
              kernel`copyout_smap_erms+0x1d
              kernel`uiomove_faultflag+0x12c
              kernel`pipe_read+0x3e4
              kernel`dofileread+0x82
              kernel`sys_read+0xb8
              kernel`amd64_syscall+0x15a
              kernel`fast_syscall_common+0x101
               20
  kstack                                                 100101
              kernel`copyin_smap_erms+0x1d
              kernel`uiomove_faultflag+0x12c
              kernel`pipe_write+0x9b4
              kernel`dofilewrite+0x81
              kernel`sys_write+0xb8
              kernel`amd64_syscall+0x15a
              kernel`fast_syscall_common+0x101
               37
  user                                                   100100                3
  user                                                   100102                5
  user                                                   100101                7
  read                                                   100100                2
  write                                                  100100             1490
  read                                                   100102          1048576
  write                                                  100101          1048576
"""


def test_parse_stack_aggregation():
    entries = parse_aggregations(PROFILE_OUTPUT)
    stacks = [e for e in entries if e.frames]
    assert [(e.keys, e.value, len(e.frames)) for e in stacks] == [
        (("kstack", 100101), 2, 6), (("kstack", 100100), 2, 2), (("kstack", 100101), 3, 13),
        (("kstack", 100102), 9, 11), (("kstack", 100102), 20, 7), (("kstack", 100101), 37, 7)]
    assert stacks[-1].frames[:2] == ["kernel`copyin_smap_erms+0x1d", "kernel`uiomove_faultflag+0x12c"]  # leaf first
    scalars = {e.keys: e.value for e in entries if not e.frames}
    assert scalars[("user", 100101)] == 7 and scalars[("write", 100101)] == 1048576 and len(scalars) == 7
    # @[stack()] without keys: a blank line before each stack (dt_print_stack starts with "\n")
    keyless = parse_aggregations("\n\n              kernel`uiomove_faultflag+0x12c\n              0xffffffff80fa4b0e\n"
                                 "               12\n\n              kernel`amd64_syscall+0x15a\n                1\n")
    assert [(e.keys, e.frames, e.value) for e in keyless] == [
        ((), ["kernel`uiomove_faultflag+0x12c", "0xffffffff80fa4b0e"], 12), ((), ["kernel`amd64_syscall+0x15a"], 1)]
    with pytest.raises(PmcsuiteError, match="cut short"):
        parse_aggregations("\n  kstack   100101\n              kernel`pipe_write+0x9b4\n")
    with pytest.raises(PmcsuiteError, match="stack line"):
        parse_aggregations("\n  kstack   100101\n              kernel`pipe_write+0x9b4\n  user  100101  3\n")


def test_frames_and_periods():
    assert frame_function("kernel`uiomove_faultflag+0x12c") == "uiomove_faultflag"
    assert frame_function("zfs.ko`zio_execute") == "zio_execute"
    assert frame_function("kernel`0xffffffff80fa4b0e") == frame_function("0xffffffff80fa4b0e") == "[unknown]"
    assert profile_period_ns("profile:::profile-997") == pytest.approx(1e9 / 997)
    assert profile_period_ns("profile-1ms") == 1e6 and profile_period_ns("profile:::profile-4999hz") == 1e9 / 4999
    with pytest.raises(PmcsuiteError, match="sampling period"):
        profile_period_ns("profile:::tick-1s")
    assert drops("dtrace: 12 aggregation drops on CPU 1\ndtrace: 3 aggregation drops on CPU 0\n") == 15
    assert drops("") == 0


def test_profile_result_like_linux():
    """Samples per category (the catalogue's freebsd patterns, collect/profile.py's rule), per role (the
    writer: most bytes to write(); the reader: to read(); the rest of the process), folded stacks."""
    cat = load_catalogue()
    record, by_category = profile_result(parse_aggregations(PROFILE_OUTPUT), "profile:::profile-997",
                                         cat.profile_categories, drops=4)
    assert by_category == {"fault": 3, "memcg": 0, "sched": 9, "lock": 2, "copy": 57, "syscall": 0, "ipc": 0,
                           "user": 15, "other": 2}
    assert record["samples"] == {"writer": 2 + 3 + 37 + 7, "reader": 9 + 20 + 5, "process": 2 + 3}
    assert (record["event"], record["unit"], record["lost"], record["kallsyms"]) == ("profile-997", "ns", {"all": 4},
                                                                                      "ok")
    assert record["period"] == pytest.approx(1003009.027)
    folded = record["folded"]
    assert folded["writer;fast_syscall_common;amd64_syscall;sys_write;dofilewrite;pipe_write;uiomove_faultflag;"
                  "copyin_smap_erms"] == 37
    assert folded["process;[unknown];spinlock_exit"] == 2 and folded["reader;[user]"] == 5
    assert sum(folded.values()) == sum(record["samples"].values()) == sum(by_category.values())
    from pmcsuite.schema import profile_problems
    assert profile_problems(record) == []
    events = {cid: "profile:::profile-997" for cid in ("profile_copy", "profile_memcg", "profile_fault")}
    values = profile_values(record, by_category, events, loop_ns=50_000_000)
    assert [(v.status, v.value, v.unit) for v in values.values()] == [("ok", 57.0, "samples"), ("ok", 0.0, "samples"),
                                                                    ("ok", 3.0, "samples")]
    empty, none = profile_result([], "profile:::profile-997", cat.profile_categories)
    silent = profile_values(empty, none, events, loop_ns=50_000_000)      # 50 periods, not one sample
    assert {v.status for v in silent.values()} == {"silent_zero"} and all(v.value is None for v in silent.values())
    assert {v.status for v in profile_values(empty, none, events, loop_ns=5_000_000).values()} == {"ok"}


def test_profile_script():
    d = dtrace_script(["syscalls_write", *P_COUNTERS])
    assert "#pragma D option stackframes=32" in d and d.count("{") == d.count("}")
    assert ("profile:::profile-997\n/progenyof($target) && arg0 != 0/\n{\n"
            '    @pmc_kstacks["kstack", tid, stack()] = count();') in d
    assert '@pmc_user["user", tid] = count();' in d and '@pmc_bytes["read", tid] = sum(arg2);' in d
    assert d.count("profile:::profile-997") == 2                        # once per clause, not per counter
    assert "stackframes" not in dtrace_script(["syscalls_write"])
    assert d_profile_counters(load_catalogue()) == P_COUNTERS


def test_profile_through_standin(standin_path, bench_cmd):
    """``collect --backend dtrace --counters profile`` as the backend sees it, through the stand-in: the
    profile counters (samples per category) and the record's profile in the benchmark's JSON."""
    events = {**{cid: "profile:::profile-997" for cid in P_COUNTERS}, "syscalls_write": "syscall::write:entry"}
    bench, values = DtraceBackend().run(events, bench_cmd, timeout=60)
    by = {v.counter: v for v in values}
    assert [v.counter for v in values] == list(events) and all(v.status == "ok" for v in values)
    writes, reads = bench["writes"], bench["reads"]
    assert by["profile_copy"].value == (2 * writes + 5) + (reads + 4)       # the stand-in's copy stacks
    assert by["profile_fault"].value == 3 and by["profile_user"].value == 15 and by["profile_memcg"].value == 0
    assert by["syscalls_write"].value == writes + 1                         # counted beside the profile
    profile = bench["profile"]
    assert profile["samples"]["writer"] > 0 and profile["samples"]["reader"] > 0
    assert sum(profile["folded"].values()) == sum(v.value for v in values if v.counter in P_COUNTERS)
    assert all(stack.split(";")[0] in ("writer", "reader", "process") for stack in profile["folded"])
    probed = DtraceBackend().probe({"profile_copy": "profile:::profile-997"})
    assert [(p.status, p.unit) for p in probed] == [("available", "samples")]


def test_profile_provider_missing(standin_path, bench_cmd, monkeypatch):
    monkeypatch.setenv("PMCSUITE_DTRACE_FAIL", "noprobe:profile:::profile-997")
    bench, values = DtraceBackend().run({"profile_copy": "", "syscalls_write": ""}, bench_cmd, 60)
    assert (values[0].status, values[0].value) == ("not_supported", None) and "profile-997" in values[0].reason
    assert values[1].status == "ok" and "profile" not in bench


def test_collect_the_profile_with_dtrace(standin_path, tmp_path):
    """``collect --backend dtrace --platform freebsd-kernel --counters profile`` through the stand-in: the
    profile counters are columns like any counter (scope process), and each run keeps its profile."""
    import json
    import pmcsuite
    out = pmcsuite.collect(out=tmp_path / "fbsd", counters="profile", backend="dtrace", platform="freebsd-kernel",
                           ipcs=["pipe"], sizes="64K", runs=1, warmup=0, total="1M", progress=False)
    df = pmcsuite.load(out)
    counted = df[df["backend"] == "dtrace"]
    assert len(counted) == 1 and set(counted["scope"]) == {"process"} and df["ok"].all()
    row = counted.iloc[0]
    assert row["profile_copy"] == (2 * row["writes"] + 5) + (row["reads"] + 4)
    assert row["profile_period_ns"] == pytest.approx(1e9 / 997) and row["profile_lost"] == 0
    runs = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    profiled = [r["profile"] for r in runs if r["backend"] == "dtrace"]
    assert len(profiled) == 1 and profiled[0]["event"] == "profile-997"
    assert sum(profiled[0]["folded"].values()) == sum(row[c] for c in P_COUNTERS)
