"""``pmcsuite compare A B [C ...]``: did this kernel, this machine, this setting change anything?

Every result set after the first is compared with the first (the reference). The benchmark process is
the unit (``inference``): each set's runs are reduced to per-process medians per point, and process
ids are prefixed with the set's name, so that no process of one set is taken for one of another.

- **Overall** (``overall``, one row per compared set, shown first): ``ratio`` = the geometric mean over
  the points both sets have of other / reference (``inference.mean_ratio_contrast``), its interval at
  the overall family's ``level`` (``family_level(0.025, number of compared sets)``), ``verdict`` read
  off that interval ("slower", "faster", "negligible" (within +-5 %), "not established", "too few
  processes"), ``mde`` (the smallest slowdown detected with 80 % power), ``n_points``, ``processes``
  (per point, now) and ``processes_needed`` (per point, to detect a 5 % change; only when not
  established).
- **Points** (``points``, per set and IPC mode x buffer size x variant): ``ratio`` of the points' levels
  (``inference.ratio_contrast``), ``ci_low``/``ci_high`` at the point family's ``level``
  (``family_level(0.025, number of points with an interval)``), ``verdict``, ``mde``, ``said`` (pyperf's
  words: "1.08x slower"), runs (``n_ref``, ``n_other``) and processes (``p_ref``, ``p_other``), the
  levels in MiB/s, and ``reliability``/``reasons`` (``overhead.reliability``: processes that differ by
  more than 10 % (``overhead.spread``), runs that shared the CPU). The two families spend 0.025 each: two sweeps of one
  configuration give any verdict in at most 5 % of comparisons.
- ``findings``: the findings of ``explain`` that moved (same kind and mode, a location interval that
  does not overlap any of the other set's: ``size_interval``), appeared or disappeared;
- ``counters``: the counters per KiB whose medians changed most (largest |log ratio|, per point).

Only what the sets share is compared: the points both have, with the same actors, placement and
total size; every point or setting left out is said in ``notes``.

**JSON** (``to_dict``): ``reference``, ``others``, ``alpha``, ``family_alpha``, ``overall_level``,
``point_level``, ``margin``, ``overall`` (list, first), ``points``, ``findings``, ``counters``, ``notes``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import PmcsuiteError
from ..results.load import measured
from ..schema import ALPHA, MARGIN, MIB, jsonable
from ..sizes import format_size
from . import inference as inf
from .attribution import per_kib
from .display import Displayable, Text, interval, level_text, number, percent, ratio, size_axis, size_list
from .overhead import CV_THRESHOLD, FAMILY_ALPHA, TARGET, overall_words, point_facts, reliability

KEY = ["ipc", "buffer_size", "variant"]
SETTINGS = ("actors", "placement", "total_size")
POINT_COLUMNS = ["name", "ipc", "buffer_size", "variant", "n_ref", "n_other", "p_ref", "p_other", "ref_mib_s",
                 "other_mib_s", "ratio", "ci_low", "ci_high", "level", "verdict", "said", "mde", "p_value",
                 "reliability", "reasons"]
OVERALL_COLUMNS = ["name", "reference", "ratio", "ci_low", "ci_high", "level", "verdict", "said", "mde", "n_points",
                   "processes", "processes_needed"]


@dataclass(repr=False)
class Comparison(Displayable):
    """``overall``: one row per compared set (the headline); ``points``: one row per (set, ipc,
    buffer_size, variant); ``findings``: moved, appeared or disappeared findings; ``counters``: the
    counters per KiB that changed most; ``notes``: what was left out and why."""
    names: list
    points: pd.DataFrame
    findings: list = field(default_factory=list)
    counters: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list = field(default_factory=list)
    curves: dict = field(default_factory=dict)    # set name -> per (ipc, size) baseline levels and intervals
    alpha: float = ALPHA
    overall: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=OVERALL_COLUMNS))
    margin: float = MARGIN

    def to_frame(self) -> pd.DataFrame:
        return self.points.copy()

    @property
    def overall_level(self) -> float:
        return float(self.overall["level"].iloc[0]) if len(self.overall) else float("nan")

    @property
    def point_level(self) -> float:
        return float(self.points["level"].iloc[0]) if len(self.points) else float("nan")

    def slower(self, pct: float) -> pd.DataFrame:
        """What is shown slower than the reference by more than ``pct`` % (its interval's upper end below
        1 - pct/100): each set's overall first (``point`` "overall"), then the points, named."""
        bound = 1 - pct / 100
        rows = [{"name": r["name"], "point": "overall", "ratio": r["ratio"], "ci_low": r["ci_low"],
                 "ci_high": r["ci_high"], "level": r["level"]}
                for r in self.overall.to_dict("records") if r["ci_high"] == r["ci_high"] and r["ci_high"] < bound]
        rows += [{"name": r["name"], "point": f"{r['ipc']} {format_size(r['buffer_size'])} {r['variant']}",
                  "ratio": r["ratio"], "ci_low": r["ci_low"], "ci_high": r["ci_high"], "level": r["level"]}
                 for r in self.points.to_dict("records") if r["ci_high"] == r["ci_high"] and r["ci_high"] < bound]
        return pd.DataFrame(rows, columns=["name", "point", "ratio", "ci_low", "ci_high", "level"])

    def headline(self, row) -> str:
        """One line for a row of ``overall``: the verdict in words with its interval."""
        words = overall_words(row["ratio"], row["ci_low"], row["ci_high"], row["verdict"], row["level"], self.margin,
                              cost=False)
        need = row.get("processes_needed")
        more = (f"; {int(need)} processes per point (now {int(row['processes'])}) would detect a "
                f"{percent(1 - TARGET)} change"
                if need is not None and need == need and need > row["processes"] else "")
        mde = row.get("mde")
        can = (f"; these runs detect a change of {percent(abs(1 - mde))} or more (80 % power)"
               if mde is not None and mde == mde else "")
        return (f"{row['name']} against {row['reference']}: {words}, geometric mean over {row['n_points']} points"
                f"{can}{more}")

    def summary(self) -> str:
        lines = [f"compared with {self.names[0]}: " + ", ".join(self.names[1:])]
        lines += [f"overall: {self.headline(r)}" for r in self.overall.to_dict("records")]
        lines += [f"note: {note}" for note in self.notes]
        for other, g in self.points.groupby("name", sort=False):
            counts = g["verdict"].value_counts()
            lines.append(f"{other}: {len(g)} points; " + ", ".join(f"{n} {k}" for k, n in counts.items())
                         + f" ({level_text(self.point_level)} intervals, simultaneous)")
            for r in g[g["verdict"].isin([inf.SLOWER, inf.FASTER])].itertuples():
                flag = " [unreliable]" if r.reliability == "unreliable" else ""
                lines.append(f"  {r.ipc} {format_size(r.buffer_size)} {r.variant}: {r.said} "
                             f"({number(r.ref_mib_s)} -> {number(r.other_mib_s)} MiB/s, interval "
                             f"{interval(r.ci_low, r.ci_high)}){flag}")
        lines += [f"finding {f['change']}: {f['description']}" for f in self.findings]
        if not self.counters.empty:
            top = self.counters.head(5)
            lines.append("counters per KiB that changed most: " + "; ".join(
                f"{r.counter} {r.ipc} {format_size(r.buffer_size)} x{ratio(r.ratio, 2)} ({r.name})"
                for r in top.itertuples()))
        return Text("\n".join(lines))

    def to_dict(self) -> dict:
        return {"reference": self.names[0], "others": self.names[1:], "alpha": self.alpha,
                "family_alpha": FAMILY_ALPHA, "overall_level": jsonable(self.overall_level),
                "point_level": jsonable(self.point_level), "margin": self.margin,
                "overall": jsonable(self.overall.to_dict("records")),
                "points": jsonable(self.points.to_dict("records")), "findings": self.findings,
                "counters": jsonable(self.counters.to_dict("records")), "notes": list(self.notes)}

    def plot(self, colour_of=None):
        """Each set's baseline level per IPC mode with its 95 % interval, overlaid: the reference solid
        and grey, the others dashed, dotted... in ``colour_of(ipc)`` (default matplotlib's colour cycle)."""
        from matplotlib.figure import Figure
        ipcs = sorted({ipc for curve in self.curves.values() for ipc in curve["ipc"]})
        fig = Figure(figsize=(8, 3.2 * max(1, len(ipcs))), layout="constrained")
        axes = fig.subplots(max(1, len(ipcs)), 1, squeeze=False)[:, 0]
        styles = ["-", "--", ":", "-."]
        for ax, ipc in zip(axes, ipcs):
            for k, (name, curve) in enumerate(self.curves.items()):
                c = curve[curve["ipc"] == ipc].sort_values("buffer_size")
                colour = "0.4" if k == 0 else colour_of(ipc) if colour_of else f"C{k - 1}"
                ax.errorbar(c["buffer_size"], c["median"] / MIB,
                            yerr=[(c["median"] - c["ci_low"]) / MIB, (c["ci_high"] - c["median"]) / MIB],
                            linestyle=styles[k % len(styles)], marker="o", markersize=3, capsize=2, color=colour,
                            label=f"{name} (reference)" if k == 0 else name)
            ax.set_title(ipc, fontsize=9)
            ax.set_ylabel("MiB/s (level, 95 %)")
            size_axis(ax, [s for curve in self.curves.values() for s in curve.loc[curve["ipc"] == ipc, "buffer_size"]])
            ax.legend(fontsize=7)
        return fig



