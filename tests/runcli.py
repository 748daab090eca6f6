"""Helpers shared by the tests that drive pmcsuite as a user does: the CLI in a subprocess, a free
loopback port (tests/test_remote.py's sshd, tests/test_board_ssh.py's board)."""
import socket
import subprocess
import sys


def cli(*args, timeout=120) -> subprocess.CompletedProcess:
    """``python -m pmcsuite ARGS...`` in a subprocess, text output captured."""
    return subprocess.run([sys.executable, "-m", "pmcsuite", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
