"""Import the documented tidy CSV (docs/import-csv.md) into a result directory.

Long form: one row per run x counter (a run without counters is one row with an empty
``counter``). Rows of one run share the run columns (ipc, actors, placement, buffer_size,
total_size, variant, run) and must agree on bandwidth/loop_ns/warmup/scope/process/iteration.
Every value is validated; the first problem raises ``PmcsuiteError("FILE:LINE: ...")``.

``profile_period_ns`` and ``profile_lost`` (optional) are a sampled run's profile: its period in ns and
the samples it lost (the run's ``profile``, without its stacks).

``process`` (optional) is the benchmark process a run came from, one number over the whole file
(``collect`` numbers its processes over the sweep, and ``export`` writes them): the analysis takes
the runs with one number to share that process's conditions. A run without one is its own process
(stored with ``process`` null, never its run number). ``iteration`` (optional, needs ``process``)
is the run's index within its process; two runs of one cell cannot be the same iteration of one
process.
"""
from __future__ import annotations

import csv
import math
import re
from pathlib import Path

from ...errors import PmcsuiteError
from ...sizes import parse_size
from ...schema import PLACEMENTS, SCOPES, STATUSES, STORED_ACTORS, RunRecord, reserved_id
from .base import base_metadata, file_sha256, load_catalogue_or_none, write_result

REQUIRED = ("ipc", "actors", "buffer_size", "total_size", "run", "variant")
OPTIONAL = ("bandwidth", "loop_ns", "placement", "warmup", "scope", "process", "iteration", "profile_period_ns",
            "profile_lost", "counter", "value", "status", "event", "unit")
RUN_KEY = ("ipc", "actors", "placement", "buffer_size", "total_size", "variant", "run")
#: the scopes a CSV row may name (an empty cell: nothing counted)
NAMED_SCOPES = tuple(s for s in SCOPES if s)
TOLERANCE = 0.01   # bandwidth vs total_size/loop_ns, when both are given
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no", ""}
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


class _Row:
    """Validates one CSV row, raising FILE:LINE errors."""

    def __init__(self, name, line, values):
        self.name, self.line, self.values = name, line, values

    def fail(self, message):
        raise PmcsuiteError(f"{self.name}:{self.line}: {message}")

    def text(self, column, allowed=None, pattern=None, required=True):
        value = self.values.get(column, "")
        if not value:
            if required:
                self.fail(f"empty {column}: every row needs one")
            return None
        if allowed and value not in allowed:
            self.fail(f"{column} is {value!r}: expected one of {', '.join(allowed)}")
        if pattern and not pattern.match(value):
            self.fail(f"{column} is {value!r}: use letters, digits, '_', '-', '.', '+'")
        return value

    def size(self, column):
        try:
            return parse_size(self.text(column))
        except PmcsuiteError as exc:
            self.fail(f"{column}: {exc}")

    def number(self, column, positive=True):
        value = self.values.get(column, "")
        if not value:
            return None
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or number < 0 or (positive and number == 0):
            self.fail(f"{column} is {value!r}: expected a {'positive' if positive else 'non-negative'} number")
        return number

    def whole(self, column, required=True):
        """A whole number >= 0 (``run``, ``process``, ``iteration``); None when empty and not required."""
        value = self.values.get(column, "")
        if not value and not required:
            return None
        value = self.text(column)
        if not re.fullmatch(r"[0-9]{1,18}", value):      # not "²", which isdigit() takes
            self.fail(f"{column} is {value!r}: expected a whole number >= 0")
        return int(value)

    def flag(self, column):
        value = self.values.get(column, "").lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        self.fail(f"{column} is {value!r}: expected true or false")


def _read(path: Path):
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise PmcsuiteError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PmcsuiteError(f"{path} is not UTF-8 text: not a tidy CSV (see docs/import-csv.md)") from None
    lines = text.splitlines()
    reader = csv.DictReader(lines)
    try:
        return _rows(path, reader)
    except csv.Error as exc:               # e.g. a field larger than the csv module's limit
        raise PmcsuiteError(f"{path}:{reader.line_num}: not readable CSV ({exc}) (see docs/import-csv.md)") from None


