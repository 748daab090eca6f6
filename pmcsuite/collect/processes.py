"""Running a measured program so that everything it starts ends with it.

Three mechanisms, all Linux-specific where they need the kernel (elsewhere the process group alone):

- the program runs in a new session and process group, killed whole on a timeout or Ctrl-C;
- **escaped descendants** (a child that called ``setsid()`` or was orphaned) are found too: pmcsuite
  makes itself a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``), so orphans of the run are
  re-parented to it instead of init; on a timeout every process of the run's tree (walked through
  ``/proc``) and every orphan that appeared during the run is killed, so no escaped process can
  hold the output pipes and stretch the timeout;
- **a killed pmcsuite takes the run with it**: the program gets ``PR_SET_PDEATHSIG = SIGKILL`` (the
  kernel kills it when pmcsuite dies, even by ``kill -9``), and ipcbench sets the same on itself and
  on its actor processes, so a benchmark under perf ends when perf does.
"""
import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

_PR_SET_PDEATHSIG, _PR_SET_CHILD_SUBREAPER = 1, 36
_LINUX = sys.platform.startswith("linux")
_libc = ctypes.CDLL(None, use_errno=True) if _LINUX else None
_subreaper = False


def _die_with_parent() -> None:           # runs in the child between fork and exec: async-signal-safe
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


_HELD = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def _child_setup(mask, die_with_parent: bool = True) -> None:      # in the child between fork and exec
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    if _LINUX and die_with_parent:
        _die_with_parent()


def _become_subreaper() -> None:
    global _subreaper
    if _LINUX and not _subreaper:
        _subreaper = _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process (from /proc; empty where there is none)."""
    found = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    with open(f"/proc/{entry.name}/stat", "rb") as handle:
                        stat = handle.read()
                except OSError:
                    continue
                fields = stat[stat.rfind(b")") + 2:].split()
                found[int(entry.name)] = int(fields[1])
    return found


def _tree(roots) -> set[int]:
    """``roots`` and all their descendants."""
    parents = _parents()
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def _own_children() -> set[int]:
    me = os.getpid()
    return {pid for pid, ppid in _parents().items() if ppid == me}


def _kill_all(proc: subprocess.Popen, before: set[int]) -> None:
    """Kill the run's process group, its whole tree (escaped sessions included) and the orphans of
    the run that were re-parented to us."""
    victims = _tree([proc.pid, *(_own_children() - before)]) if _LINUX else {proc.pid}
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid in victims - {os.getpid()}:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    if _LINUX:                                    # orphans re-parented during the kill
        for pid in _tree(_own_children() - before - {proc.pid}) - {os.getpid()}:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for pid in _own_children() - before - {proc.pid}:   # reap them: no zombies left behind
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def spawn(argv, env=None, die_with_parent: bool = True):
    """Start ``argv`` (a list, no shell) in a new session, stdin closed, text stdout/stderr piped;
    returns ``(proc, release)``. ``die_with_parent``: the child gets PR_SET_PDEATHSIG and its signal
    mask back before it execs; False for a program that does both itself (ipcbench), which starts
    faster. A signal handled while fork() runs is handled inside the at-fork
    hooks (logging's), which swallow its exception: SIGINT/SIGTERM/SIGHUP are held until the child
    exists. Call ``release()`` first thing inside the ``try`` that cleans up ``proc``, so that a
    signal that arrived meanwhile is taken there."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    # a preexec_fn makes Python fork instead of vfork/posix_spawn: ~7 ms a process with pandas
    # loaded. ipcbench unblocks its signals and sets its own PDEATHSIG, so it needs none.
    setup = (lambda: _child_setup(held, True)) if die_with_parent else None
    try:
        proc = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, errors="replace", env=env,
                                start_new_session=True, preexec_fn=setup)
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        raise
    return proc, lambda: signal.pthread_sigmask(signal.SIG_SETMASK, held)


def run_group(argv, timeout: float, env=None, self_managed: bool = False) -> subprocess.CompletedProcess:
    """Run ``argv`` (a list, no shell) in a new session with stdin closed, capturing text output.

    On timeout everything the run started is killed (see the module docstring) and
    ``subprocess.TimeoutExpired`` re-raised; so it is on Ctrl-C (KeyboardInterrupt), which the
    group, in a session of its own, does not receive. A missing program raises ``OSError``.
    ``self_managed``: the program (ipcbench) unblocks its signals and dies with its parent by itself."""
    _become_subreaper()
    before = _own_children() if _LINUX else set()
    proc, release = spawn(argv, env=env, die_with_parent=not self_managed)
    try:
        release()
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        _kill_all(proc, before)
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:         # something unkillable still holds the pipes
            for stream in (proc.stdout, proc.stderr):
                with contextlib.suppress(OSError):
                    stream.close()
            proc.wait()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


_SCRATCH = re.compile(r"^pmcsuite-[a-z]+-(\d+)-")


def remove_dead_processes_dirs() -> None:
    """Remove this user's temporary directories (``pmcsuite-<kind>-<pid>-*``: scratch, ssh control) whose
    pmcsuite process is gone: what a kill -9 left behind."""
    base = Path(tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for entry in base.iterdir():
            match = _SCRATCH.match(entry.name)
            if match and entry.is_dir() and entry.stat().st_uid == os.getuid() and not pid_alive(int(match.group(1))):
                shutil.rmtree(entry, ignore_errors=True)


@contextlib.contextmanager
def scratch_dir(kind: str):
    """A temporary directory for one run's fifos and tool output (``pmcsuite-<kind>-<pid>-*``),
    removed when the run ends; the ones a killed pmcsuite could not remove (their pid is gone) are
    removed first, so kill -9 leaves no litter for long."""
    remove_dead_processes_dirs()
    path = tempfile.mkdtemp(prefix=f"pmcsuite-{kind}-{os.getpid()}-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    """True when a process ``pid`` exists (a zombie included)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
