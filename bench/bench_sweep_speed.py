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
backend's measured runs, and whether they agree within 2 % or 2 events (goal: every point), or at
least within the runs' own spread (the medians come from different runs, and counts such as
context switches or socket reads vary from run to run more than 2 events). Where the benchmark
counts the same thing itself (its calls, getrusage faults and switches), the counter minus that
own count, per run, shows what each backend counts beyond the loop: nothing in-process; perf
stat's loop window also holds its controller's system calls (2 writes, 0-3 reads) and switches.

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
from pmcsuite.report.kernel_sections import CROSSCHECKS  # noqa: E402
from pmcsuite.results.load import measured  # noqa: E402
from pmcsuite.sizes import format_size  # noqa: E402

GOAL_RATIO = 1.5
TOLERANCE = (0.02, 2.0)       # relative, absolute (events)


def timed_sweep(backend: str, out: Path, options: dict) -> tuple[float, pd.DataFrame]:
    start = time.perf_counter()
    pmcsuite.collect(out=out, backend=backend, progress=False, **options)
    wall = time.perf_counter() - start
    return wall, pmcsuite.load(out)


def _medians(df: pd.DataFrame, column: pd.Series) -> pd.DataFrame:
    runs = measured(df)
    keep = (runs["variant"] != "baseline") & column.reindex(runs.index).notna()
    grouped = column.reindex(runs.index)[keep].groupby([runs["ipc"][keep], runs["buffer_size"][keep]])
    return pd.DataFrame({"median": grouped.median(), "iqr": grouped.quantile(0.75) - grouped.quantile(0.25)})


def agreement(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per point and counter both backends measured: each backend's median (and interquartile range)
    over its runs, and the median of the counter minus the benchmark's own count of the same thing
    in the same run (calls, getrusage faults and switches), where there is one."""
    own = {counter: columns for counter, columns, _ in CROSSCHECKS}
    rows = []
    for cid in [c for c in a.attrs["counters"] if c in b.attrs["counters"]]:
        parts = {}
        for name, df in (("inproc", a), ("perf", b)):
            parts[name] = _medians(df, df[cid].astype(float))
            if cid in own:
                excess = df[cid].astype(float) - sum(df[c].astype(float) for c in own[cid])
                parts[name + "_excess"] = _medians(df, excess)["median"]
        table = pd.DataFrame({"inproc": parts["inproc"]["median"], "perf": parts["perf"]["median"],
                              "spread": pd.concat([parts["inproc"]["iqr"], parts["perf"]["iqr"]], axis=1).max(axis=1)})
        if cid in own:
            table["inproc_excess"], table["perf_excess"] = parts["inproc_excess"], parts["perf_excess"]
        rows.append(table.assign(counter=cid).reset_index())
    table = pd.concat(rows, ignore_index=True).rename(columns={"buffer_size": "size"})
    table["diff"] = table["perf"] - table["inproc"]
    table["agree"] = _within(table["diff"], table[["perf", "inproc"]].abs().max(axis=1))
    table["within_spread"] = table["diff"].abs() <= table["spread"]
    if "perf_excess" in table:
        table["excess_diff"] = table["perf_excess"] - table["inproc_excess"]
    return table


def _within(diff: pd.Series, scale: pd.Series) -> pd.Series:
    return (diff.abs() <= TOLERANCE[1]) | (diff.abs() <= TOLERANCE[0] * scale)


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
                  f"agree within {TOLERANCE[0]:.0%} or {TOLERANCE[1]:.0f} events; "
                  f"{int(table['within_spread'].sum())} within the runs' spread (interquartile range)")
            summary = table.groupby("counter").agg(
                points=("agree", "size"), agree=("agree", "sum"), within_spread=("within_spread", "sum"),
                median_diff=("diff", "median"), min_diff=("diff", "min"), max_diff=("diff", "max"))
            print(summary.to_string(float_format="{:,.2f}".format))
            excess = table.dropna(subset=["perf_excess"]) if "perf_excess" in table else table.iloc[0:0]
            if not excess.empty:
                print("\nwhat each backend counts beyond the benchmark's own count in the same run (counter - own;"
                      " medians per point, then their range over the points):")
                print(excess.groupby("counter").agg(
                    inproc_min=("inproc_excess", "min"), inproc_max=("inproc_excess", "max"),
                    perf_min=("perf_excess", "min"), perf_max=("perf_excess", "max"),
                ).to_string(float_format="{:+,.1f}".format))
            if not bad.empty:
                shown = bad.assign(size=bad["size"].map(format_size))
                shown = shown[["ipc", "size", "counter", "inproc", "perf", "diff", "spread", "within_spread"]]
                print("\npoints that disagree (perf - inproc; spread = the larger interquartile range):")
                print(shown.to_string(index=False, float_format="{:,.1f}".format))
    return 0


if __name__ == "__main__":
    sys.exit(main())
