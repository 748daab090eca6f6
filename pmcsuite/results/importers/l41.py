"""Import the Cambridge L41 IPC benchmark's own output into a result directory.

Two formats (docs: /work/shared/reference/formats.md section 3):

- 2015-2020 ``ipc-static`` text: an optional ``-v`` configuration block, an optional ``-P SET``
  counter block, and the final ``<KiB/s> KBytes/sec`` line. One file = one run.
- 2020-2023 ``ipc-benchmark -j`` JSON: ``benchmark_samples`` (one object per iteration: ``bandwidth``
  in KBytes/sec, ``time`` in seconds, one key per counter, derived rates) and, with ``-v``,
  ``benchmark_configuration`` and ``host_configuration``. One sample = one run.

One file is one invocation of the benchmark, hence one benchmark process, the unit the analysis
groups runs by (analysis/inference.py): the L41 scripts launch ``ipc-static`` once per run (its
``-i`` is the IPC type; it has no iteration count), and an ``ipc-benchmark -j`` file holds the ``-n``
iterations of its one process. ``process`` = the file's position in the input (numbered over the
whole import), ``iteration`` = the run's sample index (0 for a text file).

Rules (what the importer decides, see also ``import_l41``):

- bandwidth (bytes/s) = printed KBytes/sec * 1024 (the benchmark divides bytes/s by 1024; the JSON
  ``bandwidth`` key is the same number, an assumption from the ipc-benchmark source);
- loop_ns comes from ``time`` (seconds) when printed, else is derived as total / bandwidth;
- ``socket`` (the oldest name) is stored as ``local``; ``local`` launched with ``-s`` (manifest
  flags) is ``local-s``; ``tcp`` stays ``tcp``;
- runs without ``-P`` are the ``baseline`` variant, a ``-P SET`` run belongs to the pass ``SET``
  and its counters have scope ``loop`` (the benchmark counts around the transfer loop only);
- an ``ipc-static`` run launched with ``-v -P SET`` (a *timed run with counters*: its output has
  the configuration block with the loop time, or the manifest flags hold ``-v``) is the variant
  ``timed+SET``, never pooled with the ``-P SET`` runs (variant ``SET``, no configuration block):
  the two are different data sets (the 2020 study's ``-v -P mem`` and ``-P mem`` runs differ in 31
  of 45 cells), and ``timed+SET`` against ``baseline`` (the ``-v`` runs) is the probe effect of the
  timed runs. In 2020-2023 ``ipc-benchmark -j`` output every sample is timed and ``-v`` only adds
  the configuration objects, so its ``-v`` and non-``-v`` runs of one set stay one variant ``SET``;
- printed ratios (``A/B`` lines, ``CYCLES_PER_INSTRUCTION``, ``*_RATE``) are not stored: they are
  derived metrics;
- event names map to catalogue counter ids through the catalogue's ``pmcstat`` event specs and
  their ``aliases`` (other names of the same event, e.g. Cortex-A8 ``L2_CACHE_ACCESS``). An unknown
  event name is an error (strict: a counter silently dropped or mislabelled would corrupt the
  explanation); add the event to a user catalogue file to import it.

The output parsers are :mod:`.l41_output`'s (pure functions).
"""
from __future__ import annotations

import csv
import json
import math
import re
import shlex
from pathlib import Path

from ...errors import PmcsuiteError
from ...schema import BASELINE, KIB, RunRecord
from ...sizes import parse_size
from .base import base_metadata, file_sha256, load_catalogue_or_none, write_result
from .l41_output import IPC_NAMES, config_value, fail_at, parse_l41_json, parse_l41_text

#: variant of the ``ipc-static`` runs launched with both ``-v`` and ``-P SET``: ``timed+SET``.
TIMED_PREFIX = "timed+"
MANIFEST_COLUMNS = ("file", "ipctype", "mode", "buffersize", "totalsize", "run", "flags")
BANDWIDTH_TOLERANCE = 0.01   # |time-derived / printed bandwidth - 1| above this -> a run warning
BANDWIDTH_REFUSED = 2.0      # time-derived and printed bandwidth this many times apart -> the file is refused


# ---------------------------------------------------------------------------------------------
# manifest, event names

