"""Running a copy of the benchmark as the unprivileged user nobody (uid 65534), for the tests of what an
ordinary user gets (permission denied, a capability missing): the copy lies in a fresh 0755 directory
nobody can read, removed afterwards."""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def run_as_nobody(exe, make_argv) -> subprocess.CompletedProcess:
    """Run ``make_argv(copy)``, ``copy`` a copy of ``exe`` nobody may run, as nobody; its result."""
    public = Path(tempfile.mkdtemp(prefix="ipcbench-nobody-"))
    try:
        public.chmod(0o755)
        copy = public / "ipcbench"
        shutil.copy2(exe, copy)
        copy.chmod(0o755)

        def drop():
            os.setgid(65534)
            os.setuid(65534)

        return subprocess.run(make_argv(copy), capture_output=True, text=True, timeout=60, preexec_fn=drop,
                              cwd=public)
    finally:
        shutil.rmtree(public)
