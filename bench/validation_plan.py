#!/usr/bin/env python3
"""What the default and quick sweeps need: processes and iterations per point, measured on synthetic
sweeps laid out as collect lays them out (``tests/collected.py``: ``plan.make_jobs``, a process effect
shared by every point a process runs, iteration noise, slow iterations), analysed by
``pmcsuite.overhead`` (the verdicts a user reads).

For each candidate plan (runs per point and variant, warm-ups included, in P processes of 5 points)
and ``draws`` sweeps of each kind (3 IPC modes, the sweep's sizes, baseline + 2 passes, process CV
10 %, iteration CV 3 %, 2 % of iterations at 0.6x):

- ``null any``: share of no-effect sweeps with ANY verdict of a change (a cell or an overall slower or
  faster; goal <= 5 %: the two families spend 2.5 % each);
- ``overall 0.85x``: share of the (IPC mode, pass) overall verdicts "slower" when the pass is 0.85x
  everywhere (goal >= 90 %);
- ``one cell 0.5x``: share of sweeps whose one 0.5x cell (pass 2, pipe 64K) is called slower;
- ``cost``: the sweep's time relative to the summed loop time of the same sweep before issue 15 (13
  runs a point for the default, 9 for the quick), from the iterations per point (loop time) and the
  processes (start-up): (runs x loop + processes / points per process x start-up) / (13 or 9 x loop),
  with ``--loop-ms`` (mean iteration, 9.8 ms) and ``--startup-ms`` (a process's
  own cost, 18 ms), both measured on this VM with ``collect --backend none`` (tracepoint passes pay
  ~40 ms more per tracepoint and process on a VM).

    python3 bench/validation_plan.py [--draws 200] [--plans default:13x3,default:14x7,quick:9x3,quick:12x6]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from collected import QUICK_SIZES, SIZES, sweep  # noqa: E402
from pmcsuite.analysis.overhead import overhead  # noqa: E402

PASSES = ("p1", "p2")
NOISE = dict(process_cv=0.10, iteration_cv=0.03, slow=0.02)
HALF_CELL = ("pipe", 65536, "p2")
TODAY_RUNS = {"default": 13, "quick": 9}     # runs per point of each sweep before issue 15


def measure(kind: str, runs: int, processes: int, draws: int, seed: int = 0) -> dict:
    sizes = SIZES if kind == "default" else QUICK_SIZES
    plan = dict(sizes=sizes, runs=runs, processes=processes, passes=PASSES, **NOISE)
    null = power = cell = 0
    for d in range(draws):
        res = overhead(sweep(seed + 1000 + d, **plan), breakpoints=False)
        null += bool(res.cells["verdict"].isin(["slower", "faster"]).any()
                     or res.modes["overall_verdict"].isin(["slower", "faster"]).any())
        res = overhead(sweep(seed + 5000 + d, ratio={"p1": 0.85, "p2": 1.0}, cell_effect=(HALF_CELL, 0.5), **plan),
                       breakpoints=False)
        modes = res.modes[res.modes["variant"] == "p1"]
        power += float((modes["overall_verdict"] == "slower").mean())
        c = res.cells
        at = c[(c["ipc"] == HALF_CELL[0]) & (c["buffer_size"] == HALF_CELL[1]) & (c["variant"] == HALF_CELL[2])]
        cell += bool((at["verdict"] == "slower").all())
    return {"null": null / draws, "overall": power / draws, "cell": cell / draws}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plans", default="default:13x3,default:14x7,default:16x8,quick:9x3,quick:8x4,quick:12x6")
    ap.add_argument("--loop-ms", type=float, default=9.8)
    ap.add_argument("--startup-ms", type=float, default=18.0)
    ap.add_argument("--points-per-process", type=int, default=5)
    args = ap.parse_args(argv)
    print(f"{args.draws} draws per plan and kind; process CV 10 %, iteration CV 3 %, 2 % slow iterations")
    print(f"{'sweep':8} {'runs':>4} {'proc':>4} {'measured':>8} {'null any':>9} {'overall 0.85x':>14} "
          f"{'one cell 0.5x':>14} {'cost':>6} {'time':>6}")
    for item in args.plans.split(","):
        kind, plan = item.split(":")
        runs, processes = map(int, plan.split("x"))
        start = time.perf_counter()
        r = measure(kind, runs, processes, args.draws, args.seed)
        cost = (runs * args.loop_ms + processes / args.points_per_process * args.startup_ms) / (
            TODAY_RUNS[kind] * args.loop_ms)
        print(f"{kind:8} {runs:4d} {processes:4d} {runs - processes:8d} {r['null']:9.1%} {r['overall']:14.1%} "
              f"{r['cell']:14.1%} {cost:6.2f} {time.perf_counter() - start:5.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
