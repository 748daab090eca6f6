"""``pmcsuite compare A B [C ...]``: did this kernel, this machine, this setting change anything?

Every result set after the first is compared with the first (the reference), point by point (IPC
mode x buffer size x variant, over the measured runs):

- ``ratio`` = median bandwidth of the other set / median of the reference, with the same exact
  bootstrap interval as the overhead (``overhead.ratio_ci``) and a two-sided p-value (Mann-Whitney U
  with >= 9 runs a side, else a permutation test: ``overhead.cell_tests``), **corrected with Holm
  across all the points compared** (so that two sweeps of the same configuration call at most 5 %
  of comparisons significant);
- a verdict in pyperf's words: ``1.08x faster`` / ``1.08x slower`` when the corrected p < 0.05 and
  the interval excludes 1, ``not significant`` otherwise, ``too few runs`` below 3 a side; a point
  whose runs are noisy (CV > 10 %) or shared the CPU is marked ``unreliable``;
- the findings of ``explain`` that moved (same kind, same mode, another size), appeared or
  disappeared;
- the counters per KiB whose medians changed most (largest |log ratio|, per point).

Only what the sets share is compared: the points both have, with the same actors, placement and
total size; every point or setting left out is said in ``notes``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import PmcsuiteError
from ..results import measured
from ..sizes import format_size
from .display import Displayable, Text, size_axis
from .overhead import ALPHA, CV_THRESHOLD, MIN_RUNS, cell_tests, correct, ratio_ci, reliability

KEY = ["ipc", "buffer_size", "variant"]
SETTINGS = ("actors", "placement", "total_size")
MIB = 1 << 20


@dataclass(repr=False)
class Comparison(Displayable):
    """``points``: one row per (other set, ipc, buffer_size, variant); ``findings``: moved, appeared or
    disappeared findings; ``counters``: the counters per KiB that changed most; ``notes``: what was
    left out and why."""
    names: list
    points: pd.DataFrame
    findings: list = field(default_factory=list)
    counters: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list = field(default_factory=list)
    curves: dict = field(default_factory=dict)    # set name -> per (ipc, size) baseline medians and intervals
    alpha: float = ALPHA

    def to_frame(self) -> pd.DataFrame:
        return self.points.copy()

    def slower(self, pct: float) -> pd.DataFrame:
        """The points significantly slower than the reference by more than ``pct`` %."""
        p = self.points
        return p[(p["verdict"].str.endswith("slower")) & (1 / p["ratio"] - 1 > pct / 100)]

    def summary(self) -> str:
        lines = [f"compared with {self.names[0]}: " + ", ".join(self.names[1:])]
        for note in self.notes:
            lines.append(f"note: {note}")
        for other, g in self.points.groupby("against", sort=False):
            counts = g["verdict"].map(lambda v: "faster" if v.endswith("faster") else "slower" if v.endswith("slower")
                                      else v).value_counts()
            lines.append(f"{other}: {len(g)} points; " + ", ".join(f"{n} {k}" for k, n in counts.items()))
            changed = g[g["verdict"].str.endswith(("faster", "slower"))]
            for r in changed.itertuples():
                flag = " [unreliable]" if r.reliability == "unreliable" else ""
                lines.append(f"  {r.ipc} {format_size(r.buffer_size)} {r.variant}: {r.verdict} "
                             f"({r.ref_mib_s:,.0f} -> {r.other_mib_s:,.0f} MiB/s, 95 % {r.ci_low:.3f}-{r.ci_high:.3f}, "
                             f"p {r.p_corrected:.2g}){flag}")
        for f in self.findings:
            lines.append(f"finding {f['change']}: {f['description']}")
        if not self.counters.empty:
            top = self.counters.head(5)
            lines.append("counters per KiB that changed most: " + "; ".join(
                f"{r.counter} {r.ipc} {format_size(r.buffer_size)} x{r.ratio:.2f} ({r.against})" for r in top.itertuples()))
        return Text("\n".join(lines))

    def to_dict(self) -> dict:
        clean = lambda v: None if isinstance(v, float) and not math.isfinite(v) else v   # noqa: E731
        return {"reference": self.names[0], "others": self.names[1:], "alpha": self.alpha, "correction": "holm",
                "points": [{k: clean(v.item() if hasattr(v, "item") else v) for k, v in r.items()}
                           for r in self.points.to_dict("records")],
                "findings": self.findings,
                "counters": [{k: clean(v.item() if hasattr(v, "item") else v) for k, v in r.items()}
                             for r in self.counters.to_dict("records")],
                "notes": list(self.notes)}

    def plot(self, colour_of=None):
        """Each set's baseline median bandwidth per IPC mode with its 95 % interval, overlaid: the
        reference solid and grey, the others dashed, dotted... in ``colour_of(ipc)`` (e.g. the
        report's colour of each IPC mode; default matplotlib's colour cycle)."""
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
            ax.set_ylabel("MiB/s (median, 95 %)")
            size_axis(ax)
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
            notes.append(f"{key} differs ({ref_name}: {', '.join(map(str, sorted(va)))}; {name}: "
                         f"{', '.join(map(str, sorted(vb)))}): only {', '.join(map(str, sorted(common))) or 'nothing'} compared")
            a, b = a[a[key].isin(common)], b[b[key].isin(common)]
    ka = set(map(tuple, a[KEY].drop_duplicates().itertuples(index=False)))
    kb = set(map(tuple, b[KEY].drop_duplicates().itertuples(index=False)))
    only_a, only_b = ka - kb, kb - ka
    for missing, where in ((only_a, ref_name), (only_b, name)):
        if missing:
            shown = ", ".join(f"{i} {format_size(s)} {v}" for i, s, v in sorted(missing)[:6])
            notes.append(f"{len(missing)} point(s) only in {where} left out ({shown}{', ...' if len(missing) > 6 else ''})")
    return a, b, sorted(ka & kb)


def _per_kib(df: pd.DataFrame, counter: str) -> pd.Series:
    return df[counter].astype(float) * 1024 / df["total_size"].astype(float)


def compare(*sets, names=None, alpha: float = ALPHA, cv_threshold: float = CV_THRESHOLD,
            with_findings: bool = True) -> Comparison:
    """Compare result sets (directories or result tables) with the first; see the module docstring."""
    from ..results import load
    if len(sets) < 2:
        raise PmcsuiteError("compare needs at least two result sets: the reference and one to compare with it")
    tables = [s if isinstance(s, pd.DataFrame) else load(s) for s in sets]
    names = list(names) if names else [str(s.attrs.get("directory", f"set {k + 1}")) if isinstance(s, pd.DataFrame)
                                       else str(s) for k, s in enumerate(sets)]
    if len(set(names)) != len(names):
        names = [f"{n} ({k + 1})" for k, n in enumerate(names)]
    ref, notes, rows, counter_rows = tables[0], [], [], []
    for name, other in zip(names[1:], tables[1:]):
        a, b, points = _shared(ref, other, name, names[0], notes)
        ga, gb = a.groupby(KEY), b.groupby(KEY)
        counters = [c for c in ref.attrs.get("counters", []) if c in other.attrs.get("counters", [])]
        for key in points:
            x, y = ga.get_group(key), gb.get_group(key)
            base, new = x["bandwidth"].to_numpy(float), y["bandwidth"].to_numpy(float)
            enough = min(len(base), len(new)) >= MIN_RUNS
            ratio, lo, hi = ratio_ci(base, new) if enough else (float(np.median(new) / np.median(base)), math.nan, math.nan)
            p = cell_tests(base, new)[0] if enough else math.nan
            rel, reasons, _, _ = reliability(base, new, x.get("shared_cpu"), y.get("shared_cpu"), variant=name,
                                             cv_threshold=cv_threshold)
            rows.append({"against": name, "ipc": key[0], "buffer_size": int(key[1]), "variant": key[2],
                         "n_ref": len(base), "n_other": len(new), "ref_mib_s": float(np.median(base)) / MIB,
                         "other_mib_s": float(np.median(new)) / MIB, "ratio": ratio, "ci_low": lo, "ci_high": hi,
                         "p_value": p, "reliability": rel, "reasons": reasons})
            for cid in counters:
                ca, cb = _per_kib(x, cid).dropna(), _per_kib(y, cid).dropna()
                if len(ca) and len(cb) and ca.median() > 0 and cb.median() > 0:
                    counter_rows.append({"against": name, "counter": cid, "ipc": key[0], "buffer_size": int(key[1]),
                                         "variant": key[2], "ref_per_kib": float(ca.median()),
                                         "other_per_kib": float(cb.median()),
                                         "ratio": float(cb.median() / ca.median())})
    columns = ["against", "ipc", "buffer_size", "variant", "n_ref", "n_other", "ref_mib_s", "other_mib_s", "ratio",
               "ci_low", "ci_high", "p_value", "reliability", "reasons"]
    points = pd.DataFrame(rows, columns=columns)
    if points.empty:
        raise PmcsuiteError(f"{', '.join(names)} share no point to compare ({'; '.join(notes) or 'no measured runs'})")
    points["p_corrected"] = correct(points["p_value"], "holm", alpha)
    points["verdict"] = [_verdict(r, lo, hi, pc, alpha) for r, lo, hi, pc in
                         zip(points["ratio"], points["ci_low"], points["ci_high"], points["p_corrected"])]
    changed = pd.DataFrame(counter_rows)
    if not changed.empty:
        changed = changed.assign(change=np.abs(np.log(changed["ratio"]))).sort_values("change", ascending=False)
        changed = changed.drop(columns="change").head(20).reset_index(drop=True)
    curves = {name: _curve(t) for name, t in zip(names, tables)}
    moved = _moved_findings(tables, names) if with_findings else []
    return Comparison(names, points, moved, changed, notes, curves, alpha)


def _verdict(ratio, lo, hi, p_corrected, alpha) -> str:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "too few runs"
    if p_corrected < alpha and (lo > 1 or hi < 1):
        return f"{ratio:.2f}x faster" if ratio > 1 else f"{1 / ratio:.2f}x slower"
    return "not significant"


def _curve(df: pd.DataFrame) -> pd.DataFrame:
    """Baseline (or all runs) median bandwidth per ipc and size with a distribution-free 95 % interval."""
    from .precision import median_interval
    runs = measured(df)
    base = runs[runs["variant"] == "baseline"] if (runs["variant"] == "baseline").any() else runs
    rows = []
    for (ipc, size), g in base.groupby(["ipc", "buffer_size"]):
        v = g["bandwidth"].to_numpy(float)
        lo, hi = median_interval(v)
        med = float(np.median(v))
        rows.append({"ipc": ipc, "buffer_size": int(size), "median": med,
                     "ci_low": lo if lo == lo else med, "ci_high": hi if hi == hi else med})
    return pd.DataFrame(rows, columns=["ipc", "buffer_size", "median", "ci_low", "ci_high"])


def _moved_findings(tables, names) -> list[dict]:
    """Findings of the reference that moved (same kind and mode, another size), disappeared, or
    that appear only in another set."""
    from .findings import findings_dict

    def keyed(df):
        out = {}
        for f in findings_dict(df)["findings"]:
            ident = (f["kind"], f.get("ipc") or "/".join(f.get("ipcs", [])), f.get("of", "bandwidth"))
            out.setdefault(ident, []).append(f.get("size", f.get("from_size")))
        return out

    ref = keyed(tables[0])
    changes = []
    for name, table in zip(names[1:], tables[1:]):
        other = keyed(table)
        for ident in sorted(set(ref) | set(other)):
            kind, ipc, of = ident
            what = f"{ipc} {of} {kind}"
            a, b = sorted(ref.get(ident, [])), sorted(other.get(ident, []))
            if a and not b:
                changes.append({"against": name, "change": "disappeared", "kind": kind, "ipc": ipc, "of": of,
                                "from": a, "to": [], "description": f"{what} at {_sizes(a)} in {names[0]}, not in {name}"})
            elif b and not a:
                changes.append({"against": name, "change": "appeared", "kind": kind, "ipc": ipc, "of": of,
                                "from": [], "to": b, "description": f"{what} at {_sizes(b)} in {name}, not in {names[0]}"})
            elif a != b:
                changes.append({"against": name, "change": "moved", "kind": kind, "ipc": ipc, "of": of,
                                "from": a, "to": b, "description": f"{what} moved from {_sizes(a)} to {_sizes(b)} ({name})"})
    return changes


def _sizes(sizes) -> str:
    return ", ".join(format_size(s) for s in sizes if s is not None) or "?"
