"""Report sections for the kernel view (issue 4): what the kernel did for each buffer size.

- :func:`distributions_section`: read()/write() return sizes per IPC mode and buffer size, as
  DTrace ``quantize`` listings (the study's Listings 1-2) and a heat-map figure; calls per run,
  with the syscall counters cross-checked against the benchmark's own call counts.
- :func:`sleep_section`: time off-CPU per actor and context switches against buffer size
  (study's figure 5). Off-CPU time comes from the benchmark's own clocks (every run, no tool),
  else from the dtrace ``offcpu_ns`` counter, else the section says it was not measured.
- :func:`faults_section`: page faults against buffer size (figure 6); the kernel counters
  (``page_faults``, ``context_switches``, ``syscalls_write``/``_read``) cross-checked against
  the benchmark's own counts of the same runs (:data:`CROSSCHECKS`); time in faults only where
  it was measured (dtrace ``fault_ns``).

Each is a report section ``(df, meta, outdir) -> Section``; :func:`kernel_sections` returns all
three. Distributions come from the benchmark's own power-of-two histograms (bucket 2^k holds the
calls that returned r bytes with 2^k <= r < 2^(k+1)); every number shown is the median over the
measured (ok, non-warm-up) runs of the cell, baseline runs preferred (no instrumentation).
Nothing is invented: a quantity with no measurement is reported as not measured, with the
counter that would give it.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import FuncFormatter, NullLocator

from ..errors import PmcsuiteError
from ..results import measured
from ..sizes import format_size
from . import Figure, Section, figure_path, ipc_colour
from .render import md_escape
from ..schema import BASELINE

BAR = 40                     # width of a quantize bar, as in DTrace
#: counters measured with a tracepoint or probe on every call (their probe effect is not nil)
TRACEPOINT_COUNTERS = ("syscalls_read", "syscalls_write", "syscalls_all", "sched_switch",
                       "offcpu_ns", "fault_ns")


# ----------------------------------------------------------------------------- pure helpers

def quantize_text(buckets: dict, width: int = BAR) -> str:
    """A power-of-two histogram {2^k: count} in DTrace's ``quantize`` layout.

    Rows run from the bucket below the first non-empty one to the bucket above the last, with
    the empty buckets between; each row is ``value |@@@@ count`` with a bar of ``width``
    characters scaled to the total, rounded as DTrace does.
    """
    data = {int(k): int(v) for k, v in (buckets or {}).items() if v}
    if not data:
        return "%16s %41s %-9s\n%16s" % ("value", "------------- Distribution -------------",
                                          "count", "(no calls)")
    lo, hi = min(data), max(data)
    rows, b = [], (lo // 2 if lo > 1 else 0)
    while True:
        rows.append((b, data.get(b, 0)))
        if b > hi:
            break
        b = b * 2 if b else 1
    total = sum(data.values())
    lines = ["%16s %41s %-9s" % ("value", "------------- Distribution -------------", "count")]
    for value, count in rows:
        depth = int(count * width / total + 0.5)
        lines.append("%16d |%s%s %-9d" % (value, "@" * depth, " " * (width - depth), count))
    return "\n".join(line.rstrip() for line in lines)


def median_histogram(histograms) -> dict:
    """Bucket-wise median of several {bucket: count} dicts (a missing bucket counts 0)."""
    hists = [h for h in histograms if isinstance(h, dict)]
    if not hists:
        return {}
    keys = sorted({int(k) for h in hists for k in h})
    out = {}
    for k in keys:
        m = float(np.median([h.get(k, h.get(str(k), 0)) for h in hists]))
        if m > 0:
            out[k] = int(round(m))
    return out


def _f(series) -> pd.Series:
    """A column as float64 (nullable integers' NA -> NaN)."""
    return pd.to_numeric(series, errors="coerce").astype("float64")


def _runs(df: pd.DataFrame) -> pd.DataFrame:
    """Measured runs, baseline only when the data has baseline runs."""
    runs = measured(df)
    if (runs["variant"] == BASELINE).any():
        runs = runs[runs["variant"] == BASELINE]
    return runs


def return_sizes(df: pd.DataFrame) -> pd.DataFrame:
    """Per (ipc, buffer_size): median calls and the median return-size histograms.

    Columns: ipc, buffer_size, n, writes, reads, reads_per_write, write_hist, read_hist,
    max_write_bucket, max_read_bucket, pipe_size (median of the runs; NaN when n/a).
    """
    rows = []
    for (ipc, size), cell in _runs(df).groupby(["ipc", "buffer_size"], sort=True):
        wh = median_histogram(cell["write_sizes"])
        rh = median_histogram(cell["read_sizes"])
        writes, reads = float(_f(cell["writes"]).median()), float(_f(cell["reads"]).median())
        rows.append({"ipc": ipc, "buffer_size": int(size), "n": len(cell), "writes": writes,
                     "reads": reads, "reads_per_write": reads / writes if writes else math.nan,
                     "write_hist": wh, "read_hist": rh,
                     "max_write_bucket": max(wh) if wh else None,
                     "max_read_bucket": max(rh) if rh else None,
                     "pipe_size": float(_f(cell["pipe_size"]).median())})
    return pd.DataFrame(rows, columns=["ipc", "buffer_size", "n", "writes", "reads",
                                       "reads_per_write", "write_hist", "read_hist",
                                       "max_write_bucket", "max_read_bucket", "pipe_size"])


def _medians(runs: pd.DataFrame, columns: dict) -> pd.DataFrame:
    """Per (ipc, buffer_size): median of each ``{name: Series}`` over ``runs``, and ``n``."""
    frame = runs[["ipc", "buffer_size"]].assign(**columns)
    g = frame.groupby(["ipc", "buffer_size"], sort=True)
    out = g[list(columns)].median()
    out["n"] = g.size()
    return out.reset_index()


def _counter_medians(df: pd.DataFrame, counter: str) -> pd.DataFrame:
    """Per (ipc, buffer_size): median of a counter over the measured runs that counted it;
    columns ipc, buffer_size, <counter>, <counter>_n."""
    if counter not in df.columns:
        return pd.DataFrame(columns=["ipc", "buffer_size", counter, f"{counter}_n"])
    runs = measured(df)
    runs = runs[runs[counter].notna()]
    if runs.empty:
        return pd.DataFrame(columns=["ipc", "buffer_size", counter, f"{counter}_n"])
    out = _medians(runs, {counter: _f(runs[counter])})
    return out.rename(columns={"n": f"{counter}_n"})


def offcpu_per_actor(df: pd.DataFrame) -> pd.DataFrame:
    """Per (ipc, buffer_size): each actor's off-CPU time as the benchmark measured it.

    Off-CPU time of an actor = its own wall-clock window around the loop - the CPU time its
    thread clock says it used there: time asleep in read()/write() or runnable but waiting for
    a CPU. Medians per run over the measured runs (baseline preferred: no instrumentation), in
    ms, with the loop time and the getrusage voluntary (``nvcsw``) and involuntary (``nivcsw``)
    switches of the two actors. Empty when the data has no per-actor times (older benchmark
    builds, imported data).
    """
    columns = ["ipc", "buffer_size", "loop_ms", "writer_ms", "reader_ms", "nvcsw", "nivcsw", "n"]
    if not {"offcpu_writer_ns", "offcpu_reader_ns"} <= set(df.columns):
        return pd.DataFrame(columns=columns)
    runs = _runs(df)
    runs = runs[runs["offcpu_writer_ns"].notna() & runs["offcpu_reader_ns"].notna()]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    return _medians(runs, {"loop_ms": _f(runs["loop_ns"]) / 1e6,
                           "writer_ms": _f(runs["offcpu_writer_ns"]) / 1e6,
                           "reader_ms": _f(runs["offcpu_reader_ns"]) / 1e6,
                           "nvcsw": _f(runs["nvcsw"]), "nivcsw": _f(runs["nivcsw"])})[columns]


def switch_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Per (ipc, buffer_size): median getrusage ``nvcsw``/``nivcsw`` of the two actors per run
    (baseline runs preferred)."""
    runs = _runs(df)
    if runs.empty:
        return pd.DataFrame(columns=["ipc", "buffer_size", "nvcsw", "nivcsw", "n"])
    return _medians(runs, {"nvcsw": _f(runs["nvcsw"]), "nivcsw": _f(runs["nivcsw"])})


#: Kernel counters checked against what the benchmark counts itself in the same run:
#: (counter, the benchmark's own columns summed, what to expect with loop-only counting).
CROSSCHECKS = (
    ("page_faults", ("minflt", "majflt"), {
        "actors": "equal: each actor counts its own faults in its loop, getrusage the same actor's loop",
        "loop": "equal: both see the faults of the loop (perf the whole process inside the counted window, "
                "getrusage each actor's own loop; the controller thread only waits)"}),
    ("context_switches", ("nvcsw", "nivcsw"), {
        "actors": "equal, or 1 fewer now and then: each actor counts its own switches inside its loop, "
                  "getrusage a window a few calls wider",
        "loop": "perf a few more (+3 to +5 on a 2-vCPU VM): it counts the whole process, so also the "
                "controller thread's switches while it waits for perf's acknowledgements and for the actors, "
                "and the actors' switches just outside their getrusage windows"}),
    ("syscalls_write", ("writes",), {
        "actors": "equal: each actor counts only its own calls, between enabling and disabling its counters",
        "loop": "writes + 2: the controller's write() of the 'go' bytes and of the 'disable' command to perf "
                "(the 'enable' write enters the kernel before counting starts)"}),
    ("syscalls_read", ("reads",), {
        "actors": "equal: each actor counts only its own calls",
        "loop": "reads + 0 to 3 (usually 2): the controller's read()s of perf's acknowledgements, which race "
                "with perf switching counting on and off (perf's trailing NUL may take a read of its own; the "
                "actors' read() of the 'go' byte entered the kernel before counting started)"}),
)


def crosschecks(df: pd.DataFrame) -> pd.DataFrame:
    """Kernel counters vs the benchmark's own counts, same runs, per counter, IPC mode and scope.

    Columns: counter, own (e.g. ``minflt+majflt``), ipc, scope, runs, equal (runs where the two
    are identical), median_diff, min_diff, max_diff (counter - own), below (runs where the
    counter saw fewer events than the benchmark: a real disagreement), expected (text).
    """
    columns = ["counter", "own", "ipc", "scope", "runs", "equal", "median_diff", "min_diff",
               "max_diff", "below", "expected"]
    runs = measured(df)
    rows = []
    for counter, own, expectations in CROSSCHECKS:
        if counter not in runs.columns:
            continue
        mine = sum(_f(runs[c]) for c in own)
        diff = (_f(runs[counter]) - mine).rename("diff")
        both = runs.assign(diff=diff, scope=runs["scope"].fillna("?"))[diff.notna()]
        for (ipc, scope), cell in both.groupby(["ipc", "scope"], sort=True):
            d = cell["diff"]
            rows.append({"counter": counter, "own": "+".join(own), "ipc": ipc, "scope": scope,
                         "runs": len(d), "equal": int((d == 0).sum()),
                         "median_diff": float(d.median()), "min_diff": float(d.min()),
                         "max_diff": float(d.max()), "below": int((d < 0).sum()),
                         "expected": expectations.get(scope, "")})
    return pd.DataFrame(rows, columns=columns)


# ----------------------------------------------------------------------------- figures

def _count_axis(ax, values) -> None:
    """Log y axis for counts spanning decades (symlog when zeros occur), with plain labels."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if vals and min(vals) > 0:
        ax.set_yscale("log")
    else:
        ax.set_yscale("symlog", linthresh=10)
    label = FuncFormatter(lambda v, _pos: f"{v:,.0f}" if v >= 1 else f"{v:g}")
    ax.yaxis.set_major_formatter(label)
    if vals and max(vals) / max(min(v for v in vals if v > 0) if any(v > 0 for v in vals) else 1,
                                1e-9) < 100:
        ax.yaxis.set_minor_formatter(label)


def _size_axis(ax, sizes):
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [format_size(s) for s in sizes], rotation=45, fontsize=8)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("buffer size (bytes per write())")
    ax.grid(True, alpha=0.3)


