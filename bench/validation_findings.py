"""Validation of the findings on synthetic sweeps (issue 8): are planted breakpoints recovered, are
breakpoints invented, is the planted counter named and are unrelated ones left out?

Each draw is one result table of 15 sizes (1K..16M) x 10 runs per cell, multiplicative Gaussian noise
of coefficient of variation 3, 10 or 20 % on bandwidth *and* counters, three IPC modes:

- ``planted``: bandwidth rises 70 MiB/s per doubling up to 2**k (k drawn in 13..18 per draw), then
  falls by 60 % of its peak by 16M: one breakpoint (a peak) at 2**k;
- ``flat``: 300 MiB/s at every size (no breakpoint);
- ``line``: 100 + 20 per doubling, a straight line in log2(size) (no breakpoint).

A pass ``bus`` (other runs, as with perf passes) measures three counters per KiB:
``related`` (flat 0.5, then 4x per doubling from 2**k for two doublings, then flat), ``unrelated_noise``
(a constant, noise only) and ``unrelated_far`` (the same shape as ``related`` but starting 2 size steps
away from 2**k). Rates per noise level over ``draws`` draws:

- ``recovery``: the planted mode claims a breakpoint within one size step of 2**k;
- ``extra``: the planted mode claims a breakpoint further away;
- ``false_flat`` / ``false_line``: any breakpoint claimed on the flat curve / the straight line;
- ``related_named``: among recovered breakpoints, the related counter is named behind it;
- ``unrelated_named``: share of findings with counters tried (any mode) naming an unrelated counter.

Goals: recovery >= 90 % at CV 10 %, false breakpoints <= 2 %, unrelated counter named in <= 5 % of
findings, related counter named >= 90 %. ``run(draws, seed) -> list[dict]`` (one dict per noise level);
``main()`` prints the table. Run: ``python3 bench/validation_findings.py [--draws N]``.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from pmcsuite.analysis import explain  # noqa: E402

SIZES = [1 << k for k in range(10, 25)]
TOTAL = 1 << 24
MIB = float(1 << 20)
RUNS = 10
NOISES = (0.03, 0.10, 0.20)
GOALS = {"recovery": (">=", 0.90), "extra": ("<=", 0.02), "false_flat": ("<=", 0.02), "false_line": ("<=", 0.02),
         "related_named": (">=", 0.90), "unrelated_named": ("<=", 0.05)}


def planted(k):
    peak = 100 + 70 * (k - 10)
    fall = 0.6 * peak / (24 - k)
    return lambda x: np.where(x <= k, 100 + 70 * (x - 10), peak - fall * (x - k))


def ramp(start):
    return lambda x: 0.5 * 4.0 ** (np.clip(x, start, start + 2) - start)


def table(k: int, noise: float, rng) -> pd.DataFrame:
    """One synthetic result table (vectorised; the columns ``explain`` uses)."""
    far = k + 2 if k + 2 <= 21 else k - 2
    curves = {"planted": planted(k), "flat": lambda x: 300.0 + 0 * x, "line": lambda x: 100 + 20 * (x - 10)}
    counters = {"related": ramp(k), "unrelated_noise": lambda x: 3.0 + 0 * x, "unrelated_far": ramp(far)}
    frames = []
    sizes = np.repeat(np.array(SIZES, dtype=np.int64), RUNS)
    x = np.log2(sizes.astype(float))
    run = np.tile(np.arange(RUNS), len(SIZES))
    for ipc, curve in curves.items():
        for variant in ("baseline", "bus"):
            bw = curve(x) * (1 + noise * rng.standard_normal(len(x))) * MIB
            f = pd.DataFrame({"ipc": ipc, "buffer_size": sizes, "total_size": TOTAL, "run": run, "warmup": False,
                              "variant": variant, "ok": True, "bandwidth": bw, "loop_ns": TOTAL / bw * 1e9,
                              "writes": TOTAL // sizes, "shared_cpu": False})
            for c, per_kib in counters.items():
                values = per_kib(x) * (1 + noise * rng.standard_normal(len(x))) * TOTAL / 1024
                f[c] = np.maximum(values, 1e-9) if variant == "bus" else np.nan
                f[f"{c}_status"] = "ok" if variant == "bus" else None
            frames.append(f)
    df = pd.concat(frames, ignore_index=True)
    df.attrs["counters"] = list(counters)
    return df


def _steps(a: int, b: int) -> float:
    return abs(math.log2(a) - math.log2(b))


def run(draws: int = 100, seed: int = 0, noises=NOISES, n_boot: int = 200) -> list[dict]:
    """Rates per noise level (see the module docstring)."""
    out = []
    for noise in noises:
        rng = np.random.default_rng([seed, int(round(noise * 1000))])
        counts = dict.fromkeys(("recovered", "extra", "false_flat", "false_line", "related", "with_counters",
                                "unrelated"), 0)
        t0 = time.perf_counter()
        for d in range(draws):
            k = int(rng.integers(13, 19))
            ex = explain(table(k, noise, rng), n_boot=n_boot, seed=d, with_overhead=False, labels={})
            target = 1 << k
            p = ex.modes["planted"]
            near = [j for j, b in enumerate(p.breakpoints) if _steps(b.size, target) <= 1]
            counts["recovered"] += bool(near)
            counts["extra"] += any(_steps(b.size, target) > 1 for b in p.breakpoints)
            counts["false_flat"] += bool(ex.modes["flat"].breakpoints)
            counts["false_line"] += bool(ex.modes["line"].breakpoints)
            if near:
                counts["related"] += any("related" in [a.counter for a in p.explained_by[j]] for j in near)
            for m in ex.modes.values():
                for atts in m.tried:
                    if atts:
                        counts["with_counters"] += 1
                        counts["unrelated"] += any(a.named and a.counter.startswith("unrelated") for a in atts)
        elapsed = time.perf_counter() - t0
        out.append({"noise_cv": noise, "draws": draws, "recovery": counts["recovered"] / draws,
                    "extra": counts["extra"] / draws, "false_flat": counts["false_flat"] / draws,
                    "false_line": counts["false_line"] / draws,
                    "related_named": counts["related"] / max(counts["recovered"], 1),
                    "unrelated_named": counts["unrelated"] / max(counts["with_counters"], 1),
                    "findings_with_counters": counts["with_counters"], "seconds": elapsed})
    return out


def _verdict(name: str, value: float, noise: float) -> str:
    op, goal = GOALS[name]
    if name == "recovery" and abs(noise - 0.10) > 1e-9:
        return ""          # the recovery goal is stated at CV 10 %
    ok = value >= goal if op == ">=" else value <= goal
    return "ok" if ok else f"MISSES {op} {goal:.0%}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rows = run(args.draws, args.seed)
    print(f"validation of findings: 15 sizes x {RUNS} runs, {args.draws} draws per noise level")
    for r in rows:
        print(f"\nnoise CV {r['noise_cv']:.0%} ({r['seconds']:.0f} s, {r['findings_with_counters']} findings with "
              f"counters tried)")
        for name in GOALS:
            print(f"  {name:16s} {r[name]:6.1%}  {_verdict(name, r[name], r['noise_cv'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
