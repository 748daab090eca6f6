"""``inproc``: the benchmark counts its own loop, each actor itself, iteration by iteration.

ipcbench gets the pass's events as ``-e ID=SPEC`` (perf's spellings on Linux, where each actor
opens them with perf_event_open on itself; libpmc's on FreeBSD) and ``-n N`` iterations; it prints
one JSON line per iteration whose ``counters`` object this module turns into ``CounterValue``s.
Nothing but the loop is counted: each actor enables its counters just before its first write/read
and disables them just after its last (see the header of native/ipcbench.c for the exact
accounting), so the counted write() and read() calls are the benchmark's own, and counters and
bandwidth come from the same iteration. No tool starts per run: a sweep costs little more than its
loops.

The profile's counters (kind ``sample``, spelt ``sample:EVENT:PERIOD``) are one ``--sample EVENT:PERIOD``
argument instead: each actor samples its stacks around its loop, and each line's ``profile`` becomes the
``profile_<category>`` counters and the run record's ``profile`` (:mod:`..profile`), kernel frames named
with the kallsyms of the machine that ran the benchmark.
"""
from __future__ import annotations

import math
import os
import platform as _platform

from ...catalogue import builtin_catalogue
from ...errors import PmcsuiteError
from ...schema import ROLES, STATUSES, CounterValue
from ..profile import Kallsyms, local_kallsyms, profile_counters, summarise
from .base import flag_silent_zeros

#: how the catalogue spells a sampled (profile) event for inproc: ``sample:EVENT:PERIOD``
SAMPLE_PREFIX = "sample:"


