#!/usr/bin/env python3
"""Fuzz every parser of pmcsuite: any input must give a result or a ``PmcsuiteError``, never another
exception (a ``TypeError``, ``KeyError``, ``UnicodeDecodeError``, ``RecursionError``... is an
"internal error", exit 70, where a one-line message saying what is wrong with the input is due).

Each parser gets ``--inputs / number of parsers`` inputs: a third generated from nothing (random
bytes, random text from the characters its input is made of, random JSON values, lines of tokens
taken from its real inputs), two thirds mutated from the real inputs in tests/fixtures (bits and
bytes flipped, inserted, deleted; lines deleted, duplicated, swapped; numbers swapped for strings,
huge numbers, NaN, Unicode digits; JSON values replaced by others of another type, keys dropped,
deep nesting; CSV fields dropped and replaced; truncated; spliced with another input), 1 to 4
mutations stacked. Files (result directories, catalogues, CSV, manifests, L41 output) are written
to a scratch directory and read back through the public functions.

Prints, per parser, the inputs tried, the time, and the exceptions that are not PmcsuiteError,
grouped by (type, file:line of the innermost pmcsuite frame), with the shortest input that raised
it. Goal: 0. Exits 1 if any.

    python bench/fuzz_parsers.py                        # 120,000 inputs, seed 0
    python bench/fuzz_parsers.py --inputs 2000 --seed 3 --only perf_json,pmcstat
    python bench/fuzz_parsers.py --save /tmp/crashes   # every crashing input as a file

tests/test_fuzz.py runs the same parsers (``TARGETS``) and mutations (``mutate``) under hypothesis.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pmcsuite.errors import PmcsuiteError  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
PACKAGE = str(ROOT / "pmcsuite")


# ------------------------------------------------------------------------------------------------
# seeds: the real inputs each parser reads

def _read(*names) -> list[bytes]:
    return [(FIXTURES / n).read_bytes() for n in names]


def _glob(pattern) -> list[bytes]:
    return [p.read_bytes() for p in sorted(FIXTURES.glob(pattern))]


#: an ipcbench version-2 line (as tests/test_benchmark.py SAMPLE2) and a version-1 one
BENCH_V1 = json.loads((FIXTURES / "ipcbench_v1.json").read_text())
BENCH_V2 = {**BENCH_V1, "version": 2, "iteration": 0, "iterations": 1, "counting": "actors",
            "offcpu_ns": {"writer": 10, "reader": 20}, "counters": {
                "w": {"event": "syscalls:sys_enter_write", "status": "ok", "value": 256, "reason": None,
                      "writer": {"status": "ok", "value": 256, "enabled": 10, "running": 10},
                      "reader": {"status": "ok", "value": 0, "enabled": 9, "running": 9}},
                "tc": {"event": "task-clock", "status": "ok", "value": 2301000, "reason": None,
                       "writer": {"status": "ok", "value": 1, "enabled": 10, "running": 5},
                       "reader": {"status": "ok", "value": 2, "enabled": 10, "running": 10}},
                "i": {"event": "instructions", "status": "not_supported", "value": None, "reason": "no PMU",
                      "writer": {"status": "not_supported", "value": None, "enabled": None, "running": None},
                      "reader": {"status": "not_supported", "value": None, "enabled": None, "running": None}}}}


def _bench_seeds() -> list[bytes]:
    two = [{**BENCH_V2, "iterations": 2}, {**BENCH_V2, "iteration": 1, "iterations": 2}]
    points = [{**BENCH_V2, "point": 0}, {**BENCH_V2, "point": 1, "ipc": "local"}]
    return [json.dumps(BENCH_V1).encode() + b"\n", json.dumps(BENCH_V2).encode() + b"\n",
            "".join(json.dumps(d) + "\n" for d in two).encode(),
            "".join(json.dumps(d) + "\n" for d in points).encode(),
            json.dumps(BENCH_V1, indent=2).encode()]


TIDY_CSV = b"""ipc,actors,placement,buffer_size,total_size,run,variant,bandwidth,warmup,counter,value,status
pipe,2thread,same,64K,16M,0,baseline,6791331840,true,,,
pipe,2thread,same,64K,16M,1,baseline,6803217408,false,,,
pipe,2thread,same,64K,16M,0,syscalls,6512109568,false,syscalls_write,256,ok
pipe,2thread,same,64K,16M,0,syscalls,6512109568,false,syscalls_read,256,ok
pipe,2thread,same,64K,16M,0,syscalls,6512109568,false,instructions,,not_supported
"""
TIDY_CSV_NS = b"""ipc,actors,buffer_size,total_size,run,variant,loop_ns,scope,counter,value,status,event,unit
local,2proc,4096,1M,0,faults,1250000,loop,page_faults,12,ok,page-faults,
local,2proc,4096,1M,1,faults,1260000,loop,page_faults,,not_counted,page-faults,
"""

USER_CATALOGUE = b"""version: 1
counters:
  my_counter:
    description: A user counter
    unit: count
    kind: software
