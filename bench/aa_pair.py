#!/usr/bin/env python3
"""A real A/A pair: two ``pmcsuite.collect`` sweeps with the same settings, back to back, on this host.

Nothing differs between the two sets but time, so every difference the analysis calls is a false
one (or the machine really changed between them). Printed:

- ``compare(A, B)``: the overall verdict per mode and the points called different (slower/faster);
- ``overhead`` of each set: each pass's overall verdict per mode and how its cells were called, side
  by side (the two should agree wherever either says something);
- the bandwidth findings (``findings(explain(df))``) of each set and how many the two share (same
  kind and mode, at sizes within one size step).

    python3 bench/aa_pair.py                    # the quick sweep twice (about 15 s of sweeps here)
    python3 bench/aa_pair.py --default          # collect's default sweep twice (much longer)
    python3 bench/aa_pair.py --out results/aa   # keep the two result sets (default: a temporary dir)

A report, not a test: it exits 0 unless a sweep itself fails.
"""
from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import pmcsuite  # noqa: E402
from validate_analysis import CALLED, Missing, run_compare, run_findings, run_overhead  # noqa: E402


def sweep(out: Path, default: bool, counters, seed: int) -> float:
    t0 = time.perf_counter()
    pmcsuite.collect(out=str(out), quick=not default, counters=counters, seed=seed, progress=False)
    return time.perf_counter() - t0


def _interval(lo, hi) -> str:
    return f"[{lo:.3f}, {hi:.3f}]" if math.isfinite(lo) and math.isfinite(hi) else "[-]"


def show_compare(a, b) -> None:
    print("\n== compare(A, B)")
    try:
        res = run_compare(a, b)
    except Missing as exc:
        print(f"   n/a (API missing: {exc})")
        return
    for _, r in res.overall.iterrows():
        which = " ".join(str(r[k]) for k in ("name", "ipc", "variant") if k in r and r[k] is not None)
        level = f" ({r['level']:.2%} interval)" if "level" in r else ""
        print(f"   overall {which}: ratio {r['ratio']:.3f} {_interval(r['ci_low'], r['ci_high'])}{level} -> "
              f"{r['verdict']}")
    called = res.points[res.points["verdict"].isin(CALLED)]
    print(f"   points called different: {len(called)} of {len(res.points)}")
    for r in called.itertuples():
        print(f"     {r.ipc} {r.buffer_size} {r.variant}: {r.ratio:.3f} {_interval(r.ci_low, r.ci_high)} {r.verdict}")


def _each(tables: dict, analyse) -> dict | None:
    """{name: analyse(df)} for every set, or None (said) when the API it needs is missing."""
    out = {}
    for name, df in tables.items():
        try:
            out[name] = analyse(df)
        except Missing as exc:
            print(f"   n/a (API missing: {exc})")
            return None
    return out


def show_overhead(tables: dict) -> None:
    print("\n== overhead of each set (overall verdict per mode and pass; cells slower/faster/negligible/other)")
    results = _each(tables, run_overhead)
    if results is None:
        return
    frames = {name: (res.modes.set_index(["ipc", "variant"]), res.cells) for name, res in results.items()}
    keys = sorted({k for modes, _ in frames.values() for k in modes.index})
    disagree = 0
    for key in keys:
        texts = []
        verdicts = set()
        for name, (modes, cells) in frames.items():
            m = modes.loc[key] if key in modes.index else None
            c = cells[(cells["ipc"] == key[0]) & (cells["variant"] == key[1])]["verdict"]
            counts = "/".join(str(int((c == v).sum())) for v in ("slower", "faster", "negligible"))
            other = int((~c.isin(["slower", "faster", "negligible"])).sum())
            if m is None:
                texts.append(f"{name}: -")
                continue
            verdicts.add(m["overall_verdict"])
            texts.append(f"{name}: {m['overall_ratio']:.3f} {_interval(m['overall_ci_low'], m['overall_ci_high'])} "
                         f"{m['overall_verdict']}; cells {counts}/{other}")
        called = verdicts & set(CALLED)
        disagree += bool(called) and len(verdicts) > 1
        print(f"   {key[0]} {key[1]}: " + " | ".join(texts))
    print(f"   modes where one set calls slower/faster and the other does not agree: {disagree} of {len(keys)}")


def _where(f) -> tuple:
    return tuple(int(f[k]) for k in ("size", "from_size", "to_size") if f.get(k))


def _same(f, g) -> bool:
    a, b = _where(f), _where(g)
    return (f.get("kind"), f.get("ipc")) == (g.get("kind"), g.get("ipc")) and len(a) == len(b) and all(
        abs(math.log2(x) - math.log2(y)) <= 1 for x, y in zip(a, b))


def show_findings(tables: dict) -> None:
    print("\n== bandwidth findings of each set")
    results = _each(tables, run_findings)
    if results is None:
        return
    found = {name: [f for f in fs if f.get("of", "bandwidth") == "bandwidth"] for name, fs in results.items()}
    (na, fa), (nb, fb) = found.items()
    shared = [f for f in fa if any(_same(f, g) for g in fb)]
    print(f"   {na}: {len(fa)}, {nb}: {len(fb)}, shared: {len(shared)}")
    for name, own, other in ((na, fa, fb), (nb, fb, fa)):
        for f in own:
            if not any(_same(f, g) for g in other):
                print(f"   only in {name}: {f.get('kind')} {f.get('ipc')} {_where(f)}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--default", action="store_true", help="collect's default sweep (default: --quick)")
    ap.add_argument("--out", help="directory to keep the two result sets in (A/ and B/)")
    ap.add_argument("--counters", default=None, help="collect --counters (default: collect's own)")
    ap.add_argument("--seed", type=int, default=1, help="collect's seed, the same for both sets")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aa-pair-") as tmp:
        root = Path(args.out) if args.out else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        tables = {}
        for name in ("A", "B"):
            seconds = sweep(root / name, args.default, args.counters, args.seed)
            tables[name] = pmcsuite.load(root / name)
            print(f"set {name}: {'default' if args.default else 'quick'} sweep, {len(tables[name])} runs, "
                  f"{seconds:.0f} s ({root / name})")
        show_compare(tables["A"], tables["B"])
        show_overhead(tables)
        show_findings(tables)
    return 0


if __name__ == "__main__":
    sys.exit(main())