def _rows(path: Path, reader: csv.DictReader) -> list:
    header = [c.strip() for c in (reader.fieldnames or [])]
    if not header:
        raise PmcsuiteError(f"{path} is empty: expected a header line (see docs/import-csv.md)")
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise PmcsuiteError(f"{path}:1: unknown column {unknown[0]!r}; the columns are "
                            f"{','.join(REQUIRED + OPTIONAL)} (see docs/import-csv.md)")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise PmcsuiteError(f"{path}:1: missing column {missing[0]!r}; required: {','.join(REQUIRED)}")
    if "bandwidth" not in header and "loop_ns" not in header:
        raise PmcsuiteError(f"{path}:1: needs a 'bandwidth' (bytes/s) or a 'loop_ns' column")
    if len(set(header)) != len(header):
        raise PmcsuiteError(f"{path}:1: a column name appears twice")
    rows = []
    for raw in reader:
        if None in raw:
            raise PmcsuiteError(f"{path}:{reader.line_num}: more fields than columns in the header")
        if any(v is None for v in raw.values()):
            raise PmcsuiteError(f"{path}:{reader.line_num}: fewer fields than columns in the header")
        values = {k.strip(): (v or "").strip() for k, v in raw.items()}
        if not any(values.values()):
            continue
        rows.append(_Row(str(path), reader.line_num, values))
    if not rows:
        raise PmcsuiteError(f"{path} has a header but no rows: nothing to import")
    return rows


def _counter_ids(cat):
    return set(getattr(cat, "counters", {})) if cat is not None else None


def parse_tidy_rows(rows, known_counters=None) -> list[RunRecord]:
    """Validated rows -> run records (pure; ``known_counters`` None accepts any well-formed id).
    Each run is gathered as a dict over its rows, then built as a RunRecord."""
    runs, iterations, lines = {}, {}, {}
    for row in rows:
        same = lines.setdefault(tuple(sorted(row.values.items())), row.line)
        if same != row.line:
            row.fail(f"repeats line {same} word for word: one run (or counter) given twice; remove one of "
                     "the two lines")
        key_values = {
            "ipc": row.text("ipc", pattern=_NAME), "actors": row.text("actors", allowed=STORED_ACTORS),
            "placement": row.text("placement", allowed=PLACEMENTS, required=False),
            "buffer_size": row.size("buffer_size"), "total_size": row.size("total_size"),
            "variant": row.text("variant", pattern=_NAME), "run": row.whole("run"),
        }
        if key_values["total_size"] % key_values["buffer_size"]:
            row.fail(f"total_size {key_values['total_size']} is not a multiple of buffer_size "
                     f"{key_values['buffer_size']}")
        bandwidth, loop_ns = row.number("bandwidth"), row.number("loop_ns")
        total = key_values["total_size"]
        if bandwidth is None and loop_ns is None:
            row.fail("needs a bandwidth (bytes/s) or a loop_ns value")
        if bandwidth is not None and loop_ns is not None and abs(total / loop_ns * 1e9 / bandwidth - 1) > TOLERANCE:
            row.fail(f"bandwidth {bandwidth:g} B/s disagrees with total_size/loop_ns = {total / loop_ns * 1e9:g} B/s")
        if loop_ns is None:
            loop_ns = total / bandwidth * 1e9
        if bandwidth is None:
            bandwidth = total / loop_ns * 1e9
        if not (math.isfinite(loop_ns) and math.isfinite(bandwidth)):
            row.fail("the bandwidth or loop_ns makes the other beyond any range: expected bytes/s and ns")
        run_fields = {"bandwidth": bandwidth, "loop_ns": round(loop_ns), "warmup": row.flag("warmup"),
                      "scope": row.text("scope", allowed=NAMED_SCOPES, required=False),
                      "process": row.whole("process", required=False),
                      "iteration": row.whole("iteration", required=False),
                      "profile": _profile(row)}
        if run_fields["iteration"] is not None and run_fields["process"] is None:
            row.fail("an iteration without a process: fill in the process column (or leave both empty)")
        key = tuple(key_values[k] for k in RUN_KEY)
        rec = runs.get(key)
        if rec is None:
            _check_iteration(row, key, run_fields, iterations)
            rec = {**key_values, "warmup": run_fields["warmup"], "variant": key_values["variant"],
                   "backend": "import", "scope": run_fields["scope"], "started": None, "seq": len(runs),
                   "process": run_fields["process"], "iteration": run_fields["iteration"], "iterations": None,
                   "ok": True, "error": None,
                   "bench": {"tool": "tidy-csv", "ipc": key_values["ipc"], "actors": key_values["actors"],
                             "placement": key_values["placement"], "buffer_size": key_values["buffer_size"],
                             "total_size": total, "loop_ns": run_fields["loop_ns"], "bandwidth": bandwidth},
                   "counters": {}, "busy": None, "warnings": [], "profile": run_fields["profile"],
                   "_fields": run_fields, "_line": row.line}
            runs[key] = rec
        elif rec["_fields"] != run_fields:
            differing = next(k for k in run_fields if rec["_fields"][k] != run_fields[k])
            row.fail(f"{differing} differs from line {rec['_line']} of the same run; one run has one {differing}")
        _add_counter(row, rec, known_counters)
    for rec in runs.values():
        del rec["_fields"], rec["_line"]
    return [RunRecord(**rec) for rec in runs.values()]


