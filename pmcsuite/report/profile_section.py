"""Report section "Where the time goes (kernel profile)", shown only when the runs carry the profile
(``profile_<category>`` columns with values): the computations are :mod:`pmcsuite.analysis.profile`.

- a stacked share of the sampled time by category across buffer sizes, per IPC mode (the study's
  Figure 2b), with the shares and the time per KiB (intervals over benchmark processes) in tables;
- time under the page-fault path against the loop's time per buffer size (Figure 6; an estimate);
- for chosen points (per mode the smallest, a middle and the largest size, and the ends of a finding
  whose cause is a profile category) a flame graph: the folded stacks of every measured run of the
  point in ``OUT/profiles/<ipc>-<size>.folded`` (FlameGraph, inferno and speedscope read them) and an
  icicle figure (root at the top, width = samples);
- the top functions the catalogue's patterns put in no category, to extend them with ``--catalogue``.

The cost of sampling is the profile pass's probe effect: the overhead section measures it like any
pass's. Every name from the result files reaches the page escaped (``md_escape``, captions by render).
"""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection

from ..analysis.labels import is_profile_counter
from ..analysis.profile import (ESTIMATE, ProfileResult, add_folded, chosen_points, folded_text, has_profile,
                                icicle, merge_folded, profile, unmatched_functions)
from ..results.store import ResultStore
from ..sizes import format_size
from .toolbox import (MISSING, Figure, Section, figure_path, fold, interval, ipc_colour, ipc_marker, level_text,
                      md_escape, new_figure, number, percent, pipe_table, save_figure, size_axis, slug)

TITLE = "Where the time goes (kernel profile)"
PROFILES = "profiles"          # the folded-stack files' folder beside the report
MAX_DEPTH = 40                 # frames drawn from the root (``icicle``'s cap)
MAX_PANELS = 5                 # flame graphs per IPC mode
TOP_UNMATCHED = 15
CHAR = 0.0052                  # the width of one label character, as a fraction of an icicle panel
MIN_WIDTH = 0.0005             # an icicle box narrower than this share of the samples is not drawn
METHOD = ("Each run samples both actors' call stacks while they transfer (only the measured loop, never the "
          "harness). A category's *share* is its samples over all samples; per benchmark process the ratio of "
          "sums over its measured runs, per point the 20 %-trimmed mean over processes with its t interval "
          "(the process is the unit, as everywhere in this report). *Time per KiB* is samples x period x 1024 / "
          "bytes moved: " + ESTIMATE + ", of CPU time summed over both actors, so a point's categories can add "
          "up to more than the loop's wall time per KiB. A stack's category (decided when it was collected, by the "
          "catalogue's patterns) is the first category marked *under* that matches any of its frames (e.g. "
          "everything the page-fault handler calls), else that of the frame nearest the leaf that matches one; "
          "a stack with no kernel frame is user code; the rest is *other*.")


# ----------------------------------------------------------------------------- figures

def plot_faults(result: ProfileResult, path: Path, modes=None) -> Path | None:
    """Per IPC mode the time under the fault path (dashed) and the loop's time (solid), ms per run, with
    their intervals, against the buffer size (log-log)."""
    faults = result.faults
    if faults.empty:
        return None
    fig = new_figure(8, 3.8, dpi=90)
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.15, top=0.9)
    ax = fig.add_subplot()
    for ipc in modes if modes is not None else list(dict.fromkeys(faults["ipc"])):
        part = faults[faults["ipc"] == ipc]
        x = part["buffer_size"].to_numpy(float)
        for column, style, what in (("loop", "-", "loop"), ("fault", "--", "page faults (estimate)")):
            y = part[f"{column}_ms"].to_numpy(float)
            err = np.vstack([y - part[f"{column}_low"].to_numpy(float), part[f"{column}_high"].to_numpy(float) - y])
            ax.errorbar(x, y, yerr=np.maximum(np.nan_to_num(err), 0), fmt=style, marker=ipc_marker(ipc),
                        markersize=3, capsize=2, color=ipc_colour(ipc), label=f"{ipc}: {what}")
    positive = faults[["fault_ms", "loop_ms"]].to_numpy(float)
    if (positive[np.isfinite(positive)] > 0).all():
        ax.set_yscale("log")
    size_axis(ax, faults["buffer_size"], fontsize=8)
    ax.set_ylabel("ms per run")
    ax.set_title("Time in page faults vs loop time", fontsize=10)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def _colour(name: str) -> tuple:
    """A warm colour fixed by the frame's name (FlameGraph's palette); actor roots and [user] apart."""
    if name in ("writer", "reader"):
        return (0.55, 0.7, 0.85)
    if name == "[user]":
        return (0.6, 0.8, 0.6)
    h = zlib.crc32(name.encode("utf-8", "replace"))
    return (0.85 + 0.15 * (h % 97) / 96, 0.35 + 0.45 * ((h >> 8) % 89) / 88, 0.15 + 0.2 * ((h >> 16) % 83) / 82)


