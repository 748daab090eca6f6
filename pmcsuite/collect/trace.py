"""Timeline of one benchmark run: every read()/write() call and every sleep of the two actors.

``pmcsuite trace --ipc pipe --buffer 256K`` runs ipcbench once under ``perf record`` with the
syscall and scheduler tracepoints, turns ``perf script`` output into a Chrome trace JSON
(``{"traceEvents": [...], "displayTimeUnit": "ns"}``, opens in ui.perfetto.dev or
chrome://tracing) and a PNG timeline (the reference study's figure 4 and appendix).

Per actor thread (named writer / reader by what it calls), the trace holds:
- one complete ("X") slice per read()/write() call: entry to return, args ``requested``
  (the count argument), ``returned`` (bytes, or a negative errno) and ``fd``;
- one "X" slice per time off-CPU: from ``sched_switch`` away from the thread to the first sign
  of it running again (a switch to it, or its own next event). ``prev_state`` S/D/I = asleep
  (blocked), R = preempted while runnable;
- an instant ("i") event per ``sched_waking`` of the thread (recorded in the waker's context,
  unlike ``sched_wakeup`` which fires on the target CPU), with the waker's tid;
- a counter ("C") track of bytes written minus bytes read (data inside the IPC object);
- an instant ("i") event per page fault (``exceptions:page_fault_user``/``_kernel``: x86 only;
  where the kernel lacks them the trace says so) on the faulting thread's track, args ``address``,
  ``ip``, ``error_code`` and its meaning (``access`` read/write/exec, ``cause``).

Calls, sleeps and wake-ups are kept for the timed loop (first loop call's entry to the last one's
return); page faults for the whole run, every thread of the benchmark's processes: most come
before the loop (ipcbench fills or pre-faults its buffers first). Timestamps start at the first
event shown (``otherData.loop_start_us``: the loop's; Perfetto drops negative times). Parsing and
conversion are pure functions; :func:`trace` runs. Tracepoints on every call are not free: a traced
run is slower than an untraced one, so use the timeline for its shape, not its absolute times.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .benchmark import parse_bench_output
from ..errors import EnvironmentProblem, PmcsuiteError
from .processes import scratch_dir
from ..schema import DEFAULT_ACTORS, DEFAULT_TIMEOUT, DEFAULT_TOTAL, stamp
from ..sizes import format_size, parse_size

#: Tracepoints recorded (all exist on any Linux with ftrace syscall tracing).
TRACEPOINTS = ("syscalls:sys_enter_read", "syscalls:sys_exit_read",
               "syscalls:sys_enter_write", "syscalls:sys_exit_write",
               "sched:sched_switch", "sched:sched_waking")

#: Page-fault tracepoints recorded where the kernel has them (x86; arm64 has no ``exceptions:``),
#: looked for in tracefs's ``events/`` under these roots (the second: the old debugfs place).
FAULT_TRACEPOINTS = ("exceptions:page_fault_user", "exceptions:page_fault_kernel")
TRACEFS_ROOTS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")

#: ``perf script`` fields (``trace:`` applies them to tracepoint events, no warnings).
SCRIPT_FIELDS = "trace:comm,pid,tid,cpu,time,event,trace"

_LINE = re.compile(r"^\s*(?P<comm>.*?)\s+(?P<pid>-?\d+)/(?P<tid>-?\d+)\s+\[(?P<cpu>\d+)\]\s+"
                   r"(?P<time>\d+\.\d+):\s+(?P<event>[\w-]+:[\w-]+):\s?(?P<trace>.*)$")
_SWITCH = re.compile(r"prev_comm=(?P<prev_comm>.*?) prev_pid=(?P<prev_pid>-?\d+) "
                     r"prev_prio=(?P<prev_prio>-?\d+) prev_state=(?P<prev_state>\S+) ==> "
                     r"next_comm=(?P<next_comm>.*?) next_pid=(?P<next_pid>-?\d+) "
                     r"next_prio=(?P<next_prio>-?\d+)")
_WAKEUP = re.compile(r"comm=(?P<comm>.*?) pid=(?P<pid>-?\d+) prio=(?P<prio>-?\d+)"
                     r"(?: target_cpu=(?P<target_cpu>\d+))?")
_ARG = re.compile(r"(\w+): (0x[0-9a-fA-F]+|-?\d+)")
_FAULT = re.compile(r"address=(?P<address>\S+) ip=(?P<ip>\S+) error_code=(?P<error_code>0x[0-9a-fA-F]+)")


@dataclass
class TraceEvent:
    """One line of ``perf script``: who (pid/tid/comm), where (cpu), when (ns), what."""

    comm: str
    pid: int
    tid: int
    cpu: int
    ts: int            # ns (perf's clock, as printed with --ns)
    event: str         # tracepoint name without its system, e.g. "sys_enter_read"
    fields: dict


def _ns(text: str) -> int:
    sec, frac = text.split(".")
    return int(sec) * 1_000_000_000 + int(frac.ljust(9, "0")[:9])


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= (1 << 63) else v


def _fields(event: str, trace: str) -> dict:
    try:
        if event.startswith("sys_enter_"):
            return {k: _signed64(int(v, 0)) for k, v in _ARG.findall(trace)}
        if event.startswith("sys_exit_"):
            return {"ret": _signed64(int(trace.strip().split()[0], 0))}
    except (ValueError, IndexError):           # an argument or return value that is not a number
        raise PmcsuiteError(f"unreadable {event} record {trace[:60]!r}: is this perf script "
                            "output of the syscall tracepoints?") from None
    m = (_SWITCH if event == "sched_switch" else _WAKEUP if event.startswith("sched_wak")
         else _FAULT if event.startswith("page_fault_") else None)
    if m is None:
        return {"raw": trace}
    m = m.search(trace)
    if m is None:
        raise PmcsuiteError(f"unreadable {event} record {trace[:60]!r}: is this perf script "
                            "output of the sched or exceptions tracepoints?")
    if m.re is _FAULT:                      # address/ip: hex, or a kernel symbol (%ps)
        return {"address": m["address"], "ip": m["ip"], "error_code": int(m["error_code"], 16)}
    return {k: (int(v) if v is not None and re.fullmatch(r"-?\d+", v) and not k.endswith(("comm", "state"))
                else v) for k, v in m.groupdict().items()}


def parse_perf_script(text: str) -> list[TraceEvent]:
    """Parse ``perf script --ns -F trace:comm,pid,tid,cpu,time,event,trace`` output.

    Lines starting with ``#`` (perf's header) and blank lines are skipped; any other line that
    is not a tracepoint record raises PmcsuiteError. Events come back sorted by time.
    """
    out = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            raise PmcsuiteError(f"unreadable perf script line {line.strip()[:80]!r}: expected "
                                f"'comm pid/tid [cpu] time: event: fields' (-F {SCRIPT_FIELDS})")
        event = m["event"].split(":", 1)[1]
        try:
            out.append(TraceEvent(m["comm"], int(m["pid"]), int(m["tid"]), int(m["cpu"]),
                                  _ns(m["time"]), event, _fields(event, m["trace"])))
        except ValueError:                     # int() refuses numbers of 4300+ digits
            raise PmcsuiteError(f"unreadable perf script line {line.strip()[:80]!r}: a number of "
                                "thousands of digits") from None
    out.sort(key=lambda e: e.ts)
    return out


@dataclass
class Call:
    """One read()/write() call of an actor."""
    tid: int
    name: str          # "read" | "write"
    start: int         # ns
    end: int
    fd: int
    requested: int
    returned: int


@dataclass
class OffCpu:
    """A stretch of time an actor was off-CPU; state "S"/"D"/"I" = asleep, "R" = preempted."""
    tid: int
    start: int
    end: int
    state: str

    @property
    def asleep(self) -> bool:
        return not self.state.startswith("R")


@dataclass
class Wakeup:
    tid: int           # woken thread
    ts: int
    waker: int         # tid that woke it


@dataclass
class Fault:
    """A page fault of a benchmark thread: ``kind`` "user", or "kernel" (kernel code touching user memory)."""
    pid: int
    tid: int
    ts: int
    kind: str
    address: str       # as perf prints it: hex, or a kernel symbol
    ip: str
    error_code: int

    def args(self) -> dict:
        """The trace's args: the fields and what the x86 error code says (bits P, W, I/D)."""
        code = self.error_code
        return {"address": self.address, "ip": self.ip, "error_code": hex(code),
                "access": "exec" if code & 0x10 else "write" if code & 0x2 else "read",
                "cause": "protection" if code & 0x1 else "not present"}


