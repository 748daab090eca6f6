"""`pmcsuite collect --host` for real: Debian's OpenSSH server on 127.0.0.1 (a free port, its own host
key and authorized key in a temporary directory), the system ssh client, the benchmark cross-compiled
with zig and copied over. A dropped link mid-sweep, --resume, two hosts in parallel, the remote lock,
and the one-line failures; plus the pure helpers of pmcsuite.collect.remote.

Each sshd sets PMCSUITE_CACHE for its sessions (sshd_config SetEnv): the target's cache directory,
recorded in metadata.json's host.via.cache_dir, is the marker that a value was read through SSH."""
import json
import re
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from needs import HAVE_ZIG, require  # noqa: E402
from runcli import cli as _cli, free_port as _free_port  # noqa: E402

import pmcsuite  # noqa: E402
from pmcsuite.collect import remote  # noqa: E402
from pmcsuite.collect.ssh import SshTarget  # noqa: E402
from pmcsuite.errors import EnvironmentProblem, PmcsuiteError  # noqa: E402

pytestmark = pytest.mark.ssh

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
#: sshd's own default PATH, after the server's bin directory
STANDARD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SMALL = dict(ipcs=["pipe"], sizes="64K,1M", runs=4, warmup=1, processes=2, total="4M", progress=False)


class Sshd:
    """One OpenSSH server on 127.0.0.1:port, logging in as this user with a key of its own."""

    def __init__(self, root: Path, name: str, userkey: Path):
        self.root = root / name
        self.userkey = userkey
        self.root.mkdir()
        self.cache = self.root / "cache"          # the target's PMCSUITE_CACHE (the SSH-path marker)
        self.bin = self.root / "bin"              # first on its sessions' PATH: tools "installed there"
        self.bin.mkdir()
        self.port = _free_port()
        self.user = os.environ.get("USER") or __import__("getpass").getuser()
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.root / "hostkey")], check=True)
        (self.root / "authorized_keys").write_text(Path(f"{userkey}.pub").read_text())
        config = self.root / "sshd_config"
        config.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.root / 'hostkey'}",
            f"AuthorizedKeysFile {self.root / 'authorized_keys'}", "UsePAM no", f"PidFile {self.root / 'sshd.pid'}",
            "StrictModes no", "PermitRootLogin prohibit-password", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            f"SetEnv PMCSUITE_CACHE={self.cache} PATH={self.bin}:{STANDARD_PATH}", ""]))
        Path("/run/sshd").mkdir(exist_ok=True)
        self.log = open(self.root / "sshd.log", "w")
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError(f"sshd did not start: {(self.root / 'sshd.log').read_text()}")

    @property
    def host(self) -> str:
        return f"{self.user}@127.0.0.1:{self.port}"

    @property
    def ssh_command(self) -> str:
        return f"ssh -i {self.userkey} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    require(Path(SSHD).is_file() and shutil.which("ssh") and shutil.which("ssh-keygen"),
            "Debian's openssh-server and openssh-client are needed (bin/install adds them)")
    require(os.geteuid() == 0 or Path("/run/sshd").is_dir(), "sshd needs /run/sshd (create it as root)")
    require(HAVE_ZIG, "cross-compiling the target's benchmark needs the ziglang wheel: pip install ziglang")
    root = tmp_path_factory.mktemp("sshd")
    userkey = root / "userkey"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(userkey)], check=True)
    started = [Sshd(root, "a", userkey), Sshd(root, "b", userkey)]
    yield started
    for server in started:
        server.stop()


