"""``pmcsuite collect``: plan the sweep, run every job (baseline or one counter pass), store each run.

Flow: catalogue -> counters this host can count -> passes (slots) -> seeded job order ->
for each job: benchmark (wrapped in the counter backend, or bare for the baseline) -> sanity
checks -> one line appended to ``runs.jsonl`` as soon as the run ends.
"""
from __future__ import annotations

import datetime as _dt
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .backends import get_backend, resolve_backends
from .benchmark import build, build_info, bench_argv, IPC_MODES, ACTORS, PLACEMENTS
from .catalogue import load_catalogue
from .availability import check
from .errors import PmcsuiteError
from .hostinfo import (host_metadata, resolve_platforms, tool_versions, cpu_times, other_cpu_fraction,
                       own_cpu_time, runnable_others)
from .plan import backend_names, plan_counters, make_jobs, remaining_jobs, run_key
from .sizes import parse_size, parse_sizes, format_size
from .store import ResultStore
from .results import shared_cpu

REFERENCE_SIZES = "1K-16M"
REFERENCE_IPCS = ("pipe", "local", "local-s")
QUICK = {"sizes": "1K-1M", "runs": 5, "warmup": 1}   # 495 runs with the software passes: ~45 s here


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

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _check_timeout(timeout) -> float:
    if not timeout > 0:
        raise PmcsuiteError(f"--timeout {timeout:g}: give the seconds after which a run counts as hung (> 0)")
    return float(timeout)


