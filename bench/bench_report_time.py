"""How long ``build_report`` takes on a result directory of the default sweep's shape (issue 10: goal < 10 s).

Collects nothing: it writes a synthetic result directory through :class:`pmcsuite.results.store.ResultStore`
with the shape ``pmcsuite collect`` gives by default on an x86-64 Linux host: 3 IPC modes (pipe,
local, local-s) x 15 buffer sizes (1K..16M) x (baseline + the 2 default passes,
``syscalls+sched.tracepoint`` and ``faults+sched.software+time``) x 13 runs in 3 processes (5, 4, 4
iterations, the first of each a warm-up: 10 measured), 1,755 runs. Every record carries what the
benchmark prints (bandwidth following the L41 study's curves with 4 % noise, power-of-two return-size
histograms with the pipe's 64K cap and the socket's partial reads, getrusage, per-actor on/off-CPU
clocks, per-actor counter values) and a few runs share the CPU, so every section draws what it
draws on real data. Then it times ``build_report`` (median of ``--repeat`` runs) and prints it
against the goal.

    python bench/bench_report_time.py [--repeat 1] [--keep DIR] [--profile]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pmcsuite.schema import (BASELINE, DEFAULT_ACTORS, DEFAULT_PLACEMENT, DEFAULT_TOTAL, FORMAT,  # noqa: E402
                             FORMAT_VERSION, KIB, MIB, RunRecord)

GOAL_S = 10.0
TOTAL = DEFAULT_TOTAL
SIZES = [1 << k for k in range(10, 25)]                       # 1K .. 16M: 15 sizes
IPCS = ["pipe", "local", "local-s"]
RUNS, WARMUP, PROCESSES = 13, 1, 3
#: median MiB/s after the L41 study (experiment.md) scaled x10 for a modern x86 host, on log2(size)
SHAPES = {
    "pipe": {10: 910, 12: 2580, 13: 2740, 14: 3830, 15: 4810, 16: 5400, 17: 3080, 18: 1690, 20: 1540, 24: 1030},
    "local": {10: 500, 12: 1590, 13: 2250, 14: 2380, 15: 2390, 16: 2250, 17: 1530, 18: 1120, 20: 1070, 24: 720},
    "local-s": {10: 500, 12: 1620, 13: 2310, 14: 2780, 15: 3170, 16: 2570, 17: 1090, 18: 870, 20: 810, 24: 540},
}
PASSES = {
    "syscalls+sched.tracepoint": {"groups": ["syscalls", "sched"], "slow": 0.78,
                                  "events": {"syscalls_read": "syscalls:sys_enter_read",
                                             "syscalls_write": "syscalls:sys_enter_write",
                                             "syscalls_all": "raw_syscalls:sys_enter",
                                             "sched_switch": "sched:sched_switch"}},
    "faults+sched.software+time": {"groups": ["faults", "sched", "time"], "slow": 0.97,
                                   "events": {"page_faults": "page-faults", "minor_faults": "minor-faults",
                                              "major_faults": "major-faults", "context_switches": "context-switches",
                                              "cpu_migrations": "cpu-migrations", "task_clock": "task-clock"}},
}


def _shape(ipc: str, size: int) -> float:
    pts = SHAPES[ipc]
    xs = sorted(pts)
    return float(np.interp(np.log2(size), xs, [pts[x] for x in xs]))


def _bucket(n: int) -> int:
    return 1 << (int(n).bit_length() - 1)


def _bench(ipc: str, size: int, mib: float, rng, process: int, iteration: int, iterations: int) -> dict:
    loop_ns = int(TOTAL / (mib * MIB) * 1e9)
    writes = max(1, TOTAL // size)
    if ipc == "pipe":
        per_read = min(size, 65536)
    elif ipc == "local":
        per_read = min(size, 8192 if size > 8192 else size)
    else:
        per_read = min(size, 212992)
    reads = max(1, TOTAL // per_read)
    read_sizes = {str(_bucket(per_read)): reads}
    if ipc != "pipe" and size > 4096:             # a few partial reads
        part = max(1, reads // 20)
        read_sizes[str(_bucket(per_read // 3))] = part
    switches = reads // 2 + int(rng.integers(0, 6))
    oncpu = {"writer": int(loop_ns * 0.45), "reader": int(loop_ns * 0.47)}
    wall = {"writer": loop_ns - 20000, "reader": loop_ns}
    return {"tool": "ipcbench", "version": 2, "point": 0, "iteration": iteration, "iterations": iterations,
            "ipc": ipc, "actors": DEFAULT_ACTORS, "placement": DEFAULT_PLACEMENT, "buffer_size": size,
            "total_size": TOTAL,
            "loop_ns": loop_ns, "bandwidth": TOTAL / loop_ns * 1e9, "writes": writes, "reads": reads,
            "write_sizes": {str(_bucket(size)): writes}, "read_sizes": read_sizes,
            "buffers": {"requested": size, "sndbuf": None if ipc == "pipe" else 212992,
                        "rcvbuf": None if ipc == "pipe" else 212992,
                        "pipe_size": 65536 if ipc == "pipe" else None, "forced": False},
            "rusage": {"minflt": int(rng.integers(0, 3)) + (size // 4096 if iteration == 0 else 0), "majflt": 0,
                       "nvcsw": switches, "nivcsw": int(rng.integers(0, 40)),
                       "utime_ns": int(loop_ns * 0.1), "stime_ns": int(loop_ns * 0.8)},
            "cpus": {"writer": [0, 0], "reader": [0, 0]}, "wall_ns": wall, "oncpu_ns": oncpu,
            "offcpu_ns": {k: wall[k] - oncpu[k] for k in wall}, "counting": "actors", "bytes_ok": True}


def _counters(variant: str, bench: dict, rng) -> dict:
    if variant == BASELINE:
        return {}
    w, r = bench["writes"], bench["reads"]
    values = {"syscalls_read": (0, r), "syscalls_write": (w, 0), "syscalls_all": (w + 1, r + 1),
              "sched_switch": (bench["rusage"]["nvcsw"] // 2, bench["rusage"]["nvcsw"] // 2 + 1),
              "page_faults": (bench["rusage"]["minflt"], 0), "minor_faults": (bench["rusage"]["minflt"], 0),
              "major_faults": (0, 0),
              "context_switches": (bench["rusage"]["nvcsw"] // 2, bench["rusage"]["nvcsw"] // 2 + 2),
              "cpu_migrations": (0, 0),
              "task_clock": (bench["oncpu_ns"]["writer"], bench["oncpu_ns"]["reader"])}
    out = {}
    for cid, spec in PASSES[variant]["events"].items():
        wv, rv = values[cid]
        actors = {a: {"status": "ok", "value": int(v), "enabled": bench["wall_ns"][a], "running": bench["wall_ns"][a]}
                  for a, v in (("writer", wv), ("reader", rv))}
        out[cid] = {"event": spec, "value": float(wv + rv), "unit": "", "status": "ok", "pcnt_running": 100.0,
                    "actors": actors}
    return out


def metadata() -> dict:
    passes = [{"name": name, "groups": p["groups"], "counters": list(p["events"]), "events": p["events"],
               "platform": {c: "software" for c in p["events"]}, "backend": "inproc"} for name, p in PASSES.items()]
    plan = {"ipc": IPCS, "sizes": SIZES, "runs": RUNS, "warmup": WARMUP, "processes": PROCESSES,
            "points_per_process": 5, "total_size": TOTAL, "actors": DEFAULT_ACTORS, "placement": DEFAULT_PLACEMENT,
            "groups": ["syscalls", "faults", "sched", "time"], "passes": passes}
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "pmcsuite_version": "0.1.0",
            "created": "2026-12-01T00:00:00+00:00", "command_line": ["pmcsuite", "collect"], "seed": 1,
            "source": "collect", "note": "synthetic default-sweep data (bench/bench_report_time.py)",
            "host": {"hostname": "bench-host", "os": "Linux", "os_release": "Debian GNU/Linux 12",
                     "kernel": "6.1.0", "machine": "x86_64", "cpu_model": "synthetic", "cpus": 2, "python": "3.11"},
            "platform": ["x86-64", "software"], "backend": "inproc", "tools": {"cc": "cc 12.2.0"}, "plan": plan}


def write_results(out: Path, seed: int = 1, runs: int = RUNS, processes: int = PROCESSES) -> int:
    """The synthetic default-sweep result directory (module docstring) in ``out``; returns the run count.
    ``runs`` and ``processes`` per cell scale it (bench/bench_load_speed.py writes 100,000 runs)."""
    from pmcsuite.plan import split_runs
    from pmcsuite.results.store import ResultStore
    rng = np.random.default_rng(seed)
    store = ResultStore(out)
    store.create(metadata(), overwrite=True)
    seq = process_id = 0
    for ipc in IPCS:
        for size in SIZES:
            for variant in [BASELINE, *PASSES]:
                slow = 1.0 if variant == BASELINE else PASSES[variant]["slow"] ** (1 if size < 65536 else 0.3)
                run = 0
                for process, iterations in enumerate(split_runs(runs, processes)):
                    batch = []
                    for iteration in range(iterations):
                        mib = _shape(ipc, size) * slow * (1 + 0.04 * rng.standard_normal())
                        bench = _bench(ipc, size, mib, rng, process, iteration, iterations)
                        shared = rng.random() < 0.03
                        batch.append(RunRecord(
                            ipc=ipc, buffer_size=size, variant=variant, actors=DEFAULT_ACTORS,
                            placement=DEFAULT_PLACEMENT, total_size=TOTAL, run=run, warmup=iteration < WARMUP,
                            backend="none" if variant == BASELINE else "inproc",
                            scope=None if variant == BASELINE else "actors",
                            process=process_id, iteration=iteration, iterations=iterations,
                            started="2026-12-01T00:00:01.000+00:00", seq=seq,
                            bench=bench, counters=_counters(variant, bench, rng),
                            busy={"other_cpu_frac": 0.3 if shared else 0.01, "runnable_others": 0}).to_json())
                        run += 1
                        seq += 1
                    store.append_runs(batch)
                    process_id += 1
    return seq


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="time build_report this many times (median)")
    parser.add_argument("--keep", type=Path, help="write the result directory and the report here and keep them")
    parser.add_argument("--profile", action="store_true", help="print the 25 costliest functions (cProfile)")
    args = parser.parse_args(argv)

    import matplotlib
    matplotlib.use("Agg")
    from pmcsuite.report import build_report

    work = args.keep or Path(tempfile.mkdtemp(prefix="pmcsuite-bench-report-time-"))
    result, report = work / "result", work / "report"
    start = time.perf_counter()
    count = write_results(result)
    print(f"synthetic default sweep: {count} runs ({len(IPCS)} modes x {len(SIZES)} sizes x "
          f"{1 + len(PASSES)} variants x {RUNS} runs), written in {time.perf_counter() - start:.1f} s")
    times = []
    for _ in range(max(1, args.repeat)):
        start = time.perf_counter()
        if args.profile:
            import cProfile
            import pstats
            prof = cProfile.Profile()
            prof.runcall(build_report, result, out=report)
            pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
        else:
            build_report(result, out=report)
        times.append(time.perf_counter() - start)
    took = float(np.median(times))
    figures = len(list((report / "figures").glob("*.png")))
    size_kb = (report / "report.html").stat().st_size / KIB
    print(f"build_report: {took:.2f} s (median of {len(times)}; {figures} figures, report.html {size_kb:,.0f} kB)")
    met = took < GOAL_S
    print(f"goal: < {GOAL_S:.0f} s -> {'met' if met else 'NOT MET'}")
    if args.keep:
        print(f"kept: {work}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
