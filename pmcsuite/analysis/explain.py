"""Which counters explain the bandwidth's inflexion points, per IPC mode.

Steps (all pure functions of the result table):

1. Normalise every counter per KiB transferred (``value * 1024 / total_size``) and, for system-call
   counters (``syscalls_*``), also per ``write()`` call (``value / writes``).
2. Fit the bandwidth curve (baseline runs; all runs pooled when there is no baseline) and every
   counter-per-KiB curve with the same segmented model (``breakpoints.fit_breakpoints``; counters on a
   log2 scale when all their values are positive, since they span orders of magnitude).
3. For each bandwidth breakpoint, the counters with a claimed breakpoint whose interval overlaps it
   (intervals widened by half a size step each side: locations are resolved to the size grid), with
   the direction of the counter's slope change, whether it is *consistent* with a cost (counter slope
   rises where bandwidth's falls, or the reverse), the change of slope and the fold change of the
   counter from the breakpoint to the next bandwidth breakpoint (or the largest size).
4. Per IPC mode, an OLS of loop time per KiB on the counters per KiB across sizes (standardised
   coefficients, R^2, partial R^2 per counter, a collinearity warning when a VIF exceeds 10) and
   Spearman correlations of bandwidth with each counter per KiB across sizes.

Counters from different passes come from different runs: they are aligned with each other and with
the bandwidth by IPC mode and buffer size through per-size medians, never run by run (``ALIGN_NOTE``).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.stats import spearmanr

from ..errors import PmcsuiteError
from ..sizes import format_size
from .breakpoints import (MIB, Breakpoint, BreakpointFit, _jsonable, counter_columns, fit_breakpoints,
                          measured_runs)
from .overhead import OverheadResult, overhead

ALIGN_NOTE = ("Counters from different passes were measured in different runs: they are aligned with each "
              "other and with the bandwidth by IPC mode and buffer size (per-size medians), never run by run.")
VIF_LIMIT = 10.0


# ----------------------------------------------------------------------------------------------
# Normalisation

def per_kib(df: pd.DataFrame, counter: str) -> pd.Series:
    """Counter per KiB transferred: ``value * 1024 / total_size`` (NaN stays NaN)."""
    return df[counter].astype(float) * 1024.0 / df["total_size"].astype(float)


def per_call(df: pd.DataFrame, counter: str) -> pd.Series:
    """Counter per ``write()`` call of the benchmark loop (NaN where ``writes`` is unknown or 0)."""
    writes = df["writes"].astype(float) if "writes" in df.columns else pd.Series(np.nan, index=df.index)
    return df[counter].astype(float) / writes.where(writes > 0)


def normalise(df: pd.DataFrame, counters: list[str] | None = None) -> pd.DataFrame:
    """Long table, one row per measured run and counter: ipc, buffer_size, variant, run, counter, value,
    per_kib, per_call (per_call only for ``syscalls_*``, else NaN). Unmeasured counters are left out."""
    runs = measured_runs(df)
    counters = counter_columns(df) if counters is None else counters
    parts = []
    for c in counters:
        sel = runs[runs[c].notna()]
        if sel.empty:
            continue
        part = sel[["ipc", "buffer_size", "variant", "run"]].copy()
        part["counter"] = c
        part["value"] = sel[c].astype(float)
        part["per_kib"] = per_kib(sel, c)
        part["per_call"] = per_call(sel, c) if c.startswith("syscalls") else np.nan
        parts.append(part)
    cols = ["ipc", "buffer_size", "variant", "run", "counter", "value", "per_kib", "per_call"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


# ----------------------------------------------------------------------------------------------
# Results

@dataclass
class Attribution:
    """A counter whose own breakpoint coincides with a bandwidth breakpoint."""
    counter: str
    breakpoint: Breakpoint      # the counter's own breakpoint (per-KiB curve)
    direction: str              # "rises" (counter slope increases) | "falls"
    consistent: bool            # counter slope change opposite to the bandwidth's (a cost explanation)
    delta_slope: float          # counter's change of slope per doubling (log2-fold if scale == "log")
    fold_change: float          # counter per KiB at to_size / at the bandwidth breakpoint
    to_size: int
    scale: str
    variants: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"counter": self.counter, "counter_breakpoint": self.breakpoint.to_dict(),
                "direction": self.direction, "consistent": self.consistent,
                "delta_slope": _jsonable(self.delta_slope), "fold_change": _jsonable(self.fold_change),
                "to_size": int(self.to_size), "scale": self.scale, "variants": list(self.variants)}


@dataclass
class Regression:
    """OLS of loop time per KiB on counters per KiB across sizes (standardised)."""
    n: int = 0
    counters: list[str] = field(default_factory=list)
    r_squared: float = float("nan")
    coefficients: dict = field(default_factory=dict)   # standardised betas
    partial_r2: dict = field(default_factory=dict)
    vif: dict = field(default_factory=dict)
    warning: str = ""
    note: str = ""                                      # why it was not fitted, if it was not

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"counter": self.counters,
                             "std_coef": [self.coefficients.get(c) for c in self.counters],
                             "partial_r2": [self.partial_r2.get(c) for c in self.counters],
                             "vif": [self.vif.get(c) for c in self.counters]})

    def summary(self) -> str:
        if self.note:
            return f"regression of loop time per KiB: not fitted ({self.note})"
        text = (f"OLS of loop time per KiB on counters per KiB, {self.n} sizes, R^2={self.r_squared:.3f}\n"
                + self.table().to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        return text + (f"\nwarning: {self.warning}" if self.warning else "")

    def to_dict(self) -> dict:
        return {"n": self.n, "counters": self.counters, "r_squared": _jsonable(self.r_squared),
                "coefficients": {k: _jsonable(v) for k, v in self.coefficients.items()},
                "partial_r2": {k: _jsonable(v) for k, v in self.partial_r2.items()},
                "vif": {k: _jsonable(v) for k, v in self.vif.items()},
                "warning": self.warning, "note": self.note}


@dataclass
class ModeExplanation:
    """Everything about one IPC mode."""
    ipc: str
    bandwidth: BreakpointFit
    bandwidth_source: str                               # "baseline" or "all runs pooled"
    counters: dict = field(default_factory=dict)        # counter -> BreakpointFit of its per-KiB curve
    counter_variants: dict = field(default_factory=dict)  # counter -> passes it was measured in
    explained_by: list = field(default_factory=list)    # list[list[Attribution]], one per bandwidth breakpoint
    regression: Regression = field(default_factory=Regression)
    correlations: pd.DataFrame = field(default_factory=pd.DataFrame)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)  # per-size medians, aligned
    notes: list = field(default_factory=list)

    def explained_table(self) -> pd.DataFrame:
        """One row per (bandwidth breakpoint, attributed counter)."""
        rows = []
        for bp, atts in zip(self.bandwidth.breakpoints, self.explained_by):
            if not atts:
                rows.append({"breakpoint": format_size(bp.size), "kind": bp.kind, "counter": "(none)"})
            for a in atts:
                rows.append({"breakpoint": format_size(bp.size), "kind": bp.kind, "counter": a.counter,
                             "counter_bp": format_size(a.breakpoint.size),
                             "counter_ci": f"{format_size(a.breakpoint.ci_low)}..{format_size(a.breakpoint.ci_high)}",
                             "direction": a.direction, "consistent": a.consistent,
                             "delta_slope": a.delta_slope, "fold_change": a.fold_change,
                             "to": format_size(a.to_size)})
        return pd.DataFrame(rows)

    def summary(self) -> str:
        parts = [f"=== {self.ipc} (bandwidth from {self.bandwidth_source}) ===", self.bandwidth.summary()]
        if self.bandwidth.breakpoints:
            parts += ["Explained by:", self.explained_table().to_string(index=False, float_format=lambda v: f"{v:.3g}")]
        parts.append(self.regression.summary())
        if not self.correlations.empty:
            parts += ["Spearman correlation of bandwidth with counters per KiB across sizes:",
                      self.correlations.to_string(index=False, float_format=lambda v: f"{v:.3g}")]
        parts += self.notes
        return "\n".join(parts)

    def to_dict(self) -> dict:
        bps = []
        for bp, atts in zip(self.bandwidth.breakpoints, self.explained_by):
            d = bp.to_dict()
            d["explained_by"] = [a.to_dict() for a in atts]
            bps.append(d)
        return {"ipc": self.ipc, "bandwidth_source": self.bandwidth_source, "breakpoints": bps,
                "bandwidth": self.bandwidth.to_dict(),
                "counters": {c: f.to_dict() for c, f in self.counters.items()},
                "counter_variants": self.counter_variants,
                "regression": self.regression.to_dict(),
                "correlations": [{k: _jsonable(v) for k, v in r.items()} for r in self.correlations.to_dict("records")],
                "notes": list(self.notes)}


@dataclass
class Explanation:
    """Per IPC mode explanations, plus the overhead of every pass."""
    modes: dict                                   # ipc -> ModeExplanation
    overhead: OverheadResult | None = None
    notes: list = field(default_factory=lambda: [ALIGN_NOTE])
    labels: dict = field(default_factory=dict)    # counter id -> human label (optional)

    def label(self, counter: str) -> str:
        return self.labels.get(counter, counter)

    def summary(self) -> str:
        parts = [m.summary() for m in self.modes.values()]
        if self.overhead is not None:
            parts.append(self.overhead.summary())
        return "\n\n".join(parts + self.notes)

    def to_dict(self) -> dict:
        return {"modes": {k: m.to_dict() for k, m in self.modes.items()},
                "overhead": self.overhead.to_dict() if self.overhead is not None else None,
                "notes": list(self.notes)}


# ----------------------------------------------------------------------------------------------
# Analysis

def _half_step(sizes) -> float:
    return float(np.median(np.diff(np.log2(sizes)))) / 2 if len(sizes) > 1 else 0.5


def intervals_overlap(a: Breakpoint, b: Breakpoint, half_step: float) -> bool:
    """Do the location intervals overlap, each widened by ``half_step`` (log2 units) on both sides?"""
    a_lo, a_hi = math.log2(a.ci_low) - half_step, math.log2(a.ci_high) + half_step
    b_lo, b_hi = math.log2(b.ci_low) - half_step, math.log2(b.ci_high) + half_step
    return a_lo <= b_hi + 1e-9 and b_lo <= a_hi + 1e-9


def attribute(bandwidth: BreakpointFit, counters: dict, variants: dict | None = None) -> list[list[Attribution]]:
    """For each bandwidth breakpoint, the counters whose own breakpoint overlaps it (consistent first,
    then by decreasing |change of slope|)."""
    variants = variants or {}
    half = _half_step(bandwidth.sizes)
    out = []
    bps = bandwidth.breakpoints
    for j, bp in enumerate(bps):
        to_size = bps[j + 1].size if j + 1 < len(bps) else bandwidth.sizes[-1]
        atts = []
        for name, fit in counters.items():
            cands = [cb for cb in fit.breakpoints if intervals_overlap(bp, cb, half)]
            if not cands:
                continue
            # nearest; on a tie prefer the one whose slope change opposes the bandwidth's
            cb = min(cands, key=lambda c: (abs(math.log2(c.size) - math.log2(bp.size)),
                                           np.sign(c.delta_slope) == np.sign(bp.delta_slope)))
            med = dict(zip(fit.sizes, fit.medians))
            start, end = med.get(bp.size), med.get(to_size)
            fold = end / start if start not in (None, 0) and end is not None else float("nan")
            atts.append(Attribution(
                counter=name, breakpoint=cb, direction="rises" if cb.delta_slope > 0 else "falls",
                consistent=bool(np.sign(cb.delta_slope) == -np.sign(bp.delta_slope)),
                delta_slope=cb.delta_slope, fold_change=float(fold), to_size=int(to_size), scale=fit.scale,
                variants=list(variants.get(name, []))))
        atts.sort(key=lambda a: (not a.consistent, -abs(a.delta_slope)))
        out.append(atts)
    return out


def regress(y: pd.Series, X: pd.DataFrame, vif_limit: float = VIF_LIMIT) -> Regression:
    """Standardised OLS of ``y`` on the columns of ``X`` (rows = sizes), with partial R^2 and VIFs."""
    data = pd.concat([y.rename("__y__"), X], axis=1).dropna()
    cols = [c for c in X.columns if data[c].std(ddof=0) > 0]
    n, p = len(data), len(cols)
    if p == 0:
        return Regression(n=n, note="no counter varies across sizes")
    if data["__y__"].std(ddof=0) == 0:
        return Regression(n=n, counters=cols, note="loop time per KiB does not vary across sizes")
    if n < p + 2:
        return Regression(n=n, counters=cols, note=f"{n} sizes are too few for {p} counters (need >= {p + 2})")
    z = (data - data.mean()) / data.std(ddof=0)
    yz, Xz = z["__y__"].to_numpy(), z[cols].to_numpy()
    full = sm.OLS(yz, Xz).fit()
    rss_full = float(full.ssr)
    partial, vif = {}, {}
    for j, c in enumerate(cols):
        others = np.delete(Xz, j, axis=1)
        rss_red = float(sm.OLS(yz, others).fit().ssr) if p > 1 else float(yz @ yz)
        partial[c] = (rss_red - rss_full) / rss_red if rss_red > 0 else float("nan")
        if p > 1:
            r2 = sm.OLS(Xz[:, j], others).fit().rsquared
            vif[c] = 1.0 / (1.0 - r2) if r2 < 1 else float("inf")
        else:
            vif[c] = 1.0
    high = [c for c in cols if vif[c] > vif_limit]
    warning = ""
    if high:
        warning = (f"collinear counters ({', '.join(high)}; VIF > {vif_limit:g}): their individual coefficients "
                   f"and partial R^2 are not reliable")
    return Regression(n=n, counters=cols, r_squared=float(full.rsquared),
                      coefficients={c: float(b) for c, b in zip(cols, full.params)},
                      partial_r2=partial, vif=vif, warning=warning)


def correlations(table: pd.DataFrame, counters: list[str]) -> pd.DataFrame:
    """Spearman rho (and p) of bandwidth with each counter per KiB across sizes."""
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


def explain_mode(runs: pd.DataFrame, ipc: str, counters: list[str], *, n_boot: int = 200, seed: int = 0,
                 min_slope_change: float | None = None, counter_min_slope_change: float | None = None,
                 min_support: float = 0.8) -> ModeExplanation:
    """Explanation for one IPC mode from the measured runs (``measured_runs(df)``)."""
    mode = runs[runs["ipc"] == ipc]
    notes = []
    base = mode[mode["variant"] == "baseline"]
    source = "baseline"
    if base.empty:
        base, source = mode, "all runs pooled"
        notes.append(f"{ipc}: no baseline runs; the bandwidth curve pools every pass (instrumented) run.")
    kw = dict(n_boot=n_boot, seed=seed, min_support=min_support)
    bw = fit_breakpoints(base["buffer_size"].to_numpy(), base["bandwidth"].to_numpy(float) / MIB,
                         label=f"{ipc} bandwidth", unit="MiB/s", min_slope_change=min_slope_change, **kw)
    table = pd.DataFrame({"buffer_size": bw.sizes, "bandwidth_mib_s": bw.medians}).set_index("buffer_size")
    loop = (base["loop_ns"].astype(float) * 1024.0 / base["total_size"].astype(float)) if "loop_ns" in base else None
    if loop is not None:
        table["loop_ns_per_kib"] = loop.groupby(base["buffer_size"]).median()

    fits, variants = {}, {}
    for c in counters:
        sel = mode[mode[c].notna()]
        if sel.empty:
            continue
        values = per_kib(sel, c)
        variants[c] = sorted(sel["variant"].unique().tolist())
        table[c] = values.groupby(sel["buffer_size"]).median()
        if c.startswith("syscalls"):
            table[f"{c}_per_write"] = per_call(sel, c).groupby(sel["buffer_size"]).median()
        scale = "log" if bool((values > 0).all()) else "linear"
        try:
            fits[c] = fit_breakpoints(sel["buffer_size"].to_numpy(), values.to_numpy(), label=f"{c} per KiB",
                                      unit="per KiB", scale=scale, min_slope_change=counter_min_slope_change, **kw)
        except PmcsuiteError as exc:
            notes.append(f"{ipc}: {c} not fitted ({exc})")
    measured = [c for c in counters if c in variants]
    reg = (regress(table["loop_ns_per_kib"], table[measured]) if "loop_ns_per_kib" in table and measured
           else Regression(note="no loop time or no counter"))
    return ModeExplanation(ipc=ipc, bandwidth=bw, bandwidth_source=source, counters=fits,
                           counter_variants=variants, explained_by=attribute(bw, fits, variants),
                           regression=reg, correlations=correlations(table.reset_index(), measured),
                           table=table.reset_index(), notes=notes)


def explain(df: pd.DataFrame, *, n_boot: int = 200, seed: int = 0, min_slope_change: float | None = None,
            counter_min_slope_change: float | None = None, min_support: float = 0.8,
            with_overhead: bool = True, labels: dict | None = None) -> Explanation:
    """Explain every IPC mode of a result table (see the module docstring)."""
    runs = measured_runs(df)
    counters = counter_columns(df)
    modes = {}
    for ipc in sorted(runs["ipc"].unique()):
        modes[ipc] = explain_mode(runs, ipc, counters, n_boot=n_boot, seed=seed, min_slope_change=min_slope_change,
                                  counter_min_slope_change=counter_min_slope_change, min_support=min_support)
    ovh = None
    variants = set(runs["variant"])
    if with_overhead and "baseline" in variants and len(variants) > 1:
        ovh = overhead(runs, n_boot=n_boot, seed=seed, min_slope_change=min_slope_change, min_support=min_support)
    return Explanation(modes=modes, overhead=ovh, labels=dict(labels or {}))
