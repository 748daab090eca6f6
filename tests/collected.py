"""Synthetic sweeps laid out as ``collect`` runs them (``plan.make_jobs``): each point's runs are the
iterations of a few benchmark processes, each process runs several points of one variant in a row,
and a process keeps its own regime for its whole life (one factor shared by every point and
iteration it runs). On top: iteration noise, and now and then a slow iteration.

``sweep(seed, ...)`` -> a result table in the shape of ``pmcsuite.load(DIR)`` (the columns the
analysis reads). Used by test_overhead, test_compare, test_precision and bench/validation_*.py.

With ``profile`` (default off) the runs of the ``profile_variant`` pass also carry the kernel profile
as collect stores it: per category ``profile_<category>`` samples per run (both actors), drawn
Poisson around ``profile[category](size)`` ns per KiB x the run's own slowness (a slow process spends
longer in everything) / ``PERIOD``, with ``profile_period_ns`` and ``profile_lost`` (0).
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
PERIOD = 100_000.0                          # ns: the profile's default cpu-clock period (10 kHz)


def curve(size: int) -> float:
    """A smooth bandwidth curve (MiB/s) of the buffer size: the truth the runs scatter around."""
    return 1000.0 * (1 + 0.1 * math.log2(size))


def sweep(seed: int, *, ratio=1.0, passes=("pmc",), ipcs=("pipe", "local", "local-s"), sizes=SIZES, runs=13,
          processes: int | None = 3, points_per_process: int = 5, warmup: int = 1, process_cv: float = 0.06,
          iteration_cv: float = 0.02, slow: float = 0.0, slow_factor: float = 0.6, cell_effect=None,
          baseline: bool = True, scale: float = 1.0, process_offset: int = 0, curves: dict | None = None,
          profile: dict | None = None, profile_variant: str = "profile") -> pd.DataFrame:
    """One sweep. ``ratio``: every pass's true bandwidth / the baseline's (a number, or {pass: number});
    ``cell_effect``: ((ipc, size, pass) or (ipc, size), factor), one more factor at one point;
    ``process_cv``/``iteration_cv``: log-normal spreads of the process regime and of an iteration;
    ``slow``: the chance that an iteration is ``slow_factor`` as fast; ``scale``: every run's factor
    (a set that is uniformly faster or slower); ``processes=None``: one process per run (a run without
    a process number, like an import); ``process_offset``: where the process numbers start; ``curves``:
    {ipc: bandwidth in bytes/s as a function of the buffer size}, one per IPC mode (replacing ``ipcs``;
    default: ``curve`` for every mode); ``profile``: {category: ns per KiB of the sampled time in it as a
    function of the buffer size}, on the runs of ``profile_variant`` (module docstring)."""
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
                         "writes": TOTAL // job.size, "reads": TOTAL // min(job.size, 65536),
                         **(_profile(rng, profile, job.size, level * effect / bw)
                            if profile and job.variant == profile_variant else {})})
    df = pd.DataFrame(rows)
    df["process"] = df["process"].astype("Int64")
    df.attrs["counters"] = []
    if profile:
        df.attrs["counters"] = [f"profile_{c}" for c in profile]
        for c in df.attrs["counters"] + ["profile_period_ns", "profile_lost"]:
            if c not in df.columns:
                df[c] = np.nan
        for c in df.attrs["counters"]:
            df[f"{c}_status"] = np.where(df[c].notna(), "ok", None)
        df["profile_lost"] = df["profile_lost"].astype("Int64")
    return df


def _profile(rng, profile: dict, size: int, slowness: float) -> dict:
    """One run's profile columns: Poisson samples per category around ``profile[c](size)`` ns per KiB x
    ``slowness`` (this run's time / the curve's) over TOTAL bytes."""
    out = {f"profile_{c}": float(rng.poisson(max(0.0, float(f(size))) * slowness * TOTAL / 1024 / PERIOD))
           for c, f in profile.items()}
    return {**out, "profile_period_ns": PERIOD, "profile_lost": 0}


#: per profile category, the kernel frames (root first) its synthetic stacks run through
STACK_FRAMES = {
    "fault": "asm_exc_page_fault;exc_page_fault;handle_mm_fault;clear_page_erms",
    "memcg": "entry_SYSCALL_64;do_syscall_64;__x64_sys_write;__memcg_kmem_charge_page;page_counter_try_charge",
    "sched": "entry_SYSCALL_64;do_syscall_64;__x64_sys_read;schedule;__schedule",
    "lock": "entry_SYSCALL_64;do_syscall_64;__x64_sys_write;_raw_spin_lock",
    "copy": "entry_SYSCALL_64;do_syscall_64;__x64_sys_write;copy_page_from_iter;rep_movs_alternative",
    "syscall": "entry_SYSCALL_64;do_syscall_64",
    "ipc": "entry_SYSCALL_64;do_syscall_64;__x64_sys_write;anon_pipe_write",
    "other": "asm_sysvec_apic_timer_interrupt;irq_exit_rcu;<script>alert(1)</script>",
}


def _folded(row: dict, categories: list[str]) -> dict:
    """A run's folded stacks: each category's samples split between the actors (writer first), through
    ``STACK_FRAMES`` (``user``: ``[user]`` alone)."""
    out = {}
    for c in categories:
        n = int(row[f"profile_{c}"])
        frames = "[user]" if c == "user" else "[user];" + STACK_FRAMES.get(c, f"entry_SYSCALL_64;{c}_function")
        for actor, k in (("writer", n - n // 2), ("reader", n // 2)):
            if k:
                out[f"{actor};{frames}"] = k
    return out


def store(df: pd.DataFrame, directory, metadata: dict | None = None):
    """Write ``df`` (a ``sweep``) as a result directory collect could have made: one run record per row,
    the profile counters and, for profiled runs, the record's ``profile`` (period, samples, lost and
    folded stacks from ``STACK_FRAMES``). Returns the directory."""
    from pmcsuite.results.store import ResultStore
    categories = [c[len("profile_"):] for c in df.attrs.get("counters", []) if c.startswith("profile_")]
    meta = {"pmcsuite_version": "0.1.0", "created": "2026-01-01T00:00:00+00:00", "seed": 1, "source": "collect",
            "note": "SYNTHETIC (tests/collected.py)", "plan": {"ipc": sorted(set(df["ipc"])),
                                                              "sizes": sorted({int(s) for s in df["buffer_size"]})},
            **(metadata or {})}
    out = ResultStore(directory)
    out.create(meta)
    records = []
    for seq, row in enumerate(df.to_dict("records")):
        profiled = bool(categories) and not pd.isna(row.get(f"profile_{categories[0]}"))
        loop_ns = int(row["loop_ns"])
        bench = {"loop_ns": loop_ns, "bandwidth": row["bandwidth"], "writes": int(row["writes"]),
                 "reads": int(row["reads"])}
        record = {"ipc": row["ipc"], "actors": row["actors"], "placement": row["placement"],
                  "buffer_size": int(row["buffer_size"]), "total_size": int(row["total_size"]),
                  "variant": row["variant"], "run": int(row["run"]), "warmup": bool(row["warmup"]),
                  "process": None if pd.isna(row["process"]) else int(row["process"]),
                  "iteration": int(row["iteration"]), "iterations": int(df["iteration"].max()) + 1, "seq": seq,
                  "ok": True, "bench": bench, "counters": {}}
        if profiled:
            record["counters"] = {f"profile_{c}": {"event": "sample:cpu-clock:100000", "value": row[f"profile_{c}"],
                                                   "unit": "samples", "status": "ok"} for c in categories}
            total = int(sum(row[f"profile_{c}"] for c in categories))
            record["profile"] = {"event": "cpu-clock", "period": int(PERIOD), "unit": "ns",
                                 "samples": {"writer": total - total // 2, "reader": total // 2},
                                 "lost": {"writer": 0, "reader": 0}, "folded": _folded(row, categories)}
        records.append(record)
    out.append_runs(records)
    return directory
