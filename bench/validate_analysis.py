#!/usr/bin/env python3
"""Issue 8's validation, in one run: the findings (breakpoints, attribution) and the overhead verdicts
on synthetic sweeps with known truth (15 sizes, 10 runs, noise CV 3/10/20 %, >= 100 draws each).

Goals: planted breakpoint recovered within one size step >= 90 % at CV 10 %; false breakpoints
(extra ones, any on a flat curve or a straight line in log2 size) <= 2 %; a planted related counter
named >= 90 %; an unrelated counter (no breakpoint, or one two steps away) named in <= 5 % of
findings; no-effect sweeps with any significant overhead verdict <= 5 %.

    python bench/validate_analysis.py [--draws 100] [--seed 0]     # about 80 s here
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import validation_findings  # noqa: E402
import validation_overhead  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    options = ["--draws", str(args.draws), "--seed", str(args.seed)]
    status = validation_findings.main(options)
    print()
    return status or validation_overhead.main(options)


if __name__ == "__main__":
    sys.exit(main())