def _settings(df: pd.DataFrame) -> dict:
    return {k: sorted({v for v in df[k].dropna().unique()}) for k in SETTINGS if k in df.columns}


def _shared(ref: pd.DataFrame, other: pd.DataFrame, name: str, ref_name: str, notes: list):
    """The measured runs of both sets restricted to what they share (same settings, same points)."""
    a, b = measured(ref), measured(other)
    for key in SETTINGS:
        if key not in a.columns or key not in b.columns:
            continue
        va, vb = set(a[key].dropna()), set(b[key].dropna())
        if not va or not vb:               # unknown on one side (imported data): compared as it is
            if va != vb:
                notes.append(f"{key} is unknown in {ref_name if not va else name}: compared without checking it")
            continue
        common = va & vb
        if common != va or common != vb:
            kept = ", ".join(map(str, sorted(common))) or "nothing"
            notes.append(f"{key} differs ({ref_name}: {', '.join(map(str, sorted(va)))}; {name}: "
                         f"{', '.join(map(str, sorted(vb)))}): only {kept} compared")
            a, b = a[a[key].isin(common)], b[b[key].isin(common)]
    ka = set(map(tuple, a[KEY].drop_duplicates().itertuples(index=False)))
    kb = set(map(tuple, b[KEY].drop_duplicates().itertuples(index=False)))
    only_a, only_b = ka - kb, kb - ka
    for missing, where in ((only_a, ref_name), (only_b, name)):
        if missing:
            shown = ", ".join(f"{i} {format_size(s)} {v}" for i, s, v in sorted(missing)[:6])
            more = ", ..." if len(missing) > 6 else ""
            notes.append(f"{len(missing)} point(s) only in {where} left out ({shown}{more})")
    return a, b, sorted(ka & kb)


