"""Analysis of a result table (issue 15): verdicts on the benchmark process, inflexion points as
departures from the per-call model, counters named by the time they can account for.

Pure functions of the table returned by ``pmcsuite.load(DIR)``; every result object has ``.summary()``
(text) and ``.to_dict()`` (JSON-able)::

    inference             the two-stage (process, then point) model every interval and verdict uses
    overhead(df)          -> OverheadResult   per pass and IPC mode an overall verdict, then its cells
    compare(*sets)        -> Comparison       per set an overall verdict, then its points
    fit_model(runs)       -> PerCallModel     t0 + n / r_inf fitted to one curve, and its departures
    explain(df)           -> Explanation      per IPC mode: levels, the model, departures, peaks, flat
                                              ranges, the counters named for each change, the overhead
    attribute_changes(runs, changes, counters) -> the counters that can account for each change
    findings(expl)        -> list[dict]       the findings, each with a plain sentence and its details
    findings_dict(df_or_expl) -> dict         the ``explain --json`` document (explain.py; contract: findings.py)
    sentences(expl)       -> list[str]        findings as sentences
    counter_labels(ids, metadata=None) -> dict  readable counter names ("read() calls") for sentences
"""
from .attribution import Change, attribute_changes
from .explain import (ALIGN_NOTE, Attribution, Explanation, ModeExplanation, explain, findings_dict, findings_text,
                      per_call, per_kib, sentences)
from .findings import findings, mode_sentences
from .labels import counter_labels, is_time_counter
from .model import PerCallModel, fit_model
from .overhead import OverheadResult, overhead
from .runs import counter_columns, measured_runs

__all__ = [
    "Change", "attribute_changes", "counter_columns", "measured_runs", "ALIGN_NOTE", "Attribution", "Explanation",
    "ModeExplanation", "explain", "per_call", "per_kib", "findings", "findings_dict", "findings_text",
    "mode_sentences", "sentences", "OverheadResult", "overhead", "PerCallModel", "fit_model", "counter_labels",
    "is_time_counter",
]
