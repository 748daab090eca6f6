"""Findings, from the numbers only: sentences for the report and the ``pmcsuite explain --json`` document.

Example sentence: ``pipe: bandwidth falls from 64 KiB to 1 MiB, measured 542 MiB/s (95 % interval
540-545) -> 125 MiB/s (96-154); behind it: AXI bus writes per KiB rise 32x, AXI bus reads per KiB
rise 21x.`` Every number in a sentence is a measured median with its interval unless it says "fit".

The JSON contract (``findings_dict(df)``; ``explain --json`` adds ``provenance``)
-------------------------------------------------------------------------------
Top level: ``format`` ("pmcsuite-findings"), ``format_version`` (2), ``settings`` (``cv_limit`` 0.10,
``flat_tolerance`` 0.05, ``alpha`` 0.05, ``correction`` "holm", ``min_support`` 0.8, ``min_runs`` 3,
``n_boot``, ``cell_boot``), ``findings`` (list, below), ``sentences`` (one per finding, same order,
then the overhead's), ``modes`` (per IPC mode: ``bandwidth_source``, ``breakpoint_source``, ``sizes``,
``cells``, ``counter_breakpoints``, ``correlations``, ``constant``, ``unmeasured``, ``notes``),
``overhead``, ``labels``, ``notes``.

Each finding (sizes in bytes, bandwidth in bytes/s):

- ``kind``: ``peak`` | ``knee`` | ``fall`` | ``rise`` | ``flat`` | ``plateau`` | ``crossover``.
- ``ipc`` (str); a ``crossover`` has ``ipcs`` instead: [the mode that falls below, the other].
- ``of``: ``"bandwidth"`` or the counter id (a counter's ``plateau``: its per-KiB value stops rising or
  falling); ``variant``: the runs the curve comes from ("baseline" or "all runs pooled").
- ``size`` (point findings: peak, knee, plateau) or ``from_size`` and ``to_size`` (fall, rise, flat,
  crossover; a plateau also has ``to_size``, where it ends); ``size_interval``: [low, high] bytes, the
  interval of ``size`` (or of ``from_size``): the bootstrap interval of a fitted breakpoint's location;
  [size, size] for a measured peak and a flat range; [last size not below, first size below] for a
  crossover.
- ``measured``: {``size``, ``value``, ``ci``: [low, high], ``n``, ``unit``} the measured median at
  ``size``/``from_size`` with its 95 % bootstrap interval (``unit`` "bytes/s"; "per KiB" for a counter's
  plateau; for a flat range the median of its cells' medians); range findings add ``measured_to`` (at
  ``to_size``), a crossover ``measured_other`` (the other mode at ``from_size``).
- ``fit``: null, or {``value`` (bytes/s, the segmented fit at ``size``), ``slope_before``,
  ``slope_after`` (bytes/s per doubling), ``support``} for findings located by the fit: the fit's
  numbers are never quoted as measurements.
- ``support``: share of bootstrap resamples that find it (breakpoint: within one size step; measured
  peak: the size beats both neighbours; flat: every cell within tolerance; crossover: below at every
  size from ``from_size``).
- ``counters``: the counters *named* (see explain.py step 3), largest effect first, each {``id``,
  ``label``, ``fold_change`` (per-KiB median at to / from), ``from_size``, ``to_size``, ``support``,
  ``p_value``, ``p_adjusted`` (Holm over ``counters_tried``), ``delta_slope``, ``scale``,
  ``counter_breakpoint`` (bytes or null), ``paired``, ``per_kib_from``/``per_kib_to`` [median, low,
  high], ``variants``, ``same_as``}; empty when no measured counter changes there.
  ``counters_tried`` (int), ``not_named`` ([{``id``, ``reason``}]), ``context`` (time counters:
  [{``id``, ``label``, ``fold_change``}]).
- ``reliability``: ``"reliable"`` | ``"unreliable"``; ``reliability_reasons``: why (a cell it is built
  on has CV > ``cv_limit``, runs that shared the CPU, or fewer than ``min_runs`` runs).
- ``sentence``: the finding in words (the unreliable ones say so).
"""
from __future__ import annotations

