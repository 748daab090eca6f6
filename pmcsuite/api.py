"""The public API: the stages composed.

``collect`` runs a sweep: the request is resolved once into settings (``collect.settings``), the
result directory opened (``results.store``) or reopened to finish it (``--resume``: the settings
stored there), the jobs planned (``plan``) and run (``collect.sweep``); with ``--target-ci``, the
stored runs are loaded (``results.load``) and their precision (``analysis.precision``) decides round
by round which points get more processes (``plan.more_jobs``). Several hosts run in parallel
(``collect.hosts``), each such a sweep.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import random
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from .catalogue import load_catalogue
from .collect import sweep
from .collect.benchmark import build_info
from .collect.executable import verified_copy
from .collect.hosts import fleet_requests, host_list, is_fleet, resumed_requests, run_in_parallel
from .collect.settings import Request, Settings, plan_settings, stored_settings, too_few_for_a_verdict
from .collect.targets import check_target_tools, make_target, open_target, same_machine
from .errors import PmcsuiteError
from .plan import backend_names, more_jobs, remaining_jobs, split_runs
from .results.store import ResultStore
from .schema import DEFAULT_ACTORS, DEFAULT_PLACEMENT, DEFAULT_TOTAL, now


def collect(out=None, counters=None, ipcs=None, sizes=None, runs=None, warmup=None, total=DEFAULT_TOTAL,
            actors=DEFAULT_ACTORS, placement=DEFAULT_PLACEMENT, backend="auto", platform=None, seed=1, quick=False,
            resume=None, catalogue=(), timeout=None, progress=True, command_line=None, force=False,
            processes=None, points_per_process=None, target_ci=None, max_runs=None, host=None,
            ssh_command=None, tag=None, target_cc=None) -> Path:
    """Run the sweep and return the result directory. ``resume=DIR`` finishes what DIR is missing,
    with the settings stored there (only ``timeout``, ``ssh_command`` and ``target_cc`` may be given
    again: a hang may need more time, a target a new way in; the ssh command and target compiler
    stored there are never run: they must be given again); ``timeout`` defaults to 120 s per run.

    ``host="[user@]host[:port]"`` runs the sweep on that machine over SSH (``ssh_command``: the ssh
    command line to use, default ``ssh``; ``target_cc``: build the benchmark there with its own
    compiler instead of cross-compiling it here). Several hosts (a list) run one sweep each, in
    parallel, into ``out/<host>``, and ``out`` is returned. ``tag``: a label stored in metadata.json."""
    return collect_request(Request(
        out=out, counters=counters, ipcs=ipcs, sizes=sizes, runs=runs, warmup=warmup, total=total, actors=actors,
        placement=placement, backend=backend, platform=platform, seed=seed, quick=quick, resume=resume,
        catalogue=catalogue, timeout=timeout, progress=progress, command_line=command_line, force=force,
        processes=processes, points_per_process=points_per_process, target_ci=target_ci, max_runs=max_runs,
        host=host, ssh_command=ssh_command, tag=tag, target_cc=target_cc))


def collect_request(request: Request, targets: list | None = None) -> Path:
    """:func:`collect` of a ``Request`` (what ``pmcsuite collect`` builds from its options once);
    ``targets`` receives the SSH target opened (closed, and the store unlocked, at the end)."""
    hosts = host_list(request.host)
    if len(hosts) > 1 or (request.resume and is_fleet(request.resume)):
        return _collect_fleet(hosts, request)
    request = replace(request, host=hosts[0] if hosts else None)
    stores: list[ResultStore] = []      # the store opened, so that its lock is released
    targets = targets if targets is not None else []
    try:
        opened = _reopen(request, stores, targets) if request.resume else _open_new(request, stores, targets)
        return _run(opened, request)
    finally:
        for target in targets:
            target.close()
        for store in stores:
            store.unlock()


def default_out() -> Path:
    """results/collect-<local time>: where a collection goes without ``out``."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("results") / f"collect-{stamp}"


