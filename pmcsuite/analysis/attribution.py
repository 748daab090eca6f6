"""Which counters can account for a change of a mode's bandwidth: by magnitude and direction.

A *change* is a range of buffer sizes of one IPC mode over which bandwidth moves (``Change``: ipc,
from_size, to_size). Bandwidth is read as the loop's **time per KiB** (1024 / bandwidth, in ns): a
fall of bandwidth is a rise of time per KiB. For each counter measured at both sizes,
``attribute_changes`` asks whether its own change over the range *can* account for that time:

1. **Levels.** Everything is a per-point level of ``inference``: per run the counter per KiB
   (``value * 1024 / total_size``) and the time per KiB, per benchmark process their median (stage
   one), per point the 20 %-trimmed mean over processes (stage two). The counter's change is the
   contrast of its two levels (``ratio_contrast``): ``fold_change`` and its interval.
2. **Same runs.** A counter's levels, the time per KiB it is weighed against and the ns per cycle
   all come from one variant's runs (the pass that counted it: ``variants``): among the variants
   that counted it at both sizes, the one whose runs also counted cycles, then the one with most
   processes. Counters of different passes are never paired run by run.
3. **Cost.** Time the change can account for = (change in events per KiB) x (cost per event).
   The cost is the catalogue's documented order-of-magnitude range (``counters.yaml`` ``cost``:
   cycles and/or ns per event, with its source). In cycles, it is turned into time with the ns per
   cycle of the same runs (wall loop time / cycles per run; in-process counts are summed over both
   actors, so this is wall time per summed cycle: the share of the work the event takes);
   ``cost_source`` says "cycles from the same runs", "cycles from other runs of these points" (same
   mode and sizes, another pass) or "catalogue" (its ns, when no cycles were counted).
   ``share`` = accounted time change / measured time change, with the range's geometric centre:
   signed, > 0 when the counter moves the way that costs time in the direction of the change.
   ``share_max`` bounds it above: the largest change the counter's intervals allow, at the high
   end of the cost range.
4. **Named** only when (a) its change is established: its ratio interval excludes 1 at the level
   of the whole family, every (change, counter) pair tried in this call other than time counters
   (Bonferroni: ``inference.family_level(ALPHA, m)``; ``p_adjusted`` = min(1, m p), below ALPHA
   exactly when the interval excludes 1), (b) it moves the way that costs time (rises where time
   per KiB rises, falls where it falls: a counter that falls through a fall of bandwidth is not its
   cause) and (c) ``share_max`` >= ``MIN_SHARE`` (10 %): a change that cannot reach a tenth of the
   time change does not explain it. Time counters (``labels.is_time_counter``: cycles, CPU time...)
   are tried for context and never named. A named counter whose runs show the same measurement as
   an earlier named one (per-run log correlation > ``SAME_AS_R``) is folded into it (``same_as``).

A counter that reads 0 in some of the runs is taken per KiB as (count + 1) per KiB on the log
scale (one event added per run, negligible next to any rate that can matter), and reported less it.

**The kernel profile's categories** (``labels.is_profile_counter``: ``profile_<category>``, samples
per run) are tried as *time per KiB in that category*: samples x the run's period
(``profile_period_ns``) x 1024 / bytes moved (``sampled_ns_per_kib``; an estimate, summed over both
actors), at a cost of exactly 1 ns per ns (``cost_source`` ``SAMPLED``); a run whose period is
unknown is left out, and a zero is one sample (one period) added per run. A category says *where*
the time went, so it may be named like any counter; whole-loop time (cycles, task-clock) stays
context.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..catalogue import UNIT_NS, builtin_catalogue    # UNIT_NS: ns per unit of a time counter
from ..errors import PmcsuiteError
from ..schema import ALPHA, KIB, LEVEL, jsonable    # ALPHA: family-wise error rate of the counters named in one call
from .display import percent
from .inference import contrast, family_level, levels, process_medians, ratio_contrast
from .labels import PROFILE_COLUMNS, counter_labels, is_profile_counter, is_time_counter

MIN_SHARE = 0.10         # a counter is named only if its change can account for this share of the time change
SAME_AS_R = 0.999        # per-run log correlation above which two counters are the same measurement
TIME_REASON = "a measure of time, not a cause"
SAME_RUNS, OTHER_RUNS, CATALOGUE = "cycles from the same runs", "cycles from other runs of these points", "catalogue"
SAMPLED = "sampled time (samples x period)"
PERIOD = PROFILE_COLUMNS[0]          # the profile's sampling period per run, ns


@dataclass(frozen=True)
class Change:
    """A range of buffer sizes (bytes, ``from_size`` < ``to_size``) of one IPC mode."""
    ipc: str
    from_size: int
    to_size: int

    def __post_init__(self):
        if not int(self.from_size) < int(self.to_size):
            raise PmcsuiteError("a change runs from a smaller size to a larger one, "
                                f"not {self.from_size} -> {self.to_size}")


@dataclass
class Attribution:
    """One counter tried for one ``Change`` (see the module docstring); ``.to_dict()`` for JSON."""
    id: str
    label: str
    ipc: str
    from_size: int
    to_size: int
    per_kib_from: list          # [centre, low, high] at the family level
    per_kib_to: list
    fold_change: float          # per KiB at to_size / at from_size (ratio of the levels)
    fold_interval: list         # [low, high] of fold_change at the family level
    direction: str              # the counter per KiB "rises" | "falls"
    time_per_kib_from: list     # the loop's ns per KiB [centre, low, high] (95 %), same runs
    time_per_kib_to: list
    time_change_ns_per_kib: float
    events_change_per_kib: float
    cost_ns_per_event: float    # the centre of the cost range (geometric), NaN when unknown
    cost_range_ns: list         # [low, high]
    cost_source: str            # SAME_RUNS | OTHER_RUNS | CATALOGUE | "" (unknown) | a time unit
    cost_reference: str         # where the catalogue's estimate comes from
    accounted_ns_per_kib: float
    share: float                # accounted / measured time change (signed)
    share_max: float            # upper bound of |share|
    named: bool
    reason: str                 # why not named ("" when named)
    p_value: float
    p_adjusted: float           # Bonferroni over the family (``n_family``)
    level: float                # confidence level of the family's intervals
    n_family: int
    is_time: bool
    variants: list = field(default_factory=list)
    same_as: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return jsonable(self.__dict__)


# ----------------------------------------------------------------------------------------------
# Normalisation

def per_kib(df: pd.DataFrame, counter: str) -> pd.Series:
    """Counter per KiB transferred: ``value * 1024 / total_size`` (NaN stays NaN)."""
    return df[counter].astype(float) * KIB / df["total_size"].astype(float)


def per_call(df: pd.DataFrame, counter: str) -> pd.Series:
    """Counter per ``write()`` call of the benchmark loop (NaN where ``writes`` is unknown or 0)."""
    writes = df["writes"].astype(float) if "writes" in df.columns else pd.Series(np.nan, index=df.index)
    return df[counter].astype(float) / writes.where(writes > 0)


def sampled_ns_per_kib(df: pd.DataFrame, counter: str) -> pd.Series:
    """A profile counter as time per KiB transferred, ns (an estimate): samples x ``profile_period_ns``
    x 1024 / ``total_size``; NaN where the period is unknown."""
    period = df[PERIOD].astype(float) if PERIOD in df.columns else pd.Series(np.nan, index=df.index)
    return per_kib(df, counter) * period.where(period > 0)


def counter_per_kib(df: pd.DataFrame, counter: str, sampled: bool = False) -> pd.Series:
    """``per_kib``, or for a profile counter (``sampled``) ``sampled_ns_per_kib``."""
    return sampled_ns_per_kib(df, counter) if sampled else per_kib(df, counter)


def time_per_kib(df: pd.DataFrame) -> pd.Series:
    """The loop's wall time per KiB transferred, ns (1024 / bandwidth)."""
    return KIB * 1e9 / df["bandwidth"].astype(float)


