"""What the bandwidth curve of each IPC mode does, measured, and which counters change with it.

Steps (all pure functions of the result table):

1. **Points.** Per IPC mode and size, the bandwidth of the baseline's measured runs (all runs pooled
   when there is no baseline): ``inference.point_table`` (per benchmark process the median of its
   runs, per point the trimmed mean over processes, its 95 % interval), with the number of runs, their
   coefficient of variation (``cv``) and how many shared the CPU (``n_shared``). ``cells`` holds them;
   ``median`` is the point's level (``centre``), the single per-point statistic every figure and
   finding shows.
2. **The per-call model** (``model.py``): bandwidth(n) = n / (t0 + n / r_inf) fitted on the longest
   prefix of sizes it explains, and the *departures* of the measured curve from it (regions, a located
   inflexion point only where the departure starts abruptly). The *top* of the curve (``model.top``: a
   peak at one size, or a flat peak region) and flat ranges come from the measured levels alone.
3. **Counters.** Per counter the per-KiB value per size (``counter_cells``: point levels where every
   value is positive, medians otherwise) for the figures and context correlations; a category of the
   kernel profile as its sampled time per KiB, ns (``attribution.sampled_ns_per_kib``). Which counters can
   account for a finding is ``attribution.attribute_changes``, called once per result set with a
   ``Change`` per finding range (each departure: last size on the model to the region's end; a peak:
   the end of its region to the largest size); ``tried`` holds the answer per range.
4. **Context.** Spearman correlations of bandwidth with each counter per KiB across sizes (not an
   explanation).

Counters from different passes come from different runs: they are aligned with each other and with
the bandwidth by IPC mode and buffer size (``ALIGN_NOTE``).

What ``pmcsuite explain`` prints is made here too, from the explanation and its findings
(``findings.py``, which reads an ``Explanation`` without importing this module): ``findings_dict``
(the ``--json`` document), ``findings_text`` and ``sentences``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from ..schema import ALPHA, BASELINE, FLAT_TOLERANCE, MIB, jsonable  # ALPHA: of one curve's departures
from ..sizes import format_size
from . import attribution, why
from . import inference as inf
from .attribution import SAME_AS_R, Attribution, Change, counter_per_kib, per_call, per_kib  # noqa: F401  (re-exported)
from .display import Displayable, Text, number, size_axis
from .findings import findings, mode_intro
from .labels import counter_labels, profile_counters, time_counters
from .model import PerCallModel, Top, fit_model, flat_ranges, point_levels, top
from .overhead import OverheadResult, describe_mode, overhead
from .runs import counter_columns, measured_runs

ALIGN_NOTE = ("Counters from different passes were measured in different runs: they are aligned with each "
              "other and with the bandwidth by IPC mode and buffer size (per-size levels); only counters "
              "counted over the measured loop itself are paired with its bandwidth run by run.")
FORMAT = "pmcsuite-findings"
FORMAT_VERSION = 3


# ----------------------------------------------------------------------------------------------
# Results

@dataclass
class ModeExplanation:
    """Everything about one IPC mode."""
    ipc: str
    bandwidth_source: str                               # "baseline" or "all runs pooled"
    cells: pd.DataFrame = field(default_factory=pd.DataFrame)   # per size (module docstring, step 1), bytes/s
    model: PerCallModel | None = None                   # the per-call model and its departures
    top: Top | None = None                              # the peak (one size or a flat region), if any
    flat: list = field(default_factory=list)            # flat ranges: dicts from model.flat_ranges
    changes: list = field(default_factory=list)         # the (from_size, to_size) ranges attributed
    tried: list = field(default_factory=list)           # per change: list[Attribution] (named and not)
    counter_cells: dict = field(default_factory=dict)   # counter -> DataFrame(buffer_size, median, ci_low, ci_high)
    counter_variants: dict = field(default_factory=dict)
    time_counters: list = field(default_factory=list)
    correlations: pd.DataFrame = field(default_factory=pd.DataFrame)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)  # per-size levels, aligned
    notes: list = field(default_factory=list)
    constant: dict = field(default_factory=dict)
    unmeasured: dict = field(default_factory=dict)
    same_as: dict = field(default_factory=dict)         # counter -> the counter it duplicates

    @property
    def departures(self) -> list[dict]:
        """The model's departures as dicts (from_size, to_size, by, direction, located, kind, ...)."""
        return [d.to_dict() for d in self.model.departures] if self.model is not None else []

    def attributions(self, from_size: int, to_size: int) -> list:
        """The counters tried for the range from_size -> to_size ([] when it was not attributed)."""
        for change, atts in zip(self.changes, self.tried):
            if tuple(change) == (int(from_size), int(to_size)):
                return atts
        return []

    def summary(self) -> str:
        parts = [f"=== {self.ipc} (bandwidth from {self.bandwidth_source}) ==="]
        if self.model is not None:
            parts.append(self.model.summary())
        if self.top is not None:
            t = self.top
            parts.append(f"peak{' region' if t.flat else ''} {format_size(t.from_size)}"
                         + (f"-{format_size(t.to_size)}" if t.flat else "") + f": {number(t.value / MIB)} MiB/s")
        for (a, b), atts in zip(self.changes, self.tried):
            named = [x.label for x in atts if x.named]
            parts.append(f"{format_size(a)} -> {format_size(b)}: {len(atts)} counter(s) tried, named: "
                         + (", ".join(named) or "none"))
        if not self.correlations.empty:
            parts += ["Spearman correlation of bandwidth with counters per KiB across sizes (context):",
                      self.correlations.to_string(index=False, float_format=number)]
        return "\n".join(parts + self.notes)

    def to_dict(self) -> dict:
        t = self.top
        return jsonable({
            "ipc": self.ipc, "bandwidth_source": self.bandwidth_source, "cells": self.cells.to_dict("records"),
            "model": self.model.to_dict() if self.model is not None else None, "departures": self.departures,
            "top": None if t is None else {"size": t.size, "from_size": t.from_size, "to_size": t.to_size,
                                            "flat": t.flat, "value": t.value, "ci": t.ci},
            "flat": self.flat,
            "changes": [{"from_size": a, "to_size": b, "tried": [x.to_dict() for x in atts]}
                        for (a, b), atts in zip(self.changes, self.tried)],
            "counter_variants": self.counter_variants, "time_counters": self.time_counters,
            "correlations": self.correlations.to_dict("records"), "constant": self.constant,
            "unmeasured": self.unmeasured, "same_as": self.same_as, "notes": self.notes})