def _validate(ipcs, sizes, runs, warmup, total, actors, placement):
    unknown = [i for i in ipcs if i not in IPC_MODES]
    if unknown:
        raise PmcsuiteError(f"unknown IPC mode {', '.join(unknown)}: choose from {', '.join(IPC_MODES)}")
    if actors not in ACTORS:
        raise PmcsuiteError(f"unknown actors {actors!r}: choose from {', '.join(ACTORS)}")
    if placement not in PLACEMENTS:
        raise PmcsuiteError(f"unknown placement {placement!r}: choose from {', '.join(PLACEMENTS)}")
    if runs < 1 or warmup < 0 or warmup >= runs:
        raise PmcsuiteError(f"--runs {runs} --warmup {warmup}: need runs >= 1 and 0 <= warmup < runs")
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
            raise PmcsuiteError(
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


def plan_settings(counters=None, ipcs=None, sizes=None, runs=None, warmup=None, total="16M",
                  actors="2thread", placement="same", backend="auto", platform=None, seed=1,
                  quick=False, catalogue=(), timeout=120.0, force=False):
    """Resolve the user's options into Settings (pure apart from the counter check)."""
    ipcs = list(ipcs) if ipcs else list(REFERENCE_IPCS)
    sizes = parse_sizes(sizes if sizes else (QUICK["sizes"] if quick else REFERENCE_SIZES))
    runs = runs if runs is not None else (QUICK["runs"] if quick else 11)
    warmup = warmup if warmup is not None else (QUICK["warmup"] if quick else 1)
    total_size = parse_size(total)
    _validate(ipcs, sizes, runs, warmup, total_size, actors, placement)
    timeout = _check_timeout(timeout)
    cat = load_catalogue([Path(c) for c in catalogue])
    platforms = resolve_platforms(cat, platform)
    backends = resolve_backends(backend)        # e.g. ["perf"]; FreeBSD: ["pmcstat", "dtrace"]; none: []
    backend = ",".join(backends) or "none"
    requested = [g.strip() for g in counters.split(",") if g.strip()] if isinstance(counters, str) else counters
    if requested and not backends:
        raise PmcsuiteError("--backend none counts nothing: drop --counters or choose a counter backend")
    groups, skipped = choose_groups(cat, requested, platforms, backends) if backends else ([], {})
    return cat, Settings(ipcs=ipcs, sizes=sizes, runs=runs, warmup=warmup, total_size=total_size,
                         actors=actors, placement=placement, backend=backend, platforms=platforms,
                         groups=groups, skipped=skipped, seed=seed, timeout=timeout,
                         catalogue_files=[str(Path(c).resolve()) for c in catalogue], force=force)


def _sanity(bench: dict, counters: dict, total: int, size: int) -> list[str]:
    warnings = []
    if not bench.get("bytes_ok", False):
        warnings.append("not every byte arrived intact")
    expected = total // size
    if bench.get("writes") is not None and bench["writes"] < expected:
        warnings.append(f"benchmark counted {bench['writes']} writes, fewer than total/buffer = {expected}")
    syscalls = counters.get("syscalls_write")
    if syscalls and syscalls.get("status") == "ok" and syscalls["value"] < expected:
        warnings.append(f"perf counted {syscalls['value']:.0f} write calls, fewer than total/buffer = {expected}")
    return warnings


def run_job(job, settings: Settings, exe: Path) -> dict:
    """Run one job; returns the record to store (ok=False with a one-line error if it failed)."""
    argv = bench_argv(exe, job.ipc, job.size, settings.total_size, settings.actors, settings.placement,
                      force=settings.force)
    pass_ = job.pass_
    backend = get_backend(pass_.backend if pass_ else "none")
    record = {
        "ipc": job.ipc, "actors": settings.actors, "placement": settings.placement,
        "buffer_size": job.size, "total_size": settings.total_size,
        "run": job.run, "warmup": job.run < settings.warmup, "variant": job.variant,
        "backend": backend.name, "scope": None, "started": _now(),
    }
    others_before, before, own_before = runnable_others(), cpu_times(), own_cpu_time()
    try:
        bench, values = backend.run(pass_.events if pass_ else {}, argv, settings.timeout)
    except PmcsuiteError as exc:
        record.update(ok=False, error=str(exc), bench=None, counters={}, busy=None, warnings=[])
        return record
    after, own_after, others_after = cpu_times(), own_cpu_time(), runnable_others()
    counters = {v.counter: v.to_dict() for v in values}
    record.update(
        ok=True, error=None, bench=bench, counters=counters,
        # loop-only when the benchmark itself switched counting on and off, else the whole process
        scope=("loop" if bench.get("counting") == "loop" else "process") if pass_ else None,
        busy={"other_cpu_frac": other_cpu_fraction(before, after, own_after - own_before),
              "runnable_others": None if None in (others_before, others_after) else min(others_before, others_after)},
        warnings=_sanity(bench, counters, settings.total_size, job.size))
    return record


def _metadata(cat, settings: Settings, passes, command_line, exe_info) -> dict:
    return {
        "pmcsuite_version": __version__,
        "created": _now(),
        "command_line": list(command_line or sys.argv),
        "seed": settings.seed,
        "source": "collect",
        "host": host_metadata(),
        "platform": settings.platforms,
        "backend": settings.backend,
        "tools": {**tool_versions([*backend_names(settings.backend), "cc"]), "ipcbench": exe_info},
        "catalogue": {"version": cat.version, "sha256": cat.sha256, "sources": [str(s) for s in cat.sources]},
        "plan": {"ipc": settings.ipcs, "sizes": settings.sizes, "runs": settings.runs,
                 "warmup": settings.warmup, "total_size": settings.total_size, "actors": settings.actors,
                 "placement": settings.placement, "force": settings.force, "groups": settings.groups,
                 "skipped_counters": settings.skipped,
                 "passes": [p.metadata() for p in passes]},
        "settings": settings.to_dict(),
    }


def _progress(total: int, enabled: bool):
    from tqdm import tqdm  # progress bar with rate and ETA
    # disable=None: no bar when stderr is not a terminal (CI logs, pipes)
    return tqdm(total=total, disable=None if enabled else True, unit="run", dynamic_ncols=True, file=sys.stderr)


def collect(out=None, counters=None, ipcs=None, sizes=None, runs=None, warmup=None, total="16M",
            actors="2thread", placement="same", backend="auto", platform=None, seed=1, quick=False,
            resume=None, catalogue=(), timeout=None, progress=True, command_line=None, force=False) -> Path:
    """Run the sweep and return the result directory. ``resume=DIR`` finishes what DIR is missing,
    with the settings stored there (only ``timeout`` may be given again: a hang may need more);
    ``timeout`` defaults to 120 s per run."""
    if resume:
        store = ResultStore(resume)
        meta = store.read_metadata()
        if meta.get("source") != "collect" or not isinstance(meta.get("settings"), dict):
            raise PmcsuiteError(f"{resume} was not made by 'pmcsuite collect' (no stored settings): nothing to resume")
        try:
            settings = Settings(**meta["settings"])
        except TypeError as exc:
            raise PmcsuiteError(f"{store.metadata_path} has settings this pmcsuite cannot read ({exc}); "
                                "collect again into a new directory") from None
        if timeout is not None:                 # the one thing a resume may change: a hang needs more time
            settings.timeout = _check_timeout(timeout)
        cat = load_catalogue([Path(c) for c in settings.catalogue_files])
        if cat.sha256 != meta["catalogue"]["sha256"]:
            print("pmcsuite: warning: the counter catalogue changed since this collection started",
                  file=sys.stderr)
        if store.drop_incomplete_tail():
            print(f"pmcsuite: warning: dropped the unfinished last line of {store.runs_path} "
                  "(a run cut off by the crash; it is run again)", file=sys.stderr)
    else:
        cat, settings = plan_settings(counters, ipcs, sizes, runs, warmup, total, actors, placement,
                                      backend, platform, seed, quick, catalogue,
                                      120.0 if timeout is None else timeout, force)
        store = ResultStore(out or _default_out())
        store.ensure_new()          # before the benchmark is built and anything runs
    passes, unavailable = plan_counters(cat, settings.groups, settings.platforms, backend_names(settings.backend))
    if set(unavailable) - set(settings.skipped):   # the catalogue changed under a resumed collection
        raise PmcsuiteError(f"counters {', '.join(sorted(set(unavailable) - set(settings.skipped)))} have no event "
                            "here any more: restore the catalogue this collection started with")
    jobs = make_jobs(settings.ipcs, settings.sizes, settings.runs, passes, settings.seed)
    exe = build()
    if resume:
        done = {run_key(r) for r in store.read_runs() if r.get("ok")}
        jobs = remaining_jobs(jobs, done)
        meta = store.read_metadata()
        meta.setdefault("resumes", []).append({"time": _now(), "command_line": list(command_line or sys.argv),
                                               "remaining": len(jobs)})
        store.write_metadata({k: v for k, v in meta.items() if k not in ("format", "format_version")})
    else:
        store.create(_metadata(cat, settings, passes, command_line, build_info()))
    return _execute(store, jobs, settings, exe, progress)


def _default_out() -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("results") / f"collect-{stamp}"


def _execute(store: ResultStore, jobs, settings: Settings, exe: Path, progress: bool) -> Path:
    bar = _progress(len(jobs), progress)
    first = len(store.read_runs())   # seq goes on from the runs a resumed directory holds
    try:
        for seq, job in enumerate(jobs, first):
            bar.set_description(f"{job.ipc} {format_size(job.size)} {job.variant}")
            record = run_job(job, settings, exe)
            record["seq"] = seq
            store.append_run(record)
            bar.update(1)
            if not record["ok"]:
                raise PmcsuiteError(
                    f"{job.ipc} {format_size(job.size)} {job.variant} run {job.run} failed: {record['error']} "
                    f"(the {seq} runs stored before it are kept in {store.dir}; fix the cause, then 'pmcsuite collect --resume {store.dir}')")
    except KeyboardInterrupt:
        raise PmcsuiteError(f"interrupted: the runs so far are kept in {store.dir}; "
                            f"'pmcsuite collect --resume {store.dir}' finishes the rest") from None
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
