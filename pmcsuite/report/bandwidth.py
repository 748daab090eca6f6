"""The bandwidth section: median bandwidth vs buffer size (figure + table) and the warnings a
reader needs before trusting the medians (failed runs, busy CPU, sanity checks, multiplexing)."""
from pathlib import Path

import pandas as pd
from matplotlib.lines import Line2D

from ..results.load import BUSY_LIMIT, measured, summarise
from ..schema import BASELINE, MIB
from ..sizes import format_size
from .toolbox import (Figure, Section, figure_path, fold, interval, ipc_colour, ipc_marker, md_escape, new_figure,
                      number, percent, pipe_table, ratio, save_figure, size_axis)

_MARKERS = ["s", "^", "D", "v", "P", "X", "<", ">", "*"]
_MAX_ITEMS = 20            # per warning kind, longer lists are cut with "... and N more"


def series_labels(summary: pd.DataFrame) -> pd.Series:
    """One label per line colour: the IPC mode, plus actors/placement when those vary."""
    label = summary["ipc"].astype(str)
    for key in ("actors", "placement"):
        if summary[key].nunique(dropna=False) > 1:
            label = label + " " + summary[key].astype(str)
    return label


def bandwidth_summary(df: pd.DataFrame, meta: dict | None = None) -> pd.DataFrame:
    """``summarise(df, "bandwidth")`` in MiB/s, with a ``series`` label column, ordered as the plan
    lists IPC modes and passes (baseline first) when ``meta`` is given."""
    summary = summarise(df, "bandwidth")
    for column in ("median", "q25", "q75", "min", "max", "mean", "std"):
        summary[column] = summary[column] / MIB
    summary["series"] = series_labels(summary) if len(summary) else pd.Series(dtype=object)
    plan = (meta or {}).get("plan") or {}
    ipcs = list(plan.get("ipc") or [])
    passes = [p.get("name") for p in plan.get("passes") or []]
    ranks = summary.assign(
        _ipc=summary["ipc"].map(lambda v: ipcs.index(v) if v in ipcs else len(ipcs)),
        _variant=summary["variant"].map(lambda v: -1 if v == BASELINE else passes.index(v) if v in passes
                                        else len(passes)))
    ranks = ranks.sort_values(["_ipc", "series", "buffer_size", "_variant", "variant"], kind="stable")
    return ranks.drop(columns=["_ipc", "_variant"]).reset_index(drop=True)


def _variants(summary: pd.DataFrame) -> list[str]:
    """Variants with the baseline first, then in order of appearance."""
    names = list(dict.fromkeys(summary["variant"]))
    return sorted(names, key=lambda v: v != BASELINE)


def _style(variant: str, variants: list[str], label: str = "") -> dict:
    """Baseline solid, with the IPC mode's marker; each instrumented variant dashed with its own marker."""
    if variant == BASELINE:
        return {"linestyle": "-", "marker": ipc_marker(label) if label else "o"}
    others = [v for v in variants if v != BASELINE]
    return {"linestyle": "--", "marker": _MARKERS[others.index(variant) % len(_MARKERS)]}


def plot_bandwidth(summary: pd.DataFrame, title: str, path: Path, series=None, variants=None) -> Path:
    """Median MiB/s vs buffer size (log2 axis), one colour per series, q25..q75 error bars; only
    ``variants`` when given (the report draws the baseline alone: one line per mode)."""
    data = summary if series is None else summary[summary["series"].isin(series)]
    if variants is not None:
        data = data[data["variant"].isin(variants)]
    data = data[data["n"] > 0].sort_values("buffer_size")
    labels = list(dict.fromkeys(summary["series"]))
    if summary["series"].nunique() == summary["ipc"].nunique():
        colours = {label: ipc_colour(label) for label in labels}        # one series per IPC mode
    else:                                                               # several actors/placements per mode
        colours = {label: f"C{i % 10}" for i, label in enumerate(labels)}
    variants = _variants(summary)
    fig = new_figure(9.0, 4.4)
    fig.subplots_adjust(left=0.105, right=0.82, bottom=0.13, top=0.91)
    ax = fig.add_subplot()
    for (label, variant), cell in data.groupby(["series", "variant"], sort=False):
        x = cell["buffer_size"].astype(float).to_numpy()
        y = cell["median"].to_numpy()
        err = [y - cell["q25"].to_numpy(), cell["q75"].to_numpy() - y]
        ax.errorbar(x, y, yerr=err, color=colours[label], capsize=3, linewidth=1.6, markersize=5,
                    **_style(variant, variants, label))
    size_axis(ax, data["buffer_size"])
    ax.set_ylabel("bandwidth (MiB/s)")
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=11)
    shown = [v for v in variants if v in set(data["variant"])]
    one_series = data["series"].nunique() == 1
    if not one_series:
        present = [label for label in labels if label in set(data["series"])]
        fig.legend([Line2D([], [], color=colours[label], marker=ipc_marker(label)) for label in present], present,
                   title="IPC mode", loc="upper right", fontsize=8, title_fontsize=8)
    if len(shown) > 1 or one_series:
        colour = colours[data["series"].iloc[0]] if one_series else "0.2"
        fig.legend([Line2D([], [], color=colour, **_style(v, variants)) for v in shown], shown,
                   title="variant", loc="lower right" if not one_series else "upper right",
                   fontsize=8, title_fontsize=8)
    return save_figure(fig, path)