groups:
  mine:
    description: mine
    counters: [my_counter, syscalls_write]
platforms:
  software:
    events:
      my_counter: {perf: context-switches}
derived:
  my_rate:
    formula: my_counter / syscalls_write
    unit: ratio
    description: a ratio
"""

PROC_STAT = b"""cpu  4705 356 584 3699176 23060 0 277 0 0 0
cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0
intr 114930548 113199788 3 0 5 263 0 4 [... lots more numbers ...]
ctxt 1990473
btime 1062191376
processes 2915
"""
OS_RELEASE = b'''PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
ID=debian
# a comment
HOME_URL='https://www.debian.org/'
'''

PERF_STDERR = _read("perf_err_129_perm_tracepoint.txt", "perf_err_129_unknown_pmu.txt",
                    "perf_err_255_group.txt", "perf_err_unknown_option.txt",
                    "perf_err_workload_missing.txt") + [
    b"Workload failed: No such file or directory\n",
    b"ipcbench: Segmentation fault\n",
    b"Error:\nThe sys_perf_event_open() syscall returned with 13 (Permission denied) for event (cycles).\n"]
PMCSTAT_STDERR = [
    b'pmcstat: ERROR: Cannot allocate process-mode pmc with specification "INSTR_EXECUTED": Invalid argument\n',
    b"pmcstat: ERROR: Initialization of the pmc(3) library failed: No such file or directory\n",
    b"pmcstat: kvm_openfiles: Operation not permitted\n"]
DTRACE_STDERR = [
    b"dtrace: failed to compile script count.d: line 3: probe description fbt::vm_fault:entry "
    b"does not match any probes\n",
    b"dtrace: failed to initialize dtrace: DTrace requires additional privileges\n",
    b"dtrace: error on enabled probe ID 2\n"]

RESULTS = FIXTURES / "results_small"


# ------------------------------------------------------------------------------------------------
# the parsers, each as a function of one input (bytes)

def _text(data: bytes) -> str:
    """Output read the way pmcsuite reads tool output files (``read_text(errors="replace")``)."""
    return data.decode("utf-8", errors="replace")


def _json_or_none(data: bytes):
    try:
        return json.loads(data.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return None


_SCRATCH: list[Path] = []


def scratch() -> Path:
    """A private scratch directory for file inputs (one per process, removed at exit)."""
    if not _SCRATCH:
        import atexit
        path = Path(tempfile.mkdtemp(prefix="pmcsuite-fuzz-"))
        atexit.register(shutil.rmtree, path, True)
        _SCRATCH.append(path)
    return _SCRATCH[0]


def _fresh(name: str) -> Path:
    """An empty directory ``name`` in the scratch directory."""
    path = scratch() / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    return path


PERF_EVENTS = {"tc": "task-clock", "cs": "context-switches", "pf": "page-faults",
               "w": "syscalls:sys_enter_write", "i": "instructions", "r": "r11"}


def run_perf_json(data):
    from pmcsuite.collect.backends.perf import parse_perf_json, to_counter_values
    to_counter_values(parse_perf_json(_text(data)), PERF_EVENTS)


def run_perf_csv(data):
    from pmcsuite.collect.backends.perf import parse_perf_csv, to_counter_values
    text = _text(data)
    to_counter_values(parse_perf_csv(text), PERF_EVENTS)
    try:
        to_counter_values(parse_perf_csv(text, repeat=True), PERF_EVENTS)
    except PmcsuiteError:
        pass
    to_counter_values(parse_perf_csv(text.replace(";", ","), sep=","), PERF_EVENTS)


def run_perf_failure(data):
    from pmcsuite.collect.backends.perf import _bench_error, classify_failure, workload_signal
    text = _text(data)
    for rc in (0, 1, 129, 255):
        classify_failure(rc, text)
    workload_signal(text, "ipcbench")
    _bench_error(text)


def run_pmcstat(data):
    from pmcsuite.collect.backends.pmcstat import classify_failure, parse_pmcstat, to_counter_values
    text = _text(data)
    events = {"ic": "ic-misses", "cy": "unhalted-cycles", "ie": "INSTR_EXECUTED,usr"}
    to_counter_values(parse_pmcstat(text, cumulative=True), events)
    to_counter_values(parse_pmcstat(text, cumulative=False), events)
    for rc in (0, 69, 71):
        classify_failure(rc, text)


def run_dtrace(data):
    from pmcsuite.collect.backends.dtrace import DEFAULT_EVENTS, classify_error, counter_values, parse_aggregations
    text = _text(data)
    counter_values(parse_aggregations(text), {**DEFAULT_EVENTS, "bogus": "x"}, {"fault_ns": "no fbt"})
    classify_error(text)


def run_bench_lines(data):
    from pmcsuite.collect.benchmark import parse_bench_lines, parse_bench_output
    text = _text(data)
    if len(parse_bench_lines(text)) == 1:
        parse_bench_output(text)


def run_inproc(data):
    """ipcbench's counters as the inproc backend reads them: validated lines, then any object."""
    from pmcsuite.collect.backends.inproc import counter_values
    from pmcsuite.collect.benchmark import parse_bench_lines
    events = {"w": "syscalls:sys_enter_write", "tc": "task-clock", "i": "instructions", "x": "cycles"}
    try:
        for line in parse_bench_lines(_text(data)):
            counter_values(line, events)
    except PmcsuiteError:
        pass
    obj = _json_or_none(data)
    if isinstance(obj, dict):
        counter_values(obj, events)


