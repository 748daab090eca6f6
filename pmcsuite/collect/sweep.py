"""Run a sweep's jobs: one benchmark process per batch (wrapped in the counter backend, or bare for
the baseline), sanity checks, and one record per iteration appended to the result store as soon as
the process ends. The store is passed in (anything with ``dir``, ``iter_runs`` and ``append_runs``:
``results.store.ResultStore``); this module writes nothing else.
"""
from __future__ import annotations

import platform as _platform
import shlex
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Protocol

from ..version import __version__
from ..catalogue import builtin_catalogue
from ..errors import Interrupted, PmcsuiteError
from ..plan import Job, backend_names, batches, make_jobs, plan_counters, run_key
from ..schema import RunRecord, now, stamp
from ..sizes import format_size
from .backends import flag_silent_zeros
from .benchmark import bench_argv, bench_points_argv
from .hostinfo import (
    benchmark_load,
    cpu_times,
    host_metadata,
    other_cpu_fraction,
    own_cpu_time,
    runnable_others,
    tool_versions,
)
from .hostenv import capped_buffer, environment, note_environment
from .progress import progress_bar
from .remote import LinkLost
from .settings import Settings
from .targets import target_backend


class RunSink(Protocol):
    """Where the records go (``results.store.ResultStore``): the directory, the records stored so
    far as (line, record), and an append that has them on disk when it returns."""
    dir: Path

    def iter_runs(self) -> Iterator[tuple[int, dict]]: ...

    def append_runs(self, records: Iterable[dict]) -> None: ...


@dataclass
class Runner:
    """What every benchmark process of a sweep runs with: the settings, the benchmark (its path on
    the target), the catalogue (``never_zero``, and the rules of the runs' sanity checks: the
    built-in catalogue's when None), the target (None: this machine), and whether progress is shown."""
    settings: Settings
    exe: Path | str
    cat: object = None
    target: object = None
    progress: bool = False


def plan_sweep(cat, settings: Settings) -> tuple[list, list[Job]]:
    """(passes, every job of the sweep in execution order) of ``settings``; PmcsuiteError when a
    counter that had an event here when the collection started has none any more."""
    passes, unavailable = plan_counters(cat, settings.groups, settings.platforms, backend_names(settings.backend))
    if set(unavailable) - set(settings.skipped):   # the catalogue changed under a resumed collection
        raise PmcsuiteError(f"counters {', '.join(sorted(set(unavailable) - set(settings.skipped)))} have no event "
                            "here any more: restore the catalogue this collection started with")
    jobs = make_jobs(settings.ipcs, settings.sizes, settings.runs, passes, settings.seed,
                     processes=settings.processes, points_per_process=settings.points_per_process)
    return passes, jobs


def _sanity(bench: dict, counters: dict, total: int, size: int, scope, cat, profile=None,
            linux: bool = True) -> list[str]:
    """What a run's own numbers say is wrong with it: bytes lost, writes missing, a buffer the kernel
    capped below the size asked (``hostenv.capped_buffer``; ``linux``: the machine runs Linux), what the
    catalogue ``cat`` says of its counters (``min_per_write``: too few events for the loop's
    write() calls; ``crosscheck``: a count that differs from the benchmark's own where the scope
    makes the two equal, e.g. in-process system calls), and its ``profile``'s gaps."""
    warnings = _profile_sanity(profile)
    capped = capped_buffer(bench, linux)
    if capped:
        warnings.append(capped)
    if not bench.get("bytes_ok", False):
        warnings.append("not every byte arrived intact")
    expected = total // size
    if bench.get("writes") is not None and bench["writes"] < expected:
        warnings.append(f"benchmark counted {bench['writes']} writes, fewer than total/buffer = {expected}")
    for cid, counted in counters.items():
        counter = cat.counters.get(cid)
        if counter is not None and counted.get("status") == "ok" and counted.get("value") is not None:
            warnings += _counter_sanity(counter, counted["value"], bench, total, size, scope)
    return warnings


