"""Counters -> passes (event sets that fit the PMU), and the sweep -> ordered list of jobs. Pure.

Passes. The requested groups (or bare counter ids) are expanded in order; a counter already
placed by an earlier group is not counted twice. Each counter gets the event of the first
platform (in the given order) that spells it for the backend; counters without one are
returned apart with the reason (``plan_counters``), never dropped silently. A pass holds events
of one platform and one kind only: hardware counters are never mixed with kernel software
events/tracepoints, whose probes would add to the hardware counts, and tracepoints (a probe on
every system call) are kept apart from software events (nearly free), so that the overhead
analysis measures each instrumentation's cost on its own. A group
whose counters span kinds is split into ``name.kind`` units (e.g. ``sched.tracepoint``). Whole groups
are packed first-fit into passes of at most ``slots`` events; a counter listed in the
platform's ``fixed`` (on a backend of ``fixed_on``) sits on a dedicated counter and takes no
slot; a group that alone needs more slots is split into ``name#1``, ``name#2``... Platforms
with ``slots: null`` (software) get everything in one pass. Nothing is ever multiplexed. The
profile's counters (kind ``sample``) share one sampling event: a pass of their own, never split.

Jobs. A job is what one benchmark process runs of one cell. For every (ipc, size) cell and
variant (the baseline, with no counters, and each pass), ``runs`` runs are spread over
``processes`` processes (as evenly as possible, the larger shares first): several iterations per
process with in-process counting, one run per process when ``processes`` is None (a tool such as
perf stat wraps each run). With in-process counting a benchmark process also runs the shares of
``points_per_process`` different cells of one variant in a row, so that what a process costs to
start (tracepoints are registered with the kernel per process: ~40 ms each on a VM) is paid once
for several points; no process holds two shares of one cell. The processes of every variant are
shuffled together with ``random.Random(seed)`` (points and variants stay interleaved), and the
cells within each process too. Processes are numbered in execution order over the whole sweep;
run numbers follow execution order within each cell, so a cell's first share holds its run 0.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from .errors import PmcsuiteError
from .schema import BASELINE, RunRecord


@dataclass
class Pass:
    name: str
    groups: list[str]
    counters: list[str]
    events: dict[str, str]                                 # counter id -> event spec
    platform: dict[str, str] = field(default_factory=dict)  # counter id -> platform name
    backend: str = ""                                       # the tool that counts this pass

    def metadata(self) -> dict:
        """The pass object of metadata.json ``plan.passes``."""
        return {"name": self.name, "groups": list(self.groups), "counters": list(self.counters),
                "events": dict(self.events), "platform": dict(self.platform), "backend": self.backend}


@dataclass
class Job:
    """The runs one benchmark process makes of one (ipc, size, variant) cell: ``iterations`` of them."""
    ipc: str
    size: int
    variant: str                  # "baseline" or the pass name
    process: int                  # the benchmark process, numbered in execution order over the sweep
    iterations: int = 1
    first_run: int = 0            # run number of its first iteration within the cell
    pass_: Pass | None = None

    @property
    def key(self) -> tuple:
        """(ipc, buffer_size, variant, process): what identifies a stored process (see ``run_key``)."""
        return (self.ipc, self.size, self.variant, self.process)


def run_key(record: dict) -> tuple:
    """The ``Job.key`` of a runs.jsonl record (one collection has one actors/placement); version 1
    records (one process per run) have their run number as process."""
    return RunRecord.from_json(record).key


def split_runs(runs: int, processes: int) -> list[int]:
    """Iterations per process: ``runs`` spread over ``processes`` as evenly as possible, larger first."""
    base, extra = divmod(runs, processes)
    return [base + (k < extra) for k in range(processes)]


@dataclass
class _Unit:
    name: str                     # group name (or counter id), '#k' suffix when split
    group: str
    platform: str
    kind: str                     # hardware, software or tracepoint
    backend: str
    counters: list[str]
    cost: int                     # slots needed


def backend_names(backends) -> list[str]:
    """"perf", "pmcstat,dtrace" or a list -> a list of backend names."""
    return [b.strip() for b in (backends.split(",") if isinstance(backends, str) else backends) if b.strip()]


def _units(cat, groups, platforms, backends):
    """Requested groups -> per-platform units of available counters, + unavailable reasons."""
    if isinstance(groups, str):
        groups = groups.split(",")
    units, unavailable, seen = [], {}, set()
    for raw in groups:
        name = str(raw).strip()
        if not name:
            continue
        members = cat.expand([name])
        by_place: dict[tuple[str, str, str], list[str]] = {}
        for cid in members:
            if cid in seen:
                continue
            seen.add(cid)
            found = cat.locate(cid, platforms, backends)
            if found is None:
                unavailable[cid] = cat.why_missing(cid, platforms, backends)
            else:
                by_place.setdefault((found[0], cat.counters[cid].kind, found[2]), []).append(cid)
        kinds = {kind for _, kind, _ in by_place}
        for (plat_name, kind, backend), cids in by_place.items():
            label = f"{name}.{kind}" if len(kinds) > 1 else name
            units.extend(_split(label, name, kind, backend, cids, cat.platforms[plat_name]))
    return units, unavailable


def _split(label, group, kind, backend, cids, plat) -> list[_Unit]:
    """One group's counters of one kind on one platform -> units that each fit the slots."""
    if kind == "sample":            # the profile's counters share one sampling event: never split
        return [_Unit(label, group, plat.name, kind, backend, cids, 0 if plat.slots is None else 1)]
    fixed = [c for c in cids if plat.is_fixed(c, backend)]
    free = [c for c in cids if c not in fixed]
    if plat.slots is None or len(free) <= plat.slots:
        return [_Unit(label, group, plat.name, kind, backend, cids, 0 if plat.slots is None else len(free))]
    chunks = [free[i:i + plat.slots] for i in range(0, len(free), plat.slots)]
    chunks[0] = [c for c in cids if c in fixed or c in chunks[0]]   # fixed ones ride with #1
    return [_Unit(f"{label}#{k}", group, plat.name, kind, backend, chunk, sum(1 for c in chunk if c not in fixed))
            for k, chunk in enumerate(chunks, 1)]


