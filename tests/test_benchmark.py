"""ipcbench (native/ipcbench.c) and its wrapper pmcsuite.collect.benchmark: built and run for real."""
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nobody  # noqa: E402
from needs import LINUX, needs, require, require_tracepoints  # noqa: E402

from pmcsuite.collect import benchmark as bm
from pmcsuite.errors import EnvironmentProblem, PmcsuiteError

pytestmark = pytest.mark.e2e

MiB = 1 << 20
CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


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
    assert r["counting"] == "none" and r["counters"] == {}
    assert (r["version"], r["iteration"], r["iterations"]) == (2, 0, 1)
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
    slack = 0.05 * loop + 20_000_000       # clock-read skew, and a preemption (another task's slice) under load
    for role in ("writer", "reader"):
        assert on[role] > 0 and off[role] > 0, (role, r)
        assert on[role] + off[role] == wall[role]                      # the definition
        assert 0 < wall[role] <= loop + slack, (role, wall[role], loop)  # an actor's window lies in the loop
    # the two windows cover the loop (the reader starts before the writer's last write); a late
    # start (the actor waited for the CPU) shortens one window, never both
    assert wall["writer"] + wall["reader"] >= loop - slack, (wall, loop)
    assert on["writer"] + on["reader"] <= loop + slack                 # they share one CPU
    # where the windows overlap, one CPU runs at most one of them: the other is off-CPU
    overlap = wall["writer"] + wall["reader"] - loop
    assert off["writer"] + off["reader"] >= overlap - slack, (off, overlap)


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
    (["-e", "w=syscalls:sys_enter_write", "--ctl-fifo", "/c", "--ack-fifo", "/a"],
     "-e and --ctl-fifo exclude each other"),
    (["-n", "2", "--ctl-fifo", "/c", "--ack-fifo", "/a"], "--ctl-fifo needs -n 1"),
    (["-n", "0"], "invalid iteration count '0'"),
    (["--iterations", "100001"], "invalid iteration count '100001'"),
    (["-n", "3x"], "invalid iteration count '3x'"),
    (["-e", "instructions"], "invalid -e 'instructions': write -e ID=SPEC"),
    (["-e", "Instr=instructions"], "invalid -e 'Instr=instructions'"),
    (["-e", "a=instructions", "-e", "a=cycles"], "the id 'a' is given twice"),
    (["-e", "x=instructions,cycles"], "invalid event spec in -e 'x=instructions,cycles'"),
    (["-e", "x=no-such-event"], "invalid event spec in -e 'x=no-such-event': one event, no commas; accepted forms: "),
    (["-e", "x=L1-icache-stores"], "invalid event spec in -e 'x=L1-icache-stores'"),
    (["-e", "x=rXYZ"], "invalid event spec in -e 'x=rXYZ'"),
    (["-e", "x=cpu/umask=0x1/"], "invalid event spec in -e 'x=cpu/umask=0x1/'"),
    (["-e", "x=cpu/event=0x3c"], "invalid event spec in -e 'x=cpu/event=0x3c'"),
    (["-e", "x=sys calls:x"], "invalid event spec"),
    (["-e", "x=syscalls:"], "invalid event spec in -e 'x=syscalls:'"),
    (["-z"], "unknown option -z"),
    (["--points", "pipe:4K:2", "-i", "pipe"], "--points cannot be combined with -i, -b or -n"),
    (["-b", "4K", "--points", "pipe:4K:2"], "--points cannot be combined with -i, -b or -n"),
    (["--points", "pipe:4K:2", "-n", "1"], "--points cannot be combined with -i, -b or -n"),
    (["--points", "pipe:4K:2,local:3000:1"],
     "--points item 2 'local:3000:1': total size 16777216 is not a multiple of the buffer size 3000"),
    (["-t", "1M", "--points", "pipe:4K:2,local:2M:1"],
     "--points item 2 'local:2M:1': total size 1048576 is not a multiple of the buffer size 2097152"),
    (["--points", "pipe:4K:2,,local:4K:1"], "invalid --points item 2 '': write IPC:SIZE:N"),
    (["--points", "pipe:4K:2,"], "invalid --points item 2 '': write IPC:SIZE:N"),
    (["--points", ""], "invalid --points item 1 '': write IPC:SIZE:N"),
    (["--points", "pipe:4K"], "invalid --points item 1 'pipe:4K': write IPC:SIZE:N"),
    (["--points", "pipe:4K:1:1"], "invalid --points item 1 'pipe:4K:1:1'"),
    (["--points", "local:4K:0"], "--points item 1 'local:4K:0': invalid iteration count '0'"),
    (["--points", "local:4K:100001"], "--points item 1 'local:4K:100001': invalid iteration count '100001'"),
    (["--points", "pipe:4K:1,fifo:4K:1"], "--points item 2 'fifo:4K:1': unknown IPC mode 'fifo'"),
    (["--points", "pipe:0:1"], "--points item 1 'pipe:0:1': invalid buffer size '0'"),
    (["--points", ",".join(["pipe:4K:1"] * 4097)], "too many --points items: at most 4096"),
    (["--points", "pipe:4K:2", "--ctl-fifo", "/c", "--ack-fifo", "/a"], "--ctl-fifo needs -n 1"),
    (["--points"], "option --points needs a value"),
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
    (dict(ipc="fifo", buffer_size=4096),
     "unknown IPC mode 'fifo': use one of pipe, pipe-s, local, local-s, tcp, tcp-s"),
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
        bm.run_bench([sys.executable, "-c",
                      "import sys; sys.stderr.write('noise\\nipcbench: error: boom\\n'); sys.exit(1)"])
    with pytest.raises(PmcsuiteError, match="cannot run the benchmark"):
        bm.run_bench(["/nonexistent/ipcbench"])


#: one version-1 ipcbench result (also the fuzzer's seed: bench/fuzz_parsers.py)
SAMPLE = json.loads((Path(__file__).resolve().parent / "fixtures" / "ipcbench_v1.json").read_text())


def test_parse_bench_output():
    assert bm.parse_bench_output(json.dumps(SAMPLE) + "\n") == SAMPLE
    for broken, message in [
        ({k: v for k, v in SAMPLE.items() if k != "reads"}, "lacks reads"),
        ({**SAMPLE, "rusage": {"minflt": 0}}, "lacks rusage.majflt"),
        ({**SAMPLE, "tool": "other"}, "not an ipcbench result"),
        ({**SAMPLE, "version": 3}, "version 3 is not supported"),
        ({**SAMPLE, "version": 2}, "lacks iteration, iterations, counters"),
        ({**SAMPLE, "loop_ns": "fast"}, "non-numeric loop_ns"),
    ]:
        with pytest.raises(PmcsuiteError, match=message):
            bm.parse_bench_output(json.dumps(broken))
    with pytest.raises(PmcsuiteError, match="garbage"):
        bm.parse_bench_output(json.dumps(SAMPLE) + json.dumps(SAMPLE))
    with pytest.raises(PmcsuiteError, match="printed 2 results, expected one"):
        bm.parse_bench_output(json.dumps(SAMPLE) + "\n" + json.dumps(SAMPLE))
    assert bm.parse_bench_output(json.dumps(SAMPLE, indent=1)) == SAMPLE   # version 1 spanned lines
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