def _collect_fleet(hosts: list[str], request: Request) -> Path:
    """One sweep per host, in parallel, each into OUT/<host>; resuming OUT resumes each unfinished one."""
    if request.resume:
        root = Path(request.resume)
        jobs = resumed_requests(root, request)
    else:
        root = Path(request.out) if request.out else default_out()
        jobs = fleet_requests(hosts, root, request)
        ResultStore(root).ensure_new()
    return run_in_parallel(root, jobs, collect_request)


@dataclass
class _Opened:
    """A collection ready to run: its store, catalogue and settings, and on a remote target the
    target with the benchmark there (its path and build info; None: built here)."""
    store: ResultStore
    cat: object
    settings: Settings
    target: object = None
    exe: str | None = None
    exe_info: dict | None = None


def _open_new(request: Request, stores: list, targets: list) -> _Opened:
    """A new collection: the target opened (a remote one: connected, locked, the benchmark put
    there), the settings planned from the request, the result directory checked to be new."""
    out = request.out or default_out()
    target = exe = exe_info = None
    if request.host:
        ResultStore(out).ensure_new()      # before connecting, building and copying
        target = make_target(request.host, request.ssh_command)
        targets.append(target)
        exe, exe_info = open_target(target, request.target_cc)
    elif request.ssh_command or request.target_cc:
        raise PmcsuiteError("--ssh-command and --target-cc go with --host: they say how to reach and build "
                            "for a remote target")
    cat, settings = plan_settings(request, target)
    store = ResultStore(out)
    stores.append(store)
    store.ensure_new()          # before the benchmark is built and anything runs
    return _Opened(store, cat, settings, target, exe, exe_info)


def _reopen(request: Request, stores: list, targets: list) -> _Opened:
    """A collection to finish (``request.resume``): locked, its stored settings checked (only the
    timeout, the ssh command and the target compiler may change; the last two must be given again),
    a half-written tail dropped, its target reconnected."""
    store = ResultStore(request.resume)
    stores.append(store)
    meta = store.read_metadata()
    next(store.iter_runs(), None)   # refuses a directory whose runs.jsonl is missing, before anything else
    store.lock()
    if meta.get("source") != "collect" or not isinstance(meta.get("settings"), dict):
        raise PmcsuiteError(f"{request.resume} was not made by 'pmcsuite collect' (no stored settings): "
                            "nothing to resume")
    # a hang may need more time: a timeout given replaces the stored one (even one this pmcsuite refuses)
    settings = stored_settings(meta["settings"], store.metadata_path, request.timeout)
    cat = load_catalogue([Path(c) for c in settings.catalogue_files])
    if cat.sha256 != meta["catalogue"]["sha256"]:
        print("pmcsuite: warning: the counter catalogue changed since this collection started", file=sys.stderr)
    cut = store.drop_incomplete_tail()
    if cut:
        print(f"pmcsuite: warning: dropped the unfinished end of {store.runs_path} ({cut} line(s) of a "
              "benchmark process cut off by the crash; it is run again)", file=sys.stderr)
    _given_again(settings, request)
    opened = _Opened(store, cat, settings)
    if settings.host:                           # reconnect: same machine, same benchmark
        opened.target = make_target(settings.host, settings.ssh_command)
        targets.append(opened.target)
        opened.exe, opened.exe_info = open_target(opened.target, settings.target_cc)
        same_machine(opened.target, meta.get("host") or {}, request.resume)
        check_target_tools(opened.target, backend_names(settings.backend))
    return opened


def _given_again(settings: Settings, request: Request) -> None:
    """A resume never runs a command read from the result directory (someone else may have written
    it): the ssh command and target compiler stored there must be given again, and only what is given
    is used (a new way in, another key, port or jump host, is welcome)."""
    for option, name in (("--ssh-command", "ssh_command"), ("--target-cc", "target_cc")):
        stored, given = getattr(settings, name), getattr(request, name)
        if given and not settings.host:
            raise PmcsuiteError(f"{option}: {request.resume} was collected on this machine, not over SSH")
        if stored and not given:
            raise PmcsuiteError(f"{request.resume} was collected with {option} {stored!r}: --resume does not run a "
                                f"command read from a result directory; give {option} again (that one or another)")
        setattr(settings, name, given or None)