def read_manifest(path) -> dict[str, dict]:
    """Read a manifest CSV (columns file, ipctype, mode, buffersize, totalsize, run, flags; only
    ``file`` is required) -> {resolved file path: row}. Rows are typed; bad values raise with the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise PmcsuiteError(f"cannot read manifest {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        fail_at(path, None, "is not UTF-8 text: not a manifest CSV")
    reader = csv.DictReader(text.splitlines())
    try:
        columns = [c.strip() for c in (reader.fieldnames or [])]
        raws = list(reader)
    except csv.Error as exc:
        fail_at(path, reader.line_num, f"not readable CSV ({exc})")
    if "file" not in columns:
        fail_at(path, 1, f"no 'file' column: a manifest has the columns {','.join(MANIFEST_COLUMNS)}")
    rows = {}
    for number, raw in enumerate(raws, 2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not row.get("file"):
            fail_at(path, number, "empty 'file' value")
        entry = {"file": row["file"], "line": number, "manifest": str(path), "flags": row.get("flags") or ""}
        try:
            if row.get("buffersize"):
                entry["buffer_size"] = parse_size(row["buffersize"])
            if row.get("totalsize"):
                entry["total_size"] = parse_size(row["totalsize"])
        except PmcsuiteError as exc:
            fail_at(path, number, str(exc))
        if row.get("ipctype"):
            entry["ipc"] = config_value(path, number, "ipctype", row["ipctype"])[1]
        if row.get("mode"):
            entry["actors"] = config_value(path, number, "mode", row["mode"])[1]
        if row.get("run"):
            if not re.fullmatch(r"[0-9]{1,18}", row["run"]):          # not "²", which isdigit() takes
                fail_at(path, number, f"run is {row['run']!r}, not a whole number >= 0")
            entry["run"] = int(row["run"])
        try:
            entry["argv"] = shlex.split(entry["flags"])
        except ValueError as exc:
            fail_at(path, number, f"cannot split flags {entry['flags']!r} ({exc})")
        if "\x00" in row["file"]:
            fail_at(path, number, f"file name {row['file']!r} holds a NUL byte; the manifest is corrupt")
        key = str((path.parent / row["file"]).resolve())
        if key in rows:
            fail_at(path, number, f"{row['file']} is listed twice (first on line {rows[key]['line']})")
        rows[key] = entry
    return rows


def _flag(argv: list[str], option: str):
    """Value of ``-P SET`` / ``-i X`` style options in a flags list (None if absent)."""
    for i, arg in enumerate(argv):
        if arg == option and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(option) and len(arg) > len(option) and not arg.startswith("--"):
            return arg[len(option):]
    return None


def _has_switch(argv: list[str], letter: str) -> bool:
    """True if a bundled short-switch group (``-v``, ``-sv``) contains ``letter``."""
    valued = {"b", "i", "n", "p", "P", "t"}
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg.startswith("-") and not arg.startswith("--") and len(arg) > 1:
            for pos, ch in enumerate(arg[1:]):
                if ch in valued:
                    skip = pos == len(arg) - 2
                    break
                if ch == letter:
                    return True
    return False


def _event_name(spec) -> str | None:
    """Catalogue pmcstat spec or alias (``AXI_READ``, ``p/AXI_READ``) -> event name, upper case."""
    if not isinstance(spec, str) or not spec.strip():
        return None
    spec = spec.strip()
    if spec[:2] in ("p/", "s/"):
        spec = spec[2:]
    return spec.upper()


def event_map(cat) -> dict[str, tuple[str, str]]:
    """Event name (upper case) -> (platform, counter id), from the catalogue's ``pmcstat`` specs and
    their ``aliases`` (first platform in catalogue order wins a clash); empty without a catalogue."""
    mapping: dict[str, tuple[str, str]] = {}
    for pname, platform in (getattr(cat, "platforms", None) or {}).items():
        for cid, specs in (getattr(platform, "events", None) or {}).items():
            names = [specs.get("pmcstat"), *specs.get("aliases", [])] if isinstance(specs, dict) else []
            for name in filter(None, map(_event_name, names)):
                mapping.setdefault(name, (pname, cid))
    return mapping


# ---------------------------------------------------------------------------------------------
# import

def _input_files(paths, manifest):
    """Expand PATH... into [(file, manifest rows or None)] in a stable order.

    A directory contributes the files its ``manifest.csv`` lists (and uses that manifest) or,
    without one, its ``*.txt`` and ``*.json`` files sorted by name. An explicit ``manifest``
    applies to every file and takes precedence."""
    explicit = read_manifest(manifest) if manifest else None
    files = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            auto = path / "manifest.csv"
            if auto.is_file():
                _refuse_outside(path, auto, auto, None)
                rows = read_manifest(auto)
                if not rows:
                    fail_at(auto, 1, "lists no files: add a row per L41 output file, or remove it to import "
                                     "the directory's .txt and .json files")
                listed = sorted(rows, key=lambda k: rows[k]["line"])
                for key in listed:
                    _refuse_outside(path, Path(key), auto, rows[key])
                    try:
                        listed_file = Path(key).is_file()
                    except OSError as exc:              # e.g. a file name too long
                        fail_at(auto, rows[key]["line"],
                                f"lists {rows[key]['file'][:60]!r}, which cannot be read ({exc.strerror})")
                    if not listed_file:
                        fail_at(auto, rows[key]["line"], f"lists {rows[key]['file']}, which does not exist")
                    files.append((Path(key), explicit or rows, str(auto)))
            else:
                found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".txt", ".json"))
                for p in found:
                    _refuse_outside(path, p, p, None)
                if not found:
                    raise PmcsuiteError(f"{path} holds no .txt or .json benchmark output (and no manifest.csv)")
                files.extend((p, explicit, None) for p in found)
        elif path.is_file():
            files.append((path, explicit, None))
        else:
            raise PmcsuiteError(f"{path} does not exist: give L41 output files or directories")
    seen, unique = set(), []
    for path, rows, auto in files:
        key = str(path.resolve())
        if key not in seen:
            seen.add(key)
            unique.append((path, rows, auto))
    return unique


def _refuse_outside(directory: Path, path: Path, label, row) -> None:
    """Fail in one line when ``path``, found in ``directory`` (by a listing, or a ``row`` of its own
    manifest), lies outside it: an absolute or ``../`` name, or a symlink out. The outside file is
    never read, so nothing of it is quoted."""
    if row is not None and (Path(row["file"]).is_absolute() or ".." in Path(row["file"]).parts):
        fail_at(label, row["line"], f"lists {row['file'][:60]!r}, outside {directory}: a directory's own "
                                    "manifest may list only files in that directory")
    try:
        inside = path.resolve().is_relative_to(directory.resolve())
    except (OSError, RuntimeError) as exc:      # RuntimeError: a symlink loop
        fail_at(label, row and row["line"], f"cannot follow {path.name[:60]!r} ({exc})")
    if not inside:
        name = row["file"] if row else path.name
        fail_at(label, row and row["line"], f"{name[:60]!r} is a symlink to a file outside {directory}: "
                                            "refused (import that file by its own path if it is meant)")


def _manifest_row(path: Path, rows):
    if not rows:
        return None
    row = rows.get(str(path.resolve()))
    if row is None:
        same_name = [r for r in rows.values() if Path(r["file"]).name == path.name]
        row = same_name[0] if len(same_name) == 1 else None
    return row


def _settle(label, parsed, row):
    """Merge what the file says with its manifest row; disagreements and gaps are errors."""
    config = parsed["config"] or {}
    where = parsed["lines"]
    fields = {}
    for key, column in (("ipc", "ipctype"), ("actors", "mode"), ("buffer_size", "buffersize"),
                        ("total_size", "totalsize")):
        in_file, in_manifest = config.get(key), (row or {}).get(key)
        if in_file is not None and in_manifest is not None and in_file != in_manifest:
            fail_at(label, where.get(key), f"{column} is {in_file} in the file but {in_manifest} in "
                                           f"{row['manifest']}:{row['line']}; correct the manifest")
        value = in_file if in_file is not None else in_manifest
        if value is None:
            if row is None:
                fail_at(label, None, f"no configuration block (run without -v) and not listed in a manifest: "
                                     f"pass --manifest FILE with columns {','.join(MANIFEST_COLUMNS)}")
            fail_at(label, None, f"{column} is neither in the file nor in {row['manifest']}:{row['line']}; "
                                 "add it to the manifest")
        fields[key] = value
    if fields["total_size"] % fields["buffer_size"]:
        fail_at(label, None, f"total size {fields['total_size']} is not a multiple of buffer size "
                             f"{fields['buffer_size']}; correct the manifest")
    argv = (row or {}).get("argv", [])
    flag_ipc = _flag(argv, "-i")
    if flag_ipc is not None and IPC_NAMES.get(flag_ipc, flag_ipc) != fields["ipc"]:
        fail_at(label, None, f"manifest flags say -i {flag_ipc} but the run is {fields['ipc']}; correct the manifest")
    if fields["ipc"] == "local" and _has_switch(argv, "s"):
        fields["ipc"] = "local-s"
    pmctype, flag_set = parsed["pmctype"], _flag(argv, "-P")
    if pmctype is not None and flag_set is not None and flag_set != pmctype:
        fail_at(label, where.get("pmctype"), f"pmctype is {pmctype} in the file but the manifest flags say "
                                             f"-P {flag_set}; correct the manifest")
    if pmctype is None and flag_set is not None and flag_set != "none":
        if not parsed["events"]:
            fail_at(label, None, f"the manifest flags say -P {flag_set} but the output holds no counters")
        pmctype = flag_set
    if pmctype is None and parsed["events"]:
        fail_at(label, None, "the output holds counters but not which -P set: add the flags (-P SET) to the manifest")
    timed = parsed["config"] is not None or _has_switch(argv, "v")
    if pmctype and timed and parsed["format"] == "l41-text":
        fields["variant"] = TIMED_PREFIX + pmctype
    else:
        fields["variant"] = pmctype or BASELINE
    return fields


def _counters(label, parsed, emap, platforms):
    counters = {}
    for event, value in parsed["events"].items():
        hit = emap.get(event.upper())
        if hit is None:
            fail_at(label, parsed["lines"].get(event), f"unknown event {event}: no catalogue counter has this "
                                                       "pmcstat name or alias; add it to the catalogue (counters.yaml "
                                                       "or a user catalogue file) to import it")
        platform, cid = hit
        if cid in counters:
            fail_at(label, parsed["lines"].get(event), f"events {counters[cid]['event']} and {event} both map to "
                                                       f"counter {cid}; the file mixes aliases")
        platforms.setdefault(platform, None)
        counters[cid] = {"event": event, "value": float(value), "unit": "", "status": "ok"}
    return counters


def _loop_time(label, parsed, total: int, source: dict) -> tuple[float, list[str]]:
    """The run's loop time (ns) and its warnings: from the printed ``time`` when there is one, else from
    the bandwidth. A zero bandwidth or time, or a bandwidth more than BANDWIDTH_REFUSED x off
    totalsize/time, is refused in one line: the file cannot be a run that moved data."""
    bandwidth = parsed["kbytes_per_sec"] * KIB
    time_s = (parsed["config"] or {}).get("time_s", parsed.get("time_s"))
    where = parsed["lines"]
    if bandwidth <= 0:
        fail_at(label, where.get("bandwidth"), f"bandwidth is {parsed['kbytes_per_sec']:g} KBytes/sec: a run that "
                                               "moved data has a bandwidth; the file is corrupt")
    if time_s is None:
        source["loop_ns_from"] = "bandwidth"
        return total / bandwidth * 1e9, []
    if time_s <= 0:
        fail_at(label, where.get("time_s"), f"time is {time_s:g} s: a run that moved data took time; "
                                            "the file is corrupt")
    source["loop_ns_from"] = "time"
    implied = total / time_s
    off = max(implied / bandwidth, bandwidth / implied)
    said = (f"printed bandwidth {parsed['kbytes_per_sec']:g} KBytes/sec disagrees with totalsize/time = "
            f"{implied / KIB:.2f} KBytes/sec")
    if off > BANDWIDTH_REFUSED:
        fail_at(label, where.get("bandwidth"), f"{said} ({off:.1f}x): the file is corrupt")
    return time_s * 1e9, [said] if abs(implied / bandwidth - 1) > BANDWIDTH_TOLERANCE else []


def _record(label, parsed, fields, counters, source):
    total = fields["total_size"]
    bandwidth = parsed["kbytes_per_sec"] * KIB
    loop, warnings = _loop_time(label, parsed, total, source)
    if not (math.isfinite(loop) and math.isfinite(bandwidth)):
        fail_at(label, parsed["lines"].get("bandwidth"),
                "the bandwidth or loop time is beyond any range; the file is corrupt")
    loop_ns = round(loop)
    bench = {"tool": "l41-" + ("ipc-static" if parsed["format"] == "l41-text" else "ipc-benchmark"),
             "ipc": fields["ipc"], "actors": fields["actors"], "buffer_size": fields["buffer_size"],
             "total_size": total, "loop_ns": loop_ns, "bandwidth": bandwidth}
    if parsed.get("rusage"):
        bench["rusage"] = parsed["rusage"]
    return {
        "ipc": fields["ipc"], "actors": fields["actors"], "placement": None,
        "buffer_size": fields["buffer_size"], "total_size": total,
        "run": None, "warmup": False, "variant": fields["variant"],
        "backend": "import", "scope": "loop" if counters else None,
        "started": None, "seq": None, "ok": True, "error": None,
        "bench": bench, "counters": counters, "busy": None, "warnings": warnings,
        "source": source,
    }


def _number_runs(records, warmup):
    """Run index per (ipc, actors, buffer_size, total_size, variant) cell: the manifest's ``run``
    where every run of the cell has one and they are distinct, else 0..n-1 in input order."""
    cells = {}
    for rec in records:
        key = (rec["ipc"], rec["actors"], rec["buffer_size"], rec["total_size"], rec["variant"])
        cells.setdefault(key, []).append(rec)
    renumbered = []
    for key, members in cells.items():
        given = [m["source"].get("manifest_run") for m in members]
        if None not in given and len(set(given)) == len(given):
            numbers = given
        else:
            numbers = list(range(len(members)))
            if any(g is not None for g in given):
                renumbered.append(key)
        for rec, number in zip(members, numbers):
            rec["run"] = number
            rec["warmup"] = number < warmup
    return cells, renumbered


def _plan(records, cells, warmup, passes):
    def unique(key):
        values = {r[key] for r in records}
        return values.pop() if len(values) == 1 else None
    return {"ipc": sorted({r["ipc"] for r in records}), "sizes": sorted({r["buffer_size"] for r in records}),
            "runs": max(len(m) for m in cells.values()), "warmup": warmup,
            "total_size": unique("total_size"), "actors": unique("actors"), "placement": None,
            "passes": list(passes.values())}


def _host_from(configs):
    """Host fields the 2020-2023 JSON states (``host_configuration``), only if every file agrees."""
    distinct = {json.dumps(c, sort_keys=True) for c in configs}
    if len(distinct) != 1 or not configs[0]:
        return {}
    conf = configs[0]
    cpus = conf.get("hw.ncpu")
    return {"machine": conf.get("hw.machine"), "cpu_model": conf.get("hw.model"),
            "cpus": cpus if isinstance(cpus, int) else None}


def import_l41(paths, out, manifest=None, warmup: int = 0, *, host_note: str | None = None,
               catalogue=(), command_line=None) -> Path:
    """Import L41 benchmark output files (or directories of them) into the result directory ``out``.

    ``manifest``: CSV placing runs that lack a configuration block (a directory's own
    ``manifest.csv`` is used automatically). ``warmup``: leading runs per cell to flag as warm-ups
    (default 0: the L41 data has no warm-up marker and the published data already dropped the first
    run). ``host_note``: free text about the measured host (e.g. "BeagleBone Black, FreeBSD 11"),
    stored as ``host.note``; nothing about the host is guessed. ``catalogue``: extra catalogue files.
    Returns ``out``. Nothing is written unless every file parses.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not paths:
        raise PmcsuiteError("no input given: pass L41 output files or directories")
    if not isinstance(warmup, int) or warmup < 0:
        raise PmcsuiteError(f"--warmup must be a whole number >= 0, not {warmup!r}")
    cat = load_catalogue_or_none(catalogue)
    run = _Import(event_map(cat))
    for order, (path, rows, _auto) in enumerate(_input_files(paths, manifest)):
        run.add_file(order, path, rows)
    cells, renumbered = _number_runs(run.records, warmup)
    meta = base_metadata("import-l41", command_line or _command_line(paths, out, manifest, warmup, host_note),
                         cat, host=_host_from(run.hosts) if any(run.hosts) else None, host_note=host_note)
    meta["platform"] = list(run.platforms) or ["unknown"]
    meta["tools"] = {"source_tool": sorted({r["bench"]["tool"] for r in run.records})}
    meta["plan"] = _plan(run.records, cells, warmup, run.passes)
    meta["imported"] = {"files": run.imported,
                        "manifests": [{"path": str(Path(m).resolve()), "sha256": file_sha256(m)}
                                      for m in run.manifests],
                        "warmup": warmup, "notes": _renumbered_note(renumbered)}
    write_result(out, meta, [RunRecord(**rec) for rec in run.records])
    return Path(out)


