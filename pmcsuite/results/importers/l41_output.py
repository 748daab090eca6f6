"""Parsing the Cambridge L41 IPC benchmark's own output (pure functions; formats.md section 3).

- :func:`parse_l41_text`: one 2015-2020 ``ipc-static`` text output (an optional ``-v``
  configuration block, an optional ``-P SET`` counter block, the final ``<KiB/s> KBytes/sec``);
- :func:`parse_l41_json`: one 2020-2023 ``ipc-benchmark -j`` output, one dict per sample.

Any shape the benchmark cannot print raises one ``PmcsuiteError("FILE:LINE: ...")`` line;
:mod:`.l41` places the parsed runs (manifest, event names) and writes the result directory.
"""
from __future__ import annotations

import json
import math
import re

from ...errors import PmcsuiteError
from ...schema import STORED_ACTORS, parse_json

#: keys of a JSON sample / names of printed values that are derived, never stored as counters.
DERIVED_NAMES = {"CYCLES_PER_INSTRUCTION", "L1D_CACHE_HIT_RATE", "L2D_CACHE_HIT_RATE",
                 "L1I_CACHE_HIT_RATE", "BR_PRED_RATE"}
#: lower-case JSON sample keys that are getrusage fields: name -> (bench.rusage key, factor to ns)
_RUSAGE_KEYS = {"utime": ("utime_ns", 1e9), "stime": ("stime_ns", 1e9), "minflt": ("minflt", 1),
                "majflt": ("majflt", 1), "nvcsw": ("nvcsw", 1), "nivcsw": ("nivcsw", 1)}
IPC_NAMES = {"pipe": "pipe", "local": "local", "socket": "local", "tcp": "tcp"}

_BW_LINE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s+KBytes/sec\s*$")
_KEY_VALUE = re.compile(r"^\s+([A-Za-z0-9_.]+):\s*(\S(?:.*\S)?)\s*$")
_EVENT = re.compile(r"^\s+([A-Za-z0-9_]+(?:/[A-Za-z0-9_]+)?):\s*(\S+)\s*$")



def fail_at(name, line, message):
    """Raise ``PmcsuiteError("NAME:LINE: message")`` (``NAME: message`` without a line)."""
    where = f"{name}:{line}" if line else str(name)
    raise PmcsuiteError(f"{where}: {message}")


def config_value(name, line, key, value):
    """One configuration value -> (pmcsuite key, typed value); unknown keys are kept verbatim."""
    if key in ("buffersize", "totalsize", "blockcount", "msgcount", "iterations"):
        if isinstance(value, bool) or not re.fullmatch(r"\s*[0-9]{1,20}\s*", str(value)):
            fail_at(name, line, f"{key} is {value!r}, not a whole number of bytes/blocks; the file is corrupt")
        number = int(value)
        return {"buffersize": "buffer_size", "totalsize": "total_size"}.get(key, key), number
    if key == "mode":
        if not isinstance(value, str) or value not in STORED_ACTORS:
            fail_at(name, line, f"unknown mode {value!r}: expected one of {', '.join(STORED_ACTORS)}")
        return "actors", value
    if key == "ipctype":
        if not isinstance(value, str) or value not in IPC_NAMES:
            fail_at(name, line, f"unknown ipctype {value!r}: expected pipe, local (or socket) or tcp")
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
        fail_at(name, line, f"{what} is {value!r}, not a non-negative number; the file is corrupt")
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
    fail_at(name, line, f"counter {event} has value {value!r}, not a non-negative integer; the file is corrupt")


def _check_blocks(name, line, config):
    """total must be a multiple of buffer; blockcount/msgcount must agree with them."""
    size, total = config.get("buffer_size"), config.get("total_size")
    if size is not None and size <= 0 or total is not None and total <= 0:
        fail_at(name, line, "buffersize and totalsize must be positive; the file is corrupt")
    if size and total:
        if total % size:
            fail_at(name, line, f"totalsize {total} is not a multiple of buffersize {size}; the file is corrupt")
        for key in ("blockcount", "msgcount"):
            if key in config and config[key] != total // size:
                fail_at(name, line, f"{key} {config[key]} != totalsize/buffersize = {total // size}; "
                                    "the file is corrupt")


