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

The profile (the catalogue's counters of kind ``sample``, spelt for dtrace as a profile probe, e.g.
``profile:::profile-997``) is :data:`PROFILE_CLAUSES`: each tick of the profile provider that lands
on a thread of the benchmark adds that thread's kernel stack (``stack()``, kernel mode: ``arg0 != 0``)
or one user-mode sample (``arg0 == 0``; no ``ustack()``: user frames are one ``[user]`` frame, as
on Linux), and the bytes each thread passes to read()/write() tell the writer and the reader apart.
A stack entry prints as its keys, then one frame a line (``kernel`uiomove_faultflag+0x12c``, leaf
first, indented 14 spaces), then the count (``dt_print_stack`` in ``dt_consume.c``);
:func:`parse_aggregations` reads it and :func:`profile_result` turns it into what the Linux profile
gives (``collect/profile.py``): samples per category (the catalogue's ``freebsd`` patterns, the same
rule) and the run record's ``profile`` with its folded stacks. Its scope is the process, not the
timed loop (dtrace cannot see the loop's window): start-up and the threads that are neither writer
nor reader (role ``process``) are in it. It has never run on FreeBSD: the script and the parser are
checked only against the stand-in ``tests/standins/dtrace`` and dtrace's documented output format.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..benchmark import parse_bench_output
from ..profile import SILENT_PERIODS, UNKNOWN, categorise, fold, loop_periods
from ...catalogue import PROFILE_PREFIX, UNIT_NS, builtin_catalogue
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
    a platform of ``cat`` spells for dtrace (the first platform that does), the profile's aside
    (:func:`d_profile_counters`): its ``clause``, else one counting the firings of its probes. The
    clauses add to ``@counts["<id>"]``; ``{target}`` stands for :data:`TARGET`. The unit is the
    catalogue's, "" for a count (as perf prints it)."""
    out: dict[str, tuple[str, str, str]] = {}
    for platform in cat.platforms.values():
        for cid, spec in platform.events.items():
            if spec.get(D_KEY) and cid not in out and cat.counters[cid].kind != "sample":
                unit = cat.counters[cid].unit
                out[cid] = (spec[D_KEY], "" if unit == "count" else unit,
                            spec.get("clause") or _counting(spec[D_KEY], cid))
    return out


def d_profile_counters(cat) -> dict[str, str]:
    """counter id -> profile probe (``profile:::profile-997``) for the profile's counters (kind
    ``sample``) a platform of ``cat`` spells for dtrace: :data:`PROFILE_CLAUSES` counts them all."""
    out: dict[str, str] = {}
    for platform in cat.platforms.values():
        for cid, spec in platform.events.items():
            if spec.get(D_KEY) and cat.counters[cid].kind == "sample":
                out.setdefault(cid, spec[D_KEY])
    return out


#: The built-in catalogue's dtrace counters (:func:`d_counters`): what this backend can count.
D_COUNTERS = d_counters(builtin_catalogue())
#: ... and its profile counters (:func:`d_profile_counters`).
P_COUNTERS = d_profile_counters(builtin_catalogue())

#: Counter ids this backend can count (and the probe recorded as their ``event``).
DEFAULT_EVENTS = {**{cid: spec for cid, (spec, _u, _c) in D_COUNTERS.items()}, **P_COUNTERS}

#: The profile's D clauses (module docstring). ``{probe}``: the profile probe, ``{target}``:
#: :data:`TARGET`. Each aggregation's first key is a tag, so every printed entry says what it is.
PROFILE_CLAUSES = """\
{probe}
/{target} && arg0 != 0/
{
    @pmc_kstacks["kstack", tid, stack()] = count();
}

{probe}
/{target} && arg0 == 0/
{
    @pmc_user["user", tid] = count();
}

syscall::write:entry
/{target}/
{
    @pmc_bytes["write", tid] = sum(arg2);
}

syscall::read:entry
/{target}/
{
    @pmc_bytes["read", tid] = sum(arg2);
}
"""

#: frames per kernel stack (``stackframes``; the Linux profile keeps 32 too)
STACK_FRAMES = 32

PRIVILEGE_FIX = "run pmcsuite as root (dtrace needs the dtrace(4) device), or use --backend pmcstat"


@dataclass
class AggEntry:
    """One printed aggregation entry: its keys and either a scalar value or a histogram.

    ``buckets`` maps the lower bound of each printed quantize/lquantize row to its count
    (``"< N"`` / ``">= N"`` rows of lquantize are stored under their bound as text). ``frames``:
    the stack (``stack()``) among its keys, as printed, leaf first (``kernel`pipe_write+0x9b4``).
    """

    keys: tuple
    value: int | None = None
    buckets: dict = field(default_factory=dict)
    frames: list = field(default_factory=list)

    @property
    def is_histogram(self) -> bool:
        return self.value is None


_HEADER = re.compile(r"^\s+value\s+-+ Distribution -+\s+count\s*$")
_QROW = re.compile(r"^\s*(-?\d{1,20}|<\s*-?\d{1,20}|>=\s*-?\d{1,20})\s[\s@]*\|[\s@|]*?(-?\d{1,20})\s*$")
_INT = re.compile(r"^-?\d{1,20}$")     # dtrace prints 64-bit integers: at most 20 digits
#: a stack frame: ``module`function+0xoffset``, ``module`function``, ``module`0xaddress`` or ``0xaddress``
_FRAME = re.compile(r"^\s+(?:[^\s`]+`[^\s`]+|0x[0-9a-fA-F]{1,16})$")


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
    ``value --- Distribution --- count`` header and one row per bucket. An entry with a stack among
    its keys is its key line (absent for ``@[stack()]``), its frames one a line, then its value
    alone on a line. String keys that contain white space are joined back with single spaces.
    Raises PmcsuiteError on a line that is none of these (dtrace's output is not free text).
    """
    entries: list[AggEntry] = []
    pending_keys: str | None = None   # a line that may be the keys of a following histogram or stack
    hist: AggEntry | None = None
    stack: AggEntry | None = None     # a stack entry whose frames are being read
    for raw in text.splitlines():
        line = raw.rstrip()
        if stack is not None or (hist is None and _FRAME.match(line)):
            stack = _stack_line(stack, pending_keys, line, entries)
            pending_keys = None
            continue
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
    if stack is not None:
        raise PmcsuiteError(f"dtrace's output ends inside a stack (after {stack.frames[-1]!r}): was it cut short?")
    if pending_keys is not None:
        entries.append(_scalar(pending_keys))
    return entries