import math

import numpy as np

from .breakpoints import MIB, _jsonable, size_step_label
from .explain import ALIGN_NOTE, CV_LIMIT, Attribution, Explanation, ModeExplanation, explain, noise_reasons
from .overhead import describe_mode

FORMAT = "pmcsuite-findings"
FORMAT_VERSION = 2
KINDS = ("peak", "knee", "fall", "rise", "flat", "plateau", "crossover")
MAX_NAMED = 3


def _num(v: float) -> str:
    """Compact number for people: 4,887, 540, 12.5, 0.031."""
    if v is None or not math.isfinite(v):
        return "n/a"
    a = abs(v)
    return f"{v:,.0f}" if a >= 100 else f"{v:.1f}" if a >= 10 else f"{v:.2g}" if a >= 0.01 else f"{v:.2e}"


def _verb(label: str, verb: str) -> str:
    """'rise' -> 'rises' for a singular label ("CPU time"), unchanged for a plural one ("read() calls")."""
    plural = label.endswith("s") and not label.endswith("ss")
    return verb if plural else (verb[:-1] + "ies" if verb.endswith("y") else verb + "s")


# ----------------------------------------------------------------------------------------------
# Measurements

def _measurement(cells, size, unit="bytes/s") -> dict | None:
    rows = cells[cells["buffer_size"] == size]
    if rows.empty:
        return None
    r = rows.iloc[0]
    return {"size": int(size), "value": _jsonable(float(r["median"])),
            "ci": [_jsonable(float(r["ci_low"])), _jsonable(float(r["ci_high"]))], "n": int(r["n"]), "unit": unit}


def _mib(meas: dict | None, with_ci: bool = True) -> str:
    """'542 MiB/s (95 % interval 540-545)' from a bytes/s measurement."""
    if meas is None or meas["value"] is None:
        return "n/a"
    v, (lo, hi) = meas["value"] / MIB, meas["ci"]
    text = f"{_num(v)} MiB/s"
    if with_ci and lo is not None and hi is not None:
        text += f" (95 % interval {_num(lo / MIB)}-{_num(hi / MIB)})"
    return text


def _per_kib(meas: dict | None) -> str:
    if meas is None or meas["value"] is None:
        return "n/a"
    lo, hi = meas["ci"]
    return f"{_num(meas['value'])} per KiB (95 % interval {_num(lo)}-{_num(hi)})"


def _sizes_between(cells, lo, hi) -> list[int]:
    return [int(s) for s in cells["buffer_size"] if lo <= s <= hi]


def _neighbours(cells, size) -> list[int]:
    sizes = [int(s) for s in cells["buffer_size"]]
    if size not in sizes:
        return [size]
    i = sizes.index(size)
    return sizes[max(0, i - 1): i + 2]


def _reliability(reasons: list[str]) -> dict:
    return {"reliability": "unreliable" if reasons else "reliable", "reliability_reasons": list(reasons)}


def _caveat(f: dict) -> str:
    if f["reliability"] == "reliable":
        return ""
    reasons = f["reliability_reasons"]
    shown = "; ".join(reasons[:3]) + (f"; and {len(reasons) - 3} more" if len(reasons) > 3 else "")
    return f" [unreliable: {shown}]"


# ----------------------------------------------------------------------------------------------
# Counters of a finding

def _counter_json(a: Attribution, labels: dict) -> dict:
    d = a.to_dict()
    d.pop("named", None)
    d.pop("reason", None)
    d["label"] = labels.get(a.counter, a.counter)
    return d


