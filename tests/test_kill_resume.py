"""An interrupted or killed `pmcsuite collect` keeps what it measured, says so in one line with the
signal's exit status (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP), leaves no process behind, and resumes to
completion with nothing lost or doubled; a result directory of an unknown format is never resumed
(nor rewritten). bench/bench_kill_resume.py does the same at 20 random moments."""
import collections
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import pmcsuite
from needs import require
from pmcsuite.errors import PmcsuiteError
from pmcsuite.schema import RunRecord

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from bench_kill_resume import tagged_processes  # noqa: E402  (one /proc walker for the bench and the tests)
# a sweep of about two seconds: 2 modes x 4 sizes x 3 variants x 4 runs in 2 processes of 2 iterations
SWEEP = ["--ipc", "pipe,local", "--sizes", "4K-32K", "--runs", "4", "--processes", "2", "--total", "4M",
         "--counters", "faults", "--backend", "inproc", "--no-progress"]
TAG = "PMCSUITE_TEST_KILL_TAG"


def linux():
    require(sys.platform.startswith("linux") and Path("/proc/self/environ").exists(),
            "Linux (/proc, PR_SET_PDEATHSIG) is needed")


def start(tmp_path, *argv, tag=None):
    """``python -m pmcsuite ARGV`` with SIGINT at its default (as from a terminal) and a tag in its
    environment that every process it starts inherits."""
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT), TAG: tag or "untagged"}
    return subprocess.Popen([sys.executable, "-m", "pmcsuite", *map(str, argv)], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def runs_stored(directory: Path) -> int:
    try:
        return (directory / "runs.jsonl").read_bytes().count(b"\n")
    except OSError:
        return 0


def wait_for_runs(proc, directory: Path, at_least: int, timeout: float = 60) -> None:
    """Until ``directory`` holds ``at_least`` runs (the sweep is under way) while ``proc`` still runs."""
    deadline = time.monotonic() + timeout
    while runs_stored(directory) < at_least:
        assert proc.poll() is None, ("the collection ended before it could be interrupted", proc.communicate())
        assert time.monotonic() < deadline, "the collection stores no runs"
        time.sleep(0.005)


def alive_with_tag(tag: str) -> list[str]:
    """Command lines of the live (not zombie) processes whose environment carries ``tag``."""
    return list(tagged_processes(tag, TAG).values())


def no_survivors(tag: str, grace: float = 1.0) -> list[str]:
    deadline = time.monotonic() + grace
    while (alive := alive_with_tag(tag)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return alive


def audit(directory: Path) -> dict:
    """Runs lost, doubled and corrupted, against the plan stored in metadata.json."""
    plan = json.loads((directory / "metadata.json").read_text())["plan"]
    variants = ["baseline", *(p["name"] for p in plan["passes"])]
    expected = {(ipc, size, variant, run) for ipc in plan["ipc"] for size in plan["sizes"]
                for variant in variants for run in range(plan["runs"])}
    keys, corrupted = collections.Counter(), 0
    for line in (directory / "runs.jsonl").read_text().splitlines():
        try:
            record = RunRecord.from_json(json.loads(line))
        except ValueError:
            corrupted += 1
            continue
        assert record.ok, record.error
        keys[(record.ipc, record.buffer_size, record.variant, record.run)] += 1
    assert len(expected) == 2 * 4 * 2 * 4
    return {"lost": len(expected - set(keys)), "doubled": sum(n - 1 for n in keys.values() if n > 1),
            "corrupted": corrupted, "unexpected": len(set(keys) - expected)}


def resume(tmp_path, directory: Path):
    proc = start(tmp_path, "collect", "--resume", directory, "--no-progress")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_interrupted_sweep_exits_128_plus_signal_and_resumes(tmp_path, signum, code):
    """Ctrl-C, SIGTERM (a service manager, kill) and SIGHUP (the terminal closed) mid-sweep: the
    signal's exit status (not 2, the status of bad input), one line saying where the runs are and how
    to finish, no benchmark left running; the resume completes the sweep, nothing lost or doubled."""
    linux()
    tag, out = uuid.uuid4().hex, tmp_path / "res"
    proc = start(tmp_path, "collect", *SWEEP, "--out", out, tag=tag)
    wait_for_runs(proc, out, 8)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    name = signal.Signals(signum).name
    assert proc.returncode == code, (proc.returncode, err)
    lines = [line for line in err.strip().splitlines() if not line.startswith("pmcsuite: note:")]   # e.g. a VM
    assert len(lines) == 1, err
    assert lines[0].startswith(f"pmcsuite: error: interrupted ({name}): the runs so far are kept in {out}"), err
    assert f"--resume {out}" in lines[0]
    assert no_survivors(tag) == []
    stored = runs_stored(out)
    assert 8 <= stored < 64, stored                        # interrupted mid-sweep, and what was measured is kept
    resume(tmp_path, out)
    assert audit(out) == {"lost": 0, "doubled": 0, "corrupted": 0, "unexpected": 0}
    meta = json.loads((out / "metadata.json").read_text())
    assert len(meta["resumes"]) == 1 and meta["resumes"][0]["remaining"] < 64


def test_sigkill_at_three_moments_then_resume_loses_and_doubles_nothing(tmp_path):
    """kill -9 of the collect (mid-sweep) and of two resumes (one at its start, one mid-sweep): no
    process of the run outlives pmcsuite, no scratch directory stays behind once the sweep is done,
    and the last resume completes the plan exactly."""
    linux()
    tag, out = uuid.uuid4().hex, tmp_path / "res"
    killed = []
    proc = start(tmp_path, "collect", *SWEEP, "--out", out, tag=tag)
    wait_for_runs(proc, out, 10)
    for attempt in range(3):
        if attempt == 1:                                   # a resume killed while it starts up
            time.sleep(0.2)
        elif attempt == 2:                                 # a resume killed mid-sweep
            wait_for_runs(proc, out, runs_stored(out) + 4)
        proc.kill()
        proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        killed.append(proc.pid)
        assert no_survivors(tag) == [], f"processes outlived the kill -9 of pmcsuite (attempt {attempt})"
        assert runs_stored(out) < 64
        proc = start(tmp_path, "collect", "--resume", out, "--no-progress", tag=tag)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert audit(out) == {"lost": 0, "doubled": 0, "corrupted": 0, "unexpected": 0}
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith("pmcsuite-")
            and any(f"-{pid}-" in p.name for pid in killed)]
    assert left == []


# ---- a result directory of an unknown format ---------------------------------------------------

@pytest.fixture
def future_directory(tmp_path):
    """A real, unfinished collection whose metadata.json says format_version 99 (a later pmcsuite)."""
    linux()
    out = tmp_path / "res"
    pmcsuite.collect(out=out, ipcs=["pipe"], sizes="4K,8K", runs=2, total="1M", counters="faults", progress=False)
    lines = (out / "runs.jsonl").read_text().splitlines(keepends=True)
    (out / "runs.jsonl").write_text("".join(lines[:len(lines) // 2]))      # half of it left to do
    meta = json.loads((out / "metadata.json").read_text())
    meta["format_version"] = 99
    (out / "metadata.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out


def test_resume_refuses_an_unknown_format_version_and_leaves_it_untouched(future_directory):
    """It used to be read like its own format and rewritten to 1 (then 2) by a resume."""
    out = future_directory
    before = {name: (out / name).read_bytes() for name in ("metadata.json", "runs.jsonl")}
    with pytest.raises(PmcsuiteError, match=r"has format_version 99, which this pmcsuite cannot read") as info:
        pmcsuite.collect(resume=out, progress=False)
    assert "\n" not in str(info.value)
    with pytest.raises(PmcsuiteError, match="format_version 99"):
        pmcsuite.collect(resume=out, timeout=300, progress=False)     # not even to store a raised timeout
    assert {name: (out / name).read_bytes() for name in before} == before


def test_cli_resume_of_an_unknown_format_is_one_line_exit_2(future_directory, tmp_path):
    out = future_directory
    before = (out / "metadata.json").read_bytes()
    proc = start(tmp_path, "collect", "--resume", out, "--no-progress")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pmcsuite: error: ") and "format_version 99" in lines[0], err
    assert (out / "metadata.json").read_bytes() == before


# ---- a signal that arrives while a run's process is being forked ---------------------------------

_FORK_SIGNAL = {"armed": False, "hook": False}


def _signal_during_fork():
    if _FORK_SIGNAL["armed"]:
        _FORK_SIGNAL["armed"] = False
        signal.raise_signal(signal.SIGTERM)


def test_a_signal_during_the_fork_of_a_run_is_not_lost():
    """A signal that lands while fork() runs is handled in the at-fork hooks (logging's), which swallow
    the handler's exception: the sweep went on and exited 0 ("Exception ignored in: _releaseLock ...
    Signalled"), for about 1 in 8 signals sent just after a batch was stored. It must stop the run
    like any other SIGTERM. Deterministic: the signal is raised from an at-fork hook."""
    linux()
    from pmcsuite.cli import _terminated
    from pmcsuite.errors import Signalled
    from pmcsuite.collect.processes import run_group
    if not _FORK_SIGNAL["hook"]:
        os.register_at_fork(before=_signal_during_fork)      # cannot be removed: armed for one fork only
        _FORK_SIGNAL["hook"] = True
    previous = signal.signal(signal.SIGTERM, _terminated)
    started = time.monotonic()
    try:
        _FORK_SIGNAL["armed"] = True
        with pytest.raises(Signalled):
            run_group([sys.executable, "-c", "import time; time.sleep(4)"], timeout=60)
            pytest.fail("the SIGTERM raised during fork() was swallowed by an at-fork hook: hold SIGINT/SIGTERM/"
                        "SIGHUP (signal.pthread_sigmask) around the Popen of processes.run_group")
    finally:
        _FORK_SIGNAL["armed"] = False
        signal.signal(signal.SIGTERM, previous)
    assert time.monotonic() - started < 3
