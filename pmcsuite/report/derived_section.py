"""Report section "Derived metrics": the catalogue's formulas (CPI, miss ratios, reads per write, ...)
evaluated per IPC mode and buffer size by :func:`pmcsuite.results.derived_metrics`.

``derived_section(df, meta, outdir) -> Section``: one Markdown table (a row per metric and IPC mode,
a column per buffer size), the formulas with their units, and the metrics that could not be
computed, each with the inputs it lacks and why (e.g. hardware counters on a host without a PMU).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..catalogue import result_catalogue
from ..results.load import derived_metrics, measured
from ..sizes import format_size
from .toolbox import Section, md_escape, md_table

TITLE = "Derived metrics"
NOTE = ("Each counter is first reduced to its median per IPC mode and buffer size over the successful, "
        "non-warm-up runs that measured it, whatever their pass; the formula is evaluated on those medians. "
        "Counters from different passes were measured in different runs, so a derived value is a ratio (or "
        "sum) of medians, not a median of per-run ratios.")


def _names(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _why_missing(counter: str, runs: pd.DataFrame, cat) -> str:
    """'cycles (hardware counter: not supported)' / 'syscalls_all (tracepoint: not collected)'."""
    known = cat.counters.get(counter)
    if known is None:
        kind = "not in the catalogue"
    else:
        kind = "tracepoint" if known.kind == "tracepoint" else f"{known.kind} counter"
    status = runs[f"{counter}_status"].dropna() if f"{counter}_status" in runs.columns else pd.Series(dtype=object)
    state = str(status.mode().iloc[0]).replace("_", " ") if len(status) else "not collected"
    return f"{counter} ({kind}: {state})"


def _missing_lines(cat, table: pd.DataFrame, runs: pd.DataFrame) -> tuple[list[str], bool]:
    """One Markdown bullet per derived metric without any value, and whether a hardware counter is missing."""
    have = set(table["metric"])
    measured_ids = {c for c in runs.columns if f"{c}_status" in runs.columns and runs[c].notna().any()}
    lines, hardware = [], False
    for name, metric in cat.derived.items():
        if name in have:
            continue
        lacking = [c for c in metric.names if c not in measured_ids]
        if lacking:
            hardware |= any(getattr(cat.counters.get(c), "kind", None) == "hardware" for c in lacking)
            why = _names([_why_missing(c, runs, cat) for c in lacking])
            lines.append(f"- {md_escape(name)} — {md_escape(metric.description)} — needs {md_escape(why)}")
        else:
            lines.append(f"- {md_escape(name)} — {md_escape(metric.description)} — has its inputs measured, but "
                         f"its denominator is 0 in every cell")
    return lines, hardware


def _runs_per_input(runs: pd.DataFrame, names: list[str]) -> str:
    """'cycles 8, instructions 8' (runs per IPC mode and size behind each median; 'min-max' when it varies)."""
    keys = [runs[k].astype(object).fillna("") for k in ("ipc", "actors", "placement", "buffer_size")]
    counts = runs[names].notna().groupby(keys).sum()
    parts = []
    for c in names:
        n = counts[c][counts[c] > 0]
        lo, hi = int(n.min()), int(n.max())
        parts.append(f"{c} {lo}" if lo == hi else f"{c} {lo}-{hi}")
    return ", ".join(parts)


def _wide(table: pd.DataFrame) -> pd.DataFrame:
    """Long derived table -> one row per metric (and cell) x one column per buffer size."""
    keys = ["ipc"] + [k for k in ("actors", "placement") if table[k].nunique(dropna=False) > 1]
    order = {m: i for i, m in enumerate(dict.fromkeys(table["metric"]))}
    frame = table.assign(metric=table["metric"] + " (" + table["unit"].fillna("") + ")",
                         _order=table["metric"].map(order))
    frame[keys] = frame[keys].astype(object).where(frame[keys].notna(), "—")
    wide = frame.pivot_table(index=["_order", "metric", *keys], columns="buffer_size", values="value",
                             aggfunc="first", sort=True)
    sizes = sorted(wide.columns)
    wide = wide[sizes].reset_index().drop(columns="_order")
    return wide.rename(columns={"ipc": "IPC mode", **{s: format_size(int(s)) for s in sizes}})


def derived_section(df: pd.DataFrame, meta: dict, outdir: Path) -> Section:
    """``(df, meta, outdir) -> Section`` (see the module docstring); ``outdir`` is unused: no figure."""
    cat = result_catalogue(meta)
    if cat is None:
        return Section(TITLE, "The counter catalogue could not be loaded, so no derived metric was computed.\n")
    runs = measured(df)
    table = derived_metrics(df, cat)
    missing, hardware = _missing_lines(cat, table, runs)
    text = []
    if table.empty:
        text += ["No derived metric has all its inputs measured here:", ""] + missing
    else:
        formulas = pd.DataFrame([{"metric": name, "formula": cat.derived[name].formula, "unit": cat.derived[name].unit,
                                  "description": cat.derived[name].description}
                                 for name in dict.fromkeys(table["metric"])])
        formulas["runs per median"] = [_runs_per_input(runs, cat.derived[m].names) for m in formulas["metric"]]
        text += [md_table(_wide(table)), "", md_table(formulas), "", f"*{NOTE}*"]
        if missing:
            text += ["", "Not computed here:", ""] + missing
    if hardware:
        text += ["", "Hardware counters are counted only where the CPU has a performance monitoring unit that the "
                     "counting tool can open, and only for the groups collected (`pmcsuite check` lists what a host "
                     "can count; `pmcsuite collect --counters GROUPS` chooses them)."]
    if cat.note:
        text += ["", f"*Catalogue: {md_escape(cat.note)}.*"]
    return Section(TITLE, "\n".join(text) + "\n")
