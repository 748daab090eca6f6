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
- event names map to catalogue counter ids through the catalogue's ``pmcstat`` event specs, with
  :data:`FALLBACK_EVENTS` for names the catalogue lacks. An unknown event name is an error (strict:
  a counter silently dropped or mislabelled would corrupt the explanation); add the event to a
  user catalogue file to import it.
"""
from __future__ import annotations

import csv
import json
import math
import re
import shlex
from pathlib import Path

from ...errors import PmcsuiteError
from ...sizes import parse_size
from . import base_metadata, file_sha256, load_catalogue_or_none, write_result
from ...schema import BASELINE

#: Documented fallback: L41 event name -> (platform, catalogue counter id), used only for names
#: the catalogue's ``pmcstat`` specs do not cover.
FALLBACK_EVENTS: dict[str, tuple[str, str]] = {
    # Cortex-A8 (2015-2020 ipc-static, BeagleBone Black)
    "INSTR_EXECUTED": ("cortex-a8", "instructions"),
    "CLOCK_CYCLES": ("cortex-a8", "cycles"),
    "L1_DCACHE_ACCESS": ("cortex-a8", "l1d_access"),
    "L1_DCACHE_REFILL": ("cortex-a8", "l1d_refill"),
    "L1_ICACHE_REFILL": ("cortex-a8", "l1i_refill"),
    "L2_ACCESS": ("cortex-a8", "l2_access"),
    "L2_CACHE_ACCESS": ("cortex-a8", "l2_access"),
    "L2_CACHE_MISS": ("cortex-a8", "l2_refill"),
    "L2_CACHE_REFILL": ("cortex-a8", "l2_refill"),
    "MEM_READ": ("cortex-a8", "mem_read"),
    "MEM_WRITE": ("cortex-a8", "mem_write"),
    "ITLB_REFILL": ("cortex-a8", "itlb_refill"),
    "DTLB_REFILL": ("cortex-a8", "dtlb_refill"),
    "AXI_READ": ("cortex-a8", "axi_read"),
    "AXI_WRITE": ("cortex-a8", "axi_write"),
}

#: keys of a JSON sample / names of printed values that are derived, never stored as counters.
DERIVED_NAMES = {"CYCLES_PER_INSTRUCTION", "L1D_CACHE_HIT_RATE", "L2D_CACHE_HIT_RATE",
                 "L1I_CACHE_HIT_RATE", "BR_PRED_RATE"}
#: lower-case JSON sample keys that are getrusage fields: name -> (bench.rusage key, factor to ns)
_RUSAGE_KEYS = {"utime": ("utime_ns", 1e9), "stime": ("stime_ns", 1e9), "minflt": ("minflt", 1),
                "majflt": ("majflt", 1), "nvcsw": ("nvcsw", 1), "nivcsw": ("nivcsw", 1)}

#: variant of the ``ipc-static`` runs launched with both ``-v`` and ``-P SET``: ``timed+SET``.
TIMED_PREFIX = "timed+"

MODES = ("1thread", "2thread", "2proc")
IPC_NAMES = {"pipe": "pipe", "local": "local", "socket": "local", "tcp": "tcp"}
MANIFEST_COLUMNS = ("file", "ipctype", "mode", "buffersize", "totalsize", "run", "flags")
BANDWIDTH_TOLERANCE = 0.01   # |time-derived / printed bandwidth - 1| above this -> a run warning

_BW_LINE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s+KBytes/sec\s*$")
_KEY_VALUE = re.compile(r"^\s+([A-Za-z0-9_.]+):\s*(\S(?:.*\S)?)\s*$")
_EVENT = re.compile(r"^\s+([A-Za-z0-9_]+(?:/[A-Za-z0-9_]+)?):\s*(\S+)\s*$")


def _not_json(constant):
    raise ValueError(f"{constant} is not a JSON value")


def _fail(name, line, message):
    where = f"{name}:{line}" if line else str(name)
    raise PmcsuiteError(f"{where}: {message}")


# ---------------------------------------------------------------------------------------------
# pure parsers

def _config_value(name, line, key, value):
    """One configuration value -> (pmcsuite key, typed value); unknown keys are kept verbatim."""
    if key in ("buffersize", "totalsize", "blockcount", "msgcount", "iterations"):
        if isinstance(value, bool) or not re.fullmatch(r"\s*[0-9]{1,20}\s*", str(value)):
            _fail(name, line, f"{key} is {value!r}, not a whole number of bytes/blocks; the file is corrupt")
        number = int(value)
        return {"buffersize": "buffer_size", "totalsize": "total_size"}.get(key, key), number
    if key == "mode":
        if not isinstance(value, str) or value not in MODES:
            _fail(name, line, f"unknown mode {value!r}: expected one of {', '.join(MODES)}")
        return "actors", value
    if key == "ipctype":
        if not isinstance(value, str) or value not in IPC_NAMES:
            _fail(name, line, f"unknown ipctype {value!r}: expected pipe, local (or socket) or tcp")
        return "ipc", IPC_NAMES[value]
    if key == "time":
        seconds = _float(name, line, "time", value)
        return "time_s", seconds
    if key == "pmctype":
        return "pmctype", str(value)
    return key, value


def _float(name, line, what, value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or number < 0:
        _fail(name, line, f"{what} is {value!r}, not a non-negative number; the file is corrupt")
    return number


def _count(name, line, event, value) -> int:
    """A counter value: a non-negative integer (JSON number or decimal text)."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and 0 <= value < 1 << 64:       # a 64-bit counter
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,20}", value.strip()):
        return int(value)
    _fail(name, line, f"counter {event} has value {value!r}, not a non-negative integer; the file is corrupt")


