#!/usr/bin/env python3
"""Issue 15's validation: the analysis on synthetic sweeps with the noise collect really makes.

The tables come from ``validation_noise`` (laid out by ``pmcsuite.plan.make_jobs`` with collect's
DEFAULT or QUICK settings; a process level shared by every point of a process, iteration noise,
drift over execution order, slow runs, warm-ups; smooth and shaped curves; planted effects). Each
condition is measured through the public API only: ``pmcsuite.overhead(df)`` (cells and modes),
``pmcsuite.compare(a, b)`` (``.overall``, ``.points``) and
``pmcsuite.analysis.findings.findings(pmcsuite.explain(df))`` (``INFLEXION_KINDS``, flat peaks).

Goals (issue 15, "How it is checked"):

- no-effect sweeps with any verdict (a "slower" or "faster" anywhere): <= 5 %;
- coverage of the printed per-cell and overall intervals: >= 93 % (each interval is its family's
  simultaneous interval, so its own nominal level is higher: printed beside it);
- power on the overall 0.85x: >= 90 %, with the default sweep and with the quick sweep;
- smooth curves with a located inflexion point: <= 5 %; flat tops called flat: >= 90 %.

Rows without a goal are shown for information. A condition whose API is not there yet prints
"n/a (API missing: ...)". This is a report, not a test: it always exits 0.

    python3 bench/validate_analysis.py [--draws 60] [--seed 0] [--only planted,curves-smooth]
    python3 bench/validate_analysis.py --issue8      # also issue 8's independent-noise validation
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import math
import sys
import time
from pathlib import Path

import numpy as np
from statsmodels.stats.proportion import proportion_confint  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import validation_noise as vn  # noqa: E402

VERDICTS = ("slower", "faster", "negligible", "not established", "too few processes")
CALLED = ("slower", "faster")
MARGIN = 0.05
#: curve conditions are cheap: they run this many times the draws
CURVE_DRAWS = 3


class Missing(Exception):
    """An API this check needs is not there (yet)."""


class Tally:
    """k out of n per measure, with its goal (op, value) or None."""

    def __init__(self):
        self.rows: dict = {}

    def add(self, measure: str, hit, goal=None, nominal=None):
        k, n, g, nom = self.rows.get(measure, (0, 0, goal, nominal))
        hits = [bool(h) for h in (hit if isinstance(hit, (list, tuple, np.ndarray)) else [hit])]
        self.rows[measure] = (k + sum(hits), n + len(hits), goal, nominal if nominal is not None else nom)


def wilson(k: int, n: int) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k/n (statsmodels)."""
    if n == 0:
        return float("nan"), float("nan")
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    return float(lo), float(hi)


def _status(k, n, goal) -> str:
    if goal is None or n == 0:
        return ""
    op, value = goal
    p, (lo, hi) = k / n, wilson(k, n)
    if (op == "<=" and p <= value) or (op == ">=" and p >= value):
        return "met"
    if (op == "<=" and lo <= value) or (op == ">=" and hi >= value):
        return "consistent (not significantly off)"
    return "MISSED"


# ---- the public API, tolerantly ------------------------------------------------------------------

def _need(frame, columns, what):
    missing = [c for c in columns if frame is None or c not in frame.columns]
    if missing:
        raise Missing(f"{what} has no {', '.join(missing)}")


def _words(values, what):
    odd = sorted({str(v) for v in values} - set(VERDICTS))
    if odd:
        raise Missing(f"{what} verdicts are not inference's words yet ({', '.join(odd[:3])})")


def _call(fn, *args, **optional):
    """``fn(*args, **the optional keywords it accepts)``."""
    params = inspect.signature(fn).parameters
    return fn(*args, **{k: v for k, v in optional.items() if k in params})


def run_overhead(df):
    import pmcsuite
    fn = getattr(pmcsuite, "overhead", None)
    if fn is None:
        raise Missing("pmcsuite.overhead")
    res = _call(fn, df, breakpoints=False)
    _need(getattr(res, "cells", None), ["ipc", "variant", "buffer_size", "verdict", "ci_low", "ci_high"],
          "overhead cells")
    _need(getattr(res, "modes", None), ["ipc", "variant", "overall_ratio", "overall_ci_low", "overall_ci_high",
                                        "overall_verdict"], "overhead modes")
    _words(res.cells["verdict"], "overhead cell")
    _words(res.modes["overall_verdict"], "overhead overall")
    return res