def _wall_ns(df: pd.DataFrame) -> pd.Series:
    wall = df["loop_ns"].astype(float) if "loop_ns" in df.columns else pd.Series(np.nan, index=df.index)
    return wall.where(wall > 0, df["total_size"].astype(float) / df["bandwidth"].astype(float) * 1e9)


def counted(df: pd.DataFrame, counter: str) -> pd.Series:
    """Rows where ``counter`` holds a value (status ok, or no status column), as a boolean mask."""
    ok = df[counter].notna() & (df[counter].astype(float) >= 0) if counter in df.columns else \
        pd.Series(False, index=df.index)
    status = f"{counter}_status"
    if status in df.columns:
        ok &= df[status].isna() | (df[status] == "ok")
    return ok


# ----------------------------------------------------------------------------------------------
# Levels

def _n_processes(rows: pd.DataFrame) -> int:
    if "process" not in rows.columns:
        return len(rows)
    p = rows["process"]
    return int(p.nunique() + p.isna().sum())


def _levels(rows: pd.DataFrame, values: pd.Series) -> dict:
    """{buffer size: inference Level} of ``values`` (positive, one per row of ``rows``, one variant)."""
    frame = rows[["buffer_size"] + (["process"] if "process" in rows.columns else [])].copy()
    frame["v"] = values.to_numpy(float)
    med = process_medians(frame, ["buffer_size"], value="v")
    return {int(k[0]): lv for k, lv in levels(med, ["buffer_size"], share_by=[]).items()}