def set_levels(runs: pd.DataFrame, name: str) -> tuple[dict, dict]:
    """({(ipc, buffer_size, variant): Level}, their ``overhead.point_facts``) of one set's measured runs,
    its processes named '<name>:<id>' so that they are never taken for another set's."""
    medians = inf.process_medians(runs, KEY)
    medians["cluster"] = f"{name}:" + medians["cluster"].astype(str)
    lv = inf.levels(medians, KEY)
    return lv, point_facts(runs, KEY, lv, medians)



def compare(*sets, names=None, alpha: float = ALPHA, margin: float = MARGIN, cv_threshold: float = CV_THRESHOLD,
            with_findings: bool = True) -> Comparison:
    """Compare result sets (directories or result tables) with the first; see the module docstring."""
    from ..results.load import load
    if len(sets) < 2:
        raise PmcsuiteError("compare needs at least two result sets: the reference and one to compare with it")
    tables = [s if isinstance(s, pd.DataFrame) else load(s) for s in sets]
    names = list(names) if names else [str(s.attrs.get("directory", f"set {k + 1}")) if isinstance(s, pd.DataFrame)
                                       else str(s) for k, s in enumerate(sets)]
    if len(set(names)) != len(names):
        names = [f"{n} ({k + 1})" for k, n in enumerate(names)]
    ref, notes, rows, counter_rows, overall = tables[0], [], [], [], []
    for name, other in zip(names[1:], tables[1:]):
        a, b, points = _shared(ref, other, name, names[0], notes)
        if not points:
            continue
        (la, fa), (lb, fb) = set_levels(a, names[0]), set_levels(b, name)
        pairs = []
        for key in points:
            c = inf.ratio_contrast(lb[key], la[key])
            rel, reasons = reliability(fa[key], fb[key], variant=name, cv_threshold=cv_threshold)
            rows.append({"name": name, "ipc": key[0], "buffer_size": int(key[1]), "variant": key[2],
                         "n_ref": fa[key]["runs"], "n_other": fb[key]["runs"], "p_ref": fa[key]["processes"],
                         "p_other": fb[key]["processes"], "ref_mib_s": math.exp(la[key].mean) / MIB,
                         "other_mib_s": math.exp(lb[key].mean) / MIB, "contrast": c, "reliability": rel,
                         "reasons": reasons})
            pairs.append((lb[key], la[key], c.defined(), min(fa[key]["processes"], fb[key]["processes"])))
        counter_rows += _counter_changes(a, b, points, name, ref, other)
        usable = [p for p in pairs if p[2]] or pairs
        overall.append({"name": name, "reference": names[0], "n_points": len(usable),
                        "processes": int(np.median([p[3] for p in usable])),
                        "contrast": inf.mean_ratio_contrast([(p[0], p[1]) for p in usable])})
    if not rows:
        raise PmcsuiteError(f"{', '.join(names)} share no point to compare ({'; '.join(notes) or 'no measured runs'})")
    points_df = _verdicts(rows, POINT_COLUMNS, alpha, margin)
    overall_df = _verdicts(overall, OVERALL_COLUMNS, alpha, margin, needed=True)
    changed = pd.DataFrame(counter_rows)
    if not changed.empty:
        changed = changed.assign(change=np.abs(np.log(changed["ratio"]))).sort_values("change", ascending=False)
        changed = changed.drop(columns="change").head(20).reset_index(drop=True)
    curves = {name: _curve(t) for name, t in zip(names, tables)}
    moved = _moved_findings(tables, names) if with_findings else []
    return Comparison(names, points_df, moved, changed, notes, curves, alpha, overall_df, margin)