def _counter_part(atts: list, context: list, labels: dict, tried: int) -> str:
    named = [a for a in atts if a.named][:MAX_NAMED]
    if named:
        parts = []
        for a in named:
            label = labels.get(a.counter, a.counter)
            what = f"{label} per KiB"
            cb = a.counter_breakpoint
            if cb is not None and cb.kind == "plateau" and cb.slope_before != 0:
                parts.append(f"{what} {_verb(label, 'stop')} {'falling' if cb.slope_before < 0 else 'rising'} "
                             f"({_num(a.from_value[0])} -> {_num(a.to_value[0])})")
            elif math.isfinite(a.fold_change) and a.fold_change > 0:
                if 0.9 <= a.fold_change <= 1.1:
                    parts.append(f"{what} {_verb(label, 'stop')} {'rising' if a.delta_slope < 0 else 'falling'} "
                                 f"({_num(a.from_value[0])} -> {_num(a.to_value[0])})")
                else:
                    moves = (f"{_verb(label, 'rise')} {a.fold_change:.1f}x" if a.fold_change > 1
                             else f"{_verb(label, 'fall')} {1 / a.fold_change:.1f}x")
                    parts.append(f"{what} {moves} ({_num(a.from_value[0])} -> {_num(a.to_value[0])} "
                                 f"by {size_step_label(a.to_size)})")
            else:
                parts.append(f"the slope of {what} changes by {abs(a.delta_slope):.2g} per doubling")
        text = "behind it: " + ", ".join(parts)
    elif tried:
        text = f"no measured counter changes there ({tried} tried)"
    elif context:
        text = "no measured counter changes there (only counters of time were measured)"
    else:
        return ""
    ctx = [a for a in context if math.isfinite(a.fold_change) and a.fold_change > 0]
    if ctx:
        text += "; context (time, not an explanation): " + ", ".join(
            f"{labels.get(a.counter, a.counter)} per KiB {a.fold_change:.2g}x" for a in ctx[:2])
    return text


def _with_counters(f: dict, atts: list, context: list, labels: dict) -> None:
    f["counters"] = [_counter_json(a, labels) for a in atts if a.named]
    f["counters_tried"] = len(atts)
    f["not_named"] = [{"id": a.counter, "reason": a.reason} for a in atts if not a.named]
    f["context"] = [{"id": a.counter, "label": labels.get(a.counter, a.counter),
                     "fold_change": _jsonable(a.fold_change)} for a in context]


# ----------------------------------------------------------------------------------------------
# Findings of one mode

def _fit_json(m: ModeExplanation, bp) -> dict | None:
    if m.breakpoint_source != "fit":
        return None
    return {"value": _jsonable(bp.value * MIB), "slope_before": _jsonable(bp.slope_before * MIB),
            "slope_after": _jsonable(bp.slope_after * MIB), "support": _jsonable(bp.support)}


def _kind(bp) -> str:
    flat = abs(bp.slope_before) < abs(bp.delta_slope) * 0.25
    if bp.kind == "peak":
        return "peak"
    if bp.kind == "plateau":
        return "plateau"
    if bp.kind == "trough" or (flat and bp.slope_after > 0):
        return "rise"
    if flat and bp.slope_after < 0:
        return "fall"
    return "knee"