def _profile_sanity(profile: dict | None) -> list[str]:
    """A profile's gaps: samples lost to a full ring buffer, kernel frames that could not be named."""
    if not profile:
        return []
    warnings = []
    lost = sum((profile.get("lost") or {}).values())
    if lost:
        warnings.append(f"the profile lost {lost} samples to full ring buffers (its counters count the others)")
    if profile.get("kallsyms") == "hidden":
        warnings.append("the profile's kernel frames are [unknown]: /proc/kallsyms gave every address as 0 "
                        "(kernel.kptr_restrict); collect as root, or sysctl kernel.kptr_restrict=0")
    elif profile.get("kallsyms") == "missing":
        warnings.append("the profile's kernel frames are [unknown]: the machine that ran the benchmark gave no "
                        "/proc/kallsyms")
    return warnings


def _counter_sanity(counter, value: float, bench: dict, total: int, size: int, scope) -> list[str]:
    """One counted value against its catalogue rules (see ``_sanity``)."""
    warnings = []
    what = counter.label or counter.id
    least = int(counter.min_per_write * total // size) if counter.min_per_write else 0
    if value < least:
        per = "" if counter.min_per_write == 1 else f"{counter.min_per_write:g} x "
        warnings.append(f"{value:.0f} {what} counted, fewer than {per}total/buffer = {least}")
    check = counter.crosscheck
    if check is not None and scope in check.exact and all(bench.get(c) is not None for c in check.own):
        own = sum(bench[c] for c in check.own)
        if value != own:
            warnings.append(f"{counter.id} counted {value:.0f} {what} but the benchmark made {own}")
    return warnings


def _scope(bench: dict, pass_) -> str | None:
    """What the counts of a run cover (schema.SCOPES): nothing for the baseline, else what the
    benchmark says it bracketed ('actors' in-process, 'loop' under perf --control), else the process."""
    if pass_ is None:
        return None
    return {"actors": "actors", "loop": "loop"}.get(bench.get("counting"), "process")


def _benchmark_cpu_seconds(results) -> float:
    """User + system CPU time the benchmark reported for its iterations (its actors' getrusage)."""
    total = 0
    for bench, _ in results:
        rusage = bench.get("rusage") or {}
        total += (rusage.get("utime_ns") or 0) + (rusage.get("stime_ns") or 0)
    return total / 1e9


def _argv(batch, runner: Runner) -> list[str]:
    """The benchmark's command line for ``batch``: its points with in-process counting, else one run.
    On a target the benchmark samples the machine's load itself (--load)."""
    settings, first, remote = runner.settings, batch[0], runner.target is not None
    if settings.processes is not None:
        return bench_points_argv(runner.exe, [(j.ipc, j.size, j.iterations) for j in batch], settings.total_size,
                                 settings.actors, settings.placement, force=settings.force, load=remote)
    return bench_argv(runner.exe, first.ipc, first.size, settings.total_size, settings.actors, settings.placement,
                      force=settings.force, load=remote)


def run_batch(batch, runner: Runner) -> list[dict]:
    """Run one benchmark process: the jobs of ``batch`` (one variant; several cells with in-process
    counting, each its iterations in a row). Returns the records to store, one per iteration, or one
    with ok=False and a one-line error when the process failed (its runs are kept whole or not at all)."""
    settings, target = runner.settings, runner.target
    several = settings.processes is not None
    first, pass_ = batch[0], batch[0].pass_
    remote = target is not None
    argv = _argv(batch, runner)
    backend = target_backend(pass_.backend if pass_ else "none", target)
    events = pass_.events if pass_ else {}
    common = dict(actors=settings.actors, placement=settings.placement, total_size=settings.total_size,
                  variant=first.variant, backend=backend.name, process=first.process, started=now())
    # the machine's load around the process: here, read before and after it with this process's and
    # its children's CPU time as ours; on a target, sampled by the benchmark itself (ipcbench
    # --load) around its iterations, with the CPU time it reports as ours
    if not remote:
        others_before, before, own_before = runnable_others(), cpu_times(), own_cpu_time()
    try:
        results = (backend.run_iterations(events, argv, settings.timeout, cat=runner.cat) if several
                   else [backend.run(events, argv, settings.timeout)])
        expected = [(j, i) for j in batch for i in range(j.iterations)]
        if len(results) != len(expected):
            raise PmcsuiteError(f"the benchmark printed {len(results)} results for {len(expected)} iterations")
        for (job, _), (bench, _) in zip(expected, results):
            if (bench.get("ipc"), bench.get("buffer_size")) != (job.ipc, job.size):
                raise PmcsuiteError(f"the benchmark's results are out of order: {bench.get('ipc')} "
                                    f"{bench.get('buffer_size')} where {job.ipc} {job.size} was due")
    except PmcsuiteError as exc:
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
    records, cat = [], runner.cat or builtin_catalogue()
    for (job, iteration), (bench, values) in zip(expected, results):
        profile = bench.get("profile")                                   # the record's (backend's) profile
        bench = {k: v for k, v in bench.items() if k not in ("counters", "profile")}     # stored apart
        counters = {v.counter: v.to_dict() for v in flag_silent_zeros(values, runner.cat)}
        scope = _scope(bench, pass_)
        # warm-ups: the first iterations of each cell in every process, or the first processes of
        # a cell when each runs once
        warmup = (iteration if several else job.first_run) < settings.warmup
        records.append(RunRecord(
            **common, ipc=job.ipc, buffer_size=job.size, iterations=job.iterations,
            run=job.first_run + iteration, iteration=iteration, warmup=warmup, scope=scope,
            ok=True, bench=bench, counters=counters, busy=busy, profile=profile,
            warnings=_sanity(bench, counters, settings.total_size, job.size, scope, cat, profile,
                             (target.uname()[0] if remote else _platform.system()) == "Linux")).to_json())
    return records


def metadata(runner: Runner, passes, command_line, exe_info) -> dict:
    """The metadata.json of a new collection: provenance (host, tools, catalogue), the plan and the
    settings a resume rebuilds the sweep from."""
    cat, settings, target = runner.cat, runner.settings, runner.target
    if target is not None:       # provenance read on the target; the workstation's tools did not run there
        host = {**target.metadata(), **environment(target)}   # emulation, tunables: read there
        tools = {name: target_backend(name, target).version() for name in backend_names(settings.backend)
                 if name not in ("inproc", "none")}          # pmcstat, dtrace there
        tools["ipcbench"] = exe_info
    else:
        host = host_metadata()
        tools = {**tool_versions([*backend_names(settings.backend), "cc"]), "ipcbench": exe_info}
    note_environment(host)
    return {
        **stamp(__version__, command_line),
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
                 "points_per_process": settings.points_per_process, "total_size": settings.total_size,
                 "actors": settings.actors,
                 "placement": settings.placement, "force": settings.force, "groups": settings.groups,
                 "skipped_counters": settings.skipped,
                 "passes": [p.metadata() for p in passes]},
        "settings": settings.to_dict(),
        **({"lost_groups": dict(settings.lost)} if settings.lost else {}),
    }