def split_sampled(events: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """``events`` -> (the counted ones, ``-e``; the sampled ones, ``sample:EVENT:PERIOD``)."""
    sampled = {cid: spec for cid, spec in events.items() if str(spec).startswith(SAMPLE_PREFIX)}
    return {cid: spec for cid, spec in events.items() if cid not in sampled}, sampled


def sample_spec(sampled: dict[str, str]) -> str | None:
    """The sampled events -> the one ``EVENT:PERIOD`` they share (ipcbench ``--sample``), None for none."""
    specs = list(dict.fromkeys(sampled.values()))
    if len(specs) > 1:
        raise PmcsuiteError(f"one benchmark process samples once, but the profile counters ask for {specs[0]} and "
                            f"{specs[1]}: give every profile counter of a platform one spelling in the catalogue")
    return specs[0][len(SAMPLE_PREFIX):] if specs else None


def iteration_result(bench_line: dict, events: dict[str, str], cat=None, kallsyms: Kallsyms | None = None,
                     os: str = "linux") -> tuple[dict, list[CounterValue]]:
    """One ipcbench iteration -> (its line, with the run record's ``profile`` in place of ipcbench's
    when it sampled; its CounterValues in ``events`` order) (pure). ``cat``: the sweep's catalogue
    (units, ``never_zero``, the profile's categories; the built-in one when None); ``kallsyms``: the
    symbols of the machine that ran it (none: every kernel frame ``[unknown]``); ``os``: whose patterns."""
    counted, sampled = split_sampled(events)
    values = {v.counter: v for v in counter_values(bench_line, counted, cat)} if counted else {}
    if sampled:
        categories = (cat if cat is not None else builtin_catalogue()).profile_categories
        raw = bench_line.get("profile")
        summary = None if raw is None else summarise(raw, categories, kallsyms or Kallsyms(), os)
        values.update((v.counter, v) for v in profile_counters(summary, sampled, bench_line.get("loop_ns")))
        bench_line = {**bench_line, "profile": summary.record if summary is not None else None}
    return bench_line, [values[cid] for cid in events]


def counter_values(bench_line: dict, events: dict[str, str], cat=None) -> list[CounterValue]:
    """One ipcbench iteration's ``counters`` -> CounterValues in ``events`` order (pure; the profile's
    counters are :func:`iteration_result`'s).

    A value is kept only when both actors counted (status ok); ``multiplexed`` (never expected in a
    planned pass) and every other status keep no value. With ``cat``, counters the catalogue marks
    ``never_zero`` that read 0 become ``silent_zero``."""
    counted = bench_line.get("counters")
    if not isinstance(counted, dict):
        raise PmcsuiteError("the benchmark's result has no counters object: rebuild ipcbench")
    out = []
    for cid, spec in events.items():
        entry = counted.get(cid)
        if not isinstance(entry, dict):
            out.append(CounterValue(cid, spec, None, "", "error",
                                    reason=f"ipcbench did not report counter {cid}"))
            continue
        status = entry.get("status")
        if status not in STATUSES:
            raise PmcsuiteError(f"ipcbench reported counter {cid} with unknown status {status!r}: rebuild it")
        actors = {a: entry[a] for a in ROLES if isinstance(entry.get(a), dict)} or None
        running = _pcnt_running(actors)
        value = entry.get("value") if status == "ok" else None
        if value is not None and not _count(value):
            raise PmcsuiteError(f"ipcbench reported counter {cid} as ok with value {value!r}, not a count: rebuild it")
        unit = ""
        if value is not None:
            value, unit = _in_catalogue_unit(cid, value, cat)
        out.append(CounterValue(cid, spec, None if value is None else float(value), unit, status, running,
                                reason=entry.get("reason") if status != "ok" else None, actors=actors))
    return flag_silent_zeros(out, cat) if cat is not None else out


def _in_catalogue_unit(cid: str, value, cat) -> tuple[float, str]:
    """(value, unit) of one count: perf_event_open counts time in ns, so a counter whose catalogue
    unit is a duration (task_clock: msec, as perf stat prints it) is converted to that unit; any
    other value is a count (unit ""). ``cat``: the run's catalogue, else the built-in one."""
    counter = (cat if cat is not None else builtin_catalogue()).counters.get(cid)
    per_unit = counter.ns_per_unit if counter is not None else None
    return (value / per_unit, counter.unit) if per_unit else (value, "")


def _count(value) -> bool:
    """A number a float holds (JSON integers may have hundreds of digits)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _pcnt_running(actors) -> float | None:
    """The least share of its enabled time an actor's event was running (100 when never multiplexed)."""
    shares = [100.0 * float(a["running"]) / float(a["enabled"]) for a in (actors or {}).values()
              if _count(a.get("enabled")) and a.get("enabled") and _count(a.get("running"))]
    shares = [s for s in shares if math.isfinite(s)]
    return min(shares) if shares else None


class InprocBackend:
    """Counting inside ipcbench (``--backend inproc``, the default on Linux)."""

    name = "inproc"
    scope = "actors"
    iterations = True

    def __init__(self, exe=None, system: str | None = None, runner=None, perf_events: bool | None = None,
                 reader=None):
        self._exe = exe                  # the benchmark to probe with (default: build it)
        self.system = system or _platform.system()
        # runner(argv, timeout) runs ipcbench elsewhere (remote.SshTarget.run; default here),
        # perf_events says whether that machine has /proc/sys/kernel/perf_event_paranoid, and
        # reader(path) reads a file there (its /proc/kallsyms, once)
        self.runner = runner
        self.perf_events = perf_events
        self.reader = reader
        self._kallsyms: Kallsyms | None = None

    def kallsyms(self) -> Kallsyms:
        """The kernel symbols of the machine the benchmark runs on (read once)."""
        if self.reader is None:
            return local_kallsyms()
        if self._kallsyms is None:
            self._kallsyms = Kallsyms.from_text(self.reader("/proc/kallsyms"))
        return self._kallsyms

    def available(self) -> tuple[bool, str]:
        if self.system == "Linux":
            has = (os.path.exists("/proc/sys/kernel/perf_event_paranoid") if self.perf_events is None
                   else self.perf_events)
            if not has:
                return False, ("this kernel has no perf_event_open (no /proc/sys/kernel/perf_event_paranoid): "
                               "build it with CONFIG_PERF_EVENTS, or use --backend none")
            return True, "ipcbench counts its own loop with perf_event_open"
        return False, (f"in-process counting runs on Linux; on {self.system} the libpmc code in ipcbench "
                       "has never run: use --backend pmcstat,dtrace")

    def version(self) -> str | None:
        return None                      # part of ipcbench: its build is recorded instead

    def run_iterations(self, events: dict[str, str], bench_argv: list[str],
                       timeout: float, cat=None) -> list[tuple[dict, list[CounterValue]]]:
        """Run one benchmark process (its argv carries ``-n N``) counting (or sampling) ``events``;
        ``cat``: the sweep's catalogue (user files included), whose units the time counters are given
        in and whose categories the profile's samples go to. Each line's ``profile`` is the record's."""
        from ..benchmark import event_args, run_bench_lines, sample_args
        counted, sampled = split_sampled(events)
        lines = run_bench_lines([*map(str, bench_argv), *event_args(counted), *sample_args(sample_spec(sampled))],
                                timeout, self.runner)
        symbols = self.kallsyms() if sampled else None
        return [iteration_result(line, events, cat, symbols, self.system) for line in lines]

    def run(self, events: dict[str, str], bench_argv: list[str], timeout: float) -> tuple[dict, list[CounterValue]]:
        runs = self.run_iterations(events, bench_argv, timeout)
        if len(runs) != 1:
            raise PmcsuiteError(f"expected one iteration, the benchmark ran {len(runs)}")
        return runs[0]

    def probe(self, events: dict[str, str]) -> list[CounterValue]:
        """Open every event for real in a tiny transfer: status "ok" with the value read (check()
        turns it into "available" once silent zeros are flagged), or why not."""
        if not events:
            return []
        ok, why = self.available()
        if not ok:
            return [CounterValue(c, e, None, "", "tool_missing", reason=why) for c, e in events.items()]
        from ..benchmark import PROBE_ARGS, build, event_args, run_bench_lines, sample_args
        exe = self._exe or build()
        # each event alone: one that cannot join another's group must not hide that one's status;
        # the profile's counters are one sampling event, probed once
        counted, sampled = split_sampled(events)
        trials = [({cid: spec}, event_args({cid: spec})) for cid, spec in counted.items()]
        trials += [(sampled, sample_args(sample_spec(sampled)))] if sampled else []
        out = []
        for trial, args in trials:
            try:
                line = run_bench_lines([str(exe), *PROBE_ARGS, *args], 60, self.runner)[0]
            except PmcsuiteError as exc:
                out.extend(CounterValue(cid, spec, None, "", "error", reason=str(exc)) for cid, spec in trial.items())
                continue
            out.extend(iteration_result(line, trial, os=self.system)[1])
        return out          # "ok" values stay: check() flags silent zeros with the catalogue