class _TextParser:
    """The line-by-line state machine of :func:`parse_l41_text`. States, in file order: ``start``,
    ``config`` (the ``-v`` block), ``after_config``, ``pmc_start`` (the blank line before ``-P``'s
    block), ``pmc`` (its counters), ``after_pmc``, ``done`` (the bandwidth line was read)."""

    def __init__(self, name: str):
        self.name, self.state = name, "start"
        self.config, self.pmctype, self.events, self.where = None, None, {}, {}
        self.ratios, self.kbytes = 0, None

    def line(self, number: int, line: str) -> None:
        """Read one line (trailing white space stripped); raise on any shape the output cannot have."""
        if self.state == "done":
            if line.strip():
                fail_at(self.name, number, f"unexpected text after the bandwidth line: {line.strip()[:60]!r}")
            return
        if self.state == "start" and line == "Benchmark configuration:":
            self.state, self.config = "config", {}
            self.where["config"] = number
            return
        if self.state == "config":
            if self._config_line(number, line):
                return
            self.state = "after_config"
        if self.state in ("start", "after_config", "after_pmc") and self._bandwidth(number, line):
            return
        {"start": self._before_pmc, "after_config": self._before_pmc, "pmc_start": self._pmc_start,
         "pmc": self._pmc, "after_pmc": self._after_pmc}[self.state](number, line)

    def _config_line(self, number: int, line: str) -> bool:
        match = _KEY_VALUE.match(line)
        if not match:
            return False
        key, value = config_value(self.name, number, *match.groups())
        if key in self.config:
            fail_at(self.name, number, f"configuration key {match.group(1)} appears twice; the file is corrupt")
        self.config[key] = value
        self.where[key] = number
        return True

    def _bandwidth(self, number: int, line: str) -> bool:
        match = _BW_LINE.match(line)
        if match:
            self.kbytes, self.state = _float(self.name, number, "bandwidth", match.group(1)), "done"
            self.where["bandwidth"] = number
        return bool(match)

    def _before_pmc(self, number: int, line: str) -> None:
        if line:
            fail_at(self.name, number, f"unexpected line {line.strip()[:60]!r}: expected 'Benchmark configuration:', "
                                       "a blank line before the counter block, or '<N> KBytes/sec'")
        self.state = "pmc_start"

    def _pmc_start(self, number: int, line: str) -> None:
        if not line:
            return
        match = _KEY_VALUE.match(line)
        if not match or match.group(1) != "pmctype":
            fail_at(self.name, number, f"expected '  pmctype: SET' after the blank line, got {line.strip()[:60]!r}")
        self.pmctype, self.state = match.group(2), "pmc"
        self.where["pmctype"] = number

    def _pmc(self, number: int, line: str) -> None:
        if not line:
            self.state = "after_pmc"
            return
        match = _EVENT.match(line)
        if not match:
            fail_at(self.name, number, f"unexpected line {line.strip()[:60]!r} in the counter block "
                                       "(expected '  EVENT: N', '  EVENT/OTHER: F' or a blank line)")
        event, value = match.groups()
        if "/" in event or event in DERIVED_NAMES:
            _float(self.name, number, event, value)
            self.ratios += 1
            return
        if event in self.events:
            fail_at(self.name, number, f"counter {event} appears twice; the file is corrupt")
        self.events[event] = _count(self.name, number, event, value)
        self.where[event] = number

    def _after_pmc(self, number: int, line: str) -> None:
        if line:
            fail_at(self.name, number, f"expected the final '<N> KBytes/sec' line, got {line.strip()[:60]!r}")

    def result(self, lines: list[str]) -> dict:
        """What :func:`parse_l41_text` returns, once every line was read and the whole is consistent."""
        if self.kbytes is None:
            last = max((i for i, text in enumerate(lines, 1) if text.strip()), default=1)
            fail_at(self.name, last, "truncated output: no final '<N> KBytes/sec' line; re-run the benchmark or "
                                     "leave the file out")
        if self.pmctype is not None and not self.events:
            fail_at(self.name, self.where["pmctype"], f"counter block for pmctype {self.pmctype} holds no counters; "
                                                      "the file is corrupt")
        if self.config is not None:
            _check_blocks(self.name, self.where["config"], self.config)
        return {"format": "l41-text", "config": self.config, "pmctype": self.pmctype, "events": self.events,
                "lines": self.where, "ratios_skipped": self.ratios, "kbytes_per_sec": self.kbytes}


