"""The one place for what pmcsuite stores and the facts every stage shares.

- the vocabularies (IPC modes, actors, placements, roles, counter statuses, backends, scopes), the
  units and the defaults of a sweep and of the analysis;
- ``now()``, the one timestamp, and ``jsonable()``, the one JSON cleaner (``parse_json()`` reads
  JSON strictly);
- the run record: ``RunRecord`` is a line of runs.jsonl; the collection and the importers build
  them, the store appends their JSON form and ``results.load`` reads them back through
  ``RunRecord.from_json`` (which validates);
- the metadata document: ``METADATA`` registers every top-level field of metadata.json with its
  type and meaning; ``check_metadata`` refuses an unknown field or a wrong type (the store runs it
  on every write and read).

Format history (``format_version`` in metadata.json; runs.jsonl lines follow it):

- 1 (November 2026): one run = one benchmark process; counters counted around it by a tool
  (perf stat with loop-only control, pmcstat, dtrace) or imported.
- 2 (December 2026): runs may be the iterations of one benchmark process (``process``,
  ``iteration``, ``iterations``), counted inside the benchmark by each actor (backend ``inproc``,
  scope ``actors``); counter statuses ``multiplexed`` and ``silent_zero``. Version 1 records
  still load: their ``process`` is their ``run`` and they have one iteration.
- 3 (December 2026): a run may hold the kernel profile of its loop (``profile``: the sampling event
  and period, samples and lost samples per actor, the folded stacks), counted as the counters
  ``profile_<category>`` (unit ``samples``); the result table's ``profile_period_ns`` and
  ``profile_lost``. Versions 1 and 2 still load (no profile).
"""
from __future__ import annotations

import datetime as _dt
import functools
import json
import math
import sys
from dataclasses import dataclass, field, fields
from pathlib import PurePath

from .errors import PmcsuiteError

FORMAT = "pmcsuite-results"
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)

# ---- vocabularies ------------------------------------------------------------------------------

#: the IPC modes ipcbench runs: pipe, pipe-s (Linux: F_SETPIPE_SZ to the buffer size), local
#: (socketpair AF_UNIX SOCK_STREAM), local-s (SO_SNDBUF/SO_RCVBUF = the buffer size), tcp, tcp-s
#: (127.0.0.1, buffers as local-s). Imported runs may name others.
IPC_MODES = ("pipe", "pipe-s", "local", "local-s", "tcp", "tcp-s")
#: the modes a sweep runs unless --ipc says otherwise; reports show them first (``IPC_ORDER``)
REFERENCE_IPCS = ("pipe", "local", "local-s")
#: the IPC modes in the order reports give them colours and markers
IPC_ORDER = REFERENCE_IPCS + tuple(mode for mode in IPC_MODES if mode not in REFERENCE_IPCS)
#: who runs the two ends: two threads of one process, or two processes
ACTORS = ("2thread", "2proc")
#: the actors a stored run may have: imports also bring L41's "1thread" (one thread does both ends)
STORED_ACTORS = ("1thread",) + ACTORS
#: where the actors run: one CPU, two CPUs, wherever the scheduler puts them
PLACEMENTS = ("same", "split", "any")
#: the two actors of a run (ipcbench's per-actor counts, times and CPUs are keyed by them)
ROLES = ("writer", "reader")

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

#: the backends a collection runs: inproc (the benchmark counts itself), a tool around it (perf,
#: pmcstat, dtrace), none (the baseline: nothing counted)
COLLECT_BACKENDS = ("inproc", "perf", "pmcstat", "dtrace", "none")
#: who counted a stored run: a collection's backend, or "import"
BACKENDS = COLLECT_BACKENDS + ("import",)

#: what a counter value covers: "actors" (each actor from just before its first call to just after
#: its last, summed), "loop" (perf --control around both actors' loops), "process" (the whole
#: benchmark process), None (nothing counted)
SCOPES = ("actors", "loop", "process", None)

# ---- units and defaults ------------------------------------------------------------------------

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30

