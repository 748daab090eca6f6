"""Linux ``perf stat`` backend: counts only the benchmark's timed loop.

perf starts with counters disabled (``--delay=-1``); the benchmark writes ``enable`` / ``disable``
to a control fifo around its loop and waits for perf's ``ack`` (``--control fifo:CTL,ACK``).
perf's results go to a file (``-o``), as JSON lines (``-j``, perf >= 6) or ``;``-separated CSV
(``-x ';'`` with ``LC_ALL=C``) when ``-j`` is missing. The parsers here are pure functions.

Real shapes (perf 6.1, see docs in /work/shared/reference/formats.md and tests/fixtures/perf_*):
JSON counter values are strings; ``<not supported>`` / ``<not counted>`` are not zeros; with
``-r N`` the CSV variance field sits right after the event name; an unknown PMU is an
``event syntax error`` (exit 129); a ``{group}`` with an unsupported member fails the whole
command (exit 255), so events are passed as a plain comma list.
"""
from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..benchmark import parse_bench_output
from ...errors import PmcsuiteError
from ..processes import scratch_dir
from ...schema import CounterValue
from .base import ToolBackend, run_under_tool

NOT_SUPPORTED = "<not supported>"
NOT_COUNTED = "<not counted>"
REASON_NOT_SUPPORTED = ("perf reports <not supported>: the CPU/kernel cannot count this event here "
                        "(no hardware PMU in a VM?)")
REASON_NOT_COUNTED = ("perf reports <not counted>: the event was opened but never enabled or "
                      "scheduled during the counted region")
PERMISSION_FIX = "run as root or lower /proc/sys/kernel/perf_event_paranoid"

_INTERVAL = re.compile(r"^\s*\d+\.\d{9}$")       # perf prints "%6lu.%09lu" for -I
_CPUS = re.compile(r"^\s*[0-9]{1,6}\s*$")           # #cpus aggregated (--per-socket ...)
_VARIANCE = re.compile(r"^\s*\d+(?:\.\d+)?%$")   # "0.68%" (-r N)
_MODIFIERS = re.compile(r":[ukhHGpPSDIWe]+$")    # event modifiers perf may append, e.g. ":u"
_PERMISSION = re.compile(r"perf_event_paranoid|No permissions? to|not have permission|"
                         r"Access to performance monitoring", re.I)
_EACCES = re.compile(r"Permission denied|Operation not permitted", re.I)
_PERF_CHATTER = re.compile(r"^(Events (enabled|disabled)|# started on|Workload failed)")


@dataclass
class PerfRecord:
    """One line of perf stat output: an event's value (or why there is none)."""

    event: str
    value: float | None            # None when special is set
    special: str | None = None     # "<not supported>" or "<not counted>"
    unit: str = ""
    variance: float | None = None  # relative standard error in % (-r N)
    runtime: int | None = None     # ns the event was enabled
    pcnt_running: float | None = None
    interval: float | None = None  # -I: seconds since start
    aggr: str | None = None        # -A / --per-*: "CPU0", "S0", ... (JSON: "cpu 0", ...)
    cpus: int | None = None        # number of CPUs aggregated (--per-socket etc.)


def workload_signal(stderr: str, program) -> str | None:
    """The signal that killed perf stat's workload, from the line perf prints for it
    (``psignal(sig, argv[0])``: ``"<program>: Segmentation fault"``), e.g. ``"SIGSEGV"``; None if none."""
    names = {}
    for sig in signal.Signals:
        text = signal.strsignal(sig)
        if text:
            names.setdefault(text, sig.name)
    prefix = f"{program}: "
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith(prefix) and line[len(prefix):] in names:
            return names[line[len(prefix):]]
    return None


