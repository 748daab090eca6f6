"""ipcbench (native/ipcbench.c) and its wrapper pmcsuite.benchmark: built and run for real."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pmcsuite import benchmark as bm
from pmcsuite.errors import PmcsuiteError

MiB = 1 << 20
LINUX = sys.platform.startswith("linux")
CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("ipcbench-cache")


@pytest.fixture(scope="session")
def exe(cache):
    return bm.build(cache_dir=cache)


def run(exe, ipc, buffer_size, total=MiB, **kw):
    result = bm.run_bench(bm.bench_argv(exe, ipc, buffer_size, total, **kw), timeout=60)
    assert result["bytes_ok"] is True, result
    return result


def bucket_total(hist):
    return sum(hist.values())


# ------------------------------------------------------------------ every mode, both actor kinds

@pytest.mark.parametrize("actors", bm.ACTORS)
@pytest.mark.parametrize("ipc", bm.IPC_MODES)
def test_every_mode_moves_all_bytes(exe, ipc, actors):
    buffer_size = 64 * 1024
    r = run(exe, ipc, buffer_size, MiB, actors=actors, placement="any")
    assert (r["ipc"], r["actors"], r["placement"]) == (ipc, actors, "any")
    assert r["buffer_size"] == buffer_size and r["total_size"] == MiB
    assert r["writes"] == MiB // buffer_size
    assert r["write_sizes"] == {str(buffer_size): MiB // buffer_size}  # blocking writes complete whole
    assert r["reads"] >= r["writes"]  # the reader never asks for more than one buffer
    assert bucket_total(r["read_sizes"]) == r["reads"]
    # every return r sits in bucket 2^k <= r < 2^(k+1), and no read returns more than a buffer
    assert all(int(k) & (int(k) - 1) == 0 and int(k) <= buffer_size for k in r["read_sizes"])
    assert r["loop_ns"] > 0
    assert r["bandwidth"] == pytest.approx(MiB * 1e9 / r["loop_ns"], rel=1e-6)
    assert r["counting"] == "none"
    assert set(r["rusage"]) == {"minflt", "majflt", "nvcsw", "nivcsw", "utime_ns", "stime_ns"}
    for key in bm.ACTOR_TIME_KEYS:
        assert set(r[key]) == {"writer", "reader"}, key
    assert all(r["oncpu_ns"][role] + r["offcpu_ns"][role] == r["wall_ns"][role] for role in ("writer", "reader"))
    assert r["rusage"]["majflt"] == 0
    sockets = ipc not in ("pipe", "pipe-s")
    assert (r["buffers"]["sndbuf"] is not None) == sockets
    assert (r["buffers"]["rcvbuf"] is not None) == sockets
    assert (r["buffers"]["pipe_size"] is not None) == (not sockets and LINUX)


# ------------------------------------------------------------------ the Linux findings

@pytest.mark.skipif(not LINUX, reason="pipe capacity of 64 KiB is the Linux default")
def test_pipe_reads_are_capped_by_pipe_capacity(exe):
    r = run(exe, "pipe", MiB, 16 * MiB, placement="same")
    cap = r["buffers"]["pipe_size"]
    assert cap == 64 * 1024
    assert r["writes"] == 16
    assert r["reads"] >= 16 * MiB // cap == 256
    assert max(int(k) for k in r["read_sizes"]) <= cap


@pytest.mark.skipif(not LINUX, reason="F_SETPIPE_SZ is Linux only")
def test_pipe_s_resizes_the_pipe_up_to_pipe_max_size(exe):
    cap = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    r = run(exe, "pipe-s", MiB, 4 * MiB, placement="same")
    assert r["buffers"]["pipe_size"] == min(MiB, cap)
    small = run(exe, "pipe-s", 1024, MiB)
    assert small["buffers"]["pipe_size"] == os.sysconf("SC_PAGESIZE")  # the kernel's minimum: one page


@pytest.mark.skipif(not LINUX, reason="Linux doubles SO_SNDBUF and caps it at wmem_max")
def test_local_s_records_effective_socket_buffers(exe):
    wmem_max = int(Path("/proc/sys/net/core/wmem_max").read_text())
    rmem_max = int(Path("/proc/sys/net/core/rmem_max").read_text())
    r = run(exe, "local-s", MiB, 4 * MiB)
    b = r["buffers"]
    assert b["requested"] == MiB and b["forced"] is False
    assert b["sndbuf"] == 2 * min(MiB, wmem_max)
    assert b["rcvbuf"] == 2 * min(MiB, rmem_max)
    big = 2 * wmem_max  # more than the kernel grants without force
    r = run(exe, "local-s", big, big)
    assert r["buffers"]["sndbuf"] == 2 * wmem_max  # capped


@pytest.mark.skipif(not LINUX or os.geteuid() != 0, reason="SO_SNDBUFFORCE needs Linux and root")
def test_force_grants_socket_buffers_past_wmem_max(exe):
    big = 4 * int(Path("/proc/sys/net/core/wmem_max").read_text())
    r = run(exe, "local-s", big, big, force=True)
    assert r["buffers"]["forced"] is True
    assert r["buffers"]["sndbuf"] == 2 * big


def test_default_local_socket_buffers_are_not_the_buffer_size(exe):
    r = run(exe, "local", 4096, MiB)
    assert r["buffers"]["sndbuf"] > 0 and r["buffers"]["requested"] == 4096


# ------------------------------------------------------------------ per-actor off-CPU time

@pytest.mark.skipif(not LINUX, reason="CPU placement is checked on Linux")
@pytest.mark.parametrize("actors", bm.ACTORS)
def test_offcpu_time_on_one_cpu(exe, actors):
    """Both actors on one CPU: each waits while the other runs, so both are off-CPU for a good
    share of the loop; their CPU times together fit in the loop's wall time (one CPU)."""
    r = run(exe, "pipe", 64 * 1024, 16 * MiB, actors=actors, placement="same")
    loop = r["loop_ns"]
    wall, on, off = r["wall_ns"], r["oncpu_ns"], r["offcpu_ns"]
    for role in ("writer", "reader"):
        assert on[role] > 0 and off[role] > 0, (role, r)
        assert on[role] + off[role] == wall[role]                      # the definition
        # each actor's own window is the loop, give or take its start/stop skew
        assert 0.9 * loop <= wall[role] <= 1.05 * loop, (role, wall[role], loop)
    assert on["writer"] + on["reader"] <= 1.05 * loop                  # they share one CPU
    assert off["writer"] + off["reader"] >= 0.75 * loop                # so each waits for the other


