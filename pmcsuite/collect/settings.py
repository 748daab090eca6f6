"""What a sweep is: the user's request (``Request``), resolved once into ``Settings``, which
metadata.json stores so that ``--resume`` rebuilds the same sweep; the defaults and the checks.

``plan_settings`` is where the options become settings: the defaults filled in (``schema.DEFAULT_SWEEP``,
or ``QUICK_SWEEP`` with ``--quick``), every value checked in one line, the backends, platforms and counter
groups of this machine (or of the remote target) chosen, each counter opened for real first.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ..catalogue import load_catalogue
from ..errors import EnvironmentProblem, PmcsuiteError
from ..options import name_list
from ..schema import (
    ACTORS, DEFAULT_ACTORS, DEFAULT_PLACEMENT, DEFAULT_SWEEP, DEFAULT_TIMEOUT, DEFAULT_TOTAL, IPC_MODES, PLACEMENTS,
    QUICK_SWEEP, REFERENCE_IPCS)
from ..sizes import format_size, parse_size, parse_sizes
from .backends import get_backend, resolve_backends
from .groups import choose_groups
from .hostinfo import resolve_platforms
from .targets import check_target_tools, remote_backends, target_backend, target_platforms


@dataclass(frozen=True)
class Request:
    """What the user asked of ``pmcsuite collect`` (its options; ``pmcsuite.collect``'s keywords), as
    given: None leaves a value to the defaults. ``plan_settings`` resolves it into ``Settings``."""
    out: str | Path | None = None
    counters: str | list | None = None
    ipcs: str | list | None = None
    sizes: str | list | None = None
    runs: int | None = None
    warmup: int | None = None
    total: str | int = DEFAULT_TOTAL
    actors: str = DEFAULT_ACTORS
    placement: str = DEFAULT_PLACEMENT
    backend: str | list | None = "auto"
    platform: str | None = None
    seed: int = 1
    quick: bool = False
    resume: str | Path | None = None        # a result directory to finish, with its stored settings
    catalogue: tuple | list = ()            # extra counters.yaml files
    timeout: float | None = None            # None: DEFAULT_TIMEOUT (a resume: the stored one)
    progress: bool = True
    command_line: list | None = None        # stored in metadata.json (default: sys.argv)
    force: bool = False
    processes: int | None = None
    points_per_process: int | None = None
    target_ci: float | None = None
    max_runs: int | None = None
    host: str | list | None = None          # one [user@]host[:port], or several (one sweep each)
    ssh_command: str | None = None
    tag: str | None = None
    target_cc: str | None = None


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
    # the default groups lost here (their counters should open but did not) -> why, with the fix
    lost: dict = field(default_factory=dict)

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


#: the longest --timeout (a week): longer ones overflow the clocks a timeout is waited on
MAX_TIMEOUT = 7 * 24 * 3600
#: a verdict (compare, analysis.inference) needs at least this many measured processes a point
VERDICT_PROCESSES = 2


def check_timeout(timeout) -> float:
    """--timeout SECONDS: a number > 0 and at most MAX_TIMEOUT, as a float."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) \
            or not 0 < timeout <= MAX_TIMEOUT:
        raise PmcsuiteError(f"--timeout {timeout}: give the seconds after which a benchmark process counts as hung "
                            f"(a number > 0, at most {MAX_TIMEOUT} = a week)")
    return float(timeout)


def _check_counts(runs, warmup) -> None:
    """--runs N (>= 1) and --warmup N (>= 0): whole numbers, before anything divides by them."""
    for option, value, least in (("--runs", runs, 1), ("--warmup", warmup, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise PmcsuiteError(f"{option} {value}: give a whole number >= {least}")


def too_few_for_a_verdict(settings: Settings) -> str | None:
    """The warning for a sweep whose points get fewer measured processes than a verdict needs
    (VERDICT_PROCESSES), with the --runs that would give them; None when they get enough (or
    --target-ci adds processes until they are)."""
    runs, warmup, processes = settings.runs, settings.warmup, settings.processes
    measured = processes if processes is not None else runs - warmup
    if measured >= VERDICT_PROCESSES or settings.target_ci is not None:
        return None
    needed = VERDICT_PROCESSES * (warmup + 1) if processes is not None else warmup + VERDICT_PROCESSES
    return (f"--runs {runs} --warmup {warmup} gives each point {measured} measured process(es): too few for a "
            f"verdict (compare needs {VERDICT_PROCESSES} a point); use at least --runs {needed}"
            + (f" --processes {VERDICT_PROCESSES}" if processes is not None else ""))


def _check_target_ci(target_ci, max_runs, runs):
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
    """The sweep's shape: known IPC modes, actors and placement, runs that give every process a
    measured iteration, buffer sizes that divide the total."""
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


def stored_settings(stored: dict, where, timeout=None) -> Settings:
    """The settings a collection stored in metadata.json (``stored``), checked as a new sweep's are;
    PmcsuiteError naming ``where`` (the metadata.json) when this pmcsuite cannot run them.
    ``timeout`` (--timeout given on --resume) replaces the stored one."""
    if timeout is not None:
        stored = {**stored, "timeout": check_timeout(timeout)}
    try:
        settings = Settings(**stored)
        settings.check()
        _validate(settings.ipcs, settings.sizes, settings.runs, settings.warmup, settings.total_size,
                  settings.actors, settings.placement, settings.processes)
        check_timeout(settings.timeout)
    except (TypeError, ValueError, PmcsuiteError) as exc:
        raise PmcsuiteError(f"{where} has settings this pmcsuite cannot run ({exc}); restore "
                            "metadata.json, or collect again into a new directory") from None
    return settings


def _in_process(backends) -> bool:
    """True when every backend runs several iterations in one benchmark process (inproc, none)."""
    return all(getattr(get_backend(b), "iterations", False) for b in backends)


def _process_layout(request: Request, backends, defaults: dict, runs: int, warmup: int) -> tuple:
    """(processes per point and variant, points per process): several iterations a process with
    in-process counting, one run a process when a tool wraps each run."""
    processes, points_per_process = request.processes, request.points_per_process
    if _in_process(backends):
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
    return processes, points_per_process


def _counted_groups(request: Request, cat, platforms, backends, target) -> tuple[list, dict, dict]:
    """The counter groups to measure, the counters skipped by design and the groups lost here
    (``groups.choose_groups``), each counter opened for real with the backends (those of ``target``
    when there is one)."""
    backend = ",".join(backends) or "none"
    requested = name_list(request.counters, "--counters", "syscalls,faults")
    if requested and not backends:
        raise PmcsuiteError("--backend none counts nothing: drop --counters or choose a counter backend")
    if target is not None:
        check_target_tools(target, backends)
    probing = [target_backend(name, target) for name in backends] if target is not None else backends
    groups, skipped, lost = choose_groups(cat, requested, platforms, probing) if backends else ([], {}, {})
    if backends and not groups and request.backend not in (None, "auto"):
        raise EnvironmentProblem(f"--backend {backend}: none of its counters can be counted here (see 'pmcsuite check "
                                 f"--backend {backend}'); choose another backend, or --backend none for bandwidth only")
    return groups, skipped, lost


def plan_settings(request: Request, target=None):
    """Resolve the user's request into (catalogue, Settings) (pure apart from the counter check).
    With a remote ``target`` (targets.make_target's SshTarget, prepared: its benchmark copied
    there) the platform, the backends and the counter check are the target's."""
    defaults = QUICK_SWEEP if request.quick else DEFAULT_SWEEP
    ipcs = name_list(request.ipcs, "--ipc", "pipe,local") or list(REFERENCE_IPCS)
    sizes = parse_sizes(request.sizes if request.sizes is not None else defaults["sizes"])
    runs = request.runs if request.runs is not None else defaults["runs"]
    warmup = request.warmup if request.warmup is not None else defaults["warmup"]
    _check_counts(runs, warmup)
    backends = (remote_backends(request.backend, target) if target is not None
                else resolve_backends(request.backend))   # Linux ["inproc"]; FreeBSD ["pmcstat", "dtrace"]; none: []
    processes, points_per_process = _process_layout(request, backends, defaults, runs, warmup)
    total_size = parse_size(request.total)
    _validate(ipcs, sizes, runs, warmup, total_size, request.actors, request.placement, processes)
    target_ci, max_runs = _check_target_ci(request.target_ci, request.max_runs, runs)
    timeout = check_timeout(DEFAULT_TIMEOUT if request.timeout is None else request.timeout)
    cat = load_catalogue([Path(c) for c in request.catalogue])
    platforms = target_platforms(cat, target) if target is not None and request.platform is None \
        else resolve_platforms(cat, request.platform)
    groups, skipped, lost = _counted_groups(request, cat, platforms, backends, target)
    return cat, Settings(ipcs=ipcs, sizes=sizes, runs=runs, warmup=warmup, total_size=total_size,
                         actors=request.actors, placement=request.placement, backend=",".join(backends) or "none",
                         platforms=platforms, groups=groups, skipped=skipped, seed=request.seed, timeout=timeout,
                         catalogue_files=[str(Path(c).resolve()) for c in request.catalogue], force=request.force,
                         processes=processes, points_per_process=points_per_process,
                         target_ci=target_ci, max_runs=max_runs, host=request.host,
                         ssh_command=request.ssh_command, tag=request.tag, target_cc=request.target_cc, lost=lost)