def _stack_line(stack: AggEntry | None, keys: str | None, line: str, entries: list) -> AggEntry | None:
    """Read one line of a stack entry: a frame (the first opens the entry, with ``keys``) or the
    count that closes it (then None: the entry is appended to ``entries``)."""
    if _FRAME.match(line):
        if stack is None:
            stack = AggEntry(_keys(keys) if keys is not None else ())
        stack.frames.append(line.strip())
        return stack
    if not line.strip():
        return stack
    if not _INT.match(line.strip()):
        raise PmcsuiteError(f"unreadable dtrace stack line {line.strip()!r}: expected a frame "
                            "(module`function+0xoffset) or the stack's count")
    stack.value = int(line)
    entries.append(stack)
    return None


def _scalar(line: str) -> AggEntry:
    tokens = line.split()
    if not tokens or not _INT.match(tokens[-1]):
        raise PmcsuiteError(f"unreadable dtrace aggregation line {line.strip()!r}: expected keys "
                            "followed by an integer value")
    return AggEntry(_keys(line.rsplit(None, 1)[0]) if len(tokens) > 1 else (), int(tokens[-1]))


def profile_probe(counters) -> str | None:
    """The one profile probe the profile counters among ``counters`` share (None: none asked for)."""
    probes = list(dict.fromkeys(P_COUNTERS[c] for c in counters if c in P_COUNTERS))
    if len(probes) > 1:
        raise PmcsuiteError(f"one dtrace run profiles at one rate, but the profile counters ask for {probes[0]} "
                            f"and {probes[1]}: give every profile counter one dtrace spelling in the catalogue")
    return probes[0] if probes else None


def dtrace_script(counters: list[str]) -> str:
    """The D program counting ``counters`` (ids of :data:`D_COUNTERS`, and the profile's of
    :data:`P_COUNTERS`, which share :data:`PROFILE_CLAUSES`; others are skipped)."""
    known = [c for c in dict.fromkeys(counters) if c in D_COUNTERS]
    probe = profile_probe(counters)
    parts = ["#pragma D option quiet", *([f"#pragma D option stackframes={STACK_FRAMES}"] if probe else []), ""]
    if known:
        inits = "".join(f'    @counts["{c}"] = sum(0);\n' for c in known)
        parts.append("BEGIN\n{\n" + inits + "}\n")
    for c in known:
        parts.append(f"/* {c} */\n" + D_COUNTERS[c][2].replace("{target}", TARGET))
    if probe:
        parts.append(f"/* the profile ({', '.join(c for c in counters if c in P_COUNTERS)}) */\n"
                     + PROFILE_CLAUSES.replace("{probe}", probe).replace("{target}", TARGET))
    if not known and not probe:
        raise PmcsuiteError("no dtrace-countable counter requested: the dtrace backend counts "
                            + ", ".join(DEFAULT_EVENTS))
    return "\n".join(parts)


_RATE = re.compile(r"profile-(\d{1,12})(hz|ns|nsec|us|usec|ms|msec|s|sec)?\Z")


