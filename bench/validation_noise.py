"""Synthetic result tables with the noise ``collect`` really makes, and the conditions issue 15 checks.

A table is laid out exactly as ``collect`` lays out a sweep (``pmcsuite.plan.make_jobs`` with the
settings of ``pmcsuite.schema.DEFAULT_SWEEP`` or ``QUICK``, read from there: sizes, runs, warm-ups,
processes, points per process; IPC modes ``REFERENCE_IPCS``; the baseline and two passes),
and every run's bandwidth is

    curve(ipc, size) x effect(variant, ipc, size) x process level x drift(execution order)
        x iteration noise [x slow-run factor] [x warm-up factor]

- **process level**: log-normal, sd ``process_cv`` on the log scale, one draw per benchmark process,
  SHARED by every point that process runs (a process keeps its CPU, page placement, cache colouring);
- **iteration noise**: log-normal, sd ``iteration_cv``, independent per iteration;
- **drift**: the level moves by ``drift`` (total, either sign) linearly over the execution order;
- **slow runs**: a share ``slow_rate`` of iterations (measured ones too) run at 0.5-0.8x;
- **warm-ups**: every point's first ``warmup`` iterations in a process are flagged warm-up, as
  collect flags them; the very first iteration of a process is cold (0.6-0.9x), the others 0.9-1.0x.

Curves (``CURVES``, bytes/s against buffer size): ``hockney`` (fixed-plus-per-byte cost,
bw(n) = n / (t0 + n / r_inf)), ``log_saturating`` (concave in log2 size, saturating), ``logistic``
(an S in log2 size), none with a breakpoint (``SMOOTH``); ``flat_top`` (rises to 64K, flat to 1M,
falls), ``level_off_64k`` (rises, then flat from 64K: one planted level-off) and ``two_breaks``
(rises to 32K, flat to 128K, falls: two close breakpoints). Effects: ``overall`` (variant -> ratio at
every point) and ``cells`` ((variant, ipc, size) -> ratio). ``table`` builds one result table (the
columns analysis needs, in ``pmcsuite.load``'s shape; ``sweep_table`` also returns the noise drawn,
the slow rows and the drift's sign); ``CONDITIONS`` are what validate_analysis.py measures, and ``truth`` gives
the true ratio of any cell or mode.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from pmcsuite.schema import DEFAULT_SWEEP as DEFAULT, QUICK_SWEEP as QUICK, REFERENCE_IPCS
from pmcsuite.plan import Pass, make_jobs
from pmcsuite.sizes import parse_sizes

TOTAL = 1 << 24
PASSES = ("pmc-a", "pmc-b")
#: the cell the "one cell 0.5x" effect is planted in (pass, ipc, size): inside both sweeps' sizes
HALF_CELL = ("pmc-b", "pipe", 64 << 10)
SLOW_FACTOR = (0.5, 0.8)
COLD_FACTOR = (0.6, 0.9)          # first iteration of a process
WARM_FACTOR = (0.9, 1.0)          # first iteration of a later point of the process


# ---- sweeps -------------------------------------------------------------------------------------

def sweep_settings(sweep: str = "default") -> dict:
    """``DEFAULT`` or ``QUICK`` with the sizes parsed: sizes, runs, warmup, processes,
    points_per_process (as collect's in-process counting resolves them)."""
    defaults = {"default": DEFAULT, "quick": QUICK}[sweep]
    runs, warmup = int(defaults["runs"]), int(defaults["warmup"])
    processes = max(1, min(int(defaults["processes"]), runs // (warmup + 1)))
    return {"sizes": parse_sizes(defaults["sizes"]), "runs": runs, "warmup": warmup, "processes": processes,
            "points_per_process": int(defaults["points_per_process"])}


# ---- curves -------------------------------------------------------------------------------------

def _log2(n):
    return np.log2(np.asarray(n, dtype=float))


def hockney(n, t0=4e-6, r_inf=6e9):
    """Fixed cost t0 per call plus n / r_inf: bw(n) = n / (t0 + n / r_inf) (half speed at t0 x r_inf = 24 KB)."""
    n = np.asarray(n, dtype=float)
    return n / (t0 + n / r_inf)


def log_saturating(n, top=3e9):
    """Concave in log2 size, saturating: top x (1 - exp(-(log2 n - 8) / 4))."""
    return top * (1 - np.exp(-(_log2(n) - 8) / 4))


def logistic(n, low=0.4e9, high=4e9):
    """An S in log2 size centred on 32K: low + (high - low) / (1 + exp(-(log2 n - 15) / 1.5))."""
    return low + (high - low) / (1 + np.exp(-(_log2(n) - 15) / 1.5))


def _pieces(n, rise_to, flat_to, top=4e9, rise=0.12, fall=0.10):
    """top x (1 - rise per doubling below 2**rise_to, 1 up to 2**flat_to, 1 - fall per doubling after)."""
    x = _log2(n)
    y = np.where(x < rise_to, 1 - rise * (rise_to - x), 1.0)
    return top * np.where(x > flat_to, 1 - fall * (x - flat_to), y)


def flat_top(n):
    """Rises to 64K, flat from 64K to 1M, falls after: the peak is a flat range."""
    return _pieces(n, 16, 20)


def level_off_64k(n):
    """Rises 12 % of the top per doubling up to 64K, flat beyond: one planted level-off at 64K."""
    return _pieces(n, 16, 99)


def two_breaks(n):
    """Rises to 32K, flat to 128K, falls after: two close breakpoints (32K and 128K)."""
    return _pieces(n, 15, 17)


CURVES = {"hockney": hockney, "log_saturating": log_saturating, "logistic": logistic, "flat_top": flat_top,
          "level_off_64k": level_off_64k, "two_breaks": two_breaks}
SMOOTH = ("hockney", "log_saturating", "logistic")
SHAPES = ("flat_top", "level_off_64k", "two_breaks")
#: planted breakpoints of each shaped curve (sizes in bytes)
PLANTED = {"flat_top": (64 << 10, 1 << 20), "level_off_64k": (64 << 10,), "two_breaks": (32 << 10, 128 << 10)}


# ---- noise and effects --------------------------------------------------------------------------

@dataclass(frozen=True)
class Noise:
    """Noise of one sweep; a field given as a (low, high) pair is drawn uniformly per sweep."""
    process_cv: float | tuple = 0.06
    iteration_cv: float | tuple = 0.02
    drift: float | tuple = 0.02
    slow_rate: float | tuple = 0.03

    def draw(self, rng: np.random.Generator) -> "Noise":
        pick = {k: float(rng.uniform(*v)) if isinstance(v, tuple) else float(v) for k, v in vars(self).items()}
        return Noise(**pick)

    def text(self) -> str:
        def show(v):
            return f"{v[0]:.0%}-{v[1]:.0%}" if isinstance(v, tuple) else f"{v:.0%}"
        return (f"process CV {show(self.process_cv)}, iteration CV {show(self.iteration_cv)}, drift "
                f"{show(self.drift)}, slow runs {show(self.slow_rate)}")


LOW = Noise(0.03, 0.01, 0.01, 0.01)
HIGH = Noise(0.10, 0.03, 0.03, 0.05)
MIXED = Noise((0.03, 0.10), (0.01, 0.03), (0.0, 0.03), (0.01, 0.05))


@dataclass(frozen=True)
class Effects:
    overall: dict = field(default_factory=dict)     # variant -> ratio at every point
    cells: dict = field(default_factory=dict)       # (variant, ipc, size) -> ratio

    def ratio(self, variant: str, ipc: str, size: int) -> float:
        return self.overall.get(variant, 1.0) * self.cells.get((variant, ipc, int(size)), 1.0)


NONE = Effects()
PLANTED_EFFECTS = Effects(overall={PASSES[0]: 0.85}, cells={HALF_CELL: 0.5})


def truth(effects: Effects, variant: str, ipc: str, sizes=None) -> float:
    """The true ratio of a cell (``sizes`` one size) or of a mode's overall (geometric mean over ``sizes``)."""
    sizes = [sizes] if isinstance(sizes, (int, np.integer)) else list(sizes)
    return float(math.exp(np.mean([math.log(effects.ratio(variant, ipc, s)) for s in sizes])))


# ---- the table ----------------------------------------------------------------------------------

def table(rng: np.random.Generator, **kwargs) -> pd.DataFrame:
    """One synthetic result table (``sweep_table``'s, without what was drawn)."""
    return sweep_table(rng, **kwargs)[0]


def sweep_table(rng: np.random.Generator, *, sweep: str = "default", noise: Noise = MIXED, effects: Effects = NONE,
                curves=("hockney", "logistic", "flat_top"), seed: int = 1, ipcs=None, passes=PASSES,
                scale: float = 1.0) -> tuple[pd.DataFrame, dict]:
    """One synthetic result table shaped like ``collect``'s (see the module docstring) and what was
    drawn for it (``noise``, ``slow_rows``: the index of the slow runs, ``drift_sign``). ``curves``: one
    curve name per IPC mode (in ``REFERENCE_IPCS`` order); ``seed``: make_jobs' shuffle;
    ``scale``: multiplies every bandwidth (a second set "as fast" or not). The table's ``attrs`` are
    kept small (pandas copies them on every operation)."""
    s = sweep_settings(sweep)
    ipcs = list(ipcs or REFERENCE_IPCS)
    curve_of = dict(zip(ipcs, (CURVES[c] for c in curves)))
    noise = noise.draw(rng)
    jobs = make_jobs(ipcs, s["sizes"], s["runs"], [Pass(p, [], [], {}) for p in passes], seed,
                     processes=s["processes"], points_per_process=s["points_per_process"])
    n_proc = max(j.process for j in jobs) + 1
    proc_level = np.exp(rng.normal(0.0, noise.process_cv, n_proc))
    total_iter = sum(j.iterations for j in jobs)
    drift_sign = 1.0 if rng.random() < 0.5 else -1.0
    cols = {k: [] for k in ("ipc", "buffer_size", "variant", "run", "process", "iteration", "warmup", "level")}
    first_of_process, t = set(), 0
    for job in jobs:
        base = float(curve_of[job.ipc](job.size)) * effects.ratio(job.variant, job.ipc, job.size) * scale
        for i in range(job.iterations):
            level = base * proc_level[job.process] * math.exp(drift_sign * noise.drift * (t / total_iter - 0.5))
            warm = i < s["warmup"]
            if warm:
                cold = job.process not in first_of_process
                level *= rng.uniform(*(COLD_FACTOR if cold else WARM_FACTOR))
                first_of_process.add(job.process)
            for key, value in (("ipc", job.ipc), ("buffer_size", job.size), ("variant", job.variant),
                               ("run", job.first_run + i), ("process", job.process), ("iteration", i),
                               ("warmup", warm), ("level", level)):
                cols[key].append(value)
            t += 1
    level = np.asarray(cols.pop("level"))
    n = len(level)
    slow = rng.random(n) < noise.slow_rate
    bw = level * np.exp(rng.normal(0.0, noise.iteration_cv, n)) * np.where(slow, rng.uniform(*SLOW_FACTOR, n), 1.0)
    size = np.asarray(cols["buffer_size"], dtype=np.int64)
    df = pd.DataFrame({
        "ipc": cols["ipc"], "actors": "2thread", "placement": "same", "buffer_size": size, "total_size": TOTAL,
        "run": np.asarray(cols["run"], dtype=np.int64),
        "process": pd.array(cols["process"], dtype="Int64"), "iteration": pd.array(cols["iteration"], dtype="Int64"),
        "warmup": np.asarray(cols["warmup"], dtype=bool), "variant": cols["variant"], "ok": True,
        "loop_ns": TOTAL / bw * 1e9, "bandwidth": bw, "writes": TOTAL // size,
        "reads": TOTAL // np.minimum(size, 65536), "shared_cpu": False, "seq": np.arange(n)})
    df.attrs["counters"] = []
    df.attrs["metadata"] = {"source": "synthetic", "seed": seed, "plan": {
        "ipc": ipcs, "sizes": s["sizes"], "runs": s["runs"], "warmup": s["warmup"], "processes": s["processes"],
        "points_per_process": s["points_per_process"], "total_size": TOTAL, "actors": "2thread",
        "placement": "same", "passes": [{"name": p, "groups": [], "counters": [], "events": {}} for p in passes]}}
    return df, {"noise": noise, "slow_rows": np.flatnonzero(slow), "drift_sign": drift_sign, "settings": s}


# ---- the conditions validate_analysis.py measures -------------------------------------------------

@dataclass(frozen=True)
class Condition:
    name: str
    kind: str                 # "overhead" | "compare" | "curves"
    sweep: str = "default"
    noise: Noise = MIXED
    effects: Effects = NONE
    curves: tuple = ("hockney", "logistic", "flat_top")
    scale: float = 1.0        # compare: the second set's bandwidth x scale
    about: str = ""

    def with_(self, **changes) -> "Condition":
        return replace(self, **changes)


CONDITIONS = [
    Condition("null-low", "overhead", noise=LOW, about="no effect, default sweep, low noise"),
    Condition("null-high", "overhead", noise=HIGH, about="no effect, default sweep, high noise"),
    Condition("null-quick", "overhead", "quick", HIGH, about="no effect, quick sweep, high noise"),
    Condition("planted", "overhead", noise=MIXED, effects=PLANTED_EFFECTS,
              about=f"{PASSES[0]} 0.85x everywhere, {HALF_CELL[0]} 0.5x at {HALF_CELL[1]} 64K; default sweep"),
    Condition("planted-quick", "overhead", "quick", MIXED, PLANTED_EFFECTS,
              about=f"{PASSES[0]} 0.85x everywhere, {HALF_CELL[0]} 0.5x at {HALF_CELL[1]} 64K; quick sweep"),
    Condition("planted-high", "overhead", noise=HIGH, effects=PLANTED_EFFECTS,
              about="the planted effects, default sweep, high noise"),
    Condition("compare-aa", "compare", noise=MIXED, about="two sets of one truth (A/A), default sweep"),
    Condition("compare-0.85", "compare", noise=MIXED, scale=0.85,
              about="the second set 0.85x at every point, default sweep"),
    Condition("compare-aa-quick", "compare", "quick", MIXED, about="A/A, quick sweep"),
    Condition("compare-0.85-quick", "compare", "quick", MIXED, scale=0.85,
              about="the second set 0.85x at every point, quick sweep"),
    Condition("curves-smooth", "curves", noise=MIXED, curves=SMOOTH,
              about="Hockney, log-saturating and logistic curves (no breakpoint), default sweep"),
    Condition("curves-shapes", "curves", noise=MIXED, curves=SHAPES,
              about="flat top 64K-1M, level-off at 64K, breakpoints at 32K and 128K, default sweep"),
]


def condition(name: str) -> Condition:
    for c in CONDITIONS:
        if c.name == name:
            return c
    raise SystemExit(f"unknown condition {name!r}: choose from {', '.join(c.name for c in CONDITIONS)}")