def _label(name: str, width: float) -> str:
    """``name`` cut to fit ``width`` (a fraction of the panel), '' when fewer than 3 characters fit."""
    room = int(width / CHAR) - 1
    if room < 3:
        return ""
    return name if len(name) <= room else name[:room - 1] + "…"


def draw_icicle(ax, folded: dict, title: str) -> None:
    """One icicle panel: a box per frame at least ``MIN_WIDTH`` of the samples wide (narrower ones would be
    under a pixel), root at the top, width = its share of the samples; one collection for all boxes."""
    boxes = icicle(folded, MAX_DEPTH)
    total = sum(b.width for b in boxes if b.depth == 0) or 1
    boxes = [b for b in boxes if b.width / total >= MIN_WIDTH]
    depth = max((b.depth for b in boxes), default=0) + 1
    ax.add_collection(PolyCollection(
        [[(b.start / total, -b.depth - 1), ((b.start + b.width) / total, -b.depth - 1),
          ((b.start + b.width) / total, -b.depth - 0.06), (b.start / total, -b.depth - 0.06)] for b in boxes],
        facecolors=[_colour(b.name) for b in boxes], edgecolors="white", linewidths=0.3))
    for b in boxes:
        text = _label(b.name, b.width / total)
        if text:
            ax.text((b.start + b.width / 2) / total, -b.depth - 0.53, text, ha="center", va="center", fontsize=6,
                    parse_math=False, clip_on=True)
    ax.set_xlim(0, 1)
    ax.set_ylim(-depth - 0.1, 0)
    ax.set_yticks([])
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0", "25 %", "50 %", "75 %", "100 %"], fontsize=7)
    ax.set_title(title, fontsize=9, loc="left")


def _depth(folded: dict) -> int:
    """Frames in the deepest stack drawn (``icicle`` caps it)."""
    return min(max((stack.count(";") + 1 for stack in folded), default=1), MAX_DEPTH)


def plot_flames(ipc: str, stacks: list[tuple[int, dict]], path: Path) -> Path:
    """The icicle panels of one IPC mode's chosen points (``stacks``: (size, folded) pairs)."""
    depths = [_depth(f) for _, f in stacks]
    heights = [0.6 + 0.17 * d for d in depths]
    fig = new_figure(11, sum(heights) + 0.3, dpi=90)
    axes = fig.subplots(len(stacks), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.3 / fig.get_figheight(),
                        top=1 - 0.25 / fig.get_figheight(), hspace=0.5)
    for ax, (size, folded) in zip(axes, stacks):
        draw_icicle(ax, folded, f"{ipc} {format_size(size)}: {number(sum(folded.values()))} samples")
    return save_figure(fig, path)


# ----------------------------------------------------------------------------- stacks

def _records(df: pd.DataFrame):
    """The run records of the table's result directory ([] when it has none)."""
    directory = df.attrs.get("directory") if hasattr(df, "attrs") else None
    if not directory or not (Path(directory) / "runs.jsonl").exists():
        return []
    return (record for _, record in ResultStore(directory).iter_runs())


def _categoriser(meta: dict):
    """The catalogue's stack -> category rule (kernel frames leaf first -> name) for this result's
    catalogue and OS; None when there is none."""
    from ..catalogue import builtin_catalogue, result_catalogue
    try:
        from ..collect.profile import categorise
    except ImportError:         # pmcsuite without the profile's collect side
        return None
    cat = result_catalogue(meta) or builtin_catalogue()
    categories = getattr(cat, "profile_categories", ())
    system = "freebsd" if str((meta.get("host") or {}).get("os", "")).lower() == "freebsd" else "linux"
    return (lambda frames: categorise(frames, categories, system)) if categories else None