def plan_counters(cat, groups, platforms, backends) -> tuple[list[Pass], dict[str, str]]:
    """(passes, unavailable) where unavailable maps counter id -> why it has no event.

    ``backends``: one name, a comma-separated list or a list, in order of preference; each counter
    is counted by the first backend the catalogue spells it for, and a pass has one backend."""
    platforms, backends = list(platforms), backend_names(backends)
    units, unavailable = _units(cat, groups, platforms, backends)
    bins: list[list[_Unit]] = []
    for unit in units:
        slots = cat.platforms[unit.platform].slots
        for members in bins:
            same_kind = (members[0].platform, members[0].kind, members[0].backend) == \
                (unit.platform, unit.kind, unit.backend)
            if same_kind and (slots is None or sum(u.cost for u in members) + unit.cost <= slots):
                members.append(unit)
                break
        else:
            bins.append([unit])
    passes = []
    for members in bins:
        counters = [c for u in members for c in u.counters]
        backend = members[0].backend
        events = {c: cat.event_for(c, platforms, backend)[1] for c in counters}
        groups_in = []
        for u in members:
            if u.group not in groups_in:
                groups_in.append(u.group)
        passes.append(Pass("+".join(u.name for u in members), groups_in, counters, events,
                           {c: members[0].platform for c in counters}, backend))
    return passes, unavailable


