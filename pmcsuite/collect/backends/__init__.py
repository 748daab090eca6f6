"""Counter backends: run the benchmark under a counting tool and report one value per counter.

A backend takes ``events`` (counter id -> the tool's event spec, in the order to report) and the
benchmark's argv, runs the benchmark under the tool, and returns ``(ipcbench JSON, values)``.
Backends: ``inproc`` (the benchmark counts itself, each actor around its own loop, iteration by
iteration: perf_event_open on Linux), ``perf`` (Linux ``perf stat``, counts only the benchmark's timed
loop via ``--control``), ``pmcstat`` (FreeBSD, counts the whole process), ``dtrace`` (FreeBSD kernel
view), ``none`` (the uninstrumented baseline).

Backends with ``iterations = True`` (inproc, none) also have ``run_iterations``: one benchmark process
running ``-n N`` iterations, one ``(ipcbench JSON, values)`` per iteration.

What the backends share is in :mod:`.base`; this module chooses among them (``get_backend``, the
OS's own ``auto_backends``, ``--backend`` resolved).
"""
from __future__ import annotations

import platform as _platform

from ...errors import PmcsuiteError
from ...schema import COLLECT_BACKENDS, STATUSES, CounterValue  # noqa: F401  (re-exported)
from .base import Backend, NoneBackend, ToolBackend, flag_silent_zeros  # noqa: F401  (re-exported)


def get_backend(name: str, target=None) -> Backend:
    """The backend object for ``name`` ("perf", "pmcstat", "dtrace" or "none"); ``target``: where
    pmcstat or dtrace run (``remote.SshTarget``; default this machine)."""
    if name == "none":
        return NoneBackend()
    if name == "inproc":
        from .inproc import InprocBackend
        return InprocBackend()
    if name == "perf":
        from .perf import PerfBackend
        return PerfBackend()
    if name == "pmcstat":
        from .pmcstat import PmcstatBackend
        return PmcstatBackend(target=target)
    if name == "dtrace":
        try:
            from .dtrace import DtraceBackend
        except ImportError as exc:
            raise PmcsuiteError(f"the dtrace backend is not available in this build ({exc}): "
                                "use --backend perf, pmcstat or none") from None
        return DtraceBackend(target=target)
    raise PmcsuiteError(f"unknown backend {name!r}: choose from {', '.join(COLLECT_BACKENDS)}")


#: The counting tools of each OS, in order of preference: a counter is counted by the first one
#: the catalogue spells it for (FreeBSD: PMCs with pmcstat, the kernel view with dtrace).
OS_BACKENDS = {"Linux": ("inproc",), "FreeBSD": ("pmcstat", "dtrace")}


def auto_backends(system: str | None = None) -> list[str]:
    """The counting tools of this OS: ["inproc"] on Linux (the benchmark counts itself with
    perf_event_open), ["pmcstat", "dtrace"] on FreeBSD (in-process libpmc counting has never run)."""
    system = system or _platform.system()
    if system not in OS_BACKENDS:
        raise PmcsuiteError(f"no counter backend for {system}: pmcsuite counts with perf (Linux) or "
                            "pmcstat/dtrace (FreeBSD); use --backend none to measure bandwidth only")
    return list(OS_BACKENDS[system])


def resolve_backends(choice) -> list[str]:
    """``--backend`` -> the backends to count with: "auto" (this OS's), "none" (no counters: []),
    one name or a comma-separated list ("pmcstat,dtrace"), each checked by :func:`get_backend`."""
    from ...options import name_list
    names = name_list(choice, "--backend", "auto, inproc, perf or pmcstat,dtrace") or ["auto"]
    if names == ["auto"]:
        return auto_backends()
    if names == ["none"]:
        return []
    for name in names:
        if name in ("auto", "none"):
            raise PmcsuiteError(f"--backend {','.join(names)}: 'auto' and 'none' stand alone")
        get_backend(name)
    return names
