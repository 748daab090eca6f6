"""Findings, from the numbers only: sentences for the report and the ``pmcsuite explain --json`` document.

Each finding is a claim about the bandwidth curve of one IPC mode (or two, for a crossover) with the
measurements it rests on; its words (``sentence``, ``why``, ``details``) come from ``describe``
(``why.py``). Every number quoted is a point's level (``inference.point_table``: the trimmed mean
over benchmark processes of each process's median) with its interval unless it says "model".

This module reads what ``explain`` made (``m``: an ``explain.ModeExplanation``, ``expl``: an
``explain.Explanation``) and does not import it: ``explain`` imports this module (its
``Explanation.to_frame`` and its ``findings_dict``, ``findings_text`` and ``sentences`` list the
findings made here).

The JSON contract (``explain.findings_dict(df)``; ``explain --json`` adds ``provenance``)
-----------------------------------------------------------------------------------------
Top level: ``format`` ("pmcsuite-findings"), ``format_version`` (3), ``settings`` (``flat_tolerance``
0.05, ``alpha`` 0.05: the family-wise error of one curve's departures, ``half_width_limit`` 0.10: a
point is reliable when its interval is within +-10 %, ``min_processes`` 2), ``findings`` (list, below),
``sentences`` (what a mode's grid cannot show, then one per finding, same order, then the overhead's),
``modes`` (per IPC mode, below), ``overhead``, ``labels``, ``notes``.

Per mode: ``bandwidth_source`` ("baseline" or "all runs pooled"), ``sizes``, ``cells`` (per size:
``buffer_size``, ``n`` runs, ``n_processes``, ``centre`` = ``median`` (the level, bytes/s), ``ci_low``,
``ci_high`` (95 %), ``between_cv``, ``within_cv``, ``cv``, ``n_shared``), ``model``, ``departures``,
``counter_cells`` (counter -> per size ``buffer_size``, ``median``, ``ci_low``, ``ci_high`` per KiB),
``time_counters``, ``correlations``, ``constant``, ``unmeasured``, ``same_as``, ``notes``.

``model`` (``model.py``; null with 4 sizes or fewer): bandwidth(n) = r_inf / (1 + (n_half / n)^h),
each parameter [estimate, low, high] at 95 %: ``r_inf`` (bytes/s, the limit), ``n_half`` (bytes, where
half of it is reached), ``h`` (1: a fixed cost per call plus a cost per byte, the per-call model),
``t0_ns`` (n_half / r_inf: the fixed time per call when h = 1); ``per_call`` (h's interval holds 1: the
fit then fixes h = 1), ``describes`` (false: the model does not describe the smallest sizes, its
parameters are null and nothing is compared with it), ``fit_sizes`` (the prefix of sizes it is fitted on),
``level`` (the family level of the departure intervals), ``pooled_cv``/``pooled_df`` (the pooled process
spread), ``note`` (why no departure can be tested, or ""), ``sizes`` (per size: ``measured``, ``model``,
``ratio`` = measured / model with ``ratio_low``/``ratio_high`` at ``level``, ``status``: "fit" | "on model" |
"below" | "above" | "unknown"), ``departures``.

Each departure (also ``modes[ipc].departures``): ``from_size``/``to_size`` (first and last size clearly
off the model), ``size_interval`` [last size still consistent, first clearly not], ``by`` (measured /
model - 1 at the largest departure, at ``at_size``) and ``by_interval`` (its interval at ``level``),
``direction`` ("below" | "above"), ``located`` (an abrupt start), ``kind``, ``sizes`` (those clearly off).

Each finding (sizes in bytes, bandwidth in bytes/s):

- ``kind``: a located inflexion point (``INFLEXION_KINDS``): ``level-off`` | ``fall`` (the curve leaves
  the model below it abruptly; a fall when its level then drops clearly below the last size on the
  model) | ``rise`` (abruptly above it) | ``peak`` (the top, lower on both sides); or ``departure`` (the
  curve leaves the model gradually: no single size to name) | ``flat`` | ``crossover``.
- ``ipc`` (str); a ``crossover`` has ``ipcs`` instead: [the mode that falls below, the other].
- ``of``: ``"bandwidth"``; ``variant``: the runs the curve comes from ("baseline" or "all runs pooled").
- Departures (level-off, fall, rise, departure): ``from_size``, ``to_size``, ``size_interval``,
  ``located``, ``direction``, ``by``, ``by_interval``, ``at_size``, ``departing`` (the sizes clearly off),
  ``level``, ``measured`` (at ``from_size``), ``measured_to`` (at ``to_size``), ``measured_at`` (at
  ``at_size``), ``model`` ({``at``: {size: model bandwidth}, ``t0_ns``, ``r_inf``, ``n_half``, ``h``,
  ``per_call``}: never quoted as a measurement).
- ``peak``: ``size`` (the highest level), ``flat`` (True: a peak region of several sizes none clearly
  below the top, or within 3 % of it; then ``from_size``/``to_size`` and ``measured_from``/``measured_to``
  too), ``size_interval`` [first, last size of the region], ``below`` [the sizes either side, both clearly
  lower at the curve's family level], ``measured`` (at ``size``).
- ``flat``: ``from_size``/``to_size`` (>= 3 sizes within +-``tolerance`` of their median level, none
  clearly different from another), ``size_interval`` [from_size, from_size], ``measured`` (the geometric
  mean level and its 95 % interval), ``measured_to``.
- ``crossover``: ``from_size``/``to_size``, ``size_interval`` [last size not below, first size below],
  ``measured``, ``measured_other`` (the other mode at ``from_size``), ``measured_to``.
- ``measured`` and its kin: {``size``, ``value``, ``ci``: [low, high] (95 %), ``n`` (runs),
  ``n_processes``, ``unit``: "bytes/s"}.
- ``counters``: the counters *named* for the finding's range (``attribution.attribute_changes``; a
  departure: ``size_interval[0]`` to ``to_size``; a peak: the end of its region to the largest size),
  each the attribution's fields (``id``, ``label``, ``per_kib_from``/``per_kib_to``, ``fold_change``,
  ``direction``, ``share``, ``p_adjusted``...); ``counters_tried`` (int), ``not_named`` ([{``id``,
  ``reason``}]), ``context`` (time counters: [{``id``, ``label``, ``fold_change``}]).
- ``reliability``: ``"reliable"`` | ``"unreliable"``; ``reliability_reasons``: why.
- ``sentence`` (one plain sentence), ``why`` (its cause or ""), ``details`` (the numbers).
"""
from __future__ import annotations

