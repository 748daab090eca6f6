"""The target of a sweep, seen from the sweep: which target (``make_target``), its backends, its
platforms and its counting tools, as ``collect --host`` and ``check --host`` use them; opening a
remote one for a sweep, and refusing to resume on another machine."""
from __future__ import annotations

from pathlib import Path

from ..catalogue import load_catalogue
from ..errors import EnvironmentProblem, PmcsuiteError
from ..options import name_list
from .backends import OS_BACKENDS, NoneBackend, ToolBackend, get_backend, resolve_backends
from .check import check
from .hostenv import environment
from .hostinfo import Uname, match_platforms, resolve_platforms
from .remote import LocalTarget
from .ssh import SshTarget

#: the backends that run on a remote target: the benchmark counting itself, or a tool there wrapping it
REMOTE_BACKENDS = ("inproc", "pmcstat", "dtrace")


def make_target(host: str | None, ssh_command: str | None = None):
    """``LocalTarget()`` without a host, else an ``SshTarget``."""
    if not host:
        if ssh_command:
            raise PmcsuiteError("--ssh-command goes with --host: it says how to reach the target")
        return LocalTarget()
    return SshTarget(host, ssh_command)


def remote_backends(backend, target) -> list[str]:
    """--backend for a remote target: "auto" means the target OS's (OS_BACKENDS: inproc on Linux,
    pmcstat and dtrace on FreeBSD); perf is not run there (in-process counting counts on a Linux
    target everything perf stat would)."""
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


def check_target_tools(target, names) -> None:
    """Every counting tool of ``names`` is on the target, else one line naming the host and what to
    install there (exit 3), before the sweep starts."""
    for name in names:
        backend = target_backend(name, target)
        if isinstance(backend, ToolBackend):
            ok, why = backend.available()
            if not ok:
                raise EnvironmentProblem(why)


def check_target(host: str, ssh_command: str | None = None, counters=None, backend="auto", platform=None,
                 catalogue=(), target_cc: str | None = None) -> tuple[list[str], list[str], list, dict]:
    """``pmcsuite check --host``: what a remote target can count, asked there as ``collect --host``
    would (its benchmark copied over, its platform from its own /proc/cpuinfo, its tools): (platforms,
    backend names, ``check.CheckResult`` per counter, its ``hostenv`` virtualisation). Takes no sweep lock."""
    cat = load_catalogue([Path(c) for c in catalogue])
    target = make_target(host, ssh_command)
    try:
        target.connect()
        target.prepare(target_cc)
        platforms = target_platforms(cat, target) if platform is None else resolve_platforms(cat, platform)
        names = remote_backends(backend, target)
        check_target_tools(target, names)
        results = check(cat, name_list(counters, "--counters", "syscalls,faults"), platforms,
                        [target_backend(name, target) for name in names])
        return platforms, names, results, environment(target)["virtualisation"]
    finally:
        target.close()


def target_platforms(cat, target) -> list[str]:
    """The target's platforms, from its own /proc/cpuinfo and uname (hostinfo.match_platforms)."""
    system, machine = target.uname()
    sysctl = {"hw.model": (target.read_command(["sysctl", "-n", "hw.model"]) or "").strip()} \
        if system == "FreeBSD" else {}
    platforms, _ = match_platforms(cat, target.read("/proc/cpuinfo") or "", Uname(system, machine), sysctl)
    return platforms


def target_backend(name: str, target):
    """The backend object ``name`` running ipcbench through ``target`` (None: this machine)."""
    if target is None:
        return get_backend(name)
    if name in target.backends:
        return target.backends[name]
    if name == "inproc":
        from .backends.inproc import InprocBackend
        system, _ = target.uname()
        found = InprocBackend(exe=target.exe, system=system, runner=target.run, reader=target.read,
                              perf_events=target.read("/proc/sys/kernel/perf_event_paranoid") is not None)
    elif name == "none":
        found = NoneBackend(runner=target.run)
    elif name in REMOTE_BACKENDS:            # the tool runs there, wrapping the benchmark there
        found = get_backend(name, target=target)
    else:
        raise PmcsuiteError(f"backend {name} does not run on a remote target")
    target.backends[name] = found
    return found


def open_target(target, target_cc):
    """Connect to a remote target, take its sweep lock, put the benchmark there: (its path there,
    its build info)."""
    target.connect()
    target.lock()
    return target.prepare(target_cc)


def same_machine(target, stored: dict, directory) -> None:
    """A resume must run on the machine the collection started on (its own uname says so)."""
    now = target.metadata()
    differ = [k for k in ("hostname", "os", "machine", "kernel") if stored.get(k) != now.get(k)]
    if differ:
        what = ", ".join(f"{k} {stored.get(k)!r} -> {now.get(k)!r}" for k in differ)
        raise PmcsuiteError(f"{target.name} is not the machine {directory} was collected on ({what}): collect "
                            "into a new directory instead")