def _point(lv, level: float, shift: float = 0.0) -> list:
    """[centre, low, high] of one level at ``level`` (NaN bounds with fewer than two processes)."""
    if lv is None:
        return [float("nan")] * 3
    lo, hi = contrast([(1.0, lv)]).interval(level)
    out = [math.exp(lv.mean) - shift, lo - shift, hi - shift]
    return [0.0 if shift and abs(v) < 1e-9 * shift else v for v in out]     # (0 + shift) - shift


def cycle_counters(cat) -> tuple[str, ...]:
    """Ids of the counters that count CPU cycles (``Catalogue.cycle_counters``: a time counter whose
    unit is no duration): ``cat``'s, then today's built-in catalogue's (a snapshot may predate ``time``)."""
    found = cat.cycle_counters() if cat is not None else ()
    return tuple(dict.fromkeys([*found, *builtin_catalogue().cycle_counters()]))


def _choose_variant(mode: pd.DataFrame, c: str, sizes: tuple, cycle_ids: tuple) -> str | None:
    """The variant whose runs carry ``c`` at both ``sizes``: cycles counted in the same runs first,
    then the most processes at the worse-covered size, then the most runs, then by name."""
    best, key = None, None
    for variant, rows in mode.groupby("variant", sort=True):
        rows = rows[counted(rows, c) & rows["buffer_size"].isin(sizes)]
        ends = [rows[rows["buffer_size"] == s] for s in sizes]
        if any(e.empty for e in ends):
            continue
        cycles = any(k in rows.columns and bool(counted(rows, k).all()) for k in cycle_ids)
        k = (min(_n_processes(e) for e in ends) >= 2, cycles, min(_n_processes(e) for e in ends), len(rows))
        if key is None or k > key:
            best, key = variant, k
    return best