#: bytes one run moves
DEFAULT_TOTAL = 16 * MIB
#: seconds after which a benchmark process counts as hung, unless --timeout says otherwise
DEFAULT_TIMEOUT = 120.0
DEFAULT_ACTORS = "2thread"
#: a sweep's placement: both actors on one CPU (the trace and one-off ``bench`` runs use "any")
DEFAULT_PLACEMENT = "same"
#: the buffer sizes a sweep runs unless --sizes says otherwise
REFERENCE_SIZES = "1K-16M"
#: runs per point and variant, warm-ups included, in PROCESSES benchmark processes (in-process
#: counting; each process runs POINTS points, each starting with WARMUP warm-up iterations).
#: The process is the unit of the analysis (a process keeps its regime), so processes, not
#: iterations, buy precision: bench/validation_plan.py (200 synthetic sweeps per plan laid out by
#: plan.make_jobs: 3 IPC modes, 2 passes, process CV 10 %, iteration CV 3 %, 2 % slow iterations;
#: cost = time / the summed loop time of the sweep's old plan, a process's start-up 18 ms against
#: a 9.8 ms iteration, both measured here) gave, as no-effect sweeps with any verdict / overall
#: 0.85x called slower / a one-size 0.5x called slower / cost:
#:   default 13 in 3 (old)  1.5 % / 96.7 % /  9.0 % / 1.08      quick 9 in 3 (old)  2.5 % / 81.5 % /  8.5 % / 1.12
#:   default 14 in 7        3.0 % / 100  % / 92.5 % / 1.27      quick 8 in 4        1.5 % / 91.1 % / 54.5 % / 1.05
#:   default 16 in 8        6.5 % / 100  % / 99.5 % / 1.46      quick 10 in 5       6.0 % / 97.3 % / 20.5 % / 1.32
#:                                                              quick 12 in 6       4.0 % / 98.8 % / 65.5 % / 1.58
#: Default: 14 = 7 x (1 warm-up + 1 measured), within 1.5x of the old loop time. Quick: 12 = 6 x (1 + 1).
#: With one measured iteration a process, a slow iteration is its process's median: five or more
#: processes a point are needed for the trimmed level to drop it (quick 8 in 4 was cheaper and past
#: 90 %, but one run at 0.6x moved its point by 12 %: a quarter of its log); five trim one of five and leave
#: 2 degrees of freedom (weak one-size verdicts); six is the fewest that does both.
#: A default process runs 15 points: what a process costs to start (tracepoints are registered per
#: process, ~40 ms each here) is paid three times less often than with 5. With 5 points a process
#: the default sweep took 2.05x its loop time (189 processes; goal 1.5x), with 15 1.47x (63
#: processes; bench/bench_sweep_speed.py --skip-perf). A process's effect is then shared by more
#: points (inference.shared_variance), which costs the overall verdict power: bench/validate_analysis.py
#: finds the default's overall 0.85x in 95 % of sweeps; the quick sweep's 13 processes a variant
#: would find it in 81 %, so it keeps 5 points a process (100 %; its time has no goal).
DEFAULT_SWEEP = {"sizes": REFERENCE_SIZES, "runs": 14, "warmup": 1, "processes": 7, "points_per_process": 15}
QUICK_SWEEP = {"sizes": "1K-1M", "runs": 12, "warmup": 1, "processes": 6, "points_per_process": 5}

#: the analysis' defaults: the level of every interval; the family-wise error rate of the changes
#: claimed in one call (a curve's departures, the counters named, the overhead verdicts); the band
#: within which a change is negligible (±5 %); a point is reliable when its interval lies within
#: its centre x/÷ (1 + HALF_WIDTH_LIMIT); how far from a flat range's level a size may be and still
#: belong to it
LEVEL = 0.95
ALPHA = 0.05
MARGIN = 0.05
HALF_WIDTH_LIMIT = 0.10
FLAT_TOLERANCE = 0.05

# ---- time and JSON -----------------------------------------------------------------------------