@dataclass
class Timeline:
    """The timed loop of one run, reduced to calls, off-CPU stretches and wake-ups; the run's faults."""
    pid: int
    writer: int
    reader: int
    start: int
    end: int
    calls: list[Call] = field(default_factory=list)
    offcpu: list[OffCpu] = field(default_factory=list)
    wakeups: list[Wakeup] = field(default_factory=list)
    pids: dict = field(default_factory=dict)   # tid -> pid
    faults: list[Fault] = field(default_factory=list)   # the whole run's, every thread's

    @property
    def origin(self) -> int:
        """The first event shown: the loop's first call, or an earlier page fault."""
        return min([self.start, *(f.ts for f in self.faults)])

    def role(self, tid: int) -> str:
        return "writer" if tid == self.writer else "reader"

    def summary(self) -> dict:
        """Per role: calls, bytes, time in calls, asleep and preempted (ns), wake-ups, page faults
        in the loop; and the page faults of all threads before, in and after the loop."""
        ts = [f.ts for f in self.faults]
        out = {"loop_ns": self.end - self.start,
               "faults": {"before_loop": sum(t < self.start for t in ts),
                          "in_loop": sum(self.start <= t <= self.end for t in ts),
                          "after_loop": sum(t > self.end for t in ts)}}
        for tid in (self.writer, self.reader):
            calls = [c for c in self.calls if c.tid == tid]
            off = [o for o in self.offcpu if o.tid == tid]
            out[self.role(tid)] = {
                "tid": tid, "calls": len(calls),
                "bytes": sum(max(c.returned, 0) for c in calls),
                "in_calls_ns": sum(c.end - c.start for c in calls),
                "asleep_ns": sum(o.end - o.start for o in off if o.asleep),
                "preempted_ns": sum(o.end - o.start for o in off if not o.asleep),
                "sleeps": sum(1 for o in off if o.asleep),
                "wakeups": sum(1 for w in self.wakeups if w.tid == tid),
                "faults": sum(1 for f in self.faults if f.tid == tid and self.start <= f.ts <= self.end)}
        return out