def plot_distributions(table: pd.DataFrame, path: Path) -> Path:
    """Heat maps: per IPC mode (rows) and call (write/read columns), the share of calls per
    return-size bucket (y) for each buffer size (x); the dotted line is return = buffer size."""
    modes = list(dict.fromkeys(table["ipc"]))
    sizes = sorted(table["buffer_size"].unique())
    present = {b for col in ("write_hist", "read_hist") for h in table[col] for b in h}
    buckets = [1 << k for k in range(int(min(present)).bit_length() - 1,
                                     int(max(present)).bit_length())] if present else [1]
    fig = MplFigure(figsize=(10, 2.8 * len(modes) + 0.6), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(modes), 2, squeeze=False)
    image = None
    for r, ipc in enumerate(modes):
        for c, (col, what) in enumerate((("write_hist", "write()"), ("read_hist", "read()"))):
            grid = np.full((len(buckets), len(sizes)), np.nan)
            for _, row in table[table["ipc"] == ipc].iterrows():
                hist = row[col]
                total = sum(hist.values())
                grid[:, sizes.index(row["buffer_size"])] = 0.0
                for b, n in hist.items():
                    grid[buckets.index(b), sizes.index(row["buffer_size"])] = n / total if total else 0
            ax = axes[r][c]
            image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=1,
                              interpolation="nearest")
            ax.plot(range(len(sizes)), [buckets.index(s) if s in buckets else np.nan for s in sizes],
                    "w:", linewidth=1)
            ax.set_xticks(range(len(sizes)), [format_size(s) for s in sizes], rotation=45,
                          fontsize=7)
            step = max(1, len(buckets) // 8)
            ax.set_yticks(range(0, len(buckets), step),
                          [format_size(b) for b in buckets[::step]], fontsize=7)
            ax.set_title(f"{ipc}: {what} return sizes", fontsize=9)
            if c == 0:
                ax.set_ylabel("returned bytes (bucket)")
            if r == len(modes) - 1:
                ax.set_xlabel("buffer size")
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.6, label="share of calls")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def _lines(ax, frame: pd.DataFrame, column: str, scale: float = 1.0, style="-o", label_suffix=""):
    for ipc, cell in frame.groupby("ipc", sort=False):
        cell = cell.sort_values("buffer_size")
        ax.plot(cell["buffer_size"].astype(float), cell[column].astype(float) * scale, style,
                color=ipc_colour(ipc), label=f"{ipc}{label_suffix}", markersize=4)


