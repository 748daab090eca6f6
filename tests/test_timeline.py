"""pmcsuite trace: perf script parsing (real capture), timeline reduction, Chrome trace JSON, and one
real end-to-end run under perf record on this machine."""
import datetime
import json
import sys
from pathlib import Path

import pytest

from needs import needs_perf, require, require_perf

from pmcsuite.errors import PmcsuiteError
from pmcsuite.collect import trace as trace_module
from pmcsuite.collect.trace import (
    FAULT_TRACEPOINTS, build_timeline, chrome_trace, fault_tracepoints, output_paths, parse_perf_script, plot_timeline,
    provenance, record_argv, trace, _record_error)

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).parent / "fixtures" / "trace_perf_script_pipe_256K.txt"
B = 256 * 1024


@pytest.fixture(scope="module")
def events():
    return parse_perf_script(FIXTURE.read_text())


def test_parse_real_capture(events):
    assert len(events) == 114
    assert [e.ts for e in events] == sorted(e.ts for e in events)
    enter = [e for e in events if e.event == "sys_enter_read" and e.fields["fd"] == 3
             and e.fields["count"] >= 65536]
    # the reader asks for min(B, bytes still owed): 13 x 256K, then 192K, 128K, 64K
    assert sorted(e.fields["count"] for e in enter) == [65536, 131072, 196608] + [B] * 13
    exits = [e for e in events if e.event == "sys_exit_read" and e.fields["ret"] == 65536]
    assert len(exits) == 16
    sw = next(e for e in events if e.event == "sched_switch")
    assert set(sw.fields) >= {"prev_pid", "prev_state", "next_pid", "next_comm"}
    assert isinstance(sw.fields["prev_pid"], int) and sw.fields["prev_state"] in ("R", "S", "D", "R+")
    wk = next(e for e in events if e.event == "sched_waking")
    assert isinstance(wk.fields["pid"], int)


def test_parse_details():
    text = ("# header line from perf\n"
            "  my comm 12/34 [001]   10.000000123:  syscalls:sys_exit_read: 0xfffffffffffffff5\n"
            "  my comm 12/34 [001]   10.000000100:  syscalls:sys_enter_read: fd: 0x00000003, "
            "buf: 0x7f, count: 0x00001000\n")
    ev = parse_perf_script(text)
    assert [e.event for e in ev] == ["sys_enter_read", "sys_exit_read"]   # sorted by time
    assert ev[0].comm == "my comm" and (ev[0].pid, ev[0].tid, ev[0].cpu) == (12, 34, 1)
    assert ev[0].ts == 10_000_000_100 and ev[0].fields["count"] == 4096
    assert ev[1].fields["ret"] == -11                                      # -EAGAIN, signed


#: Real perf 6.1 lines of the page-fault tracepoints (Linux 6.x x86-64 VM): a kernel-mode fault prints
#: its ip as a symbol (%ps), a user-mode one as hex.
FAULT_LINES = (
    " ipcbench-1a4360   388/388   [001]  3225.824879108: exceptions:page_fault_kernel: "
    "address=0x7ffff61faac9 ip=_copy_to_user error_code=0x2\n"
    " ipcbench-1a4360   388/390   [001]  3225.826145194:   exceptions:page_fault_user: "
    "address=0x7f7ea3191000 ip=0x7f7ea3197b46 error_code=0x4\n"
    "            true 32731/32731 [001]  3209.099042787: exceptions:page_fault_kernel: address=0x5653b52571e0 "
    "ip=elf_load error_code=0x2\n"
    "            true 32731/32731 [001]  3209.099100293:   exceptions:page_fault_user: address=0x7ff54d139b70 "
    "ip=0x7ff54d139b70 error_code=0x14\n")


