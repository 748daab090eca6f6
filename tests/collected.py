"""Synthetic sweeps laid out as ``collect`` runs them (``plan.make_jobs``): each point's runs are the
iterations of a few benchmark processes, each process runs several points of one variant in a row,
and a process keeps its own regime for its whole life (one factor shared by every point and
iteration it runs). On top: iteration noise, and now and then a slow iteration.

``sweep(seed, ...)`` -> a result table in the shape of ``pmcsuite.load(DIR)`` (the columns the
analysis reads). Used by test_overhead, test_compare, test_precision and bench/validation_*.py.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pmcsuite.plan import Pass, make_jobs
from pmcsuite.schema import DEFAULT_TOTAL as TOTAL
from pmcsuite.schema import MIB

SIZES = [1 << k for k in range(10, 25)]     # 1K .. 16M, the default sweep's 15 sizes
QUICK_SIZES = [1 << k for k in range(10, 21)]   # 1K .. 1M


def curve(size: int) -> float:
    """A smooth bandwidth curve (MiB/s) of the buffer size: the truth the runs scatter around."""
    return 1000.0 * (1 + 0.1 * math.log2(size))


def sweep(seed: int, *, ratio=1.0, passes=("pmc",), ipcs=("pipe", "local", "local-s"), sizes=SIZES, runs=13,
          processes: int | None = 3, points_per_process: int = 5, warmup: int = 1, process_cv: float = 0.06,
          iteration_cv: float = 0.02, slow: float = 0.0, slow_factor: float = 0.6, cell_effect=None,
          baseline: bool = True, scale: float = 1.0, process_offset: int = 0, curves: dict | None = None
          ) -> pd.DataFrame:
    """One sweep. ``ratio``: every pass's true bandwidth / the baseline's (a number, or {pass: number});
    ``cell_effect``: ((ipc, size, pass) or (ipc, size), factor), one more factor at one point;
    ``process_cv``/``iteration_cv``: log-normal spreads of the process regime and of an iteration;
    ``slow``: the chance that an iteration is ``slow_factor`` as fast; ``scale``: every run's factor
    (a set that is uniformly faster or slower); ``processes=None``: one process per run (a run without
    a process number, like an import); ``process_offset``: where the process numbers start; ``curves``:
    {ipc: bandwidth in bytes/s as a function of the buffer size}, one per IPC mode (replacing ``ipcs``;
    default: ``curve`` for every mode)."""
    if curves is not None:
        ipcs = list(curves)
    rng = np.random.default_rng(seed)
    pass_list = [Pass(name, [], [], {}) for name in passes]
    jobs = make_jobs(list(ipcs), list(sizes), runs, pass_list, seed, baseline=baseline, processes=processes,
                     points_per_process=points_per_process if processes else 1)
    n_processes = max(j.process for j in jobs) + 1
    regime = np.exp(rng.normal(0.0, process_cv, n_processes))
    rows = []
    for job in jobs:
        effect = 1.0 if job.variant == "baseline" else (ratio.get(job.variant, 1.0) if isinstance(ratio, dict)
                                                         else ratio)
        if cell_effect is not None:
            where, factor = cell_effect
            if tuple(where) in ((job.ipc, job.size, job.variant), (job.ipc, job.size)) and job.variant != "baseline":
                effect *= factor
        for i in range(job.iterations):
            level = float(curves[job.ipc](float(job.size))) if curves else curve(job.size) * MIB
            bw = scale * level * effect * regime[job.process] * math.exp(rng.normal(0.0, iteration_cv))
            if rng.random() < slow:
                bw *= slow_factor
            run = job.first_run + i
            rows.append({"ipc": job.ipc, "actors": "2thread", "placement": "same", "buffer_size": int(job.size),
                         "total_size": TOTAL, "variant": job.variant,
                         "process": (job.process + process_offset) if processes else None,
                         "run": run, "iteration": i if processes else 0,
                         "warmup": (i if processes else run) < warmup, "ok": True, "bandwidth": bw,
                         "loop_ns": TOTAL / bw * 1e9, "shared_cpu": False,
                         "writes": TOTAL // job.size, "reads": TOTAL // min(job.size, 65536)})
    df = pd.DataFrame(rows)
    df["process"] = df["process"].astype("Int64")
    df.attrs["counters"] = []
    return df