def test_build_is_cached(exe, bench_cache, monkeypatch):
    mtime = exe.stat().st_mtime_ns
    monkeypatch.setattr(bm, "_compile", lambda *a, **k: pytest.fail("compiled again"))
    assert bm.build(cache_dir=bench_cache) == exe
    assert exe.stat().st_mtime_ns == mtime
    info = bm.build_info(cache_dir=bench_cache)
    assert info["source_sha256"] == __import__("hashlib").sha256(bm.source_path().read_bytes()).hexdigest()
    assert info["static"] == ("-static" in info["flags"]) and info["compiler_version"]
    assert not [p for p in bench_cache.iterdir() if p.name.startswith(".ipcbench-")]  # no temporary left behind


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


@needs(shutil.which("gcc") is not None, "needs gcc for the dynamic fallback (bin/install adds it)")
def test_static_link_failure_falls_back_to_dynamic(tmp_path):
    cc = fake_compiler(tmp_path,
                       "if '-static' in sys.argv:\n    sys.stderr.write('ld: cannot find -lc\\n'); sys.exit(1)\n"
                       "sys.exit(subprocess.call(['gcc', *sys.argv[1:]]))\n")
    cache = tmp_path / "cache"
    exe = bm.build(cc=cc, cache_dir=cache)
    info = bm.build_info(cc=cc, cache_dir=cache)
    assert info["static"] is False and "-static" not in info["flags"] and info["compiler_version"] == "fakecc 1.0"
    assert bm.run_bench(bm.bench_argv(exe, "pipe", 4096, MiB, placement="any"))["bytes_ok"] is True


def test_bench_convenience(monkeypatch, bench_cache):
    monkeypatch.setenv("PMCSUITE_CACHE", str(bench_cache))
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
    require(shutil.which("perf") is not None, "perf is not installed (bin/install adds it)")
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
        # no tracefs or not root: this machine cannot count it
        require(value != "<not supported>", f"syscalls:sys_enter_write is {value} here (needs tracefs and root)")
        # "<not counted>" is what perf prints when the "enable" command never arrived: a failure
        assert not value.startswith("<"), f"{actors}: perf counted nothing ({value}): was 'enable' sent?"
        assert MiB // 4096 <= float(value) <= MiB // 4096 + 2, (actors, value)


# ------------------------------------------------------------------ iterations (-n)

SAMPLE2 = {**SAMPLE, "version": 2, "iteration": 0, "iterations": 1, "counting": "actors", "counters": {
    "w": {"event": "syscalls:sys_enter_write", "status": "ok", "value": 256, "reason": None,
          "writer": {"status": "ok", "value": 256, "enabled": 10, "running": 10},
          "reader": {"status": "ok", "value": 0, "enabled": 9, "running": 9}},
    "i": {"event": "instructions", "status": "not_supported", "value": None, "reason": "no PMU",
          "writer": {"status": "not_supported", "value": None, "enabled": None, "running": None},
          "reader": {"status": "not_supported", "value": None, "enabled": None, "running": None}}}}