import math

from ..schema import FLAT_TOLERANCE, MIB, jsonable
from . import why
from .attribution import SAMPLED
from .display import MISSING, interval, level_text, number, percent
from .model import INFLEXION_KINDS as MODEL_KINDS
from .model import MIN_FIT
from .runs import size_step_label

#: the kinds that are claimed inflexion points of a bandwidth curve: located departures from the model
#: (``model.INFLEXION_KINDS``) and the peak
INFLEXION_KINDS = MODEL_KINDS + ("peak",)
KINDS = INFLEXION_KINDS + ("departure", "flat", "crossover")
MAX_NAMED = 3


# ----------------------------------------------------------------------------------------------
# Measurements

def _measurement(cells, size, unit="bytes/s") -> dict | None:
    """The point at ``size``: its level (``value``), 95 % interval (``ci``), runs (``n``) and processes."""
    rows = cells[cells["buffer_size"] == size]
    if rows.empty:
        return None
    r = rows.iloc[0]
    out = {"size": int(size), "value": jsonable(float(r["median"])),
           "ci": [jsonable(float(r["ci_low"])), jsonable(float(r["ci_high"]))], "unit": unit}
    if "n" in r:
        out["n"] = int(r["n"])
    if "n_processes" in r and r["n_processes"] == r["n_processes"]:
        out["n_processes"] = int(r["n_processes"])
    return out


def _mib(meas: dict | None, with_ci: bool = True) -> str:
    """'542 MiB/s (95 % interval 540–545)' from a bytes/s measurement."""
    if meas is None or meas["value"] is None:
        return MISSING
    v, (lo, hi) = meas["value"] / MIB, meas["ci"]
    text = f"{number(v)} MiB/s"
    if with_ci and lo is not None and hi is not None:
        text += f" (95 % interval {interval(lo / MIB, hi / MIB, show=number)})"
    return text