def test_parse_page_faults():
    ev = parse_perf_script(FAULT_LINES)
    assert [e.event for e in ev] == ["page_fault_kernel", "page_fault_user", "page_fault_kernel", "page_fault_user"]
    user = next(e for e in ev if e.tid == 390)
    assert (user.comm, user.pid, user.cpu, user.ts) == ("ipcbench-1a4360", 388, 1, 3225_826_145_194)
    assert user.fields == {"address": "0x7f7ea3191000", "ip": "0x7f7ea3197b46", "error_code": 4}
    assert ev[0].fields == {"address": "0x5653b52571e0", "ip": "elf_load", "error_code": 2}
    with pytest.raises(PmcsuiteError, match="exceptions tracepoints"):
        parse_perf_script("  x 1/1 [000] 1.000000001: exceptions:page_fault_user: address=0x1 error_code=0x4\n")


def _fault_line(tid: int, ts_ns: int, kind: str = "user", code: str = "0x6") -> str:
    """A page-fault record of the captured run's process (pid 5612), ``ts_ns`` on perf's clock."""
    return (f" ipcbench-5a03fb  5612/{tid}  [001]   {ts_ns // 10**9}.{ts_ns % 10**9:09d}:  "
            f"exceptions:page_fault_{kind}: address=0x7f0000001000 ip=0x401000 error_code={code}\n")


