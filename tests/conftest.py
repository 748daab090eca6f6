"""What the tests share: their tiers, and the fixtures more than one module needs.

Tiers are markers (registered in pyproject.toml, ``--strict-markers``); each test module names its
own in a ``pytestmark`` line at its top:

- ``unit``: in-process, on fixtures and synthetic data (stand-in scripts allowed); no real benchmark
  run, counting tool, emulated board, browser or sshd. ``./bin/test -m unit`` runs them in under a minute.
- ``e2e``: runs the real benchmark, a collection, a counting tool, real processes or the CLI end to end.
- ``board``: boots the emulated ARMv8 board (QEMU); ``browser``: drives headless Chromium;
  ``ssh``: talks to a real sshd.

A test in no tier, or in ``unit`` and another tier, makes its module a collection error. What a test
needs from the machine is checked with tests/needs.py (a skip outside CI, a failure in CI); the CLI
in a subprocess (for the entry point itself) is tests/runcli.py.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

TIERS = ("unit", "e2e", "board", "browser", "ssh")
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _tier_problem(node) -> str | None:
    """Why a test (or a class of tests) is not in one tier, or None."""
    tiers = {mark.name for mark in node.iter_markers() if mark.name in TIERS}
    if not tiers:
        return f"{node.name}: in no tier (add pytestmark = pytest.mark.<tier> at the top of its module)"
    if "unit" in tiers and len(tiers) > 1:
        return f"{node.name}: unit and {', '.join(sorted(tiers - {'unit'}))}"
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """A test module with a test in no tier, or in unit and another tier, is a collection error (before
    ``-m`` deselects anything, with or without xdist)."""
    outcome = yield
    report = outcome.get_result()
    if isinstance(collector, pytest.Module) and report.passed:
        wrong = [why for node in report.result if (why := _tier_problem(node))]
        if wrong:
            report.outcome = "failed"
            report.longrepr = f"tests not in one tier of {', '.join(TIERS)}:\n  " + "\n  ".join(wrong)


@contextlib.contextmanager
def _process_state(argv, cwd, env):
    """Run as ``pmcsuite ARGV`` (sys.argv, which the commands record) in ``cwd`` with ``env`` as
    os.environ; afterwards sys.argv, the directory, the environment and the signal handlers that
    ``cli.main`` sets are as they were."""
    old_argv, old_cwd, old_env = sys.argv, os.getcwd(), dict(os.environ)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        sys.argv = ["pmcsuite", *argv]
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        yield
    finally:
        sys.argv = old_argv
        os.chdir(old_cwd)
        os.environ.clear()
        os.environ.update(old_env)
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def run_main(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    """``pmcsuite ARGS...`` in this process (``pmcsuite.cli.main``), stdout and stderr captured, the
    exit status from its return value or SystemExit (argparse's usage errors, --help, --version)."""
    from pmcsuite.cli import main
    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    with _process_state(argv, cwd, env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    return subprocess.CompletedProcess(["pmcsuite", *argv], code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def cli():
    """The command line run in-process: ``cli("summary", DIR)`` -> CompletedProcess (returncode, stdout,
    stderr). For checks of messages and exit codes; tests/runcli.py runs the real entry point."""
    return run_main


@pytest.fixture(scope="session")
def bench_cache(tmp_path_factory) -> Path:
    """A cache directory of this session (of this worker, under xdist) for ipcbench builds."""
    return tmp_path_factory.mktemp("ipcbench-cache")


@pytest.fixture(scope="session")
def exe(bench_cache) -> Path:
    """ipcbench built for this machine, once a session."""
    from pmcsuite.collect import benchmark
    return benchmark.build(cache_dir=bench_cache)


@pytest.fixture(scope="module")
def cat():
    """The built-in counter catalogue (counters.yaml), loaded once a module; a test that changes it
    does so with monkeypatch."""
    from pmcsuite.catalogue import load_catalogue
    return load_catalogue()


@pytest.fixture
def results_small(tmp_path) -> Path:
    """A writable copy of the result directory tests/fixtures/results_small, without a table cache."""
    return Path(shutil.copytree(FIXTURES / "results_small", tmp_path / "results_small",
                                ignore=shutil.ignore_patterns("*.parquet")))
