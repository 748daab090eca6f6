"""`pmcsuite collect --host` against the emulated ARMv8 board: dropbear (Debian's arm64 packages) in
its initramfs, QEMU's user-mode network forwarding a free loopback port to its port 22, the system
ssh client with a key made for the boot and the host key the board made (StrictHostKeyChecking=yes).

The board boots once for the module (``server``); the collection runs through the CLI in a
subprocess, and what the result directory says of its host is compared with what the board itself
prints over SSH. In CI a missing need (QEMU, the images bin/install fetches, ssh, zig) fails these
tests; elsewhere it skips them (tests/needs.py). QEMU never outlives a test: the last tests check
that no QEMU child of this process is left, whatever way a boot ended."""
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from needs import HAVE_ZIG, require  # noqa: E402
from runcli import cli  # noqa: E402

import pmcsuite  # noqa: E402
from pmcsuite.collect import board as bd  # noqa: E402
from pmcsuite.errors import PmcsuiteError  # noqa: E402
from pmcsuite.results.store import ResultStore  # noqa: E402
from pmcsuite.collect.hostinfo import cpu_model_from_cpuinfo  # noqa: E402

pytestmark = [pytest.mark.board, pytest.mark.ssh]

SIZES, RUNS, TOTAL = (4096, 65536), 4, 1 << 20
SWEEP = ["--counters", "instr", "--ipc", "pipe", "--sizes", ",".join(map(str, SIZES)), "--runs", RUNS,
         "--processes", "2", "--total", "1M", "--no-progress"]


def _require_board():
    require(shutil.which(bd.QEMU), f"{bd.QEMU} not found: run bin/install")
    try:
        bd.images()
        bd.ssh_images()
    except PmcsuiteError as exc:
        require(False, str(exc))
    require(shutil.which("ssh") and shutil.which("ssh-keygen"), "the OpenSSH client is needed (bin/install adds it)")
    require(HAVE_ZIG, "cross-compiling the board's benchmark needs the ziglang wheel: pip install ziglang")