def run_l41_text(data):
    from pmcsuite.results.importers.l41 import parse_l41_text
    parse_l41_text(_text(data), "run.txt")


def run_l41_json(data):
    from pmcsuite.results.importers.l41 import parse_l41_json
    parse_l41_json(_text(data), "run.json")


def run_l41_manifest(data):
    from pmcsuite.results.importers.l41 import read_manifest
    path = _fresh("manifest") / "manifest.csv"
    path.write_bytes(data)
    read_manifest(path)


def _builtin_catalogue_once():
    """The importers load the built-in catalogue for every import (~20 ms of YAML): load it once.
    The catalogue is not what these targets fuzz (``catalogue`` does)."""
    from functools import lru_cache

    from pmcsuite.results.importers import l41, tidy_csv
    from pmcsuite.results.importers.base import load_catalogue_or_none
    if getattr(l41.load_catalogue_or_none, "cached", False):
        return
    cached = lru_cache(maxsize=4)(lambda extra: load_catalogue_or_none(list(extra)))

    def load(extra=()):
        return cached(tuple(map(str, extra)))
    load.cached = True
    l41.load_catalogue_or_none = tidy_csv.load_catalogue_or_none = load


def run_l41_import(data):
    """A whole import of one L41 file (text or JSON, as its first byte says), no manifest."""
    _builtin_catalogue_once()
    from pmcsuite.results.importers.l41 import import_l41
    work = _fresh("l41")
    (work / "in").mkdir()
    (work / "in" / ("run.json" if data.lstrip().startswith(b"{") else "run.txt")).write_bytes(data)
    import_l41([work / "in"], work / "out", catalogue=())


def run_l41_import_manifest(data):
    """A whole import of the L41 fixture runs placed by a fuzzed manifest."""
    _builtin_catalogue_once()
    from pmcsuite.results.importers.l41 import import_l41
    work = _fresh("l41m")
    for name in ("run00000.txt", "run00010.txt", "run00020.txt"):
        shutil.copy(FIXTURES / "l41" / name, work / name)
    for path in (FIXTURES / "l41" / "ipc-benchmark-2020").glob("*.json"):
        shutil.copy(path, work / path.name)
    (work / "manifest.csv").write_bytes(data)
    import_l41([work], work / "out", catalogue=())


def run_tidy_csv(data):
    _builtin_catalogue_once()
    from pmcsuite.results.importers.tidy_csv import import_csv
    work = _fresh("csv")
    (work / "in.csv").write_bytes(data)
    import_csv(work / "in.csv", work / "out")


def run_timeline(data):
    from pmcsuite.collect.trace import build_timeline, chrome_trace, parse_perf_script
    events = parse_perf_script(_text(data))
    for size in (262144, 2):
        try:
            chrome_trace(build_timeline(events, size))
        except PmcsuiteError:
            pass


def run_run_record(data):
    from pmcsuite.schema import RunRecord
    for line in data.splitlines()[:8]:
        obj = _json_or_none(line)
        if obj is not None:
            RunRecord.from_json(obj).to_json()


