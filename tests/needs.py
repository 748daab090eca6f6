"""What a test needs from the machine (perf, root, the emulated board, sshd, ...).

``require(ok, why)``: outside CI a missing need skips the test with the reason; in CI (``CI`` set,
as ``.ci/run`` is run) it fails it, because CI exists to provide every need and a skip there would
hide exactly what it is meant to catch."""
import functools
import importlib.util
import os

import pytest

IN_CI = bool(os.environ.get("CI"))
#: zig cc (the ``cross`` extra's ziglang wheel): cross-compiling ipcbench for a board or a target
HAVE_ZIG = importlib.util.find_spec("ziglang") is not None


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