def profile_period_ns(probe: str) -> float:
    """The sampling period of a profile probe (``profile:::profile-997``: 997 Hz; ``profile-1ms``), in ns."""
    m = _RATE.search(probe)
    if m is None or int(m[1]) == 0:
        raise PmcsuiteError(f"cannot tell the sampling period of the dtrace probe {probe!r}: spell the profile "
                            "counters profile:::profile-N (N Hz) or profile:::profile-Nms in the catalogue")
    rate, unit = int(m[1]), m[2] or "hz"
    return 1e9 / rate if unit == "hz" else rate * UNIT_NS[unit]


def frame_function(frame: str) -> str:
    """A printed frame's function: ``kernel`uiomove_faultflag+0x12c`` -> ``uiomove_faultflag``; an
    address without a symbol (``kernel`0xffffffff80fa4b0e``, ``0x...``) -> ``[unknown]``."""
    name = frame.rsplit("`", 1)[-1].split("+", 1)[0]
    return UNKNOWN if name.startswith("0x") else name


#: the role of the benchmark's threads that are neither writer nor reader (main thread, parent, guard)
OTHER_THREADS = "process"


def _roles(entries: list[AggEntry]) -> dict[int, str]:
    """thread id -> writer/reader: the thread that passed most bytes to write(), and to read()."""
    moved: dict[str, dict[int, int]] = {"write": {}, "read": {}}
    for e in entries:
        if len(e.keys) == 2 and e.keys[0] in moved and isinstance(e.keys[1], int) and e.value is not None:
            moved[e.keys[0]][e.keys[1]] = e.value
    roles = {}
    for call, role in (("write", "writer"), ("read", "reader")):
        if moved[call]:
            roles.setdefault(max(moved[call], key=moved[call].get), role)
    return roles


def profile_result(entries: list[AggEntry], probe: str, categories, drops: int = 0) -> tuple[dict, dict]:
    """The profile clauses' printed aggregations -> (the run record's ``profile``, samples per category
    name). Kernel stacks go to a category by :func:`..profile.categorise` with the ``freebsd``
    patterns of ``categories``; user-mode samples are ``user``. The record (``schema.PROFILE_KEYS``):
    ``event`` (the probe's name), ``period`` (ns), ``samples`` per role (writer, reader, and
    :data:`OTHER_THREADS`), ``lost`` (``all``: ``drops``, dtrace's aggregation drops, counted per CPU
    not per thread), ``folded`` (root first, the role first) and ``kallsyms`` ``ok`` (dtrace names
    the frames itself)."""
    roles = _roles(entries)
    samples = {"writer": 0, "reader": 0, OTHER_THREADS: 0}
    by_category = {c.name: 0 for c in categories}
    folded: dict[str, int] = {}
    for e in entries:
        if e.value is None or len(e.keys) != 2 or e.keys[0] not in ("kstack", "user"):
            continue
        frames = tuple(frame_function(f) for f in e.frames)
        role, category = roles.get(e.keys[1], OTHER_THREADS), categorise(frames, categories, "freebsd")
        samples[role] += e.value
        by_category[category] = by_category.get(category, 0) + e.value
        folded[fold(role, frames)] = folded.get(fold(role, frames), 0) + e.value
    record = {"event": probe.rsplit(":", 1)[-1], "period": round(profile_period_ns(probe), 3), "unit": "ns",
              "samples": samples, "lost": {"all": drops}, "folded": folded, "kallsyms": "ok"}
    return record, by_category


def profile_values(record: dict, by_category: dict, events: dict[str, str], loop_ns=None) -> dict[str, CounterValue]:
    """The profile counters among ``events`` -> their CounterValues: each the samples of its category
    (0 is a real value); no sample at all over a loop of more than ``SILENT_PERIODS`` periods is
    ``silent_zero`` (the probe never fired on the benchmark)."""
    probe = {cid: spec for cid, spec in events.items() if cid in P_COUNTERS}
    periods = loop_periods(loop_ns, record["period"], "ns")
    if sum(record["samples"].values()) == 0 and periods is not None and periods > SILENT_PERIODS:
        why = (f"no {record['event']} sample of the benchmark in a loop of {periods:.0f} periods: the probe "
               "never fired on its threads")
        return {cid: CounterValue(cid, P_COUNTERS[cid], None, "samples", "silent_zero", reason=why) for cid in probe}
    out = {}
    for cid in probe:
        n = by_category.get(cid[len(PROFILE_PREFIX):])
        out[cid] = (CounterValue(cid, P_COUNTERS[cid], float(n), "samples", "ok", 100.0) if n is not None else
                    CounterValue(cid, P_COUNTERS[cid], None, "samples", "error",
                                 reason=f"{cid} names no category of the catalogue's profile section"))
    return out