def _value(text: str) -> tuple[float | None, str | None]:
    """A counter value field -> (number, None) or (None, special)."""
    text = text.strip()
    if text.startswith("<"):
        return None, text
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):                       # nan/inf cannot be stored (runs.jsonl is JSON)
        raise PmcsuiteError(f"perf printed an unreadable counter value {text!r}: "
                            "is this perf's stat output?")
    return number, None


def _float_or_none(text) -> float | None:
    try:
        number = float(str(text).strip().rstrip("%"))
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _json_int(obj: dict, key: str, line: str) -> int | None:
    """A whole-number field of a perf JSON line (number or numeric string), None when absent."""
    value = obj.get(key)
    if value is None:
        return None
    number = _float_or_none(value) if not isinstance(value, bool) else None
    if number is None or not math.isfinite(number):
        raise PmcsuiteError(f"perf printed an unreadable {key} {value!r}: {line[:80]!r}")
    return int(number)


def parse_perf_json(text: str) -> list[PerfRecord]:
    """Parse ``perf stat -j`` output (one JSON object per line).

    Lines that are not JSON objects (``# started on ...``, blanks, ``Events enabled``) are
    skipped, and so are metric-only objects without a counter value.
    """
    records = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):      # JSONDecodeError, a 5000-digit number, deep nesting
            raise PmcsuiteError(f"perf printed a malformed JSON line: {line[:80]!r}") from None
        if "counter-value" not in obj or "event" not in obj:
            continue
        if not isinstance(obj["event"], str):
            raise PmcsuiteError(f"perf printed an event name that is not a string: {line[:80]!r}")
        value, special = _value(str(obj["counter-value"]))
        aggr = next((f"{k} {obj[k]}" for k in ("cpu", "core", "die", "socket", "node", "thread")
                     if k in obj), None)
        records.append(PerfRecord(
            event=obj["event"], value=value, special=special, unit=str(obj.get("unit", "") or ""),
            variance=_float_or_none(obj.get("variance")),
            runtime=_json_int(obj, "event-runtime", line),
            pcnt_running=_float_or_none(obj.get("pcnt-running")),
            interval=_float_or_none(obj.get("interval")), aggr=aggr,
            cpus=_json_int(obj, "aggregate-number", line)))
    return records


def _is_value(field: str) -> bool:
    field = field.strip()
    return field.startswith("<not ") or _float_or_none(field) is not None and not field.endswith("%")


def parse_perf_csv(text: str, sep: str = ";", repeat: bool = False) -> list[PerfRecord]:
    """Parse ``perf stat -x SEP`` output.

    Fields: ``[interval;][aggr;[#cpus;]]value;unit;event;[variance;]runtime;pcnt;metric;unit``.
    The interval is recognised by perf's 9-decimal shape, an aggregation prefix (``CPU0``,
    ``S0``...) by not being a number, ``#cpus`` by being followed by another number (the unit
    never is), and the ``-r N`` variance by its ``x.xx%`` shape (``repeat=True`` demands it).
    Comment lines (``# started on``), blank lines and lines without ``sep`` are skipped.
    """
    records = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#") or sep not in line:
            continue
        f = line.split(sep)
        i, interval, aggr, cpus = 0, None, None, None
        if _INTERVAL.match(f[0]):
            interval, i = float(f[0]), 1
        if i < len(f) and not _is_value(f[i]):
            aggr, i = f[i].strip(), i + 1
            if i + 1 < len(f) and _CPUS.match(f[i]) and _is_value(f[i + 1]):
                cpus, i = int(f[i]), i + 1
        if i + 2 >= len(f) or not _is_value(f[i]):
            if not f[i:i + 1] or not f[i].strip():
                continue  # a metric-only continuation line: no counter value
            raise PmcsuiteError(f"perf printed a CSV line pmcsuite cannot read: {line[:80]!r}")
        value, special = _value(f[i])
        unit, event, rest = f[i + 1].strip(), f[i + 2].strip(), f[i + 3:]
        variance = None
        if rest and _VARIANCE.match(rest[0]):
            variance, rest = float(rest[0].strip().rstrip("%")), rest[1:]
        elif repeat:
            raise PmcsuiteError(f"perf -r output without a variance field after the event: "
                                f"{line[:80]!r}")
        ran = _float_or_none(rest[0]) if rest else None
        runtime = int(ran) if ran is not None and math.isfinite(ran) else None
        pcnt = _float_or_none(rest[1]) if len(rest) > 1 else None
        records.append(PerfRecord(event=event, value=value, special=special, unit=unit,
                                  variance=variance, runtime=runtime, pcnt_running=pcnt,
                                  interval=interval, aggr=aggr, cpus=cpus))
    return records