def run_compare(a, b):
    import pmcsuite
    res = _call(pmcsuite.compare, a, b, names=["A", "B"], with_findings=False)
    if not hasattr(res, "overall"):
        raise Missing("compare(...).overall")
    _need(res.overall, ["ratio", "ci_low", "ci_high", "verdict"], "compare .overall")
    _need(res.points, ["ratio", "ci_low", "ci_high", "verdict"], "compare .points")
    _words(res.overall["verdict"], "compare overall")
    _words(res.points["verdict"], "compare point")
    return res


def _findings_module():
    """The module (``pmcsuite.analysis.findings`` the attribute is the function of that name)."""
    return importlib.import_module("pmcsuite.analysis.findings")


def inflexion_kinds() -> tuple:
    kinds = getattr(_findings_module(), "INFLEXION_KINDS", None)
    if kinds is None:
        raise Missing("pmcsuite.analysis.findings.INFLEXION_KINDS")
    return tuple(kinds)


def run_findings(df) -> list:
    import pmcsuite
    return _findings_module().findings(_call(pmcsuite.explain, df, with_overhead=False))


# ---- per-draw measures ---------------------------------------------------------------------------

def wrong(verdict: str, truth: float) -> bool:
    """A verdict the truth contradicts."""
    if verdict == "slower":
        return truth >= 1
    if verdict == "faster":
        return truth <= 1
    if verdict == "negligible":
        return not (1 - MARGIN <= truth <= 1 + MARGIN)
    return False


def _covers(lo, hi, truth) -> list:
    return [bool(a <= t <= b) for a, b, t in zip(lo, hi, truth) if math.isfinite(a) and math.isfinite(b)]


def overhead_draw(cond, rng, seed, tally: Tally):
    df, drawn = vn.sweep_table(rng, sweep=cond.sweep, noise=cond.noise, effects=cond.effects, curves=cond.curves,
                               seed=seed)
    res = run_overhead(df)
    sizes = drawn["settings"]["sizes"]
    cells, modes = res.cells, res.modes
    ct = np.array([vn.truth(cond.effects, v, i, int(s)) for v, i, s in
                   zip(cells["variant"], cells["ipc"], cells["buffer_size"])])
    mt = np.array([vn.truth(cond.effects, v, i, sizes) for v, i in zip(modes["variant"], modes["ipc"])])
    null = not cond.effects.overall and not cond.effects.cells
    bad = any(wrong(v, t) for v, t in zip(cells["verdict"], ct)) or \
        any(wrong(v, t) for v, t in zip(modes["overall_verdict"], mt))
    if null:
        tally.add("no-effect sweeps with any verdict", bad, ("<=", 0.05))
    else:
        tally.add("sweeps with a wrong verdict (any cell or mode)", bad, ("<=", 0.05))
    cell_cov = _covers(cells["ci_low"], cells["ci_high"], ct)
    mode_cov = _covers(modes["overall_ci_low"], modes["overall_ci_high"], mt)
    cell_level = getattr(res, "cell_level", None)
    overall_level = getattr(res, "overall_level", None)
    tally.add("cell intervals covering the truth", cell_cov, (">=", 0.93), cell_level)
    tally.add("overall intervals covering the truth", mode_cov, (">=", 0.93), overall_level)
    tally.add("sweeps whose cell intervals ALL cover", all(cell_cov), None, 1 - 0.025 if cell_level else None)
    tally.add("sweeps whose overall intervals ALL cover", all(mode_cov), None, 1 - 0.025 if overall_level else None)
    if null:
        tally.add("cells called negligible", list(cells["verdict"] == "negligible"))
        tally.add("modes called negligible overall", list(modes["overall_verdict"] == "negligible"))
        return
    planted = modes["variant"] == vn.PASSES[0]
    tally.add(f"power: overall 0.85x called slower ({vn.PASSES[0]}, per mode)",
              list(modes.loc[planted, "overall_verdict"] == "slower"), (">=", 0.90))
    tally.add("sweeps with the 0.85x called slower in every mode", bool((modes.loc[planted, "overall_verdict"]
                                                                        == "slower").all()))
    half = (cells["variant"] == vn.HALF_CELL[0]) & (cells["ipc"] == vn.HALF_CELL[1]) & \
        (cells["buffer_size"] == vn.HALF_CELL[2])
    tally.add("the 0.5x cell called slower", list(cells.loc[half, "verdict"] == "slower"))
    tally.add(f"cells of {vn.PASSES[0]} (0.85x) called slower", list(cells.loc[cells["variant"] == vn.PASSES[0],
                                                                           "verdict"] == "slower"))