def _cycle_medians(mode: pd.DataFrame, cycle_ids: tuple) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Stage one of wall ns per (summed) cycle over the runs of one mode that counted cycles
    (``process_medians`` by variant and size), with the runs per (variant, size) and how many of them
    counted cycles."""
    total = mode.groupby(["variant", "buffer_size"]).size()
    for k in cycle_ids:
        if k not in mode.columns:
            continue
        ok = counted(mode, k) & (mode[k].astype(float) > 0)
        if not ok.any():
            continue
        sel = mode[ok].copy()
        sel["npc"] = _wall_ns(sel) / sel[k].astype(float)
        with_cycles = sel.groupby(["variant", "buffer_size"]).size().reindex(total.index, fill_value=0)
        return process_medians(sel, ["variant", "buffer_size"], value="npc"), total, with_cycles
    return pd.DataFrame(columns=["variant", "buffer_size", "y"]), total, total * 0


def _ns_per_cycle(cycles: tuple, variant: str, sizes: tuple) -> tuple[float, str]:
    """Wall ns per (summed) cycle at ``sizes`` (``cycles``: ``_cycle_medians`` of the mode): from
    ``variant``'s runs when they all counted cycles, else from the other runs of these points that did
    (the mean over the sizes of the median over processes, log scale); (NaN, "") when none did."""
    med, total, with_cycles = cycles
    same = all(total.get((variant, s), 0) > 0 and with_cycles.get((variant, s), 0) == total.get((variant, s), 0)
               for s in sizes)
    at = med[med["buffer_size"].isin(sizes)]
    if same:
        at, source = at[at["variant"] == variant], SAME_RUNS
    else:
        source = OTHER_RUNS
    if at.empty:
        return float("nan"), ""
    return float(math.exp(at.groupby("buffer_size")["y"].median().mean())), source


class _Builtin:
    """Today's built-in catalogue's costs, loaded on first use (a result whose catalogue snapshot
    predates the ``cost`` field falls back to them)."""

    def __init__(self, load):
        self.load, self.costs = load, None

    def get(self, c: str):
        if self.costs is None:
            self.costs = {k: v.cost for k, v in self.load().counters.items()}
        return self.costs.get(c)


def _cost(c: str, cat, builtin, is_time: bool, npc: tuple[float, str]) -> tuple[tuple, str, str]:
    """((low, high) ns per event, cost_source, reference) for counter ``c``; ((nan, nan), "", "") unknown."""
    nan2 = (float("nan"), float("nan"))
    if is_profile_counter(c, cat):
        return (1.0, 1.0), SAMPLED, "the profile's sampling period"
    entry = cat.counters.get(c) if cat is not None else None
    if is_time:
        if c in cycle_counters(cat):
            return ((npc[0], npc[0]), npc[1], "one cycle") if math.isfinite(npc[0]) else (nan2, "", "")
        unit = str(entry.unit).strip().lower() if entry is not None else ("ns" if c.endswith("_ns") else "")
        f = UNIT_NS.get(unit)
        return ((f, f), f"unit ({unit})", "") if f else (nan2, "", "")
    cost = getattr(entry, "cost", None)
    note = ""
    if cost is None and builtin is not None and builtin.get(c) is not None:
        cost, note = builtin.get(c), " (today's built-in catalogue)"
    if cost is None:
        return nan2, "", ""
    if cost.cycles and math.isfinite(npc[0]):
        return (cost.cycles[0] * npc[0], cost.cycles[1] * npc[0]), npc[1], cost.source + note
    if cost.ns:
        return tuple(cost.ns), CATALOGUE, cost.source + note
    return nan2, "", cost.source + note


# ----------------------------------------------------------------------------------------------
# One (change, counter) pair

@dataclass
class _Trial:
    change: Change
    counter: str
    variant: str
    is_time: bool
    c_levels: dict
    shift: float
    t_levels: dict
    cost: tuple
    cost_source: str
    cost_reference: str


def _trial(mode: pd.DataFrame, change: Change, c: str, is_time: bool, cat, builtin, memo: dict) -> _Trial | None:
    """One (change, counter) pair's levels and cost; ``memo`` keeps what does not depend on the change."""
    sizes = (int(change.from_size), int(change.to_size))
    variant = _choose_variant(mode, c, sizes, cycle_counters(cat))
    if variant is None:
        return None
    key = (change.ipc, variant, c)
    if key not in memo:
        sampled = is_profile_counter(c, cat)
        rows = mode[(mode["variant"] == variant) & counted(mode, c)]
        rows = rows[np.isfinite(rows["bandwidth"].astype(float)) & (rows["bandwidth"].astype(float) > 0)]
        values = counter_per_kib(rows, c, sampled)
        rows, values = rows[values.notna()], values[values.notna()]
        shift = 0.0
        if bool((values <= 0).any()):
            one = KIB / rows["total_size"].astype(float) * (rows[PERIOD].astype(float) if sampled else 1.0)
            values, shift = values + one, float(one.median())
        memo[key] = (_levels(rows, values), shift, _levels(rows, time_per_kib(rows)))
    c_levels, shift, t_levels = memo[key]
    if any(s not in c_levels or s not in t_levels for s in sizes):
        return None
    if ("cycles", change.ipc) not in memo:
        memo[("cycles", change.ipc)] = _cycle_medians(mode, cycle_counters(cat))
    npc = _ns_per_cycle(memo[("cycles", change.ipc)], variant, sizes)
    cost, source, ref = _cost(c, cat, builtin, is_time, npc)
    return _Trial(change, c, variant, is_time, c_levels, shift, t_levels, cost, source, ref)