def _neighbours(cells, size) -> list[int]:
    sizes = [int(s) for s in cells["buffer_size"]]
    if size not in sizes:
        return [size]
    i = sizes.index(size)
    return sizes[max(0, i - 1): i + 2]


def _reliability(reasons: list[str]) -> dict:
    """{"reliability", "reliability_reasons"} from a list of reasons (empty: reliable)."""
    return {"reliability": "unreliable" if reasons else "reliable", "reliability_reasons": list(reasons)}


def _caveat(f: dict) -> str:
    """' Unreliable: pipe 64 KiB: interval ±14 % (reliable: within ±10 %).' for the folded numbers of an
    unreliable finding (its first sentence carries no reason list); "" when reliable."""
    if f.get("reliability", "reliable") == "reliable":
        return ""
    reasons = f.get("reliability_reasons") or []
    shown = "; ".join(reasons[:3]) + (f"; and {len(reasons) - 3} more" if len(reasons) > 3 else "")
    return f" Unreliable: {shown}." if shown else " Unreliable."


# ----------------------------------------------------------------------------------------------
# Counters of a finding

def _counter_json(a, labels: dict) -> dict:
    """A named counter as the finding's JSON carries it (the attribution's fields, its readable label)."""
    d = a.to_dict()
    d.pop("named", None)
    d.pop("reason", None)
    cid = d.get("id") or getattr(a, "counter", None)
    d["id"] = cid
    d["label"] = labels.get(cid) or d.get("label") or cid
    return d


def _details(f: dict, labels: dict) -> str:
    """The numbers of a finding, folded below its first sentence: measured levels with their 95 %
    intervals, for a departure the model's value and the gap with its interval, its counters, and why
    it is unreliable when it is. Every number is a measurement unless it says "model"."""
    meas, to = f.get("measured"), f.get("measured_to")
    start, end = f.get("size", f.get("from_size")), f.get("to_size")
    kind, parts = f.get("kind"), []
    if kind == "crossover":
        a, b = (f.get("ipcs") or ["?", "?"])[:2]
        parts.append(f"at {size_step_label(start)} {a} {_mib(meas)} vs {b} {_mib(f.get('measured_other'))}")
    elif kind == "flat" and end is not None:
        parts.append(f"level over {size_step_label(start)} to {size_step_label(end)}: {_mib(meas)}")
    elif kind == "peak":
        parts.append(f"{_mib(meas)} at {size_step_label(f['size'])}")
        if f.get("below"):
            lo, hi = f["below"][:2]
            parts.append(f"clearly lower at {size_step_label(lo)} and at {size_step_label(hi)}")
    elif meas is not None and to is not None and end is not None and end != start:
        parts.append(f"{_mib(meas)} at {size_step_label(start)} -> {_mib(to)} at {size_step_label(end)}")
    elif meas is not None:
        parts.append(f"{_mib(meas)} at {size_step_label(start)}")
    if f.get("direction") in ("below", "above"):
        parts.append(_departure_numbers(f))
    counters = _counter_text(f, labels)
    if counters:
        parts.append(counters)
    return "; ".join(p for p in parts if p) + "." + _caveat(f)


def _departure_numbers(f: dict) -> str:
    """'28 % below the model at 1 MiB (99.4 % interval 20 % to 35 %; model 7,000 MiB/s); last on the
    model at 64 KiB, first clearly off at 128 KiB'."""
    by, (lo, hi) = f.get("by"), (f.get("by_interval") or [None, None])[:2]
    at = f.get("at_size")
    if by is None or at is None:
        return ""
    text = f"{percent(abs(by))} {f['direction']} the model at {size_step_label(at)}"
    if lo is not None and hi is not None:
        level = f.get("level")
        said = f"{level_text(level)} interval" if level else "interval"
        near, far = sorted((abs(lo), abs(hi))) if lo * hi > 0 else (lo, hi)
        text += (f" ({said} {percent(near)} to {percent(far)} {f['direction']}" if lo * hi > 0
                 else f" ({said} {percent(lo, signed=True)} to {percent(hi, signed=True)}")
        model = ((f.get("model") or {}).get("at") or {}).get(str(at))
        text += (f"; model {number(model / MIB)} MiB/s)" if model else ")")
    first = f.get("size_interval") or []
    if len(first) == 2:
        text += f"; last on the model at {size_step_label(first[0])}, first clearly off at {size_step_label(first[1])}"
    return text


