"""Analysis of a result table (issue 3): probe overhead, inflexion points, which counters explain them.

Pure functions of the table returned by ``pmcsuite.load(DIR)``; every result object has ``.summary()``
(text) and ``.to_dict()`` (JSON-able)::

    overhead(df)          -> OverheadResult   ratio instrumented/baseline per ipc, size and pass
    fit_breakpoints(...)  -> BreakpointFit    segmented regression of one curve on log2(size)
    bandwidth_fit(df, ipc, variant="baseline") -> BreakpointFit
    explain(df)           -> Explanation      per IPC mode: measured cells, breakpoints, the counters
                                              tried and named for each, correlations, and the overhead
    findings(expl)        -> list[dict]       peaks, knees, falls, rises, flat ranges, plateaus, crossovers
    findings_dict(df_or_expl) -> dict         the ``explain --json`` document (contract: findings.py)
    sentences(expl)       -> list[str]        findings as sentences
    counter_labels(ids, metadata=None) -> dict  readable counter names ("read() calls") for sentences

No function here lets a numerical warning reach the user: exact fits, constant and collinear counters
are handled explicitly (see breakpoints.py "Exact fits").
"""
from .breakpoints import (Breakpoint, BreakpointFit, bandwidth_fit, counter_columns, find_breakpoints,
                          fit_breakpoints, measured_runs, same_breakpoints)
from .explain import ALIGN_NOTE, Attribution, Explanation, ModeExplanation, explain, per_call, per_kib
from .findings import findings, findings_dict, findings_text, mode_sentences, sentences
from .labels import counter_labels, is_time_counter
from .overhead import OverheadResult, overhead

__all__ = [
    "Breakpoint", "BreakpointFit", "bandwidth_fit", "counter_columns", "find_breakpoints", "fit_breakpoints",
    "measured_runs", "same_breakpoints", "ALIGN_NOTE", "Attribution", "Explanation", "ModeExplanation", "explain",
    "per_call", "per_kib", "findings", "findings_dict", "findings_text", "mode_sentences", "sentences", "OverheadResult",
    "overhead", "counter_labels", "is_time_counter",
]