def _check_blocks(name, line, config):
    """total must be a multiple of buffer; blockcount/msgcount must agree with them."""
    size, total = config.get("buffer_size"), config.get("total_size")
    if size is not None and size <= 0 or total is not None and total <= 0:
        _fail(name, line, "buffersize and totalsize must be positive; the file is corrupt")
    if size and total:
        if total % size:
            _fail(name, line, f"totalsize {total} is not a multiple of buffersize {size}; the file is corrupt")
        for key in ("blockcount", "msgcount"):
            if key in config and config[key] != total // size:
                _fail(name, line, f"{key} {config[key]} != totalsize/buffersize = {total // size}; the file is corrupt")


def parse_l41_text(text: str, name: str = "<file>") -> dict:
    """Parse one 2015-2020 ``ipc-static`` output (pure).

    Returns ``{"format": "l41-text", "config": {...} or None, "pmctype": str or None,
    "events": {NAME: int}, "lines": {key or NAME: line number}, "ratios_skipped": int,
    "kbytes_per_sec": float}``. ``config`` uses pmcsuite names: ``buffer_size``, ``total_size``,
    ``blockcount``, ``actors``, ``ipc`` (``socket`` -> ``local``), ``time_s``. Ratio lines
    (``A/B: F``) are validated and skipped. Any other shape raises ``PmcsuiteError("NAME:LINE: ...")``.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    state = "start"
    config, pmctype, events, where = None, None, {}, {}
    ratios, kbytes = 0, None
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip()
        if state == "done":
            if line.strip():
                _fail(name, number, f"unexpected text after the bandwidth line: {line.strip()[:60]!r}")
            continue
        if state == "start" and line == "Benchmark configuration:":
            state, config = "config", {}
            where["config"] = number
            continue
        if state == "config":
            match = _KEY_VALUE.match(line)
            if match:
                key, value = _config_value(name, number, *match.groups())
                if key in config:
                    _fail(name, number, f"configuration key {match.group(1)} appears twice; the file is corrupt")
                config[key] = value
                where[key] = number
                continue
            state = "after_config"
        if state in ("start", "after_config", "after_pmc"):
            match = _BW_LINE.match(line)
            if match:
                kbytes, state = _float(name, number, "bandwidth", match.group(1)), "done"
                where["bandwidth"] = number
                continue
        if state in ("start", "after_config"):
            if not line:
                state = "pmc_start"
                continue
            _fail(name, number, f"unexpected line {line.strip()[:60]!r}: expected 'Benchmark configuration:', "
                                "a blank line before the counter block, or '<N> KBytes/sec'")
        if state == "pmc_start":
            if not line:
                continue
            match = _KEY_VALUE.match(line)
            if match and match.group(1) == "pmctype":
                pmctype, state = match.group(2), "pmc"
                where["pmctype"] = number
                continue
            _fail(name, number, f"expected '  pmctype: SET' after the blank line, got {line.strip()[:60]!r}")
        if state == "pmc":
            if not line:
                state = "after_pmc"
                continue
            match = _EVENT.match(line)
            if not match:
                _fail(name, number, f"unexpected line {line.strip()[:60]!r} in the counter block "
                                    "(expected '  EVENT: N', '  EVENT/OTHER: F' or a blank line)")
            event, value = match.groups()
            if "/" in event or event in DERIVED_NAMES:
                _float(name, number, event, value)
                ratios += 1
                continue
            if event in events:
                _fail(name, number, f"counter {event} appears twice; the file is corrupt")
            events[event] = _count(name, number, event, value)
            where[event] = number
            continue
        if state == "after_pmc":
            if not line:
                continue
            _fail(name, number, f"expected the final '<N> KBytes/sec' line, got {line.strip()[:60]!r}")
    if kbytes is None:
        last = max((i for i, l in enumerate(lines, 1) if l.strip()), default=1)
        _fail(name, last, "truncated output: no final '<N> KBytes/sec' line; re-run the benchmark or leave the file out")
    if pmctype is not None and not events:
        _fail(name, where["pmctype"], f"counter block for pmctype {pmctype} holds no counters; the file is corrupt")
    if config is not None:
        _check_blocks(name, where["config"], config)
    return {"format": "l41-text", "config": config, "pmctype": pmctype, "events": events,
            "lines": where, "ratios_skipped": ratios, "kbytes_per_sec": kbytes}


def _is_derived(key: str) -> bool:
    return "/" in key or key in DERIVED_NAMES or key.endswith("_RATE") or "_PER_" in key


def parse_l41_json(text: str, name: str = "<file>") -> list[dict]:
    """Parse one 2020-2023 ``ipc-benchmark -j`` output (pure): one dict per ``benchmark_samples``
    entry, shaped like :func:`parse_l41_text`'s result plus ``sample`` (index), ``rusage``
    (``utime_ns``... when ``-r`` printed them) and ``host_configuration`` (or None).

    ``bandwidth`` is taken as KBytes/sec (KiB/s), like the text output; ``time`` as seconds.
    Upper-case keys are counters unless they are derived rates (``*_RATE``, ``*_PER_*``, ``A/B``);
    lower-case keys other than bandwidth/time/getrusage fields are ignored (listed in ``ignored``).
    """
    try:
        doc = json.loads(text, parse_constant=_not_json)     # NaN/Infinity: Python's, not JSON
    except json.JSONDecodeError as exc:
        _fail(name, exc.lineno, f"not valid JSON ({exc.msg}, column {exc.colno}); the file is truncated or corrupt")
    except (ValueError, RecursionError) as exc:   # a number of thousands of digits, nesting too deep
        _fail(name, None, f"not readable JSON ({exc}); the file is corrupt")
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmark_samples"), list):
        _fail(name, 1, "no 'benchmark_samples' list: not L41 ipc-benchmark -j output")
    raw_config = doc.get("benchmark_configuration")
    config = None
    if raw_config is not None:
        if not isinstance(raw_config, dict):
            _fail(name, 0, "'benchmark_configuration' is not an object; the file is corrupt")
        config = {}
        for key, value in raw_config.items():
            new_key, typed = _config_value(name, 0, key, value)
            config[new_key] = typed
        _check_blocks(name, 0, config)
    pmctype = (config or {}).pop("pmctype", None) if config else None
    if pmctype == "none":
        pmctype = None
    host = doc.get("host_configuration") if isinstance(doc.get("host_configuration"), dict) else None
    samples = doc["benchmark_samples"]
    if not samples:
        _fail(name, 0, "'benchmark_samples' is empty: the benchmark printed no run")
    iterations = (config or {}).get("iterations")
    if iterations is not None and iterations != len(samples):
        _fail(name, 0, f"benchmark_configuration says {iterations} iterations but benchmark_samples has "
                       f"{len(samples)}; the file is truncated")
    runs = []
    for index, sample in enumerate(samples):
        label = f"{name}: benchmark_samples[{index}]"
        if not isinstance(sample, dict):
            _fail(label, 0, "is not an object; the file is corrupt")
        if "bandwidth" not in sample:
            _fail(label, 0, "has no 'bandwidth'; the file is truncated or corrupt")
        kbytes = _float(label, 0, "bandwidth", sample["bandwidth"])
        time_s = _float(label, 0, "time", sample["time"]) if sample.get("time") is not None else None
        events, rusage, ignored, ratios = {}, {}, [], 0
        for key, value in sample.items():
            if key in ("bandwidth", "time"):
                continue
            if key in _RUSAGE_KEYS:
                target, factor = _RUSAGE_KEYS[key]
                scaled = _float(label, 0, key, value) * factor
                if not math.isfinite(scaled):
                    _fail(label, 0, f"{key} is {value!r}, beyond any range; the file is corrupt")
                rusage[target] = round(scaled)
            elif _is_derived(key):
                ratios += 1
            elif key.upper() == key and re.fullmatch(r"[A-Z0-9_]+", key):
                events[key] = _count(label, 0, key, value)
            else:
                ignored.append(key)
        run_config = dict(config) if config is not None else None
        if run_config is not None and time_s is not None:
            run_config["time_s"] = time_s
        runs.append({"format": "l41-json", "config": run_config, "pmctype": pmctype, "events": events,
                     "lines": {}, "ratios_skipped": ratios, "kbytes_per_sec": kbytes, "time_s": time_s,
                     "sample": index, "rusage": rusage, "ignored": ignored, "host_configuration": host})
    return runs


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
        _fail(path, None, "is not UTF-8 text: not a manifest CSV")
    reader = csv.DictReader(text.splitlines())
    try:
        columns = [c.strip() for c in (reader.fieldnames or [])]
        raws = list(reader)
    except csv.Error as exc:
        _fail(path, reader.line_num, f"not readable CSV ({exc})")
    if "file" not in columns:
        _fail(path, 1, f"no 'file' column: a manifest has the columns {','.join(MANIFEST_COLUMNS)}")
    rows = {}
    for number, raw in enumerate(raws, 2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not row.get("file"):
            _fail(path, number, "empty 'file' value")
        entry = {"file": row["file"], "line": number, "manifest": str(path), "flags": row.get("flags") or ""}
        try:
            if row.get("buffersize"):
                entry["buffer_size"] = parse_size(row["buffersize"])
            if row.get("totalsize"):
                entry["total_size"] = parse_size(row["totalsize"])
        except PmcsuiteError as exc:
            _fail(path, number, str(exc))
        if row.get("ipctype"):
            entry["ipc"] = _config_value(path, number, "ipctype", row["ipctype"])[1]
        if row.get("mode"):
            entry["actors"] = _config_value(path, number, "mode", row["mode"])[1]
        if row.get("run"):
            if not re.fullmatch(r"[0-9]{1,18}", row["run"]):          # not "²", which isdigit() takes
                _fail(path, number, f"run is {row['run']!r}, not a whole number >= 0")
            entry["run"] = int(row["run"])
        try:
            entry["argv"] = shlex.split(entry["flags"])
        except ValueError as exc:
            _fail(path, number, f"cannot split flags {entry['flags']!r} ({exc})")
        if "\x00" in row["file"]:
            _fail(path, number, f"file name {row['file']!r} holds a NUL byte; the manifest is corrupt")
        key = str((path.parent / row["file"]).resolve())
        if key in rows:
            _fail(path, number, f"{row['file']} is listed twice (first on line {rows[key]['line']})")
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


def _pmcstat_name(spec) -> str | None:
    """Catalogue pmcstat spec (``AXI_READ``, ``p/AXI_READ``) -> event name, upper case."""
    if not isinstance(spec, str) or not spec.strip():
        return None
    spec = spec.strip()
    if spec[:2] in ("p/", "s/"):
        spec = spec[2:]
    return spec.upper()


def event_map(cat) -> dict[str, tuple[str, str]]:
    """Event name (upper case) -> (platform, counter id): the catalogue's ``pmcstat`` specs first
    (first platform in catalogue order wins a clash), :data:`FALLBACK_EVENTS` for the rest."""
    mapping = dict(FALLBACK_EVENTS)
    if cat is None:
        return mapping
    from_catalogue = {}
    for pname, platform in getattr(cat, "platforms", {}).items():
        for cid, specs in (getattr(platform, "events", None) or {}).items():
            name = _pmcstat_name(specs.get("pmcstat")) if isinstance(specs, dict) else None
            if name:
                from_catalogue.setdefault(name, (pname, cid))
    mapping.update(from_catalogue)
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
                rows = read_manifest(auto)
                if not rows:
                    _fail(auto, 1, "lists no files: add a row per L41 output file, or remove it to import the directory's .txt and .json files")
                listed = sorted(rows, key=lambda k: rows[k]["line"])
                for key in listed:
                    try:
                        listed_file = Path(key).is_file()
                    except OSError as exc:              # e.g. a file name too long
                        _fail(auto, rows[key]["line"], f"lists {rows[key]['file'][:60]!r}, which cannot be read ({exc.strerror})")
                    if not listed_file:
                        _fail(auto, rows[key]["line"], f"lists {rows[key]['file']}, which does not exist")
                    files.append((Path(key), explicit or rows, str(auto)))
            else:
                found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".txt", ".json"))
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
            _fail(label, where.get(key), f"{column} is {in_file} in the file but {in_manifest} in "
                                         f"{row['manifest']}:{row['line']}; correct the manifest")
        value = in_file if in_file is not None else in_manifest
        if value is None:
            if row is None:
                _fail(label, None, f"no configuration block (run without -v) and not listed in a manifest: "
                                   f"pass --manifest FILE with columns {','.join(MANIFEST_COLUMNS)}")
            _fail(label, None, f"{column} is neither in the file nor in {row['manifest']}:{row['line']}; "
                               "add it to the manifest")
        fields[key] = value
    if fields["total_size"] % fields["buffer_size"]:
        _fail(label, None, f"total size {fields['total_size']} is not a multiple of buffer size "
                           f"{fields['buffer_size']}; correct the manifest")
    argv = (row or {}).get("argv", [])
    flag_ipc = _flag(argv, "-i")
    if flag_ipc is not None and IPC_NAMES.get(flag_ipc, flag_ipc) != fields["ipc"]:
        _fail(label, None, f"manifest flags say -i {flag_ipc} but the run is {fields['ipc']}; correct the manifest")
    if fields["ipc"] == "local" and _has_switch(argv, "s"):
        fields["ipc"] = "local-s"
    pmctype, flag_set = parsed["pmctype"], _flag(argv, "-P")
    if pmctype is not None and flag_set is not None and flag_set != pmctype:
        _fail(label, where.get("pmctype"), f"pmctype is {pmctype} in the file but the manifest flags say "
                                           f"-P {flag_set}; correct the manifest")
    if pmctype is None and flag_set is not None and flag_set != "none":
        if not parsed["events"]:
            _fail(label, None, f"the manifest flags say -P {flag_set} but the output holds no counters")
        pmctype = flag_set
    if pmctype is None and parsed["events"]:
        _fail(label, None, "the output holds counters but not which -P set: add the flags (-P SET) to the manifest")
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
            _fail(label, parsed["lines"].get(event), f"unknown event {event}: no catalogue counter has this pmcstat "
                                                     "name; add it to the catalogue (counters.yaml or a user catalogue file) to import it")
        platform, cid = hit
        if cid in counters:
            _fail(label, parsed["lines"].get(event), f"events {counters[cid]['event']} and {event} both map to "
                                                     f"counter {cid}; the file mixes aliases")
        platforms.setdefault(platform, None)
        counters[cid] = {"event": event, "value": float(value), "unit": "", "status": "ok"}
    return counters


def _record(label, parsed, fields, counters, source):
    total = fields["total_size"]
    bandwidth = parsed["kbytes_per_sec"] * 1024.0
    time_s = (parsed["config"] or {}).get("time_s", parsed.get("time_s"))
    warnings = []
    if time_s is not None and time_s > 0:
        loop, source["loop_ns_from"] = time_s * 1e9, "time"
        implied = total / time_s
        if bandwidth > 0 and abs(implied / bandwidth - 1) > BANDWIDTH_TOLERANCE:
            warnings.append(f"printed bandwidth {parsed['kbytes_per_sec']} KBytes/sec disagrees with "
                            f"totalsize/time = {implied / 1024:.2f} KBytes/sec")
    elif bandwidth > 0:
        loop, source["loop_ns_from"] = total / bandwidth * 1e9, "bandwidth"
    else:
        _fail(label, parsed["lines"].get("bandwidth"), "bandwidth is 0 and no loop time is printed; the run is unusable")
    if not (math.isfinite(loop) and math.isfinite(bandwidth)):
        _fail(label, parsed["lines"].get("bandwidth"), "the bandwidth or loop time is beyond any range; the file is corrupt")
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
    emap = event_map(cat)
    files = _input_files(paths, manifest)
    records, platforms, passes, imported, hosts = [], {}, {}, [], []
    manifests = {}
    for order, (path, rows, auto) in enumerate(files):
        label = str(path)
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
        except OSError as exc:
            raise PmcsuiteError(f"cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            _fail(label, None, "is not text: not L41 benchmark output")
        is_json = text.lstrip().startswith("{")
        parsed_runs = parse_l41_json(text, label) if is_json else [parse_l41_text(text, label)]
        row = _manifest_row(path, rows)
        if row is not None:
            manifests.setdefault(row["manifest"], None)
        entry = {"path": str(path.resolve()), "sha256": file_sha256(path),
                 "format": parsed_runs[0]["format"], "runs": len(parsed_runs)}
        if is_json and parsed_runs[0]["host_configuration"] is not None:
            entry["host_configuration"] = parsed_runs[0]["host_configuration"]
        hosts.append(parsed_runs[0].get("host_configuration"))
        imported.append(entry)
        for parsed in parsed_runs:
            fields = _settle(label, parsed, row)
            counters = _counters(label, parsed, emap, platforms)
            source = {"file": str(path), "format": parsed["format"]}
            if "sample" in parsed:
                source["sample"] = parsed["sample"]
            if row is not None:
                source.update(manifest_line=row["line"], flags=row["flags"])
                if "run" in row and len(parsed_runs) == 1:
                    source["manifest_run"] = row["run"]
            rec = _record(label, parsed, fields, counters, source)
            # one file is one invocation of the benchmark: one process (module docstring)
            rec.update(seq=len(records), process=order, iteration=parsed.get("sample", 0),
                       iterations=len(parsed_runs))
            records.append(rec)
            if counters:
                spec = passes.setdefault(fields["variant"], {"name": fields["variant"], "groups": [],
                                                             "counters": [], "events": {}})
                for cid, value in counters.items():
                    if cid not in spec["events"]:
                        spec["counters"].append(cid)
                        spec["events"][cid] = value["event"]
    cells, renumbered = _number_runs(records, warmup)
    notes = []
    if renumbered:
        notes.append("manifest run numbers are missing or repeated within " + "; ".join(
            f"{k[0]}/{k[2]}/{k[4]}" for k in renumbered) + ": those cells were renumbered 0..n-1 in input "
            "order (the manifest's number is kept as source.manifest_run)")
    if cat is not None:
        unknown = sorted({cid for r in records for cid in r["counters"]} - set(getattr(cat, "counters", {})))
        if unknown:
            notes.append(f"counter ids not in the catalogue (fallback table): {', '.join(unknown)}")
    meta = base_metadata("import-l41", command_line or _command_line(paths, out, manifest, warmup, host_note),
                         cat, host=_host_from(hosts) if any(hosts) else None, host_note=host_note)
    meta["platform"] = list(platforms) or ["unknown"]
    meta["tools"] = {"source_tool": sorted({r["bench"]["tool"] for r in records})}
    meta["plan"] = _plan(records, cells, warmup, passes)
    meta["imported"] = {"files": imported,
                        "manifests": [{"path": str(Path(m).resolve()), "sha256": file_sha256(m)} for m in manifests],
                        "warmup": warmup, "notes": notes}
    write_result(out, meta, records)
    return Path(out)


def _command_line(paths, out, manifest, warmup, host_note):
    argv = ["pmcsuite", "import", "l41", *[str(p) for p in paths]]
    if manifest:
        argv += ["--manifest", str(manifest)]
    if warmup:
        argv += ["--warmup", str(warmup)]
    if host_note:
        argv += ["--host-note", host_note]
    return argv + ["--out", str(out)]