def _renumbered_note(renumbered: list) -> list[str]:
    """The import note for cells whose manifest run numbers were missing or repeated ([] if none)."""
    if not renumbered:
        return []
    return ["manifest run numbers are missing or repeated within " + "; ".join(
        f"{k[0]}/{k[2]}/{k[4]}" for k in renumbered) + ": those cells were renumbered 0..n-1 in input "
        "order (the manifest's number is kept as source.manifest_run)"]


def _parse_file(path: Path) -> tuple[bool, list[dict]]:
    """(is JSON, the parsed runs) of one L41 output file."""
    label = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise PmcsuiteError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        fail_at(label, None, "is not text: not L41 benchmark output")
    is_json = text.lstrip().startswith("{")
    return is_json, parse_l41_json(text, label) if is_json else [parse_l41_text(text, label)]


class _Import:
    """What an import gathers file by file: the run records, the platforms and passes their counters
    belong to, the files and manifests read, and the host configurations the files state."""

    def __init__(self, emap: dict):
        self.emap = emap
        self.records, self.imported, self.hosts = [], [], []
        self.platforms, self.passes, self.manifests = {}, {}, {}

    def add_file(self, order: int, path: Path, rows) -> None:
        """Parse one file (the ``order``-th, one benchmark process) and add its runs."""
        label = str(path)
        is_json, parsed_runs = _parse_file(path)
        row = _manifest_row(path, rows)
        if row is not None:
            self.manifests.setdefault(row["manifest"], None)
        entry = {"path": str(path.resolve()), "sha256": file_sha256(path),
                 "format": parsed_runs[0]["format"], "runs": len(parsed_runs)}
        if is_json and parsed_runs[0]["host_configuration"] is not None:
            entry["host_configuration"] = parsed_runs[0]["host_configuration"]
        self.hosts.append(parsed_runs[0].get("host_configuration"))
        self.imported.append(entry)
        for parsed in parsed_runs:
            fields = _settle(label, parsed, row)
            counters = _counters(label, parsed, self.emap, self.platforms)
            source = {"file": str(path), "format": parsed["format"]}
            if "sample" in parsed:
                source["sample"] = parsed["sample"]
            if row is not None:
                source.update(manifest_line=row["line"], flags=row["flags"])
                if "run" in row and len(parsed_runs) == 1:
                    source["manifest_run"] = row["run"]
            rec = _record(label, parsed, fields, counters, source)
            # one file is one invocation of the benchmark: one process (module docstring)
            rec.update(seq=len(self.records), process=order, iteration=parsed.get("sample", 0),
                       iterations=len(parsed_runs))
            self.records.append(rec)
            if counters:
                self._add_pass(fields["variant"], counters)

    def _add_pass(self, variant: str, counters: dict) -> None:
        spec = self.passes.setdefault(variant, {"name": variant, "groups": [], "counters": [], "events": {}})
        for cid, value in counters.items():
            if cid not in spec["events"]:
                spec["counters"].append(cid)
                spec["events"][cid] = value["event"]


def _command_line(paths, out, manifest, warmup, host_note):
    argv = ["pmcsuite", "import", "l41", *[str(p) for p in paths]]
    if manifest:
        argv += ["--manifest", str(manifest)]
    if warmup:
        argv += ["--warmup", str(warmup)]
    if host_note:
        argv += ["--host-note", host_note]
    return argv + ["--out", str(out)]
