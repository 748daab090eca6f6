"""run_group: a measured program and everything it started end together on timeout and on Ctrl-C."""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from pmcsuite.processes import run_group

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