def _combine(records: list[PerfRecord]) -> PerfRecord:
    """Several records of one event (intervals, CPUs) -> one: counted values summed."""
    if len(records) == 1:
        return records[0]
    counted = [r for r in records if r.value is not None]
    if not counted:
        return records[0]
    pcnts = [r.pcnt_running for r in counted if r.pcnt_running is not None]
    return PerfRecord(event=counted[0].event, value=sum(r.value for r in counted),
                      unit=counted[0].unit, pcnt_running=min(pcnts) if pcnts else None)


def _norm(name: str) -> str:
    return "".join(name.split()).lower()


def to_counter_values(records: list[PerfRecord], events: dict[str, str]) -> list[CounterValue]:
    """Map perf records back to counter ids, in the order of ``events`` (counter id -> spec).

    Records of the same event over intervals or CPUs are summed. Matching: exact name, then the
    name without modifiers perf may add (``task-clock:u``), then in order (perf prints events in
    the order given, but may spell raw or PMU events differently). An event perf printed nothing
    for gets status "error".
    """
    slots: dict[tuple[str, int], list[PerfRecord]] = {}
    seen: dict[tuple, int] = {}
    for r in records:
        key = (r.interval, r.aggr, r.event)
        k = seen.get(key, 0)
        seen[key] = k + 1
        slots.setdefault((r.event, k), []).append(r)
    merged = [_combine(rs) for rs in slots.values()]

    claimed: dict[str, PerfRecord] = {}
    free = list(range(len(merged)))
    for norm in (_norm, lambda s: _MODIFIERS.sub("", _norm(s))):
        for cid, spec in events.items():
            if cid in claimed:
                continue
            for j in free:
                if norm(merged[j].event) == norm(spec):
                    claimed[cid] = merged[j]
                    free.remove(j)
                    break
    for cid in events:                       # positional fallback
        if cid not in claimed and free:
            claimed[cid] = merged[free.pop(0)]

    out = []
    for cid, spec in events.items():
        r = claimed.get(cid)
        if r is None:
            out.append(CounterValue(cid, spec, None, "", "error",
                                    reason="perf printed no value for this event"))
        elif r.special == NOT_SUPPORTED:
            out.append(CounterValue(cid, spec, None, r.unit, "not_supported", r.pcnt_running,
                                    REASON_NOT_SUPPORTED))
        elif r.special is not None:
            out.append(CounterValue(cid, spec, None, r.unit, "not_counted", r.pcnt_running,
                                    REASON_NOT_COUNTED if r.special == NOT_COUNTED
                                    else f"perf reports {r.special}"))
        else:
            mux = r.pcnt_running is not None and r.pcnt_running < 100.0
            out.append(CounterValue(cid, spec, r.value, r.unit, "ok", r.pcnt_running,
                                    "multiplexed: value scaled by perf" if mux else None, mux))
    return out


def build_argv(events: list[str], out_path, ctl, ack, bench_argv: list[str],
               use_json: bool = True) -> list[str]:
    """perf stat argv counting ``events`` only between the benchmark's enable/disable."""
    fmt = ["-j"] if use_json else ["-x", ";"]
    return ["perf", "stat", *fmt, "-o", str(out_path), "--delay=-1",
            "--control", f"fifo:{ctl},{ack}", "-e", ",".join(events), "--",
            *bench_argv, "--ctl-fifo", str(ctl), "--ack-fifo", str(ack)]