def _counter_text(f: dict, labels: dict) -> str:
    """A finding's counter fields (``_with_counters``) in words, for its folded numbers."""
    parts = []
    for c in (f.get("counters") or [])[:MAX_NAMED]:
        label = c.get("label") or labels.get(c.get("id"), c.get("id"))
        fr, to = (c.get("per_kib_from") or [None])[0], (c.get("per_kib_to") or [None])[0]
        text = f"{label} per KiB"
        if fr is not None and to is not None:
            text += f" {number(fr)} -> {number(to)}" + (" ns" if c.get("cost_source") == SAMPLED else "")
        if c.get("fold_change"):
            text += f" (×{number(c['fold_change'])})"
        if c.get("share") is not None and math.isfinite(c["share"]):
            text += f", can account for {percent(c['share'])} of the time change"
        parts.append(text)
    if parts:
        text = "counters named: " + "; ".join(parts)
    elif f.get("counters_tried"):
        text = f"no measured counter can account for it ({f['counters_tried']} tried)"
    else:
        text = ""
    timed = [c for c in f.get("context") or [] if c.get("fold_change")]
    if timed:
        text += ("; " if text else "") + "time per KiB (a measure of time, not a cause): " + ", ".join(
            f"{c.get('label') or c.get('id')} ×{number(c['fold_change'])}" for c in timed[:2])
    return text


def _with_counters(f: dict, atts: list, context: list, labels: dict) -> None:
    """The finding's counter fields: ``counters`` (named), ``counters_tried``, ``not_named`` ([{id,
    reason}]) and ``context`` (time counters: [{id, label, fold_change}])."""
    def cid(a):
        return getattr(a, "id", None) or getattr(a, "counter", "")
    timed = [a for a in atts if getattr(a, "is_time", False)]
    atts = [a for a in atts if not getattr(a, "is_time", False)]
    f["counters"] = [_counter_json(a, labels) for a in atts if a.named]
    f["counters_tried"] = len(atts)
    f["not_named"] = [{"id": cid(a), "reason": a.reason} for a in atts if not a.named]
    f["context"] = [{"id": cid(a), "label": labels.get(cid(a), cid(a)),
                     "fold_change": jsonable(a.fold_change)} for a in list(context) + timed]


# ----------------------------------------------------------------------------------------------
# Findings of one mode

def _model_json(m, *sizes) -> dict | None:
    """The model's bandwidth (bytes/s) at ``sizes`` and its parameters: never quoted as a measurement."""
    model = m.model
    if model is None:
        return None
    at = {int(s): jsonable(float(v)) for s, v in zip(sizes, model.predict(list(sizes)))} if sizes else {}
    return {"at": {str(k): v for k, v in at.items()}, **jsonable({"t0_ns": model.t0_ns, "r_inf": model.r_inf,
                                                                  "n_half": model.n_half, "h": model.h}),
            "per_call": model.per_call}


def _kind(d) -> str:
    """A departure's finding kind: its own (``level-off``, ``fall``, ``rise`` when located; ``departure``)."""
    return d.kind


def _base(m) -> dict:
    return {"ipc": m.ipc, "of": "bandwidth", "variant": m.bandwidth_source}


def _departure_finding(m, d, labels: dict) -> dict:
    cells, (start, first) = m.cells, d.size_interval
    f = dict(_base(m), kind=_kind(d), from_size=int(d.from_size), to_size=int(d.to_size),
             size_interval=[int(start), int(first)], located=bool(d.located), direction=d.direction,
             by=jsonable(d.by), by_interval=jsonable(d.by_interval), at_size=int(d.at_size),
             departing=[int(s) for s in d.sizes], level=jsonable(m.model.level),
             measured=_measurement(cells, d.from_size), measured_to=_measurement(cells, d.to_size),
             measured_at=_measurement(cells, d.at_size), model=_model_json(m, d.from_size, d.to_size, d.at_size))
    _with_counters(f, m.attributions(start, d.to_size), [], labels)
    return f