@pytest.mark.skipif(not LINUX, reason="getrusage sums exact scheduler run time on Linux")
def test_oncpu_time_agrees_with_getrusage(exe):
    """The thread CPU clocks and getrusage(RUSAGE_THREAD) measure the same CPU time (the rusage
    window is a few clock reads wider)."""
    r = run(exe, "pipe", 4096, 4 * MiB, placement="same")
    clocks = r["oncpu_ns"]["writer"] + r["oncpu_ns"]["reader"]
    rusage = r["rusage"]["utime_ns"] + r["rusage"]["stime_ns"]
    assert clocks == pytest.approx(rusage, rel=0.10, abs=1_000_000), (clocks, rusage)


# ------------------------------------------------------------------ placement

@pytest.mark.skipif(not LINUX, reason="sched_getcpu is read on Linux only")
@pytest.mark.parametrize("actors", bm.ACTORS)
def test_placement_same_puts_both_actors_on_one_cpu(exe, actors):
    r = run(exe, "pipe", 64 * 1024, MiB, actors=actors, placement="same")
    cpus = r["cpus"]
    assert cpus["writer"][0] == cpus["writer"][1] == cpus["reader"][0] == cpus["reader"][1] == CPUS[0]
    chosen = run(exe, "pipe", 64 * 1024, MiB, actors=actors, placement="same", cpus=CPUS[-1])
    assert chosen["cpus"] == {"writer": [CPUS[-1]] * 2, "reader": [CPUS[-1]] * 2}


@pytest.mark.skipif(not LINUX or len(CPUS) < 2, reason="needs Linux and two CPUs")
def test_placement_split_uses_two_cpus(exe):
    r = run(exe, "local", 64 * 1024, MiB, placement="split", cpus=(CPUS[1], CPUS[0]))
    assert r["cpus"] == {"writer": [CPUS[1]] * 2, "reader": [CPUS[0]] * 2}


# ------------------------------------------------------------------ errors of the C program

