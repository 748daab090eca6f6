"""A remote target reached over SSH (``SshTarget``): one connection for the whole sweep.

pmcsuite learns the target's OS and architecture (``uname -sm``), cross-compiles a static ipcbench
for it here (``zig cc``, :func:`remote.zig_target`) or builds it with the target's own ``cc``
(``--target-cc``), copies it into a per-user cache directory there (only when its ``cksum`` differs),
runs a tiny transfer to check it works, and then runs every benchmark process through one SSH
connection (OpenSSH ``ControlMaster``), each as ``exec sh -c 'echo $$ >PIDFILE; exec "$@"' ...``: the
benchmark's parent is the SSH session, so a dropped link ends it (ipcbench sets PR_SET_PDEATHSIG on
itself), and a timeout or Ctrl-C kills it by the pid in PIDFILE. Every command is an argv list,
quoted with ``shlex.join``; nothing is interpolated into a shell string.

The system OpenSSH client is used (``ssh``, or the words of ``--ssh-command``, like rsync's ``-e``
and git's ``GIT_SSH_COMMAND``), so the user's ``~/.ssh/config``, keys and agent apply; ``BatchMode``
is on, so it never prompts. ssh's exit status 255 is the link: ``LinkLost`` (an EnvironmentProblem,
exit 3), unless the connection is still up, in which case the benchmark was killed by a signal.
"""
from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

from ..errors import EnvironmentProblem, PmcsuiteError
from .hostinfo import first_line
from .processes import pid_alive, remove_dead_processes_dirs, spawn
from .remote import METADATA_SCRIPT, LinkLost, cksum, host_from_sections, parse_host, parse_sections, zig_target

#: OpenSSH options pmcsuite adds after the user's own (the first value given wins in ssh)
SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "ConnectTimeout=15", "-o", "ServerAliveInterval=5",
               "-o", "ServerAliveCountMax=3", "-o", "LogLevel=ERROR", "-T")
#: seconds the SSH master waits for a new command after the last one (a killed pmcsuite's master,
#: and with it any benchmark left on the target, ends at most this long after)
CONTROL_PERSIST = 60
#: the flags of a --target-cc build (the native build's, without -Wall -Wextra)
TARGET_CFLAGS = ("-O2", "-std=c99", "-D_GNU_SOURCE", "-pthread")

#: remote locks held by this process: (host spelling, lock path); a lock naming this process that is
#: not in here was left by an earlier collect of this process (its link dropped) and is taken over
_HELD: set = set()
_HELD_GUARD = threading.Lock()