def _reasons(is_time, established, defined, constant, counter_word, time_word, usable, cost, share_max) -> list[str]:
    """Why a counter is not named, in plain words (empty: it is)."""
    if is_time:
        return [TIME_REASON]
    reasons = []
    if constant:
        return ["does not change over this range"]
    if not established:
        reasons.append("change not established" + ("" if defined else " (fewer than 2 processes at a size)"))
    elif usable and counter_word != time_word:
        return [f"{counter_word} where time {time_word}"]          # whatever its size: not a cause
    if not usable:
        reasons.append("the loop's time per KiB does not change over this range")
    elif not math.isfinite(cost):
        reasons.append("no cost per event known, so the time it can account for is unknown")
    elif math.isfinite(share_max) and share_max < MIN_SHARE:
        reasons.append(f"changes too little to matter: at most {percent(abs(share_max))} of the time change")
    return reasons


def _judge(t: _Trial, m: int, level: float, label: str) -> Attribution:
    """The Attribution of one trial at the family ``level`` (``m`` members)."""
    f, to = int(t.change.from_size), int(t.change.to_size)
    cf, ct = t.c_levels[f], t.c_levels[to]
    con = ratio_contrast(ct, cf)
    fold_lo, fold_hi = con.interval(level)
    p = con.p_value()
    p_adj = min(1.0, p * m) if math.isfinite(p) else float("nan")
    pf, pt = _point(cf, level, t.shift), _point(ct, level, t.shift)
    tf, tt = _point(t.t_levels[f], LEVEL), _point(t.t_levels[to], LEVEL)
    d_time = tt[0] - tf[0]
    d_events = pt[0] - pf[0]
    lo, hi = t.cost
    centre = math.sqrt(lo * hi) if math.isfinite(lo) and math.isfinite(hi) else float("nan")
    accounted = d_events * centre
    usable = math.isfinite(d_time) and d_time != 0
    share = accounted / d_time + 0.0 if usable else float("nan")     # + 0.0: no "-0"
    widest = float(np.max(np.abs([pt[2] - pf[1], pf[2] - pt[1]])))   # NaN when a bound is
    share_max = widest * hi / abs(d_time) if usable else float("nan")
    established = math.isfinite(fold_lo) and (fold_lo > 1 or fold_hi < 1)
    time_word, counter_word = ("rises" if d_time > 0 else "falls"), ("rises" if con.estimate > 0 else "falls")
    constant = con.estimate == 0 and con.se == 0          # the same value in every run (e.g. always 0)
    reasons = _reasons(t.is_time, established, con.defined(), constant, counter_word, time_word, usable, centre,
                       share_max)
    return Attribution(
        id=t.counter, label=label, ipc=t.change.ipc, from_size=f, to_size=to, per_kib_from=pf, per_kib_to=pt,
        fold_change=con.ratio, fold_interval=[fold_lo, fold_hi], direction=counter_word,
        time_per_kib_from=tf, time_per_kib_to=tt, time_change_ns_per_kib=d_time, events_change_per_kib=d_events,
        cost_ns_per_event=centre, cost_range_ns=[lo, hi], cost_source=t.cost_source,
        cost_reference=t.cost_reference, accounted_ns_per_kib=accounted, share=share, share_max=share_max,
        named=not reasons, reason="; ".join(reasons), p_value=p, p_adjusted=p_adj, level=level, n_family=m,
        is_time=t.is_time, variants=[t.variant])