def compare_draw(cond, rng, seed, tally: Tally):
    a = vn.table(rng, sweep=cond.sweep, noise=cond.noise, curves=cond.curves, seed=seed)
    b = vn.table(rng, sweep=cond.sweep, noise=cond.noise, curves=cond.curves, seed=seed + 7919, scale=cond.scale)
    res = run_compare(a, b)
    truth = cond.scale
    over = res.overall
    pts = res.points
    bad = any(wrong(v, truth) for v in over["verdict"]) or any(wrong(v, truth) for v in pts["verdict"])
    if truth == 1:
        tally.add("A/A pairs with any verdict (overall or a point)", bad, ("<=", 0.05))
        tally.add("A/A pairs with an overall verdict", any(v in CALLED for v in over["verdict"]))
    else:
        tally.add("pairs with a wrong verdict", bad, ("<=", 0.05))
        tally.add("power: overall 0.85x called slower", list(over["verdict"] == "slower"), (">=", 0.90))
        tally.add("points called slower", list(pts["verdict"] == "slower"))
    lvl = over["level"].iloc[0] if "level" in over.columns and len(over) else None
    tally.add("overall intervals covering the truth", _covers(over["ci_low"], over["ci_high"], [truth] * len(over)),
              (">=", 0.93), lvl)
    tally.add("point intervals covering the truth", _covers(pts["ci_low"], pts["ci_high"], [truth] * len(pts)),
              (">=", 0.93))


def _mode_findings(fs, ipc) -> list:
    return [f for f in fs if f.get("ipc") == ipc and f.get("of", "bandwidth") == "bandwidth"]


def _located(fs, ipc, kinds) -> list:
    """Sizes of the located inflexion points of ``ipc``'s bandwidth curve (a flat peak: its two edges too)."""
    sizes = []
    for f in _mode_findings(fs, ipc):
        if f.get("kind") in kinds:
            sizes.append(int(f.get("size") or f.get("from_size") or 0))
            if f.get("kind") == "peak" and f.get("flat") is True:
                sizes += [int(f.get("from_size") or 0), int(f.get("to_size") or 0)]
    return sizes


def _near(sizes, target, steps=1) -> bool:
    return any(s > 0 and abs(math.log2(s) - math.log2(target)) <= steps for s in sizes)


def curves_draw(cond, rng, seed, tally: Tally):
    kinds = inflexion_kinds()
    fs = run_findings(vn.table(rng, sweep=cond.sweep, noise=cond.noise, curves=cond.curves, seed=seed))
    modes = dict(zip(vn.REFERENCE_IPCS, cond.curves))
    if not tally.rows and set(cond.curves) <= set(vn.SMOOTH):      # the rows in reading order
        for measure_ in ["smooth curves with a located inflexion point (pooled)"] + [f"  {c}" for c in cond.curves]:
            tally.add(measure_, [], ("<=", 0.05))
    for ipc, curve in modes.items():
        found = _located(fs, ipc, kinds)
        if curve in vn.SMOOTH:
            tally.add("smooth curves with a located inflexion point (pooled)", bool(found), ("<=", 0.05))
            tally.add(f"  {curve}", bool(found), ("<=", 0.05))
            seen = {f.get("kind") for f in _mode_findings(fs, ipc)}
            for kind in kinds:
                tally.add(f"  a smooth curve with a {kind} finding", kind in seen)
            continue
        planted = vn.PLANTED[curve]
        if curve == "flat_top":
            flat = [f for f in fs if f.get("ipc") == ipc and f.get("kind") == "peak" and f.get("flat") is True
                    and (f.get("from_size") or 0) <= planted[1] and (f.get("to_size") or 0) >= planted[0]]
            tally.add("flat tops called flat (a flat peak over 64K-1M)", bool(flat), (">=", 0.90))
        else:
            for size in planted:
                tally.add(f"{curve}: a located inflexion within one step of {size >> 10}K", _near(found, size))
            flat_from = [int(f.get("from_size") or 0) for f in _mode_findings(fs, ipc) if f.get("kind") == "flat"]
            tally.add(f"{curve}: a flat range starting within one step of {planted[0] >> 10}K",
                      _near(flat_from, planted[0]))
        stray = [s for s in found if not any(_near([s], p) for p in planted)]
        tally.add(f"{curve}: located inflexions more than one step from the planted ones", bool(stray))


