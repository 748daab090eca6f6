"""What a test needs from the machine (perf, root, the emulated board, sshd, ...).

``require(ok, why)``: outside CI a missing need skips the test with the reason; in CI (``CI`` set,
as ``.ci/run`` is run) it fails it, because CI exists to provide every need and a skip there would
hide exactly what it is meant to catch."""
import functools
import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

IN_CI = bool(os.environ.get("CI"))
LINUX = sys.platform.startswith("linux")
#: zig cc (the ``cross`` extra's ziglang wheel): cross-compiling ipcbench for a board or a target
HAVE_ZIG = importlib.util.find_spec("ziglang") is not None
HAVE_PERF = LINUX and shutil.which("perf") is not None
#: the syscall tracepoints that perf_event_open counts (tracefs mounted, a kernel with CONFIG_FTRACE_SYSCALLS)
TRACEFS = any(Path(root, "events", "syscalls", "sys_enter_write", "id").exists()
              for root in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"))


def require(ok, why: str) -> None:
    """Skip (or, in CI, fail) the calling test unless ``ok``."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"CI must provide this test's need: {why}", pytrace=False)
    pytest.skip(why)


def needs(ok, why: str):
    """Decorator form of :func:`require`, checked when the test runs."""
    def wrap(test):
        @functools.wraps(test)
        def checked(*args, **kwargs):
            require(ok, why)
            return test(*args, **kwargs)
        return checked
    return wrap


PERF = "Linux perf is needed (bin/install adds it)"
#: decorator for the tests that run Linux perf itself
needs_perf = needs(HAVE_PERF, PERF)


def require_perf() -> None:
    """Skip (or, in CI, fail) unless Linux perf is here."""
    require(HAVE_PERF, PERF)


def require_tracepoints() -> None:
    """Skip (or, in CI, fail) unless this process can count the syscall tracepoints."""
    require(LINUX, "counting with perf_event_open needs Linux")
    require(os.geteuid() == 0, "counting tracepoints needs root")
    require(TRACEFS, "tracefs with syscalls:sys_enter_write must be mounted on /sys/kernel/tracing")
