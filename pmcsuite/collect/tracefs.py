"""tracefs, where the kernel's tracepoints live: counting a tracepoint (perf_event_open of a
``syscalls:``/``sched:`` event, here or in ipcbench) reads its id there, so a fresh boot that has not
mounted it loses every tracepoint. As root pmcsuite mounts it (as perf does) and says so in one
line; otherwise the tracepoints cannot be counted, and ``ensure_tracefs`` says so with the one command
that brings them back. The one place ``collect`` and ``check`` mount it (``check.check``)."""
from __future__ import annotations

import functools
import os
import platform as _platform
import subprocess
import sys

#: where tracefs's ``events/`` directory lives (the second is the old debugfs place)
TRACEFS_ROOTS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
#: the command that mounts it (perf's, and the emulated board's init)
MOUNT_ARGV = ("mount", "-t", "tracefs", "nodev", TRACEFS_ROOTS[0])
MOUNT_COMMAND = " ".join(MOUNT_ARGV)


def mounted(roots=TRACEFS_ROOTS) -> bool:
    """True when one of ``roots`` holds tracefs's ``events/`` directory."""
    return any(os.path.isdir(os.path.join(root, "events")) for root in roots)


def _mount(argv) -> str | None:
    """Run ``mount``: None when it worked, else what it said."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    return None if proc.returncode == 0 else (proc.stderr or proc.stdout).strip() or f"exit {proc.returncode}"


def ensure_tracefs(roots=TRACEFS_ROOTS, is_root: bool | None = None, mount=_mount, say=None) -> str | None:
    """Make tracepoints countable on this machine: None when tracefs is mounted, or was just mounted
    (root: ``MOUNT_COMMAND``, said in one line through ``say``, stderr by default); else why the
    tracepoints are lost, with the one command that brings them back."""
    if mounted(roots):
        return None
    is_root = os.geteuid() == 0 if is_root is None else is_root
    if not is_root:
        return f"tracefs is not mounted and only root can mount it: sudo {MOUNT_COMMAND}"
    if not os.path.isdir(roots[0]):
        return f"this kernel has no {roots[0]} (tracefs): a kernel with CONFIG_TRACING counts tracepoints"
    failed = mount([*MOUNT_ARGV[:-1], roots[0]])
    if failed is not None or not mounted(roots):
        return f"tracefs is not mounted and '{MOUNT_COMMAND}' failed ({failed or 'no events/ after it'})"
    (say or _stderr)(f"pmcsuite: note: mounted tracefs on {roots[0]} to count tracepoints ({MOUNT_COMMAND})")
    return None


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


@functools.cache
def tracefs_here() -> str | None:
    """``ensure_tracefs`` on this machine, once per process (Linux; elsewhere None)."""
    return ensure_tracefs() if _platform.system() == "Linux" else None