_DROPS = re.compile(r"dtrace: (\d{1,20}) (?:aggregation|dynamic variable) drops?", re.I)


def drops(stderr: str) -> int:
    """Records dtrace says it dropped (``dtrace: 12 aggregation drops on CPU 1``), summed."""
    return sum(int(n) for n in _DROPS.findall(stderr))


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
    if counter in P_COUNTERS:
        return [P_COUNTERS[counter], "syscall::write:entry", "syscall::read:entry"]
    return D_COUNTERS[counter][0].split(",")


def counter_values(entries: list[AggEntry], events: dict[str, str],
                   unsupported: dict[str, str] | None = None, profiled: dict | None = None) -> list[CounterValue]:
    """Aggregation entries -> one CounterValue per requested counter, in ``events`` order.

    A counter is ``ok`` with the value of its ``@counts`` key; ``not_supported`` if dtrace cannot
    count it here (unknown id, or its probe is missing: ``unsupported`` maps id -> reason);
    ``not_counted`` when its key is absent from the output (never a 0). The profile's counters are
    ``profiled`` (:func:`profile_values`).
    """
    unsupported, profiled = unsupported or {}, profiled or {}
    values: dict[str, int] = {}
    for e in entries:
        if not e.is_histogram and len(e.keys) == 1 and isinstance(e.keys[0], str):
            values[e.keys[0]] = e.value
    out = []
    for cid, spec in events.items():
        event = D_COUNTERS[cid][0] if cid in D_COUNTERS else P_COUNTERS.get(cid, spec or "")
        unit = D_COUNTERS[cid][1] if cid in D_COUNTERS else "samples" if cid in P_COUNTERS else ""
        if cid in profiled and cid not in unsupported:
            out.append(profiled[cid])
        elif cid not in D_COUNTERS and cid not in P_COUNTERS:
            out.append(CounterValue(cid, event, None, unit, "not_supported",
                                    reason="the dtrace backend has no D clause for this counter "
                                           f"(it counts {', '.join(DEFAULT_EVENTS)})"))
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


def _result(bench: dict, text: str, stderr: str, events: dict[str, str], counters: list[str],
            unsupported: dict[str, str]) -> tuple[dict, list[CounterValue]]:
    """One successful run's (ipcbench JSON, with the record's ``profile`` when profiled; counter
    values in ``events`` order). The profile's categories are the built-in catalogue's."""
    entries = parse_aggregations(text)
    probe, profiled = profile_probe(counters), {}
    if probe:
        record, by_category = profile_result(entries, probe, builtin_catalogue().profile_categories, drops(stderr))
        bench = {**bench, "profile": record}
        profiled = profile_values(record, by_category, events, bench.get("loop_ns"))
    return bench, counter_values(entries, events, unsupported, profiled)


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
        reported ``not_supported``; the run is repeated once without it. With profile counters,
        the JSON gains the run record's ``profile`` (:func:`profile_result`).
        """
        if self._exe() is None:
            raise EnvironmentProblem(self.missing())
        counters = [c for c in events if c in D_COUNTERS or c in P_COUNTERS]
        unsupported: dict[str, str] = {}
        # the target's ipcbench guards the benchmark; progenyof($target) still counts it
        guarded = [str(self.target.exe), "--guard", "--", *map(str, bench_argv)]
        while True:
            if not counters:
                raise PmcsuiteError("none of the requested counters can be counted with dtrace "
                                    f"here ({', '.join(events)}): the dtrace backend counts "
                                    + ", ".join(DEFAULT_EVENTS))
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
        return _result(bench, text, stderr, events, counters, unsupported)

    def probe(self, events: dict[str, str]) -> list[CounterValue]:
        """Compile and enable the script for real around ``true``; status "available" or why not."""
        if self._exe() is None:
            return [CounterValue(c, e, None, "", "tool_missing", reason=self.missing())
                    for c, e in events.items()]
        out = []
        for cid, spec in events.items():
            if cid not in DEFAULT_EVENTS:
                out.extend(counter_values([], {cid: spec}))
                continue
            unit = D_COUNTERS[cid][1] if cid in D_COUNTERS else "samples"
            try:
                _o, stderr, rc, _t = self._once([cid], [self.target.which("true") or "/usr/bin/true"], 60)
            except PmcsuiteError as exc:
                out.append(CounterValue(cid, DEFAULT_EVENTS[cid], None, "", "error", reason=str(exc)))
                continue
            if rc == 0:
                out.append(CounterValue(cid, DEFAULT_EVENTS[cid], None, unit, "available"))
            else:
                status, msg = classify_error(stderr)
                out.append(CounterValue(cid, DEFAULT_EVENTS[cid], None, unit, status, reason=msg))
        return out
