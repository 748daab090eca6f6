#!/usr/bin/env python3
"""Compare ipcbench's pipe bandwidth with a plain reference: ``dd if=/dev/zero | dd of=/dev/null``.

For each buffer size B, in one interleaved run (the order of the three contenders is shuffled in
every round), it measures:

* ipcbench ``-i pipe`` with placement ``any`` and ``same`` (16 MiB per run, loop-only timing);
* two ``dd`` processes connected by a pipe (no shell): ``dd if=/dev/zero bs=B count=N`` writing,
  ``dd of=/dev/null bs=B iflag=fullblock`` reading, timed from Python around both processes
  (so it includes two exec()s and dd's start-up: an upper bound on the pipe's cost). The column
  ``dd(own)`` is the reader dd's own figure from its final report, for orientation.

Prints the median MiB/s of each and the ratios. Example::

    python bench/bench_vs_reference.py --sizes 4K,64K,1M --runs 5
"""
import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pmcsuite.collect import benchmark  # noqa: E402
from pmcsuite.errors import PmcsuiteError  # noqa: E402
from pmcsuite.sizes import format_size, parse_sizes  # noqa: E402

MiB = 1 << 20
_DD_SECONDS = re.compile(r"copied, ([0-9.]+) s")


def run_dd(buffer_size: int, total: int) -> tuple[float, float | None]:
    """One dd | dd pipeline; returns (MiB/s timed from Python, MiB/s by the reader dd's own clock)."""
    count = total // buffer_size
    env = {**os.environ, "LC_ALL": "C"}
    start = time.perf_counter()
    writer = subprocess.Popen(["dd", "if=/dev/zero", f"bs={buffer_size}", f"count={count}"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    reader = subprocess.Popen(["dd", "of=/dev/null", f"bs={buffer_size}", "iflag=fullblock"],
                              stdin=writer.stdout, stderr=subprocess.PIPE, text=True, env=env)
    writer.stdout.close()  # the reader holds the only read end now
    _, err = reader.communicate()
    writer.wait()
    elapsed = time.perf_counter() - start
    if writer.returncode or reader.returncode:
        raise PmcsuiteError(f"dd pipeline failed (exit {writer.returncode}/{reader.returncode}): {err.strip()[-200:]}")
    if f"{total} bytes" not in err:
        raise PmcsuiteError(f"dd did not copy {total} bytes: {err.strip()[-200:]}")
    own = _DD_SECONDS.search(err)
    own_rate = total / float(own.group(1)) / MiB if own and float(own.group(1)) > 0 else None
    return total / elapsed / MiB, own_rate


def run_ipcbench(exe, buffer_size: int, total: int, placement: str, actors: str) -> float:
    result = benchmark.run_bench(benchmark.bench_argv(exe, "pipe", buffer_size, total, actors, placement))
    if not result["bytes_ok"]:
        raise PmcsuiteError(f"ipcbench reported corrupted data at {format_size(buffer_size)}")
    return result["bandwidth"] / MiB


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="4K,64K,1M", help="buffer sizes (default 4K,64K,1M)")
    parser.add_argument("--runs", type=int, default=5, help="repetitions per size and contender (default 5)")
    parser.add_argument("--total", type=int, default=16 * MiB, help="bytes per run (default 16 MiB)")
    parser.add_argument("--actors", choices=benchmark.ACTORS, default="2proc",
                        help="ipcbench actors (default 2proc, like the two dd processes)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the interleaving order")
    args = parser.parse_args(argv)
    try:
        sizes = parse_sizes(args.sizes)
        if args.runs < 1:
            raise PmcsuiteError("--runs must be at least 1")
        exe = benchmark.build()
        rng = random.Random(args.seed)
        rates = {(size, name): [] for size in sizes for name in ("any", "same", "dd", "dd_own")}
        for _ in range(args.runs):
            for size in sizes:
                contenders = ["any", "same", "dd"]
                rng.shuffle(contenders)
                for name in contenders:
                    if name == "dd":
                        outside, own = run_dd(size, args.total)
                        rates[(size, "dd")].append(outside)
                        if own is not None:
                            rates[(size, "dd_own")].append(own)
                    else:
                        rates[(size, name)].append(run_ipcbench(exe, size, args.total, name, args.actors))
    except PmcsuiteError as exc:
        print(f"bench_vs_reference: error: {exc}", file=sys.stderr)
        return 2

    def med(size, name):
        values = rates[(size, name)]
        return statistics.median(values) if values else float("nan")

    print(f"pipe, {format_size(args.total)} per run, {args.runs} runs, medians in MiB/s; "
          f"ipcbench actors={args.actors}; {os.cpu_count()} CPUs")
    header = f"{'size':>6} {'ipcbench any':>13} {'ipcbench same':>14} {'dd|dd':>8} {'dd(own)':>8} " \
             f"{'any/dd':>7} {'same/dd':>8}"
    print(header)
    print("-" * len(header))
    for size in sizes:
        any_, same, dd, own = med(size, "any"), med(size, "same"), med(size, "dd"), med(size, "dd_own")
        print(f"{format_size(size):>6} {any_:13.0f} {same:14.0f} {dd:8.0f} {own:8.0f}"
              f" {any_ / dd:7.2f} {same / dd:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