def _result_dir(metadata: bytes, runs: bytes) -> Path:
    work = _fresh("results")
    (work / "metadata.json").write_bytes(metadata)
    (work / "runs.jsonl").write_bytes(runs)
    return work


def run_load_runs(data):
    from pmcsuite.results.load import load
    work = _result_dir((RESULTS / "metadata.json").read_bytes(), data)
    load(work)
    load(work, strict=True)


def run_load_metadata(data):
    from pmcsuite.results.load import load
    load(_result_dir(data, (RESULTS / "runs.jsonl").read_bytes()))


def run_store(data):
    """The store's readers and the resume's repair of runs.jsonl's tail."""
    from pmcsuite.results.store import ResultStore
    store = ResultStore(_result_dir((RESULTS / "metadata.json").read_bytes(), data))
    store.read_metadata()
    store.read_runs()
    try:
        store.read_runs(strict=True)
    except PmcsuiteError:
        pass
    store.drop_incomplete_tail()
    store.read_runs()


def run_catalogue(data):
    from pmcsuite.catalogue import load_catalogue
    path = _fresh("catalogue") / "user.yaml"
    path.write_bytes(data)
    load_catalogue([path])


def run_hostinfo(data):
    from pmcsuite.collect.hostinfo import (
        cpu_ids, cpu_model_from_cpuinfo, parse_cp_time, parse_cpuinfo, parse_os_release, parse_proc_stat)
    text = _text(data)
    parse_cpuinfo(text)
    cpu_ids(text)
    cpu_model_from_cpuinfo(text)
    parse_proc_stat(text, 100.0)
    parse_cp_time(text, 128.0)
    parse_os_release(text)


def run_sizes(data):
    from pmcsuite.sizes import format_size, parse_size, parse_sizes
    text = _text(data)
    for size in parse_sizes(text):
        format_size(size)
    format_size(parse_size(text))


@dataclass
class Target:
    name: str
    run: object                      # bytes -> anything; raises PmcsuiteError on bad input
    seeds: list = field(default_factory=list)
    where: str = ""                  # what is parsed, for the report


def _uncommented(data: bytes) -> bytes:
    """A fixture without its leading '#' provenance lines (the dtrace fixtures have them)."""
    lines = data.splitlines(keepends=True)
    while lines and lines[0].startswith(b"#"):
        lines.pop(0)
    return b"".join(lines)


def _targets() -> list[Target]:
    l41_text = _glob("l41/run000*.txt")
    l41_json = _glob("l41/ipc-benchmark-2020/*.json")
    runs_lines = (RESULTS / "runs.jsonl").read_bytes().splitlines(keepends=True)
    runs_seeds = [b"".join(runs_lines), b"".join(runs_lines[:3]), b"".join(runs_lines[-2:])]
    return [
        Target("perf_json", run_perf_json, _glob("perf_json*.txt") + _read("perf_formats_json.txt"),
               "backends/perf.py parse_perf_json + to_counter_values"),
        Target("perf_csv", run_perf_csv, _glob("perf_csv*.txt") + _glob("perf_formats_csv*.txt"),
               "backends/perf.py parse_perf_csv (-x ';', -r, ',') + to_counter_values"),
        Target("perf_failure", run_perf_failure, PERF_STDERR,
               "backends/perf.py classify_failure, workload_signal, _bench_error"),
        Target("pmcstat", run_pmcstat, _glob("pmcstat_*.txt") + PMCSTAT_STDERR,
               "backends/pmcstat.py parse_pmcstat + to_counter_values + classify_failure"),
        Target("dtrace", run_dtrace, [_uncommented(d) for d in _glob("dtrace_*.txt")] + DTRACE_STDERR,
               "backends/dtrace.py parse_aggregations + counter_values + classify_error"),
        Target("bench_lines", run_bench_lines, _bench_seeds(),
               "benchmark.py parse_bench_lines / parse_bench_output"),
        Target("inproc", run_inproc, _bench_seeds()[1:4], "backends/inproc.py counter_values"),
        Target("l41_text", run_l41_text, l41_text[:12], "importers/l41.py parse_l41_text"),
        Target("l41_json", run_l41_json, l41_json, "importers/l41.py parse_l41_json"),
        Target("l41_manifest", run_l41_manifest,
               _read("l41/manifest.csv", "l41/ipc-benchmark-2020/manifest.csv"),
               "importers/l41.py read_manifest"),
        Target("l41_import", run_l41_import, l41_text[:6] + l41_json,
               "importers/l41.py import_l41 (one file, no manifest)"),
        Target("l41_import_manifest", run_l41_import_manifest,
               [b"file,ipctype,mode,buffersize,totalsize,run,flags\n"
                b"run00000.txt,pipe,2thread,1024,16777216,0,-i pipe -v\n"
                b"run00010.txt,pipe,2thread,65536,16777216,0,-i pipe -v -P l1d\n"
                b"run00020.txt,local,2thread,1024,16777216,0,-i local -s\n",
                (FIXTURES / "l41/ipc-benchmark-2020/manifest.csv").read_bytes()],
               "importers/l41.py import_l41 with a manifest"),
        Target("tidy_csv", run_tidy_csv, [TIDY_CSV, TIDY_CSV_NS], "importers/tidy_csv.py import_csv"),
        Target("timeline", run_timeline, _read("trace_perf_script_pipe_256K.txt"),
               "timeline.py parse_perf_script + build_timeline + chrome_trace"),
        Target("run_record", run_run_record, runs_seeds[1:],
               "schema.py RunRecord.from_json"),
        Target("load_runs", run_load_runs, runs_seeds, "results.py load (runs.jsonl)"),
        Target("load_metadata", run_load_metadata, [(RESULTS / "metadata.json").read_bytes()],
               "results.py load (metadata.json)"),
        Target("store", run_store, runs_seeds, "store.py read_metadata, read_runs, drop_incomplete_tail"),
        Target("catalogue", run_catalogue, [USER_CATALOGUE, (ROOT / "pmcsuite/counters.yaml").read_bytes()],
               "pmcsuite.catalogue load_catalogue (a user file)"),
        Target("hostinfo", run_hostinfo, _glob("cpuinfo-*.txt") + [PROC_STAT, OS_RELEASE, b"12 0 34 5 6789\n"],
               "hostinfo.py parse_cpuinfo, cpu_ids, cpu_model_from_cpuinfo, parse_proc_stat, parse_cp_time, "
               "parse_os_release"),
        Target("sizes", run_sizes, [b"64K", b"1K-16M", b"4K,64K,1M", b"65536", b"64KiB", b" 1m - 2m "],
               "sizes.py parse_size, parse_sizes, format_size"),
    ]