def classify_failure(returncode: int, stderr: str) -> tuple[str, str] | None:
    """perf's own failure -> (status, one-line message), or None if it is not perf's.

    status is "permission_denied", "not_supported" (event cannot be parsed or opened),
    "error" (workload could not start).
    """
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    text = " ".join(lines)
    perm = _PERMISSION.search(text) or (returncode in (129, 255) and _EACCES.search(text)
                                        and "Workload failed" not in text)
    if perm:
        detail = next((ln for ln in lines if _PERMISSION.search(ln) or _EACCES.search(ln)),
                      lines[0] if lines else "")
        return "permission_denied", f"perf may not open these events ({detail}): {PERMISSION_FIX}"
    opt = re.search(r"unknown option `([^']*)'", text)
    if opt and "event syntax error" not in text:
        return "error", (f"this perf does not know the option --{opt.group(1)}: pmcsuite needs "
                         "perf >= 5.10 (--control); install a newer linux-perf")
    if "event syntax error" in text or returncode == 129:
        ev = re.search(r"event syntax error: '([^']*)'", text)
        why = re.search(r"\\_+\s*(.*?)(?:\s+Run 'perf list'|$)", text)
        hint = why.group(1).strip() if why else "perf cannot parse it"
        return "not_supported", (f"perf cannot use event {ev.group(1) if ev else '?'!r}: {hint}; "
                                 "check the spelling with 'perf list' or the catalogue's platform")
    m = re.search(r"The (\S+) event is not supported", text)
    if m or (returncode == 255 and "not supported" in text):
        name = m.group(1) if m else "?"
        return "not_supported", (f"perf cannot open event {name!r}: not supported on this "
                                 "CPU/kernel (no hardware PMU in a VM?); drop it or its group")
    if "Workload failed" in text:
        line = next(ln for ln in lines if "Workload failed" in ln)
        return "error", f"perf could not start the benchmark: {line}"
    return None


def _bench_error(stderr: str) -> str:
    """The benchmark's own last error line from a mixed perf/benchmark stderr."""
    lines = [ln.strip() for ln in stderr.splitlines()
             if ln.strip() and not _PERF_CHATTER.match(ln.strip())]
    return lines[-1] if lines else "no error message"


