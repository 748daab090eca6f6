"""Synthetic sweeps made the way ``collect`` makes them: each point's runs come from a few benchmark
processes (``plan.make_jobs``), each process with its own level (process CV), iterations around it
(iteration CV), a few slow runs, each process's first iteration of a point a warm-up.

Curves give bandwidth in bytes/s as a function of the buffer size n in bytes (numpy arrays). The
families used by the model tests and ``bench/validation_findings.py``:

- ``hockney(t0, r_inf)``: time per write() call t0 + n / r_inf (no regime change);
- ``log_saturating(top)``: top x (1 - exp(-(log2 n - 8) / 4)), concave in log2 size, saturating;
- ``log_growing(top, scale)``: top x ln(1 + n/scale) / ln(1 + N/scale), N = 16 MiB: proportional to n at
  small sizes, growing as log n beyond ``scale``, never saturating;
- ``logistic(low, high, centre, width)``: an S in log2 size, low + (high - low) / (1 + exp(-(log2 n -
  log2 centre) / width)) (the first three are ``bench/validation_noise.py``'s smooth curves);
- ``level_off(t0, r_inf, at, fall)``: the per-call model up to ``at`` bytes, then the bandwidth
  reached there, falling by ``fall`` (a fraction) per doubling beyond (0: flat);
- ``flat_top(t0, r_inf, start, stop, fall)``: the per-call model up to ``start``, flat within +-1 % to
  ``stop``, then falling by ``fall`` per doubling (two close breakpoints when ``start`` and ``stop`` are
  two doublings apart).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from collected import sweep

SIZES = [1 << k for k in range(10, 25)]   # 1K .. 16M
N_MAX = float(1 << 24)


def hockney(t0=2e-6, r_inf=4e9):
    return lambda n: np.asarray(n, float) / (t0 + np.asarray(n, float) / r_inf)


def log_saturating(top=3e9):
    return lambda n: top * (1 - np.exp(-(np.log2(np.asarray(n, float)) - 8) / 4))


def log_growing(top=3e9, scale=16384.0):
    return lambda n: top * np.log1p(np.asarray(n, float) / scale) / math.log1p(N_MAX / scale)


def logistic(low=0.4e9, high=4e9, centre=1 << 15, width=1.5):
    def curve(n):
        x = np.log2(np.asarray(n, float))
        return low + (high - low) / (1 + np.exp(-(x - math.log2(centre)) / width))
    return curve


def level_off(t0=2e-6, r_inf=4e9, at=1 << 16, fall=0.0):
    base = hockney(t0, r_inf)

    def curve(n):
        n = np.asarray(n, float)
        top = base(at)
        return np.where(n <= at, base(n), top * (1 - fall) ** np.log2(np.maximum(n, at) / at))
    return curve


def flat_top(t0=2e-6, r_inf=4e9, start=1 << 14, stop=1 << 16, fall=0.15):
    base = hockney(t0, r_inf)

    def curve(n):
        n = np.asarray(n, float)
        top = base(start)
        ripple = 1 + 0.01 * np.sin(np.log2(n))           # within +-1 % on the top
        out = np.where(n < start, base(n), top * ripple)
        return np.where(n > stop, top * (1 - fall) ** np.log2(n / stop), out)
    return curve


def process_sweep(curves: dict, *, sizes=SIZES, runs=13, processes=3, points_per_process=5, pcv=0.06,
                  icv=0.02, slow=0.03, seed=0, variants=("baseline",)) -> pd.DataFrame:
    """One result table (``collected.sweep``): ``curves`` maps an IPC mode to its curve (bytes/s); every
    variant gets the same curve."""
    return sweep(seed, curves=curves, sizes=sizes, runs=runs, processes=processes,
                 points_per_process=points_per_process, process_cv=pcv, iteration_cv=icv, slow=slow,
                 passes=[v for v in variants if v != "baseline"], baseline="baseline" in variants)
