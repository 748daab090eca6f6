"""The run record: its fields, vocabularies, JSON form, validation and format history.

One place for what a stored run is. The collection writes ``RunRecord``s, the importers build
them, the store appends their JSON form and ``results.load`` reads them back through
``RunRecord.from_json`` (which validates); nothing else spells a status, a variant, a scope or a
reserved column name.

Format history (``format_version`` in metadata.json; runs.jsonl lines follow it):

- 1 (November 2026): one run = one benchmark process; counters counted around it by a tool
  (perf stat with loop-only control, pmcstat, dtrace) or imported.
- 2 (December 2026): runs may be the iterations of one benchmark process (``process``,
  ``iteration``, ``iterations``), counted inside the benchmark by each actor (backend ``inproc``,
  scope ``actors``); counter statuses ``multiplexed`` and ``silent_zero``. Version 1 records
  still load: their ``process`` is their ``run`` and they have one iteration.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields

from .errors import PmcsuiteError

FORMAT = "pmcsuite-results"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)

#: the variant of the uninstrumented runs; every other variant is the name of a counter pass
BASELINE = "baseline"

#: every status a counter value can have; ``value`` is a number only when the status is "ok".
#: not_counted: opened but never running; multiplexed: running part of the time (never scaled, never
#: stored as a value); silent_zero: read 0 although the catalogue says it counts in any loop
#: (``never_zero``), the mark of an event the PMU does not implement.
STATUSES = ("ok", "not_supported", "not_counted", "permission_denied", "multiplexed", "silent_zero",
            "tool_missing", "error")

#: the statuses ipcbench itself reports per event (silent_zero and tool_missing are pmcsuite's verdicts)
BENCH_STATUSES = ("ok", "not_supported", "permission_denied", "not_counted", "multiplexed", "error")

#: who counted: inproc (the benchmark itself), a tool around it, none (baseline), import
BACKENDS = ("inproc", "perf", "pmcstat", "dtrace", "none", "import")

#: what a counter value covers: "actors" (each actor from just before its first call to just after
#: its last, summed), "loop" (perf --control around both actors' loops), "process" (the whole
#: benchmark process), None (nothing counted)
SCOPES = ("actors", "loop", "process", None)

#: fixed columns of the result table (``results.load``), in order, with their dtypes;
#: counter columns follow. A counter id may not shadow any of them.
TABLE_COLUMNS = {
    "ipc": object, "actors": object, "placement": object,
    "buffer_size": "Int64", "total_size": "Int64",
    "run": "Int64", "warmup": bool,
    "variant": object,
    "backend": object, "scope": object,
    "process": "Int64", "iteration": "Int64",
    "seq": "Int64", "started": "datetime", "ok": bool, "error": object,
    "loop_ns": "Int64", "bandwidth": float,
    "writes": "Int64", "reads": "Int64",
    "minflt": "Int64", "majflt": "Int64", "nvcsw": "Int64", "nivcsw": "Int64",
    "utime_ns": "Int64", "stime_ns": "Int64", "offcpu_writer_ns": "Int64", "offcpu_reader_ns": "Int64",
    "sndbuf": "Int64", "rcvbuf": "Int64", "pipe_size": "Int64",
    "cpu_writer": "Int64", "cpu_reader": "Int64",
    "other_cpu_frac": float, "runnable_others": "Int64", "shared_cpu": bool,
    "write_sizes": object, "read_sizes": object,
}


def reserved_id(counter_id: str) -> bool:
    """True when a counter id would clash with a result-table column (or its status column)."""
    return counter_id in TABLE_COLUMNS or counter_id.endswith("_status")


@dataclass
class CounterValue:
    """One counter's outcome in one run (or, from ``probe``, whether it can be opened).

    ``value`` is None unless ``status == "ok"``: a counter that did not count is never 0.
    ``pcnt_running`` < 100 means the tool multiplexed the event (a tool that scales, perf stat, then
    sets ``multiplexed``). ``actors``: per-actor detail of in-process counting
    (``{"writer": {"status", "value", "enabled", "running"}, "reader": {...}}``).
    """

    counter: str
    event: str
    value: float | None
    unit: str
    status: str
    pcnt_running: float | None = None
    reason: str | None = None
    multiplexed: bool = False
    actors: dict | None = None

    def to_dict(self) -> dict:
        """The JSON form stored under ``counters[<counter id>]`` in runs.jsonl (no counter id)."""
        d = {"event": self.event, "value": self.value, "unit": self.unit,
             "status": self.status, "pcnt_running": self.pcnt_running}
        if self.reason:
            d["reason"] = self.reason
        if self.multiplexed:
            d["multiplexed"] = True
        if self.actors:
            d["actors"] = self.actors
        return d


@functools.cache
def _field_names(cls) -> tuple:
    return tuple(f.name for f in fields(cls))


class MalformedRecord(PmcsuiteError, ValueError):
    """A run record that does not validate (what is wrong, in one line): a PmcsuiteError for the
    user, and a ValueError for the callers that catch that."""


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class RunRecord:
    """One stored run: a line of runs.jsonl (docs/DESIGN.md "runs.jsonl")."""

    ipc: str
    buffer_size: int
    variant: str
    actors: str | None = None
    placement: str | None = None
    total_size: int | None = None
    run: int | None = None            # index in its (ipc, size, variant) cell, in execution order
    warmup: bool = False
    backend: str | None = None
    scope: str | None = None
    process: int | None = None        # the benchmark process within the cell (resume unit)
    iteration: int | None = None      # index within that process (None: the process failed)
    iterations: int | None = None     # iterations that process was to run
    started: str | None = None
    seq: int | None = None
    ok: bool = True
    error: str | None = None
    bench: dict | None = None
    counters: dict = field(default_factory=dict)
    busy: dict | None = None
    warnings: list = field(default_factory=list)
    source: dict | None = None        # imports: where the run came from

    def __post_init__(self):
        problems = []
        for name in ("ipc", "variant"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                problems.append(f"'{name}' is {getattr(self, name)!r}, not a name")
        if not _is_int(self.buffer_size) or self.buffer_size <= 0:
            problems.append(f"'buffer_size' is {self.buffer_size!r}, not a positive integer")
        for name in ("total_size", "run", "process", "iteration", "iterations", "seq"):
            value = getattr(self, name)
            if value is not None and not _is_int(value):
                problems.append(f"'{name}' is {value!r}, not an integer")
        for name in ("warmup", "ok"):
            if not isinstance(getattr(self, name), bool):
                problems.append(f"'{name}' is {getattr(self, name)!r}, not true/false")
        if self.backend is not None and self.backend not in BACKENDS:
            problems.append(f"'backend' is {self.backend!r}, not one of {', '.join(BACKENDS)}")
        if self.scope not in SCOPES:
            problems.append(f"'scope' is {self.scope!r}, not one of {', '.join(str(s) for s in SCOPES)}")
        if not isinstance(self.counters, dict):
            problems.append("'counters' is not an object")
        else:
            for cid, entry in self.counters.items():
                if not isinstance(entry, dict):
                    problems.append(f"counter {cid} is not an object")
                    continue
                status, value = entry.get("status"), entry.get("value")
                if status not in STATUSES:
                    problems.append(f"counter {cid} has status {status!r}, not one of {', '.join(STATUSES)}")
                if value is not None and not _is_number(value):
                    problems.append(f"counter {cid} has value {value!r}, not a number")
                if status != "ok" and value is not None:
                    problems.append(f"counter {cid} has status {status} and a value: only ok counters have values")
        for name in ("bench", "busy", "source"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), dict):
                problems.append(f"'{name}' is not an object")
        if not isinstance(self.warnings, list):
            problems.append("'warnings' is not a list")
        if problems:
            raise MalformedRecord("; ".join(problems))

    @classmethod
    def from_json(cls, data) -> "RunRecord":
        """A runs.jsonl object -> RunRecord; MalformedRecord (a PmcsuiteError and a ValueError)
        naming what is wrong. Version 1 records (one process per run) get ``process = run`` and one
        iteration."""
        if not isinstance(data, dict):
            raise MalformedRecord("not an object")
        known = _field_names(cls)
        missing = [k for k in ("ipc", "buffer_size", "variant") if data.get(k) is None]
        if missing:
            raise MalformedRecord(f"no {', '.join(missing)}")
        values = {k: v for k, v in data.items() if k in known}
        if "error" in data and "ok" not in data:
            values["ok"] = data["error"] is None
        for name in ("counters", "warnings"):
            if values.get(name) is None:
                values.pop(name, None)
        if "process" not in data and "iteration" not in data:
            values["process"], values["iteration"], values["iterations"] = data.get("run"), 0, 1
        return cls(**values)

    def to_json(self) -> dict:
        """The runs.jsonl object (``source`` only for imports)."""
        out = {name: getattr(self, name) for name in _field_names(type(self))}
        if out["source"] is None:
            del out["source"]
        return out

    @property
    def key(self) -> tuple:
        """What identifies the benchmark process a run came from: (ipc, buffer_size, variant, process)."""
        return (self.ipc, self.buffer_size, self.variant, self.process)