def bandwidth_table(summary: pd.DataFrame) -> str:
    """Markdown table: per series and buffer size, the baseline median MiB/s [q25–q75] (n) and
    each instrumented variant's median (with its ratio to the baseline median)."""
    variants = _variants(summary)
    header = ["IPC", "buffer"]
    header += [md_escape(f"{v} MiB/s [q25–q75] (n)" if v == BASELINE else f"{v} MiB/s (n, ×baseline)")
               for v in variants]
    rows = []
    cells = summary.set_index(["series", "buffer_size", "variant"])
    for (label, size), _ in summary.groupby(["series", "buffer_size"], sort=False):
        row = [md_escape(label), format_size(size)]
        base = cells.loc[(label, size, BASELINE)] if (label, size, BASELINE) in cells.index else None
        for variant in variants:
            if (label, size, variant) not in cells.index:
                row.append("")
                continue
            cell = cells.loc[(label, size, variant)]
            if cell["n"] == 0:
                row.append("— (0)")
            elif variant == BASELINE:
                row.append(f"{number(cell['median'])} [{interval(cell['q25'], cell['q75'], number)}] ({cell['n']})")
            else:
                times = "" if base is None or not base["median"] else f", ×{ratio(cell['median'] / base['median'], 2)}"
                row.append(f"{number(cell['median'])} ({cell['n']}{times})")
        rows.append(row)
    return pipe_table(header, rows, right=range(2, len(header)))


def _point(row) -> str:
    return f"{row['ipc']} {format_size(row['buffer_size'])} {row['variant']}"


def _cut(items: list[str]) -> list[str]:
    if len(items) > _MAX_ITEMS:
        return items[:_MAX_ITEMS] + [f"... and {len(items) - _MAX_ITEMS} more"]
    return items


def warning_list(df: pd.DataFrame) -> list[str]:
    """Plain-text warnings about the data behind the medians (empty list when all is clean)."""
    items = []
    skipped = df.attrs.get("skipped_lines") or []
    if skipped:
        items.append(f"runs.jsonl lines {', '.join(map(str, skipped))} were corrupt or truncated and were skipped.")
    keys = ["ipc", "buffer_size", "variant"]
    failed = []
    # counted per cell on the key columns alone (slicing the wide table per cell was most of the time)
    ok = df["ok"].astype(bool)
    per_cell = df[keys].assign(_bad=~ok).groupby(keys, sort=True)["_bad"].agg(["sum", "size"])
    bad_rows = df.loc[~ok, keys + ["error"]]
    first_error = bad_rows.dropna(subset=["error"]).groupby(keys, sort=True)["error"].first()
    for key, row in per_cell[per_cell["sum"] > 0].iterrows():
        error = first_error.get(key, "none given")
        failed.append(f"{_point(dict(zip(keys, key)))}: {int(row['sum'])} of {int(row['size'])} runs failed "
                      f"(first error: {error}).")
    items += _cut(failed)
    runs = measured(df)
    busy = []
    shared_cells = runs[keys].assign(_shared=runs["shared_cpu"].astype(bool)).groupby(keys, sort=True)["_shared"] \
        .agg(["sum", "size"])
    for key, row in shared_cells[shared_cells["sum"] > 0].iterrows():
        busy.append((_point(dict(zip(keys, key))), int(row["sum"]), int(row["size"])))
    ok_runs = df[ok]
    shared_ok = ok_runs["shared_cpu"].fillna(False).astype(bool)
    if shared_ok.any():
        # counted as 'pmcsuite collect' prints it (collection.summary_lines: every successful run, warm-ups
        # included), then split: only the measured ones enter the medians
        total = int(shared_ok.sum())
        in_measured = sum(b[1] for b in busy)
        every = bool(busy) and len(busy) == len(shared_cells) and all(n == of for _, n, of in busy)
        per_point = [f"{point} {n}/{of}" for point, n, of in busy]
        if len(per_point) > _MAX_ITEMS:
            per_point = per_point[:_MAX_ITEMS] + [f"and {len(per_point) - _MAX_ITEMS} more points"]
        items.append(f"{total} of {len(ok_runs)} successful runs shared the CPU with other work ({in_measured} of the "
                     f"{len(runs)} measured runs, {total - in_measured} warm-ups; others used more than "
                     f"{percent(BUSY_LIMIT)} of the machine's CPU time, or, for runs too short to tell from "
                     "/proc/stat, another task was runnable before and after the run); their timings may be slow: each "
                     "process's median hides a few such runs, not many."
                     + (" Every measured run of every point." if every else
                        " Measured runs per point: " + "; ".join(per_point) + "." if busy else ""))
    sanity = [f"{_point(df.loc[w['row']])} run {df.loc[w['row'], 'run']}: {w['warning']}"
              for w in df.attrs.get("warnings") or []]
    items += _cut(sanity)
    scaled = pd.DataFrame(df.attrs.get("multiplexed") or [], columns=["row", "counter", "pcnt_running"])
    for counter, cell in scaled.groupby("counter", sort=False):
        items.append(f"counter {counter} was multiplexed (scaled) in {len(cell)} run(s), running as little as "
                     f"{percent(cell['pcnt_running'].min() / 100)} of the time; its values are estimates.")
    for counter in df.attrs.get("counters") or []:
        status = df[f"{counter}_status"].dropna()
        if len(status) and not (status == "ok").any():
            reasons = ", ".join(f"{s} ×{n}" for s, n in status.value_counts().items())
            items.append(f"counter {counter} was never counted ({reasons}): it is reported as missing, not zero.")
    return items