def make_jobs(ipcs, sizes, runs: int, passes, seed, baseline: bool = True, processes: int | None = None,
              points_per_process: int = 1) -> list[Job]:
    """Every job of the sweep in execution order (see the module docstring); consecutive jobs with
    the same ``process`` number run in one benchmark process."""
    ipcs, sizes, passes = list(ipcs), list(sizes), list(passes)
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise PmcsuiteError(f"runs must be a positive integer, not {runs!r}; use --runs N")
    if processes is not None and (isinstance(processes, bool) or not isinstance(processes, int)
                                  or not 1 <= processes <= runs):
        raise PmcsuiteError(f"processes must be a whole number from 1 to runs ({runs}), not {processes!r}")
    if isinstance(points_per_process, bool) or not isinstance(points_per_process, int) or points_per_process < 1:
        raise PmcsuiteError(f"points per process must be a positive integer, not {points_per_process!r}")
    if processes is None and points_per_process != 1:
        raise PmcsuiteError("several points per process need several runs per process (in-process counting)")
    shares = split_runs(runs, processes) if processes else [1] * runs
    if not ipcs or not sizes:
        raise PmcsuiteError("the sweep is empty: give at least one IPC mode and one buffer size")
    names = [p.name for p in passes]
    if BASELINE in names or len(set(names)) != len(names):
        raise PmcsuiteError(f"pass names must be unique and not '{BASELINE}': {', '.join(names)}")
    variants: list[tuple[str, Pass | None]] = ([(BASELINE, None)] if baseline else []) + [(p.name, p) for p in passes]
    if not variants:
        raise PmcsuiteError("nothing to run: no baseline and no counter passes")
    cells = [(ipc, size) for ipc in ipcs for size in sizes]
    # a cell's k-th share goes to a process of "round" k: no process holds a cell twice, so every
    # cell's runs come from len(shares) different processes
    rounds = [[(name, pass_, ipc, size) for ipc, size in cells] for name, pass_ in variants for _ in shares]
    started: dict[tuple, int] = {}
    jobs = []
    for number, members in enumerate(shuffled_processes(rounds, points_per_process, random.Random(seed))):
        for name, pass_, ipc, size in members:
            cell = (ipc, size, name)
            k = started.get(cell, 0)
            started[cell] = k + 1
            jobs.append(Job(ipc, size, name, number, shares[k], sum(shares[:k]), pass_))
    return jobs


def shuffled_processes(groups, points_per_process: int, rng: random.Random) -> list[list]:
    """The members of each group (points that may share a benchmark process: one variant's) in a
    random order, cut into processes of ``points_per_process``; then all the processes in a random
    order. The plan and ``collect --target-ci``'s further rounds batch their points with it."""
    processes = []
    for group in groups:
        order = list(group)
        rng.shuffle(order)
        processes += [order[i:i + points_per_process] for i in range(0, len(order), points_per_process)]
    rng.shuffle(processes)
    return processes


def more_jobs(cells, passes, *, share: int, smallest: int, max_runs: int, points_per_process: int,
              first_process: int, rng: random.Random) -> list[Job]:
    """``collect --target-ci``'s next round: more benchmark processes for the cells that need them.

    ``cells``: ((ipc, size, variant), processes its spread still needs, runs stored, its last run
    number or -1). Each cell gets that many whole processes (at least one) of ``share`` iterations,
    warm-ups included, the last one smaller if ``max_runs`` says so, none under ``smallest``; [] when
    every cell is at its maximum. Run numbers go on after each cell's, process numbers from
    ``first_process``; no process holds a cell twice; the processes are batched and shuffled like
    the plan's (``shuffled_processes``)."""
    by_name = {p.name: p for p in passes}
    rounds: dict[tuple, list] = {}        # (variant, k): the cells' k-th added process
    for key, more, count, last in cells:
        room, first = max_runs - count, last + 1
        for k in range(max(more, 1)):
            iterations = min(share, room)
            if iterations < smallest:
                break
            rounds.setdefault((key[2], k), []).append((key, first, iterations))
            room, first = room - iterations, first + iterations
    if not rounds:
        return []
    jobs = []
    groups = shuffled_processes([rounds[k] for k in sorted(rounds)], points_per_process, rng)
    for process, members in enumerate(groups, first_process):
        for (ipc, size, variant), first_run, iterations in members:
            jobs.append(Job(ipc, size, variant, process, iterations, first_run, by_name.get(variant)))
    return jobs


def batches(jobs) -> list[list[Job]]:
    """Consecutive jobs of one benchmark process (the same ``process`` number) grouped, in order."""
    out: list[list[Job]] = []
    for job in jobs:
        if out and out[-1][0].process == job.process:
            out[-1].append(job)
        else:
            out.append([job])
    return out


def remaining_jobs(jobs, done_keys) -> list[Job]:
    """Jobs whose ``key`` is not in ``done_keys`` (e.g. ``{run_key(r) for r in runs if r['ok']}``),
    in the original order. A resumed cell keeps its run numbers: its warm-up is not repeated."""
    done = {tuple(k) for k in done_keys}
    return [job for job in jobs if job.key not in done]
