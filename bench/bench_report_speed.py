"""How long ``report`` and ``explain`` take on L41 data of the published size (issue 8, item 8).

The published 2020 L41 IPC study has about 3,600 runs of the ``ipc-static`` benchmark; only a 40-run
sample of it is stored (``shared/data/l41-bbb-sample``). This script writes a data set of the
published size in the sample's format (one text file per run, a ``manifest.csv``): 3 IPC modes
(pipe, local, local with ``-s``) x 15 buffer sizes (1K..16M) x 10 runs x 8 launches:

    -v (baseline, timed)   -v -P mem (timed runs with counters)   -P mem   -P l1d   -P l1i   -P l2   -P axi   -P tlb

Bandwidths follow the study's median curves (MiB/s, experiment.md) with 5 % noise, the counter
sets slow the loop a little, and the counters scale with the bytes moved (AXI reads grow past
the L2 size), so the analysis has knees, peaks and attributions to work on. Runs without ``-v``
have no configuration block and are placed by the manifest, exactly as in the sample.

It then times, each on its own: ``import_l41`` of the directory, ``pmcsuite.load``,
``analysis.findings_dict`` (what ``pmcsuite explain --json`` computes) and ``build_report``, and
prints them against the goals (explain < 3 s, report < 10 s).

    python bench/bench_report_speed.py [--keep DIR] [--runs 10] [--seed 1]
"""
from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOALS = {"explain": 3.0, "report": 10.0}
TOTAL = 16 << 20
SIZES = [1 << k for k in range(10, 25)]                  # 1K .. 16M: 15 sizes
#: median MiB/s after the L41 study (experiment.md), interpolated on log2(size)
SHAPES = {
    "pipe": {10: 91, 12: 258, 13: 274, 14: 383, 15: 481, 16: 540, 17: 308, 18: 169, 20: 154, 24: 103},
    "local": {10: 50, 12: 159, 13: 225, 14: 238, 15: 239, 16: 225, 17: 153, 18: 112, 20: 107, 24: 72},
    "local-s": {10: 50, 12: 162, 13: 231, 14: 278, 15: 317, 16: 257, 17: 109, 18: 87, 20: 81, 24: 54},
}
#: (timed with -v, -P set or None, slowdown of the loop) in launch order
LAUNCHES = [(True, None, 1.0), (True, "mem", 0.93), (False, "mem", 0.97), (False, "l1d", 0.97),
            (False, "l1i", 0.98), (False, "l2", 0.97), (False, "axi", 0.98), (False, "tlb", 0.98)]
#: the events each -P set prints besides INSTR_EXECUTED and CLOCK_CYCLES (Cortex-A8 names)
SETS = {"mem": ["MEM_READ", "MEM_WRITE"], "l1d": ["L1_DCACHE_ACCESS", "L1_DCACHE_REFILL"],
        "l1i": ["L1_ICACHE_REFILL"], "l2": ["L2_CACHE_ACCESS", "L2_CACHE_MISS"],
        "axi": ["AXI_READ", "AXI_WRITE"], "tlb": ["ITLB_REFILL", "DTLB_REFILL"]}
CPU_HZ = 550e6
L2 = 256 << 10


def _shape(ipc: str, size: int) -> float:
    pts = SHAPES[ipc]
    xs = sorted(pts)
    return float(np.interp(np.log2(size), xs, [pts[x] for x in xs]))


def _events(ipc: str, size: int, seconds: float, rng) -> dict[str, int]:
    """Plausible Cortex-A8 counts for one run: calls scale with TOTAL / size, memory traffic with
    TOTAL, AXI (DRAM) traffic rises once the buffer no longer fits the 256K L2."""
    calls = 2 * TOTAL / size
    kib = TOTAL / 1024
    spill = min(1.0, max(0.0, np.log2(size / L2) / 2 + 0.5)) if size >= L2 // 2 else 0.0
    base = {
        "INSTR_EXECUTED": 2.2e7 + 2600 * calls + 300 * kib,
        "CLOCK_CYCLES": seconds * CPU_HZ,
        "MEM_READ": 5e6 + 500 * calls + 560 * kib,
        "MEM_WRITE": 3e6 + 300 * calls + 330 * kib,
        "L1_DCACHE_ACCESS": 1.1e7 + 900 * calls + 1000 * kib,
        "L1_DCACHE_REFILL": 2e5 + 8 * calls + 40 * kib * (1 + spill),
        "L1_ICACHE_REFILL": 1e5 + 30 * calls,
        "L2_CACHE_ACCESS": 1e5 + 20 * calls + 60 * kib,
        "L2_CACHE_MISS": 2e4 + 2 * calls + 40 * kib * spill,
        "AXI_READ": 6e4 + 48 * kib * spill,
        "AXI_WRITE": 1e4 + 36 * kib * spill,
        "ITLB_REFILL": 2e3 + 0.5 * calls,
        "DTLB_REFILL": 5e3 + 0.8 * calls + 0.5 * kib,
    }
    return {k: int(v * (1 + 0.03 * rng.standard_normal())) for k, v in base.items()}