def parse_l41_text(text: str, name: str = "<file>") -> dict:
    """Parse one 2015-2020 ``ipc-static`` output (pure).

    Returns ``{"format": "l41-text", "config": {...} or None, "pmctype": str or None,
    "events": {NAME: int}, "lines": {key or NAME: line number}, "ratios_skipped": int,
    "kbytes_per_sec": float}``. ``config`` uses pmcsuite names: ``buffer_size``, ``total_size``,
    ``blockcount``, ``actors``, ``ipc`` (``socket`` -> ``local``), ``time_s``. Ratio lines
    (``A/B: F``) are validated and skipped. Any other shape raises ``PmcsuiteError("NAME:LINE: ...")``.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    parser = _TextParser(name)
    for number, raw in enumerate(lines, 1):
        parser.line(number, raw.rstrip())
    return parser.result(lines)


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
        doc = parse_json(text)     # NaN/Infinity (Python's, not JSON) raise ValueError
    except json.JSONDecodeError as exc:
        fail_at(name, exc.lineno, f"not valid JSON ({exc.msg}, column {exc.colno}); the file is truncated or corrupt")
    except (ValueError, RecursionError) as exc:   # a number of thousands of digits, nesting too deep
        fail_at(name, None, f"not readable JSON ({exc}); the file is corrupt")
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmark_samples"), list):
        fail_at(name, 1, "no 'benchmark_samples' list: not L41 ipc-benchmark -j output")
    raw_config = doc.get("benchmark_configuration")
    config = None
    if raw_config is not None:
        if not isinstance(raw_config, dict):
            fail_at(name, 0, "'benchmark_configuration' is not an object; the file is corrupt")
        config = {}
        for key, value in raw_config.items():
            new_key, typed = config_value(name, 0, key, value)
            config[new_key] = typed
        _check_blocks(name, 0, config)
    pmctype = (config or {}).pop("pmctype", None) if config else None
    if pmctype == "none":
        pmctype = None
    host = doc.get("host_configuration") if isinstance(doc.get("host_configuration"), dict) else None
    samples = doc["benchmark_samples"]
    if not samples:
        fail_at(name, 0, "'benchmark_samples' is empty: the benchmark printed no run")
    iterations = (config or {}).get("iterations")
    if iterations is not None and iterations != len(samples):
        fail_at(name, 0, f"benchmark_configuration says {iterations} iterations but benchmark_samples has "
                         f"{len(samples)}; the file is truncated")
    return [_json_sample(f"{name}: benchmark_samples[{index}]", index, sample, config, pmctype, host)
            for index, sample in enumerate(samples)]


def _json_sample(label: str, index: int, sample, config: dict | None, pmctype, host) -> dict:
    """One ``benchmark_samples`` entry of :func:`parse_l41_json` -> one parsed run."""
    if not isinstance(sample, dict):
        fail_at(label, 0, "is not an object; the file is corrupt")
    if "bandwidth" not in sample:
        fail_at(label, 0, "has no 'bandwidth'; the file is truncated or corrupt")
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
                fail_at(label, 0, f"{key} is {value!r}, beyond any range; the file is corrupt")
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
    return {"format": "l41-json", "config": run_config, "pmctype": pmctype, "events": events,
            "lines": {}, "ratios_skipped": ratios, "kbytes_per_sec": kbytes, "time_s": time_s,
            "sample": index, "rusage": rusage, "ignored": ignored, "host_configuration": host}