def folded_stacks(df: pd.DataFrame, points) -> tuple[dict, dict]:
    """({point: merged folded stacks} for ``points``, every measured run's stacks merged): one pass over
    the run records."""
    wanted = set(points)
    chosen, everything = {}, {}
    for point, folded in merge_folded(_records(df)).items():
        add_folded(everything, folded)
        if point in wanted:
            chosen[point] = folded
    return chosen, everything


def write_folded(outdir: Path, stacks: dict) -> dict:
    """Write each point's stacks as ``OUT/profiles/<ipc>-<size>.folded``; {point: path}."""
    folder = Path(outdir) / PROFILES
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for (ipc, size), folded in stacks.items():
        path = folder / f"{slug(ipc)}-{format_size(size)}.folded"
        path.write_text(folded_text(folded), encoding="utf-8")
        out[(ipc, size)] = path
    return out


def _finding_points(findings: list) -> list[tuple[str, int]]:
    """The ends of the findings whose named cause is a profile category."""
    out = []
    for f in findings or []:
        if "ipc" in f and any(is_profile_counter(c.get("id", "")) for c in f.get("counters") or []):
            out += [(f["ipc"], int(s)) for s in (f.get("from_size", f.get("size")), f.get("to_size")) if s]
    return out


# ----------------------------------------------------------------------------- text

def _share_table(result: ProfileResult, ipc: str) -> str:
    """Categories x sizes: each share with its interval."""
    return _category_table(result, ipc, _share_cell)


def _category_table(result: ProfileResult, ipc: str, show) -> str:
    """A row per category of ``result`` measured in ``ipc``, a column per size, each cell ``show(cells, size)``."""
    part = result.table[result.table["ipc"] == ipc]
    sizes = sorted(part["buffer_size"].astype(int).unique())
    rows = []
    for c in result.categories:
        cells = part[part["category"] == c].set_index("buffer_size")
        if not cells.empty:
            rows.append([md_escape(result.labels.get(c, c))] + [show(cells, s) for s in sizes])
    return pipe_table(["category"] + [format_size(s) for s in sizes], rows, right=range(1, len(sizes) + 1))


def _with_interval(value, low, high, show) -> str:
    """'12 % (9.1 %–15 %)'; the value alone when there is no interval."""
    bounds = interval(low, high, show)
    return show(value) + ("" if bounds == MISSING else f" ({bounds})")


def _share_cell(cells: pd.DataFrame, size: int) -> str:
    if size not in cells.index:
        return MISSING
    r = cells.loc[size]
    return _with_interval(r["share"], r["share_low"], r["share_high"], percent)


def _time_table(result: ProfileResult, ipc: str) -> str:
    """Categories x sizes: ns per KiB with its interval (an estimate)."""
    return _category_table(result, ipc, _time_cell)


def _time_cell(cells: pd.DataFrame, size: int) -> str:
    if size not in cells.index:
        return MISSING
    r = cells.loc[size]
    return _with_interval(r["ns_per_kib"], r["ns_low"], r["ns_high"], number)


def _fault_table(result: ProfileResult, modes: list[str]) -> str:
    faults = result.faults.assign(_order=result.faults["ipc"].map({m: k for k, m in enumerate(modes)}))
    rows = [[md_escape(r.ipc), format_size(int(r.buffer_size)),
             _with_interval(r.fault_ms, r.fault_low, r.fault_high, number),
             _with_interval(r.loop_ms, r.loop_low, r.loop_high, number),
             _with_interval(r.fraction, r.fraction_low, r.fraction_high, percent)]
            for r in faults.sort_values(["_order", "buffer_size"]).itertuples()]
    return pipe_table(["IPC", "buffer", "page faults (ms per run, estimate)", "loop (ms per run)",
                       "faults / loop"], rows, right=(2, 3, 4))


def _unmatched_text(everything: dict, meta: dict) -> str:
    categorise = _categoriser(meta)
    if categorise is None or not everything:
        return ""
    top = unmatched_functions(everything, categorise, TOP_UNMATCHED)
    if top.empty:
        return "Every sampled kernel stack matched a category of the catalogue."
    rows = [[md_escape(f), str(n), percent(o), percent(a)] for f, n, o, a in top.itertuples(index=False)]
    unknown = ("\n\n`[unknown]` is a kernel address without a symbol: the benchmark's machine hid /proc/kallsyms "
               "(collect as root, or `sysctl kernel.kptr_restrict=0`).") if "[unknown]" in set(top["function"]) else ""
    return ("The functions most often at the leaf of a stack no category matched (*other*), over every measured "
            "run. To put them in a category, add a pattern for them to it in the `profile:` section of a catalogue "
            "file and collect again with `pmcsuite collect --catalogue FILE` (a sample's category is decided when "
            "it is collected; `pmcsuite counters --catalogue FILE` checks the file).\n\n"
            + pipe_table(["function", "samples", "share of other", "share of all"], rows, right=(1, 2, 3)) + unknown)