def plot_sleep(actors: pd.DataFrame | None, counted: pd.DataFrame | None, switches: pd.DataFrame,
               perf_switches: pd.DataFrame | None, path: Path) -> Path:
    """Left: off-CPU time per run, per actor (benchmark's clocks: writer solid, reader dashed) or,
    without them, the dtrace ``offcpu_ns`` counter (dotted); right: context switches per run
    (getrusage voluntary solid, involuntary dashed; perf context_switches dotted where counted)."""
    fig = MplFigure(figsize=(11, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    if actors is not None and not actors.empty:
        _lines(left, actors, "writer_ms", 1.0, "-o", " writer")
        _lines(left, actors, "reader_ms", 1.0, "--s", " reader")
        left.set_title("Time off-CPU per actor vs buffer size", fontsize=10)
    elif counted is not None and not counted.empty:
        _lines(left, counted, "offcpu_ns", 1e-6, ":^", " offcpu_ns (dtrace, all threads)")
        left.set_title("Time off-CPU inside read()/write() vs buffer size", fontsize=10)
    left.set_ylabel("time off-CPU per run (ms)")
    _lines(right, switches, "nvcsw", 1.0, "-o", " voluntary (getrusage)")
    _lines(right, switches, "nivcsw", 1.0, "--s", " involuntary (getrusage)")
    values = list(switches["nvcsw"]) + list(switches["nivcsw"])
    if perf_switches is not None and not perf_switches.empty:
        _lines(right, perf_switches, "context_switches", 1.0, ":^", " context_switches (perf)")
        values += list(perf_switches["context_switches"])
    right.set_ylabel("context switches per run")
    _count_axis(right, values)
    right.set_title("Context switches vs buffer size", fontsize=10)
    sizes = sorted(switches["buffer_size"].unique())
    for ax in (left, right):
        _size_axis(ax, sizes)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def plot_faults(rusage: pd.DataFrame, perf: pd.DataFrame | None, path: Path) -> Path:
    """Page faults per run vs buffer size: rusage minflt+majflt (solid), perf page_faults (dotted)."""
    fig = MplFigure(figsize=(8, 4.4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    _lines(ax, rusage, "faults", 1.0, "-o", " minflt+majflt (getrusage)")
    if perf is not None and not perf.empty:
        _lines(ax, perf, "page_faults", 1.0, ":^", " page_faults (perf)")
    _count_axis(ax, list(rusage["faults"]) + (list(perf["page_faults"]) if perf is not None
                                              else []))
    ax.set_ylabel("page faults per run")
    ax.set_title("Page faults vs buffer size", fontsize=10)
    _size_axis(ax, sorted(rusage["buffer_size"].unique()))
    ax.legend(fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


# ----------------------------------------------------------------------------- sections

def _num(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    v = float(v)
    return f"{v:,.0f}" if abs(v) >= 100 or v == int(v) else f"{v:.{digits}g}"


def _side_by_side(left: str, right: str, gap: int = 4) -> str:
    a, b = left.splitlines(), right.splitlines()
    width = max(len(x) for x in a)
    a += [""] * (len(b) - len(a))
    b += [""] * (len(a) - len(b))
    return "\n".join((x.ljust(width + gap) + y).rstrip() for x, y in zip(a, b))


def _pipe_finding(table: pd.DataFrame) -> str | None:
    """A sentence on pipe reads: the largest read bucket vs the largest buffer."""
    pipe = table[(table["ipc"] == "pipe") & table["max_read_bucket"].notna()]
    if pipe.empty:
        return None
    big = int(pipe["max_read_bucket"].max())
    top = int(pipe["buffer_size"].max())
    cap = pipe["pipe_size"].dropna()
    text = (f"pipe: across buffers up to {format_size(top)}, no read() returned {format_size(2 * big)} or "
            f"more (largest bucket [{format_size(big)}, {format_size(2 * big)}))")
    if len(cap):
        text += f"; the pipe's capacity read back from the kernel was {format_size(int(cap.max()))}"
    mib = pipe[pipe["buffer_size"] == 1 << 20]
    if len(mib):
        row = mib.iloc[0]
        text += (f". With a 1M buffer: {_num(row['writes'])} writes and {_num(row['reads'])} reads "
                 "per run")
    return text + "."


def _syscall_check(df: pd.DataFrame) -> list[str]:
    """Syscall counters (perf/dtrace) against the benchmark's own call counts, same runs."""
    out = []
    runs = measured(df)
    for counter, own in (("syscalls_write", "writes"), ("syscalls_read", "reads")):
        if counter not in runs.columns:
            continue
        both = runs[runs[counter].notna()]
        if both.empty:
            continue
        extra = both[counter].astype(float) - _f(both[own])
        below = int((extra < 0).sum())
        out.append(f"`{counter}` counted {own} + {_num(extra.median())} (median; range "
                   f"{_num(extra.min())} to {_num(extra.max())}) over {len(both)} runs"
                   + (f"; **{below} runs counted fewer calls than the benchmark made**" if below
                      else "") + ".")
    return out


def distributions_section(df: pd.DataFrame, meta: dict, outdir: Path) -> Section:
    """Return-size distributions (DTrace quantize style) per IPC mode and buffer size + heat map."""
    table = return_sizes(df)
    title = "Kernel view: read()/write() return sizes"
    if table.empty:
        return Section(title, "_No measured runs: no return-size distributions to show._")
    source = ("baseline runs" if (measured(df)["variant"] == BASELINE).any()
              else "all measured runs")
    text = [f"Return sizes recorded by the benchmark itself in every run (no tracing needed), "
            f"bucketed by powers of two like DTrace's `quantize` (bucket 2^k: 2^k <= returned "
            f"bytes < 2^(k+1)); each count is the bucket-wise median over the {source} of the "
            "cell."]
    finding = _pipe_finding(table)
    if finding:
        text.append(finding)
    text += _syscall_check(df)
    head = ["IPC", "buffer", "runs", "writes", "reads", "reads/write", "largest write bucket",
            "largest read bucket"]
    rows = ["| " + " | ".join(head) + " |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for _, r in table.iterrows():
        rows.append("| " + " | ".join([
            md_escape(r["ipc"]), format_size(r["buffer_size"]), str(r["n"]), _num(r["writes"]),
            _num(r["reads"]), _num(r["reads_per_write"]),
            format_size(r["max_write_bucket"]) if r["max_write_bucket"] else "—",
            format_size(r["max_read_bucket"]) if r["max_read_bucket"] else "—"]) + " |")
    text.append("\n".join(rows))
    for ipc, cell in table.groupby("ipc", sort=False):
        text.append(f"#### {md_escape(ipc)}: return-size distributions (write | read)")
        for _, r in cell.iterrows():
            block = _side_by_side("write() returns\n" + quantize_text(r["write_hist"]),
                                  "read() returns\n" + quantize_text(r["read_hist"]))
            text.append(f"buffer {format_size(r['buffer_size'])}:\n\n```\n{block}\n```")
    path = plot_distributions(table, figure_path(outdir, "kernel-return-sizes.png"))
    caption = ("Share of write()/read() calls per return-size bucket (y) for each buffer size (x), "
               "per IPC mode; the dotted line marks return = buffer size.")
    return Section(title, "\n\n".join(text), [Figure(path, caption)])


def _totals(df: pd.DataFrame) -> str:
    sizes = sorted({int(s) for s in measured(df)["total_size"].dropna()})
    return ", ".join(format_size(s) for s in sizes) or "?"


def sleep_section(df: pd.DataFrame, meta: dict, outdir: Path) -> Section:
    """Time off-CPU and context switches vs buffer size (study's figure 5)."""
    title = "Kernel view: time asleep / off-CPU"
    switches = switch_counts(df)
    if switches.empty:
        return Section(title, "_No measured runs._")
    actors = offcpu_per_actor(df)
    counted = _counter_medians(df, "offcpu_ns")
    perf_switches = _counter_medians(df, "context_switches")
    text = []
    if not actors.empty:
        text.append(f"Time each actor spent **off-CPU** during the loop (bytes moved per run: "
                    f"{_totals(df)}), measured by the benchmark itself in every run, no tool "
                    "needed: the actor's own wall-clock window around its loop minus the CPU "
                    "time its thread clock (`CLOCK_THREAD_CPUTIME_ID`) counted there, i.e. time "
                    "asleep in read()/write() or runnable but waiting for the CPU (result "
                    "columns `offcpu_writer_ns`, `offcpu_reader_ns`; medians of the "
                    + ("baseline" if (measured(df)["variant"] == BASELINE).any() else "measured")
                    + " runs). With both actors on one CPU each is off-CPU while the other runs. "
                    "`pmcsuite trace` splits this time into asleep and preempted for one run.")
    elif not counted.empty:
        text.append(f"`offcpu_ns` (dtrace, {int(counted['offcpu_ns_n'].sum())} runs): time the "
                    "benchmark's threads spent off-CPU inside read()/write(), summed over the "
                    "threads. The per-actor times the benchmark measures itself are not in this "
                    "data (it predates them or was imported).")
    else:
        text.append("**Off-CPU time was not measured in this data**: it has neither the "
                    "benchmark's per-actor times (columns `offcpu_writer_ns`, `offcpu_reader_ns`, "
                    "recorded by current ipcbench builds in every run) nor the dtrace counter "
                    "`offcpu_ns`. Re-collect with the current benchmark to get them.")
    if not counted.empty and not actors.empty:
        text.append(f"The dtrace counter `offcpu_ns` ({int(counted['offcpu_ns_n'].sum())} runs; "
                    "off-CPU time inside read()/write() only, all threads) is in the last column.")
    text.append("Context switches: getrusage voluntary (`nvcsw`: the actor blocked, i.e. went to "
                "sleep) and involuntary (`nivcsw`: preempted) switches of the two actors over "
                "their loops; perf's `context_switches` (the whole process, counted runs only) "
                "where a pass counted it. perf stat counts switches but cannot time them.")
    merged = switches[["ipc", "buffer_size"]]
    for part in (actors.drop(columns=["n", "nvcsw", "nivcsw"], errors="ignore"),
                 switches.drop(columns=["n"]), counted, perf_switches):
        if not part.empty:
            merged = merged.merge(part, on=["ipc", "buffer_size"], how="left")
    head = ["IPC", "buffer"]
    if not actors.empty:
        head += ["loop (ms)", "writer off-CPU (ms)", "reader off-CPU (ms)"]
    head += ["nvcsw", "nivcsw"]
    if not perf_switches.empty:
        head.append("context_switches (perf)")
    if not counted.empty:
        head.append("offcpu_ns (dtrace, ms)")
    rows = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    for _, r in merged.iterrows():
        cells = [md_escape(r["ipc"]), format_size(r["buffer_size"])]
        if not actors.empty:
            cells += [_num(r.get("loop_ms")), _num(r.get("writer_ms")), _num(r.get("reader_ms"))]
        cells += [_num(r["nvcsw"]), _num(r["nivcsw"])]
        if not perf_switches.empty:
            cells.append(_num(r.get("context_switches")))
        if not counted.empty:
            cells.append(_num(r.get("offcpu_ns") / 1e6))
        rows.append("| " + " | ".join(cells) + " |")
    text.append("\n".join(rows))
    path = plot_sleep(actors, counted, switches, perf_switches, figure_path(outdir, "kernel-offcpu.png"))
    what = ("time off-CPU per actor (benchmark's own clocks; writer solid, reader dashed)"
            if not actors.empty else "dtrace `offcpu_ns` (all threads, inside read()/write())"
            if not counted.empty else "(off-CPU time not measured)")
    caption = (f"Left: {what}, per run. Right: context switches per run: getrusage voluntary "
               "(solid) and involuntary (dashed), perf context_switches (dotted) where counted.")
    return Section(title, "\n\n".join(text), [Figure(path, caption)])


def _probe_effect(df: pd.DataFrame) -> str:
    """Hook for the probe-effect statement: the overhead of passes that count with tracepoints."""
    passes = []
    for c in TRACEPOINT_COUNTERS:
        if c in df.columns:
            passes += list(measured(df).loc[df[c].notna(), "variant"].unique())
    passes = sorted(set(passes) - {BASELINE})
    text = ("Probe effect: kernel counts that come from a tracepoint or probe on every system call "
            "(`syscalls_*`, `sched_switch`, dtrace's probes) are not free; software counters "
            "such as `page_faults` cost little.")
    if not passes:
        return text + " No tracepoint pass was run here, so its cost was not measured."
    try:
        from ..analysis.overhead import overhead
        result = overhead(df[df["variant"].isin(passes + [BASELINE])], breakpoints=False)
        modes = result.modes[result.modes["variant"].isin(passes)]
        if modes.empty:
            raise ValueError("no comparable cells")
        return text + " Measured here (median bandwidth with the pass / without, over sizes): " + \
            "; ".join(f"{r['ipc']} with {r['variant']}: {r['median_ratio']:.2f}x (range "
                      f"{r['min_ratio']:.2f}-{r['max_ratio']:.2f}, {r['n_sizes']} sizes)"
                      for _, r in modes.iterrows()) + "."
    except (PmcsuiteError, ValueError):  # too little data here: the overhead section has the details
        return text + (f" Passes with tracepoints: {', '.join(passes)}; see the probe-effect "
                       "(overhead) section for their cost.")


def _crosscheck_text(df: pd.DataFrame) -> list[str]:
    """The cross-check table: kernel counters vs the benchmark's own counts of the same runs."""
    table = crosschecks(df)
    if table.empty:
        return ["No run counted `page_faults`, `context_switches` or `syscalls_*`, so the "
                "benchmark's own counts (getrusage, calls) are not cross-checked here."]
    text = ["**Cross-checks**: each kernel counter against what the benchmark counted itself in "
            "the same run (difference = counter - benchmark; in-process counting, scope `actors`, "
            "counts each actor's own loop; perf stat the loop window of the whole process, scope "
            "`loop`; a dtrace/pmcstat `process` scope also includes set-up and output, so expect "
            "more there)."]
    rows = ["| counter | benchmark | IPC | scope | runs | identical | difference: median "
            "(min to max) |", "|---|---|---|---|---:|---:|---|"]
    for _, r in table.iterrows():
        rows.append("| " + " | ".join([
            f"`{r['counter']}`", r["own"], md_escape(r["ipc"]), str(r["scope"]), str(r["runs"]),
            str(r["equal"]),
            f"{r['median_diff']:+g} ({r['min_diff']:+g} to {r['max_diff']:+g})"]) + " |")
    text.append("\n".join(rows))
    shown = set(zip(table["counter"], table["scope"]))
    expected = [f"`{c}` vs {'+'.join(own)}, scope `{scope}`: {exp}." for c, own, exps in CROSSCHECKS
                for scope, exp in exps.items() if (c, scope) in shown]
    text.append("Expected (verified on a 2-vCPU Linux VM):\n\n" + "\n".join(f"- {e}" for e in expected))
    below = table[table["below"] > 0]
    if len(below):
        text.append("**Disagreement:** " + "; ".join(
            f"`{r['counter']}` counted fewer events than the benchmark in {r['below']} of "
            f"{r['runs']} {r['ipc']} runs" for _, r in below.iterrows()) + ".")
    return text


def faults_section(df: pd.DataFrame, meta: dict, outdir: Path) -> Section:
    """Page faults vs buffer size (figure 6), cross-checks of the kernel counters against the
    benchmark's own counts, and time in faults where it was measured."""
    title = "Kernel view: page faults"
    runs = _runs(df)
    if runs.empty:
        return Section(title, "_No measured runs._")
    rusage = _medians(runs, {"faults": _f(runs["minflt"]) + _f(runs["majflt"])})
    perf = _counter_medians(df, "page_faults")
    fault_ns = _counter_medians(df, "fault_ns")
    text = ["Page faults per run during the loop: getrusage `minflt + majflt` of the two actors "
            "(every run; medians of the "
            + ("baseline" if (measured(df)["variant"] == BASELINE).any() else "measured")
            + " runs) and perf's `page_faults` software counter where a pass counted it. The "
            "actors touch their buffers before the loop starts, so few faults are expected "
            "inside it."]
    if fault_ns.empty:
        text.append("**Time in page faults was not measured.** perf stat counts faults but cannot "
                    "time them (no software event sums time in the fault handler), and timing "
                    "the handler with ftrace would cost more than the faults themselves at small "
                    "sizes. It is measured by `fault_ns`, a dtrace counter (FreeBSD: "
                    "`fbt::vm_fault` entry to return; `--backend dtrace --platform "
                    "freebsd-kernel`).")
    else:
        text.append(f"`fault_ns` (dtrace: time in vm_fault, all threads, "
                    f"{int(fault_ns['fault_ns_n'].sum())} runs) is in the last column.")
    merged = rusage.drop(columns=["n"]).merge(perf, on=["ipc", "buffer_size"], how="left") \
        .merge(fault_ns, on=["ipc", "buffer_size"], how="left")
    head = "| IPC | buffer | minflt+majflt | page_faults (perf) |" + \
        (" time in faults (ms) |" if not fault_ns.empty else "")
    rows = [head, "|---|---|---:|---:|" + ("---:|" if not fault_ns.empty else "")]
    for _, r in merged.iterrows():
        cells = [md_escape(r["ipc"]), format_size(r["buffer_size"]), _num(r["faults"]),
                 _num(r.get("page_faults"))]
        if not fault_ns.empty:
            cells.append(_num(r.get("fault_ns") / 1e6))
        rows.append("| " + " | ".join(cells) + " |")
    text.append("\n".join(rows))
    text += _crosscheck_text(df)
    text.append(_probe_effect(df))
    path = plot_faults(rusage, perf if not perf.empty else None,
                       figure_path(outdir, "kernel-page-faults.png"))
    caption = "Page faults per run vs buffer size: getrusage (solid) and perf page_faults (dotted)."
    return Section(title, "\n\n".join(text), [Figure(path, caption)])


def kernel_sections(df: pd.DataFrame, meta: dict, outdir: Path) -> list[Section]:
    """All kernel-view sections, in report order."""
    return [make(df, meta, outdir) for make in SECTION_FUNCTIONS]


#: The section functions, for ``pmcsuite.report.SECTIONS``.
SECTION_FUNCTIONS = [distributions_section, sleep_section, faults_section]