def _actor(events: list[TraceEvent], name: str, buffer_size: int) -> tuple[int, int]:
    """(tid, fd) doing most ``name`` calls with count == buffer_size: the actor's loop calls."""
    c = Counter((e.tid, e.fields.get("fd")) for e in events
                if e.event == f"sys_enter_{name}" and e.fields.get("count") == buffer_size)
    if not c:
        raise PmcsuiteError(f"no {name}() of {buffer_size} bytes in the trace: the benchmark's "
                            "loop was not recorded (did it fail, or is the buffer size wrong?)")
    return c.most_common(1)[0][0]


def build_timeline(events: list[TraceEvent], buffer_size: int) -> Timeline:
    """Reduce parsed events to the actors' loop: calls, off-CPU stretches, wake-ups.

    The writer is the thread issuing write()s of ``buffer_size`` bytes (its loop fd is the fd of
    those calls), the reader the thread issuing read()s of ``buffer_size`` bytes; their other
    calls (handshakes, the JSON output) are ignored. The window runs from the first loop call's
    entry to the last loop call's return. Page faults are kept for the whole run, on every thread
    of the actors' processes.
    """
    writer, wfd = _actor(events, "write", buffer_size)
    reader, rfd = _actor(events, "read", buffer_size)
    if writer == reader:
        raise PmcsuiteError("the same thread both writes and reads the buffer: this is not a "
                            "two-actor ipcbench run (use --actors 2thread or 2proc)")
    loop = {writer: ("write", wfd), reader: ("read", rfd)}
    pids = {e.tid: e.pid for e in events if e.tid in loop}
    calls: list[Call] = []
    pending: dict[int, TraceEvent] = {}
    for e in events:
        if e.tid not in loop:
            continue
        name, fd = loop[e.tid]
        if e.event == f"sys_enter_{name}" and e.fields.get("fd") == fd:
            pending[e.tid] = e
        elif e.event == f"sys_exit_{name}" and e.tid in pending:
            enter = pending.pop(e.tid)
            calls.append(Call(e.tid, name, enter.ts, e.ts, fd, enter.fields.get("count", 0),
                              e.fields["ret"]))
    if not calls:
        raise PmcsuiteError("no complete read()/write() call in the trace: was it cut short?")
    start, end = min(c.start for c in calls), max(c.end for c in calls)

    offcpu: list[OffCpu] = []
    gone: dict[int, tuple[int, str]] = {}
    wakeups: list[Wakeup] = []
    for e in events:
        back = None
        if e.tid in gone:                   # the thread itself is running again
            back = e.tid
        if e.event == "sched_switch":
            nxt, prev = e.fields["next_pid"], e.fields["prev_pid"]
            if nxt in gone and nxt != back:
                _close(offcpu, gone, nxt, e.ts)
            if back is not None:
                _close(offcpu, gone, back, e.ts)
            if prev in loop:
                gone[prev] = (e.ts, e.fields["prev_state"])
            continue
        if back is not None:
            _close(offcpu, gone, back, e.ts)
        if e.event.startswith("sched_wak") and e.fields.get("pid") in loop:
            wakeups.append(Wakeup(e.fields["pid"], e.ts, e.tid))
    offcpu = [OffCpu(o.tid, max(o.start, start), min(o.end, end), o.state)
              for o in offcpu if o.end > start and o.start < end]
    wakeups = [w for w in wakeups if start <= w.ts <= end]
    faults = [Fault(e.pid, e.tid, e.ts, e.event.rsplit("_", 1)[1], e.fields["address"], e.fields["ip"],
                    e.fields["error_code"]) for e in events
              if e.event in ("page_fault_user", "page_fault_kernel") and e.pid in pids.values()]
    return Timeline(pids.get(writer, 0), writer, reader, start, end, calls, offcpu, wakeups, pids, faults)


