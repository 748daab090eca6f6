"""Where the time goes: the kernel profile of the transfer loop, per IPC mode and buffer size.

The data (collect's ``profile`` pass): per run the samples in each category of the catalogue's
``profile`` section (counter columns ``profile_<category>``, both actors summed), the sampling
period (``profile_period_ns``) and the samples lost to a full buffer (``profile_lost``); per run
record the folded stacks (``record["profile"]["folded"]``: ``"writer;entry_SYSCALL_64;...;leaf": n``,
root first, the actor's role as the root frame).

``profile(df)`` -> ``ProfileResult`` (tables first; ``.summary()``, ``.to_dict()``, ``.plot()``):

- **Share of the sampled time** per category, with an interval. The benchmark process is the unit
  (``inference``): per process and point, the share is the ratio of sums over its measured runs
  (samples in the category / all samples: every sample weighs the same, and a category with no
  sample is a real 0); per point, the level is ``inference.level`` of those process shares *on the
  linear scale* (Yuen's 20 %-trimmed mean with its winsorised standard error and t interval,
  clipped to [0, 1]). Untrimmed (fewer than five processes) the shares of a point sum to 1.
- **Time per KiB** per category, ns: samples x period x 1024 / bytes moved, per process the ratio
  of sums, per point its level as above. An *estimate* (sampling), of CPU time summed over both
  actors: the categories of a point can add up to more than the loop's wall time per KiB.
- **Fault time against loop time** (the study's Figure 6): per run the time under the fault path
  (``profile_fault`` x period, an estimate) and the loop's wall time (``loop_ns``), each levelled
  per point; their ratio per process (sums), levelled.
- **Lost samples**: per point the share of samples lost; a note when any point lost more than
  ``LOST_NOTE`` of them.

For the flame graphs and the pattern catalogue, from run records (``ResultStore.iter_runs``):
``merge_folded`` (every measured run of one point, per actor root), ``folded_text`` /
``parse_folded`` (the ``frame;frame;frame count`` lines FlameGraph, inferno and speedscope read),
``unmatched_functions`` (the leaf frames of the stacks the catalogue puts in no category: extend
its patterns with ``--catalogue FILE``) and ``icicle`` (the rectangles of an icicle plot).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..schema import KIB, LEVEL, jsonable
from ..sizes import format_size
from .display import Displayable, Text, percent, size_axis
from .inference import TRIM, level
from .labels import PROFILE_COLUMNS, counter_label, profile_category, profile_counters
from .runs import counter_columns, measured_runs

PERIOD, LOST = PROFILE_COLUMNS
#: the categories with fixed meanings (catalogue ``profile`` section)
FAULT, OTHER, USER = "fault", "other", "user"
#: a note when a point lost more than this share of its samples
LOST_NOTE = 0.01
ESTIMATE = "an estimate from sampling: samples x period"

TABLE_COLUMNS = ["ipc", "buffer_size", "category", "label", "share", "share_low", "share_high", "ns_per_kib",
                 "ns_low", "ns_high", "samples_per_run", "n_processes", "n_runs"]
FAULT_COLUMNS = ["ipc", "buffer_size", "fault_ms", "fault_low", "fault_high", "loop_ms", "loop_low", "loop_high",
                 "fraction", "fraction_low", "fraction_high", "n_processes"]


# ----------------------------------------------------------------------------------------------
# Results

@dataclass(repr=False)
class ProfileResult(Displayable):
    """The kernel profile per IPC mode and size (module docstring). ``table``: one row per (ipc,
    buffer_size, category) with its share of the sampled time and its time per KiB (ns), each with its
    ``level`` interval; ``faults``: per (ipc, buffer_size) time under the fault path and loop time per
    run (ms) and their ratio; ``lost``: per point the share of samples lost."""
    table: pd.DataFrame
    faults: pd.DataFrame
    lost: pd.DataFrame
    categories: list = field(default_factory=list)      # category names, in the catalogue's order
    labels: dict = field(default_factory=dict)          # category -> readable label
    level: float = LEVEL
    notes: list = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return self.table

    def modes(self) -> list[str]:
        return list(dict.fromkeys(self.table["ipc"]))

    def shares(self, ipc: str) -> pd.DataFrame:
        """One IPC mode's shares: a row per buffer size, a column per category (NaN where not sampled)."""
        part = self.table[self.table["ipc"] == ipc]
        wide = part.pivot_table(index="buffer_size", columns="category", values="share", aggfunc="first")
        return wide.reindex(columns=[c for c in self.categories if c in wide.columns])

    def summary(self) -> str:
        lines = [f"Kernel profile: share of the sampled time per category ({percent(self.level)} intervals "
                 f"over benchmark processes); time per KiB is {ESTIMATE}."]
        for ipc in self.modes():
            lines.append(f"=== {ipc} ===")
            for size, part in self.table[self.table["ipc"] == ipc].groupby("buffer_size", sort=True):
                top = part.sort_values("share", ascending=False).head(3)
                lines.append(f"{format_size(int(size))}: " + ", ".join(
                    f"{self.labels.get(r.category, r.category)} {percent(r.share)}" for r in top.itertuples()))
        for r in self.faults.itertuples():
            lines.append(f"{r.ipc} {format_size(int(r.buffer_size))}: faults {r.fault_ms:.3g} ms of a "
                         f"{r.loop_ms:.3g} ms loop ({percent(r.fraction)}, estimate)")
        return Text("\n".join(lines + self.notes))

    def to_dict(self) -> dict:
        return jsonable({"table": self.table.to_dict("records"), "faults": self.faults.to_dict("records"),
                         "lost": self.lost.to_dict("records"), "categories": list(self.categories),
                         "labels": dict(self.labels), "level": self.level, "notes": list(self.notes)})

    def plot(self, modes=None):
        """Per IPC mode (``modes``, default every one) a stacked share of the sampled time by category
        across buffer sizes (the study's Figure 2b), as a matplotlib Figure: one panel per mode, one colour
        per category."""
        from matplotlib.figure import Figure
        modes = list(modes) if modes is not None else self.modes()
        fig = Figure(figsize=(4.2 * max(len(modes), 1) + 1.8, 3.8), layout="constrained")
        axes = fig.subplots(1, max(len(modes), 1), squeeze=False)[0]
        colours = category_colours(self.categories)
        for ax, ipc in zip(axes, modes):
            wide = self.shares(ipc).fillna(0.0)
            sizes = wide.index.to_numpy(float)
            bottom = np.zeros(len(sizes))
            for c in wide.columns:
                ax.bar(sizes, wide[c].to_numpy(float), width=sizes * 0.6, bottom=bottom, color=colours[c],
                       label=self.labels.get(c, c), align="center", edgecolor="white", linewidth=0.3)
                bottom += wide[c].to_numpy(float)
            size_axis(ax, sizes, label="buffer size (log scale)")
            ax.set_ylim(0, 1)
            ax.set_title(ipc, fontsize=10)
            ax.set_ylabel("share of the sampled time")
        handles, names = axes[0].get_legend_handles_labels()
        if handles:
            fig.legend(handles[::-1], names[::-1], loc="outside right center", fontsize=8)
        return fig