def _peak_finding(m, labels: dict) -> dict:
    t, cells = m.top, m.cells
    f = dict(_base(m), kind="peak", size=int(t.size), flat=bool(t.flat),
             size_interval=[int(t.from_size), int(t.to_size)], measured=_measurement(cells, t.size),
             below=[int(v) for v in t.below])
    if t.flat:
        f.update(from_size=int(t.from_size), to_size=int(t.to_size), measured_from=_measurement(cells, t.from_size),
                 measured_to=_measurement(cells, t.to_size))
    _with_counters(f, m.attributions(t.to_size, int(cells["buffer_size"].iloc[-1])), [], labels)
    return f


def mode_findings(m, labels: dict | None = None, flat_tolerance: float = FLAT_TOLERANCE) -> list[dict]:
    """The findings of one IPC mode (see the module docstring): departures from the model (located
    inflexion points and gradual departures), the peak (one size or a flat region), flat ranges; their
    words and reliability come from ``describe``."""
    labels = labels or {}
    out = [_departure_finding(m, d, labels) for d in (m.model.departures if m.model else [])]
    if m.top is not None:
        out.append(_peak_finding(m, labels))
    return out + flat_ranges(m, flat_tolerance)


def flat_ranges(m, tolerance: float = FLAT_TOLERANCE) -> list[dict]:
    """The mode's flat ranges (``model.flat_ranges``: >= 3 consecutive sizes within +-``tolerance`` of
    their median level, none clearly different from another) that are not its peak region."""
    cells, out = m.cells, []
    for r in m.flat:
        if m.top is not None and m.top.flat and r["from_size"] <= m.top.to_size and r["to_size"] >= m.top.from_size:
            continue
        rows = cells[(cells["buffer_size"] >= r["from_size"]) & (cells["buffer_size"] <= r["to_size"])]
        meas = {"size": int(r["from_size"]), "value": jsonable(r["value"]), "ci": jsonable(r["ci"]),
                "n": int(rows["n"].sum()), "unit": "bytes/s"}
        f = dict(_base(m), kind="flat", from_size=int(r["from_size"]), to_size=int(r["to_size"]),
                 size_interval=[int(r["from_size"]), int(r["from_size"])], measured=meas,
                 measured_to=_measurement(cells, r["to_size"]), tolerance=tolerance,
                 counters=[], counters_tried=0, not_named=[], context=[])
        out.append(f)
    return out


# ----------------------------------------------------------------------------------------------
# Across modes

def crossovers(expl, min_below: int = 2) -> list[dict]:
    """Where one IPC mode falls below another and stays below to the largest common size, judged on
    intervals (its interval's top under the other's bottom at every size from there, for >= ``min_below``
    sizes), after being at or above it (by level) at some smaller size."""
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
            f = {"ipcs": [a.ipc, b.ipc], "of": "bandwidth", "variant": a.bandwidth_source, "kind": "crossover",
                 "from_size": int(s0), "to_size": int(common[-1]), "size_interval": [int(prev), int(s0)],
                 "measured": _measurement(a.cells, s0), "measured_other": _measurement(b.cells, s0),
                 "measured_to": _measurement(a.cells, common[-1]),
                 "counters": [], "counters_tried": 0, "not_named": [], "context": []}
            out.append(f)
    return out


def findings(expl) -> list[dict]:
    """Every finding (the ``findings`` list of the JSON contract), per mode then across modes."""
    s = expl.settings or {}
    out = []
    for m in expl.modes.values():
        out += mode_findings(m, expl.labels, s.get("flat_tolerance", FLAT_TOLERANCE))
    # first sentences, causes, folded numbers and reliability, in one last step
    return describe(out + crossovers(expl), expl.modes, expl.labels)


# ----------------------------------------------------------------------------------------------
# Sentences and the document

def _mode_points(m):
    """A mode's points as ``why.reliability`` reads them (buffer_size, n_processes, centre, ci_low,
    ci_high), or None when its cells carry no process counts."""
    cells = m.cells
    if cells is None or cells.empty or "n_processes" not in cells.columns:
        return None
    centre = cells["centre"] if "centre" in cells.columns else cells["median"]
    return cells[["buffer_size", "n_processes", "ci_low", "ci_high"]].assign(centre=centre)