TARGETS = _targets()
BY_NAME = {t.name: t for t in TARGETS}


# ------------------------------------------------------------------------------------------------
# inputs: generated and mutated

#: values that break parsers: numbers of every odd shape, types in the wrong place, Unicode digits
#: (str.isdigit() is true for "²" and "①", int() refuses them), encodings, nesting
TOKENS = [b"0", b"-1", b"1", b"-0", b"1e309", b"-1e309", b"1e-400", b"NaN", b"nan", b"Infinity", b"-inf",
          b"99999999999999999999", b"18446744073709551616", b"9" * 5000, b"0x10", b"0b1", b"1_000", b"1.5",
          b"-2.5", b".", b"1.", b"e5", b"abc", b'"x"', b'"1"', b'"-1"', b'""', b"null", b"true", b"false",
          b"[]", b"{}", b"[1]", b'{"a":1}', b"\x00", b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"%", b"100%",
          b"<not counted>", b"<not supported>", b"<x>", b"<", b";", b",", b":", b"::", b"/", b"|", b"@",
          b"=", b"==>", b"\n", b"\r\n", b"\r", b"\t", b" ", b"  ", b"#", b"# p/", b"p/", b"s/00/", b"-",
          b"--", b"'", b'"', b"\\", "²".encode(), "①".encode(), "٣".encode(), "\u2028".encode(),
          "é".encode(), b"K", b"M", b"G", b"KiB", b"1K-", b"-1K", b"[" * 3000, b"{" * 3000,
          b'{"a":' * 3000, b"- " * 3000, b"key: &a [*a]", b"!!python/object:os.system", b"&x", b"*x"]

_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_WORD = re.compile(rb"[A-Za-z_][A-Za-z0-9_.:-]*")
_QUOTED = re.compile(rb'"[^"\n]*"')
_SPLIT = re.compile(rb"[\s;,:=/|\[\]{}()\"']+")


def _token(rnd: random.Random, seeds) -> bytes:
    if seeds and rnd.random() < 0.4:
        words = [w for w in _SPLIT.split(rnd.choice(seeds)) if w]
        if words:
            return rnd.choice(words)
    return rnd.choice(TOKENS)