@dataclass(repr=False)
class Explanation(Displayable):
    """Per IPC mode explanations, plus the overhead of every pass. In a notebook: ``.to_frame()``
    (one row per finding), ``.summary()`` (text), ``.plot()`` (a Figure of every mode's bandwidth)."""
    modes: dict                                   # ipc -> ModeExplanation
    overhead: OverheadResult | None = None
    notes: list = field(default_factory=lambda: [ALIGN_NOTE])
    labels: dict = field(default_factory=dict)    # counter id -> human label
    settings: dict = field(default_factory=dict)  # thresholds used (flat_tolerance, alpha, ...)

    def summary(self) -> str:
        parts = [m.summary() for m in self.modes.values()]
        if self.overhead is not None:
            parts.append(self.overhead.summary())
        return Text("\n\n".join(parts + self.notes))

    def to_frame(self) -> pd.DataFrame:
        """One row per finding (kind, ipc, sizes, measured value and interval, counters named,
        reliability, sentence): the ``explain --json`` findings as a table."""
        rows = []
        for f in findings(self):
            measured = f.get("measured") or {}
            rows.append({"kind": f["kind"], "ipc": f.get("ipc") or "/".join(f.get("ipcs", [])),
                         "size": f.get("size", f.get("from_size")), "to_size": f.get("to_size"),
                         "measured": measured.get("value"), "ci_low": (measured.get("ci") or [None, None])[0],
                         "ci_high": (measured.get("ci") or [None, None])[1],
                         "counters": ", ".join(c["id"] for c in f.get("counters", [])),
                         "reliability": f.get("reliability"), "sentence": f.get("sentence")})
        return pd.DataFrame(rows, columns=["kind", "ipc", "size", "to_size", "measured", "ci_low", "ci_high",
                                           "counters", "reliability", "sentence"])

    def plot(self):
        """Every IPC mode's bandwidth level (MiB/s) with its 95 % interval per buffer size, its per-call
        model (dashed) and, dotted, where a located inflexion point leaves the model, as a matplotlib Figure."""
        from matplotlib.figure import Figure
        fig = Figure(figsize=(8, 4.5), layout="constrained")
        ax = fig.add_subplot()
        for ipc, m in sorted(self.modes.items()):
            c = m.cells
            if c.empty:
                continue
            med = c["median"].to_numpy(float) / MIB
            err = np.vstack([med - c["ci_low"].to_numpy(float) / MIB, c["ci_high"].to_numpy(float) / MIB - med])
            bars = ax.errorbar(c["buffer_size"], med, yerr=np.maximum(np.nan_to_num(err), 0), marker="o",
                               markersize=3, capsize=2, label=ipc)
            colour = bars[0].get_color()
            if m.model is not None:
                ax.plot(c["buffer_size"], m.model.predict(c["buffer_size"]) / MIB, "--", color=colour, linewidth=1)
                for d in m.model.located:
                    ax.axvline(d.size_interval[1], color=colour, linestyle=":", linewidth=1)
        size_axis(ax, [s for m in self.modes.values() for s in m.cells.get("buffer_size", [])])
        ax.set_ylabel("bandwidth (MiB/s, level and 95 % interval)")
        if self.modes:
            ax.legend(fontsize=8)
        return fig

    def to_dict(self) -> dict:
        return {"modes": {k: m.to_dict() for k, m in self.modes.items()},
                "overhead": self.overhead.to_dict() if self.overhead is not None else None,
                "notes": list(self.notes), "settings": dict(self.settings)}