def _rests_on(f: dict, sizes: list[int]) -> list[int]:
    """The sizes whose points a finding rests on: a departure's last size on the model, first size off
    it, largest departure and end; a peak's region with the lower sizes either side; every size of a
    flat range; a crossover's two sizes; any other finding's size and its neighbours."""
    def between(lo, hi):
        return [s for s in sizes if lo <= s <= hi]
    if f.get("direction") in ("below", "above"):
        return sorted({*(f.get("size_interval") or []), f.get("at_size"), f.get("to_size")} - {None})
    if f.get("kind") == "peak" and f.get("below"):
        return between(*f["below"][:2])
    if f.get("kind") == "flat":
        return between(f["from_size"], f["to_size"])
    if f.get("kind") == "crossover" and f.get("size_interval"):
        return list(f["size_interval"][:2])
    if "from_size" in f:
        return [s for s in (f["from_size"], f.get("to_size")) if s is not None]
    size = f.get("size")
    if size not in sizes:
        return [size] if size is not None else []
    i = sizes.index(size)
    return sizes[max(0, i - 1): i + 2]


def describe(found: list[dict], modes: dict, labels: dict | None = None) -> list[dict]:
    """Issue 15's words, the last step of ``findings``: each finding's first ``sentence`` (its cause
    when the evidence supports one, ``why.headline``), ``why`` (the cause alone, "" when none),
    ``details`` (the numbers, folded below it) and its reliability, from the intervals of the points
    it rests on (``why.reliability``; unreliable where they have none). ``modes``: {ipc: mode explanation}."""
    labels = labels or {}
    evidence, points = {}, {}
    for ipc, m in modes.items():
        ev = getattr(m, "evidence", None)
        if ev is None and getattr(m, "model", None) is not None:
            ev = why.Evidence(ipc=ipc, model=m.model, departures=tuple(getattr(m, "departures", None) or ()))
        evidence[ipc], points[ipc] = ev, _mode_points(m)
    for f in found:
        ipcs = f.get("ipcs") or [f.get("ipc")]
        f["sentence"], f["why"] = why.headline(f, evidence.get(ipcs[0]))
        reasons = []
        for ipc in ipcs:
            table = points.get(ipc)
            if table is None:
                reasons.append(f"{ipc}: its points carry no intervals")
                continue
            sizes = [int(s) for s in table["buffer_size"]]
            reasons += why.reliability(table, _rests_on(f, sizes), ipc)["reliability_reasons"]
        f.update(_reliability(reasons))
        f["details"] = _details(f, labels)
    return found


def mode_intro(m) -> list[str]:
    """A mode's own sentences, shown before its findings: what its size grid cannot show, or nothing; then its
    per-call model in one sentence where it is established (``why.model_sentence``)."""
    model = why.model_sentence(m.ipc, m.model, list(m.cells["buffer_size"])) if m.model is not None else ""
    return _grid_limits(m) + ([model] if model else [])


def _grid_limits(m) -> list[str]:
    """What a mode's size grid cannot show (one plain sentence), or nothing."""
    sizes = [int(v) for v in m.cells["buffer_size"]]
    if not sizes:
        return []
    span = f"{size_step_label(sizes[0])} to {size_step_label(sizes[-1])}"
    if len(sizes) == 1:
        return [f"{m.ipc}: one buffer size ({size_step_label(sizes[0])}) cannot show an inflexion point; "
                f"bandwidth {_mib(_measurement(m.cells, sizes[0]))}."]
    if m.model is None or len(sizes) <= MIN_FIT:
        return [f"{m.ipc}: {len(sizes)} buffer sizes ({span}) are too few to show where the curve leaves the "
                f"per-call model (at least {MIN_FIT + 1} are needed); only a peak is looked for."]
    if m.model.note:
        return [f"{m.ipc}: {m.model.note}."]
    if not m.model.departures:
        return [f"{m.ipc}: no inflexion point from {span}: the curve stays within the model's intervals."]
    return []


def mode_sentences(m, labels: dict | None = None, settings: dict | None = None) -> list[str]:
    """Sentences about one IPC mode: what its grid cannot show, then each finding's first sentence."""
    s = settings or {}
    found = mode_findings(m, labels, s.get("flat_tolerance", FLAT_TOLERANCE))
    return mode_intro(m) + [f["sentence"] for f in describe(found, {m.ipc: m}, labels)]


__all__ = ["findings", "mode_sentences", "mode_findings", "mode_intro", "describe", "crossovers", "flat_ranges",
           "KINDS", "INFLEXION_KINDS"]