def category_colours(categories) -> dict:
    """One colour per category, the same in every figure (tab10 by catalogue order; ``other`` grey)."""
    out, k = {}, 0
    for c in categories:
        if c == OTHER:
            out[c] = "0.7"
        else:
            out[c] = f"C{k % 10}"
            k += 1
    return out


# ----------------------------------------------------------------------------------------------
# Tables

def _catalogue_order(metadata) -> list[str]:
    """The categories in the catalogue's order (its ``profile`` section), [] when it has none."""
    from ..catalogue import builtin_catalogue, result_catalogue
    for cat in ((result_catalogue(metadata) if metadata else None), builtin_catalogue()):
        section = getattr(cat, "profile_categories", None) if cat is not None else None
        if section:
            return [getattr(c, "name", c) for c in (section() if callable(section) else section)]
    return []


def profile_categories(df: pd.DataFrame) -> list[str]:
    """The profile counter columns of ``df`` (``profile_<category>``) in the catalogue's order, those
    it does not know after them in the table's order."""
    metadata = df.attrs.get("metadata") if hasattr(df, "attrs") else None
    found = profile_counters(counter_columns(df), metadata)
    order = {f"profile_{c}": k for k, c in enumerate(_catalogue_order(metadata))}
    return sorted(found, key=lambda c: (order.get(c, len(order)), found.index(c)))


def has_profile(df: pd.DataFrame) -> bool:
    """True when some run of ``df`` holds a value of a profile counter."""
    return any(bool(df[c].notna().any()) for c in profile_categories(df))


