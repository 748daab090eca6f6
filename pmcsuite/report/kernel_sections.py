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

The computations live in :mod:`pmcsuite.analysis.kernel` (tables and a :class:`KernelView`);
this module renders them. Its former table functions (``return_sizes``, ``crosschecks``,
:data:`CROSSCHECKS`...) are re-exported here for existing callers.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from ..analysis.kernel import (CROSSCHECKS, TRACEPOINT_COUNTERS, KernelView, counter_medians,  # noqa: F401
                               crosschecks, faults_table, kernel_view, median_histogram, offcpu_per_actor,
                               pipe_reads, return_sizes, switch_counts, syscall_checks, tracepoint_passes,
                               probe_effect, sleep_table)
from ..sizes import format_size
from .toolbox import (MISSING, Figure, Section, figure_path, fold, ipc_colour, ipc_marker, md_escape, new_figure,
                      number, pipe_table, ratio, save_figure, size_axis)

BAR = 40                     # width of a quantize bar, as in DTrace


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


# ----------------------------------------------------------------------------- figures

def _count_axis(ax, values) -> None:
    """Counts: a linear axis (integer ticks) when they span less than a decade or include 0 with a small
    maximum; else a log axis labelled at decades only (no crowded minor labels)."""
    from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    positive = [v for v in vals if v > 0]
    label = FuncFormatter(lambda v, _pos: number(v))
    if not positive or max(vals) <= 20 or max(positive) / min(positive) < 10 or min(vals) <= 0 and max(vals) < 1000:
        ax.set_yscale("linear")
        ax.set_ylim(bottom=0, top=max(1.0, max(vals) * 1.15) if vals else 1.0)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        ax.yaxis.set_major_formatter(label)
        return
    if min(vals) > 0:
        ax.set_yscale("log")
    else:
        ax.set_yscale("symlog", linthresh=10)
    span = max(positive) / min(positive)
    if min(vals) > 0:
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if span < 100 else (1.0,), numticks=12))
    ax.yaxis.set_major_formatter(label)
    ax.yaxis.set_minor_formatter(NullFormatter())


def plot_distributions(table: pd.DataFrame, path: Path) -> Path:
    """Heat maps: per IPC mode (rows) and call (write/read columns), the share of calls per
    return-size bucket (y) for each buffer size (x); the dotted line is return = buffer size."""
    modes = list(dict.fromkeys(table["ipc"]))
    sizes = sorted(table["buffer_size"].unique())
    present = {b for col in ("write_hist", "read_hist") for h in table[col] for b in h}
    buckets = [1 << k for k in range(int(min(present)).bit_length() - 1,
                                     int(max(present)).bit_length())] if present else [1]
    height = 2.6 * len(modes) + 0.8
    fig = new_figure(10, height, dpi=90)
    fig.subplots_adjust(left=0.1, right=0.86, bottom=0.7 / height, top=1 - 0.35 / height, wspace=0.2,
                        hspace=0.45)
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
                ax.set_xlabel("buffer size (bytes per write())")
    if image is not None:
        cax = fig.add_axes([0.89, 0.7 / height + 0.05, 0.02, 0.5])
        fig.colorbar(image, cax=cax, label="share of calls")
    return save_figure(fig, path)


def _lines(ax, frame: pd.DataFrame, column: str, scale: float = 1.0, style="-o", label_suffix=""):
    for ipc, cell in frame.groupby("ipc", sort=False):
        cell = cell.sort_values("buffer_size")
        linestyle = style.rstrip("o^sDv") or "-"
        ax.plot(cell["buffer_size"].astype(float), cell[column].astype(float) * scale, linestyle=linestyle,
                marker=ipc_marker(ipc), color=ipc_colour(ipc), label=f"{ipc}{label_suffix}", markersize=4)


