"""pmcsuite trace: perf script parsing (real capture), timeline reduction, Chrome trace JSON, and one
real end-to-end run under perf record on this machine."""
import datetime
import json
import sys
from pathlib import Path

import pytest

from needs import needs_perf

from pmcsuite.errors import PmcsuiteError
from pmcsuite.collect.trace import (
    build_timeline, chrome_trace, output_paths, parse_perf_script, plot_timeline, provenance, record_argv, trace,
    _record_error)

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


@needs_perf
def test_trace_end_to_end(tmp_path):
    """For real: pipe, 256K buffer, 16M: 64 writes, >= 256 reads (Linux pipe capacity 64K)."""
    out = tmp_path / "sub" / "trace.json"
    json_path, png_path = trace("pipe", B, 16 << 20, out=out, command_line=["pmcsuite", "trace"])
    assert json_path == out and png_path == out.with_suffix(".png")
    with open(json_path) as f:
        doc = json.load(f)
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