class SshTarget:
    """A machine reached with the system OpenSSH client, one connection for the whole sweep."""

    remote = True

    def __init__(self, host: str, ssh_command: str | None = None):
        self.name = str(host).strip()
        self.user, self.hostname, self.port = parse_host(self.name)
        words = shlex.split(ssh_command) if ssh_command else ["ssh"]
        if not words:
            raise PmcsuiteError("--ssh-command is empty: give the ssh command line, e.g. \"ssh -i KEY -p 2222\"")
        self.ssh_command = ssh_command
        self._program = shutil.which(words[0])
        if self._program is None:
            raise EnvironmentProblem(f"{words[0]} not found: install the OpenSSH client (apt-get install "
                                     "openssh-client), or give its path with --ssh-command")
        self._words = words[1:]
        self._dir = None              # private 0700 directory holding the control socket
        self._connected = False
        self.cache_dir = None         # the target's cache directory (set by prepare/connect)
        self.cpus = None              # the target's CPU count (set by metadata)
        self._lock_path = None
        self._unames = None
        self.exe = None               # the benchmark's path there (set by prepare)
        self.backends = {}            # backend objects running ipcbench here (targets.target_backend)
        self._which = {}              # tool -> its path there (or None), looked up once a sweep

    # -- the connection
    @property
    def destination(self) -> str:
        return f"{self.user}@{self.hostname}" if self.user else self.hostname

    def _base(self, control="no") -> list[str]:
        argv = [self._program, *(["-p", str(self.port)] if self.port else []), *self._words, *SSH_OPTIONS]
        if self._dir is not None:
            argv += ["-o", f"ControlPath={self._dir}/cm", "-o", f"ControlMaster={control}"]
        return argv

    def _hint(self) -> str:
        port = ["-p", str(self.port)] if self.port else []
        try_it = shlex.join([self._program, *port, *self._words, self.destination, "true"])
        return (f"check the host name and port, that sshd runs there and that your key is accepted without a "
                f"prompt (BatchMode; try: {try_it})")

    def connect(self) -> None:
        """Open the master connection (idempotent); LinkLost with ssh's own reason if it fails."""
        if self._connected:
            return
        if self._dir is None:
            remove_dead_processes_dirs()          # a killed sweep's control directory (named by its pid) goes
            self._dir = tempfile.mkdtemp(prefix=f"pmcsuite-ssh-{os.getpid()}-")
        argv = [*self._base("yes"), "-o", f"ControlPersist={CONTROL_PERSIST}", "-N", "-f", "--", self.destination]
        # the master stays in the background: it must not hold our pipes (stdout to /dev/null, stderr to a file)
        with tempfile.TemporaryFile(mode="w+") as err:
            try:
                proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                      timeout=60)
            except subprocess.TimeoutExpired:
                raise LinkLost(f"cannot reach {self.name}: no SSH connection after 60 s: {self._hint()}") from None
            except OSError as exc:
                raise EnvironmentProblem(f"cannot run {self._program}: {exc.strerror}") from None
            err.seek(0)
            reason = " | ".join(line.strip() for line in err.read().splitlines() if line.strip())
        if proc.returncode != 0:
            raise LinkLost(f"cannot reach {self.name} (ssh exit {proc.returncode}: {reason or 'no message'}): "
                           f"{self._hint()}")
        self._connected = True

    def master_alive(self) -> bool:
        if self._dir is None:
            return False
        try:
            proc = subprocess.run([*self._base(), "-O", "check", "--", self.destination], stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return proc.returncode == 0

    def _dropped(self, detail: str = "") -> LinkLost:
        self._connected = False
        what = f"the SSH connection to {self.name} dropped{' (' + detail + ')' if detail else ''}"
        return LinkLost(f"{what}: check the network and the target; the runs so far are kept and 'pmcsuite collect "
                        "--resume DIR' reconnects and finishes", what)

    def shell(self, argv, timeout: float = 60, input_bytes: bytes | None = None) -> subprocess.CompletedProcess:
        """Run one command (an argv list) on the target through the master connection: exit status,
        stdout and stderr as text (bytes in, for ``put``). LinkLost when the link is gone."""
        self.connect()
        command = shlex.join([str(a) for a in argv])
        try:
            proc = subprocess.run([*self._base(), "--", self.destination, command], input=input_bytes,
                                  stdin=None if input_bytes is not None else subprocess.DEVNULL,
                                  capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise LinkLost(f"{self.name} did not answer within {timeout:g} s ({shlex.join(map(str, argv))[:60]}): "
                           f"the link or the target is stuck; 'pmcsuite collect --resume DIR' reconnects") from None
        result = subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(errors="replace"),
                                             proc.stderr.decode(errors="replace"))
        if proc.returncode == 255 and not self.master_alive():
            raise self._dropped(_last_line(result.stderr))
        return result

    def sh(self, script: str, *args, timeout: float = 60) -> str:
        """``sh -c SCRIPT`` on the target (the login shell may be any: sh runs the script); its stdout,
        or PmcsuiteError with its last stderr line when it fails."""
        proc = self.shell(["sh", "-c", script, "sh", *args], timeout)
        if proc.returncode != 0:
            raise PmcsuiteError(f"on {self.name}: {script[:50]}... failed (exit {proc.returncode}): "
                                f"{_last_line(proc.stderr) or 'no message'}")
        return proc.stdout

    def run(self, argv, timeout: float, tool: bool = False) -> subprocess.CompletedProcess:
        """Run a benchmark command line on the target, with the contract of ``processes.run_group``
        (``subprocess.TimeoutExpired`` on a timeout, after the remote process is killed); LinkLost
        when the link drops (the benchmark, whose parent is the session, dies with it). ``tool``:
        a counting tool wrapping the benchmark (pmcstat, dtrace) runs the same way; the benchmark
        under it dies with the tool (PDEATHSIG), the tool itself outlives a dropped link until the
        benchmark ends."""
        self.connect()
        pidfile = self._pidfile()
        command = "exec " + shlex.join(["sh", "-c", 'echo $$ > "$0"; exec "$@"', pidfile, *map(str, argv)])
        proc, release = spawn([*self._base(), "--", self.destination, command])
        try:
            release()
            out, err = proc.communicate(timeout=timeout)
        except BaseException:                     # a timeout, Ctrl-C, SIGTERM: end it there, then here
            with contextlib.suppress(PmcsuiteError, OSError, subprocess.SubprocessError):
                self.shell(["sh", "-c", 'kill -KILL "$(cat "$0")" 2>/dev/null; rm -f "$0"', pidfile], timeout=10)
            proc.kill()
            proc.communicate()
            raise
        if proc.returncode == 255:
            if not self.master_alive():
                raise self._dropped(_last_line(err))
            # the session is up: the benchmark died by a signal (ssh says 255, not which signal)
            err += f"\nkilled by a signal on {self.name} (ssh exit 255; the connection is still up)"
        return subprocess.CompletedProcess([str(a) for a in argv], proc.returncode, out, err)

    def _pidfile(self) -> str:
        return f"{self.cache_dir or '/tmp'}/run-{socket.gethostname()}-{os.getpid()}.pid"

    def close(self) -> None:
        """Release the remote lock (if held) and end the master connection."""
        with contextlib.suppress(PmcsuiteError, OSError, subprocess.SubprocessError):
            if self._connected and self.cache_dir:
                self.shell(["rm", "-f", self._pidfile()], timeout=15)
            self.unlock()
        if self._dir is not None:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run([*self._base(), "-O", "exit", "--", self.destination], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=15)
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._connected = False

    # -- what is there
    def uname(self) -> tuple[str, str]:
        if self._unames is None:
            words = self.sh("uname -s; uname -m").split()
            if len(words) != 2:
                raise PmcsuiteError(f"{self.name}: 'uname -s; uname -m' printed {' '.join(words)!r}")
            self._unames = (words[0], words[1])
        return self._unames

    def read_command(self, argv) -> str | None:
        """stdout of a command on the target, or None when it fails."""
        proc = self.shell(argv)
        return proc.stdout if proc.returncode == 0 else None

    def read(self, path: str) -> str | None:
        proc = self.shell(["cat", path])
        return proc.stdout if proc.returncode == 0 else None

    @property
    def where(self) -> str:
        return f"on {self.name}"

    def which(self, tool: str) -> str | None:
        """The path of ``tool`` on the target's PATH (``command -v``), or None; asked once a sweep."""
        if tool not in self._which:
            found = (self.read_command(["sh", "-c", 'command -v "$0"', tool]) or "").strip()
            self._which[tool] = found if found.startswith("/") else None
        return self._which[tool]

    @contextlib.contextmanager
    def scratch(self, kind: str):
        """A private temporary directory on the target (``mktemp -d`` in its 0700 cache directory),
        removed when the block ends, however; one a dropped link left is removed by the next sweep
        there (``lock``)."""
        path = self.sh('mktemp -d "$1/scratch-$2.XXXXXX"', self.ensure_cache(), kind).strip()
        try:
            yield path
        finally:
            with contextlib.suppress(PmcsuiteError):          # the link is gone: the next lock removes it
                self.shell(["rm", "-rf", path], timeout=30)

    def write(self, path: str, text: str) -> None:
        """Write ``text`` to ``path`` on the target through the connection."""
        self._send(text.encode(), Path(path).name, path, 'cat > "$0"', path)

    def metadata(self) -> dict:
        """The target's ``host`` object, read there (uname, /proc/cpuinfo, /etc/os-release,
        perf_event_paranoid, nproc), with how it was reached."""
        host = host_from_sections(parse_sections(self.sh("LC_ALL=C; export LC_ALL; " + METADATA_SCRIPT)))
        host["via"] = {"ssh": self.name, "ssh_command": self.ssh_command, "cache_dir": self.cache_dir,
                       "workstation": socket.gethostname()}
        self.cpus = host.get("cpus")          # for the machine-load share (sweep.run_batch)
        return host

    def ensure_cache(self) -> str:
        """The per-user cache directory on the target ($PMCSUITE_CACHE, $XDG_CACHE_HOME/pmcsuite,
        ~/.cache/pmcsuite, else /tmp/pmcsuite-UID when HOME is not writable), created 0700."""
        if self.cache_dir is None:
            script = ('d="${PMCSUITE_CACHE:-${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/pmcsuite}"; '
                      'if ! { mkdir -p "$d" 2>/dev/null && [ -w "$d" ]; }; then d="/tmp/pmcsuite-$(id -u)"; '
                      'mkdir -p -m 700 "$d" || exit 1; '
                      'owner=$(ls -ldn "$d" | awk \'{print $3}\'); '
                      'if [ "$owner" != "$(id -u)" ] || [ -L "$d" ]; then echo "$d is not yours" >&2; exit 1; fi; fi; '
                      'chmod 700 "$d"; echo "$d"')
            self.cache_dir = self.sh(script).strip().splitlines()[-1]
        return self.cache_dir

    def put(self, local, remote: str) -> None:
        """Copy a local file to ``remote`` (executable) through the connection: ``cat > tmp``, chmod,
        mv into place (no scp/sftp needed on the target)."""
        tmp = f"{remote}.part-{os.getpid()}"
        self._send(Path(local).read_bytes(), Path(local).name, remote,
                   'cat > "$0" && chmod 755 "$0" && mv -f "$0" "$1"', tmp, remote)

    def _send(self, data: bytes, name: str, remote: str, script: str, *args) -> None:
        """``sh -c SCRIPT ARGS`` on the target with ``data`` on its stdin."""
        proc = self.shell(["sh", "-c", script, *args], timeout=max(60, len(data) / 100e3), input_bytes=data)
        if proc.returncode != 0:
            raise EnvironmentProblem(f"cannot copy {name} to {self.name}:{remote}: "
                                     f"{_last_line(proc.stderr) or 'exit ' + str(proc.returncode)}")

    def remote_cksum(self, path: str) -> tuple[int, int] | str | None:
        """POSIX ``cksum`` there (CRC, size), or the sha256 hex where there is none (Debian's busybox)."""
        script = 'if command -v cksum >/dev/null; then cksum "$0"; else sha256sum "$0"; fi'
        proc = self.shell(["sh", "-c", script, path])
        words = proc.stdout.split()
        if proc.returncode == 0 and words and len(words[0]) == 64:
            return words[0]
        if proc.returncode != 0 or len(words) < 2:
            return None
        with contextlib.suppress(ValueError):
            return int(words[0]), int(words[1])
        return None

    def install(self, local: Path, name: str) -> tuple[str, bool]:
        """Put ``local`` at CACHE/name unless the copy there has the same cksum: (path, copied?)."""
        import hashlib
        remote = f"{self.ensure_cache()}/{name}"
        data = Path(local).read_bytes()
        want = (cksum(data), hashlib.sha256(data).hexdigest())
        if self.remote_cksum(remote) in want:
            return remote, False
        self.put(local, remote)
        if self.remote_cksum(remote) not in want:
            raise EnvironmentProblem(f"the copy of {name} on {self.name} does not match its cksum: the disk "
                                     f"there is full or failing ({self.cache_dir})")
        return remote, True

    def build_remotely(self, cc: str) -> tuple[str, dict]:
        """--target-cc: copy the C source and build it there with the target's own compiler
        (``-static`` first, dynamic when the target has no static libc); cached there by source and
        compiler, with the flags used beside it (``EXE.flags``)."""
        import hashlib

        from .benchmark import source_path
        source = source_path()
        words = shlex.split(cc)
        if not words:
            raise PmcsuiteError("--target-cc is empty: give the target's compiler, e.g. cc or gcc")
        version = first_line(self.read_command([*words, "--version"]))
        if version is None:
            raise EnvironmentProblem(f"{words[0]} not found or not working on {self.name}: install a C compiler "
                                     "there, or leave out --target-cc to cross-compile here")
        triple = first_line(self.read_command([*words, "-dumpmachine"]))
        source_sha = hashlib.sha256(source.read_bytes()).hexdigest()
        key = hashlib.sha256(f"{source_sha}\0{cc}\0{version}\0{' '.join(TARGET_CFLAGS)}".encode()).hexdigest()[:16]
        cache = self.ensure_cache()
        exe, src = f"{cache}/ipcbench-cc-{key}", f"{cache}/ipcbench-{key}.c"
        flags = (self.read_command(["sh", "-c", '[ -x "$0" ] && cat "$0.flags"', exe]) or "").split()
        if not flags:
            self.put(source, src)
            for flags in ([*TARGET_CFLAGS, "-static"], list(TARGET_CFLAGS)):
                proc = self.shell([*words, *flags, src, "-o", exe], timeout=600)
                if proc.returncode == 0:
                    break
            else:
                raise EnvironmentProblem(f"building ipcbench with {cc} on {self.name} failed: "
                                         f"{_last_line(proc.stderr) or 'exit ' + str(proc.returncode)}")
            self.shell(["sh", "-c", 'echo "$1" > "$0.flags"; rm -f "$2"', exe, " ".join(flags), src])
        info = {"compiler": f"{cc} (on the target)", "compiler_version": version, "flags": flags,
                "static": "-static" in flags, "source_sha256": source_sha, "target": triple, "built_on": "target"}
        return exe, info

    # -- one sweep per host
    def lock(self) -> None:
        """``mkdir CACHE/sweep.lock`` holding WORKSTATION:PID: one sweep per target account at a time.
        Refused in one line naming the holder; a lock this workstation left behind (its pid is gone,
        or this process lost the link in an earlier sweep) is taken over."""
        cache = self.ensure_cache()
        path = f"{cache}/sweep.lock"
        me = f"{socket.gethostname()}:{os.getpid()}"
        for _ in range(3):
            proc = self.shell(["sh", "-c", 'mkdir "$0" 2>/dev/null && echo "$1" > "$0/owner"', path, me])
            if proc.returncode == 0:
                self._lock_path = path
                with _HELD_GUARD:
                    _HELD.add((self.name, path))
                # one sweep at a time here: a scratch directory left there is a dropped sweep's
                self.shell(["sh", "-c", 'rm -rf "$0"/scratch-*', cache])
                return
            holder = (self.read(f"{path}/owner") or "").strip()
            host, _, pid = holder.rpartition(":")
            ours = host == socket.gethostname() and pid.isdigit()
            with _HELD_GUARD:
                held_here = any(p == path for _, p in _HELD)
            stale = ours and (not pid_alive(int(pid)) or (int(pid) == os.getpid() and not held_here))
            if not stale:
                raise EnvironmentProblem(f"{self.name} is already running a pmcsuite sweep (lock {path} held by "
                                         f"{holder or 'unknown'}): wait for it to finish, or remove {path} on the "
                                         "target if that sweep is gone; two sweeps on one host disturb each other")
            self.shell(["rm", "-rf", path])
        raise EnvironmentProblem(f"cannot take the lock {path} on {self.name}")

    def unlock(self) -> None:
        if self._lock_path is None:
            return
        path, self._lock_path = self._lock_path, None
        with _HELD_GUARD:
            _HELD.discard((self.name, path))
        me = f"{socket.gethostname()}:{os.getpid()}"
        self.shell(["sh", "-c", '[ "$(cat "$0/owner" 2>/dev/null)" = "$1" ] && rm -rf "$0"', path, me], timeout=15)

    # -- the benchmark there
    def prepare(self, target_cc: str | None = None) -> tuple[str, dict]:
        """Build the benchmark for the target, copy it there if needed, check it runs: (remote path,
        build info for metadata.json's tools.ipcbench, with the target triple)."""
        from .benchmark import PROBE_ARGS, build, build_info, parse_bench_output
        self.connect()
        system, machine = self.uname()
        self.ensure_cache()
        if target_cc:
            remote, info = self.build_remotely(target_cc)
            copied = None
        else:
            triple = zig_target(system, machine)
            exe = build(target=triple)
            info = dict(build_info(target=triple))
            remote, copied = self.install(exe, exe.name)
            info["local_path"] = info.pop("path", str(exe))
        info.update({"path": remote, "copied": copied, "system": system, "machine": machine})
        self.exe = remote
        proc = self.run([remote, *PROBE_ARGS], 60)
        try:
            if proc.returncode != 0:
                raise PmcsuiteError(_last_line(proc.stderr) or f"exit {proc.returncode}")
            parse_bench_output(proc.stdout)
        except PmcsuiteError as exc:
            raise EnvironmentProblem(f"the benchmark built for {system} {machine} ({info.get('target') or target_cc}) "
                                     f"does not run on {self.name}: {exc}") from None
        return remote, info


def _last_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""