def _clusters(runs: pd.DataFrame) -> pd.Series:
    """The benchmark process of each run (a run without one is its own)."""
    process = runs["process"] if "process" in runs.columns else pd.Series(pd.NA, index=runs.index)
    own = "run-" + pd.Series(runs.index, index=runs.index).astype(str)
    return process.astype("Int64").astype(str).where(process.notna(), own)


def _sampled(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The measured runs whose every profile counter is ok and that took at least one sample, with
    ``_total`` (samples), ``_period`` (ns, NaN unknown), ``_lost`` and ``_cluster``."""
    runs = measured_runs(df)
    ok = pd.Series(True, index=runs.index)
    for c in columns:
        ok &= runs[c].notna() & (runs[c].astype(float) >= 0)
        if f"{c}_status" in runs.columns:
            ok &= runs[f"{c}_status"].isna() | (runs[f"{c}_status"] == "ok")
    runs = runs[ok].copy()
    runs["_total"] = runs[columns].astype(float).sum(axis=1)
    runs = runs[runs["_total"] > 0]
    period = runs[PERIOD].astype(float) if PERIOD in runs.columns else pd.Series(np.nan, index=runs.index)
    runs["_period"] = period.where(period > 0)
    runs["_lost"] = runs[LOST].astype(float) if LOST in runs.columns else np.nan
    runs["_cluster"] = _clusters(runs)
    return runs


def _level_of(values: pd.Series, clusters: pd.Series, lvl: float, low: float = 0.0, high: float = math.inf):
    """(centre, low, high, processes): ``inference.level`` of one value per process on the linear scale,
    its t interval at ``lvl`` clipped to [low, high] (NaN bounds with fewer than two processes)."""
    keep = values.notna() & np.isfinite(values.astype(float))
    if not keep.any():
        return float("nan"), float("nan"), float("nan"), 0
    lv = level(values[keep].to_numpy(float), clusters[keep].to_numpy(object), TRIM)
    if lv.n_processes < 2 or not math.isfinite(lv.se):
        return lv.mean, float("nan"), float("nan"), lv.n_processes
    half = float(stats.t.ppf(1 - (1 - lvl) / 2, lv.df)) * lv.se
    return lv.mean, max(low, lv.mean - half), min(high, lv.mean + half), lv.n_processes


def _per_process(runs: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Sums per (ipc, buffer_size, process): samples per category, all samples, sampled ns per category,
    bytes, loop ns, lost samples, runs; ``_timed`` where every run knew its period."""
    frame = runs[["ipc", "buffer_size", "_cluster"]].copy()
    for c in columns:
        frame[c] = runs[c].astype(float)
        frame[f"{c}_ns"] = runs[c].astype(float) * runs["_period"]
    frame["_total"], frame["_lost"] = runs["_total"], runs["_lost"]
    frame["_bytes"] = runs["total_size"].astype(float)
    frame["_loop"] = runs["loop_ns"].astype(float) if "loop_ns" in runs.columns else np.nan
    frame["_runs"] = 1
    frame["_timed"] = runs["_period"].notna()
    grouped = frame.groupby(["ipc", "buffer_size", "_cluster"], sort=True)
    sums = grouped.sum(min_count=1)
    sums["_timed"] = grouped["_timed"].all()
    return sums.reset_index()


def _point_rows(point: tuple, part: pd.DataFrame, columns: list[str], labels: dict, lvl: float) -> list[dict]:
    """The table rows of one point (``part``: its processes' sums)."""
    rows = []
    timed = part[part["_timed"]]
    for c in columns:
        share = _level_of(part[c] / part["_total"], part["_cluster"], lvl, 0.0, 1.0)
        ns = _level_of(timed[f"{c}_ns"] * KIB / timed["_bytes"], timed["_cluster"], lvl)
        name = profile_category(c)
        rows.append({"ipc": point[0], "buffer_size": int(point[1]), "category": name, "label": labels[name],
                     "share": share[0], "share_low": share[1], "share_high": share[2], "ns_per_kib": ns[0],
                     "ns_low": ns[1], "ns_high": ns[2], "samples_per_run": float(part[c].sum() / part["_runs"].sum()),
                     "n_processes": share[3], "n_runs": int(part["_runs"].sum())})
    return rows


def _fault_row(point: tuple, part: pd.DataFrame, fault: str, lvl: float) -> dict | None:
    """Fault time against loop time at one point (ms per run; their ratio), or None without a period."""
    part = part[part["_timed"] & part["_loop"].notna() & (part["_loop"] > 0)]
    if part.empty:
        return None
    per_run = part["_runs"]
    f = _level_of(part[f"{fault}_ns"] / per_run / 1e6, part["_cluster"], lvl)
    loop = _level_of(part["_loop"] / per_run / 1e6, part["_cluster"], lvl)
    frac = _level_of(part[f"{fault}_ns"] / part["_loop"], part["_cluster"], lvl, 0.0)
    return dict(zip(FAULT_COLUMNS, [point[0], int(point[1]), *f[:3], *loop[:3], *frac[:3], f[3]]))


def profile(df: pd.DataFrame, *, level_: float = LEVEL) -> ProfileResult:
    """The kernel profile of a result table (``pmcsuite.load(DIR)``): see the module docstring.
    An empty result (no rows) when no run was profiled."""
    columns = profile_categories(df)
    metadata = df.attrs.get("metadata") if hasattr(df, "attrs") else None
    from ..catalogue import result_catalogue
    cat = result_catalogue(metadata) if metadata else None
    labels = {profile_category(c): _category_label(c, cat) for c in columns}
    names = [profile_category(c) for c in columns]
    empty = ProfileResult(pd.DataFrame(columns=TABLE_COLUMNS), pd.DataFrame(columns=FAULT_COLUMNS),
                          pd.DataFrame(columns=["ipc", "buffer_size", "lost_share"]), names, labels, level_)
    if not columns:
        return empty
    runs = _sampled(df, columns)
    if runs.empty:
        empty.notes.append("No measured run took a sample: nothing to show.")
        return empty
    sums = _per_process(runs, columns)
    rows, faults, lost = [], [], []
    fault = f"profile_{FAULT}"
    for point, part in sums.groupby(["ipc", "buffer_size"], sort=True):
        rows += _point_rows(point, part, columns, labels, level_)
        if fault in columns:
            row = _fault_row(point, part, fault, level_)
            if row is not None:
                faults.append(row)
        taken, missed = float(part["_total"].sum()), float(part["_lost"].sum())
        lost.append({"ipc": point[0], "buffer_size": int(point[1]),
                     "lost_share": missed / (taken + missed) if math.isfinite(missed) else float("nan")})
    lost = pd.DataFrame(lost)
    return ProfileResult(pd.DataFrame(rows, columns=TABLE_COLUMNS), pd.DataFrame(faults, columns=FAULT_COLUMNS),
                         lost, names, labels, level_, _notes(runs, lost))


def _category_label(counter: str, cat) -> str:
    """The category's label (the catalogue's label of its counter), else its name."""
    label = counter_label(counter, cat)
    return profile_category(counter) if label == counter else label


def _notes(runs: pd.DataFrame, lost: pd.DataFrame) -> list[str]:
    notes = []
    if runs["_period"].isna().any():
        notes.append(f"{int(runs['_period'].isna().sum())} run(s) without a known sampling period: their shares are "
                     "shown, their time per KiB is not.")
    worst = lost[lost["lost_share"] > LOST_NOTE] if not lost.empty else lost
    if len(worst):
        r = worst.sort_values("lost_share").iloc[-1]
        notes.append(f"Samples were lost to a full buffer at {len(worst)} point(s), at most {percent(r['lost_share'])} "
                     f"({r['ipc']} {format_size(int(r['buffer_size']))}): shares there may be biased.")
    return notes


# ----------------------------------------------------------------------------------------------
# Folded stacks

def record_folded(record: dict) -> dict:
    """The folded stacks of one run record ({} when it has none)."""
    prof = record.get("profile") if isinstance(record, dict) else None
    folded = prof.get("folded") if isinstance(prof, dict) else None
    return folded if isinstance(folded, dict) else {}


def _measured(record: dict) -> bool:
    return record.get("ok", record.get("error") is None) is True and not record.get("warmup", False)


def merge_folded(records, points=None) -> dict:
    """{(ipc, buffer_size): {stack: samples}}: the folded stacks of every measured run (ok, not a warm-up)
    of each point, summed; ``points``: the (ipc, buffer_size) pairs to keep (default every point)."""
    wanted = None if points is None else {(str(i), int(s)) for i, s in points}
    out: dict = {}
    for record in records:
        if not _measured(record):
            continue
        key = (str(record.get("ipc")), int(record.get("buffer_size") or 0))
        if wanted is not None and key not in wanted:
            continue
        merged = out.setdefault(key, {})
        for stack, n in record_folded(record).items():
            if isinstance(n, (int, float)) and n > 0:
                merged[str(stack)] = merged.get(str(stack), 0) + int(n)
    return out


def add_folded(total: dict, more: dict) -> dict:
    """``total`` with the samples of ``more`` added (in place; returned)."""
    for stack, n in more.items():
        total[stack] = total.get(stack, 0) + n
    return total


def folded_text(folded: dict) -> str:
    """The folded-stack text FlameGraph, inferno and speedscope read: ``frame;frame;frame count`` per
    line, sorted by stack (a frame's spaces and line breaks become ``_``: a space ends the stack)."""
    lines = []
    for stack, n in sorted(folded.items()):
        clean = ";".join("_".join(frame.split()) or "_" for frame in str(stack).split(";"))
        lines.append(f"{clean} {int(n)}")
    return "\n".join(lines) + ("\n" if lines else "")


def parse_folded(text: str) -> dict:
    """``folded_text`` back to {stack: samples}; a line without a count raises ValueError naming it."""
    out: dict = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            raise ValueError(f"line {number} is not 'frame;frame count': {line[:80]!r}")
        out[stack] = out.get(stack, 0) + int(count)
    return out


def kernel_frames(stack: str) -> list[str]:
    """The kernel frames of a folded stack, leaf first (the actor's root and ``[user]`` left out)."""
    frames = str(stack).split(";")[1:]
    return [f for f in reversed(frames) if f != "[user]"]


def unmatched_functions(folded: dict, categorise, top: int = 20) -> pd.DataFrame:
    """The leaf frames of the stacks that ``categorise`` (kernel frames leaf first -> category name) puts
    in ``other``, by samples: ``function``, ``samples``, ``share_of_other``, ``share_of_all``."""
    counts: dict = {}
    total = other = 0
    for stack, n in folded.items():
        total += n
        frames = kernel_frames(stack)
        if not frames or categorise(frames) != OTHER:
            continue
        other += n
        counts[frames[0]] = counts.get(frames[0], 0) + n
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return pd.DataFrame({"function": [f for f, _ in rows], "samples": [n for _, n in rows],
                         "share_of_other": [n / other for _, n in rows],
                         "share_of_all": [n / total for _, n in rows]},
                        columns=["function", "samples", "share_of_other", "share_of_all"])


@dataclass(frozen=True)
class Box:
    """One frame of an icicle plot: ``depth`` (0 = the root, drawn at the top), ``start`` and ``width``
    in samples, its ``name`` and the ``path`` of frames from the root to it."""
    depth: int
    start: int
    width: int
    name: str
    path: tuple


def icicle(folded: dict, max_depth: int = 40) -> list[Box]:
    """The boxes of an icicle plot of ``folded``: every frame as wide as the samples under it, children
    side by side below their parent in name order (as FlameGraph sorts them), depth capped at
    ``max_depth``."""
    tree: dict = {}
    for stack, n in folded.items():
        node = tree
        for frame in str(stack).split(";")[:max_depth]:
            entry = node.setdefault(frame, [0, {}])
            entry[0] += int(n)
            node = entry[1]
    boxes: list[Box] = []

    def walk(node: dict, depth: int, start: int, path: tuple) -> None:
        for name in sorted(node):
            width, children = node[name]
            boxes.append(Box(depth, start, width, name, path + (name,)))
            walk(children, depth + 1, start, path + (name,))
            start += width
    walk(tree, 0, 0, ())
    return boxes


def chosen_points(result: ProfileResult, also=()) -> list[tuple[str, int]]:
    """The points a flame graph is drawn for: per IPC mode its smallest, a middle and its largest
    profiled size, then ``also`` (e.g. the ends of a finding's range) where profiled."""
    out = []
    for ipc in result.modes():
        sizes = sorted({int(s) for s in result.table.loc[result.table["ipc"] == ipc, "buffer_size"]})
        out += [(ipc, s) for s in (sizes[0], sizes[len(sizes) // 2], sizes[-1])]
    profiled = set(zip(result.table["ipc"], result.table["buffer_size"].astype(int)))
    out += [(str(i), int(s)) for i, s in also if (str(i), int(s)) in profiled]
    return list(dict.fromkeys(out))