def mode_findings(m: ModeExplanation, labels: dict | None = None, cv_limit: float = CV_LIMIT,
                  flat_tolerance: float = 0.05) -> list[dict]:
    """The findings of one IPC mode (see the module docstring): breakpoints, falls and rises, flat
    ranges, counter plateaus."""
    labels = labels or {}
    cells, ipc = m.cells, m.ipc
    out = []
    base = {"ipc": ipc, "of": "bandwidth", "variant": m.bandwidth_source}
    sizes = [int(s) for s in cells["buffer_size"]]
    bps = m.breakpoints
    fitted = m.breakpoint_source == "fit"
    for j, bp in enumerate(bps):
        atts = m.tried[j] if j < len(m.tried) else []
        context = m.context[j] if j < len(m.context) else []
        to_size = bps[j + 1].size if j + 1 < len(bps) else sizes[-1]
        kind = _kind(bp)
        meas = _measurement(cells, bp.size)
        where = size_step_label(bp.size)
        if fitted:
            lo, hi = size_step_label(bp.ci_low), size_step_label(bp.ci_high)
            located = (f"located by the segmented fit (interval {lo}-{hi}, support {bp.support:.0%}; "
                       f"fit {_num(bp.value)} MiB/s)")
        else:
            located = f"measured: above both neighbours in {bp.support:.0%} of resamples"
        point = dict(base, kind="peak" if kind == "peak" else kind, size=int(bp.size),
                     size_interval=[int(bp.ci_low), int(bp.ci_high)], measured=meas, fit=_fit_json(m, bp),
                     support=_jsonable(bp.support))
        reasons = noise_reasons(cells, _neighbours(cells, bp.size), ipc, cv_limit)
        point.update(_reliability(reasons))
        counters_text = _counter_part(atts, context, labels, len(atts))
        if kind == "peak":
            _with_counters(point, atts, context, labels)
            point["sentence"] = f"{ipc}: bandwidth peaks at {where}: {_mib(meas)}; {located}." + _caveat(point)
            out.append(point)
            fall = dict(base, kind="fall", from_size=int(bp.size), to_size=int(to_size),
                        size_interval=[int(bp.ci_low), int(bp.ci_high)], measured=meas,
                        measured_to=_measurement(cells, to_size), fit=None, support=_jsonable(bp.support))
            fall.update(_reliability(noise_reasons(cells, _sizes_between(cells, bp.size, to_size), ipc, cv_limit)))
            _with_counters(fall, atts, context, labels)
            fall["sentence"] = (f"{ipc}: bandwidth falls from {where} to {size_step_label(to_size)}: "
                                f"{_mib(meas)} -> {_mib(fall['measured_to'])}"
                                + (f"; {counters_text}" if counters_text else "") + "." + _caveat(fall))
            out.append(fall)
            continue
        if kind in ("fall", "rise"):
            f = dict(base, kind=kind, from_size=int(bp.size), to_size=int(to_size),
                     size_interval=[int(bp.ci_low), int(bp.ci_high)], measured=meas,
                     measured_to=_measurement(cells, to_size), fit=_fit_json(m, bp), support=_jsonable(bp.support))
            f.update(_reliability(noise_reasons(cells, _sizes_between(cells, sizes[max(0, sizes.index(bp.size) - 1)],
                                                                      to_size), ipc, cv_limit)))
            _with_counters(f, atts, context, labels)
            verb = "falls" if kind == "fall" else "rises"
            f["sentence"] = (f"{ipc}: bandwidth {verb} from {where} to {size_step_label(to_size)}: {_mib(meas)} -> "
                             f"{_mib(f['measured_to'])}; {located}"
                             + (f"; {counters_text}" if counters_text else "") + "." + _caveat(f))
            out.append(f)
            continue
        _with_counters(point, atts, context, labels)
        if kind == "plateau":
            point["to_size"] = int(to_size)
            text = f"{ipc}: bandwidth levels off from {where} (to {size_step_label(to_size)}): {_mib(meas)}; {located}"
        else:
            text = (f"{ipc}: bandwidth changes slope at {where}: {_mib(meas)}; {located}, slope "
                    f"{_num(bp.slope_before)} -> {_num(bp.slope_after)} MiB/s per doubling (fit)")
        point["sentence"] = text + (f"; {counters_text}" if counters_text else "") + "." + _caveat(point)
        out.append(point)
    out += flat_ranges(m, flat_tolerance, cv_limit)
    out += counter_plateaus(m, labels, cv_limit)
    return out


