"""FreeBSD ``pmcstat`` backend (counting mode): counts the whole benchmark process.

``pmcstat -C -d -o FILE -p EV1 -p EV2 -- cmd`` allocates one process-private counting PMC per
event, follows the command's children (``-d``: the 2proc mode forks), and prints to FILE a
header ``# p/EV1 p/EV2 `` then one row of right-aligned counts per interval tick and one at
exit (cumulative with ``-C``, else increments). pmcstat cannot bracket the timed loop, so the
scope is "process" (set-up and tear-down are counted too).

Errors matched (FreeBSD usr.sbin/pmcstat/pmcstat.c, ``err(3)`` format ``pmcstat: MSG: strerror``):
- unknown/unusable event: ``pmcstat: ERROR: Cannot allocate process-mode pmc with specification
  "EV": Invalid argument`` (exit 71, EX_OSERR) -> not_supported;
- hwpmc(4) not loaded: ``pmcstat: ERROR: Initialization of the pmc(3) library failed: No such
  file or directory`` (exit 69, EX_UNAVAILABLE) -> permission_denied with "kldload hwpmc";
- ``Operation not permitted`` / ``Permission denied`` -> permission_denied (run as root).
pmcstat exits 0 whatever the command's exit status: a failed benchmark shows as missing JSON.
"""
from __future__ import annotations

import re
import subprocess

from ..benchmark import parse_bench_output
from ...errors import EnvironmentProblem, PmcsuiteError
from ...schema import CounterValue
from .base import ToolBackend, run_under_tool
from .perf import _bench_error

_ALLOC = re.compile(r'Cannot allocate (\w+)-mode pmc with specification "([^"]*)"')
_NO_HWPMC = re.compile(r"Initialization of the pmc\(3\) library failed")
_COUNT = re.compile(r"^[0-9]{1,20}$")     # an unsigned 64-bit count (str.isdigit() also takes "²")
_EPERM = re.compile(r"Operation not permitted|Permission denied")
KLDLOAD_FIX = "load the driver with 'kldload hwpmc' (as root) and retry"


def event_name(spec: str) -> str:
    """The name pmcstat prints in its header for an event spec (qualifiers after ',' dropped)."""
    return spec.split(",", 1)[0]


def _column_event(col: str) -> str:
    """``p/EV`` -> EV, ``s/03/EV`` -> EV."""
    if col.startswith("p/"):
        return col[2:]
    m = re.match(r"s/\d+/(.+)$", col)
    if m:
        return m.group(1)
    raise PmcsuiteError(f"pmcstat header column {col!r} is neither p/EVENT nor s/NN/EVENT: "
                        "is this pmcstat counting-mode output?")