def now() -> str:
    """The time in UTC, ISO 8601 to the millisecond, e.g. ``2026-12-01T09:30:00.123+00:00`` (when a
    document was created, a process started, a collection resumed)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def stamp(version: str, command_line=None) -> dict:
    """The fields every document pmcsuite writes starts with (its provenance: the host, tools ...
    follow): ``pmcsuite_version`` (``version``), ``created`` (``now()``) and ``command_line``
    (default ``sys.argv``), each argument a string."""
    argv = sys.argv if command_line is None else command_line
    return {"pmcsuite_version": version, "created": now(), "command_line": [str(a) for a in argv]}


def jsonable(value):
    """``value`` as plain JSON data: NaN and infinities as None (JSON has neither), numpy and pandas
    scalars as Python numbers (pandas' NA and NaT as None, timestamps as ISO text), tuples, sets and
    numpy arrays as lists, paths as text, dicts and lists cleaned all the way down. Anything else
    is returned as it is (``json.dumps`` then says what it cannot write)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {jsonable(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    # a numpy or pandas object exists only once its module is imported: no import here
    numpy, pandas = sys.modules.get("numpy"), sys.modules.get("pandas")
    if numpy is not None and isinstance(value, (numpy.generic, numpy.ndarray)):
        return jsonable(value.tolist())
    if pandas is not None and (value is pandas.NA or value is pandas.NaT):
        return None
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    return value


def _not_json(constant):
    raise ValueError(f"{constant} is not a JSON value")


def parse_json(text):
    """``json.loads`` of JSON as RFC 8259 defines it: ``NaN``, ``Infinity`` and ``-Infinity`` (Python's
    extensions, which nothing can store) raise ValueError like any other invalid text."""
    return json.loads(text, parse_constant=_not_json)


# ---- the run record ----------------------------------------------------------------------------

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
    "profile_period_ns": float, "profile_lost": "Int64",
}
#: the keys of a run record's ``profile`` (``RunRecord``): the sampling ``event``, its ``period`` in
#: ``unit`` (ns for cpu-clock, cycles), ``samples`` and ``lost`` samples per actor (an import that
#: knows only the total says ``all``), the ``folded`` stacks (root first, ``writer;f1;...;leaf`` ->
#: samples) and ``kallsyms`` (whether kernel frames were named: ok, hidden or missing)
PROFILE_KEYS = ("event", "period", "unit", "mode", "samples", "lost", "folded", "kallsyms")


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
    profile: dict | None = None       # the loop's kernel profile (PROFILE_KEYS); None: not sampled

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
        if self.actors is not None and self.actors not in STORED_ACTORS:
            problems.append(f"'actors' is {self.actors!r}, not one of {', '.join(STORED_ACTORS)}")
        if self.placement is not None and self.placement not in PLACEMENTS:
            problems.append(f"'placement' is {self.placement!r}, not one of {', '.join(PLACEMENTS)}")
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
        problems += profile_problems(self.profile)
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
        """The runs.jsonl object (``source`` only for imports, ``profile`` only for sampled runs)."""
        out = {name: getattr(self, name) for name in _field_names(type(self))}
        for name in ("source", "profile"):
            if out[name] is None:
                del out[name]
        return out

    @property
    def key(self) -> tuple:
        """What identifies the benchmark process a run came from: (ipc, buffer_size, variant, process)."""
        return (self.ipc, self.buffer_size, self.variant, self.process)


def _counts(value) -> bool:
    """A ``{name: whole number >= 0}`` object."""
    return isinstance(value, dict) and all(isinstance(k, str) and _is_int(v) and v >= 0 for k, v in value.items())


def profile_problems(profile) -> list[str]:
    """What is wrong with a run record's ``profile`` (``PROFILE_KEYS``), in words; [] when nothing."""
    if profile is None:
        return []
    if not isinstance(profile, dict):
        return ["'profile' is not an object"]
    problems = [f"profile has unknown key {key!r} (known: {', '.join(PROFILE_KEYS)})"
                for key in profile if key not in PROFILE_KEYS]
    period = profile.get("period")
    if not _is_number(period) or not math.isfinite(period) or period <= 0:
        problems.append(f"profile period is {period!r}, not a positive number")
    for key in ("event", "mode", "kallsyms"):
        if profile.get(key) is not None and not isinstance(profile[key], str):
            problems.append(f"profile {key} is {profile[key]!r}, not text")
    if not isinstance(profile.get("unit"), str):
        problems.append(f"profile unit is {profile.get('unit')!r}, not text (ns or cycles)")
    problems += [f"profile {key} is not an object of whole numbers >= 0"
                 for key in ("samples", "lost", "folded") if key in profile and not _counts(profile[key])]
    return problems


# ---- the metadata document ---------------------------------------------------------------------

@dataclass(frozen=True)
class MetadataField:
    """One top-level field of metadata.json: the JSON types its value may have (``None``: null;
    ``float`` takes integers too), what each item of a list must be, and what it means."""

    kinds: tuple
    meaning: str
    items: type | None = None


#: every top-level field of metadata.json a pmcsuite writes (or ever wrote): the store refuses any
#: other, and a value of another type, on every write and read (``check_metadata``)
METADATA = {
    "format": MetadataField((str,), f"always {FORMAT!r}: what the directory is"),
    "format_version": MetadataField((int,), "the version of the format (history above); "
                                    f"this pmcsuite writes {FORMAT_VERSION}, reads {READABLE_VERSIONS}"),
    "pmcsuite_version": MetadataField((str,), "the pmcsuite that wrote the directory"),
    "created": MetadataField((str,), "when the directory was created: UTC, ISO 8601 (now())"),
    "command_line": MetadataField((list,), "the command that created it, one argument a string", str),
    "seed": MetadataField((int, None), "the seed of the execution order (null for imports)"),
    "source": MetadataField((str,), "who made it: collect, import-l41 or import-csv"),
    "host": MetadataField((dict,), "the measured machine: hostname, os, os_release, kernel, machine, "
                          "cpu_model, cpus, python, perf_event_paranoid, virtualisation ({kind: emulated, vm or "
                          "none, by, evidence}), tunables (sysctl/sysfs name -> value, null where absent) "
                          "(--host: read there, with via); imports: null where the data does not say, note "
                          "from --host-note"),
    "tag": MetadataField((str, None), "collect --tag: the user's label (kernel-6.1, governor=...)"),
    "platform": MetadataField((list,), "the catalogue platforms the counters were chosen for", str),
    "backend": MetadataField((str,), "the counting backends, comma-separated in order of preference "
                             "(inproc, perf, pmcstat,dtrace, none), or import"),
    "tools": MetadataField((dict,), "tool name -> its version (perf, cc, pmcstat ...), ipcbench -> how "
                           "it was built; imports: source_tool"),
    "catalogue": MetadataField((dict, None), "the counter catalogue: version, sha256, sources and the "
                               "snapshot of its files analysis reads (null: an import without one)"),
    "plan": MetadataField((dict,), "what the sweep runs: ipc, sizes, runs, warmup, processes, "
                          "points_per_process, total_size, actors, placement, force, groups, "
                          "skipped_counters, passes"),
    "settings": MetadataField((dict,), "collect: everything --resume needs to rebuild the same sweep "
                              "(collect.settings.Settings)"),
    "resumes": MetadataField((list,), "collect: one object per resume (time, command_line, remaining, "
                             "timeout)", dict),
    "imported": MetadataField((dict,), "imports: the files read (path, sha256, format, runs), "
                              "manifests, warmup and notes"),
    "lost_groups": MetadataField((dict,), "collect: the counter groups this machine should have counted but "
                                 "could not (group -> why, with the command that brings them back, e.g. mounting "
                                 "tracefs as root); absent when none was lost"),
    "note": MetadataField((str,), "free text about the directory (a synthetic fixture says so)"),
    "exported_from": MetadataField((str,), "export: the result directory the exported files come from"),
}


class MalformedMetadata(PmcsuiteError, ValueError):
    """A metadata document that does not follow ``METADATA`` (which field, in one line)."""


_KIND_WORDS = {str: "text", int: "an integer", float: "a number", bool: "true/false", list: "a list",
               dict: "an object", None: "null"}


def _has_kind(value, kind) -> bool:
    if kind is None:
        return value is None
    if kind is int:
        return _is_int(value)
    if kind is float:
        return _is_number(value)
    return isinstance(value, kind)


def _field_problem(name: str, value) -> str | None:
    spec = METADATA.get(name)
    if spec is None:
        return f"'{name}' is not a metadata field (schema.METADATA lists them)"
    if not any(_has_kind(value, kind) for kind in spec.kinds):
        return f"'{name}' is {_short(value)}, not {' or '.join(_KIND_WORDS[k] for k in spec.kinds)}"
    if spec.items is not None and not all(_has_kind(item, spec.items) for item in value):
        return f"'{name}' has an item that is not {_KIND_WORDS[spec.items]}"
    return None


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_TEXT, _COUNT, _TEXTS = ((str, None), None), ((int, None), None), ((list,), str)
#: the types of the fields inside the objects of metadata.json that pmcsuite reads: ``sub-field: ((kinds),
#: the kind of a list's items, or the same table for the fields of an object or of a list's objects)``; a
#: sub-field not named is not checked (``resumes``: a list, each of its objects checked)
METADATA_PARTS = {
    "host": {**{key: _TEXT for key in ("hostname", "os", "os_release", "kernel", "machine", "cpu_model", "python",
                                        "uname", "cpuinfo", "os_release_id", "note")},
             "cpus": _COUNT, "perf_event_paranoid": _COUNT, "via": ((dict, None), None),
             "virtualisation": ((dict, None), {"kind": _TEXT, "by": _TEXT, "evidence": _TEXTS}),
             "tunables": ((dict, None), None)},
    "plan": {"ipc": _TEXTS, "sizes": ((list,), int), "runs": ((int,), None), "warmup": ((int,), None),
             "processes": _COUNT, "points_per_process": ((int,), None), "total_size": _COUNT, "actors": _TEXT,
             "placement": _TEXT, "force": ((bool,), None), "groups": _TEXTS, "skipped_counters": ((dict,), None),
             "passes": ((list,), {"name": ((str,), None), "groups": _TEXTS, "counters": _TEXTS, "backend": _TEXT,
                                  "events": ((dict,), None), "platform": ((dict,), None)})},
    "settings": {"ipcs": _TEXTS, "sizes": ((list,), int), "runs": ((int,), None), "warmup": ((int,), None),
                 "total_size": ((int,), None), "actors": ((str,), None), "placement": ((str,), None),
                 "backend": ((str,), None), "platforms": _TEXTS, "groups": _TEXTS, "skipped": ((dict,), None),
                 "seed": ((int,), None), "timeout": ((float,), None), "catalogue_files": _TEXTS,
                 "force": ((bool,), None), "processes": _COUNT, "points_per_process": ((int,), None),
                 "target_ci": ((float, None), None), "max_runs": _COUNT, "host": _TEXT, "ssh_command": _TEXT,
                 "tag": _TEXT, "target_cc": _TEXT, "lost": ((dict,), None)},
    "tools": {"ipcbench": ((dict, str, None), {**{key: _TEXT for key in ("compiler", "compiler_version", "path",
                                                                      "source_sha256", "target", "sha256")},
                                                "flags": _TEXTS, "static": ((bool, None), None)})},
    "catalogue": {"version": _COUNT, "sha256": _TEXT, "sources": _TEXTS,
                  "snapshot": ((dict, None), {"format": ((int,), None), "files": ((list,), dict)})},
    "resumes": {"time": ((str,), None), "command_line": _TEXTS, "remaining": _COUNT, "timeout": ((float, None), None)},
}


def _part_problems(where: str, value, spec: dict) -> list[str]:
    """What is of the wrong type in the object ``value`` (at key path ``where``) by ``spec`` (METADATA_PARTS)."""
    problems = []
    for key, rule in spec.items():
        if key not in value:
            continue
        (item, path), (kinds, inner) = (value[key], f"{where}.{key}"), rule
        if not any(_has_kind(item, kind) for kind in kinds):
            problems.append(f"'{path}' is {_short(item)}, not {' or '.join(_KIND_WORDS[k] for k in kinds)}")
        elif isinstance(inner, dict) and isinstance(item, dict):
            problems += _part_problems(path, item, inner)
        elif isinstance(inner, dict) and isinstance(item, list):     # a list of objects
            problems += [f"'{path}' has an item that is not an object"] if not all(isinstance(x, dict) for x in item) \
                else [problem for i, x in enumerate(item) for problem in _part_problems(f"{path}[{i}]", x, inner)]
        elif inner is not None and isinstance(item, list) and not all(_has_kind(i, inner) for i in item):
            problems.append(f"'{path}' has an item that is not {_KIND_WORDS[inner]}")
    return problems


def check_metadata(doc) -> dict:
    """``doc`` if it is a metadata document ``METADATA`` allows (every field registered, of its
    type, and the fields of its objects METADATA_PARTS names of theirs); else MalformedMetadata (a
    PmcsuiteError and a ValueError) naming each wrong field."""
    if not isinstance(doc, dict):
        raise MalformedMetadata("the metadata is not an object")
    problems = [problem for name, value in doc.items() if (problem := _field_problem(name, value))]
    for name, spec in METADATA_PARTS.items():
        value = doc.get(name)
        objects = ([(name, value)] if isinstance(value, dict) else
                   [(f"{name}[{i}]", item) for i, item in enumerate(value) if isinstance(item, dict)]
                   if isinstance(value, list) else [])
        problems += [problem for where, item in objects for problem in _part_problems(where, item, spec)]
    if problems:
        raise MalformedMetadata("; ".join(problems))
    return doc