def flat_ranges(m: ModeExplanation, tolerance: float = 0.05, cv_limit: float = CV_LIMIT,
                min_sizes: int = 3) -> list[dict]:
    """Maximal runs of >= ``min_sizes`` consecutive sizes whose medians all lie within +-``tolerance`` of
    the range's median (greedy from the smallest size)."""
    cells = m.cells
    med = cells["median"].to_numpy(float)
    sizes = [int(s) for s in cells["buffer_size"]]
    out, i, n = [], 0, len(med)

    def within(a, b, values):
        centre = np.median(values[..., a:b + 1], axis=-1)
        return np.all(np.abs(values[..., a:b + 1] - centre[..., None]) <= tolerance * np.abs(centre)[..., None], axis=-1)

    while i <= n - min_sizes:
        j = i + min_sizes - 1
        if not within(i, j, med):
            i += 1
            continue
        while j + 1 < n and within(i, j + 1, med):
            j += 1
        centre = float(np.median(med[i:j + 1]))
        boot_centre = np.median(m.boot[:, i:j + 1], axis=1) if m.boot is not None else np.array([centre])
        support = float(np.mean(within(i, j, m.boot))) if m.boot is not None else float("nan")
        meas = {"size": sizes[i], "value": centre, "ci": [float(np.quantile(boot_centre, 0.025)),
                                                          float(np.quantile(boot_centre, 0.975))],
                "n": int(cells["n"].iloc[i:j + 1].sum()), "unit": "bytes/s"}
        f = {"ipc": m.ipc, "of": "bandwidth", "variant": m.bandwidth_source, "kind": "flat",
             "from_size": sizes[i], "to_size": sizes[j], "size_interval": [sizes[i], sizes[i]],
             "measured": meas, "measured_to": _measurement(cells, sizes[j]), "fit": None,
             "support": support, "tolerance": tolerance, "counters": [], "counters_tried": 0,
             "not_named": [], "context": []}
        f.update(_reliability(noise_reasons(cells, sizes[i:j + 1], m.ipc, cv_limit)))
        f["sentence"] = (f"{m.ipc}: bandwidth is flat (within ±{tolerance:.0%}) from {size_step_label(sizes[i])} "
                         f"to {size_step_label(sizes[j])}: {_mib(meas)}; every size within tolerance in "
                         f"{support:.0%} of resamples." + _caveat(f))
        out.append(f)
        i = j + 1
    return out


def counter_plateaus(m: ModeExplanation, labels: dict, cv_limit: float = CV_LIMIT) -> list[dict]:
    """A counter per KiB that stops rising (or falling): its own fit's claimed ``plateau`` breakpoints."""
    out = []
    for c, fit in m.counters.items():
        if c in m.time_counters or c in m.same_as:
            continue
        cells = m.counter_cells.get(c)
        for j, cb in enumerate(fit.breakpoints):
            if cb.kind != "plateau" or cells is None:
                continue
            to_size = fit.breakpoints[j + 1].size if j + 1 < len(fit.breakpoints) else fit.sizes[-1]
            label = labels.get(c, c)
            meas = _measurement(cells, cb.size, unit="per KiB")
            f = {"ipc": m.ipc, "of": c, "variant": ", ".join(m.counter_variants.get(c, [])), "kind": "plateau",
                 "size": int(cb.size), "to_size": int(to_size), "size_interval": [int(cb.ci_low), int(cb.ci_high)],
                 "measured": meas, "measured_to": _measurement(cells, to_size, unit="per KiB"),
                 "fit": {"value": _jsonable(cb.value), "slope_before": _jsonable(cb.slope_before),
                         "slope_after": _jsonable(cb.slope_after), "support": _jsonable(cb.support)},
                 "support": _jsonable(cb.support), "counters": [], "counters_tried": 0, "not_named": [], "context": []}
            f.update(_reliability(noise_reasons(cells, _neighbours(cells, cb.size), f"{m.ipc} {label}", cv_limit)))
            trend = "rising" if cb.slope_before > 0 else "falling"
            f["sentence"] = (f"{m.ipc}: {label} per KiB {_verb(label, 'stop')} {trend} from {size_step_label(cb.size)} "
                             f"(to {size_step_label(to_size)}): {_per_kib(meas)}; located by its segmented fit "
                             f"(interval {size_step_label(cb.ci_low)}-{size_step_label(cb.ci_high)}, support "
                             f"{cb.support:.0%})." + _caveat(f))
            out.append(f)
    return out


# ----------------------------------------------------------------------------------------------
# Across modes

