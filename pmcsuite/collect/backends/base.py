"""What every counter backend shares: the ``Backend`` protocol, the ``none`` backend (the
uninstrumented baseline), ``ToolBackend`` (a counting tool, here or on a target), running a tool
around the benchmark, and marking the zeros the PMU cannot have counted. The backends' own modules
(inproc, perf, pmcstat, dtrace) import from here; ``backends`` chooses among them."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Protocol, runtime_checkable

from ...errors import EnvironmentProblem, PmcsuiteError
from ...schema import CounterValue
from ..processes import run_group


#: hardware counters every loop that moves data through a buffer must produce, whatever the catalogue
#: says: instructions, cycles, cache accesses, loads and stores, bus accesses
MUST_PRODUCE = frozenset({"instructions", "cycles", "l1d_access", "l2_access", "mem_read", "mem_write",
                          "axi_read", "axi_write"})


def must_produce(counter) -> bool:
    """Whether a catalogue counter cannot read 0 in a loop that moves data (``never_zero``, or a
    hardware counter of ``MUST_PRODUCE``): such a 0 is a silent zero, not a measurement."""
    if counter is None:
        return False
    return bool(counter.never_zero) or (counter.kind == "hardware" and counter.id in MUST_PRODUCE)


def flag_silent_zeros(values: list[CounterValue], cat) -> list[CounterValue]:
    """Mark counters that read 0 although the loop must produce their events (``must_produce``: the
    catalogue's ``never_zero``, or instructions, cycles, cache and bus accesses) as ``silent_zero``:
    a raw event the PMU does not implement can open and count nothing, and such a 0 is not a
    measurement. Changes ``values``."""
    for v in values:
        counter = cat.counters.get(v.counter) if cat is not None else None
        if must_produce(counter) and v.status == "ok" and v.value == 0:
            v.status, v.value = "silent_zero", None
            v.reason = (f"{v.event} read 0, but {v.counter} counts in any loop: this PMU does not "
                        "implement the event (it opens and counts nothing); fix its code in the catalogue")
    return values


@runtime_checkable
class Backend(Protocol):
    """What collect.py and check.py need from a counting tool."""

    name: str
    scope: str | None

    def available(self) -> tuple[bool, str]:
        """(usable here?, a one-line explanation)."""

    def version(self) -> str | None:
        """The tool's version string, or None if it is missing."""

    def run(self, events: dict[str, str], bench_argv: list[str],
            timeout: float) -> tuple[dict, list[CounterValue]]:
        """Run the benchmark under the tool: (ipcbench JSON, counter values in ``events`` order)."""

    def probe(self, events: dict[str, str]) -> list[CounterValue]:
        """Open each event for real; status "available" or why not."""


class NoneBackend:
    """The uninstrumented baseline: the benchmark alone, no counters."""

    name = "none"
    scope = None
    iterations = True

    def __init__(self, runner=None):
        self.runner = runner             # runner(argv, timeout): run ipcbench elsewhere (default here)

    def available(self) -> tuple[bool, str]:
        return True, "no counting tool needed"

    def version(self) -> str | None:
        return None

    def run(self, events: dict[str, str], bench_argv: list[str],
            timeout: float) -> tuple[dict, list[CounterValue]]:
        if events:
            raise PmcsuiteError("the 'none' backend counts nothing: choose --backend perf or pmcstat "
                                "to measure counters")
        from ..benchmark import run_bench  # lazy: benchmark.py compiles and runs things
        return run_bench(list(bench_argv), timeout, self.runner), []

    def run_iterations(self, events: dict[str, str], bench_argv: list[str],
                       timeout: float, cat=None) -> list[tuple[dict, list[CounterValue]]]:
        if events:
            raise PmcsuiteError("the 'none' backend counts nothing: choose --backend inproc or perf "
                                "to measure counters")
        from ..benchmark import run_bench_lines
        return [(line, []) for line in run_bench_lines(list(bench_argv), timeout, self.runner)]

    def probe(self, events: dict[str, str]) -> list[CounterValue]:
        return [CounterValue(c, e, None, "", "tool_missing",
                             reason="the 'none' backend counts nothing") for c, e in events.items()]


class ToolBackend:
    """What the counting-tool backends share: the tool (a name on PATH, or a path), its version,
    and the target it runs on (``remote.LocalTarget``, this machine, by default; a
    ``remote.SshTarget`` runs it there, wrapping the benchmark there)."""

    name = ""
    version_flag = "--version"
    #: what to install when the tool is missing (after "TOOL not found WHERE: ")
    package = ""

    def __init__(self, tool: str | None = None, target=None):
        from ..remote import LocalTarget
        self.tool = tool or self.name
        self.target = target if target is not None else LocalTarget()

    def _exe(self) -> str | None:
        return self.target.which(self.tool)

    def missing(self) -> str:
        """One line: the tool is not there, and what to install."""
        return f"{self.tool} not found {self.target.where}: {self.package}"

    def version(self) -> str | None:
        """The tool's version output (``TOOL --version`` or its own flag); None when missing or failing."""
        exe = self._exe()
        if exe is None:
            return None
        try:
            r = self.target.run([exe, self.version_flag], 30, tool=True)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return (r.stdout.strip() or None) if r.returncode == 0 else None


def run_under_tool(argv: list[str], timeout: float, bench_argv: list[str], env=None,
                   target=None) -> tuple[str, str, int]:
    """Run a counting tool wrapping the benchmark, here or on ``target`` (``remote.SshTarget.run``):
    (stdout, stderr, exit status). A missing tool or a hang (the whole process group is killed) is
    a one-line PmcsuiteError."""
    try:
        proc = run_group(argv, timeout, env=env) if target is None else target.run(argv, timeout, tool=True)
    except OSError:
        raise EnvironmentProblem(f"{argv[0]} not found: install it, or use --backend none") from None
    except subprocess.TimeoutExpired:
        raise PmcsuiteError(f"benchmark hung: no result after {timeout:g} s under {Path(argv[0]).name} "
                            f"({' '.join(map(str, bench_argv[:4]))}...): raise the timeout or check the "
                            "machine is not overloaded") from None
    return proc.stdout, proc.stderr, proc.returncode