@lru_cache(maxsize=8)
def _supports_json(perf: str) -> bool:
    """Does this perf have ``stat -j``? (perf >= 6.x)"""
    try:
        r = subprocess.run([perf, "stat", "-j", "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


class PerfBackend(ToolBackend):
    """Counts with ``perf stat`` around the benchmark's loop only (scope "loop")."""

    name = "perf"
    scope = "loop"

    def available(self) -> tuple[bool, str]:
        if self._exe() is None:
            return False, "perf not found on PATH: install linux-perf (Debian) / linux-tools (Ubuntu)"
        v = self.version()
        if v is None:
            return False, "perf is on PATH but 'perf --version' fails: reinstall the perf matching your kernel"
        note = ""
        try:
            paranoid = int(Path("/proc/sys/kernel/perf_event_paranoid").read_text().strip())
            if os.geteuid() != 0 and paranoid >= 2:
                note = (f"; perf_event_paranoid={paranoid} limits non-root users "
                        f"({'no access at all' if paranoid >= 3 else 'no kernel-side counts'}): "
                        f"{PERMISSION_FIX}")
        except (OSError, ValueError):
            pass
        return True, v + note

    def _use_json(self) -> bool:
        return _supports_json(self._exe() or self.tool)

    def build_argv(self, events, out_path, ctl, ack, bench_argv, use_json=True) -> list[str]:
        argv = build_argv(list(events), out_path, ctl, ack, bench_argv, use_json)
        argv[0] = self._exe() or self.tool
        return argv

    def _missing(self) -> PmcsuiteError:
        return PmcsuiteError("perf not found on PATH: install linux-perf (Debian) / linux-tools "
                             "(Ubuntu), or use --backend none")

    def run(self, events: dict[str, str], bench_argv: list[str],
            timeout: float) -> tuple[dict, list[CounterValue]]:
        """Run the benchmark under perf; (ipcbench JSON, counter values in ``events`` order)."""
        if not events:
            raise PmcsuiteError("the perf backend needs at least one event: pass counters, or use "
                                "--backend none for a baseline")
        if self._exe() is None:
            raise self._missing()
        use_json = self._use_json()
        with scratch_dir("perf") as tmp:
            ctl, ack, out = Path(tmp, "ctl"), Path(tmp, "ack"), Path(tmp, "perf.out")
            os.mkfifo(ctl)
            os.mkfifo(ack)
            argv = self.build_argv(events.values(), out, ctl, ack, bench_argv, use_json)
            stdout, stderr, rc = run_under_tool(argv, timeout, bench_argv, env={**os.environ, "LC_ALL": "C"})
            text = out.read_text(errors="replace") if out.exists() else ""
        failure = classify_failure(rc, stderr)
        if failure is not None:
            raise PmcsuiteError(failure[1])
        if rc != 0:
            raise PmcsuiteError(f"the benchmark failed (exit {rc}): {_bench_error(stderr)}")
        crash = workload_signal(stderr, bench_argv[0])
        if crash:        # perf stat exits 0 when its workload dies of a signal: only its stderr says so
            raise PmcsuiteError(f"the benchmark crashed under perf: killed by {crash} "
                                f"({' '.join(map(str, bench_argv[:4]))}...)")
        records = parse_perf_json(text) if use_json else parse_perf_csv(text)
        return parse_bench_output(stdout), to_counter_values(records, events)

    def probe(self, events: dict[str, str]) -> list[CounterValue]:
        """Open the events for real (all in one ``perf stat -- true``; one by one if that fails)."""
        if self._exe() is None:
            return [CounterValue(c, e, None, "", "tool_missing", reason=str(self._missing()))
                    for c, e in events.items()]
        if not events:
            return []
        together = self._probe_once(events)
        if together is not None:
            return together
        out = []
        for cid, spec in events.items():
            one = self._probe_once({cid: spec})
            out.extend(one if one is not None else
                       [CounterValue(cid, spec, None, "", "error", reason="perf failed to open it")])
        return out

    def _probe_once(self, events: dict[str, str]) -> list[CounterValue] | None:
        """One perf run over ``events``; None when perf failed and several events were given."""
        use_json = self._use_json()
        fmt = ["-j"] if use_json else ["-x", ";"]
        with scratch_dir("probe") as tmp:
            out = Path(tmp, "perf.out")
            argv = [self._exe(), "stat", *fmt, "-o", str(out), "-e", ",".join(events.values()),
                    "--", "true"]
            try:
                r = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                                   env={**os.environ, "LC_ALL": "C"})
            except subprocess.TimeoutExpired:
                return [CounterValue(c, e, None, "", "error", reason="perf hung while probing")
                        for c, e in events.items()]
            text = out.read_text(errors="replace") if out.exists() else ""
        failure = classify_failure(r.returncode, r.stderr)
        if failure is not None or r.returncode != 0:
            if len(events) > 1:
                return None
            status, msg = failure or ("error", f"perf exited {r.returncode}: "
                                               f"{_bench_error(r.stderr)}")
            return [CounterValue(c, e, None, "", status, reason=msg) for c, e in events.items()]
        values = to_counter_values(parse_perf_json(text) if use_json else parse_perf_csv(text),
                                   events)
        for v in values:
            if v.status in ("ok", "not_counted"):
                v.status, v.value, v.reason = "available", None, None
        return values