def execute(store: RunSink, jobs, runner: Runner) -> Path:
    """Run ``jobs`` process by process, appending each process's records to ``store`` as soon as it
    ends; a failed process or Ctrl-C stops the sweep with one line saying how to resume."""
    bar = progress_bar(sum(job.iterations for job in jobs), runner.progress)
    seq = sum(1 for _ in store.iter_runs())   # seq goes on from the runs a resumed directory holds
    try:
        for batch in batches(jobs):
            job = batch[0]
            points = ", ".join(f"{j.ipc} {format_size(j.size)}" for j in batch)
            bar.set_description(f"{job.variant}: {points}"[:60])
            try:
                records = run_batch(batch, runner)
            except LinkLost as exc:
                raise LinkLost(f"{exc.what} during {job.variant} process {job.process} ({points}): check the "
                               f"network and the target; the {seq} runs stored before it are kept in {store.dir}; "
                               f"'{resume_command(store.dir, runner.settings)}' reconnects and finishes") from None
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


def resume_command(directory, settings: Settings) -> str:
    """The command line that finishes ``directory``: --resume, with the ssh command and the target's
    compiler given again (a resume never runs one read from the result directory)."""
    argv = ["pmcsuite", "collect", "--resume", str(directory)]
    if settings.ssh_command:
        argv += ["--ssh-command", settings.ssh_command]
    if settings.target_cc:
        argv += ["--target-cc", settings.target_cc]
    return shlex.join(argv)


def finished(records) -> set[tuple]:
    """Keys of the benchmark processes whose every iteration is stored and ok."""
    done: dict[tuple, int] = {}
    expected: dict[tuple, int] = {}
    for r in records:
        if r.get("ok"):
            key = run_key(r)
            done[key] = done.get(key, 0) + 1
            expected[key] = r.get("iterations") or 1
    return {key for key, n in done.items() if n >= expected[key]}