def _verdicts(rows: list, columns: list, alpha: float, margin: float, needed: bool = False) -> pd.DataFrame:
    """Rows holding a ``contrast`` -> ratio, interval, verdict, mde at the family's level (one family)."""
    level = inf.family_level(alpha / 2, sum(r["contrast"].defined() for r in rows))
    out = []
    for r in rows:
        c = r.pop("contrast")
        lo, hi = c.interval(level)
        verdict = c.verdict(level, margin)
        r.update(ratio=c.ratio, ci_low=lo, ci_high=hi, level=level, verdict=verdict, said=said(c.ratio, verdict),
                 mde=c.mde(level), p_value=c.p_value())
        if needed:
            r["processes_needed"] = (inf.processes_needed(c.se, r["processes"], TARGET, level)
                                     if verdict == inf.NOT_ESTABLISHED else None)
        out.append(r)
    return pd.DataFrame(out, columns=columns)


def said(value: float, verdict: str) -> str:
    """A verdict in pyperf's words: '1.08x slower', '1.08x faster', or the verdict itself."""
    if verdict == inf.SLOWER:
        return f"{ratio(1 / value, 2)}x slower"
    if verdict == inf.FASTER:
        return f"{ratio(value, 2)}x faster"
    return verdict


def _counter_changes(a, b, points, name, ref, other) -> list[dict]:
    """The median counters per KiB of each point in both sets, for every counter both counted."""
    counters = [c for c in ref.attrs.get("counters", []) if c in other.attrs.get("counters", [])]
    if not counters:
        return []
    ga, gb = a.groupby(KEY), b.groupby(KEY)
    rows = []
    for key in points:
        x, y = ga.get_group(key), gb.get_group(key)
        for cid in counters:
            ca, cb = per_kib(x, cid).dropna(), per_kib(y, cid).dropna()
            if len(ca) and len(cb) and ca.median() > 0 and cb.median() > 0:
                rows.append({"name": name, "counter": cid, "ipc": key[0], "buffer_size": int(key[1]),
                             "variant": key[2], "ref_per_kib": float(ca.median()), "other_per_kib": float(cb.median()),
                             "ratio": float(cb.median() / ca.median())})
    return rows


