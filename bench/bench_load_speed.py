"""How long ``pmcsuite.load`` takes on 100,000 runs, and how much memory (issue 10: < 2 s, < 500 MiB).

Writes a synthetic result directory of the default sweep's shape (bench/bench_report_time.py:
3 modes x 15 sizes x 3 variants) with 741 runs per cell in 57 processes, 100,035 runs, every record
as ``pmcsuite collect`` stores it (bench output, per-actor counters, busy, warnings). Then each
measurement runs ``load`` in a fresh Python process and reads that process's peak resident memory
(``ru_maxrss``, which includes the interpreter, pandas and numpy: the figure a user sees):

- **first load**: no columnar cache yet (``runs.jsonl`` is parsed; the cache is written);
- **cached load**: the cache beside ``runs.jsonl`` is checked against it and read;
- **after an append**: one more process's runs are appended (as ``collect`` does), so only the new
  tail is parsed;
- **journal only**: ``load(..., cache=False)``, the parse alone.

Each is the median of ``--repeat`` processes; the goal applies to the cached load, the one a user
repeats (``report``, ``explain``, ``summary`` and the notebook all load).

    python bench/bench_load_speed.py [--repeat 3] [--keep DIR]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pmcsuite.schema import MIB, RunRecord  # noqa: E402

GOAL_S, GOAL_MIB = 2.0, 500
RUNS, PROCESSES = 741, 57

#: what the child process does: load, time it, report its peak resident memory. VmHWM, not
#: getrusage's ru_maxrss: Linux carries the parent's peak at fork into the child's ru_maxrss.
CHILD = """
import json, re, sys, time
from pmcsuite.results.load import load
start = time.perf_counter()
df = load(sys.argv[1], cache=sys.argv[2] == "cache")
took = time.perf_counter() - start
peak_kib = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
print(json.dumps({"seconds": took, "rows": len(df), "columns": len(df.columns), "peak_mib": peak_kib / 1024}))
"""


def _measure(result: Path, cache: bool) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(result), "cache" if cache else "nocache"],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def _append_one_process(result: Path) -> None:
    """Append one more process of 13 runs, copied from the last stored ones with new seq numbers."""
    from pmcsuite.results.store import ResultStore
    with open(result / "runs.jsonl", "rb") as handle:     # the last 13 lines, without reading 200 MiB
        handle.seek(-13 * 4096, 2)
        last = [json.loads(line) for line in handle.read().splitlines()[-13:]]
    seq = max(r["seq"] for r in last) + 1
    process = max(r["process"] for r in last) + 1
    batch = [dataclasses.replace(RunRecord.from_json(r), seq=seq + k, process=process).to_json()
             for k, r in enumerate(last)]
    ResultStore(result).append_runs(batch)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="processes per measurement (median)")
    parser.add_argument("--keep", type=Path, help="write the result directory here and keep it")
    args = parser.parse_args(argv)
    from bench_report_time import IPCS, PASSES, SIZES, write_results
    from pmcsuite.results.cache import cache_path

    work = args.keep or Path(tempfile.mkdtemp(prefix="pmcsuite-bench-load-"))
    result = work / "result"
    start = time.perf_counter()
    count = write_results(result, runs=RUNS, processes=PROCESSES)
    size_mib = (result / "runs.jsonl").stat().st_size / MIB
    print(f"synthetic sweep: {count:,} runs ({len(IPCS)} modes x {len(SIZES)} sizes x {1 + len(PASSES)} variants "
          f"x {RUNS} runs), runs.jsonl {size_mib:,.0f} MiB, written in {time.perf_counter() - start:.0f} s")

    def median(name, cache, before=None):
        results = []
        for _ in range(max(1, args.repeat)):
            if before:
                before()
            results.append(_measure(result, cache))
        took = float(np.median([r["seconds"] for r in results]))
        peak = float(np.median([r["peak_mib"] for r in results]))
        print(f"  {name:<22} {took:6.2f} s   peak {peak:5.0f} MiB   ({results[0]['rows']:,} rows x "
              f"{results[0]['columns']} columns)")
        return took, peak

    def drop_cache():
        cache_path(result).unlink(missing_ok=True)

    print(f"load (median of {max(1, args.repeat)} fresh processes):")
    median("journal only", cache=False)
    median("first load", cache=True, before=drop_cache)
    took, peak = median("cached load", cache=True)
    median("after an append", cache=True, before=lambda: _append_one_process(result))
    met = took < GOAL_S and peak < GOAL_MIB
    print(f"goal: cached load < {GOAL_S:.0f} s and < {GOAL_MIB} MiB -> {took:.2f} s, {peak:.0f} MiB: "
          f"{'met' if met else 'NOT MET'}")
    if args.keep:
        print(f"kept: {work}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
