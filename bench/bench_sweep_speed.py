#!/usr/bin/env python3
"""How much the harness costs: a sweep's wall time against the summed loop times of its runs, with
in-process counting (``--backend inproc``, the default on Linux) and with ``perf stat`` around every
run (``--backend perf``), measured side by side in one invocation; and whether the two agree on the
software events and tracepoints they both count.

For each backend it runs ``pmcsuite.collect`` (by default the default sweep: pipe, local, local-s,
1K..16M, 13 runs per point and variant, every counter group this host counts) into a temporary
directory and prints:

* ``wall``: the time of the whole ``collect`` call (planning, the counter check, the build, every
  process, storing);
* ``loops``: the sum of ``loop_ns`` over every stored run, warm-ups included (the time spent moving
  data), and ``ratio`` = wall / loops. Goal for inproc: ratio <= 1.5.

Then, per point (IPC mode x buffer size) and counter both backends measured, the median over each
backend's measured runs, and whether they agree within 2 % or 2 events (goal: every point). perf
stat's loop-only window also holds its controller's system calls (2 writes, 0-3 reads): they show
up here as the difference that the in-process counts do not have.

    python bench/bench_sweep_speed.py                  # the default sweep (a few minutes: perf is slow)
    python bench/bench_sweep_speed.py --quick          # the quick sweep (1K-1M, 9 runs)
    python bench/bench_sweep_speed.py --sizes 4K,64K,1M --runs 13
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

import pmcsuite  # noqa: E402
from pmcsuite.results import measured  # noqa: E402
from pmcsuite.sizes import format_size  # noqa: E402

GOAL_RATIO = 1.5
TOLERANCE = (0.02, 2.0)       # relative, absolute (events)


def timed_sweep(backend: str, out: Path, options: dict) -> tuple[float, pd.DataFrame]:
    start = time.perf_counter()
    pmcsuite.collect(out=out, backend=backend, progress=False, **options)
    wall = time.perf_counter() - start
    return wall, pmcsuite.load(out)


def agreement(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per point and shared counter: medians of each backend and whether they agree."""
    counters = [c for c in a.attrs["counters"] if c in b.attrs["counters"]]
    rows = []
    for name, df in (("inproc", a), ("perf", b)):
        runs = measured(df)
        runs = runs[runs["variant"] != "baseline"]
        for cid in counters:
            med = runs.groupby(["ipc", "buffer_size"])[cid].median()
            rows += [{"ipc": ipc, "size": size, "counter": cid, name: value} for (ipc, size), value in med.items()]
    table = pd.DataFrame(rows).groupby(["ipc", "size", "counter"], sort=False).first().reset_index()
    diff = (table["perf"] - table["inproc"]).abs()
    table["diff"] = table["perf"] - table["inproc"]
    table["agree"] = (diff <= TOLERANCE[1]) | (diff <= TOLERANCE[0] * table[["perf", "inproc"]].abs().max(axis=1))
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the quick sweep instead of the default one")
    parser.add_argument("--sizes", help="buffer sizes (default: the sweep's)")
    parser.add_argument("--runs", type=int, help="runs per point and variant (default: the sweep's)")
    parser.add_argument("--skip-perf", action="store_true", help="only the in-process sweep")
    args = parser.parse_args()
    options = {k: v for k, v in {"quick": args.quick, "sizes": args.sizes, "runs": args.runs}.items() if v}
    results = {}
    with tempfile.TemporaryDirectory(prefix="pmcsuite-bench-") as tmp:
        for backend in ("inproc",) + (() if args.skip_perf else ("perf",)):
            wall, df = timed_sweep(backend, Path(tmp, backend), options)
            ok = df[df["ok"]]
            loops = ok["loop_ns"].sum() / 1e9
            results[backend] = df
            variants = sorted(set(ok["variant"]))
            processes = ok["process"].nunique()
            print(f"{backend:>6}: {len(ok)} runs in {processes} benchmark processes, variants {', '.join(variants)}")
            print(f"{'':>6}  wall {wall:7.1f} s   loops {loops:7.2f} s   ratio {wall / loops:5.2f}"
                  + (f"   (goal <= {GOAL_RATIO}: {'met' if wall / loops <= GOAL_RATIO else 'NOT met'})"
                     if backend == "inproc" else ""))
        if "perf" in results:
            table = agreement(results["inproc"], results["perf"])
            if table.empty:
                print("no counter measured by both backends")
                return 0
            bad = table[~table["agree"]]
            print(f"\ncounts, inproc vs perf stat: {len(table) - len(bad)} of {len(table)} (point, counter) medians "
                  f"agree within {TOLERANCE[0]:.0%} or {TOLERANCE[1]:.0f} events")
            summary = table.groupby("counter").agg(points=("agree", "size"), agree=("agree", "sum"),
                                                   median_diff=("diff", "median"), max_diff=("diff", "max"),
                                                   min_diff=("diff", "min"))
            print(summary.to_string())
            if not bad.empty:
                shown = bad.assign(size=bad["size"].map(format_size))
                print("\npoints that disagree (perf - inproc):")
                print(shown.to_string(index=False, float_format="{:,.1f}".format))
    return 0


if __name__ == "__main__":
    sys.exit(main())
