"""How long the issue-3 analysis takes on a full sweep, next to loading/summarising the same table.

Builds a synthetic result directory (3 IPC modes x 15 sizes x 11 runs (1 warm-up) x baseline + 2 passes,
8 counters), then times: loading + summarising it (``pmcsuite.load``/``summarise``), ``explain`` (which
includes the overhead), and ``findings_dict`` on the explanation. Target: analysis < 10 s.

    python bench/bench_analysis_speed.py [--n-boot 200] [--keep DIR]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pmcsuite.analysis import explain, findings_dict  # noqa: E402
from pmcsuite.results.load import load, summarise  # noqa: E402
from pmcsuite.results.store import ResultStore  # noqa: E402
from pmcsuite.schema import (BASELINE, DEFAULT_ACTORS, DEFAULT_PLACEMENT, DEFAULT_TOTAL, MIB,  # noqa: E402
                             CounterValue, RunRecord)

TOTAL = DEFAULT_TOTAL
SIZES = [1 << k for k in range(10, 25)]
# Median MiB/s shapes after the L41 study (experiment.md), interpolated on log2(size)
SHAPES = {
    "pipe": {10: 91, 12: 258, 13: 274, 14: 383, 15: 481, 16: 540, 17: 308, 18: 169, 20: 154, 24: 103},
    "local": {10: 50, 12: 159, 13: 225, 14: 238, 15: 239, 16: 225, 17: 153, 18: 112, 20: 107, 24: 72},
    "local-s": {10: 50, 12: 162, 13: 231, 14: 278, 15: 317, 16: 257, 17: 109, 18: 87, 20: 81, 24: 54},
}
PASSES = {"syscalls+faults": ["syscalls_write", "syscalls_read", "page_faults", "context_switches"],
          "sched+bus": ["cpu_migrations", "task_clock", "sched_switch", "axi_read"]}


def _shape(ipc: str, size: int) -> float:
    pts = SHAPES[ipc]
    xs = sorted(pts)
    return float(np.interp(np.log2(size), xs, [pts[x] for x in xs]))


def _counters(ipc: str, size: int, rng) -> dict:
    reads = TOTAL / min(size, 65536) if ipc == "pipe" else TOTAL / min(size, 8192 if ipc == "local" else size)
    axi = 2000 + (TOTAL / 64) * min(1.0, max(0.0, np.log2(size / 65536) / 2)) if size > 65536 else 2000 + size / 32
    base = {"syscalls_write": TOTAL / size, "syscalls_read": reads, "page_faults": 30 + size / 4096,
            "context_switches": reads / 2 + 5, "cpu_migrations": rng.poisson(2), "task_clock": 2e7,
            "sched_switch": reads / 2 + 5, "axi_read": axi}
    return {k: float(v) * (1 + 0.02 * rng.standard_normal()) if k != "cpu_migrations" else float(v)
            for k, v in base.items()}


def synthetic_records(seed: int = 1, runs: int = 11, warmup: int = 1) -> list[dict]:
    """runs.jsonl records of a synthetic full sweep (see the module docstring): one benchmark process
    a run, as perf stat runs them."""
    rng = np.random.default_rng(seed)
    recs, seq = [], 0
    for ipc in SHAPES:
        for size in SIZES:
            for variant in [BASELINE, *PASSES]:
                slow = 1.0 if variant == BASELINE else 0.9
                for run in range(runs):
                    mib = _shape(ipc, size) * slow * (1 + 0.04 * rng.standard_normal())
                    bw = mib * MIB
                    counters = {}
                    if variant != BASELINE:
                        vals = _counters(ipc, size, rng)
                        counters = {c: CounterValue(c, c, vals[c], "", "ok", pcnt_running=100.0).to_dict()
                                    for c in PASSES[variant]}
                    recs.append(RunRecord(
                        ipc=ipc, actors=DEFAULT_ACTORS, placement=DEFAULT_PLACEMENT, buffer_size=size,
                        total_size=TOTAL, run=run, warmup=run < warmup, variant=variant,
                        backend="none" if variant == BASELINE else "perf",
                        scope=None if variant == BASELINE else "loop",
                        process=run, iteration=0, iterations=1,
                        started="2026-11-27T15:00:00.000+00:00", seq=seq,
                        bench={"loop_ns": int(TOTAL / bw * 1e9), "bandwidth": bw, "writes": TOTAL // size,
                               "reads": TOTAL // min(size, 65536)},
                        counters=counters, busy={"other_cpu_frac": 0.01}).to_json())
                    seq += 1
    return recs


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--keep", help="write the synthetic result directory here and keep it")
    args = ap.parse_args(argv)
    recs = synthetic_records()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep or tmp)
        store = ResultStore(out)
        passes = [{"name": n, "counters": c} for n, c in PASSES.items()]
        store.create({"source": "synthetic", "plan": {"passes": passes}}, overwrite=True)
        for r in recs:
            store.append_run(r)     # one benchmark process a run
        t0 = time.perf_counter()
        df = load(out)
        summarise(df)
        t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    expl = explain(df, n_boot=args.n_boot)
    t_explain = time.perf_counter() - t0
    t0 = time.perf_counter()
    findings_dict(expl)
    t_find = time.perf_counter() - t0
    print(f"table: {len(df)} runs, {df['ipc'].nunique()} modes x {df['buffer_size'].nunique()} sizes x "
          f"{df['variant'].nunique()} variants, 8 counters; bootstrap B={args.n_boot}")
    print(f"pmcsuite.load + summarise: {t_load:.2f} s")
    print(f"explain (breakpoints + attribution + overhead): {t_explain:.2f} s")
    print(f"findings_dict + sentences: {t_find:.3f} s")
    print(f"analysis / load ratio: {(t_explain + t_find) / max(t_load, 1e-9):.1f}x; "
          f"target < 10 s: {'OK' if t_explain + t_find < 10 else 'TOO SLOW'}")
    for s in findings_dict(expl)["sentences"]:
        print("  " + s)


if __name__ == "__main__":
    main()
