"""What several sections show, computed once per report and handed to them.

``ReportContext(df, meta)`` computes on first use and keeps: the measured runs, the bandwidth
summary, the explanation (``analysis.explain``, which includes the overhead), its findings, the
kernel view (its probe-effect table taken from the same overhead), and the description of the runs
actually measured (runs per point, processes, warm-ups). :func:`call_section` calls a section
function with ``ctx=`` when it accepts it, else as ``(df, meta, outdir)``.
"""
from __future__ import annotations

import dataclasses
import inspect
from functools import cached_property

import pandas as pd

from ..analysis import explain
from ..analysis.findings import findings as findings_of
from ..analysis.kernel import PROBE_COLUMNS, kernel_view
from ..results.load import measured
from ..schema import BASELINE
from .bandwidth import bandwidth_summary


def call_section(make, df, meta, outdir, ctx):
    """``make(df, meta, outdir, ctx=ctx)`` if ``make`` takes ``ctx`` (or ``**kwargs``), else without it."""
    try:
        params = inspect.signature(make).parameters
    except (TypeError, ValueError):
        params = {}
    takes = "ctx" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return make(df, meta, outdir, ctx=ctx) if takes else make(df, meta, outdir)


def _span(values) -> str:
    values = sorted({int(v) for v in values})
    if not values:
        return "0"
    return str(values[0]) if len(values) == 1 else f"{values[0]}-{values[-1]}"


class ReportContext:
    """Shared, lazily computed results of one report (module docstring)."""

    def __init__(self, df: pd.DataFrame, meta: dict | None = None, **explain_kwargs):
        self.df = df
        self.meta = meta if meta is not None else df.attrs.get("metadata") or {}
        self.explain_kwargs = explain_kwargs

    @cached_property
    def runs(self) -> pd.DataFrame:
        return measured(self.df)

    @cached_property
    def summary(self) -> pd.DataFrame:
        return bandwidth_summary(self.df, self.meta)

    @cached_property
    def expl(self):
        """The explanation (None without measured runs)."""
        if self.runs.empty:
            return None
        return explain(self.df, **self.explain_kwargs)

    @property
    def overhead(self):
        return None if self.expl is None else self.expl.overhead

    @cached_property
    def findings(self) -> list[dict]:
        if self.expl is None:
            return []
        return findings_of(self.expl)

    @cached_property
    def kernel(self):
        """The kernel view; its probe-effect table comes from this report's overhead (not recomputed)."""
        view = kernel_view(self.df, probe=False)
        probe = None
        if not view.tracepoint_passes:
            probe = pd.DataFrame(columns=PROBE_COLUMNS)
        elif self.overhead is not None and not self.overhead.modes.empty:
            modes = self.overhead.modes[self.overhead.modes["variant"].isin(view.tracepoint_passes)]
            if not modes.empty:
                probe = modes[[c for c in PROBE_COLUMNS if c in modes.columns]].reset_index(drop=True)
        return dataclasses.replace(view, probe=probe)

    @cached_property
    def shared_cpu(self) -> dict:
        """Runs that shared the CPU, counted as ``pmcsuite collect`` prints it (``collection.summary_lines``:
        successful runs, warm-ups included) and split into measured runs and warm-ups."""
        ok = self.df[self.df["ok"].fillna(False).astype(bool)]
        shared = ok["shared_cpu"].fillna(False).astype(bool) if "shared_cpu" in ok else pd.Series(False, index=ok.index)
        warm = ok["warmup"].fillna(False).astype(bool)
        return {"ok": len(ok), "shared": int(shared.sum()), "shared_measured": int((shared & ~warm).sum()),
                "shared_warmup": int((shared & warm).sum()), "measured": int((~warm).sum())}

    @cached_property
    def runs_measured(self) -> str:
        """What was measured per point, from the data: '6 runs per point in 2 processes of 3 iterations;
        the first iteration of each process is a warm-up, so 4 measured runs per point'."""
        df = self.df
        if df.empty:
            return "no runs"
        keys = ["ipc", "buffer_size", "variant"]
        cells = df.groupby(keys, sort=False, dropna=False)
        per_point = cells.size()
        warm = cells["warmup"].apply(lambda s: int(s.fillna(False).astype(bool).sum()))
        ok = df["ok"].fillna(False).astype(bool) & ~df["warmup"].fillna(False).astype(bool)
        meas = ok.groupby([df[k] for k in keys], sort=False, dropna=False).sum()
        text = f"{_span(per_point)} runs per point"
        procs = None
        if "process" in df and df["process"].notna().any():
            procs = cells["process"].nunique()
            iters = df.groupby(keys + ["process"], sort=False, dropna=False).size()
            if int(procs.max()) > 1 or int(iters.max()) > 1:
                text += f" in {_span(procs)} benchmark process(es) of {_span(iters)} iteration(s)"
        if int(warm.max()) == 0:
            text += ", no warm-ups"
        else:
            each = procs is not None and int(procs.max()) > 1 and bool((warm.to_numpy() == procs.to_numpy()).all())
            text += f", {_span(warm)} of them warm-up(s)" + (" (the first iteration of each process)" if each else "")
        text += f": {_span(meas)} measured (successful, not warm-up) runs per point"
        variants = list(dict.fromkeys(df["variant"]))
        if len(variants) > 1:
            text += f", for the baseline and each of {len([v for v in variants if v != BASELINE])} pass(es)"
        return text