RUNNERS = {"overhead": overhead_draw, "compare": compare_draw, "curves": curves_draw}


# ---- driver ---------------------------------------------------------------------------------------

def measure(cond, draws: int, seed: int):
    """(tally, seconds, missing-API text or None)."""
    tally, t0 = Tally(), time.perf_counter()
    rng = np.random.default_rng([seed, sum(map(ord, cond.name))])
    n = draws * (CURVE_DRAWS if cond.kind == "curves" else 1)
    try:
        for d in range(n):
            RUNNERS[cond.kind](cond, rng, seed * 100003 + d + 1, tally)
    except Missing as exc:
        return tally, time.perf_counter() - t0, str(exc)
    return tally, time.perf_counter() - t0, None


def show(cond, tally: Tally, seconds: float, missing) -> None:
    print(f"\n== {cond.name}: {cond.about}")
    print(f"   {cond.noise.text()}; {seconds:.0f} s")
    if missing:
        print(f"   n/a (API missing: {missing})")
        return
    width = max(len(m) for m in tally.rows) if tally.rows else 10
    print(f"   {'measure':{width}s}  {'value':>6s}  {'k/n':>9s}  {'95 % interval':>13s}  {'goal':>6s}  "
          f"{'nominal':>7s}  status")
    for measure_, (k, n, goal, nominal) in tally.rows.items():
        lo, hi = wilson(k, n)
        value = f"{k / n:6.1%}" if n else "   n/a"
        goal_text = f"{goal[0]}{goal[1]:.0%}" if goal else ""
        nom = f"{nominal:.2%}" if isinstance(nominal, float) and math.isfinite(nominal) else ""
        print(f"   {measure_:{width}s}  {value}  {f'{k}/{n}':>9s}  {f'{lo:.0%}-{hi:.0%}':>13s}  {goal_text:>6s}  "
              f"{nom:>7s}  {_status(k, n, goal)}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=60, help="sweeps per condition (curve conditions: "
                    f"{CURVE_DRAWS} x); the default takes about 8 minutes on 2 cores")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default="", help="comma-separated condition names: "
                    + ", ".join(c.name for c in vn.CONDITIONS))
    ap.add_argument("--issue8", action="store_true", help="also run issue 8's validation (independent noise)")
    args = ap.parse_args(argv)
    chosen = [vn.condition(n.strip()) for n in args.only.split(",") if n.strip()] or vn.CONDITIONS
    print(f"Issue 15 validation: {args.draws} draws per condition (curves x{CURVE_DRAWS}), seed {args.seed}; "
          f"sweeps as collect lays them out (default: {_sweep_text('default')}; quick: {_sweep_text('quick')})")
    t0 = time.perf_counter()
    for cond in chosen:
        show(cond, *measure(cond, args.draws, args.seed))
        sys.stdout.flush()
    print(f"\n{time.perf_counter() - t0:.0f} s in all")
    if args.issue8:
        _issue8(args)
    return 0


def _sweep_text(sweep: str) -> str:
    s = vn.sweep_settings(sweep)
    return (f"{len(s['sizes'])} sizes x {len(vn.REFERENCE_IPCS)} modes x baseline + {len(vn.PASSES)} "
            f"passes, {s['runs']} runs in {s['processes']} processes of {s['points_per_process']} points, "
            f"{s['warmup']} warm-up each")


def _issue8(args) -> None:
    options = ["--draws", str(args.draws), "--seed", str(args.seed)]
    for name in ("validation_findings", "validation_overhead"):
        print(f"\n== issue 8: {name}")
        try:
            __import__(name).main(options)
        except Exception as exc:              # a report: one broken part must not hide the others
            print(f"   n/a ({type(exc).__name__}: {exc})")


if __name__ == "__main__":
    sys.exit(main())
