"""run_group: a measured program and everything it started end together on timeout and on Ctrl-C."""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from pmcsuite.collect.processes import run_group

pytestmark = pytest.mark.e2e

# a parent that starts a grandchild, writes its pid to a file and then waits forever
TREE = ("import subprocess, sys, time; "
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); "
        "open(sys.argv[1], 'w').write(str(child.pid)); time.sleep(300)")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:           # a zombie waiting for its reaper counts as gone
        return stat.read().split(") ")[1][0] != "Z"


def _grandchild(path, deadline=10.0) -> int:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if path.exists() and path.read_text():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError("the grandchild never started")


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_timeout_kills_the_whole_group(tmp_path):
    pid_file = tmp_path / "pid"
    with pytest.raises(subprocess.TimeoutExpired):
        run_group([sys.executable, "-c", TREE, pid_file], timeout=2)
    pid = _grandchild(pid_file)
    time.sleep(0.2)
    assert not _alive(pid)


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_ctrl_c_kills_the_whole_group(tmp_path):
    pid_file = tmp_path / "pid"
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_group([sys.executable, "-c", TREE, pid_file], timeout=60)
    finally:
        timer.cancel()
    pid = _grandchild(pid_file)
    time.sleep(0.2)
    assert not _alive(pid)


def test_output_and_status():
    proc = run_group([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"], 30)
    assert (proc.stdout, proc.stderr, proc.returncode) == ("out\n", "err\n", 3)


# a grandchild leaves the group (a session of its own) holding the output pipes, and its parent
# hangs (ESCAPE) or exits at once, orphaning it (ORPHAN: re-parented to the subreaper); before: the
# sweep waited 270 s on --timeout 3, on pipes the escapee held
_ESCAPEE = ("import subprocess, sys; "
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'], start_new_session=True); "
            "open(sys.argv[1], 'w').write(str(child.pid)); ")
ESCAPE = _ESCAPEE + "import time; time.sleep(300)"
ORPHAN = _ESCAPEE + "sys.exit(0)"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="subreaper and /proc are Linux")
@pytest.mark.parametrize("script", [ESCAPE, ORPHAN], ids=["escaped", "orphaned"])
def test_timeout_holds_against_descendants_that_leave_the_group(tmp_path, script):
    pid_file = tmp_path / "pid"
    start = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        run_group([sys.executable, "-c", script, str(pid_file)], timeout=1.5)
    assert time.monotonic() - start < 15
    assert not _alive(_grandchild(pid_file))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_a_killed_harness_takes_the_benchmark_with_it(tmp_path):
    """Before: after kill -9 of pmcsuite, the benchmark (in its own session) ran on unowned."""
    pid_file = tmp_path / "pid"
    harness = subprocess.Popen([sys.executable, "-c",
                                "import sys; from pmcsuite.collect.processes import run_group; "
                                "run_group([sys.executable, '-c', 'import os, sys, time; "
                                "open(sys.argv[1], \"w\").write(str(os.getpid())); time.sleep(300)', "
                                "sys.argv[1]], 300)",
                                str(pid_file)])
    victim = _grandchild(pid_file)
    assert _alive(victim)
    harness.kill()
    harness.wait()
    end = time.monotonic() + 5
    while _alive(victim) and time.monotonic() < end:
        time.sleep(0.05)
    assert not _alive(victim)


def test_scratch_dirs_of_a_killed_pmcsuite_are_removed(tmp_path, monkeypatch):
    """Before: each kill during a perf run left a pmcsuite-perf-* directory behind (37 in 42 trials)."""
    import tempfile
    from pmcsuite.collect.processes import scratch_dir
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"pmcsuite-perf-{dead.pid}-abc"
    stale.mkdir()
    (stale / "ctl").write_text("")
    alive = tmp_path / f"pmcsuite-perf-{os.getpid()}-def"       # a live pmcsuite's: left alone
    alive.mkdir()
    with scratch_dir("perf") as path:
        assert os.path.isdir(path) and os.path.basename(path).startswith(f"pmcsuite-perf-{os.getpid()}-")
    assert not os.path.exists(path) and not stale.exists() and alive.exists()