def plot_sleep(actors: pd.DataFrame | None, counted: pd.DataFrame | None, switches: pd.DataFrame,
               perf_switches: pd.DataFrame | None, path: Path) -> Path:
    """Left: off-CPU time per run, per actor (benchmark's clocks: writer solid, reader dashed) or,
    without them, the dtrace ``offcpu_ns`` counter (dotted); right: context switches per run
    (getrusage voluntary solid, involuntary dashed; perf context_switches dotted where counted)."""
    fig = new_figure(11, 4.0, dpi=90)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.91, wspace=0.22)
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
    for ax in (left, right):
        size_axis(ax, switches["buffer_size"], fontsize=8)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    return save_figure(fig, path)


def plot_faults(rusage: pd.DataFrame, perf: pd.DataFrame | None, path: Path) -> Path:
    """Page faults per run vs buffer size: rusage minflt+majflt (solid), perf page_faults (dotted)."""
    fig = new_figure(8, 3.8, dpi=90)
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.15, top=0.9)
    ax = fig.add_subplot()
    _lines(ax, rusage, "faults", 1.0, "-o", " minflt+majflt (getrusage)")
    if perf is not None and not perf.empty:
        _lines(ax, perf, "page_faults", 1.0, ":^", " page_faults (perf)")
    _count_axis(ax, list(rusage["faults"]) + (list(perf["page_faults"]) if perf is not None
                                              else []))
    ax.set_ylabel("page faults per run")
    ax.set_title("Page faults vs buffer size", fontsize=10)
    shown = [float(v) for v in list(rusage["faults"]) + (list(perf["page_faults"]) if perf is not None else [])
             if v is not None and math.isfinite(float(v))]
    if shown and max(shown) == 0:
        ax.text(0.5, 0.55, "no page fault in any measured loop (every median is 0)", transform=ax.transAxes,
                ha="center", fontsize=9, color="0.3")
    size_axis(ax, rusage["buffer_size"], fontsize=8)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


# ----------------------------------------------------------------------------- sections

def _side_by_side(left: str, right: str, gap: int = 4) -> str:
    a, b = left.splitlines(), right.splitlines()
    width = max(len(x) for x in a)
    a += [""] * (len(b) - len(a))
    b += [""] * (len(a) - len(b))
    return "\n".join((x.ljust(width + gap) + y).rstrip() for x, y in zip(a, b))


def _pipe_finding(found: dict | None) -> str | None:
    """A sentence on pipe reads (:func:`pmcsuite.analysis.kernel.pipe_reads`)."""
    if not found:
        return None
    big, top = found["max_read_bucket"], found["max_buffer"]
    text = (f"pipe: across buffers up to {format_size(top)}, no read() returned {format_size(2 * big)} or "
            f"more (largest bucket [{format_size(big)}, {format_size(2 * big)}))")
    if found["pipe_size"] is not None:
        text += f"; the pipe's capacity read back from the kernel was {format_size(found['pipe_size'])}"
    if found["writes_1m"] is not None:
        text += (f". With a 1M buffer: {number(found['writes_1m'])} writes and {number(found['reads_1m'])} reads "
                 "per run")
    return text + "."


def _syscall_check(table: pd.DataFrame) -> list[str]:
    """Syscall counters (perf/dtrace) against the benchmark's own call counts, same runs."""
    out = []
    for r in table.to_dict("records"):
        out.append(f"`{r['counter']}` counted {r['own']} + {number(r['median_extra'])} (median; range "
                   f"{number(r['min_extra'])} to {number(r['max_extra'])}) over {r['runs']} runs"
                   + (f"; **{r['below']} runs counted fewer calls than the benchmark made**" if r["below"]
                      else "") + ".")
    return out


def _view(df: pd.DataFrame, view: KernelView | None, probe: bool = False) -> KernelView:
    return view if view is not None else kernel_view(df, probe=probe)


