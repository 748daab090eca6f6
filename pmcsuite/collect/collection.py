"""``pmcsuite collect``: plan the sweep, run every job (baseline or one counter pass), store each run.

Flow: catalogue -> counters this host can count -> passes (slots) -> seeded job order ->
for each job: benchmark (wrapped in the counter backend, or bare for the baseline) -> sanity
checks -> one line appended to ``runs.jsonl`` as soon as the run ends.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import random
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from .backends import flag_silent_zeros, get_backend, resolve_backends
from .benchmark import build, build_info, bench_argv, bench_points_argv, IPC_MODES, ACTORS, PLACEMENTS
from ..catalogue import load_catalogue
from .check import check
from ..errors import EnvironmentProblem, Interrupted, PmcsuiteError
from .hostinfo import (
    benchmark_load, host_metadata, resolve_platforms, tool_versions, cpu_times, other_cpu_fraction, own_cpu_time,
    runnable_others)
from ..plan import (
    Job, backend_names, batches, plan_counters, make_jobs, remaining_jobs, run_key, shuffled_processes, split_runs)
from ..options import name_list
from ..schema import RunRecord
from ..sizes import parse_size, parse_sizes, format_size
from ..results.store import ResultStore
from ..results.load import shared_cpu

REFERENCE_SIZES = "1K-16M"
REFERENCE_IPCS = ("pipe", "local", "local-s")
#: runs per point and variant, warm-ups included, in PROCESSES benchmark processes (in-process
#: counting; each process runs POINTS points, each starting with WARMUP warm-up iterations).
#: The process is the unit of the analysis (a process keeps its regime), so processes, not
#: iterations, buy precision: bench/validation_plan.py (200 synthetic sweeps per plan laid out by
#: plan.make_jobs: 3 IPC modes, 2 passes, process CV 10 %, iteration CV 3 %, 2 % slow iterations;
#: cost = time / the summed loop time of the sweep's old plan, a process's start-up 18 ms against
#: a 9.8 ms iteration, both measured here) gave, as no-effect sweeps with any verdict / overall
#: 0.85x called slower / a one-size 0.5x called slower / cost:
#:   default 13 in 3 (old)  1.5 % / 96.7 % /  9.0 % / 1.08      quick 9 in 3 (old)  2.5 % / 81.5 % /  8.5 % / 1.12
#:   default 14 in 7        3.0 % / 100  % / 92.5 % / 1.27      quick 8 in 4        1.5 % / 91.1 % / 54.5 % / 1.05
#:   default 16 in 8        6.5 % / 100  % / 99.5 % / 1.46      quick 10 in 5       6.0 % / 97.3 % / 20.5 % / 1.32
#:                                                              quick 12 in 6       4.0 % / 98.8 % / 65.5 % / 1.58
#: Default: 14 = 7 x (1 warm-up + 1 measured), within 1.5x of the old loop time. Quick: 12 = 6 x (1 + 1).
#: With one measured iteration a process, a slow iteration is its process's median: five or more
#: processes a point are needed for the trimmed level to drop it (quick 8 in 4 was cheaper and past
#: 90 %, but one run at 0.6x moved its point by 12 %: a quarter of its log); five trim one of five and leave
#: 2 degrees of freedom (weak one-size verdicts); six is the fewest that does both.
#: A default process runs 15 points: what a process costs to start (tracepoints are registered per
#: process, ~40 ms each here) is paid three times less often than with 5. With 5 points a process
#: the default sweep took 2.05x its loop time (189 processes; goal 1.5x), with 15 1.47x (63
#: processes; bench/bench_sweep_speed.py --skip-perf). A process's effect is then shared by more
#: points (inference.shared_variance), which costs the overall verdict power: bench/validate_analysis.py
#: finds the default's overall 0.85x in 95 % of sweeps; the quick sweep's 13 processes a variant
#: would find it in 81 %, so it keeps 5 points a process (100 %; its time has no goal).
DEFAULT = {"sizes": REFERENCE_SIZES, "runs": 14, "warmup": 1, "processes": 7, "points_per_process": 15}
QUICK = {"sizes": "1K-1M", "runs": 12, "warmup": 1, "processes": 6, "points_per_process": 5}


@dataclass
class Settings:
    """Everything that defines a sweep; stored in metadata.json so that --resume can rebuild it."""
    ipcs: list
    sizes: list
    runs: int
    warmup: int
    total_size: int
    actors: str
    placement: str
    backend: str       # the counting tools, comma-separated in order of preference ("none": baseline only)
    platforms: list
    groups: list
    skipped: dict      # counter id -> why this platform has no such event (catalogue 'unavailable')
    seed: int
    timeout: float
    catalogue_files: list = field(default_factory=list)
    force: bool = False   # as root, SO_SNDBUFFORCE/SO_RCVBUFFORCE (and pipe-s above pipe-max-size)
    # benchmark processes per point and variant, each running several iterations (in-process
    # counting); None: one process per run (a tool such as perf stat wraps each run)
    processes: int | None = None
    points_per_process: int = 1     # cells one benchmark process runs in a row (in-process counting)
    # --target-ci: add processes to a cell until the 95 % interval of its level (over its processes)
    # is within ±target_ci % of it, up to max_runs runs (warm-ups included)
    target_ci: float | None = None
    max_runs: int | None = None
    # --host [user@]host[:port]: the sweep runs there over SSH (--ssh-command: how to reach it;
    # --target-cc: build with the target's compiler instead of cross-compiling); --tag: a label
    host: str | None = None
    ssh_command: str | None = None
    tag: str | None = None
    target_cc: str | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def check(self) -> None:
        """Refuse settings a resume cannot run (a metadata.json edited or corrupted): ValueError."""
        def each(name, kind, optional=False):
            value = getattr(self, name)
            ok = (value is None and optional) or (isinstance(value, kind) and not isinstance(value, bool)) \
                or (kind is bool and isinstance(value, bool))
            if not ok:
                raise ValueError(f"'{name}' is {value!r}")
        for name in ("runs", "warmup", "total_size", "seed", "points_per_process"):
            each(name, int)
        for name in ("actors", "placement", "backend"):
            each(name, str)
        for name in ("processes", "max_runs"):
            each(name, int, optional=True)
        for name in ("host", "ssh_command", "tag", "target_cc"):
            each(name, str, optional=True)
        each("force", bool)
        each("target_ci", (int, float), optional=True)
        each("timeout", (int, float))
        each("skipped", dict)
        for name, kind in (("ipcs", str), ("sizes", int), ("platforms", str), ("groups", str),
                           ("catalogue_files", str)):
            value = getattr(self, name)
            if not isinstance(value, list) or not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
                raise ValueError(f"'{name}' is {value!r}")
        if not self.ipcs or not self.sizes:
            raise ValueError("the sweep has no IPC mode or no size")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _check_timeout(timeout) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) \
            or not timeout > 0:
        raise PmcsuiteError(f"--timeout {timeout}: give the seconds after which a benchmark process counts as hung "
                            "(a finite number > 0)")
    return float(timeout)


def _check_target(target_ci, max_runs, runs):
    """--target-ci PCT (> 0) and --max-runs N (>= runs; default 3 x runs) -> (float | None, int | None)."""
    if target_ci is None:
        if max_runs is not None:
            raise PmcsuiteError("--max-runs goes with --target-ci PCT: without a target no run is added")
        return None, None
    if isinstance(target_ci, bool) or not isinstance(target_ci, (int, float)) or not 0 < target_ci < 100 \
            or not math.isfinite(target_ci):
        raise PmcsuiteError(f"--target-ci {target_ci}: give the half width of each point's 95 % interval (over its "
                            "processes) as a percentage of its level, e.g. 2 (for ±2 %)")
    max_runs = 3 * runs if max_runs is None else max_runs
    if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < runs:
        raise PmcsuiteError(f"--max-runs {max_runs}: give at least the runs of the plan ({runs})")
    return float(target_ci), max_runs


def _validate(ipcs, sizes, runs, warmup, total, actors, placement, processes=None):
    unknown = [i for i in ipcs if i not in IPC_MODES]
    if unknown:
        raise PmcsuiteError(f"unknown IPC mode {', '.join(unknown)}: choose from {', '.join(IPC_MODES)}")
    if actors not in ACTORS:
        raise PmcsuiteError(f"unknown actors {actors!r}: choose from {', '.join(ACTORS)}")
    if placement not in PLACEMENTS:
        raise PmcsuiteError(f"unknown placement {placement!r}: choose from {', '.join(PLACEMENTS)}")
    if processes is None and (runs < 1 or warmup < 0 or warmup >= runs):
        raise PmcsuiteError(f"--runs {runs} --warmup {warmup}: need runs >= 1 and 0 <= warmup < runs")
    if processes is not None and (processes < 1 or warmup < 0 or runs < processes * (warmup + 1)):
        raise PmcsuiteError(f"--runs {runs} --processes {processes} --warmup {warmup}: each process runs "
                            f"{warmup} warm-up iteration(s) and at least one measured one, so runs must be at "
                            f"least processes x (warmup + 1) = {max(processes, 1) * (warmup + 1)}")
    bad = [format_size(s) for s in sizes if total % s]
    if bad:
        raise PmcsuiteError(
            f"total size {format_size(total)} is not a multiple of buffer size(s) {', '.join(bad)}: "
            "use powers of two or change --total")


def _classify(cat, groups, platforms, backend):
    """Open the counters of ``groups`` for real: (results by counter, {counter: reason} absent by
    design on this platform, {counter: result} that should count here but do not)."""
    results = {r.counter: r for r in check(cat, groups, platforms, backend)}
    by_design = {c: r.reason for c, r in results.items() if r.status == "unavailable"}
    failing = {c: r for c, r in results.items() if r.status not in ("available", "unavailable")}
    return results, by_design, failing


def _usable(cat, group, by_design, failing) -> bool:
    """Every counter of ``group`` opens, or is absent by design, and at least one opens."""
    members = set(cat.expand([group]))
    return not members & set(failing) and not members <= set(by_design)


def choose_groups(cat, requested, platforms, backend) -> tuple[list[str], dict[str, str]]:
    """The counter groups to measure and the counters skipped because this platform has no such
    event by design (catalogue ``unavailable``, e.g. AXI on x86-64): ``(groups, {counter: reason})``.

    Every counter is opened for real first. Explicit groups fail with one line when a counter
    that should exist here does not open (not supported, permission denied, tool missing) or
    when none of a group's counters exists on this platform. The default is every catalogue
    group that opens completely here."""
    candidates = list(requested) if requested else list(cat.groups)
    results, by_design, failing = _classify(cat, candidates, platforms, backend)
    if not requested:
        chosen = [g for g in candidates if _usable(cat, g, by_design, failing)]
        _note_dropped(cat, [g for g in candidates if g not in chosen], results, failing)
    else:
        empty = [g for g in candidates if set(cat.expand([g])) <= set(by_design)]
        if failing or empty:
            bad = list(failing) + [c for g in empty for c in cat.expand([g]) if c not in failing]
            reasons = sorted({(results[c].reason or results[c].status).rstrip(".") for c in bad})
            others = [g for g in cat.groups if g not in candidates] or list(cat.groups)
            _, all_by_design, all_failing = _classify(cat, others, platforms, backend)
            available = [g for g in others if _usable(cat, g, all_by_design, all_failing)]
            raise EnvironmentProblem(
                f"counters not available here: {', '.join(bad)} ({'; '.join(reasons)}); "
                f"groups available on this host: {', '.join(available) or 'none'} (see 'pmcsuite check')")
        chosen = candidates
    skipped = {c: by_design[c] for g in chosen for c in cat.expand([g]) if c in by_design}
    return chosen, skipped


def _note_dropped(cat, dropped, results, failing) -> None:
    """Say on stderr which default groups are not counted here, and why (one line)."""
    if not dropped:
        return
    why: dict[str, list[str]] = {}
    for group in dropped:
        statuses = sorted({results[c].status for c in cat.expand([group]) if c in failing})
        reason = ", ".join(s.replace("_", " ") for s in statuses) or "no event on this platform"
        why.setdefault(reason, []).append(group)
    parts = "; ".join(f"{', '.join(groups)} ({reason})" for reason, groups in why.items())
    missing = {results[c].reason for c in failing if results[c].status == "tool_missing"}
    if len(dropped) == len(cat.groups):
        print(f"pmcsuite: warning: no counter can be counted here, measuring bandwidth only: {parts}"
              f"{'; ' + '; '.join(sorted(missing)) if missing else ''} (see 'pmcsuite check')", file=sys.stderr)
    else:
        print(f"pmcsuite: note: not counting {parts} (see 'pmcsuite check')", file=sys.stderr)


def in_process(backends) -> bool:
    """True when every backend runs several iterations in one benchmark process (inproc, none)."""
    return all(getattr(get_backend(b), "iterations", False) for b in backends)


def plan_settings(counters=None, ipcs=None, sizes=None, runs=None, warmup=None, total="16M",
                  actors="2thread", placement="same", backend="auto", platform=None, seed=1,
                  quick=False, catalogue=(), timeout=120.0, force=False, processes=None,
                  points_per_process=None, target_ci=None, max_runs=None, target=None):
    """Resolve the user's options into Settings (pure apart from the counter check). With a remote
    ``target`` (remote.SshTarget, prepared: its benchmark copied there) the platform, the backends
    and the counter check are the target's."""
    defaults = QUICK if quick else DEFAULT
    explicit_backend = backend not in (None, "auto")
    ipcs = name_list(ipcs, "--ipc", "pipe,local") or list(REFERENCE_IPCS)
    sizes = parse_sizes(sizes if sizes is not None else defaults["sizes"])
    runs = runs if runs is not None else defaults["runs"]
    warmup = warmup if warmup is not None else defaults["warmup"]
    backends = (_remote_backends(backend, target) if target is not None
                else resolve_backends(backend))   # Linux ["inproc"]; FreeBSD ["pmcstat", "dtrace"]; none: []
    if in_process(backends):
        # as many processes as the default that still give each one a measured iteration
        processes = processes if processes is not None else max(1, min(defaults["processes"], runs // (warmup + 1)))
        points_per_process = points_per_process if points_per_process is not None else defaults["points_per_process"]
    elif processes is not None or points_per_process not in (None, 1):
        raise PmcsuiteError(f"--processes/--points-per-process: backend {','.join(backends)} starts a tool around "
                            "every run, one process per run; several runs per process need --backend inproc (or none)")
    else:
        points_per_process = 1
    if isinstance(points_per_process, bool) or not isinstance(points_per_process, int) or points_per_process < 1:
        raise PmcsuiteError(f"--points-per-process {points_per_process}: give a whole number >= 1")
    total_size = parse_size(total)
    _validate(ipcs, sizes, runs, warmup, total_size, actors, placement, processes)
    target_ci, max_runs = _check_target(target_ci, max_runs, runs)
    timeout = _check_timeout(timeout)
    cat = load_catalogue([Path(c) for c in catalogue])
    platforms = _target_platforms(cat, target) if target is not None and platform is None \
        else resolve_platforms(cat, platform)
    backend = ",".join(backends) or "none"
    requested = name_list(counters, "--counters", "syscalls,faults")
    if requested and not backends:
        raise PmcsuiteError("--backend none counts nothing: drop --counters or choose a counter backend")
    if target is not None:
        _check_target_tools(target, backends)
    probing = [_target_backend(name, target) for name in backends] if target is not None else backends
    groups, skipped = choose_groups(cat, requested, platforms, probing) if backends else ([], {})
    if backends and not groups and explicit_backend:
        raise EnvironmentProblem(f"--backend {backend}: none of its counters can be counted here (see 'pmcsuite check "
                                 f"--backend {backend}'); choose another backend, or --backend none for bandwidth only")
    return cat, Settings(ipcs=ipcs, sizes=sizes, runs=runs, warmup=warmup, total_size=total_size,
                         actors=actors, placement=placement, backend=backend, platforms=platforms,
                         groups=groups, skipped=skipped, seed=seed, timeout=timeout,
                         catalogue_files=[str(Path(c).resolve()) for c in catalogue], force=force,
                         processes=processes, points_per_process=points_per_process,
                         target_ci=target_ci, max_runs=max_runs)


#: the backends that run on a remote target: the benchmark counting itself, or a tool there wrapping it
REMOTE_BACKENDS = ("inproc", "pmcstat", "dtrace")


def _remote_backends(backend, target) -> list[str]:
    """--backend for a remote target: "auto" means the target OS's (OS_BACKENDS: inproc on Linux,
    pmcstat and dtrace on FreeBSD); perf is not run there (in-process counting counts on a Linux
    target everything perf stat would)."""
    from .backends import OS_BACKENDS
    from ..options import name_list
    names = name_list(backend, "--backend", "auto, inproc, pmcstat,dtrace or none") or ["auto"]
    if names == ["auto"]:
        system, _ = target.uname()
        if system not in OS_BACKENDS:
            raise EnvironmentProblem(f"{target.name} runs {system}: pmcsuite counts on Linux and FreeBSD targets; use "
                                     "--backend none for bandwidth only")
        return list(OS_BACKENDS[system])
    names = resolve_backends(names)          # none: []; each name checked
    for name in names:
        if name not in REMOTE_BACKENDS:
            raise PmcsuiteError(f"--backend {name} with --host: on a remote target the benchmark counts itself "
                                "(--backend inproc, the default on Linux, counts everything perf stat would) or "
                                "pmcstat/dtrace run there (FreeBSD); perf stays a local cross-check")
    return names


def _check_target_tools(target, names) -> None:
    """Every counting tool of ``names`` is on the target, else one line naming the host and what to
    install there (exit 3), before the sweep starts."""
    from .backends import ToolBackend
    for name in names:
        backend = _target_backend(name, target)
        if isinstance(backend, ToolBackend):
            ok, why = backend.available()
            if not ok:
                raise EnvironmentProblem(why)


def check_target(host: str, ssh_command: str | None = None, counters=None, backend="auto", platform=None,
                 catalogue=(), target_cc: str | None = None) -> tuple[list[str], list[str], list]:
    """``pmcsuite check --host``: what a remote target can count, asked there as ``collect --host``
    would (its benchmark copied over, its platform from its own /proc/cpuinfo, its tools): (platforms,
    backend names, ``availability.CheckResult`` per counter). Takes no sweep lock."""
    from .check import check
    from .remote import make_target
    cat = load_catalogue([Path(c) for c in catalogue])
    target = make_target(host, ssh_command)
    try:
        target.connect()
        target.prepare(target_cc)
        platforms = _target_platforms(cat, target) if platform is None else resolve_platforms(cat, platform)
        names = _remote_backends(backend, target)
        _check_target_tools(target, names)
        results = check(cat, name_list(counters, "--counters", "syscalls,faults"), platforms,
                        [_target_backend(name, target) for name in names])
        return platforms, names, results
    finally:
        target.close()


def _target_platforms(cat, target) -> list[str]:
    """The target's platforms, from its own /proc/cpuinfo and uname (hostinfo.match_platforms)."""
    from .hostinfo import Uname, match_platforms
    system, machine = target.uname()
    sysctl = {"hw.model": (target.read_command(["sysctl", "-n", "hw.model"]) or "").strip()} \
        if system == "FreeBSD" else {}
    platforms, _ = match_platforms(cat, target.read("/proc/cpuinfo") or "", Uname(system, machine), sysctl)
    return platforms


def _target_backend(name: str, target):
    """The backend object ``name`` running ipcbench through ``target`` (None: this machine)."""
    if target is None:
        return get_backend(name)
    if name in target.backends:
        return target.backends[name]
    if name == "inproc":
        from .backends.inproc import InprocBackend
        system, _ = target.uname()
        found = InprocBackend(exe=target.exe, system=system, runner=target.run,
                              perf_events=target.read("/proc/sys/kernel/perf_event_paranoid") is not None)
    elif name == "none":
        from .backends import NoneBackend
        found = NoneBackend(runner=target.run)
    elif name in REMOTE_BACKENDS:            # the tool runs there, wrapping the benchmark there
        found = get_backend(name, target=target)
    else:
        raise PmcsuiteError(f"backend {name} does not run on a remote target")
    target.backends[name] = found
    return found


def _sanity(bench: dict, counters: dict, total: int, size: int, scope) -> list[str]:
    warnings = []
    if not bench.get("bytes_ok", False):
        warnings.append("not every byte arrived intact")
    expected = total // size
    if bench.get("writes") is not None and bench["writes"] < expected:
        warnings.append(f"benchmark counted {bench['writes']} writes, fewer than total/buffer = {expected}")
    for cid, own in (("syscalls_write", "writes"), ("syscalls_read", "reads")):
        counted = counters.get(cid)
        if not counted or counted.get("status") != "ok" or bench.get(own) is None:
            continue
        if cid == "syscalls_write" and counted["value"] < expected:
            warnings.append(f"{counted['value']:.0f} write calls counted, fewer than total/buffer = {expected}")
        if scope == "actors" and counted["value"] != bench[own]:   # in-process counts are exact
            warnings.append(f"{cid} counted {counted['value']:.0f} calls but the benchmark made {bench[own]}")
    return warnings


def _scope(bench: dict, pass_) -> str | None:
    """What the counts of a run cover (schema.SCOPES): nothing for the baseline, else what the
    benchmark says it bracketed ('actors' in-process, 'loop' under perf --control), else the process."""
    if pass_ is None:
        return None
    return {"actors": "actors", "loop": "loop"}.get(bench.get("counting"), "process")


def run_batch(batch, settings: Settings, exe: Path, cat=None, target=None) -> list[dict]:
    """Run one benchmark process: the jobs of ``batch`` (one variant; several cells with in-process
    counting, each its iterations in a row). Returns the records to store, one per iteration, or one
    with ok=False and a one-line error when the process failed (its runs are kept whole or not at all)."""
    several = settings.processes is not None
    first, pass_ = batch[0], batch[0].pass_
    remote = target is not None
    if several:       # on a target the benchmark samples the machine's load itself (--load)
        argv = bench_points_argv(exe, [(j.ipc, j.size, j.iterations) for j in batch], settings.total_size,
                                 settings.actors, settings.placement, force=settings.force, load=remote)
    else:
        argv = bench_argv(exe, first.ipc, first.size, settings.total_size, settings.actors, settings.placement,
                          force=settings.force, load=remote)
    backend = _target_backend(pass_.backend if pass_ else "none", target)
    events = pass_.events if pass_ else {}
    common = dict(actors=settings.actors, placement=settings.placement, total_size=settings.total_size,
                  variant=first.variant, backend=backend.name, process=first.process, started=_now())
    # the machine's load around the process: here, read before and after it with this process's and
    # its children's CPU time as ours; on a target, sampled by the benchmark itself (ipcbench
    # --load) around its iterations, with the CPU time it reports as ours
    if not remote:
        others_before, before, own_before = runnable_others(), cpu_times(), own_cpu_time()
    try:
        results = (backend.run_iterations(events, argv, settings.timeout) if several
                   else [backend.run(events, argv, settings.timeout)])
        expected = [(j, i) for j in batch for i in range(j.iterations)]
        if len(results) != len(expected):
            raise PmcsuiteError(f"the benchmark printed {len(results)} results for {len(expected)} iterations")
        for (job, _), (bench, _) in zip(expected, results):
            if (bench.get("ipc"), bench.get("buffer_size")) != (job.ipc, job.size):
                raise PmcsuiteError(f"the benchmark's results are out of order: {bench.get('ipc')} "
                                    f"{bench.get('buffer_size')} where {job.ipc} {job.size} was due")
    except PmcsuiteError as exc:
        from .remote import LinkLost
        if isinstance(exc, LinkLost):      # not the benchmark's failure: nothing is stored, resume runs it
            raise
        return [RunRecord(**common, ipc=first.ipc, buffer_size=first.size, iterations=first.iterations,
                          run=first.first_run, iteration=None, ok=False, error=str(exc)).to_json()]
    if remote:
        before, after, others = benchmark_load([bench for bench, _ in results])
        busy = {"other_cpu_frac": other_cpu_fraction(before, after, _benchmark_cpu_seconds(results), cpus=target.cpus),
                "runnable_others": others}
    else:
        after, own_after, others_after = cpu_times(), own_cpu_time(), runnable_others()
        busy = {"other_cpu_frac": other_cpu_fraction(before, after, own_after - own_before),
                "runnable_others": None if None in (others_before, others_after) else min(others_before, others_after)}
    records = []
    for (job, iteration), (bench, values) in zip(expected, results):
        bench = {k: v for k, v in bench.items() if k != "counters"}     # stored apart, as counters
        counters = {v.counter: v.to_dict() for v in flag_silent_zeros(values, cat)}
        scope = _scope(bench, pass_)
        # warm-ups: the first iterations of each cell in every process, or the first processes of
        # a cell when each runs once
        warmup = (iteration if several else job.first_run) < settings.warmup
        records.append(RunRecord(
            **common, ipc=job.ipc, buffer_size=job.size, iterations=job.iterations,
            run=job.first_run + iteration, iteration=iteration, warmup=warmup, scope=scope,
            ok=True, bench=bench, counters=counters, busy=busy,
            warnings=_sanity(bench, counters, settings.total_size, job.size, scope)).to_json())
    return records


def _metadata(cat, settings: Settings, passes, command_line, exe_info, target=None) -> dict:
    if target is not None:       # provenance read on the target; the workstation's tools did not run there
        host = target.metadata()
        tools = {name: _target_backend(name, target).version() for name in backend_names(settings.backend)
                 if name not in ("inproc", "none")}          # pmcstat, dtrace there
        tools["ipcbench"] = exe_info
    else:
        host = host_metadata()
        tools = {**tool_versions([*backend_names(settings.backend), "cc"]), "ipcbench": exe_info}
    return {
        "pmcsuite_version": __version__,
        "created": _now(),
        "command_line": list(command_line or sys.argv),
        "seed": settings.seed,
        "source": "collect",
        "host": host,
        "tag": settings.tag,
        "platform": settings.platforms,
        "backend": settings.backend,
        "tools": tools,
        "catalogue": cat.metadata(),     # version, sha256, sources + the snapshot analysis reads
        "plan": {"ipc": settings.ipcs, "sizes": settings.sizes, "runs": settings.runs,
                 "warmup": settings.warmup, "processes": settings.processes,
                 "points_per_process": settings.points_per_process, "total_size": settings.total_size, "actors": settings.actors,
                 "placement": settings.placement, "force": settings.force, "groups": settings.groups,
                 "skipped_counters": settings.skipped,
                 "passes": [p.metadata() for p in passes]},
        "settings": settings.to_dict(),
    }


class _ProgressLines:
    """Progress where stderr is not a terminal (CI logs, ``| tee``): one line every ``every`` seconds
    and one at the end, with the rate so far and an estimate of the time left."""

    def __init__(self, total: int, every: float = 10.0, stream=None):
        self.total, self.done, self.every = total, 0, every
        self.stream = stream or sys.stderr
        self.start = self.last = time.monotonic()
        self.what = ""

    def set_description(self, text: str) -> None:
        self.what = text

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self._line(now)

    def _line(self, now: float) -> None:
        elapsed = now - self.start
        left = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
        eta = f", about {left:.0f} s left" if self.done < self.total and left == left else ""
        print(f"pmcsuite: {self.done}/{self.total} runs ({self.done / max(self.total, 1):.0%}), {elapsed:.0f} s"
              f"{eta}; now {self.what}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.done:
            self._line(time.monotonic())


def _progress(total: int, enabled: bool):
    """A tqdm bar (rate and ETA) on a terminal, periodic one-line updates elsewhere, or nothing."""
    from tqdm import tqdm
    if not enabled:
        return tqdm(total=total, disable=True)
    if not sys.stderr.isatty():
        return _ProgressLines(total)
    return tqdm(total=total, unit="run", dynamic_ncols=True, file=sys.stderr)


def collect(out=None, counters=None, ipcs=None, sizes=None, runs=None, warmup=None, total="16M",
            actors="2thread", placement="same", backend="auto", platform=None, seed=1, quick=False,
            resume=None, catalogue=(), timeout=None, progress=True, command_line=None, force=False,
            processes=None, points_per_process=None, target_ci=None, max_runs=None, host=None,
            ssh_command=None, tag=None, target_cc=None, _targets=None) -> Path:
    """Run the sweep and return the result directory. ``resume=DIR`` finishes what DIR is missing,
    with the settings stored there (only ``timeout`` and ``ssh_command`` may be given again: a hang
    may need more time, a target a new way in); ``timeout`` defaults to 120 s per run.

    ``host="[user@]host[:port]"`` runs the sweep on that machine over SSH (``ssh_command``: the ssh
    command line to use, default ``ssh``; ``target_cc``: build the benchmark there with its own
    compiler instead of cross-compiling it here). Several hosts (a list) run one sweep each, in
    parallel, into ``out/<host>``, and ``out`` is returned. ``tag``: a label stored in metadata.json."""
    hosts = _host_list(host)
    if len(hosts) > 1 or (resume and _is_fleet(resume)):
        return _collect_hosts(hosts, out, resume, dict(
            counters=counters, ipcs=ipcs, sizes=sizes, runs=runs, warmup=warmup, total=total, actors=actors,
            placement=placement, backend=backend, platform=platform, seed=seed, quick=quick, catalogue=catalogue,
            timeout=timeout, command_line=command_line, force=force, processes=processes,
            points_per_process=points_per_process, target_ci=target_ci, max_runs=max_runs,
            ssh_command=ssh_command, tag=tag, target_cc=target_cc))
    stores: list[ResultStore] = []      # the store _collect opened, so that its lock is released
    targets = _targets if _targets is not None else []   # the SSH target, closed at the end
    try:
        return _collect(stores, out, counters, ipcs, sizes, runs, warmup, total, actors, placement, backend,
                        platform, seed, quick, resume, catalogue, timeout, progress, command_line, force,
                        processes, points_per_process, target_ci, max_runs,
                        remote=dict(host=hosts[0] if hosts else None, ssh_command=ssh_command, tag=tag,
                                    target_cc=target_cc, targets=targets))
    finally:
        for target in targets:
            target.close()
        for store in stores:
            store.unlock()


def _host_list(host) -> list[str]:
    """``host``: None, one spelling, or a list; duplicates (the same spelling twice) dropped."""
    if host is None:
        return []
    items = [host] if isinstance(host, str) else list(host)
    out = []
    for item in items:
        item = str(item).strip()
        if not item:
            raise PmcsuiteError("--host is empty: give [user@]host[:port]")
        if item not in out:
            out.append(item)
    return out


def read_hosts_file(path) -> list[str]:
    """``--hosts FILE``: one [user@]host[:port] a line; blank lines and ``#`` comments skipped."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise PmcsuiteError(f"--hosts {path}: {exc.strerror}") from None
    hosts = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    hosts = [h for h in hosts if h]
    if not hosts:
        raise PmcsuiteError(f"--hosts {path} names no host: one [user@]host[:port] per line")
    return hosts


def _is_fleet(directory) -> bool:
    """A directory of per-host result directories (what several --host write), not one itself."""
    d = Path(directory)
    return not (d / "metadata.json").exists() and any(d.glob("*/metadata.json"))


def _collect_hosts(hosts, out, resume, options) -> Path:
    """One sweep per host, in parallel threads, each into OUT/<host>; the result directories of the
    hosts that finished are kept whatever the others do. Resuming OUT resumes each unfinished one."""
    import threading
    from .remote import host_dirname, parse_host
    if resume:
        root = Path(resume)
        jobs = [(json.loads((d / "metadata.json").read_text()).get("settings", {}).get("host") or d.name,
                 dict(resume=d)) for d in sorted(p.parent for p in root.glob("*/metadata.json"))]
        keep = {"timeout", "ssh_command", "command_line"}
        options = {k: v for k, v in options.items() if k in keep}
    else:
        for h in hosts:
            parse_host(h)
        root = Path(out) if out else _default_out()
        names = [host_dirname(h) for h in hosts]
        if len(set(names)) != len(names):
            raise PmcsuiteError(f"hosts {', '.join(hosts)} map to the same result directory name: spell them apart")
        ResultStore(root).ensure_new()
        jobs = [(h, dict(host=h, out=root / n)) for h, n in zip(hosts, names)]
    results: dict[str, object] = {}
    targets: dict[str, list] = {h: [] for h, _ in jobs}

    def one(name, extra):
        try:
            results[name] = collect(progress=False, _targets=targets[name], **options, **extra)
            print(f"pmcsuite: {name}: done, {results[name]}", file=sys.stderr, flush=True)
        except PmcsuiteError as exc:
            results[name] = exc
            print(f"pmcsuite: {name}: error: {exc}", file=sys.stderr, flush=True)
        except Exception as exc:                      # a bug in one sweep must not hide the others
            results[name] = PmcsuiteError(f"internal error: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=one, args=job, name=f"pmcsuite-{job[0]}") for job in jobs]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.2)
    except KeyboardInterrupt as exc:
        for held in targets.values():      # ends every remote benchmark (its session) and the sweeps with it
            for target in list(held):
                target.close()
        for t in threads:
            t.join(30)
        signum = getattr(exc, "signum", signal.SIGINT)
        raise Interrupted(f"interrupted ({signal.Signals(signum).name}): the runs so far are kept under {root}; "
                          f"'pmcsuite collect --resume {root}' finishes the rest", signum) from None
    failed = {h: r for h, r in results.items() if isinstance(r, PmcsuiteError)}
    if failed:
        kind = EnvironmentProblem if all(isinstance(e, EnvironmentProblem) for e in failed.values()) else PmcsuiteError
        done = len(results) - len(failed)
        raise kind(f"{len(failed)} of {len(results)} hosts failed ({'; '.join(f'{h}: {e}' for h, e in failed.items())}); "
                   f"{done} finished; 'pmcsuite collect --resume {root}' finishes the rest")
    return root


def _collect(stores, out=None, counters=None, ipcs=None, sizes=None, runs=None, warmup=None, total="16M",
            actors="2thread", placement="same", backend="auto", platform=None, seed=1, quick=False,
            resume=None, catalogue=(), timeout=None, progress=True, command_line=None, force=False,
            processes=None, points_per_process=None, target_ci=None, max_runs=None, remote=None) -> Path:
    """The body of :func:`collect`; ``stores`` receives the result store it opens, ``remote["targets"]``
    the SSH target."""
    from .remote import make_target
    remote = remote or {}
    target = exe = exe_info = None
    if resume:
        store = ResultStore(resume)
        stores.append(store)
        meta = store.read_metadata()
        next(store.iter_runs(), None)   # refuses a directory whose runs.jsonl is missing, before anything else
        store.lock()
        if meta.get("source") != "collect" or not isinstance(meta.get("settings"), dict):
            raise PmcsuiteError(f"{resume} was not made by 'pmcsuite collect' (no stored settings): nothing to resume")
        try:
            settings = Settings(**meta["settings"])
            settings.check()
            _validate(settings.ipcs, settings.sizes, settings.runs, settings.warmup, settings.total_size,
                      settings.actors, settings.placement, settings.processes)
            _check_timeout(settings.timeout)
        except (TypeError, ValueError, PmcsuiteError) as exc:
            raise PmcsuiteError(f"{store.metadata_path} has settings this pmcsuite cannot run ({exc}); restore "
                                "metadata.json, or collect again into a new directory") from None
        if timeout is not None:                 # the one thing a resume may change: a hang needs more time
            settings.timeout = _check_timeout(timeout)
        cat = load_catalogue([Path(c) for c in settings.catalogue_files])
        if cat.sha256 != meta["catalogue"]["sha256"]:
            print("pmcsuite: warning: the counter catalogue changed since this collection started",
                  file=sys.stderr)
        cut = store.drop_incomplete_tail()
        if cut:
            print(f"pmcsuite: warning: dropped the unfinished end of {store.runs_path} ({cut} line(s) of a "
                  "benchmark process cut off by the crash; it is run again)", file=sys.stderr)
        if remote.get("ssh_command"):           # a new way in (another key, port, jump host)
            if not settings.host:
                raise PmcsuiteError(f"--ssh-command: {resume} was collected on this machine, not over SSH")
            settings.ssh_command = remote["ssh_command"]
        if settings.host:                       # reconnect: same machine, same benchmark
            target = make_target(settings.host, settings.ssh_command)
            remote["targets"].append(target)
            exe, exe_info = _open_target(target, settings.target_cc)
            _same_machine(target, meta.get("host") or {}, resume)
            _check_target_tools(target, backend_names(settings.backend))
    else:
        out = out or _default_out()
        if remote.get("host"):
            store = ResultStore(out)
            store.ensure_new()      # before connecting, building and copying
            target = make_target(remote["host"], remote.get("ssh_command"))
            remote["targets"].append(target)
            exe, exe_info = _open_target(target, remote.get("target_cc"))
        elif remote.get("ssh_command") or remote.get("target_cc"):
            raise PmcsuiteError("--ssh-command and --target-cc go with --host: they say how to reach and build "
                                "for a remote target")
        cat, settings = plan_settings(counters, ipcs, sizes, runs, warmup, total, actors, placement,
                                      backend, platform, seed, quick, catalogue,
                                      120.0 if timeout is None else timeout, force, processes,
                                      points_per_process, target_ci, max_runs, target=target)
        settings.host, settings.ssh_command = remote.get("host"), remote.get("ssh_command")
        settings.tag, settings.target_cc = remote.get("tag"), remote.get("target_cc")
        store = ResultStore(out or _default_out())
        stores.append(store)
        store.ensure_new()          # before the benchmark is built and anything runs
    passes, unavailable = plan_counters(cat, settings.groups, settings.platforms, backend_names(settings.backend))
    if set(unavailable) - set(settings.skipped):   # the catalogue changed under a resumed collection
        raise PmcsuiteError(f"counters {', '.join(sorted(set(unavailable) - set(settings.skipped)))} have no event "
                            "here any more: restore the catalogue this collection started with")
    jobs = make_jobs(settings.ipcs, settings.sizes, settings.runs, passes, settings.seed,
                     processes=settings.processes, points_per_process=settings.points_per_process)
    if target is None:
        exe = build()
    if resume:
        jobs = remaining_jobs(jobs, _finished(record for _, record in store.iter_runs()))
        meta = store.read_metadata()
        meta.setdefault("resumes", []).append({"time": _now(), "command_line": list(command_line or sys.argv),
                                               "remaining": len(jobs), "timeout": settings.timeout})
        meta["settings"]["timeout"] = settings.timeout      # a raised timeout holds for later resumes too
        meta["settings"]["ssh_command"] = settings.ssh_command
        store.write_metadata({k: v for k, v in meta.items() if k not in ("format", "format_version")})
    else:
        store.lock()
        store.create(_metadata(cat, settings, passes, command_line, exe_info or build_info(), target))
    _execute(store, jobs, settings, exe, progress, cat, target)
    if settings.target_ci is not None:
        _adapt(store, settings, passes, exe, progress, cat, target)
    return store.dir


def _open_target(target, target_cc):
    """Connect to a remote target, take its sweep lock, put the benchmark there: (its path there,
    its build info)."""
    target.connect()
    target.lock()
    return target.prepare(target_cc)


def _same_machine(target, stored: dict, directory) -> None:
    """A resume must run on the machine the collection started on (its own uname says so)."""
    now = target.metadata()
    differ = [k for k in ("hostname", "os", "machine", "kernel") if stored.get(k) != now.get(k)]
    if differ:
        what = ", ".join(f"{k} {stored.get(k)!r} -> {now.get(k)!r}" for k in differ)
        raise PmcsuiteError(f"{target.name} is not the machine {directory} was collected on ({what}): collect "
                            "into a new directory instead")


def _finished(records) -> set[tuple]:
    """Keys of the benchmark processes whose every iteration is stored and ok."""
    done: dict[tuple, int] = {}
    expected: dict[tuple, int] = {}
    for r in records:
        if r.get("ok"):
            key = run_key(r)
            done[key] = done.get(key, 0) + 1
            expected[key] = r.get("iterations") or 1
    return {key for key, n in done.items() if n >= expected[key]}


def _more_runs(store: ResultStore, settings: Settings, passes, round_: int) -> list:
    """``--target-ci``: more benchmark processes for every cell whose level is not yet known within
    ±target % (95 % interval over its processes, ``analysis.precision``) and that has fewer than
    ``max_runs`` runs: as many whole processes (of the plan's size, warm-ups included; the last one
    smaller if ``max_runs`` says so) as its between-process spread needs (``precision.processes_wanted``),
    not one at a time; [] when every cell is there (or at its maximum). Process numbers go on after the
    stored ones, run numbers after each cell's; no process holds a cell twice; the processes are batched
    and shuffled like the plan's."""
    from ..analysis.precision import needs_runs, precision, processes_wanted
    from ..results.load import load
    df = load(store.dir)
    ok = df[df["ok"]]
    wide = needs_runs(precision(df), settings.target_ci)
    runs_in = ok.groupby(["ipc", "buffer_size", "variant"])["run"].agg(["count", "max"])
    several = settings.processes is not None
    # a process of the plan's size (warm-ups included), or one run per tool-wrapped process
    share = max(split_runs(settings.runs, settings.processes)) if several else 1
    smallest = settings.warmup + 1 if several else 1
    by_name = {p.name: p for p in passes}
    rounds: dict[tuple, list] = {}        # (variant, k): the cells' k-th added process
    for cell in wide.itertuples(index=False):
        key = (cell.ipc, int(cell.buffer_size), cell.variant)
        count, last = runs_in.loc[key] if key in runs_in.index else (0, -1)
        more = processes_wanted(cell.n_processes, cell.half_width_pct, settings.target_ci) - int(cell.n_processes)
        room, first = settings.max_runs - int(count), int(last) + 1
        for k in range(max(more, 1)):
            iterations = min(share, room)
            if iterations < smallest:
                break
            rounds.setdefault((key[2], k), []).append((key, first, iterations))
            room, first = room - iterations, first + iterations
    if not rounds:
        return []
    groups = shuffled_processes([rounds[k] for k in sorted(rounds)], settings.points_per_process,
                                random.Random(f"{settings.seed}-more-{round_}"))
    process = int(df["process"].max()) + 1 if df["process"].notna().any() else 0
    jobs = []
    for members in groups:
        for (ipc, size, variant), first_run, iterations in members:
            jobs.append(Job(ipc, size, variant, process, iterations, first_run, by_name.get(variant)))
        process += 1
    return jobs


def _adapt(store: ResultStore, settings: Settings, passes, exe: Path, progress: bool, cat, target=None) -> None:
    """Add runs round by round until every cell meets ``--target-ci`` or has ``max_runs`` runs."""
    for round_ in range(10_000):
        jobs = _more_runs(store, settings, passes, round_)
        if not jobs:
            return
        _execute(store, jobs, settings, exe, progress, cat, target)


def _default_out() -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("results") / f"collect-{stamp}"


def _benchmark_cpu_seconds(results) -> float:
    """User + system CPU time the benchmark reported for its iterations (its actors' getrusage)."""
    total = 0
    for bench, _ in results:
        rusage = bench.get("rusage") or {}
        total += (rusage.get("utime_ns") or 0) + (rusage.get("stime_ns") or 0)
    return total / 1e9


def _execute(store: ResultStore, jobs, settings: Settings, exe: Path, progress: bool, cat=None, target=None) -> Path:
    bar = _progress(sum(job.iterations for job in jobs), progress)
    seq = sum(1 for _ in store.iter_runs())   # seq goes on from the runs a resumed directory holds
    try:
        for batch in batches(jobs):
            job = batch[0]
            points = ", ".join(f"{j.ipc} {format_size(j.size)}" for j in batch)
            bar.set_description(f"{job.variant}: {points}"[:60])
            try:
                records = (run_batch(batch, settings, exe, cat) if target is None    # (tests replace run_batch)
                           else run_batch(batch, settings, exe, cat, target))
            except PmcsuiteError as exc:
                from .remote import LinkLost
                if not isinstance(exc, LinkLost):
                    raise
                raise LinkLost(f"{exc.what} during {job.variant} process {job.process} ({points}): check the "
                               f"network and the target; the {seq} runs stored before it are kept in {store.dir}; "
                               f"'pmcsuite collect --resume {store.dir}' reconnects and finishes") from None
            for record in records:
                record["seq"], seq = seq, seq + 1
            store.append_runs(records)
            bar.update(sum(j.iterations for j in batch))
            if not records[0]["ok"]:
                raise PmcsuiteError(
                    f"{job.variant} process {job.process} ({points}) failed: {records[0]['error']} (the "
                    f"{seq - 1} runs stored before it are kept in {store.dir}; fix the cause, then "
                    f"'pmcsuite collect --resume {store.dir}')")
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        raise Interrupted(f"interrupted ({signal.Signals(signum).name}): the runs so far are kept in {store.dir}; "
                          f"'pmcsuite collect --resume {store.dir}' finishes the rest", signum) from None
    finally:
        bar.close()
    return store.dir


def summary_lines(directory) -> list[str]:
    """Plain-language summary of a collection: runs, failures, sanity warnings, shared-CPU runs."""
    runs = ResultStore(directory).read_runs()
    ok = [r for r in runs if r.get("ok")]
    lines = [f"{len(ok)} runs stored in {directory} ({len(runs) - len(ok)} failed)"]
    shared = [r for r in ok if shared_cpu(r.get("busy") or {})]
    if shared:
        lines.append(f"warning: {len(shared)} runs shared the CPU with other work (see the report's warnings); "
                     "their timings are suspect")
    warned = [r for r in ok if r.get("warnings")]
    if warned:
        first = warned[0]
        lines.append(f"warning: {len(warned)} runs failed a sanity check, e.g. {first['ipc']} "
                     f"{format_size(first['buffer_size'])} {first['variant']}: {first['warnings'][0]}")
    unsupported = sorted({f"{cid} ({c.get('status')})" for r in ok for cid, c in (r.get("counters") or {}).items()
                          if c.get("status") != "ok"})
    if unsupported:
        lines.append(f"warning: counters without a value: {', '.join(unsupported)}")
    return lines
