"""Findings, from the numbers only: short sentences for the report and a JSON-able dict for
``pmcsuite explain --json``.

Example sentence: ``pipe: bandwidth peaks at 64 KiB (540 MiB/s); beyond it AXI bus reads per KiB
rise 9.6x by 256 KiB.`` Counters are named by their readable labels (``Explanation.labels``, from
the catalogue; see ``labels.py``), treated as plural nouns when they end in "s" ("read() calls ...
rise") and singular otherwise ("CPU time ... rises").
"""
from __future__ import annotations

import math

from .breakpoints import _jsonable, size_step_label
from .explain import ALIGN_NOTE, Attribution, Explanation, ModeExplanation, explain
from .overhead import describe_mode

FORMAT = "pmcsuite-findings"


def _num(v: float) -> str:
    """Compact number: 540, 12.5, 0.031."""
    if not math.isfinite(v):
        return "n/a"
    a = abs(v)
    return f"{v:.0f}" if a >= 100 else f"{v:.1f}" if a >= 10 else f"{v:.2g}" if a >= 0.01 else f"{v:.2e}"


def _verb(label: str, verb: str) -> str:
    """'rise' -> 'rises' for a singular label ("CPU time"), unchanged for a plural one ("read() calls")."""
    plural = label.endswith("s") and not label.endswith("ss")
    return verb if plural else (verb[:-1] + "ies" if verb.endswith("y") else verb + "s")


def _fold_text(a: Attribution, label: str) -> str:
    what = f"{label} per KiB"
    to = size_step_label(a.to_size)
    cb = a.breakpoint
    if cb.kind == "plateau" and cb.slope_before != 0:   # the counter's own trend stops there
        stops = f"{what} {_verb(label, 'stop')} {'falling' if cb.slope_before < 0 else 'rising'}"
        if math.isfinite(a.fold_change) and a.fold_change > 0:
            return f"{stops} (level: {a.fold_change:.2f}x from there to {to})"
        return stops
    if math.isfinite(a.fold_change) and a.fold_change > 0:
        if 0.9 <= a.fold_change <= 1.1:
            return f"{what} {_verb(label, 'stay')} level ({a.fold_change:.2f}x) to {to}"
        if a.fold_change >= 1:
            return f"{what} {_verb(label, 'rise')} {a.fold_change:.1f}x by {to}"
        return f"{what} {_verb(label, 'fall')} {1 / a.fold_change:.1f}x by {to}"
    unit = "log2-fold" if a.scale == "log" else "per KiB"
    moves = "rises" if a.slope_change == "up" else "falls"
    return f"the slope of {what} {moves} by {abs(a.delta_slope):.2g} {unit} per doubling"


