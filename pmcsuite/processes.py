"""Running a measured program: in its own process group, so that a hang is ended whole."""
import contextlib
import os
import signal
import subprocess


def run_group(argv, timeout: float, env=None) -> subprocess.CompletedProcess:
    """Run ``argv`` (a list, no shell) in a new session with stdin closed, capturing text output.

    On timeout the whole process group (the tool, the benchmark and its threads or children) is
    killed and ``subprocess.TimeoutExpired`` re-raised; so it is on Ctrl-C (KeyboardInterrupt),
    which the group, in a session of its own, does not receive. A missing program raises ``OSError``."""
    proc = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