def _same(mode: pd.DataFrame, variant: str, a: str, b: str) -> bool:
    """Same measurement: over ``variant``'s runs that counted both, log per-KiB correlation > SAME_AS_R."""
    rows = mode[(mode["variant"] == variant) & counted(mode, a) & counted(mode, b)]
    x, y = rows[a].astype(float).to_numpy(), rows[b].astype(float).to_numpy()
    keep = (x > 0) & (y > 0)
    if keep.sum() < 6:
        return False
    total = rows["total_size"].to_numpy(float)[keep]
    x, y = np.log(x[keep] / total), np.log(y[keep] / total)
    if x.std() == 0 or y.std() == 0:
        return False
    return abs(float(np.corrcoef(x, y)[0, 1])) > SAME_AS_R


def _fold_duplicates(mode: pd.DataFrame, atts: list[Attribution]) -> None:
    kept: list[Attribution] = []
    for a in atts:
        if not a.named:
            continue
        twin = next((k for k in kept if k.variants == a.variants and _same(mode, a.variants[0], k.id, a.id)), None)
        if twin is None:
            kept.append(a)
        else:
            a.named, a.reason = False, f"same measurement as {twin.id}"
            twin.same_as.append(a.id)


def _order(a: Attribution):
    return (not a.named, a.is_time, -(a.share if math.isfinite(a.share) else -math.inf))


def attribute_changes(runs: pd.DataFrame, changes: list, counters: list, *, catalogue=None,
                      metadata=None) -> list[list[Attribution]]:
    """Per ``Change`` (in order), every counter of ``counters`` measured at both its sizes, tried as
    the module docstring says: named ones first, then by decreasing share (time counters last).
    ``runs``: the measured runs of the whole result set (``results.measured``); one call per result
    set, so that the correction family is the whole set. ``catalogue``: a loaded Catalogue (default:
    the result's, from ``metadata``, else the built-in one)."""
    from ..catalogue import load_catalogue, result_catalogue
    cat = catalogue if catalogue is not None else (result_catalogue(metadata) or load_catalogue())
    builtin = _Builtin(load_catalogue)
    labels = counter_labels(counters, metadata)
    changes = [ch if isinstance(ch, Change) else Change(*ch) for ch in changes]
    trials, memo = [], {}
    for ch in changes:
        mode = runs[runs["ipc"] == ch.ipc]
        found = []
        for c in counters:
            if c not in mode.columns:
                continue
            t = _trial(mode, ch, c, is_time_counter(c, cat), cat, builtin, memo)
            if t is not None:
                found.append(t)
        trials.append(found)
    m = max(1, sum(not t.is_time for found in trials for t in found))
    level = family_level(ALPHA, m)
    out = []
    for ch, found in zip(changes, trials):
        atts = [_judge(t, m, level, labels.get(t.counter, t.counter)) for t in found]
        _fold_duplicates(runs[runs["ipc"] == ch.ipc], atts)
        out.append(sorted(atts, key=_order))
    return out