def _close(offcpu: list[OffCpu], gone: dict, tid: int, ts: int) -> None:
    t0, state = gone.pop(tid)
    offcpu.append(OffCpu(tid, t0, ts, state))


def _us(ns: int, t0: int) -> float:
    return round((ns - t0) / 1000.0, 3)


def _thread_names(tl: Timeline) -> list[dict]:
    """Metadata events naming the tracks: writer, reader, then other threads that faulted ("main", ...)."""
    threads = {tl.writer: (tl.pids.get(tl.writer, tl.pid), "writer"),
               tl.reader: (tl.pids.get(tl.reader, tl.pid), "reader")}
    for f in tl.faults:
        threads.setdefault(f.tid, (f.pid, "main" if f.tid == f.pid else f"thread {f.tid}"))
    return [{"ph": "M", "name": meta, "pid": pid, "tid": tid, "ts": 0, "args": {key: value}}
            for index, (tid, (pid, name)) in enumerate(threads.items())
            for meta, key, value in (("process_name", "name", f"ipcbench {pid}"), ("thread_name", "name", name),
                                     ("thread_sort_index", "sort_index", index))]


def chrome_trace(tl: Timeline, meta: dict | None = None) -> dict:
    """The Chrome/Perfetto trace-event JSON object for a timeline: timestamps in us from its first
    event shown (:attr:`Timeline.origin`); ``otherData`` says where the loop starts and ends."""
    t0 = tl.origin
    ev = _thread_names(tl)
    for c in tl.calls:
        ev.append({"ph": "X", "name": c.name, "cat": "syscall", "pid": tl.pids.get(c.tid, tl.pid),
                   "tid": c.tid, "ts": _us(c.start, t0), "dur": _us(c.end, c.start),
                   "args": {"requested": c.requested, "returned": c.returned, "fd": c.fd}})
    for o in tl.offcpu:
        ev.append({"ph": "X", "name": "asleep" if o.asleep else "preempted", "cat": "sched",
                   "pid": tl.pids.get(o.tid, tl.pid), "tid": o.tid, "ts": _us(o.start, t0),
                   "dur": _us(o.end, o.start), "args": {"prev_state": o.state}})
    for w in tl.wakeups:
        ev.append({"ph": "i", "s": "t", "name": "wakeup", "cat": "sched",
                   "pid": tl.pids.get(w.tid, tl.pid), "tid": w.tid, "ts": _us(w.ts, t0),
                   "args": {"waker_tid": w.waker,
                            "waker": tl.role(w.waker) if w.waker in tl.pids else "other"}})
    for f in tl.faults:
        ev.append({"ph": "i", "s": "t", "name": f"page fault ({f.kind})", "cat": "fault", "pid": f.pid,
                   "tid": f.tid, "ts": _us(f.ts, t0), "args": f.args()})
    level = 0
    for c in sorted(tl.calls, key=lambda c: c.end):
        if c.returned > 0:
            level += c.returned if c.name == "write" else -c.returned
            ev.append({"ph": "C", "name": "bytes written - read", "pid": tl.pid, "tid": tl.writer,
                       "ts": _us(c.end, t0), "args": {"bytes": level}})
    return {"traceEvents": ev, "displayTimeUnit": "ns",
            "otherData": {"tool": "pmcsuite trace", "summary": tl.summary(),
                          "loop_start_us": _us(tl.start, t0), "loop_end_us": _us(tl.end, t0), **(meta or {})}}


