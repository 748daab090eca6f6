"""FreeBSD ``dtrace`` backend: kernel counters of the benchmark process from generated D scripts.

The benchmark runs under ``dtrace -q -o OUT -s SCRIPT -c "CMD"``. The script is the D clauses of
the requested counters, read from the catalogue (``counters.yaml``, platform ``freebsd-kernel``:
:data:`D_COUNTERS`); every clause is predicated on
``progenyof($target)`` (the benchmark and any child it forks, for ``2proc``), so the scope is the
whole process ("process"), not only the timed loop: ipcbench has no DTrace markers.

Scalar counters all live in one aggregation ``@counts[<counter id>] = sum(...)`` (``sum(1)``
counts like ``count()`` and prints the same way), initialised to ``sum(0)`` in ``BEGIN``: a
counter whose probe fired zero times is then an honest, printed 0, and a missing key means the
clause never ran (status ``not_counted``), never a silent 0.

Output format (parsed by :func:`parse_aggregations`), from libdtrace ``dt_consume.c`` /
``dtrace.c`` (illumos/FreeBSD): at exit dtrace prints ``"\\n"`` then every aggregation; each entry
is its keys (strings ``"  %-50s"``, 64-bit integers ``" %16lld"``, 32-bit ``" %8d"``) followed by
its value (``" %16lld"`` for count/sum/...; for ``quantize`` a block: ``"\\n%16s %41s %-9s\\n"``
header ``value ... Distribution ... count`` then ``"%16lld |<40 chars of @/space> %-9lld"`` rows),
then ``"\\n"``. Aggregation names are not printed: keys must say what a row is.

``-c`` takes ONE string that dtrace splits itself on white space (``make_argv``: ``strtok`` on
``" \\f\\n\\r\\t\\v"``, no quoting and no shell involved), so every benchmark argument must be free
of white space; :func:`dtrace_argv` checks it. dtrace opens ``-o`` in append mode: each run uses a
fresh temporary file. The benchmark's stdout (its JSON) is dtrace's stdout, unmixed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..benchmark import parse_bench_output
from ...catalogue import builtin_catalogue
from ...errors import EnvironmentProblem, PmcsuiteError
from ...schema import CounterValue
from .base import ToolBackend, run_under_tool

_GUARD = re.compile(r"ipcbench: guard: the benchmark was (killed by signal [^\n]+)")

#: Predicate selecting the benchmark process and its children.
TARGET = "progenyof($target)"

#: the dtrace spelling key of the catalogue's platform events (docs/catalogue.md)
D_KEY = "dtrace"


def _counting(probes: str, counter: str) -> str:
    """The default clause: count every firing of ``probes`` (comma-separated) by the benchmark."""
    return f"{probes.replace(',', ', ')}\n/{{target}}/\n{{\n    @counts[\"{counter}\"] = sum(1);\n}}\n"


def d_counters(cat) -> dict[str, tuple[str, str, str]]:
    """counter id -> (probes recorded as the counter's ``event``, unit, D clauses) for every counter
    a platform of ``cat`` spells for dtrace (the first platform that does): its ``clause``, else one
    counting the firings of its probes. The clauses add to ``@counts["<id>"]``; ``{target}`` stands
    for :data:`TARGET`. The unit is the catalogue's, "" for a count (as perf prints it)."""
    out: dict[str, tuple[str, str, str]] = {}
    for platform in cat.platforms.values():
        for cid, spec in platform.events.items():
            if spec.get(D_KEY) and cid not in out:
                unit = cat.counters[cid].unit
                out[cid] = (spec[D_KEY], "" if unit == "count" else unit,
                            spec.get("clause") or _counting(spec[D_KEY], cid))
    return out


#: The built-in catalogue's dtrace counters (:func:`d_counters`): what this backend can count.
D_COUNTERS = d_counters(builtin_catalogue())

#: Counter ids this backend can count (and the probe recorded as their ``event``).
DEFAULT_EVENTS = {cid: spec for cid, (spec, _u, _c) in D_COUNTERS.items()}

PRIVILEGE_FIX = "run pmcsuite as root (dtrace needs the dtrace(4) device), or use --backend pmcstat"


@dataclass
class AggEntry:
    """One printed aggregation entry: its keys and either a scalar value or a histogram.

    ``buckets`` maps the lower bound of each printed quantize/lquantize row to its count
    (``"< N"`` / ``">= N"`` rows of lquantize are stored under their bound as text).
    """

    keys: tuple
    value: int | None = None
    buckets: dict = field(default_factory=dict)

    @property
    def is_histogram(self) -> bool:
        return self.value is None


_HEADER = re.compile(r"^\s+value\s+-+ Distribution -+\s+count\s*$")
_QROW = re.compile(r"^\s*(-?\d{1,20}|<\s*-?\d{1,20}|>=\s*-?\d{1,20})\s[\s@]*\|[\s@|]*?(-?\d{1,20})\s*$")
_INT = re.compile(r"^-?\d{1,20}$")     # dtrace prints 64-bit integers: at most 20 digits


def _keys(text: str) -> tuple:
    """The keys printed before a value: integers become int, runs of words one string key."""
    keys: list = []
    words: list[str] = []
    for tok in text.split():
        if _INT.match(tok):
            if words:
                keys.append(" ".join(words))
                words = []
            keys.append(int(tok))
        else:
            words.append(tok)
    if words:
        keys.append(" ".join(words))
    return tuple(keys)


def parse_aggregations(text: str) -> list[AggEntry]:
    """Parse dtrace's printed aggregations (end-of-run output or ``printa`` without a format).

    Scalar entries (count/sum/min/max/avg) are one line: keys then the value, the last integer.
    A quantize/lquantize entry is its key line (absent for a key-less aggregation) followed by a
    ``value --- Distribution --- count`` header and one row per bucket. String keys that contain
    white space are joined back with single spaces. Raises PmcsuiteError on a line that is
    neither (dtrace's output is not free text).
    """
    entries: list[AggEntry] = []
    pending_keys: str | None = None   # a line that may be the keys of a following histogram
    hist: AggEntry | None = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            hist = None
            if pending_keys is not None:
                entries.append(_scalar(pending_keys))
                pending_keys = None
            continue
        if _HEADER.match(line):
            hist = AggEntry(_keys(pending_keys) if pending_keys is not None else (), None, {})
            entries.append(hist)
            pending_keys = None
            continue
        if hist is not None:
            m = _QROW.match(line)
            if m is None:
                raise PmcsuiteError(f"unreadable dtrace histogram row {line.strip()!r}: "
                                    "is this dtrace aggregation output?")
            label = m.group(1).replace(" ", "")
            hist.buckets[int(label) if _INT.match(label) else label] = int(m.group(2))
            continue
        if pending_keys is not None:      # the previous line was a scalar entry after all
            entries.append(_scalar(pending_keys))
        pending_keys = line
    if pending_keys is not None:
        entries.append(_scalar(pending_keys))
    return entries


def _scalar(line: str) -> AggEntry:
    tokens = line.split()
    if not tokens or not _INT.match(tokens[-1]):
        raise PmcsuiteError(f"unreadable dtrace aggregation line {line.strip()!r}: expected keys "
                            "followed by an integer value")
    return AggEntry(_keys(line.rsplit(None, 1)[0]) if len(tokens) > 1 else (), int(tokens[-1]))


def dtrace_script(counters: list[str]) -> str:
    """The D program counting ``counters`` (ids of :data:`D_COUNTERS`; others are skipped)."""
    known = [c for c in dict.fromkeys(counters) if c in D_COUNTERS]
    parts = ["#pragma D option quiet", ""]
    if known:
        inits = "".join(f'    @counts["{c}"] = sum(0);\n' for c in known)
        parts.append("BEGIN\n{\n" + inits + "}\n")
    for c in known:
        parts.append(f"/* {c} */\n" + D_COUNTERS[c][2].replace("{target}", TARGET))
    if len(parts) == 2:
        raise PmcsuiteError("no dtrace-countable counter requested: the dtrace backend counts "
                            + ", ".join(D_COUNTERS))
    return "\n".join(parts)


def dtrace_argv(script: Path | str, out: Path | str, bench_argv: list[str],
                dtrace: str = "dtrace") -> list[str]:
    """``dtrace -q -o OUT -s SCRIPT -c "CMD"``; CMD is joined with spaces (see module doc)."""
    for arg in bench_argv:
        if not arg or re.search(r"\s", arg):
            raise PmcsuiteError(f"benchmark argument {arg!r} is empty or contains white space, "
                                "which dtrace -c cannot pass (it splits its command on spaces): "
                                "use a path without spaces")
    return [dtrace, "-q", "-o", str(out), "-s", str(script), "-c", " ".join(bench_argv)]


_PRIVILEGES = re.compile(r"requires additional privileges|Permission denied|"
                         r"failed to initialize dtrace", re.I)
_NO_PROBE = re.compile(r"probe description (\S+) does not match any probes")


def classify_error(stderr: str) -> tuple[str, str]:
    """dtrace's failure message -> (status, one-line message with a fix)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip().startswith("dtrace:")]
    first = lines[0] if lines else (stderr.strip().splitlines() or ["no error message"])[0]
    m = _NO_PROBE.search(stderr)
    if m:
        return "not_supported", (f"dtrace has no probe {m.group(1)} on this kernel: load its "
                                 "provider (kldload dtraceall) or drop that counter")
    if _PRIVILEGES.search(stderr):
        return "permission_denied", f"{first}: {PRIVILEGE_FIX}"
    return "error", f"{first}: run the generated script by hand with dtrace -s to see why"


def _probes_of(counter: str) -> list[str]:
    return D_COUNTERS[counter][0].split(",")


def counter_values(entries: list[AggEntry], events: dict[str, str],
                   unsupported: dict[str, str] | None = None) -> list[CounterValue]:
    """Aggregation entries -> one CounterValue per requested counter, in ``events`` order.

    A counter is ``ok`` with the value of its ``@counts`` key; ``not_supported`` if dtrace cannot
    count it here (unknown id, or its probe is missing: ``unsupported`` maps id -> reason);
    ``not_counted`` when its key is absent from the output (never a 0).
    """
    unsupported = unsupported or {}
    values: dict[str, int] = {}
    for e in entries:
        if not e.is_histogram and len(e.keys) == 1 and isinstance(e.keys[0], str):
            values[e.keys[0]] = e.value
    out = []
    for cid, spec in events.items():
        event = D_COUNTERS[cid][0] if cid in D_COUNTERS else (spec or "")
        unit = D_COUNTERS[cid][1] if cid in D_COUNTERS else ""
        if cid not in D_COUNTERS:
            out.append(CounterValue(cid, event, None, unit, "not_supported",
                                    reason="the dtrace backend has no D clause for this counter "
                                           f"(it counts {', '.join(D_COUNTERS)})"))
        elif cid in unsupported:
            out.append(CounterValue(cid, event, None, unit, "not_supported",
                                    reason=unsupported[cid]))
        elif cid in values:
            out.append(CounterValue(cid, event, float(values[cid]), unit, "ok", 100.0))
        else:
            out.append(CounterValue(cid, event, None, unit, "not_counted",
                                    reason="dtrace printed no value for it (its BEGIN "
                                           "initialisation did not run?)"))
    return out


class DtraceBackend(ToolBackend):
    """Counts kernel events of the benchmark process with a generated D script (scope "process")."""

    name = "dtrace"
    scope = "process"
    version_flag = "-V"
    package = ("it is part of FreeBSD's base system (cddl/usr.sbin/dtrace) and needs the dtraceall kernel "
               "module (kldload dtraceall); or --backend none for bandwidth only")

    def available(self) -> tuple[bool, str]:
        if self._exe() is None:
            return False, self.missing()
        v = self.version()
        if v is None:
            return False, "dtrace is on PATH but 'dtrace -V' fails: is the dtrace(4) device loaded?"
        return True, v

    def _once(self, counters: list[str], bench_argv: list[str], timeout: float):
        """One dtrace run: (stdout, stderr, returncode, aggregation text)."""
        with self.target.scratch("dtrace") as tmp:
            script, out = f"{tmp}/count.d", f"{tmp}/agg.out"
            self.target.write(script, dtrace_script(counters))
            argv = dtrace_argv(script, out, bench_argv, self._exe() or self.tool)
            stdout, stderr, rc = run_under_tool(argv, timeout, bench_argv, target=self.target)
            text = self.target.read(out) or ""
        return stdout, stderr, rc, text

    def run(self, events: dict[str, str], bench_argv: list[str],
            timeout: float) -> tuple[dict, list[CounterValue]]:
        """Run the benchmark under dtrace: (ipcbench JSON, counter values in ``events`` order).

        A counter whose probe this kernel lacks (e.g. no fbt ``vm_fault``) is dropped and
        reported ``not_supported``; the run is repeated once without it.
        """
        if self._exe() is None:
            raise EnvironmentProblem(self.missing())
        counters = [c for c in events if c in D_COUNTERS]
        unsupported: dict[str, str] = {}
        # the target's ipcbench guards the benchmark; progenyof($target) still counts it
        guarded = [str(self.target.exe), "--guard", "--", *map(str, bench_argv)]
        while True:
            if not counters:
                raise PmcsuiteError("none of the requested counters can be counted with dtrace "
                                    f"here ({', '.join(events)}): the dtrace backend counts "
                                    + ", ".join(D_COUNTERS))
            stdout, stderr, rc, text = self._once(counters, guarded, timeout)
            if rc == 0:
                break
            status, msg = classify_error(stderr)
            m = _NO_PROBE.search(stderr)
            missing = [c for c in counters if m and m.group(1) in _probes_of(c)]
            if status == "not_supported" and missing:
                for c in missing:
                    unsupported[c] = msg
                counters = [c for c in counters if c not in missing]
                continue
            if any(ln.strip().startswith("dtrace:") for ln in stderr.splitlines()):
                raise PmcsuiteError(msg)
            tail = (stderr.strip().splitlines() or ["no error message"])[-1]
            raise PmcsuiteError(f"the benchmark failed under dtrace (exit {rc}): {tail}")
        # dtrace exits 0 even when the traced command fails: its stderr tells what happened, and
        # ipcbench's guard (the traced command, around the benchmark) tells how it ended
        crash = _GUARD.search(stderr)
        if crash:
            raise PmcsuiteError(f"the benchmark crashed under dtrace: {crash.group(1)}")
        try:
            bench = parse_bench_output(stdout)
        except PmcsuiteError:
            tail = stderr.strip().splitlines()
            if tail:
                raise PmcsuiteError(f"the benchmark failed under dtrace: {tail[-1]}") from None
            raise
        return bench, counter_values(parse_aggregations(text), events, unsupported)

    def probe(self, events: dict[str, str]) -> list[CounterValue]:
        """Compile and enable the script for real around ``true``; status "available" or why not."""
        if self._exe() is None:
            return [CounterValue(c, e, None, "", "tool_missing", reason=self.missing())
                    for c, e in events.items()]
        out = []
        for cid, spec in events.items():
            if cid not in D_COUNTERS:
                out.extend(counter_values([], {cid: spec}))
                continue
            try:
                _o, stderr, rc, _t = self._once([cid], [self.target.which("true") or "/usr/bin/true"], 60)
            except PmcsuiteError as exc:
                out.append(CounterValue(cid, DEFAULT_EVENTS[cid], None, "", "error", reason=str(exc)))
                continue
            if rc == 0:
                out.append(CounterValue(cid, DEFAULT_EVENTS[cid], None, D_COUNTERS[cid][1],
                                        "available"))
            else:
                status, msg = classify_error(stderr)
                out.append(CounterValue(cid, DEFAULT_EVENTS[cid], None, D_COUNTERS[cid][1],
                                        status, reason=msg))
        return out