def _run(opened: _Opened, request: Request) -> Path:
    """Plan the jobs, store the metadata (a resume: note it, and keep only the jobs not finished),
    run them, then the ``--target-ci`` rounds. Built here, the benchmark runs from a private copy
    verified against its build record, held for the whole sweep (``executable.verified_copy``)."""
    store, settings = opened.store, opened.settings
    passes, jobs = sweep.plan_sweep(opened.cat, settings)
    with contextlib.ExitStack() as held:
        exe, exe_info = opened.exe, opened.exe_info
        if opened.target is None:
            exe_info = build_info()
            exe = held.enter_context(verified_copy(exe_info["path"], exe_info["sha256"]))
        runner = sweep.Runner(settings, exe, opened.cat, opened.target, request.progress)
        if request.resume:
            jobs = remaining_jobs(jobs, sweep.finished(record for _, record in store.iter_runs()))
            _note_resume(store, settings, len(jobs), request.command_line)
        else:
            store.lock()
            store.create(sweep.metadata(runner, passes, request.command_line, exe_info))
            if warning := too_few_for_a_verdict(settings):
                print(f"pmcsuite: warning: {warning}", file=sys.stderr)
        sweep.execute(store, jobs, runner)
        if settings.target_ci is not None:
            _adapt(store, runner, passes)
    return store.dir


def _note_resume(store: ResultStore, settings: Settings, remaining: int, command_line) -> None:
    """Add the resume to metadata.json (when, how, what was left); a raised timeout and the ssh
    command and target compiler given hold for later resumes too (which must give them again)."""
    meta = store.read_metadata()
    meta.setdefault("resumes", []).append({"time": now(), "command_line": list(command_line or sys.argv),
                                           "remaining": remaining, "timeout": settings.timeout})
    meta["settings"]["timeout"] = settings.timeout
    meta["settings"]["ssh_command"] = settings.ssh_command
    meta["settings"]["target_cc"] = settings.target_cc
    store.write_metadata({k: v for k, v in meta.items() if k not in ("format", "format_version")})


def _adapt(store: ResultStore, runner: sweep.Runner, passes) -> None:
    """Add runs round by round until every cell meets ``--target-ci`` or has ``max_runs`` runs."""
    for round_ in range(10_000):
        jobs = _more_runs(store, runner.settings, passes, round_)
        if not jobs:
            return
        sweep.execute(store, jobs, runner)


def _more_runs(store: ResultStore, settings: Settings, passes, round_: int) -> list:
    """``--target-ci``: more benchmark processes for every cell whose level is not yet known within
    ±target % (95 % interval over its processes, ``analysis.precision``) and that has fewer than
    ``max_runs`` runs: as many whole processes (of the plan's size, warm-ups included) as its
    between-process spread needs (``precision.processes_wanted``), not one at a time (``plan.more_jobs``);
    [] when every cell is there (or at its maximum)."""
    from .analysis.precision import needs_runs, precision, processes_wanted
    from .results.load import load
    df = load(store.dir)
    ok = df[df["ok"]]
    wide = needs_runs(precision(df), settings.target_ci)
    runs_in = ok.groupby(["ipc", "buffer_size", "variant"])["run"].agg(["count", "max"])
    cells = []
    for cell in wide.itertuples(index=False):
        key = (cell.ipc, int(cell.buffer_size), cell.variant)
        count, last = runs_in.loc[key] if key in runs_in.index else (0, -1)
        more = processes_wanted(cell.n_processes, cell.half_width_pct, settings.target_ci) - int(cell.n_processes)
        cells.append((key, more, int(count), int(last)))
    several = settings.processes is not None
    return more_jobs(
        cells, passes,
        # a process of the plan's size (warm-ups included), or one run per tool-wrapped process
        share=max(split_runs(settings.runs, settings.processes)) if several else 1,
        smallest=settings.warmup + 1 if several else 1, max_runs=settings.max_runs,
        points_per_process=settings.points_per_process,
        first_process=int(df["process"].max()) + 1 if df["process"].notna().any() else 0,
        rng=random.Random(f"{settings.seed}-more-{round_}"))
