"""Validation of the findings' inflexion points (issue 15 item 4): located inflexion points only where a
curve leaves the model abruptly, none on smooth curves, flat tops called flat, planted level-offs found.

Each draw is one result table made as ``collect`` makes it (``tests/sweeps.py``: 15 sizes 1K..16M, 13
runs a point in 3 benchmark processes of 5 points each, a warm-up per process and point; a process
level of CV ``pcv``, iteration CV ``icv``, a share ``slow`` of runs at 0.6x), three IPC modes a table.
Every measure goes through ``findings(explain(df))`` (``INFLEXION_KINDS``), except the model's
parameter coverage (``explain``'s ``model``). Curves (``tests/sweeps.py``):

- smooth, no breakpoint: ``hockney`` (t0 4 us, r_inf 6e9: the per-call model itself), ``log_saturating``
  and ``logistic`` (``bench/validation_noise.py``'s), ``log_growing`` (ln(1 + n / 16K): grows as log n,
  never saturates: the hardest for the model);
- planted: ``sharp_fall`` (steep rise, n_1/2 80K, then -30 % a doubling from 64K), ``fall`` (n_1/2 20K,
  -15 % a doubling from 64K), ``level_off`` (n_1/2 20K, flat from 64K), ``flat_top`` (per-call model to
  16K, flat within 1 % to 64K, then -15 % a doubling), ``two_breaks`` (the same from 32K to 128K).

Rates per noise condition:

- ``smooth located``: a smooth curve with a located inflexion point (a finding of ``INFLEXION_KINDS``;
  goal <= 5 %), per family and pooled; ``hockney departs``: any departure on the per-call model (<= 5 %);
- ``flat called flat``: flat_top and two_breaks with a flat peak region spanning the planted flat range
  (goal >= 90 %);
- ``planted recovered``: sharp_fall located at [64K, 128K] (goal >= 90 %); for fall and level_off, the
  first departure's location interval contains 64K (located or gradual), and how often it is located;
- ``coverage``: the model's 95 % intervals of t0, r_inf, n_half holding the truth on hockney.

Run: ``python3 bench/validation_findings.py [--draws N] [--seed S]`` (about 2 s a draw and condition).
``run(draws, seed) -> list[dict]`` (one dict per condition).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import sweeps  # noqa: E402

from pmcsuite.analysis import explain  # noqa: E402
from pmcsuite.analysis.findings import INFLEXION_KINDS, findings  # noqa: E402

K = 1024
CONDITIONS = {"low (process CV 3 %, iteration 1 %, 1 % slow)": dict(pcv=0.03, icv=0.01, slow=0.01),
              "mid (6 %, 2 %, 3 % slow)": dict(pcv=0.06, icv=0.02, slow=0.03),
              "high (10 %, 3 %, 5 % slow)": dict(pcv=0.10, icv=0.03, slow=0.05)}
HOCKNEY = (4e-6, 6e9)
SMOOTH = {"hockney": sweeps.hockney(*HOCKNEY), "log_saturating": sweeps.log_saturating(),
          "logistic": sweeps.logistic(), "log_growing": sweeps.log_growing()}
PLANTED = {"sharp_fall": sweeps.level_off(20e-6, at=64 * K, fall=0.3),
           "fall": sweeps.level_off(5e-6, at=64 * K, fall=0.15), "level_off": sweeps.level_off(5e-6, at=64 * K)}
FLAT = {"flat_top": (sweeps.flat_top(start=16 * K, stop=64 * K), (16 * K, 64 * K)),
        "two_breaks": (sweeps.flat_top(start=32 * K, stop=128 * K), (32 * K, 128 * K))}
GOALS = {"smooth located (pooled)": ("<=", 0.05), "hockney departs": ("<=", 0.05),
         "flat called flat (pooled)": (">=", 0.90), "sharp_fall located at 64K-128K": (">=", 0.90)}


def _draw(curves: dict, seed: int, noise: dict) -> tuple[dict, list]:
    df = sweeps.process_sweep(curves, seed=seed, **noise)
    ex = explain(df, with_overhead=False, labels={})
    return ex.modes, findings(ex)


def run(draws: int = 50, seed: int = 0) -> list[dict]:
    """Rates per condition (module docstring)."""
    out = []
    for name, noise in CONDITIONS.items():
        hits: dict = {}

        def add(measure, hit, hits=hits):
            k, n = hits.get(measure, (0, 0))
            hits[measure] = (k + bool(hit), n + 1)
        t0 = time.perf_counter()
        for d in range(draws):
            s = seed * 100003 + d
            modes, found = _draw({k: SMOOTH[k] for k in ("hockney", "log_saturating", "logistic")}, s, noise)
            extra, found2 = _draw({"log_growing": SMOOTH["log_growing"], **{k: v[0] for k, v in FLAT.items()}},
                                  s + 1, noise)
            planted, found3 = _draw(PLANTED, s + 2, noise)
            for ipc in SMOOTH:
                fs = found2 if ipc == "log_growing" else found
                located = any(f.get("ipc") == ipc and f["kind"] in INFLEXION_KINDS for f in fs)
                add(f"smooth located: {ipc}", located)
                add("smooth located (pooled)", located)
            hm = modes["hockney"].model
            add("hockney departs", bool(hm.departures))
            for key, truth in (("t0_ns", HOCKNEY[0] * 1e9), ("r_inf", HOCKNEY[1]), ("n_half", HOCKNEY[0] * HOCKNEY[1])):
                est, lo, hi = getattr(hm, key)
                add(f"coverage: {key}", lo <= truth <= hi)
            for ipc, (_, (a, b)) in FLAT.items():
                flat = any(f.get("ipc") == ipc and f["kind"] == "peak" and f["flat"] and f["from_size"] <= a
                           and f["to_size"] >= b for f in found2)
                add(f"flat called flat: {ipc}", flat)
                add("flat called flat (pooled)", flat)
            sharp = [f for f in found3 if f.get("ipc") == "sharp_fall" and f["kind"] in INFLEXION_KINDS[:3]]
            add("sharp_fall located at 64K-128K", any(f["size_interval"] == [64 * K, 128 * K] for f in sharp))
            add("sharp_fall: a located point elsewhere", any(f["size_interval"] != [64 * K, 128 * K] for f in sharp))
            for ipc in ("fall", "level_off"):
                deps = planted[ipc].model.departures
                add(f"{ipc}: first departure's interval holds 64K",
                    bool(deps) and deps[0].size_interval[0] <= 64 * K <= deps[0].size_interval[1])
                add(f"{ipc}: located", bool(deps) and deps[0].located)
        out.append({"condition": name, "draws": draws, "seconds": time.perf_counter() - t0,
                    "rates": {k: k_ / n for k, (k_, n) in hits.items()}})
    return out


def _verdict(measure: str, value: float) -> str:
    if measure not in GOALS:
        return ""
    op, goal = GOALS[measure]
    ok = value <= goal if op == "<=" else value >= goal
    return "ok" if ok else f"MISSES {op} {goal:.0%}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"validation of inflexion points: 15 sizes x 13 runs in 3 processes, {args.draws} draws per condition")
    for r in run(args.draws, args.seed):
        print(f"\n{r['condition']} ({r['seconds']:.0f} s)")
        for measure, value in r["rates"].items():
            goal = GOALS.get(measure)
            shown_goal = f"goal {goal[0]} {goal[1]:.0%}" if goal else ""
            print(f"  {measure:44s} {value:6.1%}  {shown_goal:12s} {_verdict(measure, value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