@pytest.mark.parametrize("args, message", [
    (["-b", "3000"], "total size 16777216 is not a multiple of the buffer size 3000"),
    (["-b", "0"], "invalid buffer size '0'"),
    (["-b", "12Q"], "invalid buffer size '12Q'"),
    (["-t", "-5"], "invalid total size '-5'"),
    (["-i", "carrier-pigeon"], "unknown IPC mode 'carrier-pigeon'"),
    (["-a", "3thread"], "unknown actors mode '3thread'"),
    (["-p", "elsewhere"], "unknown placement 'elsewhere'"),
    (["-p", "any", "-c", "0"], "-c needs -p same"),
    (["--ctl-fifo", "/tmp/x"], "--ctl-fifo and --ack-fifo go together"),
    (["-z"], "unknown option -z"),
])
def test_usage_errors_exit_2_with_one_line(exe, args, message):
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ipcbench: error: ") and message in lines[0], proc.stderr


def test_runtime_error_exits_1(exe):
    proc = subprocess.run([str(exe), "-p", "same", "-c", "4000", "-b", "64K", "-t", "64K"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and "cannot pin to CPU 4000" in proc.stderr


def test_help_exits_0(exe):
    proc = subprocess.run([str(exe), "-h"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and "usage: ipcbench" in proc.stdout


def test_run_bench_reports_the_error_line(exe):
    with pytest.raises(PmcsuiteError, match=r"exit 2\): ipcbench: error: unknown IPC mode 'x'"):
        bm.run_bench([str(exe), "-i", "x"])


# ------------------------------------------------------------------ bench_argv

def test_bench_argv(exe):
    argv = bm.bench_argv(exe, "local-s", "64K", "16M", "2proc", "split", force=True, cpus=[0, 1])
    assert argv == [str(exe), "-i", "local-s", "-a", "2proc", "-p", "split", "-b", "65536",
                    "-t", "16777216", "-f", "-c", "0,1"]
    argv = bm.bench_argv("x", "pipe", 4096, ctl_fifo="/c", ack_fifo="/a")
    assert argv[-4:] == ["--ctl-fifo", "/c", "--ack-fifo", "/a"] and "-t" in argv and "-p" in argv


@pytest.mark.parametrize("kwargs, message", [
    (dict(ipc="pipe", buffer_size=3000), "total size 16M is not a multiple of the buffer size 3000"),
    (dict(ipc="fifo", buffer_size=4096), "unknown IPC mode 'fifo': use one of pipe, pipe-s, local, local-s, tcp, tcp-s"),
    (dict(ipc="pipe", buffer_size=4096, actors="3proc"), "use one of 2thread, 2proc"),
    (dict(ipc="pipe", buffer_size=4096, placement="far"), "use one of same, split, any"),
    (dict(ipc="pipe", buffer_size="0"), "invalid size"),
    (dict(ipc="pipe", buffer_size=4096, placement="any", cpus=0), "placement same"),
    (dict(ipc="pipe", buffer_size=4096, placement="split", cpus=[1, 1]), "2 different CPU"),
    (dict(ipc="pipe", buffer_size=4096, ctl_fifo="/c"), "give both or neither"),
])
def test_bench_argv_rejects_bad_input(kwargs, message):
    with pytest.raises(PmcsuiteError, match=message.replace("(", r"\(")) as info:
        bm.bench_argv("ipcbench", **kwargs)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------ run_bench failure modes

def test_run_bench_crash_is_an_error():
    argv = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]
    with pytest.raises(PmcsuiteError, match="crashed: killed by SIGSEGV"):
        bm.run_bench(argv, timeout=30)


def test_run_bench_hang_kills_the_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    script = ("import subprocess, sys, time\n"
              "p = subprocess.Popen(['sleep', '60'])\n"
              f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
              "time.sleep(60)\n")
    start = time.monotonic()
    with pytest.raises(PmcsuiteError, match=r"hung: no result after 1 s, killed"):
        bm.run_bench([sys.executable, "-c", script], timeout=1.0)
    assert time.monotonic() - start < 10
    child = int(pidfile.read_text())
    for _ in range(100):  # the grandchild was killed with its group (give the kernel a moment to reap)
        state = Path(f"/proc/{child}/stat")
        if not state.exists() or state.read_text().split(") ")[1].startswith("Z"):
            break
        time.sleep(0.02)
    else:
        pytest.fail(f"grandchild {child} survived the timeout")


def test_run_bench_garbage_and_error_exit():
    with pytest.raises(PmcsuiteError, match="garbage"):
        bm.run_bench([sys.executable, "-c", "print('hello, world')"], timeout=30)
    with pytest.raises(PmcsuiteError, match="printed nothing"):
        bm.run_bench([sys.executable, "-c", "pass"], timeout=30)
    with pytest.raises(PmcsuiteError, match=r"failed \(exit 1\): ipcbench: error: boom"):
        bm.run_bench([sys.executable, "-c", "import sys; sys.stderr.write('noise\\nipcbench: error: boom\\n'); sys.exit(1)"])
    with pytest.raises(PmcsuiteError, match="cannot run the benchmark"):
        bm.run_bench(["/nonexistent/ipcbench"])


SAMPLE = {
    "tool": "ipcbench", "version": 1, "ipc": "pipe", "actors": "2thread", "placement": "same",
    "buffer_size": 65536, "total_size": 16777216, "loop_ns": 2345678, "bandwidth": 7152557824.0,
    "writes": 256, "reads": 256, "write_sizes": {"65536": 256}, "read_sizes": {"4096": 1, "65536": 255},
    "buffers": {"requested": 65536, "sndbuf": None, "rcvbuf": None, "pipe_size": 65536, "forced": False},
    "rusage": {"minflt": 0, "majflt": 0, "nvcsw": 10, "nivcsw": 1, "utime_ns": 1000, "stime_ns": 2000000},
    "cpus": {"writer": [0, 0], "reader": [0, 0]}, "counting": "loop", "bytes_ok": True,
}


def test_parse_bench_output():
    assert bm.parse_bench_output(json.dumps(SAMPLE) + "\n") == SAMPLE
    for broken, message in [
        ({k: v for k, v in SAMPLE.items() if k != "reads"}, "lacks reads"),
        ({**SAMPLE, "rusage": {"minflt": 0}}, "lacks rusage.majflt"),
        ({**SAMPLE, "tool": "other"}, "not an ipcbench result"),
        ({**SAMPLE, "version": 2}, "version 2"),
        ({**SAMPLE, "loop_ns": "fast"}, "non-numeric loop_ns"),
    ]:
        with pytest.raises(PmcsuiteError, match=message):
            bm.parse_bench_output(json.dumps(broken))
    with pytest.raises(PmcsuiteError, match="garbage"):
        bm.parse_bench_output(json.dumps(SAMPLE) + json.dumps(SAMPLE))
    timed = {**SAMPLE, "wall_ns": {"writer": 9, "reader": 8}, "oncpu_ns": {"writer": 4, "reader": 5},
             "offcpu_ns": {"writer": 5, "reader": 3}}
    assert bm.parse_bench_output(json.dumps(timed)) == timed           # optional, validated keys
    for broken, message in [
        ({**timed, "offcpu_ns": {"writer": 5}}, "non-numeric offcpu_ns.reader"),
        ({**timed, "oncpu_ns": [1, 2]}, "non-numeric oncpu_ns.writer, oncpu_ns.reader"),
        ({**timed, "wall_ns": {"writer": True, "reader": 1}}, "non-numeric wall_ns.writer"),
    ]:
        with pytest.raises(PmcsuiteError, match=message):
            bm.parse_bench_output(json.dumps(broken))


# ------------------------------------------------------------------ build and cache

def test_build_is_cached(exe, cache, monkeypatch):
    mtime = exe.stat().st_mtime_ns
    monkeypatch.setattr(bm, "_compile", lambda *a, **k: pytest.fail("compiled again"))
    assert bm.build(cache_dir=cache) == exe
    assert exe.stat().st_mtime_ns == mtime
    info = bm.build_info(cache_dir=cache)
    assert info["source_sha256"] == __import__("hashlib").sha256(bm.source_path().read_bytes()).hexdigest()
    assert info["static"] == ("-static" in info["flags"]) and info["compiler_version"]
    assert not [p for p in cache.iterdir() if p.name.startswith(".ipcbench-")]  # no temporary left behind


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PMCSUITE_CACHE", str(tmp_path / "a"))
    assert bm.default_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("PMCSUITE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert bm.default_cache_dir() == tmp_path / "x" / "pmcsuite"


def test_no_compiler(monkeypatch, tmp_path):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(PmcsuiteError, match=r"no C compiler found: install gcc \(apt-get install gcc\) or set CC"):
        bm.build(cache_dir=tmp_path)


def fake_compiler(tmp_path, body):
    """A stand-in compiler: a Python script answering --version and running BODY otherwise."""
    path = tmp_path / "fakecc"
    path.write_text(f"#!{sys.executable}\nimport subprocess, sys\n"
                    "if sys.argv[1:] == ['--version']:\n    print('fakecc 1.0'); sys.exit(0)\n" + body)
    path.chmod(0o755)
    return str(path)


def test_compiler_error_gives_first_error_line(tmp_path):
    cc = fake_compiler(tmp_path, "sys.stderr.write('ipcbench.c: In function main:\\n"
                                 "ipcbench.c:3:1: error: expected ; before }\\nipcbench.c:9:1: error: later\\n')\n"
                                 "sys.exit(1)\n")
    with pytest.raises(PmcsuiteError, match=r"failed: ipcbench.c:3:1: error: expected ; before }$"):
        bm.build(cc=cc, cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").iterdir())  # nothing half-built is left in the cache


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc for the dynamic fallback")
def test_static_link_failure_falls_back_to_dynamic(tmp_path):
    cc = fake_compiler(tmp_path, "if '-static' in sys.argv:\n    sys.stderr.write('ld: cannot find -lc\\n'); sys.exit(1)\n"
                                 "sys.exit(subprocess.call(['gcc', *sys.argv[1:]]))\n")
    cache = tmp_path / "cache"
    exe = bm.build(cc=cc, cache_dir=cache)
    info = bm.build_info(cc=cc, cache_dir=cache)
    assert info["static"] is False and "-static" not in info["flags"] and info["compiler_version"] == "fakecc 1.0"
    assert bm.run_bench(bm.bench_argv(exe, "pipe", 4096, MiB, placement="any"))["bytes_ok"] is True


def test_bench_convenience(monkeypatch, cache):
    monkeypatch.setenv("PMCSUITE_CACHE", str(cache))
    r = bm.bench("local", "16K", "1M")
    assert r["ipc"] == "local" and r["writes"] == 64 and r["placement"] == "same"


# ------------------------------------------------------------------ loop-only counting with perf

def test_perf_control_fifo_counts_only_the_loop(exe, tmp_path):
    """perf stat --delay=-1 --control: counting starts at "enable" and stops at "disable".

    Inside that window, besides the loop's total/buffer write()s, exactly two write()s happen:
    the controller's "go" bytes to the actors and its "disable" command to perf's fifo (the
    "enable" write entered the kernel before counting started). The JSON output comes later and
    must not be counted.
    """
    if shutil.which("perf") is None:
        pytest.skip("perf is not installed")
    ctl, ack = tmp_path / "ctl", tmp_path / "ack"
    os.mkfifo(ctl)
    os.mkfifo(ack)
    for actors in bm.ACTORS:
        argv = ["perf", "stat", "-j", "--delay=-1", f"--control=fifo:{ctl},{ack}", "-e", "syscalls:sys_enter_write",
                "--", *bm.bench_argv(exe, "pipe", 4096, MiB, actors=actors, ctl_fifo=ctl, ack_fifo=ack)]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env={**os.environ, "LC_ALL": "C"})
        assert proc.returncode == 0, proc.stderr
        result = bm.parse_bench_output(proc.stdout)
        assert result["counting"] == "loop" and result["bytes_ok"]
        counts = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
        assert counts, f"perf printed no JSON count: {proc.stderr}"
        value = counts[0]["counter-value"]
        if value == "<not supported>":      # no tracefs or not root: this machine cannot count it
            pytest.skip(f"syscalls:sys_enter_write is {value} here (needs tracefs and root)")
        # "<not counted>" is what perf prints when the "enable" command never arrived: a failure
        assert not value.startswith("<"), f"{actors}: perf counted nothing ({value}): was 'enable' sent?"
        assert MiB // 4096 <= float(value) <= MiB // 4096 + 2, (actors, value)