def _qemu_children(parent: int | None = None) -> list[int]:
    """Pids of QEMU processes whose parent is ``parent`` (default: this test process)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            comm, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
            if comm.startswith("qemu-system") and int(rest[1]) == (parent or os.getpid()):
                found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def server():
    _require_board()
    # One guest CPU, as tests/test_board.py: the counts per iteration barely move (and -icount runs
    # the guest's CPUs on one host thread anyway).
    with bd.serve(smp=1, timeout=90) as board:
        print(f"\nthe board answered SSH {board.boot_seconds:.2f} s after QEMU started")
        yield board


@pytest.fixture(scope="module")
def guest(server):
    """What the board says of itself, over plain ssh (not through pmcsuite)."""
    said = {}
    for name, argv in {"release": ["uname", "-r"], "machine": ["uname", "-m"], "cpuinfo": ["cat", "/proc/cpuinfo"],
                       "hostname": ["uname", "-n"]}.items():
        proc = server.ssh(argv)
        assert proc.returncode == 0, (argv, proc.stderr)
        said[name] = proc.stdout.strip()
    return said


@pytest.fixture(scope="module")
def sweep(server, tmp_path_factory):
    out = tmp_path_factory.mktemp("board") / "res"
    start = time.monotonic()
    proc = cli("collect", "--host", server.host, "--ssh-command", server.ssh_command, *SWEEP, "--out", out,
               timeout=600)
    wall = time.monotonic() - start
    assert proc.returncode == 0, f"{proc.stderr}\nconsole: {server.console.tail(12)}"
    print(f"\ncollect --host on the board: {wall:.2f} s")
    return out


def test_serve_gives_a_working_ssh_login(server, guest):
    assert server.host == f"root@127.0.0.1:{server.port}"
    assert "StrictHostKeyChecking=yes" in server.ssh_command          # the board's own host key is known
    assert guest["machine"] == "aarch64" and guest["hostname"] == bd.GUEST_HOSTNAME
    assert guest["release"] != os.uname().release                       # the board's kernel, not this one's
    assert server.boot_seconds < 60


def test_collect_on_the_board_records_the_boards_own_metadata(sweep, server, guest):
    meta = json.loads((sweep / "metadata.json").read_text())
    host = meta["host"]
    assert host["machine"] == "aarch64" and host["os"] == "Linux"
    assert host["kernel"] == guest["release"] and host["hostname"] == guest["hostname"]
    assert host["cpuinfo"].strip() == guest["cpuinfo"]
    assert host["cpu_model"] == cpu_model_from_cpuinfo(guest["cpuinfo"]) == "ARM Cortex-A57"
    assert host["cpus"] == 1 and host["perf_event_paranoid"] is not None and host["python"] is None
    assert host["via"]["ssh"] == server.host and host["via"]["cache_dir"] == "/root/.cache/pmcsuite"
    assert meta["platform"][0] == "armv8" and meta["backend"] == "inproc"
    bench = meta["tools"]["ipcbench"]
    assert bench["target"] == "aarch64-linux-musl" and bench["static"] and bench["copied"] is not None
    assert bench["path"].startswith(host["via"]["cache_dir"] + "/")


def test_collect_on_the_board_counts_instructions_and_cycles(sweep):
    df = pmcsuite.load(sweep)
    assert len(df) == len(SIZES) * 2 * RUNS and df["ok"].all()                 # 0 lost
    assert not df.duplicated(["ipc", "buffer_size", "variant", "run"]).any()   # 0 duplicated
    assert sorted(df["buffer_size"].unique()) == list(SIZES)
    assert (df.groupby(["buffer_size", "variant"]).size() == RUNS).all()
    counted = df[df["variant"] == "instr"]
    assert len(counted) == len(SIZES) * RUNS and (counted["scope"] == "actors").all()
    for cid in ("instructions", "cycles"):
        assert (counted[f"{cid}_status"] == "ok").all(), counted[f"{cid}_status"].tolist()
        assert (counted[cid] > 0).all()
    # Plausible: moving 1 MiB (writer + reader, user + kernel) took 1.1 M instructions in 64 KiB
    # writes and 1.75 M in 4 KiB writes here;
    # fewer than 0.1 or more than 50 per byte would be something else counted. Under -icount the
    # PMU's cycle counter counts instructions (tests/test_board.py).
    assert counted["instructions"].between(0.1 * TOTAL, 50 * TOTAL).all(), counted["instructions"].tolist()
    assert (counted["cycles"] == counted["instructions"]).all()
    medians = counted.groupby("buffer_size")["instructions"].median()
    print("\ninstructions per run (median):", {int(k): int(v) for k, v in medians.items()})
    baseline = df[df["variant"] == "baseline"]
    assert baseline["instructions"].isna().all()                                # baselines open no counter


def test_the_benchmark_is_copied_once_without_cksum_on_the_board(sweep, server, tmp_path):
    # Debian's busybox has no cksum applet: the copy there is recognised by its sha256sum.
    assert server.ssh(["sh", "-c", "command -v cksum"]).returncode != 0
    proc = cli("collect", "--host", server.host, "--ssh-command", server.ssh_command, "--backend", "none",
               "--ipc", "pipe", "--sizes", "64K", "--runs", "2", "--processes", "1", "--total", "256K",
               "--no-progress", "--out", tmp_path / "again", timeout=300)
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((tmp_path / "again" / "metadata.json").read_text())
    assert meta["tools"]["ipcbench"]["copied"] is False
    assert len(pmcsuite.load(tmp_path / "again")) == 2


def test_check_on_the_board_asks_its_pmu(server):
    """pmcsuite check --host: the board's platform from its own cpuinfo, and its PMU's answers."""
    proc = cli("check", "--host", server.host, "--ssh-command", server.ssh_command, "--counters", "instr", "--json",
               timeout=300)
    assert proc.returncode == 0, proc.stderr
    said = json.loads(proc.stdout)
    assert said["host"] == server.host and said["platform"][0] == "armv8" and said["backend"] == ["inproc"]
    status = {c["counter"]: c["status"] for c in said["counters"]}
    assert status["instructions"] == status["cycles"] == "available", said["counters"]
    text = cli("check", "--host", server.host, "--ssh-command", server.ssh_command, "--counters", "instr",
               timeout=300)
    assert text.returncode == 0 and text.stdout.startswith(f"host: {server.host}; platform: armv8"), text.stdout


# ------------------------------------------------------------------ QEMU never outlives a boot

def test_serve_kills_qemu_when_the_block_fails():
    _require_board()
    before = set(_qemu_children())                     # the module's board may be up
    with pytest.raises(RuntimeError, match="the test failed"):
        with bd.serve(smp=1, timeout=90) as board:
            pid = board.proc.pid
            raise RuntimeError("the test failed")
    assert not Path(f"/proc/{pid}").exists() and set(_qemu_children()) <= before


def test_serve_times_out_in_one_line_and_kills_qemu():
    _require_board()
    before = set(_qemu_children())
    with pytest.raises(PmcsuiteError, match=r"did not answer on 127\.0\.0\.1:\d+ within 0\.2 s \(QEMU killed\)") as exc:
        with bd.serve(smp=1, timeout=0.2):
            pass
    assert "\n" not in str(exc.value) and set(_qemu_children()) <= before


def test_serve_without_images_names_bin_install(tmp_path):
    with pytest.raises(PmcsuiteError, match="bin/install") as exc:
        with bd.serve(board_dir=tmp_path):
            pass
    assert "\n" not in str(exc.value)


def test_serve_command_until_ctrl_c():
    _require_board()
    proc = subprocess.Popen([sys.executable, "-m", "pmcsuite.collect.board", "serve", "--smp", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        assert "answers SSH on 127.0.0.1:" in lines[0], (lines, proc.stderr.read() if proc.poll() is not None else "")
        login = shlex.split(lines[1])                                  # the ssh line it prints, as a user runs it
        assert login[0] == "ssh" and lines[2].strip().startswith("pmcsuite collect --host root@127.0.0.1:")
        said = subprocess.run([*login, "-o", "BatchMode=yes", "uname", "-m"],
                              capture_output=True, text=True, timeout=60)
        assert said.returncode == 0 and said.stdout.strip() == "aarch64", said.stderr
        qemu = _qemu_children(proc.pid)
        assert len(qemu) == 1
        proc.send_signal(signal.SIGINT)                                # Ctrl-C powers it off
        assert proc.wait(30) == 0
        assert not Path(f"/proc/{qemu[0]}").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


# ---- the kernel profile on the board (issue 17): ipcbench samples its own loop there, the board's
# kallsyms names the frames, and nothing else (no perf) is needed on the target

@pytest.fixture(scope="module")
def profiled(server, tmp_path_factory):
    out = tmp_path_factory.mktemp("board-profile") / "res"
    proc = cli("collect", "--host", server.host, "--ssh-command", server.ssh_command, "--counters", "profile",
               "--ipc", "pipe", "--sizes", ",".join(map(str, SIZES)), "--runs", RUNS, "--processes", 2,
               "--total", "1M", "--no-progress", "--out", out, timeout=600)
    assert proc.returncode == 0, f"{proc.stderr}\nconsole: {server.console.tail(12)}"
    return out


def test_the_profile_on_the_board_names_the_boards_own_kernel_frames(profiled):
    df = pmcsuite.load(profiled)
    sampled = df[(df["variant"] == "profile") & df["ok"]]
    assert len(sampled) == len(SIZES) * RUNS
    columns = [c for c in df.columns if c.startswith("profile_") and f"{c}_status" in df.columns]
    assert {"profile_copy", "profile_sched", "profile_other", "profile_user"} <= set(columns)
    for cid in columns:
        assert (sampled[f"{cid}_status"] == "ok").all(), sampled[f"{cid}_status"].tolist()
    total = sampled[columns].sum(axis=1)
    assert (total > 0).all() and (sampled["profile_period_ns"] > 0).all()
    records = [r for r in ResultStore(profiled).read_runs() if r.get("profile")]
    frames = {f for r in records for stack in r["profile"]["folded"] for f in stack.split(";")[1:]}
    # arm64 system calls enter through el0_svc / invoke_syscall; pipe_write is the board kernel's own
    assert any(f.startswith("el0_svc") or f == "invoke_syscall" for f in frames), sorted(frames)[:40]
    assert "pipe_write" in frames or "anon_pipe_write" in frames, sorted(frames)[:40]
    assert all(sum(r["profile"]["folded"].values()) == sum(r["profile"]["samples"].values()) for r in records)