def test_faults_in_timeline_and_trace(events, tmp_path):
    """Faults of any thread of the benchmark's process, for the whole run, each an instant event on
    its thread's track with its args; timestamps from the first one (Perfetto drops negative times)."""
    tl0 = build_timeline(events, B)
    first_write = min(c.start for c in tl0.calls if c.name == "write")
    text = FIXTURE.read_text() + "".join([
        _fault_line(5612, tl0.start - 2_000_000), _fault_line(5612, tl0.start - 1_000_000, "kernel", "0x2"),
        _fault_line(tl0.writer, first_write + 1, code="0x7"), _fault_line(5612, tl0.end + 10),
        " sh 99/99 [000] 825.800000000: exceptions:page_fault_user: address=0x1 ip=0x2 error_code=0x14\n"])
    tl = build_timeline(parse_perf_script(text), B)
    assert [(f.tid, f.kind) for f in tl.faults] == [(5612, "user"), (5612, "kernel"), (tl.writer, "user"),
                                                    (5612, "user")]       # not another process's
    assert tl.origin == tl0.start - 2_000_000
    s = tl.summary()
    assert s["faults"] == {"before_loop": 2, "in_loop": 1, "after_loop": 1}
    assert (s["writer"]["faults"], s["reader"]["faults"]) == (1, 0)
    assert (s["writer"]["calls"], s["writer"]["bytes"]) == (tl0.summary()["writer"]["calls"], 1 << 20)
    doc = json.loads(json.dumps(chrome_trace(tl)))
    ev = doc["traceEvents"]
    assert min(e["ts"] for e in ev) == 0 and doc["otherData"]["loop_start_us"] == 2000.0
    faults = [e for e in ev if e.get("cat") == "fault"]
    assert [(e["ph"], e["tid"], e["ts"]) for e in faults][:2] == [("i", 5612, 0.0), ("i", 5612, 1000.0)]
    assert faults[2]["tid"] == tl.writer and faults[2]["ts"] == pytest.approx(2000 + (first_write - tl.start) / 1000,
                                                                               abs=0.002)
    assert faults[2]["name"] == "page fault (user)" and faults[1]["name"] == "page fault (kernel)"
    assert faults[2]["args"] == {"address": "0x7f0000001000", "ip": "0x401000", "error_code": "0x7",
                                 "access": "write", "cause": "protection"}
    names = {e["tid"]: e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
    assert names == {tl.writer: "writer", tl.reader: "reader", 5612: "main"}
    loop = [e for e in ev if e.get("cat") == "syscall"]
    assert min(e["ts"] for e in loop) == 2000.0               # the loop starts where otherData says
    png = plot_timeline(tl, tmp_path / "f.png", title="faults")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fault_tracepoints_where_the_kernel_lacks_them(tmp_path):
    """arm64 kernels have no exceptions: tracepoints: say so, in one line, and record nothing for them."""
    assert fault_tracepoints([str(tmp_path / "nowhere")])[0] == []
    assert "tracefs is not mounted" in fault_tracepoints([str(tmp_path / "nowhere")])[1]
    (tmp_path / "events" / "syscalls" / "sys_enter_write").mkdir(parents=True)
    have, note = fault_tracepoints([str(tmp_path)])
    assert have == [] and "no exceptions:page_fault_user or exceptions:page_fault_kernel" in note
    assert "arm64" in note and "no page faults" in note and "\n" not in note
    (tmp_path / "events" / "exceptions" / "page_fault_user").mkdir(parents=True)
    (tmp_path / "events" / "exceptions" / "page_fault_kernel").mkdir(parents=True)
    assert fault_tracepoints([str(tmp_path / "nowhere"), str(tmp_path)]) == (list(FAULT_TRACEPOINTS), "")
    argv = record_argv("perf", tmp_path / "d", ["x"], tracepoints=("sched:sched_switch", *FAULT_TRACEPOINTS))
    assert argv[argv.index("-e") + 1] == "sched:sched_switch," + ",".join(FAULT_TRACEPOINTS)


def test_parse_rejects_garbage():
    with pytest.raises(PmcsuiteError, match="perf script"):
        parse_perf_script("this is not perf script output\n")


def test_timeline_of_real_capture(events):
    tl = build_timeline(events, B)
    writes = [c for c in tl.calls if c.name == "write"]
    reads = [c for c in tl.calls if c.name == "read"]
    assert tl.writer != tl.reader
    assert len(writes) == 4 and all(c.tid == tl.writer and c.returned == B for c in writes)
    assert len(reads) == 16 and all(c.tid == tl.reader and c.returned == 65536 for c in reads)
    assert sum(c.returned for c in writes) == sum(c.returned for c in reads) == 1 << 20
    assert tl.start == min(c.start for c in tl.calls) and tl.end == max(c.end for c in tl.calls)
    assert tl.offcpu, "a pipe of 64K with 256K writes must make someone sleep"
    for o in tl.offcpu:
        assert tl.start <= o.start <= o.end <= tl.end and o.tid in (tl.writer, tl.reader)
    s = tl.summary()
    assert s["writer"]["calls"] == 4 and s["reader"]["calls"] == 16
    assert s["writer"]["asleep_ns"] > 0          # the writer waits for the reader to drain the pipe
    assert s["writer"]["wakeups"] == s["writer"]["sleeps"] == 15   # sched_waking: waker's context


def test_chrome_trace_shape(events, tmp_path):
    tl = build_timeline(events, B)
    doc = json.loads(json.dumps(chrome_trace(tl, {"bench": {"writes": 4}})))
    assert doc["displayTimeUnit"] == "ns"
    ev = doc["traceEvents"]
    for e in ev:
        assert {"ph", "ts", "pid", "tid"} <= set(e)
    names = {e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
    assert names == {"writer", "reader"}
    slices = [e for e in ev if e["ph"] == "X" and e["cat"] == "syscall"]
    assert {(e["name"], e["tid"]) for e in slices} == {("write", tl.writer), ("read", tl.reader)}
    assert all(e["dur"] >= 0 and 0 < e["args"]["requested"] <= B for e in slices)
    assert any(e["ph"] == "X" and e["cat"] == "sched" for e in ev)
    png = plot_timeline(tl, tmp_path / "t.png", zoom_ms=0.2)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_record_argv_and_errors(tmp_path):
    argv = record_argv("perf", tmp_path / "d", ["ipcbench", "-b", "1024"])
    assert argv[:2] == ["perf", "record"] and argv[-3:] == ["ipcbench", "-b", "1024"]
    assert argv[argv.index("-m") + 1] == "16M"
    assert "-m" not in record_argv("perf", tmp_path / "d", ["x"], mmap=None)
    assert "syscalls:sys_enter_write" in argv[argv.index("-e") + 1]
    msg = _record_error("Error:\nAccess to performance monitoring and observability operations "
                        "is limited.\nConsider adjusting /proc/sys/kernel/perf_event_paranoid")
    assert "perf_event_paranoid" in msg and "\n" not in msg


def test_trace_needs_perf(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PmcsuiteError, match="perf not found"):
        trace("pipe", B, 1 << 20, out=tmp_path / "t.json")


def test_out_is_a_directory(tmp_path):
    """--out DIR (or a path ending in /): the trace goes inside it under its default name; before,
    'trace --out dir/' wrote a file named 'dir'."""
    assert output_paths(tmp_path, "pipe", B) == (tmp_path / "trace-pipe-256K.json", tmp_path / "trace-pipe-256K.png")
    fresh = str(tmp_path / "fresh") + "/"
    assert output_paths(fresh, "local", 4096)[0] == tmp_path / "fresh" / "trace-local-4K.json"
    assert (tmp_path / "fresh").is_dir()
    (tmp_path / "trace-pipe-256K.json").mkdir()           # a directory where the file would go
    with pytest.raises(PmcsuiteError, match=r"is a directory, not a file: give a file path"):
        output_paths(tmp_path, "pipe", B)


def test_trace_takes_sizes_as_people_write_them(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))            # no perf: stops after the sizes are checked
    with pytest.raises(PmcsuiteError, match="perf not found"):
        trace("pipe", "256K", "16M", out=tmp_path / "t.json")
    with pytest.raises(PmcsuiteError, match="invalid size"):
        trace("pipe", "lots", out=tmp_path / "t.json")


def test_out_where_nothing_can_be_written(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    (tmp_path / "afile").write_text("x")
    with pytest.raises(PmcsuiteError, match=r"afile is a file, not a directory; choose --out"):
        trace("pipe", B, 1 << 20, out=tmp_path / "afile" / "sub" / "t.json")
    with pytest.raises(PmcsuiteError, match=r"cannot create the directory /proc/pmcsuite-x .*writable"):
        trace("pipe", B, 1 << 20, out="/proc/pmcsuite-x/t.json")
    with pytest.raises(PmcsuiteError, match=r"cannot write in /proc for .*writable directory"):
        output_paths("/proc/t.json")
    with pytest.raises(PmcsuiteError, match=r"ends in \.png"):
        output_paths(tmp_path / "t.png")
    assert output_paths(tmp_path / "new" / "t.json") == (tmp_path / "new" / "t.json",
                                                         tmp_path / "new" / "t.png")
    assert list((tmp_path / "new").iterdir()) == []       # the write probe leaves nothing


def test_provenance():
    p = provenance(["pmcsuite", "trace", "--ipc", "pipe"])
    assert p["command_line"] == ["pmcsuite", "trace", "--ipc", "pipe"]
    assert provenance()["command_line"] == sys.argv
    assert datetime.datetime.fromisoformat(p["created"]).utcoffset() == datetime.timedelta(0)
    from pmcsuite import __version__
    assert p["pmcsuite_version"] == __version__
    assert {"hostname", "os", "kernel", "machine", "cpu_model", "cpus"} <= set(p["host"])
    assert set(p["tools"]) == {"perf", "cc", "ipcbench"}
    assert p["tools"]["cc"] and {"compiler", "flags", "source_sha256"} <= set(p["tools"]["ipcbench"])
    json.dumps(p)


def test_trace_rejects_uneven_sizes(tmp_path):
    with pytest.raises(PmcsuiteError, match="multiple"):
        trace("pipe", 3000, 1 << 20, out=tmp_path / "t.json")


@pytest.fixture(scope="module")
def real_trace(tmp_path_factory):
    """One real trace: pipe, 256K buffer, 16M: (JSON path, PNG path, the JSON, requested out)."""
    require_perf()
    out = tmp_path_factory.mktemp("trace") / "sub" / "trace.json"
    json_path, png_path = trace("pipe", B, 16 << 20, out=out, command_line=["pmcsuite", "trace"])
    with open(json_path) as f:
        return json_path, png_path, json.load(f), out


@needs_perf
def test_trace_end_to_end(real_trace):
    """For real: pipe, 256K buffer, 16M: 64 writes, >= 256 reads (Linux pipe capacity 64K)."""
    json_path, png_path, doc, out = real_trace
    assert json_path == out and png_path == out.with_suffix(".png")
    ev = doc["traceEvents"]
    assert all({"ph", "ts", "pid", "tid"} <= set(e) for e in ev)
    writes = [e for e in ev if e["ph"] == "X" and e["name"] == "write"]
    reads = [e for e in ev if e["ph"] == "X" and e["name"] == "read"]
    assert len(writes) == 64
    assert len(reads) >= 256
    assert len({e["tid"] for e in writes}) == 1 and len({e["tid"] for e in reads}) == 1
    assert writes[0]["tid"] != reads[0]["tid"]
    assert doc["otherData"]["bench"]["writes"] == 64
    assert doc["otherData"]["complete"] is True
    other = doc["otherData"]                       # provenance: trustworthy later
    assert other["command_line"] == ["pmcsuite", "trace"] and other["created"].endswith("+00:00")
    assert other["host"]["kernel"] and other["host"]["os"] == "Linux"
    assert other["tools"]["perf"].startswith("perf version")
    assert other["tools"]["ipcbench"]["path"] == other["command"][0]
    assert png_path.read_bytes()[:4] == b"\x89PNG"


@needs_perf
def test_real_trace_shows_page_faults_mostly_early(real_trace):
    """The run's page faults are on the trace, and mostly before the loop: ipcbench's start-up and its
    buffers (filled or pre-faulted before the loop) fault; the loop itself, on buffers already
    touched, barely does. What holds under load: more than half come before the first read."""
    require(fault_tracepoints()[0], "the kernel's exceptions:page_fault_* tracepoints (x86 Linux)")
    _json, _png, doc, _out = real_trace
    other, ev = doc["otherData"], doc["traceEvents"]
    assert other["page_faults"]["tracepoints"] == fault_tracepoints()[0] and other["page_faults"]["note"] == "recorded"
    assert "exceptions:page_fault_user" in other["perf_record"]
    faults = [e for e in ev if e.get("cat") == "fault"]
    assert faults and all(e["ph"] == "i" and {"address", "ip", "error_code", "access", "cause"} <= set(e["args"])
                          for e in faults)
    pids = {e["pid"] for e in ev if e.get("cat") == "syscall"}
    assert {e["pid"] for e in faults} <= pids                   # the benchmark's own, no other process's
    assert min(e["ts"] for e in ev) == 0                        # no negative time (Perfetto drops those)
    first_read = min(e["ts"] for e in ev if e["ph"] == "X" and e["name"] == "read")
    early = [e for e in faults if e["ts"] < first_read]
    assert len(early) > len(faults) / 2
    counts = other["page_faults"]
    assert counts["before_loop"] + counts["in_loop"] + counts["after_loop"] == len(faults)
    assert counts["before_loop"] == sum(e["ts"] < other["loop_start_us"] for e in faults)


@needs_perf
def test_trace_says_when_the_kernel_has_no_fault_tracepoints(monkeypatch, tmp_path, capsys):
    """Where the kernel lacks them (arm64), the trace is made without faults and says so, once."""
    note = "this kernel has no exceptions:page_fault_user tracepoint (stand-in)"
    monkeypatch.setattr(trace_module, "fault_tracepoints", lambda: ([], note))
    json_path, _png = trace("pipe", B, 1 << 20, out=tmp_path / "t.json")
    doc = json.loads(json_path.read_text())
    assert doc["otherData"]["page_faults"]["tracepoints"] == [] and doc["otherData"]["page_faults"]["note"] == note
    assert "exceptions" not in doc["otherData"]["perf_record"]
    assert not [e for e in doc["traceEvents"] if e.get("cat") == "fault"]
    assert capsys.readouterr().err.count(note) == 1