def _flame_text(paths: dict, stacks: dict, outdir: Path) -> str:
    if not paths:
        return "No run record holds folded stacks, so no flame graph is drawn."
    items = [f"[{md_escape(p.name)}]({PROFILES}/{p.name}) ({number(sum(stacks[k].values()))} samples)"
             for k, p in sorted(paths.items(), key=lambda kv: (kv[0][0], kv[0][1]))]
    return ("Folded stacks of every measured run of each point (one line per stack, `frame;frame;frame count`, "
            "the actor as the root frame), beside this report: " + ", ".join(items) + ". Draw one with "
            "`flamegraph.pl FILE > flame.svg` or `inferno-flamegraph FILE > flame.svg`, or open it in "
            "https://www.speedscope.app.")


# ----------------------------------------------------------------------------- the section

def _ordered(modes: list[str], meta: dict) -> list[str]:
    """IPC modes in the plan's order (then by name)."""
    plan = list(((meta or {}).get("plan") or {}).get("ipc") or [])
    return sorted(modes, key=lambda i: (plan.index(i) if i in plan else len(plan), i))


def profile_section(df: pd.DataFrame, meta: dict, outdir: Path, ctx=None) -> list[Section]:
    """The section (module docstring); [] when no run carries the profile."""
    if df.empty or not has_profile(df):
        return []
    result = profile(df)
    if result.table.empty:
        return [Section(TITLE, "\n\n".join(["_The profile was collected, but no measured run took a sample._"]
                                           + [md_escape(n) for n in result.notes]))]
    outdir = Path(outdir)
    modes = _ordered(result.modes(), meta)
    figures = [Figure(save_figure(result.plot(modes), figure_path(outdir, "profile-shares.png")),
                      "Share of the sampled time by category, per IPC mode and buffer size (levels over benchmark "
                      "processes).")]
    path = plot_faults(result, figure_path(outdir, "profile-faults.png"), modes)
    if path is not None:
        figures.append(Figure(path, "Time under the page-fault path (dashed; samples x period, an estimate) and "
                                    f"the loop's time (solid), ms per run, {level_text(result.level)} intervals."))
    points = chosen_points(result, _finding_points(ctx.findings if ctx is not None else []))
    stacks, everything = folded_stacks(df, points)
    paths = write_folded(outdir, stacks)
    for ipc in modes:
        mine = [(size, stacks[(i, size)]) for i, size in points if i == ipc and (i, size) in stacks][:MAX_PANELS]
        if mine:
            path = plot_flames(ipc, mine, figure_path(outdir, f"profile-flame-{slug(ipc)}.png"))
            figures.append(Figure(path, f"{ipc}: icicle graphs of the sampled stacks (root at the top, each frame as "
                                        "wide as its samples; the actor is the root frame)."))
    text = [f"Where each actor's time went while it transferred, by category of the kernel's call stacks; "
            f"intervals at {level_text(result.level)} over benchmark processes. The cost of sampling is the profile "
            "pass's probe effect, measured with every pass's in *Probe effect*.", ""]
    for ipc in modes:
        text += [f"### {md_escape(ipc)}", "", _share_table(result, ipc), ""]
        if result.table.loc[result.table["ipc"] == ipc, "ns_per_kib"].notna().any():
            text += [fold(f"{ipc}: time per KiB by category (ns, {ESTIMATE})", _time_table(result, ipc)), ""]
    if not result.faults.empty:
        text += ["### Page faults against the loop", "", _fault_table(result, modes), ""]
    text += ["### Flame graphs", "", _flame_text(paths, stacks, outdir), ""]
    unmatched = _unmatched_text(everything, meta)
    if unmatched:
        text += ["### Functions in no category", "", unmatched, ""]
    text += [f"*{md_escape(n)}*" for n in result.notes]
    text += ["", fold("Method", METHOD), ""]
    return [Section(TITLE, "\n".join(text), figures)]