def parse_pmcstat(text: str, cumulative: bool = True) -> dict[str, int]:
    """Parse pmcstat counting-mode output -> {event name: count}.

    With ``cumulative`` (pmcstat ran with ``-C``) the last row holds the totals; otherwise rows
    are increments and are summed. System-mode columns (one per CPU) are summed per event.
    Repeated headers and a missing final newline are fine. No rows -> {}.
    """
    columns: list[str] | None = None
    rows: list[list[int]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.lstrip().startswith("#"):
            cols = [_column_event(c) for c in line.lstrip()[1:].split()]
            if columns is not None and cols != columns:
                raise PmcsuiteError("pmcstat output changes its columns half-way: one run per "
                                    "output file, please")
            columns = cols
            continue
        if columns is None:
            raise PmcsuiteError(f"pmcstat output has counts before its '# p/EVENT' header: "
                                f"{line.strip()[:60]!r}")
        fields = line.split()
        if len(fields) != len(columns) or not all(_COUNT.match(f) for f in fields):
            raise PmcsuiteError(f"pmcstat row {line.strip()[:60]!r} does not match its header "
                                f"({len(columns)} counts expected)")
        rows.append([int(f) for f in fields])
    if columns is None:
        raise PmcsuiteError("no pmcstat header ('# p/EVENT ...') found: is this pmcstat "
                            "counting-mode output?")
    if not rows:
        return {}
    totals = rows[-1] if cumulative else [sum(col) for col in zip(*rows)]
    out: dict[str, int] = {}
    for name, value in zip(columns, totals):
        out[name] = out.get(name, 0) + value
    return out


_GUARD = re.compile(r"ipcbench: guard: the benchmark was (killed by signal [^\n]+)")


def build_argv(events: list[str], out, bench_argv: list[str], pmcstat: str = "pmcstat") -> list[str]:
    """pmcstat argv counting ``events`` (process mode, cumulative ``-C``, children too ``-d``)
    over the whole benchmark process, writing the counts to ``out``."""
    argv = [pmcstat, "-C", "-d", "-o", str(out)]
    for ev in events:
        argv += ["-p", ev]
    return argv + ["--", *bench_argv]


def classify_failure(returncode: int, stderr: str) -> tuple[str, str] | None:
    """pmcstat's own failure -> (status, one-line message), or None."""
    text = " ".join(stderr.split())
    m = _ALLOC.search(text)
    if m and _EPERM.search(text):
        return "permission_denied", (f"pmcstat may not allocate {m.group(2)!r} ({m.group(1)} "
                                     "mode): run as root")
    if m:
        return "not_supported", (f"pmcstat cannot count event {m.group(2)!r} on this CPU: check "
                                 "the name with 'pmcstat -L' or the catalogue's platform")
    if _NO_HWPMC.search(text):
        return "permission_denied", f"the hwpmc(4) driver is not loaded: {KLDLOAD_FIX}"
    if "pmcstat:" in text and _EPERM.search(text):
        return "permission_denied", "pmcstat is not permitted to count here: run as root"
    if returncode != 0 and "pmcstat:" in text:
        line = next(ln.strip() for ln in stderr.splitlines() if "pmcstat:" in ln)
        return "error", f"pmcstat failed (exit {returncode}): {line}"
    return None


def to_counter_values(counts: dict[str, int], events: dict[str, str]) -> list[CounterValue]:
    """{event name: count} -> CounterValue per counter id, in ``events`` order."""
    lowered = {k.lower(): v for k, v in counts.items()}
    out = []
    for cid, spec in events.items():
        value = lowered.get(event_name(spec).lower())
        if value is None:
            out.append(CounterValue(cid, spec, None, "", "error",
                                    reason="pmcstat printed no count for this event"))
        else:
            out.append(CounterValue(cid, spec, float(value), "", "ok"))
    return out


class PmcstatBackend(ToolBackend):
    """Counts with FreeBSD pmcstat over the whole benchmark process (scope "process")."""

    name = "pmcstat"
    scope = "process"
    package = ("it is part of FreeBSD's base system (usr.sbin/pmcstat) and needs the hwpmc kernel module "
               "(kldload hwpmc); or --backend none for bandwidth only")

    def version(self) -> str | None:
        """pmcstat has no --version: report the path of the tool (or None if missing)."""
        exe = self._exe()
        return f"pmcstat ({exe})" if exe else None

    def available(self) -> tuple[bool, str]:
        exe = self._exe()
        if exe is None:
            return False, self.missing()
        return True, f"pmcstat at {exe}"

    def run(self, events: dict[str, str], bench_argv: list[str],
            timeout: float) -> tuple[dict, list[CounterValue]]:
        """Run the benchmark under pmcstat; (ipcbench JSON, counter values in ``events`` order)."""
        if not events:
            raise PmcsuiteError("the pmcstat backend needs at least one event: pass counters, or "
                                "use --backend none for a baseline")
        exe = self._exe()
        if exe is None:
            raise EnvironmentProblem(self.missing())
        # pmcstat exits 0 whatever its workload did: ipcbench's guard (the target's) reports how the
        # benchmark ended
        guarded = [str(self.target.exe), "--guard", "--", *map(str, bench_argv)]
        with self.target.scratch("pmcstat") as tmp:
            out = f"{tmp}/pmcstat.out"
            argv = build_argv(list(events.values()), out, guarded, exe)
            stdout, stderr, rc = run_under_tool(argv, timeout, bench_argv, target=self.target)
            text = self.target.read(out) or ""
        failure = classify_failure(rc, stderr)
        if failure is not None:
            raise PmcsuiteError(failure[1])
        crash = _GUARD.search(stderr)
        if crash:
            raise PmcsuiteError(f"the benchmark crashed under pmcstat: {crash.group(1)}")
        if rc != 0:
            raise PmcsuiteError(f"the benchmark failed under pmcstat (exit {rc}): "
                                f"{_bench_error(stderr)}")
        if not any(ln.strip().startswith("{") for ln in stdout.splitlines()):
            raise PmcsuiteError(f"the benchmark failed under pmcstat: {_bench_error(stderr)}")
        bench = parse_bench_output(stdout)
        return bench, to_counter_values(parse_pmcstat(text, cumulative=True), events)

    def probe(self, events: dict[str, str]) -> list[CounterValue]:
        """Allocate each event for real (``pmcstat -p EV -- true``, one event at a time)."""
        exe = self._exe()
        if exe is None:
            return [CounterValue(c, e, None, "", "tool_missing", reason=self.missing())
                    for c, e in events.items()]
        true = self.target.which("true") or "/usr/bin/true"
        out = []
        for cid, spec in events.items():
            with self.target.scratch("probe") as tmp:
                argv = [exe, "-o", f"{tmp}/out", "-p", spec, "--", true]
                try:
                    r = self.target.run(argv, 60, tool=True)
                except subprocess.TimeoutExpired:
                    out.append(CounterValue(cid, spec, None, "", "error",
                                            reason="pmcstat hung while probing"))
                    continue
            failure = classify_failure(r.returncode, r.stderr)
            if failure is None and r.returncode != 0:
                failure = ("error", f"pmcstat exited {r.returncode}")
            status, reason = failure if failure else ("available", None)
            out.append(CounterValue(cid, spec, None, "", status, reason=reason))
        return out