def _mark_faults(ax, tl: Timeline, left: float, right: float) -> tuple[list, str]:
    """Tick marks for the page faults shown (x in ms from the loop's start): above each actor's
    calls, and in a row of their own for other threads. Returns (extra y-axis rows, a line saying so)."""
    rows, shown = [], 0
    others = [f for f in tl.faults if f.tid not in (tl.writer, tl.reader)]
    for y, faults in ((3.85, [f for f in tl.faults if f.tid == tl.writer]),
                      (1.85, [f for f in tl.faults if f.tid == tl.reader]), (4.6, others)):
        xs = [x for x in ((f.ts - tl.start) / 1e6 for f in faults) if left <= x <= right]
        ax.vlines(xs, y, y + 0.35, colors="black", linewidth=0.8)
        shown += len(xs)
    if others:
        rows.append((4.8, "other threads' faults"))
    n = tl.summary()["faults"]
    return rows, (f"page faults: {shown} shown of {sum(n.values())} ({n['before_loop']} before the loop, "
                  f"{n['in_loop']} in it, {n['after_loop']} after)")


def plot_timeline(tl: Timeline, path: Path, zoom_ms: float | None = None, title: str = "") -> Path:
    """PNG timeline: per actor, its calls (write/read), off-CPU time below, page faults above (other
    threads' in a row of their own). 0 is the loop's start; shown before it: as long as after it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure
    from matplotlib.patches import Patch

    t0 = tl.start
    limit = (tl.end - t0) / 1e6 if zoom_ms is None else min(zoom_ms, (tl.end - t0) / 1e6)

    def bars(items):
        return [((i.start - t0) / 1e6, max((i.end - i.start) / 1e6, limit / 2000)) for i in items
                if (i.start - t0) / 1e6 <= limit]

    colours = {"write": "tab:blue", "read": "tab:green", "asleep": "0.55", "preempted": "tab:red"}
    fig = MplFigure(figsize=(11, 3.4), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    rows = []
    for y, tid in ((3, tl.writer), (1, tl.reader)):
        calls = [c for c in tl.calls if c.tid == tid]
        ax.broken_barh(bars(calls), (y, 0.8),
                       facecolors=colours["write" if tid == tl.writer else "read"])
        off = [o for o in tl.offcpu if o.tid == tid]
        ax.broken_barh(bars([o for o in off if o.asleep]), (y - 0.5, 0.4),
                       facecolors=colours["asleep"])
        ax.broken_barh(bars([o for o in off if not o.asleep]), (y - 0.5, 0.4),
                       facecolors=colours["preempted"])
        rows += [(y + 0.4, f"{tl.role(tid)} calls"), (y - 0.3, f"{tl.role(tid)} off-CPU")]
    left = max((tl.origin - t0) / 1e6, -limit)
    fault_rows, fault_line = _mark_faults(ax, tl, left, limit)
    rows += fault_rows
    if left < 0:
        ax.axvline(0, color="0.3", linestyle="--", linewidth=0.8)
    ax.set_yticks([r[0] for r in rows], [r[1] for r in rows])
    ax.set_xlim(left, limit)
    ax.set_xlabel("time since the loop's first call (ms)")
    ax.set_title(f"{title}\n{fault_line}" if title else fault_line, loc="left", fontsize=10)
    ax.legend(handles=[Patch(color=v, label=k) for k, v in [*colours.items(), ("page fault", "black")]],
              loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=5, fontsize=8, frameon=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


_PERM = re.compile(r"perf_event_paranoid|No permission|Permission denied|not have permission|"
                   r"Access to performance monitoring", re.I)


def record_argv(perf: str, data: Path, bench_argv: list[str], mmap: str | None = "16M",
                tracepoints=TRACEPOINTS) -> list[str]:
    """``perf record`` of the tracepoints over the benchmark (children and threads inherited).

    ``mmap`` sizes perf's per-CPU ring buffer (``-m``): small buffers drop events at 1K writes.
    """
    return [perf, "record", "-q", *(["-m", mmap] if mmap else []), "-e", ",".join(tracepoints),
            "-o", str(data), "--", *bench_argv]


def fault_tracepoints(roots=TRACEFS_ROOTS) -> tuple[list[str], str]:
    """(the :data:`FAULT_TRACEPOINTS` this kernel has, a one-line note when it lacks some), read
    from the first of ``roots`` (tracefs mount points) that has an ``events/`` directory."""
    events = next((Path(r, "events") for r in roots if Path(r, "events").is_dir()), None)
    if events is None:
        return [], (f"tracefs is not mounted at {' or '.join(roots)}, so the page-fault tracepoints "
                    "could not be looked for: this trace shows no page faults")
    have = [tp for tp in FAULT_TRACEPOINTS if (events / tp.replace(":", "/")).is_dir()]
    missing = " or ".join(tp for tp in FAULT_TRACEPOINTS if tp not in have)
    return have, missing and (f"this kernel has no {missing} tracepoint (not in {events}; x86 kernels have "
                              f"them, arm64 ones do not): this trace shows {'only some' if have else 'no'} page faults")


def _record_error(stderr: str) -> str:
    text = " ".join(stderr.split())
    if _PERM.search(text):
        return ("perf may not record the syscalls/sched tracepoints here: run as root or lower "
                "/proc/sys/kernel/perf_event_paranoid (e.g. to -1)")
    if re.search(r"unknown tracepoint|event syntax error|tracefs|debugfs", text, re.I):
        return ("perf cannot find the syscalls/sched tracepoints: mount tracefs "
                "(mount -t tracefs nodev /sys/kernel/tracing) on a kernel with ftrace syscalls")
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    return f"perf record failed: {lines[-1] if lines else 'no message'}"


def output_paths(out, ipc: str = "pipe", buffer_size: int = 0) -> tuple[Path, Path]:
    """The trace's (JSON, PNG) paths, checked and with their directory created.

    ``out`` is the JSON path (None: ``reports/trace-<ipc>-<size>.json``; a directory, or a path
    ending in ``/``: that name inside it); the PNG goes beside it with the same stem. Raises
    PmcsuiteError (one line, with a fix) when ``out`` ends in ``.png`` (the PNG would overwrite it), or
    its directory cannot be created or written (a parent that is a file, a read-only file system,
    /proc...): checked before anything runs.
    """
    name = f"trace-{ipc}-{format_size(buffer_size)}.json"
    json_path = Path(out) if out is not None else Path("reports") / name
    if out is not None and (json_path.is_dir() or str(out).endswith(("/", "\\"))):
        json_path = json_path / name                 # a directory: the default name inside it
    png_path = json_path.with_suffix(".png")
    if json_path.is_dir():
        raise PmcsuiteError(f"--out {json_path} is a directory, not a file: give a file path "
                            f"such as {json_path / name}")
    if json_path.suffix.lower() == ".png":
        raise PmcsuiteError(f"--out {json_path} ends in .png, where the PNG timeline goes (beside "
                            f"the JSON, same stem): give a .json path such as {json_path.with_suffix('.json')}")
    if png_path.is_dir():
        raise PmcsuiteError(f"--out {json_path}: {png_path}, where the PNG timeline goes, is a "
                            "directory: choose another file name")
    parent = json_path.parent
    blocker = next((a for a in (parent, *parent.parents) if a.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise PmcsuiteError(f"cannot write the trace to {json_path}: {blocker} is a file, not a "
                            "directory; choose --out in a writable directory")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".pmcsuite-trace-"):
            pass                      # can we write there? (root ignores permission bits)
    except OSError as exc:
        doing = f"write in {parent}" if parent.is_dir() else f"create the directory {parent}"
        raise PmcsuiteError(f"cannot {doing} for --out {json_path}: {exc.strerror or exc}; "
                            "choose --out in a writable directory") from None
    return json_path, png_path


def provenance(command_line=None) -> dict:
    """What a trace file needs to be trusted later: pmcsuite version, UTC time, command line,
    host (OS, kernel, CPU), tool versions (perf, cc, and how ipcbench was built)."""
    from ..version import __version__
    from .benchmark import build_info
    from .hostinfo import host_metadata, tool_versions

    return {**stamp(__version__, command_line), "host": host_metadata(),
            "tools": {**tool_versions(["perf", "cc"]), "ipcbench": build_info()}}


def _write(path: Path, write) -> None:
    try:
        write(path)
    except OSError as exc:
        raise PmcsuiteError(f"cannot write {path}: {exc.strerror or exc}; "
                            "choose --out in a writable directory with free space") from None


def _record(perf: str, argv: list[str], tracepoints, timeout: float) -> tuple[str, str]:
    """Run the benchmark under ``perf record``: (the benchmark's stdout, ``perf script`` text)."""
    env = {**os.environ, "LC_ALL": "C"}
    with scratch_dir("trace") as tmp:
        data = Path(tmp, "perf.data")
        for mmap in ("16M", None):     # a big ring buffer, unless mlock limits forbid it
            try:
                r = subprocess.run(record_argv(perf, data, argv, mmap, tracepoints), capture_output=True,
                                   text=True, timeout=timeout, env=env)
            except subprocess.TimeoutExpired:
                raise PmcsuiteError(f"the traced run did not finish in {timeout:g} s: try a "
                                    "smaller --total or check the machine is not overloaded") from None
            if not (r.returncode != 0 and "mlock" in r.stderr + r.stdout.lower()):
                break
        if r.returncode != 0 or not data.exists():
            if r.stdout.strip() == "" and (_PERM.search(r.stderr) or "perf" in r.stderr):
                raise PmcsuiteError(_record_error(r.stderr))
            lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
            raise PmcsuiteError(f"the benchmark failed under perf record (exit {r.returncode}): "
                                f"{lines[-1].strip() if lines else 'no message'}")
        s = subprocess.run([perf, "script", "-i", str(data), "--ns", "-F", SCRIPT_FIELDS],
                           capture_output=True, text=True, timeout=timeout, env=env)
        if s.returncode != 0:
            raise PmcsuiteError(f"perf script failed: {(s.stderr.strip().splitlines() or ['?'])[-1]}")
    return r.stdout, s.stdout


def trace(ipc: str, buffer_size: int, total_size: int = DEFAULT_TOTAL, out=None,
          placement: str = "any", actors: str = DEFAULT_ACTORS, zoom_ms: float | None = None,
          timeout: float = DEFAULT_TIMEOUT, command_line=None) -> tuple[Path, Path]:
    """Record one run and write its Chrome trace JSON and PNG timeline; returns both paths.

    ``out`` is the JSON path (default ``reports/trace-<ipc>-<size>.json``); the PNG goes beside
    it with the same stem (see :func:`output_paths`). ``zoom_ms`` limits the PNG to the loop's
    first milliseconds. The JSON's ``otherData`` holds the run's provenance
    (:func:`provenance`; ``command_line`` defaults to ``sys.argv``) and ``page_faults``: the fault
    tracepoints recorded, a note when this kernel lacks them (also printed), the counts before,
    in and after the loop.
    """
    buffer_size, total_size = parse_size(buffer_size), parse_size(total_size)   # "256K" or bytes
    if buffer_size <= 0 or total_size <= 0 or total_size % buffer_size:
        raise PmcsuiteError(f"total size {format_size(total_size)} is not a positive multiple of "
                            f"the buffer size {format_size(buffer_size)}: choose sizes that "
                            "divide evenly (powers of two do)")
    json_path, png_path = output_paths(out, ipc, buffer_size)
    perf = shutil.which("perf")
    if perf is None:
        raise EnvironmentProblem("perf not found on PATH: 'pmcsuite trace' records with perf "
                            "(install linux-perf / linux-tools)")
    from .benchmark import bench_argv, build

    argv = bench_argv(build(), ipc, buffer_size, total_size, actors, placement)
    prov = provenance(command_line)                 # before the run: "created" is its start
    faults, fault_note = fault_tracepoints()
    if fault_note:
        print(f"pmcsuite: note: {fault_note}", file=sys.stderr)
    tracepoints = (*TRACEPOINTS, *faults)
    bench_out, script = _record(perf, argv, tracepoints, timeout)
    tl = build_timeline(parse_perf_script(script), buffer_size)
    summary = tl.summary()
    complete = summary["writer"]["bytes"] == summary["reader"]["bytes"] == total_size
    meta = {**prov, "command": argv, "bench": parse_bench_output(bench_out),
            "perf_record": " ".join(tracepoints), "complete": complete,
            "page_faults": {"tracepoints": faults, "note": fault_note or "recorded", **summary["faults"]},
            "note": "timestamps in us from the first event shown (loop_start_us: the loop's); tracing slows the run"}
    if not complete:
        meta["warning"] = (f"perf dropped events: the trace holds {summary['writer']['bytes']} "
                           f"bytes written and {summary['reader']['bytes']} read of "
                           f"{total_size}; retry, or trace a larger buffer size")
        print(f"pmcsuite: warning: {meta['warning']}", file=sys.stderr)
    doc = json.dumps(chrome_trace(tl, meta))
    _write(json_path, lambda p: p.write_text(doc))
    title = (f"{ipc} {actors}, buffer {format_size(buffer_size)}, {format_size(total_size)} "
             f"({placement}): {len([c for c in tl.calls if c.name == 'write'])} writes, "
             f"{len([c for c in tl.calls if c.name == 'read'])} reads"
             + ("" if complete else " (INCOMPLETE: perf dropped events)"))
    _write(png_path, lambda p: plot_timeline(tl, p, zoom_ms, title))
    return json_path, png_path