def crossovers(expl: Explanation, cv_limit: float = CV_LIMIT, min_below: int = 2) -> list[dict]:
    """Where one IPC mode falls below another and stays below to the largest common size, judged on
    intervals (its interval's top under the other's bottom at every size from there, for >= ``min_below``
    sizes), after being at or above it (by median) at some smaller size."""
    out = []
    modes = list(expl.modes.values())
    for a in modes:
        for b in modes:
            if a is b or a.cells.empty or b.cells.empty:
                continue
            ca, cb = a.cells.set_index("buffer_size"), b.cells.set_index("buffer_size")
            common = sorted(set(ca.index) & set(cb.index))
            if len(common) < min_below + 1:
                continue
            below = [bool(ca.loc[s, "ci_high"] < cb.loc[s, "ci_low"]) for s in common]
            k = len(common)
            while k > 0 and below[k - 1]:
                k -= 1
            if len(common) - k < min_below or k == 0:
                continue
            if not any(ca.loc[s, "median"] >= cb.loc[s, "median"] for s in common[:k]):
                continue
            s0, prev = common[k], common[k - 1]
            support = float("nan")
            if a.boot is not None and b.boot is not None:
                ia = [list(ca.index).index(s) for s in common[k:]]
                ib = [list(cb.index).index(s) for s in common[k:]]
                support = float(np.mean(np.all(a.boot[:, ia] < b.boot[:, ib], axis=1)))
            f = {"ipcs": [a.ipc, b.ipc], "of": "bandwidth", "variant": a.bandwidth_source, "kind": "crossover",
                 "from_size": int(s0), "to_size": int(common[-1]), "size_interval": [int(prev), int(s0)],
                 "measured": _measurement(a.cells, s0), "measured_other": _measurement(b.cells, s0),
                 "measured_to": _measurement(a.cells, common[-1]), "fit": None, "support": support,
                 "counters": [], "counters_tried": 0, "not_named": [], "context": []}
            reasons = (noise_reasons(a.cells, [prev, s0], a.ipc, cv_limit)
                       + noise_reasons(b.cells, [prev, s0], b.ipc, cv_limit))
            f.update(_reliability(reasons))
            f["sentence"] = (f"{a.ipc} falls below {b.ipc} from {size_step_label(s0)} and stays below to "
                             f"{size_step_label(common[-1])}: at {size_step_label(s0)} {_mib(f['measured'])} vs "
                             f"{_mib(f['measured_other'])}." + _caveat(f))
            out.append(f)
    return out


def findings(expl: Explanation) -> list[dict]:
    """Every finding (the ``findings`` list of the JSON contract), per mode then across modes."""
    s = expl.settings or {}
    cv, tol = s.get("cv_limit", CV_LIMIT), s.get("flat_tolerance", 0.05)
    out = []
    for m in expl.modes.values():
        out += mode_findings(m, expl.labels, cv, tol)
    return out + crossovers(expl, cv)


# ----------------------------------------------------------------------------------------------
# Sentences and the document

def _too_few(m: ModeExplanation) -> list[str]:
    bw = m.bandwidth
    span = f"{size_step_label(bw.sizes[0])} to {size_step_label(bw.sizes[-1])}"
    if len(bw.sizes) == 1:
        return [f"{m.ipc}: one buffer size ({size_step_label(bw.sizes[0])}) cannot show an inflexion point "
                f"(at least 5 are needed); bandwidth {_mib(_measurement(m.cells, bw.sizes[0]))}."]
    if not bw.can_break:
        return [f"{m.ipc}: {len(bw.sizes)} buffer sizes ({span}) are too few to fit inflexion points (at least 5 "
                f"are needed); only measured peaks are looked for."]
    if not m.breakpoints:
        return [f"{m.ipc}: no inflexion point from {span} (the segmented fit claims none)."]
    return []


def mode_sentences(m: ModeExplanation, labels: dict | None = None, settings: dict | None = None) -> list[str]:
    """Sentences about one IPC mode: what its bandwidth does, measured, and the counters behind it."""
    s = settings or {}
    return _too_few(m) + [f["sentence"] for f in mode_findings(m, labels, s.get("cv_limit", CV_LIMIT),
                                                                s.get("flat_tolerance", 0.05))]