# ----------------------------------------------------------------------------------------------
# Cells

def cell_table(sel: pd.DataFrame, value: str = "bandwidth") -> pd.DataFrame:
    """Per size of ``sel``'s measured runs: ``inference.point_table`` (n_processes, centre, ci_low, ci_high,
    between_cv, within_cv) with ``median`` (= centre), ``n`` (runs), ``cv`` and ``n_shared`` (``spread``)."""
    table = inf.point_table(sel, ["buffer_size"], value=value)
    sizes = table["buffer_size"].to_numpy()
    cv, n_shared = spread(sel, sel[value].to_numpy(float), sizes)
    return pd.DataFrame({"buffer_size": sizes.astype(np.int64), "n": table["n_runs"].astype(int),
                         "n_processes": table["n_processes"].astype(int), "centre": table["centre"],
                         "median": table["centre"], "ci_low": table["ci_low"], "ci_high": table["ci_high"],
                         "between_cv": table["between_cv"], "within_cv": table["within_cv"], "cv": cv,
                         "n_shared": n_shared})


def spread(sel: pd.DataFrame, values: np.ndarray, usizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per size in ``usizes``: coefficient of variation (sd / |mean|, ddof 1) of ``values`` and the number
    of runs of ``sel`` that shared the CPU."""
    frame = pd.DataFrame({"s": sel["buffer_size"].to_numpy(), "v": np.asarray(values, dtype=float)})
    frame = frame[np.isfinite(frame["v"])]
    g = frame.groupby("s")["v"]
    mean, sd = g.mean().reindex(usizes).to_numpy(), g.std(ddof=1).reindex(usizes).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        cv = np.where(np.abs(mean) > 0, sd / np.abs(mean), np.nan)
    if "shared_cpu" in sel.columns:
        shared = sel["shared_cpu"].astype("boolean").fillna(False).astype(bool).groupby(sel["buffer_size"]).sum()
        n_shared = shared.reindex(usizes).fillna(0).astype(int).to_numpy()
    else:
        n_shared = np.zeros(len(usizes), dtype=int)
    return cv, n_shared


def counter_cells(sel: pd.DataFrame, values: pd.Series) -> pd.DataFrame:
    """A counter per KiB per size: point levels with their 95 % intervals where every value is positive
    (the inference core works on logarithms), else plain medians without an interval."""
    if bool((values > 0).all()):
        t = inf.point_table(sel.assign(_per_kib=values), ["buffer_size"], value="_per_kib")
        return pd.DataFrame({"buffer_size": t["buffer_size"].astype(np.int64), "median": t["centre"],
                             "ci_low": t["ci_low"], "ci_high": t["ci_high"], "n_processes": t["n_processes"]})
    med = values.groupby(sel["buffer_size"]).median()
    return pd.DataFrame({"buffer_size": med.index.astype(np.int64), "median": med.to_numpy(float),
                         "ci_low": np.nan, "ci_high": np.nan, "n_processes": np.nan})


# ----------------------------------------------------------------------------------------------
# Helpers

def _constant(v: pd.Series) -> bool:
    v = v.dropna().to_numpy(float)
    return len(v) == 0 or float(np.ptp(v)) <= 1e-12 * max(float(np.max(np.abs(v))), 1e-300)


def _same(a: pd.Series, b: pd.Series) -> bool:
    """Same measurement up to scale: |Pearson r| > SAME_AS_R across sizes, on the values and, when both
    are positive, on their logarithms too."""
    pair = pd.concat([a, b], axis=1).dropna()
    if len(pair) < 6:    # with fewer sizes any two monotone curves correlate that well
        return False
    a, b = pair.iloc[:, 0], pair.iloc[:, 1]
    if a.std() == 0 or b.std() == 0 or abs(float(np.corrcoef(a, b)[0, 1])) <= SAME_AS_R:
        return False
    if (a > 0).all() and (b > 0).all():
        return abs(float(np.corrcoef(np.log(a), np.log(b))[0, 1])) > SAME_AS_R
    return True


def duplicates(table: pd.DataFrame, counters: list[str]) -> dict:
    """{counter: earlier counter (catalogue order) it duplicates} among ``counters`` (columns of ``table``)."""
    same_as, distinct = {}, []
    for c in counters:
        twin = next((k for k in distinct if _same(table[c], table[k])), None)
        if twin is not None:
            same_as[c] = twin
        else:
            distinct.append(c)
    return same_as


def correlations(table: pd.DataFrame, counters: list[str]) -> pd.DataFrame:
    """Spearman rho (and p) of bandwidth with each counter per KiB across sizes (context only)."""
    rows = []
    for c in counters:
        pair = table[["bandwidth_mib_s", c]].dropna()
        rho = p = float("nan")
        if len(pair) >= 3 and pair[c].nunique() > 1 and pair["bandwidth_mib_s"].nunique() > 1:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = spearmanr(pair["bandwidth_mib_s"], pair[c])
            rho, p = float(res.statistic), float(res.pvalue)
        rows.append({"counter": c, "rho": rho, "p_value": p, "n_sizes": len(pair)})
    return pd.DataFrame(rows, columns=["counter", "rho", "p_value", "n_sizes"])


def finding_ranges(m: ModeExplanation) -> list[tuple[int, int]]:
    """The size ranges whose change of bandwidth the counters are tried for (module docstring, step 3)."""
    return list(dict.fromkeys((a, b) for a, b, _ in _ranges(m)))


def _ranges(m: ModeExplanation) -> list[tuple[int, int, int]]:
    """(from, to, sign): each finding's range and the sign the loop's time per KiB must change with
    for a counter to explain it (+1: the finding loses bandwidth, -1: it gains)."""
    out = []
    if m.model is not None:
        for d in m.model.departures:
            out.append((int(d.size_interval[0]), int(d.to_size), 1 if d.direction == "below" else -1))
    if m.top is not None and not m.cells.empty:
        out.append((int(m.top.to_size), int(m.cells["buffer_size"].iloc[-1]), 1))
    seen, kept = set(), []
    for a, b, sign in out:
        if a < b and (a, b) not in seen:
            seen.add((a, b))
            kept.append((a, b, sign))
    return kept


AGAINST = "moves with the measured time, which goes the other way than this finding"


def _against_the_finding(tried: list, sign: int) -> list:
    """A counter is named for a finding only when the time it accounts for moves the finding's way: a
    curve that leaves the model below it while its measured time per KiB still falls is not explained
    by a counter that falls with that time."""
    for a in tried:
        if a.named and a.time_change_ns_per_kib * sign < 0:
            a.named, a.reason = False, AGAINST
    return tried


# ----------------------------------------------------------------------------------------------
# Analysis

def explain_mode(runs: pd.DataFrame, ipc: str, counters: list[str], *, alpha: float = ALPHA,
                 flat_tolerance: float = FLAT_TOLERANCE, time_ids=(), sampled_ids=()) -> ModeExplanation:
    """Explanation for one IPC mode from the measured runs (``measured_runs(df)``), without attribution
    (``explain`` attributes every mode's ranges in one call); ``sampled_ids``: the profile's counters."""
    mode = runs[runs["ipc"] == ipc]
    notes = []
    base = mode[mode["variant"] == BASELINE]
    source = BASELINE
    if base.empty:
        base, source = mode, "all runs pooled"
        notes.append(f"{ipc}: no baseline runs; the bandwidth curve pools every pass (instrumented) run.")
    cells = cell_table(base)
    model = fit_model(base, alpha=alpha)
    sizes, levels = point_levels(base)
    table = pd.DataFrame({"buffer_size": cells["buffer_size"], "bandwidth_mib_s": cells["median"] / MIB})
    table = table.set_index("buffer_size")
    ccells, variants, constant, unmeasured = {}, {}, {}, {}
    for c in counters:
        sel = mode[mode[c].notna()]
        values = counter_per_kib(sel, c, c in sampled_ids)
        sel, values = sel[values.notna()], values[values.notna()]
        if sel.empty:
            statuses = mode[f"{c}_status"].dropna() if f"{c}_status" in mode else pd.Series(dtype=object)
            unmeasured[c] = str(statuses.mode().iloc[0]) if len(statuses) else "not measured"
            if unmeasured[c] == "ok":
                unmeasured[c] = "sampling period unknown"      # a profile counter without its period
            continue
        variants[c] = sorted(sel["variant"].unique().tolist())
        table[c] = values.groupby(sel["buffer_size"]).median()
        if c.startswith("syscalls"):
            table[f"{c}_per_write"] = per_call(sel, c).groupby(sel["buffer_size"]).median()
        if _constant(table[c]):
            constant[c] = float(sel[c].astype(float).median())
            continue
        ccells[c] = counter_cells(sel, values)
    if constant:
        notes.append(f"{ipc}: constant across sizes, so left out of the figures and correlations: "
                     + ", ".join(f"{c} ({number(v)} per run)" for c, v in constant.items()) + ".")
    if model is not None and model.note:
        notes.append(f"{ipc}: {model.note}.")
    shown = [c for c in counters if c in ccells]
    m = ModeExplanation(ipc=ipc, bandwidth_source=source, cells=cells, model=model, top=top(sizes, levels, alpha=alpha),
                        flat=flat_ranges(sizes, levels, tolerance=flat_tolerance), counter_cells=ccells,
                        counter_variants=variants, time_counters=[c for c in counters if c in time_ids],
                        correlations=correlations(table.reset_index(), shown), table=table.reset_index(),
                        notes=notes, constant=constant, unmeasured=unmeasured,
                        same_as=duplicates(table, [c for c in shown if c not in time_ids]))
    m.changes = finding_ranges(m)
    return m


def _attribute(runs: pd.DataFrame, modes: dict, counters: list[str], metadata) -> None:
    """``attribution.attribute_changes`` once for the whole result set; fills each mode's ``tried``."""
    changes = [(ipc, a, b) for ipc, m in modes.items() for a, b in m.changes]
    tried = [[] for _ in changes]
    if changes and counters:
        tried = attribution.attribute_changes(runs, [Change(*c) for c in changes], counters, metadata=metadata)
    k = 0
    for m in modes.values():
        signs = [sign for _, _, sign in _ranges(m)]
        m.tried = [_against_the_finding(t, sign) for t, sign in zip(tried[k:k + len(m.changes)], signs)]
        k += len(m.changes)


def explain(df: pd.DataFrame, *, alpha: float = ALPHA, flat_tolerance: float = FLAT_TOLERANCE,
            with_overhead: bool = True, labels: dict | None = None, n_boot: int = 200, seed: int = 0) -> Explanation:
    """Explain every IPC mode of a result table (see the module docstring). ``labels``: counter id ->
    readable name for sentences and figures (default: ``labels.counter_labels``, from the catalogue;
    pass ``{}`` for the bare ids). ``alpha``: the family-wise error of one curve's departures;
    ``flat_tolerance`` is used by the findings; ``n_boot`` and ``seed`` go to ``overhead``
    (its breakpoint fits)."""
    runs = measured_runs(df)
    counters = counter_columns(df)
    metadata = df.attrs.get("metadata") if hasattr(df, "attrs") else None
    time_ids = time_counters(counters, metadata)
    sampled_ids = set(profile_counters(counters, metadata))
    modes = {ipc: explain_mode(runs, ipc, counters, alpha=alpha, flat_tolerance=flat_tolerance, time_ids=time_ids,
                               sampled_ids=sampled_ids)
             for ipc in sorted(runs["ipc"].unique())}
    _attribute(runs, modes, counters, metadata)
    ovh = None
    variants = set(runs["variant"])
    if with_overhead and BASELINE in variants and len(variants) > 1:
        ovh = overhead(runs, n_boot=n_boot, seed=seed)
    if labels is None:
        labels = counter_labels(counters, metadata)
    settings = {"flat_tolerance": flat_tolerance, "alpha": alpha, "half_width_limit": why.HALF_WIDTH_LIMIT,
                "min_processes": inf.MIN_PROCESSES}
    return Explanation(modes=modes, overhead=ovh, labels=dict(labels), settings=settings)


# ----------------------------------------------------------------------------------------------
# The document: ``pmcsuite explain`` (its JSON contract: findings.py)

def sentences(expl: Explanation) -> list[str]:
    """All findings' first sentences: per IPC mode, across modes, then the overhead of every pass."""
    found = findings(expl)
    out = []
    for ipc, m in expl.modes.items():
        out += mode_intro(m) + [f["sentence"] for f in found if f.get("ipc") == ipc]
    out += [f["sentence"] for f in found if "ipcs" in f]
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
        entry = {k: v for k, v in r.items() if k not in ("ipc", "variant")}
        entry["sizes"] = [{"size": c["buffer_size"], **{k: v for k, v in c.items()
                                                        if k not in ("ipc", "variant", "buffer_size")},
                           "ci": [c.get("ci_low"), c.get("ci_high")]}
                          for c in sel.to_dict("records")]
        out.setdefault(r["ipc"], {})[r["variant"]] = entry
    return jsonable(out)


def findings_dict(data, **explain_kwargs) -> dict:
    """The ``explain --json`` document (its contract: the docstring of ``findings``), from a result table or
    an ``Explanation``."""
    expl = data if isinstance(data, Explanation) else explain(data, **explain_kwargs)
    found = findings(expl)
    modes = {}
    for ipc, m in expl.modes.items():
        modes[ipc] = {
            "bandwidth_source": m.bandwidth_source, "sizes": [int(s) for s in m.cells["buffer_size"]],
            "cells": jsonable(m.cells.to_dict("records")),
            "model": m.model.to_dict() if m.model is not None else None,
            "departures": jsonable(m.departures),
            "counter_cells": {c: jsonable(t.to_dict("records")) for c, t in m.counter_cells.items()},
            "time_counters": list(m.time_counters),
            "correlations": {r["counter"]: {"rho": jsonable(r["rho"]), "p_value": jsonable(r["p_value"])}
                             for r in m.correlations.to_dict("records")},
            "constant": jsonable(m.constant),
            "unmeasured": dict(m.unmeasured), "same_as": dict(m.same_as), "notes": list(m.notes),
        }
    lines = []
    for m in expl.modes.values():
        lines += mode_intro(m)
    lines += [f["sentence"] for f in found]
    if expl.overhead is not None:
        lines += [describe_mode(r, expl.overhead.min_runs) for r in expl.overhead.modes.to_dict("records")]
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "settings": dict(expl.settings),
            "findings": jsonable(found), "sentences": lines, "modes": modes, "overhead": _overhead_json(expl),
            "labels": dict(expl.labels), "notes": list(expl.notes) or [ALIGN_NOTE]}


def findings_text(data, **explain_kwargs) -> str:
    """Plain-text findings for ``pmcsuite explain`` (without --json): on a noisy machine the one line of
    what to do; per mode its own sentences, then each finding's first sentence with its numbers indented
    below; the crossovers; the overhead; the notes."""
    expl = data if isinstance(data, Explanation) else explain(data, **explain_kwargs)
    advice = ""
    if not isinstance(data, Explanation):
        advice = why.noise_from_table(data)
        why.attach_evidence(expl.modes, measured_runs(data))     # until explain() keeps it (see why.py)
    found = findings(expl)
    lines = [advice, ""] if advice else []

    def said(f):
        return [f"- {f['sentence']}" + ("" if f.get("reliability") == "reliable" else " (unreliable)")] + \
            ([f"    {f['details']}"] if f.get("details") else [])
    for ipc, m in expl.modes.items():
        lines += [f"- {s}" for s in mode_intro(m)]
        lines += [line for f in found if f.get("ipc") == ipc for line in said(f)]
    lines += [line for f in found if "ipcs" in f for line in said(f)]
    if expl.overhead is not None:
        lines += [f"- {describe_mode(r, expl.overhead.min_runs)}" for r in expl.overhead.modes.to_dict("records")]
    return "\n".join(lines + [""] + list(expl.notes))
