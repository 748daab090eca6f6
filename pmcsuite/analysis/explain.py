"""Which counters explain the bandwidth's inflexion points, per IPC mode.

Steps (all pure functions of the result table):

1. Normalise every counter per KiB transferred (``value * 1024 / total_size``) and, for system-call
   counters (``syscalls_*``), also per ``write()`` call (``value / writes``).
2. Fit the bandwidth curve (baseline runs; all runs pooled when there is no baseline) and every
   counter-per-KiB curve with the same segmented model (``breakpoints.fit_breakpoints``; counters on a
   log2 scale when all their values are positive, since they span orders of magnitude).
3. For each bandwidth breakpoint, the counters with a claimed breakpoint whose interval overlaps it
   (intervals widened by half a size step each side: locations are resolved to the size grid), with
   the sign of the counter's change of slope (``slope_change``: ``up`` when its slope increases, e.g.
   a falling counter that levels off; ``down`` when it decreases), whether it is *consistent* with
   a cost (counter slope rises where bandwidth's falls, or the reverse), the change of slope and
   the fold change of the counter from the breakpoint to the next bandwidth breakpoint (or the
   largest size).
4. Per IPC mode, an OLS of loop time per KiB on the counters per KiB across sizes (standardised
   coefficients, R^2 and adjusted R^2, partial R^2 per counter, a collinearity warning when a VIF
   exceeds 10) and Spearman correlations of bandwidth with each counter per KiB across sizes.
   Before fitting, counters that cannot be told apart are set aside, each with its reason
   (``Regression.dropped``), so that the fit is identifiable:

   - *constant* across sizes (e.g. one page fault per run): no information;
   - *same as X*: |Pearson r| > 0.999 with X across sizes, on the values and on their logarithms when
     positive (e.g. sched_switch and context_switches); the first in catalogue order is kept;
   - at most ``n_sizes - 2`` counters are fitted (one residual degree of freedom at least), taken by
     decreasing |Spearman rho| with loop time per KiB (ties: catalogue order); a counter that is a
     linear combination of those already taken (R^2 > 1 - 1e-6 on them, e.g. syscalls_all = read +
     write + a constant) is skipped.

   VIFs are shown rounded (">1000" above a thousand). Counters constant across sizes are also left
   out of the breakpoint fits and the correlations, and listed in the notes with their value per run.

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
from statsmodels.stats.outliers_influence import variance_inflation_factor

from ..errors import PmcsuiteError
from ..sizes import format_size
from .breakpoints import (MIB, Breakpoint, BreakpointFit, _jsonable, counter_columns, fit_breakpoints,
                          measured_runs)
from .labels import counter_labels
from .overhead import OverheadResult, overhead
from ..schema import BASELINE

ALIGN_NOTE = ("Counters from different passes were measured in different runs: they are aligned with each "
              "other and with the bandwidth by IPC mode and buffer size (per-size medians), never run by run.")
VIF_LIMIT = 10.0
SAME_AS_R = 0.999          # |Pearson r| across sizes above which two counters are the same measurement
COMBINATION_R2 = 1 - 1e-6  # R^2 of a counter on the kept ones above which it adds nothing


# ----------------------------------------------------------------------------------------------
# Normalisation

def per_kib(df: pd.DataFrame, counter: str) -> pd.Series:
    """Counter per KiB transferred: ``value * 1024 / total_size`` (NaN stays NaN)."""
    return df[counter].astype(float) * 1024.0 / df["total_size"].astype(float)


def per_call(df: pd.DataFrame, counter: str) -> pd.Series:
    """Counter per ``write()`` call of the benchmark loop (NaN where ``writes`` is unknown or 0)."""
    writes = df["writes"].astype(float) if "writes" in df.columns else pd.Series(np.nan, index=df.index)
    return df[counter].astype(float) / writes.where(writes > 0)


# ----------------------------------------------------------------------------------------------
# Results

@dataclass
class Attribution:
    """A counter whose own breakpoint coincides with a bandwidth breakpoint."""
    counter: str
    breakpoint: Breakpoint      # the counter's own breakpoint (per-KiB curve)
    slope_change: str           # "up" (the counter's slope increases) | "down": the sign of delta_slope,
                                # not the counter's trend (falling then level is "up")
    consistent: bool            # counter slope change opposite to the bandwidth's (a cost explanation)
    delta_slope: float          # counter's change of slope per doubling (log2-fold if scale == "log")
    fold_change: float          # counter per KiB at to_size / at the bandwidth breakpoint
    to_size: int
    scale: str
    variants: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"counter": self.counter, "counter_breakpoint": self.breakpoint.to_dict(),
                "slope_change": self.slope_change, "consistent": self.consistent,
                "delta_slope": _jsonable(self.delta_slope), "fold_change": _jsonable(self.fold_change),
                "to_size": int(self.to_size), "scale": self.scale, "variants": list(self.variants)}


def format_vif(v) -> str:
    """VIF for people: one decimal below 10, integer below 1000, ">1000" above (beyond that it means
    "collinear", not a number to compare)."""
    if v is None or not math.isfinite(v) or v > 1000:
        return ">1000"
    return f"{v:.1f}" if v < 10 else f"{v:.0f}"


@dataclass
class Regression:
    """OLS of loop time per KiB on counters per KiB across sizes (standardised)."""
    n: int = 0
    counters: list[str] = field(default_factory=list)   # the counters fitted
    r_squared: float = float("nan")
    r_squared_adj: float = float("nan")
    coefficients: dict = field(default_factory=dict)   # standardised betas
    partial_r2: dict = field(default_factory=dict)
    vif: dict = field(default_factory=dict)
    warning: str = ""
    note: str = ""                                      # why it was not fitted, if it was not
    dropped: dict = field(default_factory=dict)         # counter -> why it was set aside
    same_as: dict = field(default_factory=dict)         # counter -> the kept counter it duplicates

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"counter": self.counters,
                             "std_coef": [self.coefficients.get(c) for c in self.counters],
                             "partial_r2": [self.partial_r2.get(c) for c in self.counters],
                             "vif": [format_vif(self.vif.get(c)) for c in self.counters]})

    def dropped_table(self) -> pd.DataFrame:
        return pd.DataFrame({"counter": list(self.dropped), "set aside": list(self.dropped.values())},
                            columns=["counter", "set aside"])

    def summary(self) -> str:
        aside = ("\nset aside: " + "; ".join(f"{c} ({why})" for c, why in self.dropped.items())) if self.dropped else ""
        if self.note:
            return f"regression of loop time per KiB: not fitted ({self.note}){aside}"
        text = (f"OLS of loop time per KiB on counters per KiB, {self.n} sizes, R^2={self.r_squared:.3f} "
                f"(adjusted {self.r_squared_adj:.3f})\n"
                + self.table().to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        return text + aside + (f"\nwarning: {self.warning}" if self.warning else "")

    def to_dict(self) -> dict:
        return {"n": self.n, "counters": self.counters, "r_squared": _jsonable(self.r_squared),
                "r_squared_adj": _jsonable(self.r_squared_adj),
                "coefficients": {k: _jsonable(v) for k, v in self.coefficients.items()},
                "partial_r2": {k: _jsonable(v) for k, v in self.partial_r2.items()},
                "vif": {k: _jsonable(v) for k, v in self.vif.items()},
                "warning": self.warning, "note": self.note, "dropped": dict(self.dropped),
                "same_as": dict(self.same_as)}


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
    constant: dict = field(default_factory=dict)        # counter -> its (constant) median value per run
    unmeasured: dict = field(default_factory=dict)      # counter -> status (e.g. not_supported): no ok value

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
                             "slope change": a.slope_change, "consistent": a.consistent,
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
                "constant": {k: _jsonable(v) for k, v in self.constant.items()},
                "unmeasured": dict(self.unmeasured),
                "notes": list(self.notes)}


@dataclass
class Explanation:
    """Per IPC mode explanations, plus the overhead of every pass."""
    modes: dict                                   # ipc -> ModeExplanation
    overhead: OverheadResult | None = None
    notes: list = field(default_factory=lambda: [ALIGN_NOTE])
    labels: dict = field(default_factory=dict)    # counter id -> human label (optional)

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
                counter=name, breakpoint=cb, slope_change="up" if cb.delta_slope > 0 else "down",
                consistent=bool(np.sign(cb.delta_slope) == -np.sign(bp.delta_slope)),
                delta_slope=cb.delta_slope, fold_change=float(fold), to_size=int(to_size), scale=fit.scale,
                variants=list(variants.get(name, []))))
        atts.sort(key=lambda a: (not a.consistent, -abs(a.delta_slope)))
        out.append(atts)
    return out


def _constant(v: pd.Series) -> bool:
    v = v.dropna().to_numpy(float)
    return len(v) == 0 or float(np.ptp(v)) <= 1e-12 * max(float(np.max(np.abs(v))), 1e-300)


def _same(a: pd.Series, b: pd.Series) -> bool:
    """Same measurement up to scale: |Pearson r| > SAME_AS_R across sizes, on the values and, when both
    are positive, on their logarithms too (values spanning decades are otherwise dominated by the
    smallest sizes: read() and all system calls per KiB agree below 64 KiB, not above)."""
    if abs(float(np.corrcoef(a, b)[0, 1])) <= SAME_AS_R:
        return False
    if (a > 0).all() and (b > 0).all():
        return abs(float(np.corrcoef(np.log(a), np.log(b))[0, 1])) > SAME_AS_R
    return True


def screen(y: pd.Series, X: pd.DataFrame) -> tuple[list[str], dict, dict]:
    """Counters to fit, in catalogue (column) order, and the others with their reason; see the module
    docstring. Returns (kept, dropped {counter: reason}, same_as {counter: kept twin})."""
    n = len(X)
    dropped, same_as = {}, {}
    distinct: list[str] = []
    for c in X.columns:
        if _constant(X[c]):
            dropped[c] = "constant across sizes"
            continue
        twin = next((k for k in distinct if _same(X[c], X[k])), None)
        if twin is not None:
            dropped[c], same_as[c] = f"same as {twin}: |r| > {SAME_AS_R} across sizes", twin
            continue
        distinct.append(c)
    limit = max(n - 2, 0)
    rho = {c: (abs(float(spearmanr(y, X[c]).statistic)) if y.nunique() > 1 else 0.0) for c in distinct}
    ranked = sorted(distinct, key=lambda c: -(rho[c] if math.isfinite(rho[c]) else 0.0))  # stable: ties keep order
    z = (X[distinct] - X[distinct].mean()) / X[distinct].std(ddof=0)
    kept: list[str] = []
    for c in ranked:
        if len(kept) >= limit:
            dropped[c] = (f"not fitted: at most {limit} counters with {n} sizes, taken by |Spearman rho| with "
                          f"loop time per KiB (this one: {rho[c]:.2f})")
        elif kept and sm.OLS(z[c].to_numpy(), z[kept].to_numpy()).fit().rsquared > COMBINATION_R2:
            dropped[c] = f"a linear combination of {', '.join(kept)}"
        else:
            kept.append(c)
    return [c for c in X.columns if c in kept], dropped, same_as


def regress(y: pd.Series, X: pd.DataFrame, vif_limit: float = VIF_LIMIT) -> Regression:
    """Standardised OLS of ``y`` on the columns of ``X`` (rows = sizes, columns in catalogue order),
    after ``screen``, with adjusted R^2, partial R^2 and VIFs."""
    data = pd.concat([y.rename("__y__"), X], axis=1).dropna()
    n = len(data)
    if n < 3:
        return Regression(n=n, note=f"{n} sizes are too few (need >= 3)")
    if _constant(data["__y__"]):
        return Regression(n=n, note="loop time per KiB does not vary across sizes")
    cols, dropped, same_as = screen(data["__y__"], data[list(X.columns)])
    p = len(cols)
    if p == 0:
        return Regression(n=n, note="no counter varies across sizes", dropped=dropped, same_as=same_as)
    z = (data[["__y__", *cols]] - data[["__y__", *cols]].mean()) / data[["__y__", *cols]].std(ddof=0)
    yz, Xz = z["__y__"].to_numpy(), z[cols].to_numpy()
    full = sm.OLS(yz, Xz).fit()
    rss_full = float(full.ssr)
    partial, vif = {}, {}
    for j, c in enumerate(cols):
        rss_red = float(sm.OLS(yz, np.delete(Xz, j, axis=1)).fit().ssr) if p > 1 else float(yz @ yz)
        # nested least squares: partial R^2 is in [0, 1]; clip round-off (e.g. -8e-14)
        partial[c] = min(max((rss_red - rss_full) / rss_red, 0.0), 1.0) if rss_red > 0 else float("nan")
        vif[c] = float(variance_inflation_factor(Xz, j)) if p > 1 else 1.0
    r2 = float(full.rsquared)
    high = [c for c in cols if vif[c] > vif_limit]
    warning = ""
    if high:
        warning = (f"collinear counters ({', '.join(high)}; VIF > {vif_limit:g}): their individual coefficients "
                   f"and partial R^2 are not reliable")
    return Regression(n=n, counters=cols, r_squared=r2, r_squared_adj=1 - (1 - r2) * (n - 1) / (n - p - 1),
                      coefficients={c: float(b) for c, b in zip(cols, full.params)},
                      partial_r2=partial, vif=vif, warning=warning, dropped=dropped, same_as=same_as)


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
    base = mode[mode["variant"] == BASELINE]
    source = BASELINE
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

    fits, variants, constant, unmeasured = {}, {}, {}, {}
    for c in counters:
        sel = mode[mode[c].notna()]
        if sel.empty:
            statuses = mode[f"{c}_status"].dropna() if f"{c}_status" in mode else pd.Series(dtype=object)
            unmeasured[c] = str(statuses.mode().iloc[0]) if len(statuses) else "not measured"
            continue
        values = per_kib(sel, c)
        variants[c] = sorted(sel["variant"].unique().tolist())
        table[c] = values.groupby(sel["buffer_size"]).median()
        if c.startswith("syscalls"):
            table[f"{c}_per_write"] = per_call(sel, c).groupby(sel["buffer_size"]).median()
        if _constant(table[c]):
            constant[c] = float(sel[c].astype(float).median())
            continue
        scale = "log" if bool((values > 0).all()) else "linear"
        try:
            fits[c] = fit_breakpoints(sel["buffer_size"].to_numpy(), values.to_numpy(), label=f"{c} per KiB",
                                      unit="per KiB", scale=scale, min_slope_change=counter_min_slope_change, **kw)
        except PmcsuiteError as exc:
            notes.append(f"{ipc}: {c} not fitted ({exc})")
    if constant:
        notes.append(f"{ipc}: constant across sizes, so left out of the fits and correlations: "
                     + ", ".join(f"{c} ({v:g} per run)" for c, v in constant.items()) + ".")
    measured = [c for c in counters if c in variants]
    reg = (regress(table["loop_ns_per_kib"], table[measured]) if "loop_ns_per_kib" in table and measured
           else Regression(note="no loop time or no counter"))
    varying = [c for c in measured if c not in constant]
    return ModeExplanation(ipc=ipc, bandwidth=bw, bandwidth_source=source, counters=fits,
                           counter_variants=variants, explained_by=attribute(bw, fits, variants),
                           regression=reg, correlations=correlations(table.reset_index(), varying),
                           table=table.reset_index(), notes=notes, constant=constant, unmeasured=unmeasured)


def explain(df: pd.DataFrame, *, n_boot: int = 200, seed: int = 0, min_slope_change: float | None = None,
            counter_min_slope_change: float | None = None, min_support: float = 0.8,
            with_overhead: bool = True, labels: dict | None = None) -> Explanation:
    """Explain every IPC mode of a result table (see the module docstring). ``labels``: counter id ->
    readable name for sentences and figures (default: ``labels.counter_labels``, from the catalogue;
    pass ``{}`` for the bare ids)."""
    runs = measured_runs(df)
    counters = counter_columns(df)
    modes = {}
    for ipc in sorted(runs["ipc"].unique()):
        modes[ipc] = explain_mode(runs, ipc, counters, n_boot=n_boot, seed=seed, min_slope_change=min_slope_change,
                                  counter_min_slope_change=counter_min_slope_change, min_support=min_support)
    ovh = None
    variants = set(runs["variant"])
    if with_overhead and BASELINE in variants and len(variants) > 1:
        ovh = overhead(runs, n_boot=n_boot, seed=seed, min_slope_change=min_slope_change, min_support=min_support)
    if labels is None:
        labels = counter_labels(counters, df.attrs.get("metadata"))
    return Explanation(modes=modes, overhead=ovh, labels=dict(labels))