def _benchmarks_under(directory: Path) -> list[int]:
    """Pids of processes running a program from ``directory`` (the target's cache)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv0 = (entry / "cmdline").read_bytes().split(b"\0")[0].decode()
            except OSError:
                continue
            if argv0.startswith(str(directory) + "/"):
                found.append(int(entry.name))
    return found


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_bytes()
    return int(stat[stat.rfind(b")") + 2:].split()[1])


# ------------------------------------------------------------------------------------------ pure

def test_host_spellings():
    assert remote.parse_host("root@10.0.0.2:2222") == ("root", "10.0.0.2", 2222)
    assert remote.parse_host("board.local") == (None, "board.local", None)
    assert remote.parse_host("pi@[fe80::1]:22") == ("pi", "fe80::1", 22)
    for bad in ("", "a b", "-oProxyCommand=x", "h:0", "h:70000", "u@"):
        with pytest.raises(PmcsuiteError):
            remote.parse_host(bad)
    assert remote.host_dirname("root@127.0.0.1:2222") == "root@127.0.0.1_2222"


def test_uname_to_zig_target():
    assert remote.zig_target("Linux", "x86_64") == "x86_64-linux-musl"
    assert remote.zig_target("Linux", "aarch64") == remote.zig_target("Linux", "arm64") == "aarch64-linux-musl"
    assert remote.zig_target("Linux", "armv7l") == remote.zig_target("Linux", "armv6l") == "arm-linux-musleabihf"
    assert remote.zig_target("FreeBSD", "amd64") == "x86_64-freebsd"
    assert remote.zig_target("FreeBSD", "arm64") == "aarch64-freebsd"
    assert remote.zig_target("FreeBSD", "armv7") == "arm-freebsd-eabihf"
    with pytest.raises(EnvironmentProblem, match="--target-cc"):
        remote.zig_target("Linux", "riscv64")


def test_cksum_is_posix_cksum(tmp_path):
    require(shutil.which("cksum"), "cksum (coreutils) is needed")
    for data in (b"", b"a", b"hello world\n", os.urandom(70000)):
        path = tmp_path / "f"
        path.write_bytes(data)
        crc, size = subprocess.run(["cksum", str(path)], capture_output=True, text=True, check=True).stdout.split()[:2]
        assert remote.cksum(data) == (int(crc), int(size))


def test_host_metadata_from_the_targets_own_output():
    text = "\n".join(["@@pmcsuite:uname-a", "Linux bbb 6.1.0 #1 SMP armv7l GNU/Linux", "@@pmcsuite:system", "Linux",
                      "@@pmcsuite:release", "6.1.0", "@@pmcsuite:machine", "armv7l", "@@pmcsuite:hostname", "bbb",
                      "@@pmcsuite:cpuinfo", "processor\t: 0", "CPU implementer\t: 0x41", "CPU part\t: 0xc08", "",
                      "Hardware\t: Generic AM33XX", "@@pmcsuite:os-release", 'PRETTY_NAME="Debian GNU/Linux 12"',
                      "ID=debian", 'VERSION_ID="12"', "@@pmcsuite:paranoid", "2", "@@pmcsuite:nproc", "1",
                      "@@pmcsuite:hw.model", "", "@@pmcsuite:end"])
    host = remote.host_from_sections(remote.parse_sections(text))
    assert host["hostname"] == "bbb" and host["machine"] == "armv7l" and host["kernel"] == "6.1.0"
    assert host["cpu_model"].startswith("ARM Cortex-A8") and host["cpus"] == 1 and host["perf_event_paranoid"] == 2
    assert host["os_release"] == "Debian GNU/Linux 12" and host["python"] is None
    assert host["uname"].startswith("Linux bbb")


# ------------------------------------------------------------------------------------------ real sshd

@pytest.fixture(scope="module")
def remote_sweep(servers, tmp_path_factory):
    server = servers[0]
    out = tmp_path_factory.mktemp("remote") / "res"
    start = time.monotonic()
    pmcsuite.collect(out=out, counters="syscalls", host=server.host, ssh_command=server.ssh_command, tag="ci",
                     command_line=["pmcsuite", "collect", "remote"], **SMALL)
    remote_s = time.monotonic() - start
    local_out = out.parent / "local"
    start = time.monotonic()
    pmcsuite.collect(out=local_out, counters="syscalls", **SMALL)
    local_s = time.monotonic() - start
    print(f"\nsweep of {len(pmcsuite.load(out))} runs: remote {remote_s:.2f} s (first, with the copy), "
          f"local {local_s:.2f} s")
    return out, server


def test_collect_through_ssh_counts_exactly_and_records_the_targets_provenance(remote_sweep):
    out, server = remote_sweep
    df = pmcsuite.load(out)
    assert len(df) == 2 * 2 * 4 and df["ok"].all() and not df.duplicated(["ipc", "buffer_size", "variant", "run"]).any()
    counted = df[df["variant"] == "syscalls"]
    assert (counted["syscalls_write"] == counted["writes"]).all()
    assert (counted["syscalls_read"] == counted["reads"]).all()
    assert (counted["scope"] == "actors").all()
    assert not any(json.loads(line)["warnings"] for line in (out / "runs.jsonl").read_text().splitlines())
    meta = json.loads((out / "metadata.json").read_text())
    host = meta["host"]
    assert host["via"]["cache_dir"] == str(server.cache)            # read on the target, through ssh
    assert host["via"]["ssh"] == server.host and host["python"] is None
    assert host["kernel"] == os.uname().release and host["uname"].startswith("Linux ") and host["cpuinfo"]
    assert host["perf_event_paranoid"] is not None and host["cpus"] >= 1
    bench = meta["tools"]["ipcbench"]
    assert bench["target"] == "x86_64-linux-musl" and bench["static"] and bench["path"].startswith(str(server.cache))
    assert "perf" not in meta["tools"] and "cc" not in meta["tools"]     # the workstation's tools did not run there
    assert meta["tag"] == "ci" and meta["settings"]["host"] == server.host and meta["backend"] == "inproc"
    assert meta["platform"][-1] == "software"
    assert not (server.cache / "sweep.lock").exists()                     # released at the end
    assert not _benchmarks_under(server.cache)


def test_benchmark_copied_once(remote_sweep, tmp_path):
    out, server = remote_sweep
    exe = Path(json.loads((out / "metadata.json").read_text())["tools"]["ipcbench"]["path"])
    before = exe.stat().st_mtime_ns
    pmcsuite.collect(out=tmp_path / "again", host=server.host, ssh_command=server.ssh_command, backend="none",
                     **dict(SMALL, sizes="64K", runs=2, processes=1))
    meta = json.loads((tmp_path / "again" / "metadata.json").read_text())
    assert meta["tools"]["ipcbench"]["copied"] is False and exe.stat().st_mtime_ns == before
    assert meta["backend"] == "none" and meta["plan"]["passes"] == []


def test_dropped_link_stops_with_one_line_and_resume_finishes(servers, tmp_path):
    server = servers[1]
    out = tmp_path / "drop"
    argv = [sys.executable, "-m", "pmcsuite", "collect", "--host", server.host, "--ssh-command", server.ssh_command,
            "--ipc", "pipe,local", "--sizes", "4K-256K", "--runs", "4", "--processes", "2", "--points-per-process", "1",
            "--total", "16M", "--counters", "syscalls", "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        stored = (out / "runs.jsonl").read_text().count("\n") if (out / "runs.jsonl").exists() else 0
        running = _benchmarks_under(server.cache)
        if stored >= 6 and running:
            with open(f"/proc/{_parent(running[0])}/comm") as comm:
                parent_comm = comm.read().strip()
            if parent_comm == "sshd":                        # the benchmark's parent is the SSH session
                victim = _parent(running[0])
                os.kill(victim, signal.SIGKILL)              # the link drops mid-run
                break
        time.sleep(0.005)
    _, err = proc.communicate(timeout=60)
    assert victim is not None, f"never caught a benchmark running: {err}"
    lines = [line for line in err.strip().splitlines() if not line.startswith("pmcsuite: note:")]   # e.g. a VM
    assert proc.returncode == 3, err
    assert len(lines) == 1 and "dropped" in lines[0] and f"--resume {out}" in lines[0], err
    assert "--ssh-command " in lines[0], err          # the hint gives the way in again: a resume needs it
    kept = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    assert kept and all(r["ok"] for r in kept)            # nothing of the cut process stored
    deadline = time.monotonic() + 5
    while _benchmarks_under(server.cache) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _benchmarks_under(server.cache), "a benchmark outlived the dropped link"
    refused = _cli("collect", "--resume", out, "--no-progress")     # the stored ssh command is not run
    assert refused.returncode == 2 and "give --ssh-command again" in refused.stderr, refused.stderr
    resumed = _cli("collect", "--resume", out, "--ssh-command", server.ssh_command, "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    df = pmcsuite.load(out)
    assert len(df) == 2 * 7 * 2 * 4 and df["ok"].all()    # 0 lost
    assert df["runnable_others"].notna().all()             # the target's load, read there
    assert not df.duplicated(["ipc", "buffer_size", "variant", "run"]).any()   # 0 duplicated
    counted = df[df["variant"] == "syscalls"]
    assert (counted["syscalls_write"] == counted["writes"]).all()
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["resumes"][0]["remaining"] > 0 and meta["host"]["via"]["cache_dir"] == str(server.cache)


def test_two_hosts_in_parallel_one_directory_each(servers, tmp_path):
    out = tmp_path / "fleet"
    hosts = tmp_path / "hosts"
    hosts.write_text(f"# the lab\n{servers[1].host}\n\n")
    # long enough (16 benchmark processes each, ~3 s) that the two sweeps overlap whatever their setup takes
    options = ["--ipc", "pipe", "--sizes", "64K-512K", "--runs", "4", "--processes", "2", "--points-per-process", "1",
               "--total", "16M", "--counters", "syscalls", "--tag", "fleet", "--no-progress"]
    a, b = servers          # two machines to pmcsuite: two servers, two target cache directories
    proc = _cli("collect", "--host", a.host, "--hosts", hosts, "--host", a.host, "--ssh-command", a.ssh_command,
                "--out", out, "--json", *options)
    assert proc.returncode == 0, proc.stderr
    dirs = sorted(p.parent for p in out.glob("*/metadata.json"))
    said = json.loads(proc.stdout)                                  # one document for all the hosts
    assert said["directory"] == str(out) and [h["directory"] for h in said["hosts"]] == [str(d) for d in dirs]
    assert sorted(h["ssh"] for h in said["hosts"]) == sorted([a.host, b.host])
    assert all(h["runs"] == 32 and h["failed"] == 0 and h["tag"] == "fleet" and h["summary"] for h in said["hosts"])
    assert [d.name for d in dirs] == sorted(remote.host_dirname(h) for h in (a.host, b.host))   # deduplicated
    spans = []
    for server in servers:
        d = out / remote.host_dirname(server.host)
        meta = json.loads((d / "metadata.json").read_text())
        assert meta["host"]["via"]["cache_dir"] == str(server.cache) and meta["tag"] == "fleet"
        df = pmcsuite.load(d)
        assert len(df) == 4 * 2 * 4 and df["ok"].all()
        spans.append((df["started"].min(), df["started"].max()))
    assert spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1]          # in parallel


def test_one_sweep_per_host_lock(servers, tmp_path):
    server = servers[0]
    lock = server.cache / "sweep.lock"
    lock.mkdir(parents=True)
    (lock / "owner").write_text("otherbox:4242\n")
    proc = _cli("collect", "--host", server.host, "--ssh-command", server.ssh_command, "--backend", "none",
                "--ipc", "pipe", "--sizes", "64K", "--runs", "2", "--out", tmp_path / "refused", "--no-progress")
    assert proc.returncode == 3 and "otherbox:4242" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    # a lock this workstation left behind (its pid is gone) is taken over
    dead = subprocess.Popen(["true"])
    dead.wait()
    (lock / "owner").write_text(f"{socket.gethostname()}:{dead.pid}\n")
    proc = _cli("collect", "--host", server.host, "--ssh-command", server.ssh_command, "--backend", "none",
                "--ipc", "pipe", "--sizes", "64K", "--runs", "2", "--out", tmp_path / "taken", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert not lock.exists()


def test_missing_ssh_or_unreachable_host_is_one_line_exit_3(servers, tmp_path, cli):
    proc = cli("collect", "--host", "root@127.0.0.1", "--ssh-command", "/nonexistent/ssh -p 22", "--quick",
               "--out", tmp_path / "a")
    assert proc.returncode == 3 and "/nonexistent/ssh not found" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    port = _free_port()
    proc = cli("collect", "--host", f"root@127.0.0.1:{port}", "--ssh-command", servers[0].ssh_command, "--quick",
               "--out", tmp_path / "b")
    assert proc.returncode == 3 and f"cannot reach root@127.0.0.1:{port}" in proc.stderr, proc.stderr
    assert "refused" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "b" / "runs.jsonl").exists()


def test_remote_refuses_what_cannot_run_there(servers, tmp_path, cli):
    server = servers[0]
    proc = cli("collect", "--host", server.host, "--ssh-command", server.ssh_command, "--backend", "perf",
               "--quick", "--out", tmp_path / "p")
    assert proc.returncode == 2 and "inproc" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = cli("collect", "--ssh-command", "ssh", "--quick", "--out", tmp_path / "q")
    assert proc.returncode == 2 and "--host" in proc.stderr


def test_target_cc_builds_on_the_target(servers, tmp_path):
    require(shutil.which("cc"), "a C compiler is needed (the target's, here the same machine's)")
    server = servers[0]
    out = tmp_path / "cc"
    pmcsuite.collect(out=out, host=server.host, ssh_command=server.ssh_command, target_cc="cc", counters="syscalls",
                     **dict(SMALL, sizes="64K"))
    bench = json.loads((out / "metadata.json").read_text())["tools"]["ipcbench"]
    assert bench["built_on"] == "target" and bench["path"].startswith(str(server.cache))
    assert bench["target"] and bench["compiler_version"] and "-O2" in bench["flags"]
    df = pmcsuite.load(out)
    counted = df[df["variant"] == "syscalls"]
    assert df["ok"].all() and (counted["syscalls_write"] == counted["writes"]).all()


# ------------------------------------------------------------------------------------------ tools there

STANDINS = Path(__file__).resolve().parent / "standins"


@pytest.fixture
def install(servers):
    """``install(server, tool)``: tests/standins/TOOL "installed" on a server (a script first
    on its sessions' PATH that logs its argv to bin/TOOL.log and runs the stand-in); removed after."""
    placed = []

    def put(server, tool):
        script = server.bin / tool
        log = server.bin / f"{tool}.log"
        script.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {STANDINS / tool} "$@"\n')
        script.chmod(0o755)
        placed.extend([script, log])
        return log
    yield put
    for path in placed:
        path.unlink(missing_ok=True)


def _one_run(**extra):
    """One baseline run and one counted run (a tool starts around each run: one process per run)."""
    return dict(SMALL, sizes="64K", runs=1, warmup=0, processes=None, total="1M", **extra)


def test_backend_auto_on_a_freebsd_target_means_pmcstat_and_dtrace():
    from pmcsuite.collect.targets import remote_backends

    class Target:
        name = "bsd"

        def __init__(self, system):
            self.system = system

        def uname(self):
            return self.system, "armv7"
    assert remote_backends("auto", Target("FreeBSD")) == ["pmcstat", "dtrace"]
    assert remote_backends("auto", Target("Linux")) == ["inproc"]
    assert remote_backends("pmcstat", Target("Linux")) == ["pmcstat"]        # explicit: any target
    assert remote_backends("none", Target("FreeBSD")) == []
    with pytest.raises(PmcsuiteError, match="perf stays a local cross-check"):
        remote_backends("perf", Target("Linux"))


def _tool_sweep(server, out, backend, platform, counters):
    """``collect --backend BACKEND`` on ``server`` (one baseline and one counted run): (the counted
    run, metadata.json), its temporary directories there removed."""
    pmcsuite.collect(out=out, host=server.host, ssh_command=server.ssh_command, backend=backend, platform=platform,
                     counters=counters, **_one_run())
    df = pmcsuite.load(out)
    counted = df[df["variant"] == counters]
    assert df["ok"].all() and len(counted) == 1 and set(counted["backend"]) == {backend}
    assert set(counted["scope"]) == {"process"}
    assert not list(server.cache.glob("scratch-*"))
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["backend"] == backend and meta["host"]["via"]["cache_dir"] == str(server.cache)   # read there
    return counted, meta


def test_pmcstat_runs_on_the_target_around_its_benchmark(servers, install, tmp_path):
    server = servers[0]
    log = install(server, "pmcstat")
    counted, meta = _tool_sweep(server, tmp_path / "pmcstat", "pmcstat", "cortex-a8", "instr")
    # the stand-in's counts: zlib.crc32 of the event's name
    assert (counted["instructions"] == zlib.crc32(b"INSTR_EXECUTED")).all()
    assert (counted["cycles"] == zlib.crc32(b"CLOCK_CYCLES")).all()
    assert meta["tools"]["pmcstat"] == f"pmcstat ({server.bin / 'pmcstat'})"          # found there
    exe = meta["tools"]["ipcbench"]["path"]
    runs = [line for line in log.read_text().splitlines() if "--guard" in line]
    assert len(runs) == 1 and all(
        re.fullmatch(rf"-C -d -o {server.cache}/scratch-pmcstat\.\w+/pmcstat\.out -p INSTR_EXECUTED "
                     rf"-p CLOCK_CYCLES -- {exe} --guard -- {exe} .*", line) for line in runs), runs
    assert any(f"{server.cache}/scratch-probe." in line for line in log.read_text().splitlines())   # probed there


def test_dtrace_runs_on_the_target_with_its_script_there(servers, install, tmp_path):
    server = servers[0]
    log = install(server, "dtrace")
    counted, meta = _tool_sweep(server, tmp_path / "dtrace", "dtrace", "freebsd-kernel", "syscalls")
    # the stand-in's counts from the script's @counts keys and the benchmark's JSON
    assert (counted["syscalls_write"] == counted["writes"] + 1).all()
    assert (counted["syscalls_read"] == counted["reads"] + 7).all()
    assert meta["tools"]["dtrace"] == "dtrace: Sun D 1.13" and meta["host"]["via"]["ssh"] == server.host
    exe = meta["tools"]["ipcbench"]["path"]
    scratch = rf"{server.cache}/scratch-dtrace\.\w+"
    runs = [line for line in log.read_text().splitlines() if "--guard" in line]
    assert len(runs) == 1 and re.fullmatch(rf"-q -o {scratch}/agg\.out -s {scratch}/count\.d -c {exe} --guard -- "
                                           rf"{exe} .*", runs[0]), runs


def test_a_tool_missing_on_the_target_is_one_line_exit_3(servers, tmp_path, cli):
    server = servers[1]
    proc = cli("collect", "--host", server.host, "--ssh-command", server.ssh_command, "--backend", "pmcstat",
               "--platform", "cortex-a8", "--counters", "instr", "--out", tmp_path / "p", "--no-progress")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 3 and len(lines) == 1, proc.stderr
    assert f"pmcstat not found on {server.host}" in lines[0] and "usr.sbin/pmcstat" in lines[0]
    assert "kldload hwpmc" in lines[0]
    with pytest.raises(EnvironmentProblem, match=rf"dtrace not found on {server.host}: .*cddl/usr.sbin/dtrace.*"
                                                 "kldload dtraceall"):
        pmcsuite.collect(out=tmp_path / "d", host=server.host, ssh_command=server.ssh_command, backend="dtrace",
                         platform="freebsd-kernel", counters="syscalls",
                         **_one_run())


def test_the_targets_files_and_tools_through_ssh(servers, install):
    """What the tool backends use on a target: which, a scratch directory (removed on failure too),
    write and read there."""
    server = servers[1]
    install(server, "pmcstat")
    target = SshTarget(server.host, server.ssh_command)
    try:
        assert target.which("pmcstat") == str(server.bin / "pmcstat") and target.which("dtrace") is None
        with pytest.raises(PmcsuiteError, match="boom"):
            with target.scratch("test") as tmp:
                assert Path(tmp).parent == server.cache and Path(tmp).name.startswith("scratch-test.")
                target.write(f"{tmp}/script.d", "BEGIN\n{\n}\n")
                assert Path(tmp, "script.d").read_text() == "BEGIN\n{\n}\n"
                assert target.read(f"{tmp}/script.d") == "BEGIN\n{\n}\n" and target.read(f"{tmp}/none") is None
                raise PmcsuiteError("boom")
        assert not Path(tmp).exists()
    finally:
        target.close()


def test_check_on_a_remote_target(servers, tmp_path, cli):
    server = servers[0]
    proc = cli("check", "--host", server.host, "--ssh-command", server.ssh_command, "--counters", "syscalls", "--json")
    assert proc.returncode == 0, proc.stderr
    said = json.loads(proc.stdout)
    assert said["host"] == server.host and said["backend"] == ["inproc"] and "software" in said["platform"]
    assert {c["counter"]: c["status"] for c in said["counters"]}["syscalls_write"] == "available"
    assert not (server.cache / "sweep.lock").exists()                 # a check takes no sweep lock
    wrong = cli("check", "--host", f"root@127.0.0.1:{_free_port()}", "--ssh-command", server.ssh_command)
    assert wrong.returncode == 3 and wrong.stderr.count("\n") == 1 and "cannot reach" in wrong.stderr, wrong.stderr
    alone = cli("check", "--ssh-command", "ssh -p 22")
    assert alone.returncode == 2 and "go with --host" in alone.stderr