def _names(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def _distinct(atts: list[Attribution], same_as: dict) -> list[Attribution]:
    """Attributions without the counters that duplicate another one listed (``Regression.same_as``)."""
    names = {a.counter for a in atts}
    return [a for a in atts if same_as.get(a.counter) not in names]


def _bp_text(ipc: str, bp, unit: str) -> str:
    size, value = size_step_label(bp.size), f"{_num(bp.value)} {unit}"
    if bp.kind == "peak":
        return f"{ipc}: bandwidth peaks at {size} ({value})"
    if bp.kind == "trough":
        return f"{ipc}: bandwidth bottoms out at {size} ({value})"
    if bp.kind == "plateau":
        return f"{ipc}: bandwidth levels off from {size} ({value})"
    return (f"{ipc}: bandwidth changes slope at {size} ({value}; {_num(bp.slope_before)} -> "
            f"{_num(bp.slope_after)} {unit} per doubling)")


def mode_sentences(m: ModeExplanation, labels: dict | None = None, max_counters: int = 2) -> list[str]:
    """Sentences about one IPC mode: its breakpoints and the counters that explain them."""
    labels = labels or {}
    out = []
    bw = m.bandwidth
    span = f"{size_step_label(bw.sizes[0])} to {size_step_label(bw.sizes[-1])}"
    if len(bw.sizes) == 1:
        out.append(f"{m.ipc}: one buffer size ({size_step_label(bw.sizes[0])}) cannot show an inflexion point "
                   f"(at least 5 are needed); bandwidth {_num(bw.medians[0])} {bw.unit}.")
    elif not bw.can_break:
        out.append(f"{m.ipc}: {len(bw.sizes)} buffer sizes ({span}) are too few to locate an inflexion point "
                   f"(at least 5 are needed); bandwidth ranges {_num(min(bw.medians))}-{_num(max(bw.medians))} "
                   f"{bw.unit}.")
    elif not bw.breakpoints:
        out.append(f"{m.ipc}: no inflexion point from {span}; overall slope {_num(bw.slope)} {bw.unit} per "
                   f"doubling (R^2 = {bw.r_squared:.2f}).")
    for bp, atts in zip(bw.breakpoints, m.explained_by):
        text = _bp_text(m.ipc, bp, bw.unit)
        atts = _distinct(atts, m.regression.same_as)
        consistent = [a for a in atts if a.consistent][:max_counters]
        if consistent:
            text += "; beyond it " + " and ".join(_fold_text(a, labels.get(a.counter, a.counter)) for a in consistent)
        elif atts:
            names = [labels.get(a.counter, a.counter) for a in atts[:max_counters]]
            one = len(names) == 1
            text += (f"; {_names(names)} per KiB also {'changes' if one else 'change'} slope there, but in the same "
                     f"direction as bandwidth, so {'it does' if one else 'they do'} not explain it as a cost")
        elif m.counters:
            text += "; no measured counter changes slope there"
        out.append(text + ".")
    reg = m.regression
    if not reg.note and math.isfinite(reg.r_squared):
        best = max(reg.partial_r2, key=lambda c: reg.partial_r2[c]) if reg.partial_r2 else None
        k = len(reg.counters)
        text = (f"{m.ipc}: {k} counter{'s' if k > 1 else ''} per KiB fit loop time per KiB across {reg.n} sizes "
                f"with R^2 = {reg.r_squared:.3f} (adjusted {reg.r_squared_adj:.3f})")
        if best is not None and k > 1:
            text += f"; largest partial R^2: {labels.get(best, best)} ({reg.partial_r2[best]:.2f})"
        if reg.warning:
            text += "; some of them are collinear, so the individual attributions are uncertain"
        if reg.dropped:
            aside = len(reg.dropped)
            text += f"; {aside} counter{'s' if aside > 1 else ''} set aside (constant, duplicate or redundant)"
        out.append(text + ".")
    return out


def sentences(expl: Explanation) -> list[str]:
    """All findings as sentences: per IPC mode, then the overhead of every pass."""
    out = []
    for m in expl.modes.values():
        out += mode_sentences(m, expl.labels)
    if expl.overhead is not None:
        out += [describe_mode(r, expl.overhead.min_runs) for r in expl.overhead.modes.to_dict("records")]
    return out


def _attribution_json(a: Attribution) -> dict:
    cb = a.breakpoint
    return {"counter": a.counter, "slope_change": a.slope_change, "consistent": a.consistent,
            "delta_slope": _jsonable(a.delta_slope), "fold_change": _jsonable(a.fold_change),
            "to_size": int(a.to_size), "scale": a.scale, "variants": list(a.variants),
            "counter_breakpoint": {"size": cb.size, "ci": [cb.ci_low, cb.ci_high], "kind": cb.kind,
                                   "slope_before": _jsonable(cb.slope_before),
                                   "slope_after": _jsonable(cb.slope_after)}}


def _overhead_json(expl: Explanation) -> dict:
    if expl.overhead is None:
        return {}
    out: dict = {}
    cells = expl.overhead.cells
    for r in expl.overhead.modes.to_dict("records"):
        sel = cells[(cells["ipc"] == r["ipc"]) & (cells["variant"] == r["variant"])]
        out.setdefault(r["ipc"], {})[r["variant"]] = {
            "median_ratio": _jsonable(r["median_ratio"]), "min_ratio": _jsonable(r["min_ratio"]),
            "max_ratio": _jsonable(r["max_ratio"]), "breakpoints_moved": _jsonable(r["breakpoints_moved"]),
            "moved_verdict": r.get("moved_verdict"), "moved_note": r.get("moved_note"),
            "baseline_breakpoints": list(r["baseline_breakpoints"]),
            "variant_breakpoints": list(r["variant_breakpoints"]),
            "sizes": [{"size": int(c["buffer_size"]), "ratio": _jsonable(c["ratio"]),
                       "ci": [_jsonable(c["ci_low"]), _jsonable(c["ci_high"])], "p_value": _jsonable(c["p_value"]),
                       "verdict": c["verdict"], "n_base": int(c["n_base"]), "n_inst": int(c["n_inst"])}
                      for c in sel.to_dict("records")]}
    return out


def findings_dict(data, **explain_kwargs) -> dict:
    """The ``explain --json`` document, from a result table (runs ``explain``) or an ``Explanation``.

    Per IPC mode: the bandwidth breakpoints (size, interval, slopes, kind) with the counters that explain
    each; the regression and correlations; per pass, the overhead. Sizes in bytes, slopes per doubling.
    """
    expl = data if isinstance(data, Explanation) else explain(data, **explain_kwargs)
    modes = {}
    for ipc, m in expl.modes.items():
        bw = m.bandwidth
        modes[ipc] = {
            "bandwidth_source": m.bandwidth_source, "unit": bw.unit,
            "sizes": bw.sizes, "bandwidth_medians": [_jsonable(v) for v in bw.medians],
            "slope_without_breakpoints": _jsonable(bw.slope) if not bw.breakpoints else None,
            "breakpoints": [{"size": bp.size, "ci": [bp.ci_low, bp.ci_high],
                             "slope_before": _jsonable(bp.slope_before), "slope_after": _jsonable(bp.slope_after),
                             "kind": bp.kind, "bandwidth": _jsonable(bp.value), "support": _jsonable(bp.support),
                             "explained_by": [_attribution_json(a) for a in atts]}
                            for bp, atts in zip(bw.breakpoints, m.explained_by)],
            "counter_breakpoints": {c: [{"size": b.size, "ci": [b.ci_low, b.ci_high], "kind": b.kind,
                                         "delta_slope": _jsonable(b.delta_slope)} for b in f.breakpoints]
                                    for c, f in m.counters.items()},
            "regression": m.regression.to_dict(),
            "correlations": {r["counter"]: {"rho": _jsonable(r["rho"]), "p_value": _jsonable(r["p_value"])}
                             for r in m.correlations.to_dict("records")},
            "constant": {c: _jsonable(v) for c, v in m.constant.items()},
            "unmeasured": dict(m.unmeasured),
            "notes": list(m.notes),
        }
    return {"format": FORMAT, "format_version": 1, "notes": list(expl.notes) or [ALIGN_NOTE],
            "modes": modes, "overhead": _overhead_json(expl), "labels": dict(expl.labels),
            "sentences": sentences(expl)}


def findings_text(data, **explain_kwargs) -> str:
    """Plain-text findings for ``pmcsuite explain`` (without --json): sentences, then the notes."""
    expl = data if isinstance(data, Explanation) else explain(data, **explain_kwargs)
    lines = [f"- {s}" for s in sentences(expl)]
    return "\n".join(lines + [""] + list(expl.notes))


__all__ = ["findings_dict", "findings_text", "sentences", "mode_sentences", "FORMAT"]