def worst_cells(df: pd.DataFrame, n: int = 5) -> list[str]:
    """The cells with the largest share of failed or CPU-sharing runs: 'pipe 4K baseline (4 of 6 runs)'."""
    keys = ["ipc", "buffer_size", "variant"]
    bad = ~df["ok"].fillna(False).astype(bool)
    if "shared_cpu" in df:
        bad |= df["shared_cpu"].fillna(False).astype(bool)
    cells = df[keys].assign(_bad=bad).groupby(keys, sort=True)["_bad"].agg(["sum", "size"])
    cells = cells[cells["sum"] > 0].assign(share=lambda c: c["sum"] / c["size"])
    cells = cells.sort_values(["share", "sum"], ascending=False, kind="stable").head(n)
    return [f"{_point(dict(zip(keys, key)))} ({int(r['sum'])} of {int(r['size'])} runs)" for key, r in cells.iterrows()]


def warnings_markdown(df: pd.DataFrame, warnings: list[str] | None = None) -> str:
    """The warnings, summarised (a count, the worst cells) with the full list folded."""
    warnings = warning_list(df) if warnings is None else warnings
    if not warnings:
        return "None: no failed, busy, multiplexed or suspicious runs.\n"
    lines = [f"**{len(warnings)} warning(s).**"]
    worst = worst_cells(df)
    if worst:
        lines[0] += " Cells with the most failed or CPU-sharing runs: " + md_escape("; ".join(worst)) + "."
    lines.append("")
    short = [w if len(w) <= 300 else w[:297] + "…" for w in warnings[:3]]
    lines += [f"- {md_escape(w)}" for w in short]
    lines.append("")
    lines.append(fold(f"All {len(warnings)} warning(s) in full", "\n".join(f"- {md_escape(w)}" for w in warnings)))
    return "\n".join(lines) + "\n"


def lost_groups_markdown(meta: dict) -> str:
    """The counter groups the collection should have counted here but lost (tracefs not mounted and
    not root, ...), each with why and the command that brings it back; '' when none was lost."""
    lost = meta.get("lost_groups") or {}
    if not isinstance(lost, dict) or not lost:
        return ""
    lines = [f"**Groups lost on this machine ({len(lost)}):** not measured, though the machine can count them."]
    lines += [f"- {md_escape(group)}: {md_escape(why)}" for group, why in sorted(lost.items())]
    return "\n".join(lines) + "\n\n"


def section(df: pd.DataFrame, meta: dict, outdir: Path, ctx=None) -> Section:
    """Median bandwidth vs buffer size: one figure for all IPC modes (baseline), the table (folded when
    long), warnings (summarised, the full list folded)."""
    summary = ctx.summary if ctx is not None else bandwidth_summary(df, meta)
    host = (meta.get("host") or {}).get("hostname") or "unknown host"
    platform = ", ".join(meta.get("platform") or []) or "unknown platform"
    total = meta.get("plan", {}).get("total_size")
    text = []
    figures = []
    if (summary["n"] > 0).any():
        has_base = (summary["variant"] == BASELINE).any()
        drawn = [BASELINE] if has_base else None
        what = "baseline runs (no counters)" if has_base else "runs"
        title = f"Median bandwidth of the {what} — {host} ({platform})"
        caption = (f"Median bandwidth (MiB/s) of the successful, non-warm-up {what} at each buffer size, one colour "
                   "and marker per IPC mode; error bars span the interquartile range (q25 to q75)."
                   + (" The instrumented passes are compared with it in the probe-effect figure." if has_base else "")
                   + (f" {format_size(total)} moved per run." if total else ""))
        figures.append(Figure(plot_bandwidth(summary, title, figure_path(outdir, "bandwidth.png"), variants=drawn),
                              caption))
        table = bandwidth_table(summary)
        intro = ("Median MiB/s per cell (n = runs with a value). Instrumented variants show their "
                 "median and its ratio to the baseline median (the probe effect).\n")
        rows = table.count("\n") - 1
        text.append(intro)
        text.append(table if rows <= 12 else fold(f"Table: median bandwidth per cell ({rows} rows)", table))
    else:
        text.append("No successful, non-warm-up run measured a bandwidth: there is nothing to plot.")
    text.append("\n### Warnings\n")
    text.append(lost_groups_markdown(meta) + warnings_markdown(df))
    return Section("Bandwidth vs buffer size", "\n".join(text) + "\n", figures)
