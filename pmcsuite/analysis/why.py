"""Why a finding happens, in one plain sentence, from what the tool measured (issue 15).

A finding (``findings.findings``) says *what* the bandwidth does; this module adds the one sentence a
student reads first. Every rule is a pure function ``(finding dict, Evidence of its IPC mode) -> str``
that returns "" when the evidence does not support it: no sentence is better than a guess.

The evidence of one IPC mode (:func:`evidence`, from its measured runs, baseline runs preferred):
per buffer size the buffers the kernel granted (``pipe_size``, ``sndbuf``, ``rcvbuf``), the mean bytes
one read() returned and the largest read-size bucket (the benchmark's own histograms) and reads per
write; and, when the analysis fitted it, the per-call model (``t0`` fixed cost per call, ``r_inf``
limit, ``n_half`` = t0 x r_inf, where the bandwidth is half its limit) and its departures.

Rules (:func:`why` tries them in an order that depends on the finding's kind):

- :func:`pipe_capacity`: bandwidth stops rising within one size step of the pipe's capacity, and no
  read past it returns more than the capacity (a cap explains a level-off, not a fall);
- :func:`socket_buffer`: the same where the buffer first exceeds the socket buffer the kernel
  granted, and past it a write takes several reads that return no more than that buffer;
- :func:`per_call`: a level-off or flat range above the per-call model's n½, where the model fits
  (no departure there) and itself levels off; :func:`model_sentence` says the model itself ("below
  n½ each call's fixed cost dominates") once per mode;
- :func:`named_counter`: the first counter the attribution named whose change costs time the way
  the bandwidth moves ("AXI bus reads per KiB rise 5x: data now come from DRAM, not the cache");
- :func:`statement`: the fallback, what was measured, without a cause.

Reliability (:func:`reliability`) is read off each point's own interval (``inference.point_table``:
the 95 % interval of the trimmed mean of its processes' medians), never off sd / mean: one slow run
moves neither its process's median nor the interval. :func:`noise_line` is the one line a noisy
machine gets, with what to do and what it would buy (``inference.processes_needed``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..catalogue import builtin_catalogue
from ..schema import FLAT_TOLERANCE, HALF_WIDTH_LIMIT, KIB, MIB
from . import inference
from .display import number, over, percent, ratio
from .runs import size_step_label
from .kernel import median_histogram

#: a machine is *noisy* when at least this share of the measured runs shared the CPU ...
NOISY_SHARED = 0.2
#: ... or at least this share of the points have intervals wider than ``HALF_WIDTH_LIMIT``
NOISY_WIDE = 0.25
#: the change the noisy-machine line promises to detect: inference's "negligible" margin
TARGET_CHANGE = inference.MARGIN
#: more processes per point than this is not advice
MAX_ADVISED = 64
#: a named counter is the first sentence's cause only when its change can account for at least this share
#: of the time change (the attribution names it from 10 %; below this it stays in the numbers)
WHY_SHARE = 0.25

#: What a change of a counter per KiB means, in plain words: (counter id, direction) -> clause, the
#: ``means`` fields of counters.yaml (only counters whose meaning does not depend on the platform have
#: one; any other named counter gets its measured change without a mechanism).
MEANING = builtin_catalogue().meanings()

#: The words a finding uses, defined once (the report's glossary).
GLOSSARY = {
    "interval": "the range that holds the true value with 95 % confidence (a higher level where it says so: "
                "intervals shown as a family, which hold all at once), from the spread between benchmark "
                "processes; ±x % means from value / (1 + x %) to value × (1 + x %)",
    "process": "one run of the benchmark program; it repeats each point several times (iterations), and "
               "all its iterations share its luck (CPU, memory placement), so processes, not iterations, "
               "are the independent measurements",
    "not established": "the interval includes both a change and no change: these runs cannot tell",
    "per-call model": "each read()/write() costs a fixed time t0 plus a time per byte; bandwidth then "
                      "rises with the buffer size towards a limit, and reaches half of it at n½ = t0 × limit",
    "departure": "a range of sizes where the measured bandwidth leaves the per-call model's curve "
                 "(something other than the per-call cost is at work there)",
    "reliable": f"every point the finding rests on has an interval within ±{percent(HALF_WIDTH_LIMIT)} of its "
                "value (a point measured by one process has no interval)",
}

# ----------------------------------------------------------------------------------------------
# Evidence

@dataclass(frozen=True)
class Evidence:
    """What was measured about one IPC mode besides its bandwidth (module docstring). ``table`` is
    indexed by buffer size (bytes), columns (NaN when not measured): pipe_size, sndbuf, rcvbuf,
    reads_per_write, read_bytes (mean bytes a read() returned), max_read (largest read-size bucket,
    bytes: reads in it returned from it to twice it)."""
    ipc: str
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    model: object = None             # the per-call model fit (dict or object: t0_ns, r_inf, n_half)
    departures: tuple = ()           # dicts: from_size, to_size, by, direction

    @property
    def sizes(self) -> list[int]:
        return [int(s) for s in self.table.index]

    def column(self, name: str) -> pd.Series:
        if name in self.table.columns:
            return pd.to_numeric(self.table[name], errors="coerce").astype(float)
        return pd.Series(np.nan, index=self.table.index, dtype=float)


EVIDENCE_COLUMNS = ["pipe_size", "sndbuf", "rcvbuf", "reads_per_write", "read_bytes", "max_read"]


def _median(cell: pd.DataFrame, column: str) -> float:
    if column not in cell.columns:
        return float("nan")
    v = pd.to_numeric(cell[column], errors="coerce").astype(float)
    return float(v.median()) if v.notna().any() else float("nan")


def evidence(runs: pd.DataFrame, ipc: str, model=None, departures=()) -> Evidence:
    """The evidence of IPC mode ``ipc`` from measured runs (``results.measured``), baseline runs
    preferred (no instrumentation); an empty table when the mode has no runs."""
    from ..schema import BASELINE
    mode = runs[runs["ipc"] == ipc] if "ipc" in runs.columns else runs.iloc[0:0]
    if "variant" in mode.columns and (mode["variant"] == BASELINE).any():
        mode = mode[mode["variant"] == BASELINE]
    rows = {}
    for size, cell in mode.groupby("buffer_size", sort=True):
        size = int(size)
        writes, reads = _median(cell, "writes"), _median(cell, "reads")
        hist = median_histogram(cell["read_sizes"]) if "read_sizes" in cell.columns else {}
        rows[size] = {"pipe_size": _median(cell, "pipe_size"), "sndbuf": _median(cell, "sndbuf"),
                      "rcvbuf": _median(cell, "rcvbuf"),
                      "reads_per_write": reads / writes if writes and math.isfinite(writes) else float("nan"),
                      "read_bytes": size * writes / reads if reads and math.isfinite(reads) else float("nan"),
                      "max_read": float(max(hist)) if hist else float("nan")}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=EVIDENCE_COLUMNS)
    table.index.name = "buffer_size"
    return Evidence(ipc=ipc, table=table, model=model, departures=tuple(departures or ()))


# ----------------------------------------------------------------------------------------------
# Reading a finding

def _where(f: dict) -> int | None:
    s = f.get("size", f.get("from_size"))
    return int(s) if s is not None else None


def _subject(f: dict) -> str:
    return f"{f.get('ipc', '')} bandwidth".strip()


def _value(meas) -> float:
    v = (meas or {}).get("value") if isinstance(meas, dict) else None
    return float(v) if v is not None and math.isfinite(float(v)) else float("nan")


def _departs_model(f: dict) -> bool:
    """The finding is a departure from the per-call model (it carries the direction it leaves it in)."""
    return f.get("direction") in ("below", "above")


def _levels_off(f: dict) -> bool:
    """The bandwidth stops rising there (or stops following the per-call model's rise): a level-off, a
    flat range, a peak, a gradual departure below the model."""
    kind = f.get("kind")
    if kind == "departure":
        return f.get("direction") == "below"
    return kind in ("level-off", "flat", "peak")


def _verb(f: dict, size: int) -> str:
    """'stops rising at 64 KiB', 'falls from 64 KiB', ... (the finding's own movement)."""
    where = size_step_label(size)
    kind = f.get("kind")
    if kind == "fall":
        return f"falls from {where}"
    if kind == "rise":
        return f"rises faster than the per-call model from {where}"
    if kind == "departure":
        return f"falls behind the per-call model from {where}" if f.get("direction") == "below" \
            else f"rises above the per-call model from {where}"
    if kind == "peak":
        if f.get("flat") and f.get("to_size") not in (None, size):
            return f"is highest from {where} to {size_step_label(f['to_size'])}"
        return f"is highest at {where}"
    if kind == "flat":
        return f"stays level from {where}"
    return f"stops rising at {where}"


def _step(grid: list[int]) -> float:
    """One size step on the log2 scale (the grid's median spacing; 1 = doubling)."""
    logs = np.log2(np.asarray(sorted(grid), dtype=float))
    return float(np.median(np.diff(logs))) if len(logs) > 1 else 1.0


def _near(a: float, b: float, grid: list[int]) -> bool:
    """a and b are at most one size step apart."""
    if not (a > 0 and b > 0):
        return False
    return abs(math.log2(a) - math.log2(b)) <= _step(grid) + 1e-9


def _size(v: float) -> str:
    """Bytes as '64 KiB', or '208 KiB' for a size that is not a whole power of two."""
    v = float(v)
    if v >= MIB and v % MIB == 0 or v >= KIB and v % KIB == 0:
        return size_step_label(int(v))
    if v >= MIB:
        return f"{number(v / MIB, 2)} MiB"
    if v >= KIB:
        return f"{number(v / KIB, 2)} KiB"
    return f"{number(v)} B"


# ----------------------------------------------------------------------------------------------
# Rules

def pipe_capacity(f: dict, ev: Evidence) -> str:
    """'pipe bandwidth stops rising at 64 KiB: the pipe holds 64 KiB, so no read returns more.'"""
    size = _where(f)
    cap = ev.column("pipe_size").dropna()
    if size is None or f.get("of", "bandwidth") != "bandwidth" or cap.empty or not _levels_off(f):
        return ""                                  # a cap on reads explains a level-off, not a fall
    capacity = float(cap.median())
    if not (capacity > 0 and (cap == capacity).all() and _near(size, capacity, ev.sizes)):
        return ""
    past = ev.table.loc[[s for s in ev.sizes if s > capacity]]
    if past.empty:
        return ""
    read_bytes, max_read = ev.column("read_bytes")[past.index], ev.column("max_read")[past.index]
    rpw = ev.column("reads_per_write")[past.index]
    if read_bytes.isna().all() or (read_bytes > capacity * 1.001).any() or (max_read > capacity).any():
        return ""                                  # some read returned more than the pipe holds
    if not (rpw > 1).any():
        return ""
    largest = past.index.max()
    return (f"{_subject(f)} {_verb(f, size)}: the pipe holds {_size(capacity)}, so no read returns more "
            f"(a {_size(largest)} write takes {number(float(rpw[largest]), 2)} reads).")


def _granted(ev: Evidence) -> pd.Series:
    """Per size: the smaller socket buffer the kernel granted (send or receive), NaN when unknown."""
    both = pd.concat([ev.column("sndbuf"), ev.column("rcvbuf")], axis=1)
    return both.min(axis=1, skipna=True)


def socket_buffer(f: dict, ev: Evidence) -> str:
    """'local bandwidth falls from 256 KiB: the kernel granted a 208 KiB socket buffer, so a larger write
    no longer fits in it (5 reads per 1 MiB write).'"""
    size = _where(f)
    granted = _granted(ev)
    if size is None or f.get("of", "bandwidth") != "bandwidth" or granted.dropna().empty:
        return ""
    if not (_levels_off(f) or f.get("kind") == "fall"):
        return ""
    sizes = [s for s in ev.sizes if math.isfinite(granted[s])]
    over = [s for s in sizes if s > granted[s]]
    if not over or any(s > granted[s] for s in sizes if s < over[0]):
        return ""
    first = over[0]
    if any(s <= granted[s] for s in sizes if s > first) or not _near(size, first, ev.sizes):
        return ""                                  # the buffer grows with the size: not a limit
    buf = float(granted[first])
    read_bytes, rpw = ev.column("read_bytes")[over], ev.column("reads_per_write")[over]
    if read_bytes.isna().all() or (read_bytes > granted[over] * 1.05).any() or not (rpw > 1).any():
        return ""                                  # reads returned more than the buffer: not the cause
    largest = max(over)
    return (f"{_subject(f)} {_verb(f, size)}: the kernel granted a {_size(buf)} socket buffer, so a larger "
            f"write no longer fits in it ({number(float(rpw[largest]), 2)} reads per {_size(largest)} write).")


def _param(model, name: str) -> tuple[float, float, float]:
    """(centre, low, high) of a model parameter: a number, [centre, low, high], {"value", "ci"} or
    name_low/name_high (or name_ci) beside it; NaN where absent. ``model``: a dict or an object."""
    def get(key):
        if isinstance(model, dict):
            return model.get(key)
        return getattr(model, key, None)
    v = get(name)
    nan = float("nan")
    if isinstance(v, dict):
        ci = v.get("ci") or [nan, nan]
        return float(v.get("value", nan)), float(ci[0]), float(ci[1])
    if isinstance(v, (list, tuple, np.ndarray)) and len(v) == 3:
        return tuple(float(x) if x is not None else nan for x in v)
    centre = float(v) if v is not None else nan
    ci = get(f"{name}_ci")
    lo, hi = (ci if ci is not None and len(ci) == 2 else (get(f"{name}_low"), get(f"{name}_high")))
    return centre, float(lo) if lo is not None else nan, float(hi) if hi is not None else nan


def _departs(ev: Evidence, lo: int, hi: int) -> bool:
    """A departure from the per-call model overlaps sizes lo..hi."""
    for d in ev.departures:
        a, b = d.get("from_size"), d.get("to_size")
        if a is not None and b is not None and a <= hi and b >= lo:
            return True
    return False


def _flag(model, name: str):
    return model.get(name) if isinstance(model, dict) else getattr(model, name, None)


def _fixed_cost(model) -> tuple[float, float, float, float] | None:
    """(t0 ns, n½ bytes, its low, its high) when the model is the per-call one (``per_call``: h = 1) with
    an established fixed cost (t0's interval above 0); None otherwise."""
    if model is None or _flag(model, "per_call") is False:
        return None
    t0, t0_lo, _ = _param(model, "t0_ns")
    n_half, nh_lo, nh_hi = _param(model, "n_half")
    if not (math.isfinite(t0) and t0_lo > 0 and math.isfinite(n_half) and n_half > 0 and math.isfinite(nh_hi)):
        return None
    return t0, n_half, nh_lo, nh_hi


def _cost(t0_ns: float) -> str:
    return f"{ratio(t0_ns / 1000, 1)} µs" if t0_ns >= 1000 else f"{ratio(t0_ns, 0)} ns"


def per_call(f: dict, ev: Evidence) -> str:
    """A level-off or flat range above n½ where the per-call model fits (no departure there) and itself
    levels off: 'local bandwidth stays level from 256 KiB: above 11 KiB (n½) each call's fixed cost
    (1.1 µs) is less than half of its time, so larger calls gain little.'"""
    if ev is None or f.get("of", "bandwidth") != "bandwidth" or _departs_model(f) or f.get("kind") == "peak":
        return ""                                  # a departure is what the model does not explain
    cost = _fixed_cost(ev.model)
    size = _where(f)
    if cost is None or size is None or not _levels_off(f):
        return ""
    t0, n_half, _, nh_hi = cost
    to = int(f.get("to_size") or size)
    if nh_hi > size or _departs(ev, size, to):
        return ""
    predict = getattr(ev.model, "predict", None)
    if callable(predict) and to > size:
        a, b = (float(v) for v in predict([size, to]))
        if not (a > 0 and b / a - 1 <= 2 * f.get("tolerance", FLAT_TOLERANCE)):
            return ""                              # the model itself still rises there: not its level-off
    return (f"{_subject(f)} {_verb(f, size)}: above {_size(n_half)} (n½) each call's fixed cost ({_cost(t0)}) "
            f"is less than half of its time, so larger calls gain little.")


def model_sentence(ipc: str, model, sizes) -> str:
    """The per-call model of a mode in one sentence, when it is established and its n½ lies inside the
    sizes it was fitted on: 'pipe: each call has a fixed cost of 2.0 µs; below 16 KiB (n½) that cost is
    most of a call's time, so bandwidth rises with the buffer size towards 5,500 MiB/s.'"""
    cost = _fixed_cost(model)
    fitted = [int(v) for v in (_flag(model, "fit_sizes") or sizes or [])] if model is not None else []
    if cost is None or not fitted:
        return ""
    t0, n_half, _, _ = cost
    if not fitted[0] < n_half <= fitted[-1]:
        return ""                                  # no measured size on one side of n½
    r_inf = _param(model, "r_inf")[0]
    limit = f" towards {number(r_inf / MIB, 2)} MiB/s" if math.isfinite(r_inf) and r_inf > 0 else ""
    return (f"{ipc}: each call has a fixed cost of {_cost(t0)}; below {_size(n_half)} (n½) that cost is most of "
            f"a call's time, so bandwidth rises with the buffer size{limit}.")


def named_counter(f: dict, ev: Evidence | None = None) -> str:
    """'pipe bandwidth falls from 64 KiB as AXI bus reads per KiB rise 5x: data now come from DRAM, not the cache.'
    The first named counter whose change can account for at least ``WHY_SHARE`` of the time change, the
    way the bandwidth moves (without a share, as from the older slope test, a change of at least 10 %)."""
    size = _where(f)
    if size is None:
        return ""
    for c in f.get("counters") or []:
        fold, share = c.get("fold_change"), c.get("share")
        direction = c.get("direction") or ("rises" if fold and fold > 1 else "falls")
        if fold is None or not math.isfinite(fold) or fold <= 0 or (share is not None and not share >= WHY_SHARE):
            continue                               # no change, or one that accounts for too little of the time
        if share is None and 1 / 1.1 <= fold <= 1.1:
            continue                               # no share to weigh it by, and too small a change to say
        if (direction == "rises") != (fold > 1):
            continue                               # its own numbers contradict its direction
        label = c.get("label") or c.get("id")
        times = fold if fold > 1 else 1 / fold
        move = f"{direction[:-1] if _plural(label) else direction} {ratio(times, 1)}x"
        meaning = MEANING.get((c.get("id"), direction))
        text = f"{_subject(f)} {_verb(f, size)} as {label} per KiB {move}"
        return text + (f": {meaning}." if meaning else ".")
    return ""


def _plural(label: str) -> bool:
    """'read() calls' rise; 'time in locks' (a profile category's time) rises."""
    return label.endswith("s") and not label.endswith("ss") and not label.startswith("time ")


def statement(f: dict) -> str:
    """What was measured, without a cause (the fallback)."""
    kind, size = f.get("kind"), _where(f)
    if size is None:
        return ""
    if kind == "crossover":
        a, b = (f.get("ipcs") or ["?", "?"])[:2]
        return f"From {size_step_label(size)} on, {a} is slower than {b}."
    a, to = _value(f.get("measured")), f.get("to_size")
    unexplained = "" if f.get("counters") else "; nothing measured shows why"
    if _departs_model(f):
        by, at = f.get("by"), f.get("at_size", to)
        model = "it" if kind == "departure" else "the per-call model"
        how = (f" ({percent(abs(by))} {f['direction']} {model} at {size_step_label(at)})"
               if by is not None and math.isfinite(by) and at is not None else "")
        return f"{_subject(f)} {_verb(f, size)}{how}{unexplained}."
    if kind == "flat" and to is not None:
        return (f"{_subject(f)} stays within ±{percent(f.get('tolerance', FLAT_TOLERANCE))} from "
                f"{size_step_label(size)} to {size_step_label(to)}.")
    if kind == "peak" and a > 0:
        return f"{_subject(f)} {_verb(f, size)} ({number(a / MIB, 2)} MiB/s)."
    return f"{_subject(f)} {_verb(f, size)}{unexplained if kind in ('fall', 'rise', 'level-off') else ''}."


#: the rules tried for each kind of finding, first supported one wins: where the per-call model fits a
#: level-off it explains it, and a buffer limit is the cause only of what the model does not explain
ORDER = {
    "fall": (named_counter, socket_buffer),
    "rise": (named_counter,),
    "peak": (pipe_capacity, socket_buffer, named_counter),
    "level-off": (pipe_capacity, socket_buffer, named_counter),
    "departure": (pipe_capacity, socket_buffer, named_counter),
    "flat": (per_call, pipe_capacity, socket_buffer),
}


def why(f: dict, ev: Evidence | None) -> str:
    """The cause of a finding in one plain sentence, or "" when no rule's evidence supports one."""
    if f.get("of", "bandwidth") != "bandwidth" or "ipcs" in f:
        return ""
    for rule in ORDER.get(f.get("kind"), ()):
        if ev is None and rule is not named_counter:
            continue
        text = rule(f, ev)
        if text:
            return text
    return ""


def headline(f: dict, ev: Evidence | None) -> tuple[str, str]:
    """(sentence, why): the first sentence of a finding (its cause when one is supported, else what was
    measured) and the cause alone ("" when none)."""
    cause = why(f, ev)
    return (cause or statement(f)), cause


# ----------------------------------------------------------------------------------------------
# Reliability

def half_width(centre: float, lo: float, hi: float) -> float:
    """An interval's relative half-width x: it spans about centre / (1 + x) to centre x (1 + x)."""
    if not (math.isfinite(lo) and math.isfinite(hi) and lo > 0 and hi >= lo):
        return float("nan")
    return math.sqrt(hi / lo) - 1


def reliability(points: pd.DataFrame, sizes, where: str = "", limit: float = HALF_WIDTH_LIMIT) -> dict:
    """The reliability of a finding from the points at ``sizes`` it rests on. ``points``: rows with
    buffer_size, n_processes, centre, ci_low, ci_high (``inference.point_table``). Unreliable when a
    point has fewer than ``inference.MIN_PROCESSES`` processes (no interval) or an interval wider than
    ±``limit``; the reasons are short ('pipe 64 KiB: interval ±14 %')."""
    reasons = []
    if points is None or points.empty:
        return {"reliability": "unreliable", "reliability_reasons": ["no measured point"]}
    rows = points.set_index(points["buffer_size"].astype(int))
    for s in sizes:
        if int(s) not in rows.index:
            continue
        r = rows.loc[int(s)]
        at = f"{where} {size_step_label(int(s))}".strip()
        n = int(r["n_processes"]) if pd.notna(r.get("n_processes")) else 0
        if n < inference.MIN_PROCESSES:
            reasons.append(f"{at}: {n} process{'es' if n != 1 else ''}, no interval "
                           f"(one needs {inference.MIN_PROCESSES})")
            continue
        hw = half_width(float(r["centre"]), float(r["ci_low"]), float(r["ci_high"]))
        if not math.isfinite(hw):
            reasons.append(f"{at}: no interval")
        elif hw > limit:
            reasons.append(f"{at}: interval ±{over(hw, limit)} (reliable: within ±{percent(limit)})")
    return {"reliability": "unreliable" if reasons else "reliable", "reliability_reasons": reasons}


def point_se(n_processes: int, lo: float, hi: float, level: float = inference.LEVEL,
             trim: float = inference.TRIM) -> float:
    """The standard error (log scale) behind a point's ``level`` interval, recovered from its width
    and its degrees of freedom (kept processes - 1, as ``inference.level``)."""
    n = int(n_processes)
    df = n - 2 * int(math.floor(trim * n)) - 1
    if df < 1 or not (lo > 0 and hi > 0):
        return float("nan")
    return math.log(hi / lo) / (2 * float(stats.t.ppf(1 - (1 - level) / 2, df)))


def noise_line(points: pd.DataFrame, n_shared: int = 0, n_runs: int = 0, runs_per_process: float | None = None,
               limit: float = HALF_WIDTH_LIMIT, split: bool = False) -> str:
    """One line for a noisy machine (many runs that shared the CPU, or wide intervals): what to do and
    what it would buy; "" when the machine was quiet. ``points``: every point's row (buffer_size,
    n_processes, centre, ci_low, ci_high) of every mode; ``runs_per_process``: runs (warm-ups included)
    each process made, to turn processes into a --runs value; ``split``: the runs already used
    ``--placement split`` (then it is not advised)."""
    if points is None or points.empty:
        return ""
    hw = np.array([half_width(c, lo, hi) for c, lo, hi in
                   points[["centre", "ci_low", "ci_high"]].astype(float).itertuples(index=False)])
    finite = hw[np.isfinite(hw)]
    wide = float(np.mean(finite > limit)) if finite.size else 0.0
    shared = n_shared / n_runs if n_runs else 0.0
    if shared < NOISY_SHARED and wide < NOISY_WIDE:
        return ""
    said = []
    if shared >= NOISY_SHARED:
        said.append(f"{n_shared:,} of {n_runs:,} measured runs shared the CPU")
    if finite.size:
        said.append(f"a typical interval is ±{percent(float(np.median(finite)))}")
    text = "This machine was noisy (" + "; ".join(said) + "). Close other programs" + \
        ("" if split else " or use --placement split")
    ses = [point_se(n, lo, hi) for n, lo, hi in
           points[["n_processes", "ci_low", "ci_high"]].astype(float).itertuples(index=False)]
    ses = [s for s in ses if math.isfinite(s) and s > 0]
    processes = int(np.median(points["n_processes"].astype(float))) if len(points) else 0
    need = inference.processes_needed(math.sqrt(2) * float(np.median(ses)), processes,
                                      1 - TARGET_CHANGE) if ses and processes else None
    if need is not None and processes < need <= MAX_ADVISED:
        runs = f" --runs {int(math.ceil(need * runs_per_process))}" if runs_per_process else ""
        text += (f"; {need} processes per point (--processes {need}{runs}; now {processes}) would find a "
                 f"{percent(TARGET_CHANGE)} change between two points 4 times in 5")
    elif need is not None and need > MAX_ADVISED:
        text += (f"; more processes would not help enough (finding a {percent(TARGET_CHANGE)} change needs "
                 f"{need} per point)")
    return text + "."


def attach_evidence(modes: dict, runs: pd.DataFrame) -> None:
    """Give each ModeExplanation of ``modes`` (ipc -> mode) that has none its ``evidence`` from the measured
    ``runs``, with the mode's model and departures."""
    for ipc, m in modes.items():
        if getattr(m, "evidence", None) is None:
            m.evidence = evidence(runs, ipc, getattr(m, "model", None), getattr(m, "departures", None) or ())


def noise_from_table(df: pd.DataFrame) -> str:
    """:func:`noise_line` for a result table (``results.load``): every point of every mode and variant,
    its measured runs that shared the CPU, and the runs (warm-ups included) each process made."""
    from ..results.load import measured
    runs = measured(df)
    keys = [k for k in ("ipc", "buffer_size", "variant") if k in runs.columns]
    if runs.empty or len(keys) < 3:
        return ""
    points = inference.point_table(runs, keys)
    shared = int(runs["shared_cpu"].astype("boolean").fillna(False).astype(bool).sum()) \
        if "shared_cpu" in runs.columns else 0
    per_process = None
    if "process" in df.columns and df["process"].notna().any():
        cells = df.groupby(keys, sort=False)
        per_process = float((cells.size() / cells["process"].nunique().clip(lower=1)).median())
    split = "placement" in runs.columns and bool((runs["placement"] == "split").all())
    return noise_line(points, shared, len(runs), per_process, split=split)


def glossary_markdown() -> str:
    """The glossary as a Markdown list (term in italics: definition)."""
    return "\n".join(f"- *{term}*: {text}." for term, text in GLOSSARY.items())


__all__ = ["Evidence", "evidence", "attach_evidence", "why", "headline", "statement", "pipe_capacity",
           "socket_buffer", "per_call", "model_sentence",
           "named_counter", "reliability", "half_width", "over", "noise_line", "point_se", "GLOSSARY",
           "glossary_markdown", "noise_from_table", "MEANING", "HALF_WIDTH_LIMIT"]
