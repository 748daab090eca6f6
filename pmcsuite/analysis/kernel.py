"""The kernel view's computations (issue 4): what the kernel did for each buffer size.

Pure functions of the result table (``pmcsuite.load(DIR)``); the report's kernel sections
(``pmcsuite.report.kernel_sections``) only render what these return:

- :func:`return_sizes`: per IPC mode and buffer size, median calls per run and the median
  power-of-two return-size histograms (bucket 2^k holds the calls that returned r bytes with
  2^k <= r < 2^(k+1)), from the benchmark's own histograms;
- :func:`offcpu_per_actor`, :func:`switch_counts`, :func:`sleep_table`: time off-CPU per actor
  (the benchmark's own clocks), getrusage context switches, and the dtrace/perf counters of the
  same quantities where a pass counted them;
- :func:`faults_table`: page faults per run (getrusage, perf ``page_faults``, dtrace ``fault_ns``);
- :func:`crosschecks` / :data:`CROSSCHECKS` and :func:`syscall_checks` (:func:`exact_crosschecks`):
  kernel counters against the benchmark's own counts of the same runs (counters.yaml ``crosscheck``);
- :func:`tracepoint_passes`, :func:`probe_effect`: the passes that count with a probe on every
  call, and their measured cost;
- :func:`kernel_view`: all of the above at once, as a :class:`KernelView` (``.summary()``,
  ``.to_dict()``).

Every number is a median over the measured (ok, non-warm-up) runs of the cell, baseline runs
preferred (no instrumentation) where the data has them. Nothing is invented: a quantity with no
measurement gives an empty table, never zeros.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..catalogue import builtin_catalogue, result_catalogue
from ..errors import PmcsuiteError
from ..results.load import measured
from ..schema import BASELINE

#: counters measured with a tracepoint or probe on every call (their probe effect is not nil):
#: ``probe: true`` in counters.yaml
TRACEPOINT_COUNTERS = builtin_catalogue().probe_counters()

#: Kernel counters checked against what the benchmark counts itself in the same run: (counter, the
#: benchmark's own columns summed, {scope: what to expect}), the ``crosscheck`` fields of counters.yaml.
CROSSCHECKS = builtin_catalogue().crosschecks()

KEYS = ["ipc", "buffer_size"]
RETURN_SIZE_COLUMNS = ["ipc", "buffer_size", "n", "writes", "reads", "reads_per_write", "write_hist",
                       "read_hist", "max_write_bucket", "max_read_bucket", "pipe_size"]
OFFCPU_COLUMNS = ["ipc", "buffer_size", "loop_ms", "writer_ms", "reader_ms", "nvcsw", "nivcsw", "n"]
CROSSCHECK_COLUMNS = ["counter", "own", "ipc", "scope", "runs", "equal", "median_diff", "min_diff",
                      "max_diff", "below", "expected"]
SYSCALL_CHECK_COLUMNS = ["counter", "own", "runs", "median_extra", "min_extra", "max_extra", "below"]
PROBE_COLUMNS = ["ipc", "variant", "overall_ratio", "overall_ci_low", "overall_ci_high", "overall_verdict", "level",
                 "median_ratio", "min_ratio", "max_ratio", "n_sizes"]


def _f(series) -> pd.Series:
    """A column as float64 (nullable integers' NA -> NaN)."""
    return pd.to_numeric(series, errors="coerce").astype("float64")


def has_baseline(df: pd.DataFrame) -> bool:
    """True when the measured runs include baseline (uninstrumented) runs."""
    runs = measured(df)
    return bool((runs["variant"] == BASELINE).any())


def view_runs(df: pd.DataFrame) -> pd.DataFrame:
    """The runs the kernel view describes: measured runs, baseline only when the data has baseline runs."""
    runs = measured(df)
    if (runs["variant"] == BASELINE).any():
        runs = runs[runs["variant"] == BASELINE]
    return runs


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


def return_sizes(df: pd.DataFrame) -> pd.DataFrame:
    """Per (ipc, buffer_size): median calls and the median return-size histograms.

    Columns: ipc, buffer_size, n, writes, reads, reads_per_write, write_hist, read_hist,
    max_write_bucket, max_read_bucket, pipe_size (median of the runs; NaN when n/a).
    """
    rows = []
    for (ipc, size), cell in view_runs(df).groupby(KEYS, sort=True):
        wh = median_histogram(cell["write_sizes"])
        rh = median_histogram(cell["read_sizes"])
        writes, reads = float(_f(cell["writes"]).median()), float(_f(cell["reads"]).median())
        rows.append({"ipc": ipc, "buffer_size": int(size), "n": len(cell), "writes": writes,
                     "reads": reads, "reads_per_write": reads / writes if writes else math.nan,
                     "write_hist": wh, "read_hist": rh,
                     "max_write_bucket": max(wh) if wh else None,
                     "max_read_bucket": max(rh) if rh else None,
                     "pipe_size": float(_f(cell["pipe_size"]).median())})
    return pd.DataFrame(rows, columns=RETURN_SIZE_COLUMNS)


def medians(runs: pd.DataFrame, columns: dict) -> pd.DataFrame:
    """Per (ipc, buffer_size): median of each ``{name: Series}`` over ``runs``, and ``n``."""
    frame = runs[KEYS].assign(**columns)
    g = frame.groupby(KEYS, sort=True)
    out = g[list(columns)].median()
    out["n"] = g.size()
    return out.reset_index()


def counter_medians(df: pd.DataFrame, counter: str) -> pd.DataFrame:
    """Per (ipc, buffer_size): median of a counter over the measured runs that counted it;
    columns ipc, buffer_size, <counter>, <counter>_n (empty when no run counted it)."""
    empty = pd.DataFrame(columns=KEYS + [counter, f"{counter}_n"])
    if counter not in df.columns:
        return empty
    runs = measured(df)
    runs = runs[runs[counter].notna()]
    if runs.empty:
        return empty
    out = medians(runs, {counter: _f(runs[counter])})
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
    if not {"offcpu_writer_ns", "offcpu_reader_ns"} <= set(df.columns):
        return pd.DataFrame(columns=OFFCPU_COLUMNS)
    runs = view_runs(df)
    runs = runs[runs["offcpu_writer_ns"].notna() & runs["offcpu_reader_ns"].notna()]
    if runs.empty:
        return pd.DataFrame(columns=OFFCPU_COLUMNS)
    return medians(runs, {"loop_ms": _f(runs["loop_ns"]) / 1e6,
                          "writer_ms": _f(runs["offcpu_writer_ns"]) / 1e6,
                          "reader_ms": _f(runs["offcpu_reader_ns"]) / 1e6,
                          "nvcsw": _f(runs["nvcsw"]), "nivcsw": _f(runs["nivcsw"])})[OFFCPU_COLUMNS]


def switch_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Per (ipc, buffer_size): median getrusage ``nvcsw``/``nivcsw`` of the two actors per run
    (baseline runs preferred)."""
    runs = view_runs(df)
    if runs.empty:
        return pd.DataFrame(columns=KEYS + ["nvcsw", "nivcsw", "n"])
    return medians(runs, {"nvcsw": _f(runs["nvcsw"]), "nivcsw": _f(runs["nivcsw"])})


def sleep_table(switches: pd.DataFrame, actors: pd.DataFrame, counted: pd.DataFrame,
                perf_switches: pd.DataFrame) -> pd.DataFrame:
    """One row per (ipc, buffer_size) of ``switches``: the off-CPU times per actor, the getrusage
    switches, perf's ``context_switches`` and dtrace's ``offcpu_ns`` where measured (left joins)."""
    merged = switches[KEYS]
    for part in (actors.drop(columns=["n", "nvcsw", "nivcsw"], errors="ignore"),
                 switches.drop(columns=["n"]), counted, perf_switches):
        if not part.empty:
            merged = merged.merge(part, on=KEYS, how="left")
    return merged


def faults_table(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Page faults per run: ``(rusage, perf, fault_ns, merged)``.

    ``rusage``: per (ipc, buffer_size) median getrusage ``minflt + majflt`` (column ``faults``,
    baseline runs preferred) and ``n``; ``perf``: :func:`counter_medians` of ``page_faults``;
    ``fault_ns``: of dtrace's ``fault_ns`` (time in the fault handler); ``merged``: the three
    side by side (empty when there are no measured runs)."""
    runs = view_runs(df)
    perf = counter_medians(df, "page_faults")
    fault_ns = counter_medians(df, "fault_ns")
    if runs.empty:
        empty = pd.DataFrame(columns=KEYS + ["faults", "n"])
        return empty, perf, fault_ns, pd.DataFrame(columns=KEYS + ["faults"])
    rusage = medians(runs, {"faults": _f(runs["minflt"]) + _f(runs["majflt"])})
    merged = rusage.drop(columns=["n"]).merge(perf, on=KEYS, how="left").merge(fault_ns, on=KEYS, how="left")
    return rusage, perf, fault_ns, merged


def crosschecks(df: pd.DataFrame) -> pd.DataFrame:
    """Kernel counters vs the benchmark's own counts, same runs, per counter, IPC mode and scope.

    Columns: counter, own (e.g. ``minflt+majflt``), ipc, scope, runs, equal (runs where the two
    are identical), median_diff, min_diff, max_diff (counter - own), below (runs where the
    counter saw fewer events than the benchmark: a real disagreement), expected (text).
    """
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
    return pd.DataFrame(rows, columns=CROSSCHECK_COLUMNS)


def exact_crosschecks(metadata: dict | None = None) -> list[tuple[str, tuple[str, ...]]]:
    """``(counter id, the benchmark's own columns)`` of the counters whose ``crosscheck`` names a
    scope where the two must be equal (``exact``: the system calls), from the result's catalogue
    (``metadata``: its metadata.json) and, for a counter it gives no crosscheck (a snapshot older
    than the field), today's built-in one."""
    cats = [result_catalogue(metadata)] if (metadata or {}).get("catalogue") else []
    cats = [cat for cat in cats if cat is not None] + [builtin_catalogue()]
    out = []
    for cid in dict.fromkeys(cid for cat in cats for cid in cat.counters):
        check = next((cat.counters[cid].crosscheck for cat in cats
                      if cid in cat.counters and cat.counters[cid].crosscheck is not None), None)
        if check is not None and check.exact:
            out.append((cid, check.own))
    return out


def syscall_checks(df: pd.DataFrame) -> pd.DataFrame:
    """Syscall counters (perf/dtrace/in-process) against the benchmark's own call counts over all
    the runs that counted them: extra calls (counter - benchmark) median, min, max, and ``below``
    (runs where the counter saw fewer calls than the benchmark made). The counters are those
    :func:`exact_crosschecks` names (``crosscheck.exact`` in counters.yaml)."""
    rows = []
    runs = measured(df)
    for counter, own in exact_crosschecks(df.attrs.get("metadata")):
        if counter not in runs.columns or not set(own) <= set(runs.columns):
            continue
        both = runs[runs[counter].notna()]
        if both.empty:
            continue
        extra = both[counter].astype(float) - sum(_f(both[c]) for c in own)
        rows.append({"counter": counter, "own": "+".join(own), "runs": len(both),
                     "median_extra": float(extra.median()), "min_extra": float(extra.min()),
                     "max_extra": float(extra.max()), "below": int((extra < 0).sum())})
    return pd.DataFrame(rows, columns=SYSCALL_CHECK_COLUMNS)


def pipe_reads(table: pd.DataFrame) -> dict | None:
    """From :func:`return_sizes`: the pipe's largest read bucket over all buffer sizes, the largest
    buffer, the pipe capacity read back from the kernel (None if unknown) and the calls per run
    with a 1M buffer (None if not measured). None when no pipe run recorded read sizes."""
    pipe = table[(table["ipc"] == "pipe") & table["max_read_bucket"].notna()]
    if pipe.empty:
        return None
    cap = pipe["pipe_size"].dropna()
    mib = pipe[pipe["buffer_size"] == 1 << 20]
    return {"max_read_bucket": int(pipe["max_read_bucket"].max()), "max_buffer": int(pipe["buffer_size"].max()),
            "pipe_size": int(cap.max()) if len(cap) else None,
            "writes_1m": float(mib.iloc[0]["writes"]) if len(mib) else None,
            "reads_1m": float(mib.iloc[0]["reads"]) if len(mib) else None}


def tracepoint_passes(df: pd.DataFrame) -> list[str]:
    """Passes (variants other than baseline) that counted a :data:`TRACEPOINT_COUNTERS` counter."""
    runs = measured(df)
    passes = set()
    for c in TRACEPOINT_COUNTERS:
        if c in runs.columns:
            passes |= set(runs.loc[runs[c].notna(), "variant"].unique())
    return sorted(passes - {BASELINE})


def probe_effect(df: pd.DataFrame, passes: list[str] | None = None) -> pd.DataFrame | None:
    """The measured cost of the tracepoint passes: per IPC mode and pass, the overall ratio with the
    pass / without (geometric mean over sizes), its interval and verdict, and the median, min and max
    of the sizes' ratios (``analysis.overhead``'s ``modes``).
    Empty when there is no tracepoint pass; None when the data cannot tell (no comparable cells)."""
    passes = tracepoint_passes(df) if passes is None else passes
    if not passes:
        return pd.DataFrame(columns=PROBE_COLUMNS)
    from .overhead import overhead
    try:
        result = overhead(df[df["variant"].isin(passes + [BASELINE])], breakpoints=False)
    except (PmcsuiteError, ValueError):
        return None
    modes = result.modes[result.modes["variant"].isin(passes)]
    if modes.empty:
        return None
    return modes[[c for c in PROBE_COLUMNS if c in modes.columns]].reset_index(drop=True)


def _records(frame: pd.DataFrame | None) -> list[dict] | None:
    if frame is None:
        return None
    out = []
    for row in frame.to_dict("records"):
        clean = {}
        for key, value in row.items():
            if isinstance(value, dict):
                value = {str(k): v for k, v in value.items()}
            elif isinstance(value, (np.integer,)):
                value = int(value)
            elif isinstance(value, (float, np.floating)):
                value = None if not math.isfinite(float(value)) else float(value)
            elif value is pd.NA:
                value = None
            clean[key] = value
        out.append(clean)
    return out


@dataclass
class KernelView:
    """Everything the kernel view shows, computed once (see the module docstring for each table).

    ``source``: which runs the per-cell medians describe (``"baseline"`` or ``"measured"``);
    ``probe``: :func:`probe_effect` (empty: no tracepoint pass; None: not measurable here)."""
    source: str
    return_sizes: pd.DataFrame
    pipe_reads: dict | None
    syscall_checks: pd.DataFrame
    offcpu: pd.DataFrame
    offcpu_counter: pd.DataFrame
    switches: pd.DataFrame
    context_switches: pd.DataFrame
    sleep: pd.DataFrame
    faults_rusage: pd.DataFrame
    page_faults: pd.DataFrame
    fault_ns: pd.DataFrame
    faults: pd.DataFrame
    crosschecks: pd.DataFrame
    tracepoint_passes: list[str] = field(default_factory=list)
    probe: pd.DataFrame | None = None

    def summary(self) -> str:
        lines = [f"kernel view over the {self.source} runs: {len(self.return_sizes)} cells"]
        if self.pipe_reads:
            lines.append(f"pipe: largest read() bucket {self.pipe_reads['max_read_bucket']} bytes "
                         f"(buffers up to {self.pipe_reads['max_buffer']})")
        lines.append("off-CPU per actor: " + ("measured" if not self.offcpu.empty else "not measured"))
        for r in self.crosschecks.to_dict("records"):
            lines.append(f"{r['counter']} vs {r['own']} ({r['ipc']}, {r['scope']}): {r['equal']}/{r['runs']} "
                         f"identical, median difference {r['median_diff']:+g}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"source": self.source, "return_sizes": _records(self.return_sizes), "pipe_reads": self.pipe_reads,
                "syscall_checks": _records(self.syscall_checks), "offcpu": _records(self.offcpu),
                "offcpu_counter": _records(self.offcpu_counter), "switches": _records(self.switches),
                "context_switches": _records(self.context_switches), "faults": _records(self.faults),
                "crosschecks": _records(self.crosschecks), "tracepoint_passes": list(self.tracepoint_passes),
                "probe": _records(self.probe)}


def kernel_view(df: pd.DataFrame, probe: bool = True) -> KernelView:
    """All the kernel view's tables of ``df`` (``probe=False`` skips :func:`probe_effect`, the only
    costly one: it runs the overhead analysis of the tracepoint passes)."""
    sizes = return_sizes(df)
    actors, counted = offcpu_per_actor(df), counter_medians(df, "offcpu_ns")
    switches, perf_switches = switch_counts(df), counter_medians(df, "context_switches")
    rusage, perf, fault_ns, faults = faults_table(df)
    passes = tracepoint_passes(df)
    return KernelView(
        source="baseline" if has_baseline(df) else "measured", return_sizes=sizes, pipe_reads=pipe_reads(sizes),
        syscall_checks=syscall_checks(df), offcpu=actors, offcpu_counter=counted, switches=switches,
        context_switches=perf_switches,
        sleep=sleep_table(switches, actors, counted, perf_switches) if not switches.empty else switches,
        faults_rusage=rusage, page_faults=perf, fault_ns=fault_ns, faults=faults,
        crosschecks=crosschecks(df), tracepoint_passes=passes,
        probe=probe_effect(df, passes) if probe else None)