def distributions_section(df: pd.DataFrame, meta: dict, outdir: Path, view: KernelView | None = None) -> Section:
    """Return-size distributions (DTrace quantize style) per IPC mode and buffer size + heat map."""
    view = _view(df, view)
    table = view.return_sizes
    title = "Kernel view: read()/write() return sizes"
    if table.empty:
        return Section(title, "_No measured runs: no return-size distributions to show._")
    source = "baseline runs" if view.source == "baseline" else "all measured runs"
    text = [f"Return sizes recorded by the benchmark itself in every run (no tracing needed), "
            f"bucketed by powers of two like DTrace's `quantize` (bucket 2^k: 2^k <= returned "
            f"bytes < 2^(k+1)); each count is the bucket-wise median over the {source} of the "
            "cell."]
    finding = _pipe_finding(view.pipe_reads)
    if finding:
        text.append(finding)
    text += _syscall_check(view.syscall_checks)
    head = ["IPC", "buffer", "runs", "writes", "reads", "reads/write", "largest write bucket",
            "largest read bucket"]
    rows = [[md_escape(r["ipc"]), format_size(r["buffer_size"]), str(r["n"]), number(r["writes"]),
             number(r["reads"]), number(r["reads_per_write"]),
             format_size(r["max_write_bucket"]) if r["max_write_bucket"] else MISSING,
             format_size(r["max_read_bucket"]) if r["max_read_bucket"] else MISSING] for _, r in table.iterrows()]
    calls = pipe_table(head, rows, right=range(2, len(head)))
    text.append(calls if len(rows) <= 12 else fold(f"Calls per run, per cell ({len(rows)} rows)", calls))
    for ipc, cell in table.groupby("ipc", sort=False):
        blocks = []
        for _, r in cell.iterrows():
            if not r["write_hist"] and not r["read_hist"]:
                continue
            block = _side_by_side("write() returns\n" + quantize_text(r["write_hist"]),
                                  "read() returns\n" + quantize_text(r["read_hist"]))
            blocks.append(f"buffer {format_size(r['buffer_size'])}:\n\n```\n{block}\n```")
        if blocks:
            text.append(f"#### {md_escape(ipc)}: return-size distributions (write | read)")
            text.append(fold(f"{ipc}: return-size distributions, DTrace quantize layout (write | read), "
                             f"{len(blocks)} buffer sizes", "\n\n".join(blocks), open_=ipc == table["ipc"].iloc[0]))
    path = plot_distributions(table, figure_path(outdir, "kernel-return-sizes.png"))
    caption = ("Share of write()/read() calls per return-size bucket (y) for each buffer size (x), "
               "per IPC mode; the dotted line marks return = buffer size.")
    return Section(title, "\n\n".join(text), [Figure(path, caption)])


def _totals(df: pd.DataFrame) -> str:
    from ..results.load import measured
    sizes = sorted({int(s) for s in measured(df)["total_size"].dropna()})
    return ", ".join(format_size(s) for s in sizes) or "?"