def _profile(row) -> dict | None:
    """A run's ``profile`` from its period (ns) and lost samples (both actors: ``all``); None without one."""
    period, lost = row.number("profile_period_ns"), row.whole("profile_lost", required=False)
    if period is None:
        if lost is not None:
            row.fail("profile_lost without profile_period_ns: a run that sampled has a period")
        return None
    return {"period": period, "unit": "ns", **({"lost": {"all": lost}} if lost is not None else {})}


def _check_iteration(row, key, fields, seen):
    """Two runs of one cell (``key`` less its run) cannot be the same iteration of one process."""
    if fields["iteration"] is None:
        return
    where = key[:-1] + (fields["process"], fields["iteration"])
    if where in seen:
        row.fail(f"process {fields['process']} iteration {fields['iteration']} is also the run of line "
                 f"{seen[where]} of this cell; one iteration of a process is one run")
    seen[where] = row.line


def _add_counter(row, rec, known):
    counter = row.text("counter", required=False)
    value = row.number("value", positive=False)
    status = row.text("status", allowed=STATUSES, required=False)
    if counter is None:
        if value is not None or status is not None:
            row.fail("a value or status without a counter id: fill in the counter column")
        return
    if not _ID.match(counter) or reserved_id(counter):
        row.fail(f"counter {counter!r} is not a valid counter id (lower case, digits, '_', not a result column)")
    if known is not None and counter not in known:
        row.fail(f"unknown counter id {counter!r}: it is not in the catalogue (see pmcsuite/counters.yaml)")
    if counter in rec["counters"]:
        row.fail(f"counter {counter} given twice for the same run")
    status = status or ("ok" if value is not None else None)
    if status is None:
        row.fail(f"counter {counter} has neither a value nor a status: a counter that did not count needs "
                 "a status such as not_supported (never 0)")
    if status == "ok" and value is None:
        row.fail(f"counter {counter} has status ok but no value")
    if status != "ok" and value is not None:
        row.fail(f"counter {counter} has status {status} and a value: only ok counters have values")
    rec["counters"][counter] = {"event": row.values.get("event") or None, "value": value,
                                "unit": row.values.get("unit", ""), "status": status}


def import_csv(path, out, *, catalogue=(), platform=None, host_note: str | None = None,
               command_line=None) -> Path:
    """Import the tidy CSV ``path`` (docs/import-csv.md) into the new result directory ``out``.

    Counter ids are checked against the catalogue (when ``pmcsuite.catalogue`` is available).
    ``platform``: list of platform names to record (default ``["unknown"]``). Returns ``out``.
    """
    path = Path(path)
    if not path.is_file():
        raise PmcsuiteError(f"{path} does not exist: give a tidy CSV file (see docs/import-csv.md)")
    cat = load_catalogue_or_none(catalogue)
    runs = parse_tidy_rows(_read(path), _counter_ids(cat))
    argv = command_line or ["pmcsuite", "import", "csv", str(path), "--out", str(out)]
    meta = base_metadata("import-csv", argv, cat, host_note=host_note)
    meta["platform"] = list(platform) if platform else ["unknown"]
    meta["plan"] = _plan(runs)
    meta["imported"] = {"files": [{"path": str(path.resolve()), "sha256": file_sha256(path), "format": "tidy-csv",
                                   "runs": len(runs)}]}
    write_result(out, meta, runs)
    return Path(out)


def _plan(runs: list[RunRecord]) -> dict:
    """The ``plan`` of metadata.json the imported runs imply: their modes and sizes, the most runs and
    warm-ups of a cell, the total size, actors and placement when every run has the same, and one
    pass per variant that has counters."""
    cells = {}
    for run in runs:
        cells.setdefault((run.ipc, run.actors, run.placement, run.buffer_size, run.variant), []).append(run)

    def unique(name):
        values = {getattr(run, name) for run in runs}
        return values.pop() if len(values) == 1 else None

    return {"ipc": sorted({run.ipc for run in runs}), "sizes": sorted({run.buffer_size for run in runs}),
            "runs": max(len(cell) for cell in cells.values()),
            "warmup": max((sum(run.warmup for run in cell) for cell in cells.values()), default=0),
            "total_size": unique("total_size"), "actors": unique("actors"),
            "placement": unique("placement"), "passes": _passes(runs)}


def _passes(runs: list[RunRecord]) -> list[dict]:
    """One pass per variant with counters: its counter ids and events, in order of first appearance."""
    passes = {}
    for run in runs:
        if run.counters:
            spec = passes.setdefault(run.variant, {"name": run.variant, "groups": [], "counters": [], "events": {}})
            for cid, entry in run.counters.items():
                if cid not in spec["events"]:
                    spec["counters"].append(cid)
                    spec["events"][cid] = entry["event"]
    return list(passes.values())