def _text(ipc: str, size: int, timed: bool, pmc: str | None, kbytes: float, seconds: float, events) -> str:
    """One ``ipc-static`` output, as the sample's files print it."""
    lines = []
    if timed:
        lines += ["Benchmark configuration:", f"  buffersize: {size}", f"  totalsize: {TOTAL}",
                  f"  blockcount: {TOTAL // size}", "  mode: 2thread",
                  f"  ipctype: {'pipe' if ipc == 'pipe' else 'local'}", f"  time: {seconds:.9f}"]
    if pmc:
        instr, cycles = events["INSTR_EXECUTED"], events["CLOCK_CYCLES"]
        lines += ["", f"  pmctype: {pmc}", f"  INSTR_EXECUTED: {instr}", f"  CLOCK_CYCLES: {cycles}",
                  f"  CLOCK_CYCLES/INSTR_EXECUTED: {cycles / instr:.6f}"]
        for name in SETS[pmc]:
            lines += [f"  {name}: {events[name]}", f"  {name}/INSTR_EXECUTED: {events[name] / instr:.6f}",
                      f"  {name}/CLOCK_CYCLES: {events[name] / cycles:.6f}"]
        lines.append("")
    lines.append(f"{kbytes:.2f} KBytes/sec")
    return "\n".join(lines) + "\n"


def write_dataset(out: Path, runs: int = 10, seed: int = 1) -> int:
    """Write the synthetic published-size data set (text files + manifest.csv) into ``out``."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    rows, number = [], 0
    for timed, pmc, slow in LAUNCHES:
        for ipc in SHAPES:
            for size in SIZES:
                for run in range(runs):
                    mibs = _shape(ipc, size) * slow * (1 + 0.05 * rng.standard_normal())
                    seconds = round(TOTAL / (mibs * (1 << 20)), 9)
                    kbytes = TOTAL / seconds / 1024
                    events = _events(ipc, size, seconds, rng) if pmc else {}
                    name = f"run{number:05d}.txt"
                    (out / name).write_text(_text(ipc, size, timed, pmc, kbytes, seconds, events))
                    flags = ["-i", "pipe" if ipc == "pipe" else "local"] + (["-s"] if ipc == "local-s" else [])
                    flags += (["-v"] if timed else []) + (["-P", pmc] if pmc else [])
                    rows.append([name, "pipe" if ipc == "pipe" else "local", "2thread", size, TOTAL, run,
                                 " ".join(flags)])
                    number += 1
    with open(out / "manifest.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "ipctype", "mode", "buffersize", "totalsize", "run", "flags"])
        writer.writerows(rows)
    return number


def _timed(label: str, fn, times: dict):
    start = time.perf_counter()
    value = fn()
    times[label] = time.perf_counter() - start
    print(f"  {label:<22} {times[label]:7.2f} s", flush=True)
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="write the data, the result directory and the report here")
    parser.add_argument("--runs", type=int, default=10, help="runs per cell and launch (default 10: 3,600 runs)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    import matplotlib
    matplotlib.use("Agg")
    from pmcsuite.analysis.findings import findings_dict
    from pmcsuite.results.importers import import_l41
    from pmcsuite.report import build_report
    from pmcsuite.results.load import load

    work = args.keep or Path(tempfile.mkdtemp(prefix="pmcsuite-bench-report-"))
    data, result, report = work / "l41-data", work / "result", work / "report"
    times: dict[str, float] = {}
    count = _timed("write data set", lambda: write_dataset(data, args.runs, args.seed), times)
    print(f"  ({count} runs, {len(LAUNCHES)} launches x 3 IPC modes x {len(SIZES)} sizes x {args.runs} runs)")
    if result.exists():
        import shutil
        shutil.rmtree(result)
    _timed("import_l41", lambda: import_l41([data], result, host_note="synthetic (bench_report_speed)"), times)
    df = _timed("load", lambda: load(result), times)
    meta_kb = len((result / "metadata.json").read_bytes()) / 1024
    print(f"  ({len(df)} rows, metadata.json {meta_kb:.0f} kB)")
    _timed("explain (load+findings)", lambda: findings_dict(load(result)), times)
    _timed("report (build_report)", lambda: build_report(result, out=report), times)
    explain_total = times["explain (load+findings)"]
    print("\ngoal                      time     goal   met")
    ok = True
    for label, value, goal in (("explain = load + findings", explain_total, GOALS["explain"]),
                               ("report = build_report", times["report (build_report)"], GOALS["report"])):
        met = value < goal
        ok &= met
        print(f"  {label:<26} {value:6.2f} s  {goal:4.0f} s  {'yes' if met else 'NO'}")
    if args.keep:
        print(f"\nkept: {work}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