def _curve(df: pd.DataFrame) -> pd.DataFrame:
    """Baseline (or all runs) level per ipc and size with its 95 % interval (``inference.point_table``)."""
    runs = measured(df)
    base = runs[runs["variant"] == "baseline"] if (runs["variant"] == "baseline").any() else runs
    table = inf.point_table(base, ["ipc", "buffer_size"])
    centre = table["centre"].astype(float)
    return pd.DataFrame({"ipc": table["ipc"], "buffer_size": table["buffer_size"].astype(int), "median": centre,
                         "ci_low": table["ci_low"].astype(float).fillna(centre),
                         "ci_high": table["ci_high"].astype(float).fillna(centre)})


def _location(f: dict) -> tuple[float, float] | None:
    """A finding's location interval (bytes): its ``size_interval``, else [size, size]; None if unknown."""
    where = f.get("size", f.get("from_size"))
    interval = f.get("size_interval")
    try:
        lo, hi = (float(interval[0]), float(interval[1])) if interval else (float(where), float(where))
    except (TypeError, ValueError, IndexError):
        return None
    return (min(lo, hi), max(lo, hi)) if math.isfinite(lo) and math.isfinite(hi) else None


def _overlap(a, b) -> bool:
    return a is None or b is None or (a[0] <= b[1] and b[0] <= a[1])


def _moved_findings(tables, names) -> list[dict]:
    """Findings of the reference that moved (same kind and mode, location intervals that do not overlap),
    disappeared, or that appear only in another set. A finding whose interval overlaps one of the other
    set's of the same kind and mode is the same finding: not moved."""
    from .explain import findings_dict

    def keyed(df):
        out = {}
        for f in findings_dict(df)["findings"]:
            ident = (f["kind"], f.get("ipc") or "/".join(f.get("ipcs", [])), f.get("of", "bandwidth"))
            out.setdefault(ident, []).append((f.get("size", f.get("from_size")), _location(f)))
        return out

    ref = keyed(tables[0])
    changes = []
    for name, table in zip(names[1:], tables[1:]):
        other = keyed(table)
        for ident in sorted(set(ref) | set(other)):
            changes += _changes(ident, ref.get(ident, []), other.get(ident, []), names[0], name)
    return changes


def _changes(ident, mine: list, theirs: list, ref_name: str, name: str) -> list[dict]:
    """The changes of one kind of finding in one mode between two sets (``_moved_findings``)."""
    kind, ipc, of = ident
    what = f"{ipc} {of} {kind}"
    a = [m for m in mine if not any(_overlap(m[1], t[1]) for t in theirs)]
    b = [t for t in theirs if not any(_overlap(t[1], m[1]) for m in mine)]
    sizes_a, sizes_b = sorted(s for s, _ in a if s is not None), sorted(s for s, _ in b if s is not None)
    base = {"against": name, "kind": kind, "ipc": ipc, "of": of, "from": sizes_a, "to": sizes_b}
    was, now = size_list(sizes_a, "?"), size_list(sizes_b, "?")
    if a and b:
        return [dict(base, change="moved", description=f"{what} moved from {was} to {now} "
                                                       f"({name}; their intervals do not overlap)")]
    if a:
        return [dict(base, change="disappeared", description=f"{what} at {was} in {ref_name}, not in {name}")]
    if b:
        return [dict(base, change="appeared", description=f"{what} at {now} in {name}, not in {ref_name}")]
    return []