def random_json(rnd: random.Random, depth: int = 0):
    """A random JSON value: scalars of every type, lists, objects (keys from the seeds' keys)."""
    roll = rnd.random()
    if depth > 3 or roll < 0.55:
        return rnd.choice([None, True, False, 0, -1, 1, 2 ** 63, 2 ** 64 + 1, 1.5, -0.0, 1e308, "", "x", "0",
                           "ok", "ipcbench", "pipe", "<not counted>", "nan", 10 ** 30, [], {}])
    if roll < 0.75:
        return [random_json(rnd, depth + 1) for _ in range(rnd.randrange(4))]
    keys = ["tool", "version", "counters", "status", "value", "event", "ipc", "buffer_size", "variant",
            "iteration", "iterations", "benchmark_samples", "bandwidth", "time", "format", "format_version",
            "counter-value", "writer", "reader", "enabled", "running", "rusage", "bench", "busy", "x"]
    return {rnd.choice(keys): random_json(rnd, depth + 1) for _ in range(rnd.randrange(5))}


def _json_paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _json_paths(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_paths(item, path + (index,))


def _mutate_json(obj, rnd: random.Random):
    """One structural change of a JSON document: a value replaced (another type, a number as a
    string, a huge number, NaN), a key dropped or added, a list emptied, deep nesting."""
    paths = list(_json_paths(obj))
    path = rnd.choice(paths)
    parent, key = None, None
    node = obj
    for step in path:
        parent, key, node = node, step, node[step]
    roll = rnd.random()
    if roll < 0.35:
        new = random_json(rnd, 2)
    elif roll < 0.5:
        new = str(node) if not isinstance(node, str) else (int(node) if node.isascii() and node.isdigit() else 7)
    elif roll < 0.6:
        new = rnd.choice([float("nan"), float("inf"), -1, 2 ** 70, -2 ** 70, 0.5, True])
    elif roll < 0.75 and isinstance(parent, dict):
        del parent[key]
        return obj
    elif roll < 0.85 and isinstance(node, dict):
        node[rnd.choice(["x", "status", "value", "counters", "event", "point"])] = random_json(rnd, 2)
        return obj
    elif roll < 0.9:
        new = node
        for _ in range(rnd.choice([2, 50, 2000])):
            new = [new]
    else:
        new = [] if isinstance(node, dict) else {}
    if parent is None:
        return new
    parent[key] = new
    return obj


def _dumps(obj) -> bytes:
    try:
        return json.dumps(obj).encode()
    except (ValueError, RecursionError):
        return b"[]"


def _lines_op(data: bytes, rnd: random.Random, seeds) -> bytes:
    lines = data.splitlines(keepends=True) or [b""]
    i, j = rnd.randrange(len(lines)), rnd.randrange(len(lines))
    roll = rnd.random()
    if roll < 0.25:
        del lines[i]
    elif roll < 0.45:
        lines.insert(i, lines[j])
    elif roll < 0.6:
        lines[i], lines[j] = lines[j], lines[i]
    elif roll < 0.75 and seeds:
        other = rnd.choice(seeds).splitlines(keepends=True)
        if other:
            lines.insert(i, rnd.choice(other))
    elif roll < 0.85:
        lines = lines[:i]
    else:
        lines[i] = lines[i].rstrip(b"\r\n")          # a line without its newline, glued to the next
    return b"".join(lines)


def _fields_op(data: bytes, rnd: random.Random, seeds) -> bytes:
    lines = data.splitlines(keepends=True)
    if not lines:
        return data
    i = rnd.randrange(len(lines))
    line = lines[i].rstrip(b"\r\n")
    sep = next((s for s in (b";", b",", b"|", b":") if s in line), b" ")
    fields = line.split(sep)
    k = rnd.randrange(len(fields))
    roll = rnd.random()
    if roll < 0.3:
        del fields[k]
    elif roll < 0.5:
        fields.insert(k, _token(rnd, seeds))
    elif roll < 0.8:
        fields[k] = _token(rnd, seeds)
    else:
        fields[k] = b""
    lines[i] = sep.join(fields) + b"\n"
    return b"".join(lines)


def _json_op(data: bytes, rnd: random.Random) -> bytes:
    """A structural change of the whole document, or of one of its lines (JSON lines)."""
    whole = _json_or_none(data)
    if whole is not None and (isinstance(whole, (dict, list)) or rnd.random() < 0.3):
        return _dumps(_mutate_json(whole, rnd))
    lines = data.splitlines(keepends=True)
    candidates = [i for i, line in enumerate(lines) if line.lstrip().startswith((b"{", b"["))]
    if not candidates:
        return data
    i = rnd.choice(candidates)
    obj = _json_or_none(lines[i])
    if obj is None:
        return data
    lines[i] = _dumps(_mutate_json(obj, rnd)) + b"\n"
    return b"".join(lines)


def mutate_once(data: bytes, rnd: random.Random, seeds=()) -> bytes:
    """One mutation of ``data`` (seeds: other real inputs of the same parser, for splicing)."""
    n = len(data)
    op = rnd.randrange(14)
    if op == 0 and n:                                        # flip a bit
        i = rnd.randrange(n)
        return data[:i] + bytes([data[i] ^ (1 << rnd.randrange(8))]) + data[i + 1:]
    if op == 1 and n:                                        # a byte replaced
        i = rnd.randrange(n)
        return data[:i] + bytes([rnd.choice(b"\x00\xff\n ;,:.-0123456789{}[]\"<>#%eE\t\x80")]) + data[i + 1:]
    if op == 2:                                              # a token inserted
        i = rnd.randrange(n + 1)
        return data[:i] + _token(rnd, seeds) + data[i:]
    if op == 3 and n:                                        # a range deleted
        i = rnd.randrange(n)
        return data[:i] + data[i + rnd.randrange(1, min(64, n - i) + 1):]
    if op == 4 and n:                                        # a range duplicated
        i = rnd.randrange(n)
        j = min(n, i + rnd.randrange(1, 64))
        return data[:j] + data[i:j] + data[j:]
    if op == 5:                                              # a number replaced
        found = list(_NUMBER.finditer(data))
        if found:
            m = rnd.choice(found)
            return data[:m.start()] + _token(rnd, ()) + data[m.end():]
    if op == 6:                                              # a word or quoted string replaced
        found = list((_QUOTED if rnd.random() < 0.5 else _WORD).finditer(data))
        if found:
            m = rnd.choice(found)
            return data[:m.start()] + _token(rnd, seeds) + data[m.end():]
    if op in (7, 8):
        return _lines_op(data, rnd, seeds)
    if op == 9 and n:                                        # truncated
        return data[:rnd.randrange(n)]
    if op == 10 and seeds:                                   # spliced with another input
        other = rnd.choice(seeds)
        return data[:rnd.randrange(n + 1)] + other[rnd.randrange(len(other) + 1):]
    if op == 11:
        return _fields_op(data, rnd, seeds)
    if op in (12, 13):
        return _json_op(data, rnd)
    return data + _token(rnd, seeds)


def mutate(data: bytes, rnd: random.Random, seeds=()) -> bytes:
    """1 to 4 stacked mutations of ``data``."""
    for _ in range(rnd.choice((1, 1, 1, 1, 2, 2, 3, 4))):
        data = mutate_once(data, rnd, seeds)
    return data[:200_000]


def generate(rnd: random.Random, seeds=()) -> bytes:
    """An input made from nothing (or from the seeds' alphabet and tokens)."""
    roll = rnd.randrange(5)
    if roll == 0:
        return bytes(rnd.randrange(256) for _ in range(rnd.randrange(200)))
    if roll == 1:
        alphabet = sorted(set(b"".join(seeds))) or list(range(32, 127))
        return bytes(rnd.choice(alphabet) for _ in range(rnd.randrange(300)))
    if roll == 2:
        return b"\n".join(_dumps(random_json(rnd)) for _ in range(rnd.randrange(1, 4)))
    if roll == 3:
        sep = rnd.choice([b" ", b";", b",", b": ", b"\t", b"  "])
        return b"".join(sep.join(_token(rnd, seeds) for _ in range(rnd.randrange(1, 8))) + b"\n"
                        for _ in range(rnd.randrange(1, 6)))
    return rnd.choice(TOKENS) * rnd.choice([1, 2, 100])


def make_input(rnd: random.Random, target: Target) -> bytes:
    """A third generated, two thirds mutated from the target's real inputs."""
    if not target.seeds or rnd.random() < 1 / 3:
        return generate(rnd, target.seeds)
    return mutate(rnd.choice(target.seeds), rnd, target.seeds)


# ------------------------------------------------------------------------------------------------
# running

def where(exc: BaseException) -> str:
    """file:line of the innermost pmcsuite frame of ``exc`` (else the innermost frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(PACKAGE)]
    frame = (ours or frames)[-1]
    try:
        name = str(Path(frame.filename).relative_to(ROOT))
    except ValueError:
        name = frame.filename
    return f"{name}:{frame.lineno}"


def check(target: Target, data: bytes):
    """Run ``target`` on ``data``: None if it returned or raised PmcsuiteError, else the exception."""
    try:
        target.run(data)
    except PmcsuiteError:
        return None
    except Exception as exc:        # noqa: BLE001 - what this script is looking for
        return exc
    return None


@dataclass
class Stats:
    tried: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    crashes: dict = field(default_factory=dict)     # (type, where) -> [count, shortest input, message]


def fuzz_target(target: Target, count: int, seed: int, save: Path | None = None) -> Stats:
    """``count`` inputs (plus the target's real inputs) through one parser; the same inputs for the
    same (seed, parser) whatever else runs."""
    rnd = random.Random(f"{seed}:{target.name}")
    st = Stats()
    for seed_input in target.seeds:                # the real inputs themselves must parse
        _record(st, target, seed_input, save)
    for _ in range(count):
        _record(st, target, make_input(rnd, target), save)
    return st


def _fuzz_by_name(args):
    name, count, seed, save = args
    import warnings
    warnings.simplefilter("ignore", RuntimeWarning)   # numpy's "invalid value in cast" before pandas raises
    return name, fuzz_target(BY_NAME[name], count, seed, save)


def fuzz(targets, per_target: int, seed: int, save: Path | None = None, progress=None, jobs: int = 1) -> dict:
    """{parser name: Stats}, the parsers spread over ``jobs`` processes."""
    work = [(t.name, per_target, seed, save) for t in targets]
    stats = {}
    if jobs > 1:
        import multiprocessing
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            for name, st in pool.imap_unordered(_fuzz_by_name, work):
                stats[name] = st
                if progress:
                    progress(BY_NAME[name], st)
    else:
        for item in work:
            name, st = _fuzz_by_name(item)
            stats[name] = st
            if progress:
                progress(BY_NAME[name], st)
    return {t.name: stats[t.name] for t in targets}


def _record(st: Stats, target: Target, data: bytes, save) -> None:
    start = time.perf_counter()
    exc = check(target, data)
    took = time.perf_counter() - start
    st.tried += 1
    st.seconds += took
    st.slowest = max(st.slowest, took)
    if exc is None:
        return
    key = (type(exc).__name__, where(exc))
    entry = st.crashes.setdefault(key, [0, data, str(exc)])
    entry[0] += 1
    if len(data) < len(entry[1]):
        entry[1], entry[2] = data, str(exc)
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        (save / f"{target.name}-{key[0]}-{key[1].replace('/', '_')}-{entry[0]}.bin").write_bytes(data)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", type=int, default=120_000, help="inputs in all, shared by the parsers")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", help="comma list of parsers (default: all): " + ",".join(BY_NAME))
    ap.add_argument("--save", type=Path, help="write every crashing input to this directory")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes (default: one per CPU)")
    args = ap.parse_args(argv)
    targets = TARGETS
    if args.only:
        unknown = [n for n in args.only.split(",") if n not in BY_NAME]
        if unknown:
            ap.error(f"unknown parser {unknown[0]!r}: choose from {', '.join(BY_NAME)}")
        targets = [BY_NAME[n] for n in args.only.split(",")]
    per_target = max(1, args.inputs // len(targets))
    print(f"fuzzing {len(targets)} parsers, {per_target:,} inputs each (+ their real inputs), seed {args.seed}, "
          f"{max(1, args.jobs)} processes")
    started = time.perf_counter()

    def progress(target, st):
        found = sum(c[0] for c in st.crashes.values())
        print(f"  {target.name:<20} {st.tried:>8,} inputs {st.seconds:7.1f} s  slowest {st.slowest * 1e3:7.1f} ms  "
              f"not PmcsuiteError: {found} ({len(st.crashes)} places)", flush=True)
        for (kind, place), (count, data, message) in sorted(st.crashes.items(), key=lambda kv: -kv[1][0]):
            print(f"      {count:>6} x {kind} at {place}: {message[:100]}")
            print(f"             shortest input ({len(data)} bytes): {data[:160]!r}")

    stats = fuzz(targets, per_target, args.seed, args.save, progress, max(1, args.jobs))
    total = sum(s.tried for s in stats.values())
    found = sum(c[0] for s in stats.values() for c in s.crashes.values())
    places = {key for s in stats.values() for key in s.crashes}
    broken = [name for name, s in stats.items() if s.crashes]
    print(f"{total:,} inputs to {len(stats)} parsers in {time.perf_counter() - started:.1f} s: "
          f"{found} exceptions that are not PmcsuiteError, from {len(places)} places in {len(broken)} parsers"
          + (f" ({', '.join(broken)})" if broken else " (goal: 0)"))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