def sleep_section(df: pd.DataFrame, meta: dict, outdir: Path, view: KernelView | None = None) -> Section:
    """Time off-CPU and context switches vs buffer size (study's figure 5)."""
    title = "Kernel view: time asleep / off-CPU"
    view = _view(df, view)
    switches = view.switches
    if switches.empty:
        return Section(title, "_No measured runs._")
    actors, counted, perf_switches = view.offcpu, view.offcpu_counter, view.context_switches
    text = []
    if not actors.empty:
        text.append(f"Time each actor spent **off-CPU** during the loop (bytes moved per run: "
                    f"{_totals(df)}), measured by the benchmark itself in every run, no tool "
                    "needed: the actor's own wall-clock window around its loop minus the CPU "
                    "time its thread clock (`CLOCK_THREAD_CPUTIME_ID`) counted there, i.e. time "
                    "asleep in read()/write() or runnable but waiting for the CPU (result "
                    "columns `offcpu_writer_ns`, `offcpu_reader_ns`; medians of the "
                    + view.source + " runs). With both actors on one CPU each is off-CPU while the other runs. "
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
    head = ["IPC", "buffer"]
    if not actors.empty:
        head += ["loop (ms)", "writer off-CPU (ms)", "reader off-CPU (ms)"]
    head += ["nvcsw", "nivcsw"]
    if not perf_switches.empty:
        head.append("context_switches (perf)")
    if not counted.empty:
        head.append("offcpu_ns (dtrace, ms)")
    rows = []
    for _, r in view.sleep.iterrows():
        cells = [md_escape(r["ipc"]), format_size(r["buffer_size"])]
        if not actors.empty:
            cells += [number(r.get("loop_ms")), number(r.get("writer_ms")), number(r.get("reader_ms"))]
        cells += [number(r["nvcsw"]), number(r["nivcsw"])]
        if not perf_switches.empty:
            cells.append(number(r.get("context_switches")))
        if not counted.empty:
            cells.append(number(r.get("offcpu_ns") / 1e6))
        rows.append(cells)
    text.append(pipe_table(head, rows, right=range(2, len(head))))
    path = plot_sleep(actors, counted, switches, perf_switches, figure_path(outdir, "kernel-offcpu.png"))
    what = ("time off-CPU per actor (benchmark's own clocks; writer solid, reader dashed)"
            if not actors.empty else "dtrace `offcpu_ns` (all threads, inside read()/write())"
            if not counted.empty else "(off-CPU time not measured)")
    caption = (f"Left: {what}, per run. Right: context switches per run: getrusage voluntary "
               "(solid) and involuntary (dashed), perf context_switches (dotted) where counted.")
    return Section(title, "\n\n".join(text), [Figure(path, caption)])


def _probe_effect(passes: list[str], probe: pd.DataFrame | None) -> str:
    """The probe-effect statement: the overhead of passes that count with tracepoints, in the words
    of its verdicts (a cost is said only where its interval shows one)."""
    from ..analysis.overhead import overall_words
    text = ("Probe effect: kernel counts that come from a tracepoint or probe on every system call "
            "(`syscalls_*`, `sched_switch`, dtrace's probes) take time in the kernel on every call; software "
            "counters such as `page_faults` count events the kernel counts anyway.")
    if not passes:
        return text + " No tracepoint pass was run here, so its cost was not measured."
    if probe is None or probe.empty:   # too little data here: the overhead section has the details
        return text + (f" Passes with tracepoints: {', '.join(map(md_escape, passes))}; see the probe-effect "
                       "(overhead) section for their cost.")
    said = []
    for _, r in probe.iterrows():
        verdict = r.get("overall_verdict")
        if not isinstance(verdict, str):       # an older table without the overall verdict
            said.append(f"{md_escape(r['ipc'])} with {md_escape(r['variant'])}: {ratio(r['median_ratio'], 2)}x "
                        f"(median over {r['n_sizes']} sizes, no verdict)")
            continue
        words = overall_words(r["overall_ratio"], r["overall_ci_low"], r["overall_ci_high"], verdict, r["level"])
        said.append(f"{md_escape(r['ipc'])} with {md_escape(r['variant'])}: {words} over {r['n_sizes']} sizes")
    return text + " Measured here (bandwidth with the pass / without, geometric mean over sizes): " + \
        "; ".join(said) + "."


def _crosscheck_text(table: pd.DataFrame) -> list[str]:
    """The cross-check table: kernel counters vs the benchmark's own counts of the same runs."""
    if table.empty:
        names = ", ".join(f"`{c}`" for c, _own, _expect in CROSSCHECKS)
        return [f"No run counted any of {names}, so the benchmark's own counts (getrusage, calls) are not "
                "cross-checked here."]
    text = ["**Cross-checks**: each kernel counter against what the benchmark counted itself in "
            "the same run (difference = counter - benchmark; in-process counting, scope `actors`, "
            "counts each actor's own loop; perf stat the loop window of the whole process, scope "
            "`loop`; a dtrace/pmcstat `process` scope also includes set-up and output, so expect "
            "more there)."]
    head = ["counter", "benchmark", "IPC", "scope", "runs", "identical", "difference: median (min to max)"]
    rows = [[f"`{r['counter']}`", r["own"], md_escape(r["ipc"]), str(r["scope"]), str(r["runs"]), str(r["equal"]),
             f"{number(r['median_diff'], signed=True)} ({number(r['min_diff'], signed=True)} to "
             f"{number(r['max_diff'], signed=True)})"] for _, r in table.iterrows()]
    text.append(pipe_table(head, rows, right={4, 5}))
    shown = set(zip(table["counter"], table["scope"]))
    expected = [f"`{c}` vs {'+'.join(own)}, scope `{scope}`: {exp}." for c, own, exps in CROSSCHECKS
                for scope, exp in exps.items() if (c, scope) in shown]
    text.append("Expected:\n\n" + "\n".join(f"- {e}" for e in expected))
    below = table[table["below"] > 0]
    if len(below):
        text.append("**Disagreement:** " + "; ".join(
            f"`{r['counter']}` counted fewer events than the benchmark in {r['below']} of "
            f"{r['runs']} {md_escape(r['ipc'])} runs" for _, r in below.iterrows()) + ".")
    return text


def faults_section(df: pd.DataFrame, meta: dict, outdir: Path, view: KernelView | None = None) -> Section:
    """Page faults vs buffer size (figure 6), cross-checks of the kernel counters against the
    benchmark's own counts, and time in faults where it was measured."""
    title = "Kernel view: page faults"
    view = _view(df, view, probe=True)
    rusage, perf, fault_ns = view.faults_rusage, view.page_faults, view.fault_ns
    if rusage.empty:
        return Section(title, "_No measured runs._")
    text = ["Page faults per run during the loop: getrusage `minflt + majflt` of the two actors "
            "(every run; medians of the " + view.source
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
    head = ["IPC", "buffer", "minflt+majflt", "page_faults (perf)"] + \
        (["time in faults (ms)"] if not fault_ns.empty else [])
    rows = []
    for _, r in view.faults.iterrows():
        cells = [md_escape(r["ipc"]), format_size(r["buffer_size"]), number(r["faults"]),
                 number(r.get("page_faults"))]
        if not fault_ns.empty:
            cells.append(number(r.get("fault_ns") / 1e6))
        rows.append(cells)
    text.append(pipe_table(head, rows, right=range(2, len(head))))
    text += _crosscheck_text(view.crosschecks)
    text.append(_probe_effect(view.tracepoint_passes, view.probe))
    values = [v for v in list(rusage["faults"]) + (list(perf["page_faults"]) if not perf.empty else [])
              if v is not None and math.isfinite(float(v))]
    if values and max(values) == 0:
        text.insert(1, "**No page fault** in any measured loop (every median is 0).")
    path = plot_faults(rusage, perf if not perf.empty else None,
                       figure_path(outdir, "kernel-page-faults.png"))
    caption = "Page faults per run vs buffer size: getrusage (solid) and perf page_faults (dotted)."
    return Section(title, "\n\n".join(text), [Figure(path, caption)])


def _has(frame: pd.DataFrame, columns) -> bool:
    return frame is not None and not frame.empty and any(c in frame and frame[c].notna().any() for c in columns)


def kernel_sections(df: pd.DataFrame, meta: dict, outdir: Path, ctx=None) -> list[Section]:
    """The kernel-view sections that have something to show, in report order (the kernel view computed
    once: the report context's). A section whose data holds none of its quantities (e.g. imported L41
    output, which has only the bandwidth and the PMCs) is left out; if none is left, one section says so
    in one line."""
    view = ctx.kernel if ctx is not None else kernel_view(df)
    out = []
    if view.return_sizes.empty or _has(view.return_sizes, ["writes", "reads"]) or \
            any(bool(h) for h in view.return_sizes["write_hist"]):
        out.append(distributions_section(df, meta, outdir, view=view))
    if view.switches.empty or _has(view.switches, ["nvcsw", "nivcsw"]) or not view.offcpu.empty \
            or not view.offcpu_counter.empty:
        out.append(sleep_section(df, meta, outdir, view=view))
    if view.faults_rusage.empty or _has(view.faults_rusage, ["faults"]) or not view.page_faults.empty:
        out.append(faults_section(df, meta, outdir, view=view))
    if not out:
        source = (meta or {}).get("source", "this data")
        out.append(Section("Kernel view", f"Not shown: the runs ({md_escape(source)}) record none of what the kernel "
                                          "view is made of (read()/write() return sizes, call counts, getrusage "
                                          "faults and context switches, off-CPU time); only the bandwidth and the "
                                          "counters above.\n"))
    return out


#: The section functions, for ``pmcsuite.report.SECTIONS``.
SECTION_FUNCTIONS = [distributions_section, sleep_section, faults_section]
