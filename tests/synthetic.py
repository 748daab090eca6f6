"""Synthetic result tables for the analysis tests (test_breakpoints, test_overhead, test_explain).

Curves are functions of x = log2(buffer size) giving MiB/s; ``runs_table`` draws runs around them
with multiplicative noise, in the shape of ``pmcsuite.load(DIR)`` (only the columns analysis needs).
"""
import math

import numpy as np
import pandas as pd

from pmcsuite.schema import DEFAULT_TOTAL as TOTAL
from pmcsuite.schema import KIB, MIB

SIZES = [1 << k for k in range(10, 25)]   # 1K .. 16M, 15 sizes


def peak_then_plateau(x):
    """Rises to a peak at 64K (x=16), falls to 256K (x=18), flat beyond (MiB/s)."""
    y = 100 + 70 * (np.asarray(x, float) - 10)
    y = np.where(x > 16, 520 - 175 * (np.asarray(x, float) - 16), y)
    return np.where(x > 18, 170.0, y)


def peak_at(k_peak):
    """Rises 70 MiB/s per doubling to a peak at 2**k_peak, falls 175 per doubling, floored 350 below the peak."""
    def curve(x):
        y = 100 + 70 * (x - 10)
        y = np.where(x > k_peak, 100 + 70 * (k_peak - 10) - 175 * (x - k_peak), y)
        return np.maximum(y, 100 + 70 * (k_peak - 10) - 350)
    return curve


def flat(level):
    return lambda x: level + 0 * np.asarray(x, float)


def runs_table(variants, runs=10, noise=0.03, seed=0, sizes=SIZES, ipcs=("pipe",), warmup=1):
    """One row per run: ``variants`` maps a variant name ("baseline", a pass) to a curve.

    Each (ipc, size, variant) cell has ``warmup`` warm-up runs (run index 0..) then ``runs`` measured ones.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for ipc in ipcs:
        for size in sizes:
            for variant, curve in variants.items():
                for run in range(runs + warmup):
                    bw = float(curve(math.log2(size))) * (1 + noise * rng.standard_normal()) * MIB
                    rows.append({"ipc": ipc, "buffer_size": int(size), "total_size": TOTAL, "run": run,
                                 "warmup": run < warmup, "variant": variant, "ok": True,
                                 "loop_ns": TOTAL / bw * 1e9, "bandwidth": bw,
                                 "writes": TOTAL // size, "reads": TOTAL // min(size, 65536)})
    return pd.DataFrame(rows)


def add_counter(df, name, per_kib, variant=None, noise=0.0, seed=0, status="ok"):
    """Add counter column ``name`` (+ ``name_status``) with ``per_kib(x)`` counts per KiB, on the rows
    of ``variant`` (all rows when None); other rows NaN/None. ``per_kib=None`` records ``status`` with no
    value (e.g. not_supported)."""
    rng = np.random.default_rng(seed)
    rows = df["variant"] == variant if variant is not None else pd.Series(True, index=df.index)
    x = np.log2(df["buffer_size"].to_numpy(float))
    df[name] = np.nan
    df[f"{name}_status"] = None
    if per_kib is not None:
        values = np.array([float(per_kib(v)) for v in x]) * df["total_size"].to_numpy(float) / KIB
        values = values * (1 + noise * rng.standard_normal(len(df)))
        df.loc[rows, name] = values[rows.to_numpy()]
    df.loc[rows, f"{name}_status"] = status if per_kib is None else "ok"
    counters = list(df.attrs.get("counters", []))
    df.attrs["counters"] = counters + [name]
    return df


def scaled_copy(source, target, factor: float):
    """A copy of the result directory ``source`` at ``target`` whose runs are ``factor`` times as fast
    (bandwidth x factor, loop time / factor): a planted change for compare."""
    import json
    from pathlib import Path
    source, target = Path(source), Path(target)
    target.mkdir(parents=True)
    (target / "metadata.json").write_text((source / "metadata.json").read_text())
    lines = []
    for line in (source / "runs.jsonl").read_text().splitlines():
        record = json.loads(line)
        bench = record.get("bench") or {}
        if bench.get("bandwidth"):
            bench["bandwidth"] *= factor
            bench["loop_ns"] = round(bench["loop_ns"] / factor)
        lines.append(json.dumps(record))
    (target / "runs.jsonl").write_text("\n".join(lines) + "\n")
    return target