@pytest.mark.parametrize("actors", bm.ACTORS)
def test_iterations_print_one_line_each(exe, actors):
    argv = bm.bench_argv(exe, "local", 16 * 1024, MiB, actors=actors, placement="any", iterations=3)
    assert argv[-2:] == ["-n", "3"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 3                       # one object per line, no embedded newlines
    results = [json.loads(line) for line in lines]
    assert [r["iteration"] for r in results] == [0, 1, 2]
    assert all(r["iterations"] == 3 and r["bytes_ok"] is True and r["writes"] == 64 for r in results)
    assert bm.parse_bench_lines(proc.stdout) == results
    assert bm.run_bench_lines(argv, timeout=60)[2]["iteration"] == 2
    with pytest.raises(PmcsuiteError, match="printed 3 results, expected one"):
        bm.run_bench(argv, timeout=60)


def test_iterations_are_printed_as_they_end(exe):
    """Each line is flushed when its iteration ends: the first arrives long before the last."""
    argv = bm.bench_argv(exe, "pipe", 4096, 16 * MiB, placement="any", iterations=60)
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
        first = proc.stdout.readline()
        still_running = proc.poll() is None          # 59 iterations (~0.5 s) are still to come
        rest = proc.stdout.read()
    assert proc.returncode == 0 and json.loads(first)["iteration"] == 0 and len(rest.splitlines()) == 59
    assert still_running


def test_each_iteration_gets_a_fresh_ipc_object(exe):
    """A fresh pipe per iteration: -i pipe-s resizes each one, and each starts empty (its reads
    are all full-buffer reads of the pipe capacity, as for one iteration)."""
    results = bm.run_bench_lines(bm.bench_argv(exe, "pipe-s", 16 * 1024, MiB, iterations=3), timeout=60)
    assert all(r["buffers"]["pipe_size"] == 16 * 1024 and r["bytes_ok"] for r in results)


# ------------------------------------------------------------------ counting in the actors (-e)

SOFT_EVENTS = {"task_clock": "task-clock", "page_faults": "page-faults", "ctx": "context-switches",
               "sc_write": "syscalls:sys_enter_write", "sc_read": "syscalls:sys_enter_read",
               "sc_all": "raw_syscalls:sys_enter"}


def counted(exe, ipc, size, total, actors, events, iterations=1, placement="same"):
    argv = bm.bench_argv(exe, ipc, size, total, actors=actors, placement=placement, iterations=iterations,
                         events=events)
    results = bm.run_bench_lines(argv, timeout=120)
    assert len(results) == iterations
    for r in results:
        assert r["bytes_ok"] is True and r["counting"] == "actors" and r["version"] == 2
        assert list(r["counters"]) == list(events)
        for ident, spec in events.items():
            assert r["counters"][ident]["event"] == spec
    return results


@pytest.mark.parametrize("actors", bm.ACTORS)
@pytest.mark.parametrize("ipc", ["pipe", "local", "local-s"])
@pytest.mark.parametrize("size", [4096, 65536, MiB])
def test_actors_count_exactly_their_own_system_calls(exe, ipc, size, actors):
    """Each actor counts itself: its write()s or read()s exactly, plus the one disabling ioctl."""
    require_tracepoints()
    for r in counted(exe, ipc, size, 4 * MiB, actors, SOFT_EVENTS, iterations=2):
        c = r["counters"]
        for ident in SOFT_EVENTS:
            assert c[ident]["status"] == "ok" and c[ident]["reason"] is None, c[ident]
            for role in ("writer", "reader"):
                actor = c[ident][role]
                assert actor["status"] == "ok" and actor["enabled"] == actor["running"] > 0, (ident, role, actor)
            assert c[ident]["value"] == c[ident]["writer"]["value"] + c[ident]["reader"]["value"]
        writes, reads = r["writes"], r["reads"]
        assert writes == 4 * MiB // size and reads >= writes
        assert (c["sc_write"]["writer"]["value"], c["sc_write"]["reader"]["value"]) == (writes, 0), r
        assert (c["sc_read"]["writer"]["value"], c["sc_read"]["reader"]["value"]) == (0, reads), r
        assert c["sc_write"]["value"] == writes and c["sc_read"]["value"] == reads
        # besides the loop, only the disabling ioctl (one group per actor) enters the kernel
        assert c["sc_all"]["writer"]["value"] == writes + 1, r
        assert c["sc_all"]["reader"]["value"] == reads + 1, r
        assert c["sc_all"]["value"] == writes + reads + 2
        for role in ("writer", "reader"):
            # task-clock: the time the actor ran with its counters on (which is their enabled time)
            assert 0 < c["task_clock"][role]["value"] == c["task_clock"][role]["enabled"], (role, r)
            assert c["page_faults"][role]["value"] <= 4            # buffers were pre-faulted
        if ipc == "pipe":  # both on one CPU with a 64 KiB pipe: the actors take turns
            assert c["ctx"]["writer"]["value"] >= 1 and c["ctx"]["reader"]["value"] >= 1


def test_unknown_tracepoint_and_missing_pmu_are_not_supported(exe):
    require_tracepoints()
    events = {"nope": "syscalls:sys_enter_no_such_call", "pmu": "nosuchpmu/event=0x11/", "ok": "task-clock"}
    r = counted(exe, "pipe", 65536, MiB, "2thread", events)[0]
    for ident, word in [("nope", "does not exist"), ("pmu", "PMU 'nosuchpmu'")]:
        entry = r["counters"][ident]
        assert entry["status"] == "not_supported" and entry["value"] is None and word in entry["reason"], entry
        assert entry["writer"] == entry["reader"] == {"status": "not_supported", "value": None, "enabled": None,
                                                      "running": None}
    assert r["counters"]["ok"]["status"] == "ok"        # the others still count


def host_has_cpu_pmu():
    devices = Path("/sys/bus/event_source/devices")
    names = [p.name for p in devices.iterdir()] if devices.is_dir() else []
    return any(n in ("cpu", "cpu_core", "cpu_atom") or n.startswith("armv") for n in names)


@pytest.mark.parametrize("actors", bm.ACTORS)
def test_hardware_events_without_a_pmu_are_not_supported(exe, actors):
    require(LINUX, "perf_event_open needs Linux")
    events = {"instr": "instructions", "l1d": "L1-dcache-load-misses", "raw": "r08", "sw": "task-clock"}
    r = counted(exe, "pipe", 65536, MiB, actors, events)[0]
    for ident in ("instr", "l1d", "raw"):
        entry = r["counters"][ident]
        if host_has_cpu_pmu():
            assert entry["status"] in ("ok", "permission_denied", "not_counted", "multiplexed"), entry
            if entry["status"] == "ok":
                assert entry["value"] > 0
        else:   # never a 0 for a counter that did not count
            assert entry["status"] == "not_supported" and entry["value"] is None, entry
            assert "does not support" in entry["reason"]
            assert entry["writer"]["value"] is None and entry["reader"]["value"] is None
    assert r["counters"]["sw"]["status"] in ("ok", "permission_denied")


def test_permission_denied_names_perf_event_paranoid(exe, tmp_path):
    """As an unprivileged user, counting kernel time (exclude_kernel 0) needs perf_event_paranoid < 2."""
    require(LINUX, "perf_event_open needs Linux")
    require(os.geteuid() == 0, "switching to an unprivileged user needs root")
    paranoid = int(Path("/proc/sys/kernel/perf_event_paranoid").read_text())
    out = run_as_nobody(exe, lambda copy: bm.bench_argv(copy, "pipe", 65536, MiB, events={
        "tc": "task-clock", "tp": "syscalls:sys_enter_write"}))
    entry = out["counters"]["tc"]
    if paranoid >= 2:
        assert entry["status"] == "permission_denied" and entry["value"] is None, entry
        assert f"kernel.perf_event_paranoid is {paranoid}" in entry["reason"]
        assert "run as root or lower it" in entry["reason"]
    else:
        assert entry["status"] == "ok" and entry["value"] > 0
    tp = out["counters"]["tp"]
    assert tp["status"] in ("permission_denied", "ok") and (tp["value"] is None) == (tp["status"] != "ok")


# ------------------------------------------------------------------ Python validators

def test_bench_argv_iterations_and_events():
    argv = bm.bench_argv("x", "pipe", 4096, iterations=5,
                         events={"instr": "instructions", "sc_w": "syscalls:sys_enter_write"})
    assert argv[-6:] == ["-n", "5", "-e", "instr=instructions", "-e", "sc_w=syscalls:sys_enter_write"]
    assert "-n" not in bm.bench_argv("x", "pipe", 4096, iterations=1)


@pytest.mark.parametrize("kwargs, message", [
    (dict(iterations=0), "invalid iteration count 0"),
    (dict(iterations=100001), "invalid iteration count 100001"),
    (dict(iterations=2.0), "invalid iteration count 2.0"),
    (dict(iterations=True), "invalid iteration count True"),
    (dict(events={"Instr": "instructions"}), "invalid event id 'Instr'"),
    (dict(events={"a-b": "instructions"}), "invalid event id 'a-b'"),
    (dict(events={"a": "instructions,cycles"}), "invalid event spec 'instructions,cycles' for a"),
    (dict(events={"a": "L1 dcache"}), "invalid event spec 'L1 dcache'"),
    (dict(events={"a": ""}), "invalid event spec ''"),
    (dict(events={f"e{i}": "cycles" for i in range(33)}), "at most 32"),
    (dict(events=["cycles"]), "events must be a dict"),
    (dict(events={"a": "cycles"}, ctl_fifo="/c", ack_fifo="/a"), "exclude each other"),
    (dict(iterations=2, ctl_fifo="/c", ack_fifo="/a"), "need iterations=1"),
])
def test_bench_argv_rejects_bad_counting_input(kwargs, message):
    with pytest.raises(PmcsuiteError, match=message.replace("(", r"\(")) as info:
        bm.bench_argv("ipcbench", "pipe", 4096, **kwargs)
    assert "\n" not in str(info.value)


def test_parse_bench_lines_version_2():
    assert bm.parse_bench_lines(json.dumps(SAMPLE2)) == [SAMPLE2]
    two = [{**SAMPLE2, "iterations": 2}, {**SAMPLE2, "iteration": 1, "iterations": 2}]
    assert bm.parse_bench_lines("\n".join(json.dumps(d) for d in two) + "\n") == two
    assert bm.parse_bench_lines(json.dumps(SAMPLE)) == [SAMPLE]              # version 1 still reads
    counters = SAMPLE2["counters"]
    for broken, message in [
        ({k: v for k, v in SAMPLE2.items() if k != "counters"}, "lacks counters"),
        ({**SAMPLE2, "iteration": 1}, "iteration 1 is not in 0..0"),
        ({**SAMPLE2, "iterations": 0}, "iterations 0 is not a positive count"),
        ({**SAMPLE2, "iteration": "0"}, "iteration '0'"),
        ({**SAMPLE2, "counting": "perf"}, "counting 'perf' is unknown"),
        ({**SAMPLE2, "counters": []}, "counters is not an object"),
        ({**SAMPLE2, "counters": {"w": {"event": "x", "status": "ok"}}}, "counters.w lacks value"),
        ({**SAMPLE2, "counters": {"w": {**counters["w"], "status": "fine"}}}, "status 'fine' is unknown"),
        ({**SAMPLE2, "counters": {"w": {**counters["w"], "value": None}}}, "counters.w is ok without a count"),
        ({**SAMPLE2, "counters": {"i": {**counters["i"], "value": 0}}}, "has a value although it is not_supported"),
        ({**SAMPLE2, "counters": {"w": {**counters["w"], "writer": {"status": "?", "value": 1}}}},
         "counters.w.writer is malformed"),
        ({**SAMPLE2, "counters": {"w": {**counters["w"], "event": 5}}}, "counters.w.event is not a string"),
    ]:
        with pytest.raises(PmcsuiteError, match=message) as info:
            bm.parse_bench_lines(json.dumps(broken))
        assert "\n" not in str(info.value)
    with pytest.raises(PmcsuiteError, match=r"line 2 is iteration 0 of 2, expected 1 of 2"):
        bm.parse_bench_lines(json.dumps(two[0]) + "\n" + json.dumps(two[0]))
    with pytest.raises(PmcsuiteError, match=r"garbage .*\(line 2\)"):
        bm.parse_bench_lines(json.dumps(two[0]) + "\n{oops")
    with pytest.raises(PmcsuiteError, match="printed nothing"):
        bm.parse_bench_lines("\n\n")


# ------------------------------------------------------------------ several points per process (--points)

POINTS = [("pipe", "4K", 2), ("local", "64K", 3), ("local-s", "1M", 2)]


@pytest.mark.parametrize("actors", bm.ACTORS)
def test_points_run_in_order_one_line_per_iteration(exe, actors):
    """--points pipe:4K:2,local:64K:3,local-s:1M:2: 7 lines, each with its point's ipc, buffer size,
    its iteration within the point and the point's iteration count, all bytes checked."""
    argv = bm.bench_points_argv(exe, POINTS, MiB, actors=actors, placement="any")
    assert argv[argv.index("--points") + 1] == "pipe:4096:2,local:65536:3,local-s:1048576:2"
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    got = [(r["point"], r["ipc"], r["buffer_size"], r["iteration"], r["iterations"]) for r in lines]
    assert got == [(0, "pipe", 4096, 0, 2), (0, "pipe", 4096, 1, 2),
                   (1, "local", 65536, 0, 3), (1, "local", 65536, 1, 3), (1, "local", 65536, 2, 3),
                   (2, "local-s", MiB, 0, 2), (2, "local-s", MiB, 1, 2)]
    for r in lines:
        assert r["bytes_ok"] is True and r["version"] == 2 and r["actors"] == actors and r["total_size"] == MiB
        assert r["writes"] == MiB // r["buffer_size"] and r["write_sizes"] == {str(r["buffer_size"]): r["writes"]}
        assert r["buffers"]["requested"] == r["buffer_size"]
        assert max(int(k) for k in r["read_sizes"]) <= r["buffer_size"]   # the reader asks for its point's B
        assert (r["buffers"]["sndbuf"] is None) == (r["ipc"] == "pipe")
    if LINUX:   # local-s sized its socket buffers to its own point's size
        wmem_max = int(Path("/proc/sys/net/core/wmem_max").read_text())
        assert all(r["buffers"]["sndbuf"] == 2 * min(MiB, wmem_max) for r in lines[5:])
    assert bm.parse_bench_lines(proc.stdout) == lines
    assert bm.run_bench_lines(argv, timeout=60)[-1]["point"] == 2


def test_without_points_every_line_is_point_0(exe):
    results = bm.run_bench_lines(bm.bench_argv(exe, "pipe", 4096, MiB, iterations=2), timeout=60)
    assert [(r["point"], r["iteration"]) for r in results] == [(0, 0), (0, 1)]


def test_points_of_a_smaller_size_after_a_larger_one_check_their_data(exe):
    """The 2thread buffers are made once at the largest size; points of smaller (and odd) sizes,
    before and after it, still send and check the pattern of their own size."""
    total = 3 * 5 * 7 * 4096
    points = [("pipe", 3 * 4096, 1), ("local", total, 1), ("pipe", 7, 1), ("local", 5 * 4096, 1), ("local", 35, 1)]
    results = bm.run_bench_lines(bm.bench_points_argv(exe, points, total, placement="any"), timeout=60)
    assert [r["buffer_size"] for r in results] == [3 * 4096, total, 7, 5 * 4096, 35]
    assert all(r["bytes_ok"] is True and r["writes"] == total // r["buffer_size"] for r in results)


def test_points_count_exactly_across_points(exe):
    """Counting in the actors stays exact at every iteration of every point."""
    require_tracepoints()
    events = {"sc_write": "syscalls:sys_enter_write", "sc_read": "syscalls:sys_enter_read",
              "sc_all": "raw_syscalls:sys_enter"}
    for actors in bm.ACTORS:
        argv = bm.bench_points_argv(exe, POINTS, 4 * MiB, actors=actors, events=events)
        results = bm.run_bench_lines(argv, timeout=120)
        assert [(r["point"], r["iteration"]) for r in results] == \
            [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1)]
        for r in results:
            c = r["counters"]
            assert r["bytes_ok"] is True and r["counting"] == "actors"
            assert all(c[i]["status"] == "ok" for i in events), c
            assert c["sc_write"]["value"] == r["writes"] == 4 * MiB // r["buffer_size"], r
            assert c["sc_read"]["value"] == r["reads"], r
            assert (c["sc_write"]["reader"]["value"], c["sc_read"]["writer"]["value"]) == (0, 0)
            assert c["sc_all"]["writer"]["value"] == r["writes"] + 1
            assert c["sc_all"]["reader"]["value"] == r["reads"] + 1


SWEEP_EVENTS = {"w": "syscalls:sys_enter_write", "r": "syscalls:sys_enter_read", "all": "raw_syscalls:sys_enter",
                "sw": "sched:sched_switch"}
SWEEP = [("pipe", 4096, 4), ("pipe", 65536, 4), ("local", 4096, 4), ("local", 65536, 4),
         ("local-s", 65536, 4), ("local-s", MiB, 4)]


def test_one_process_for_many_points_counts_like_separate_processes(exe):
    """6 points x 4 iterations counting four tracepoints in one process give the same lines, with
    the same exact counts, as six processes (what it saves, tracepoint registration per process,
    is measured by bench/bench_sweep_speed.py)."""
    require_tracepoints()
    one = bm.run_bench_lines(bm.bench_points_argv(exe, SWEEP, MiB, events=SWEEP_EVENTS), timeout=120)
    six = [r for ipc, size, n in SWEEP
           for r in bm.run_bench_lines(bm.bench_argv(exe, ipc, size, MiB, iterations=n, events=SWEEP_EVENTS),
                                       timeout=120)]
    assert len(one) == len(six) == 24
    for r in one + six:
        assert r["bytes_ok"]
        assert r["counters"]["w"]["value"] == r["writes"] and r["counters"]["r"]["value"] == r["reads"]
    assert [(r["ipc"], r["buffer_size"], r["iteration"]) for r in one] == \
        [(r["ipc"], r["buffer_size"], r["iteration"]) for r in six]


def test_bench_points_argv():
    argv = bm.bench_points_argv("x", [("pipe", "4K", 2), ("local-s", 1 << 20, 1)], "4M", "2proc", "split",
                                force=True, cpus=[0, 1], events={"w": "syscalls:sys_enter_write"})
    assert argv == ["x", "-a", "2proc", "-p", "split", "-t", str(4 * MiB), "--points", "pipe:4096:2,local-s:1048576:1",
                    "-f", "-c", "0,1", "-e", "w=syscalls:sys_enter_write"]
    assert "-i" not in argv and "-b" not in argv and "-n" not in argv
    assert bm.bench_points_argv("x", (("tcp", 4096, 1),))[-2:] == ["--points", "tcp:4096:1"]


@pytest.mark.parametrize("points, kwargs, message", [
    ([], {}, "0 points given: one ipcbench process runs 1 to 4096 points"),
    ([("pipe", 4096, 1)] * 4097, {}, "4097 points given"),
    ("pipe:4K:1", {}, "points must be a list of \\(ipc, buffer_size, iterations\\), not str"),
    ([("pipe", 4096)], {}, "point 0 is \\('pipe', 4096\\): give \\(ipc, buffer_size, iterations\\)"),
    ([("pipe", 4096, 1), ("fifo", 4096, 1)], {}, "point 1 .*unknown IPC mode 'fifo': use one of pipe"),
    ([("pipe", 4096, 1), ("local", 3000, 1)], {}, "point 1 .*total size 16M is not a multiple of the buffer size 3000"),
    ([("pipe", "0", 1)], {}, "point 0 .*invalid size '0'"),
    ([("pipe", 4096, 0)], {}, "point 0 .*invalid iteration count 0"),
    ([("pipe", 4096, 100001)], {}, "invalid iteration count 100001"),
    ([("pipe", 4096, 2.0)], {}, "invalid iteration count 2.0"),
    ([("pipe", 4096, True)], {}, "invalid iteration count True"),
    ([("local-s", 1 << 31, 1)], dict(total_size=1 << 31), "too large for SO_SNDBUF"),
    ([("pipe", 4096, 1)], dict(actors="3proc"), "use one of 2thread, 2proc"),
    ([("pipe", 4096, 1)], dict(placement="any", cpus=0), "placement same"),
    ([("pipe", 4096, 1)], dict(events={"Bad": "cycles"}), "invalid event id 'Bad'"),
    ([("pipe", "x\ny", 1)], {}, "point 0 .*invalid size"),
])
def test_bench_points_argv_rejects_bad_input(points, kwargs, message):
    with pytest.raises(PmcsuiteError, match=message) as info:
        bm.bench_points_argv("ipcbench", points, **kwargs)
    assert "\n" not in str(info.value)


def test_parse_bench_lines_several_points():
    def line(point, iteration, iterations, **kw):
        return {**SAMPLE2, "point": point, "iteration": iteration, "iterations": iterations, **kw}

    good = [line(0, 0, 2), line(0, 1, 2), line(1, 0, 1, ipc="local"), line(2, 0, 3), line(2, 1, 3), line(2, 2, 3)]
    assert bm.parse_bench_lines("\n".join(json.dumps(d) for d in good)) == good
    assert bm.parse_bench_lines(json.dumps(line(3, 0, 1))) == [line(3, 0, 1)]        # one line of a later point
    no_key = [{k: v for k, v in d.items() if k != "point"} for d in good[:2]]        # without "point": point 0
    assert bm.parse_bench_lines("\n".join(json.dumps(d) for d in no_key)) == no_key
    for lines, message in [
        ([line(0, 0, 1), line(1, 0, 2)], r"line 2 is iteration 0 of 2 of point 1, expected 0 of 1"),
        ([line(0, 0, 2), line(1, 0, 1)], r"line 1 is iteration 0 of 2 of point 0, expected 0 of 1"),
        ([line(0, 0, 1), line(1, 1, 2), line(1, 0, 2)], r"line 2 is iteration 1 of 2 of point 1, expected 0 of 2"),
        ([line(1, 0, 1), line(0, 0, 1)], r"line 2 is point 0 after point 1: points must not decrease"),
        ([line(0, 0, 1), line(1, 0, 1), line(0, 0, 1)], r"line 3 is point 0 after point 1"),
        ([line(-1, 0, 1)], r"point -1 is not a count"),
        ([line("0", 0, 1)], r"point '0' is not a count"),
        ([line(True, 0, 1)], r"point True is not a count"),
    ]:
        with pytest.raises(PmcsuiteError, match=message) as info:
            bm.parse_bench_lines("\n".join(json.dumps(d) for d in lines))
        assert "\n" not in str(info.value)


def test_cached_executable_is_trusted_only_when_private_and_unchanged(tmp_path):
    """Before: build() ran whatever file sat at $PMCSUITE_CACHE/ipcbench-<key> beside a .json: a
    planted script ran as root."""
    cache = tmp_path / "cache"
    exe = bm.build(cache_dir=cache)
    assert (cache.stat().st_mode & 0o777) == 0o700
    original = exe.read_bytes()
    exe.write_text("#!/bin/sh\necho planted\n")             # same name, same record, other contents
    exe.chmod(0o755)
    rebuilt = bm.build(cache_dir=cache)
    assert rebuilt == exe and exe.read_bytes() == original  # the hash did not match: rebuilt
    exe.chmod(0o777)                                        # writable by others: not trusted either
    bm.build(cache_dir=cache)
    assert exe.stat().st_mode & 0o022 == 0


def test_cache_directory_others_may_write_is_refused(tmp_path):
    shared = tmp_path / "shared-cache"
    shared.mkdir()
    shared.chmod(0o777)                                     # e.g. an XDG_CACHE_HOME on /tmp made by anyone
    with pytest.raises(EnvironmentProblem, match=r"benchmark cache .*writable by group and others.*set PMCSUITE_CACHE"):
        bm.build(cache_dir=shared)
    assert not list(shared.iterdir())


def test_guard_reports_how_the_benchmark_ended(exe):
    """The guard stands between a counting tool that hides its workload's fate (pmcstat, dtrace) and
    the benchmark: the exit status passes through, and a death by signal becomes one line."""
    crash = subprocess.run([str(exe), "--guard", "--", sys.executable, "-c", "import os; os.kill(os.getpid(), 11)"],
                           capture_output=True, text=True, timeout=60)
    assert crash.returncode == 128 + 11
    assert crash.stderr.strip() == "ipcbench: guard: the benchmark was killed by signal 11 (Segmentation fault)"
    assert subprocess.run([str(exe), "--guard", "--", "false"], timeout=60).returncode == 1
    ok = subprocess.run([str(exe), "--guard", "--", *bm.bench_argv(exe, "pipe", 65536, MiB)],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and bm.parse_bench_output(ok.stdout)["bytes_ok"]


def test_load_samples_the_machine_around_each_iteration(exe):
    """--load (what a remote target runs with): /proc/stat's CPU ticks and /proc/loadavg's runnable
    tasks just before and after each iteration, the ticks never going backwards."""
    argv = bm.bench_points_argv(exe, [("pipe", "64K", 2), ("local", "4K", 1)], MiB, load=True)
    assert argv[-1] == "--load" and "--load" not in bm.bench_argv(exe, "pipe", "64K", MiB)
    results = bm.run_bench_lines(argv, timeout=60)
    assert len(results) == 3
    previous = 0
    for r in results:
        machine = r["machine"]
        assert machine["hz"] == os.sysconf("SC_CLK_TCK")
        for when in ("before", "after"):
            sample = machine[when]
            assert 0 <= sample["idle"] <= sample["total"] and sample["runnable"] >= 0
        assert previous <= machine["before"]["total"] <= machine["after"]["total"]
        previous = machine["after"]["total"]
    assert "machine" not in bm.run_bench(bm.bench_argv(exe, "pipe", "64K", MiB), timeout=60)


# ------------------------------------------------------------------ sampling in the actors (--sample)

SAMPLE_SPEC = "cpu-clock:100000"
PERIOD_NS = 100000
#: the most records one 128-page data area can hold (the smallest sample record is 32 bytes)
MAX_RECORDS = 128 * os.sysconf("SC_PAGESIZE") // 32
MODES = ("cpu", "thread")


def paranoid() -> int:
    return int(Path("/proc/sys/kernel/perf_event_paranoid").read_text())


def require_kernel_sampling(mode="thread"):
    """Skip (or, in CI, fail) unless this process may sample kernel callchains with perf_event_open:
    on its own threads (mode thread: root or perf_event_paranoid <= 1) or CPU-wide (mode cpu: root or
    perf_event_paranoid <= 0)."""
    require(LINUX, "sampling with perf_event_open needs Linux")
    most = 0 if mode == "cpu" else 1
    require(os.geteuid() == 0 or paranoid() <= most,
            f"sampling the kernel in the {mode} mode needs root or kernel.perf_event_paranoid <= {most}")


def sampled(argv, mode):
    """argv with ``--sample-mode MODE`` (bench_argv leaves the mode to ipcbench: cpu where allowed)."""
    return [*argv, "--sample-mode", mode]


def is_hex(text) -> bool:
    """A lowercase hex string without 0x (how ipcbench writes an IP)."""
    return isinstance(text, str) and text != "" and all(c in "0123456789abcdef" for c in text)


def check_profile(profile, spec=SAMPLE_SPEC, mode=None):
    """An ok profile of both actors, well formed: counts and shapes, no statistics."""
    event, period = spec.split(":")
    assert {k: profile[k] for k in ("event", "period", "unit", "status")} == \
        {"event": event, "period": int(period), "unit": "ns" if event == "cpu-clock" else "cycles", "status": "ok"}
    assert "reason" not in profile
    assert profile["mode"] in ((mode,) if mode else MODES), profile["mode"]
    assert ("foreign" in profile) == (profile["mode"] == "cpu")        # only the cpu mode reads others' samples
    assert profile["mode"] == "thread" or bm._is_count(profile["foreign"])
    x86_64 = __import__("platform").machine() == "x86_64"
    for role in ("writer", "reader"):
        actor = profile[role]
        assert set(actor) == {"samples", "lost", "stacks"}
        assert actor["samples"] > 0 and bm._is_count(actor["lost"]), (role, actor["samples"], actor["lost"])
        stacks = actor["stacks"]
        assert sum(s["n"] for s in stacks) == actor["samples"]
        assert [s["n"] for s in stacks] == sorted((s["n"] for s in stacks), reverse=True)   # most frequent first
        chains = [(tuple(s["k"]), tuple(s["u"])) for s in stacks]
        assert len(set(chains)) == len(chains)                                          # identical chains aggregated
        for s in stacks:
            assert set(s) == {"n", "k", "u"} and s["n"] >= 1
            assert all(is_hex(ip) for ip in s["k"] + s["u"]), s
            assert len(s["k"]) + len(s["u"]) <= 32                                      # sample_max_stack
            if x86_64:   # kernel IPs in the upper half (context markers removed); user IPs past the
                # first are what a frame-pointer walk read from the user stack, whatever it holds
                assert all(int(ip, 16) >= 0xffff800000000000 for ip in s["k"]), s
        assert any(s["k"] for s in stacks)          # a pipe transfer is mostly system calls: kernel frames


def most_samples(mode, oncpu_ns) -> float:
    """The most samples (with the lost ones) an actor with this CPU time may get. The thread mode's
    timer counts the actor's own CPU time: at most one sample a period, plus a partial one. The cpu
    mode samples each CPU every period and keeps the actor's: about its CPU time / period, the ticks
    falling on it as they may (4 standard deviations), and a quarter more for the sampling interrupts'
    own time, which is not the actor's CPU time but lands on it."""
    expected = oncpu_ns / PERIOD_NS
    return expected + 2 if mode == "thread" else 1.25 * expected + 4 * expected ** 0.5 + 3


def kernel_frames(profile, role):
    """The kernel function names of every stack of one actor's profile (this machine's kallsyms)."""
    from pmcsuite.collect.profile import local_kallsyms
    kallsyms = local_kallsyms()
    require(kallsyms.state == "ok", "symbolising kernel IPs needs a readable /proc/kallsyms (root)")
    return [[kallsyms.name(int(ip, 16)) for ip in s["k"]] for s in profile[role]["stacks"]]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("actors", bm.ACTORS)
def test_sample_profiles_each_iteration_of_both_actors(exe, actors, mode):
    """--sample cpu-clock:100000 on a 16 MiB pipe transfer at 4K: every iteration has its own ok
    profile of both actors, with samples, aggregated kernel and user stacks and hex IPs, and never
    more samples than the actor's own CPU time makes."""
    require_kernel_sampling(mode)
    argv = bm.bench_argv(exe, "pipe", 4096, 16 * MiB, actors=actors, iterations=3, sample=SAMPLE_SPEC)
    assert argv[-2:] == ["--sample", SAMPLE_SPEC]
    results = bm.run_bench_lines(sampled(argv, mode), timeout=120)
    assert [r["iteration"] for r in results] == [0, 1, 2]
    for r in results:
        assert r["bytes_ok"] is True and r["counting"] == "none" and r["counters"] == {}
        check_profile(r["profile"], mode=mode)
        for role in ("writer", "reader"):   # cpu-clock samples an actor only while it runs its loop
            actor = r["profile"][role]
            assert actor["samples"] + actor["lost"] <= most_samples(mode, r["oncpu_ns"][role]), \
                (role, actor, r["oncpu_ns"])
    assert "profile" not in bm.run_bench(bm.bench_argv(exe, "pipe", 4096, MiB), timeout=60)


def test_sample_mode_is_reported(exe):
    """Without --sample-mode the cpu mode runs where it may (root here, or perf_event_paranoid <= 0);
    --sample-mode picks one; the JSON says which ran."""
    require_kernel_sampling("cpu")
    argv = bm.bench_argv(exe, "pipe", "64K", 4 * MiB, sample=SAMPLE_SPEC)
    if os.geteuid() == 0:   # paranoid <= 0 alone may still fall back: its buffers count against mlock limits
        assert bm.run_bench(argv, timeout=60)["profile"]["mode"] == "cpu"
    for mode in MODES:
        profile = bm.run_bench(sampled(argv, mode), timeout=60)["profile"]
        check_profile(profile, mode=mode)
    for bad, message in ((["--sample-mode", "cpu"], "--sample-mode needs --sample"),
                         (["--sample", SAMPLE_SPEC, "--sample-mode", "task"], "unknown sample mode 'task'")):
        proc = subprocess.run([str(exe), "-b", "64K", "-t", "1M", *bad], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2 and proc.stdout == "" and proc.stderr.count("\n") == 1, proc.stderr
        assert message in proc.stderr
    assert "--sample-mode" in subprocess.run([str(exe), "-h"], capture_output=True, text=True, timeout=30).stdout


@pytest.mark.parametrize("actors", bm.ACTORS)
@pytest.mark.parametrize("placement", ["same", "split"])
def test_sample_cpu_mode_attributes_each_sample_to_its_actor(exe, placement, actors):
    """The cpu mode reads both actors' samples from the same CPU buffers and sorts them by TID: the
    writer's stacks write to the pipe and never read it, the reader's the other way round; no actor
    gets more samples than its CPU time makes, and the writer's share of the samples is its share
    of the CPU time (with -p split and the CPUs' timers in phase it was 0.15 to 0.2 more)."""
    require_kernel_sampling("cpu")
    require(placement == "same" or len(CPUS) >= 2, "-p split needs two CPUs")
    argv = bm.bench_argv(exe, "pipe", 4096, 16 * MiB, actors=actors, placement=placement, iterations=8,
                         sample=SAMPLE_SPEC)
    results = bm.run_bench_lines(sampled(argv, "cpu"), timeout=120)
    for role, own, other in (("writer", "pipe_write", "pipe_read"), ("reader", "pipe_read", "pipe_write")):
        frames = {f for r in results for stack in kernel_frames(r["profile"], role) for f in stack}
        assert any(own in f for f in frames) and not any(other in f for f in frames), (role, sorted(frames))
    skew = []
    for r in results:
        check_profile(r["profile"], mode="cpu")
        got = {role: r["profile"][role]["samples"] + r["profile"][role]["lost"] for role in ("writer", "reader")}
        for role in got:
            assert got[role] <= most_samples("cpu", r["oncpu_ns"][role]), (role, got, r["oncpu_ns"])
        cpu = r["oncpu_ns"]
        skew.append(got["writer"] / sum(got.values()) - cpu["writer"] / (cpu["writer"] + cpu["reader"]))
    assert abs(statistics.median(skew)) < 0.08, skew


def test_sample_cpu_mode_keeps_no_other_process(exe):
    """The cpu mode samples whatever runs on the actors' CPU. A busy process pinned to that CPU for
    the whole run (reading /dev/zero: read_iter_zero and iov_iter_zero, which no actor calls) leaves
    no stack in the actors' profiles, no sample beyond what their own CPU time makes, and its
    samples are counted as foreign."""
    require_kernel_sampling("cpu")
    cpu = CPUS[-1]
    busy = subprocess.Popen([sys.executable, "-c", (
        f"import os\nos.sched_setaffinity(0, {{{cpu}}})\nfd = os.open('/dev/zero', os.O_RDONLY)\n"
        "buf = bytearray(1 << 20)\nprint(flush=True)\nwhile True:\n    os.readv(fd, [buf])\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        busy.stdout.readline()      # pinned and reading
        argv = bm.bench_argv(exe, "pipe", 4096, 16 * MiB, placement="same", cpus=cpu, iterations=3,
                             sample=SAMPLE_SPEC)
        # in this session, not a new one (run_bench's): with sched_autogroup a new session's group
        # would hardly let the busy process run during the loop
        proc = subprocess.run(sampled(argv, "cpu"), capture_output=True, text=True, timeout=120, check=True)
        results = bm.parse_bench_lines(proc.stdout)
        assert busy.poll() is None
    finally:
        busy.kill()
        busy.wait()
    for r in results:
        profile = r["profile"]
        check_profile(profile, mode="cpu")
        assert profile["foreign"] >= 10, profile["foreign"]      # the busy process shared the CPU
        for role in ("writer", "reader"):
            frames = {f for stack in kernel_frames(profile, role) for f in stack}
            assert not frames & {"read_iter_zero", "iov_iter_zero"}, (role, sorted(frames))
            actor = profile[role]
            assert actor["samples"] + actor["lost"] <= most_samples("cpu", r["oncpu_ns"][role]), \
                (role, actor["samples"], actor["lost"], r["oncpu_ns"])


def test_sample_with_points(exe):
    require_kernel_sampling()
    argv = bm.bench_points_argv(exe, [("pipe", "4K", 2), ("local", "64K", 1)], 16 * MiB, sample=SAMPLE_SPEC)
    assert argv[-2:] == ["--sample", SAMPLE_SPEC]
    results = bm.run_bench_lines(argv, timeout=120)
    assert [(r["point"], r["iteration"], r["ipc"]) for r in results] == [(0, 0, "pipe"), (0, 1, "pipe"),
                                                                        (1, 0, "local")]
    for r in results:
        check_profile(r["profile"])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("actors", bm.ACTORS)
def test_sample_with_counters_keeps_their_counts_exact(exe, actors, mode):
    """Sampling and -e together: the thread mode's sampler is switched on before the counters and off
    after them, the cpu mode's by the controller before the actors start and after they end, so
    each actor still counts exactly its loop's system calls plus the one disabling ioctl."""
    require_kernel_sampling(mode)
    require_tracepoints()
    events = {"sc_write": "syscalls:sys_enter_write", "sc_all": "raw_syscalls:sys_enter", "tc": "task-clock"}
    argv = bm.bench_argv(exe, "pipe", 4096, 16 * MiB, actors=actors, placement="same", iterations=2,
                         events=events, sample=SAMPLE_SPEC)
    for r in bm.run_bench_lines(sampled(argv, mode), timeout=120):
        c = r["counters"]
        assert all(c[ident]["status"] == "ok" for ident in events), c
        assert c["sc_write"]["writer"]["value"] == r["writes"] and c["sc_write"]["reader"]["value"] == 0
        assert c["sc_all"]["writer"]["value"] == r["writes"] + 1
        assert c["sc_all"]["reader"]["value"] == r["reads"] + 1
        check_profile(r["profile"], mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_sample_loop_time_is_not_absurdly_longer(exe, mode):
    """The probe effect of sampling at 10 kHz, measured in this test: the same transfer with and
    without it. A loose bound: in a VM every sample is a timer interrupt through the hypervisor, and
    in the thread mode each switch between the two actors starts and cancels a per-thread hrtimer (a
    16 MiB pipe transfer at 4K on one CPU switches thousands of times); in the Firecracker VM this
    was written on the loop took 7.6x as long in the thread mode, 1.4x in the cpu mode (one timer per
    CPU, left alone by the switches). What this catches is the absurd: a sampling storm, or the
    buffers read while the loop runs."""
    require_kernel_sampling(mode)
    plain = bm.bench_argv(exe, "pipe", 4096, 16 * MiB, placement="same", iterations=3)
    with_samples = sampled(bm.bench_argv(exe, "pipe", 4096, 16 * MiB, placement="same", iterations=3,
                                         sample=SAMPLE_SPEC), mode)
    fastest = [min(r["loop_ns"] for r in bm.run_bench_lines(argv, timeout=120)) for argv in (plain, with_samples)]
    assert fastest[1] < 15 * fastest[0], fastest


@pytest.mark.parametrize("mode", MODES)
def test_sample_counts_what_the_full_buffer_lost(exe, mode):
    """At 100 kHz a 256 MiB transfer makes more samples than a 128-page buffer can hold: the rest
    are counted as lost (the kernel's count; in the cpu mode one CPU's buffer holds both actors' samples,
    and its lost ones are shared out between them), never silently missing."""
    require_kernel_sampling(mode)
    spec = "cpu-clock:10000"
    argv = bm.bench_argv(exe, "pipe", "64K", 256 * MiB, placement="same", sample=spec)
    r = bm.run_bench(sampled(argv, mode), timeout=120)
    profile = r["profile"]
    check_profile(profile, spec, mode)
    for role in ("writer", "reader"):
        actor = profile[role]
        assert r["oncpu_ns"][role] // 10000 > 2 * MAX_RECORDS, "too short a transfer for this machine"
        assert actor["samples"] <= MAX_RECORDS and actor["lost"] > 0, (role, actor["samples"], actor["lost"])
    if mode == "cpu":   # one CPU: one buffer for both actors
        assert profile["writer"]["samples"] + profile["reader"]["samples"] <= MAX_RECORDS, profile["writer"]


def test_sample_cycles_without_a_pmu_is_not_supported(exe):
    """cycles where no PMU samples them: a status and a reason, never zero samples."""
    require_kernel_sampling()
    r = bm.run_bench(bm.bench_argv(exe, "pipe", "64K", MiB, sample="cycles:1000000"), timeout=60)
    profile = r["profile"]
    assert (profile["event"], profile["period"], profile["unit"]) == ("cycles", 1000000, "cycles")
    if host_has_cpu_pmu():
        assert profile["status"] in ("ok", "not_supported"), profile
    else:
        assert profile["status"] == "not_supported", profile
    if profile["status"] == "ok":
        check_profile(profile, "cycles:1000000")
    else:
        assert set(profile) == {"event", "period", "unit", "mode", "status", "reason"}
        assert "cycles sampling event failed" in profile["reason"] and "\n" not in profile["reason"]


def run_as_nobody(exe, make_argv) -> dict:
    """Run a copy of ipcbench as nobody (uid 65534): make_argv(copy) gives its command line; its
    parsed output."""
    proc = nobody.run_as_nobody(exe, make_argv)
    assert proc.returncode == 0, proc.stderr
    return bm.parse_bench_output(proc.stdout)


def test_sample_permission_denied_names_perf_event_paranoid(exe):
    """As an unprivileged user, sampling the kernel needs perf_event_paranoid < 2 (on its own threads)
    or < 1 (CPU-wide): else a status and a reason that says so, never zero samples."""
    require(LINUX, "perf_event_open needs Linux")
    require(os.geteuid() == 0, "switching to an unprivileged user needs root")
    level = paranoid()
    profile = run_as_nobody(exe, lambda copy: sampled(bm.bench_argv(copy, "pipe", 65536, MiB, sample=SAMPLE_SPEC),
                                                      "thread"))["profile"]
    if level >= 2:
        assert profile["status"] == "permission_denied" and "writer" not in profile, profile
        assert f"kernel.perf_event_paranoid is {level}" in profile["reason"]
    else:
        assert profile["status"] in ("ok", "permission_denied"), profile
    profile = run_as_nobody(exe, lambda copy: sampled(bm.bench_argv(copy, "pipe", 65536, MiB, sample=SAMPLE_SPEC),
                                                      "cpu"))["profile"]
    assert profile["mode"] == "cpu"         # asked for: no fallback
    if level >= 1:
        assert profile["status"] == "permission_denied" and "writer" not in profile, profile
        assert "perf_event_open of the CPU-wide cpu-clock sampling event failed" in profile["reason"]
        assert f"kernel.perf_event_paranoid is {level}" in profile["reason"]


@pytest.mark.parametrize("actors", bm.ACTORS)
def test_sample_falls_back_to_the_thread_mode_without_privilege(exe, actors):
    """Without --sample-mode, an unprivileged user where CPU-wide sampling is not allowed
    (perf_event_paranoid >= 1) gets the thread mode: ok where it may sample its own threads'
    kernel stacks (paranoid 1), else the thread mode's own permission_denied."""
    require(LINUX, "perf_event_open needs Linux")
    require(os.geteuid() == 0, "switching to an unprivileged user needs root")
    level = paranoid()
    profile = run_as_nobody(exe, lambda copy: bm.bench_argv(copy, "pipe", 65536, 4 * MiB, actors=actors,
                                                            sample=SAMPLE_SPEC))["profile"]
    if level <= 0:
        assert profile["mode"] in MODES and profile["status"] == "ok", profile   # cpu unless mlock-limited
    else:
        assert profile["mode"] == "thread", profile
        if level == 1:
            check_profile(profile, mode="thread")
        else:
            assert profile["status"] == "permission_denied" and "writer" not in profile, profile
            assert "perf_event_open of the cpu-clock sampling event failed" in profile["reason"], profile


@pytest.mark.parametrize("spec", ["cpu-clock", "cpu-clock:", "cpu-clock:9999", "cpu-clock:1e5", "cycles:999",
                                  "task-clock:100000", ":100000", "cpu-clock:100000:1", "cycles:1000000000001"])
def test_sample_bad_spec_is_a_usage_error(exe, spec):
    proc = subprocess.run([str(exe), "-b", "64K", "-t", "1M", "--sample", spec], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ipcbench: error: invalid --sample '{spec}': write EVENT:PERIOD")
    with pytest.raises(PmcsuiteError, match="invalid sample spec"):
        bm.bench_argv(exe, "pipe", "64K", MiB, sample=spec)


def test_sample_excludes_the_perf_control_fifos(exe):
    proc = subprocess.run([str(exe), "--sample", SAMPLE_SPEC, "--ctl-fifo", "/c", "--ack-fifo", "/a"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "--sample and --ctl-fifo exclude each other" in proc.stderr
    with pytest.raises(PmcsuiteError, match="exclude each other"):
        bm.bench_argv(exe, "pipe", "64K", MiB, ctl_fifo="/c", ack_fifo="/a", sample=SAMPLE_SPEC)
    assert "--sample" in subprocess.run([str(exe), "-h"], capture_output=True, text=True, timeout=30).stdout