def sentences(expl: Explanation) -> list[str]:
    """All findings as sentences: per IPC mode, across modes, then the overhead of every pass."""
    out = []
    for m in expl.modes.values():
        out += mode_sentences(m, expl.labels, expl.settings)
    out += [f["sentence"] for f in crossovers(expl, (expl.settings or {}).get("cv_limit", CV_LIMIT))]
    if expl.overhead is not None:
        out += [describe_mode(r, expl.overhead.min_runs) for r in expl.overhead.modes.to_dict("records")]
    return out


def _overhead_json(expl: Explanation) -> dict:
    """Per IPC mode and pass: the overhead summary and its cells (fields the overhead result provides)."""
    if expl.overhead is None:
        return {}
    out: dict = {}
    cells = expl.overhead.cells
    for r in expl.overhead.modes.to_dict("records"):
        sel = cells[(cells["ipc"] == r["ipc"]) & (cells["variant"] == r["variant"])]
        entry = {k: _clean(v) for k, v in r.items() if k not in ("ipc", "variant")}
        entry["sizes"] = [{"size": int(c["buffer_size"]), **{k: _clean(v) for k, v in c.items()
                                                             if k not in ("ipc", "variant", "buffer_size")},
                           "ci": [_jsonable(c.get("ci_low")), _jsonable(c.get("ci_high"))]}
                          for c in sel.to_dict("records")]
        out.setdefault(r["ipc"], {})[r["variant"]] = entry
    return out


def findings_dict(data, **explain_kwargs) -> dict:
    """The ``explain --json`` document (module docstring), from a result table or an ``Explanation``."""
    expl = data if isinstance(data, Explanation) else explain(data, **explain_kwargs)
    found = findings(expl)
    modes = {}
    for ipc, m in expl.modes.items():
        modes[ipc] = {
            "bandwidth_source": m.bandwidth_source, "breakpoint_source": m.breakpoint_source,
            "sizes": [int(s) for s in m.cells["buffer_size"]],
            "cells": [{k: _jsonable(v) for k, v in r.items()} for r in m.cells.to_dict("records")],
            "counter_breakpoints": {c: [{"size": b.size, "ci": [b.ci_low, b.ci_high], "kind": b.kind,
                                         "delta_slope": _jsonable(b.delta_slope), "support": _jsonable(b.support)}
                                        for b in f.breakpoints] for c, f in m.counters.items()},
            "time_counters": list(m.time_counters),
            "correlations": {r["counter"]: {"rho": _jsonable(r["rho"]), "p_value": _jsonable(r["p_value"])}
                             for r in m.correlations.to_dict("records")},
            "constant": {c: _jsonable(v) for c, v in m.constant.items()},
            "unmeasured": dict(m.unmeasured), "same_as": dict(m.same_as), "notes": list(m.notes),
        }
    lines = []
    for m in expl.modes.values():
        lines += _too_few(m)
    lines += [f["sentence"] for f in found]
    if expl.overhead is not None:
        lines += [describe_mode(r, expl.overhead.min_runs) for r in expl.overhead.modes.to_dict("records")]
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "settings": dict(expl.settings),
            "findings": _clean(found), "sentences": lines, "modes": modes, "overhead": _overhead_json(expl),
            "labels": dict(expl.labels), "notes": list(expl.notes) or [ALIGN_NOTE]}


def _clean(v):
    """JSON-able: numpy scalars to Python, NaN/inf to None."""
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_clean(x) for x in v]
    return _jsonable(v)


def findings_text(data, **explain_kwargs) -> str:
    """Plain-text findings for ``pmcsuite explain`` (without --json): sentences, then the notes."""
    expl = data if isinstance(data, Explanation) else explain(data, **explain_kwargs)
    lines = [f"- {s}" for s in sentences(expl)]
    return "\n".join(lines + [""] + list(expl.notes))


__all__ = ["findings_dict", "findings_text", "findings", "sentences", "mode_sentences", "mode_findings",
           "crossovers", "flat_ranges", "counter_plateaus", "FORMAT", "KINDS"]
