"""Every parser, on any input, gives a result or a PmcsuiteError, never another exception (issue 9,
item 9: 400 TypeErrors, KeyErrors, RecursionErrors... from 17 places in 8 parsers).

The parsers and the mutations of their real inputs (tests/fixtures) are those of
bench/fuzz_parsers.py (``TARGETS``, ``mutate``), which runs them for 120,000 inputs; here hypothesis
drives them: inputs generated (bytes, text, JSON values, lines of the inputs' own tokens) and
mutated from the fixtures, derandomized so that CI is reproducible. PMCSUITE_FUZZ_EXAMPLES sets the
examples per parser (default 80, a few seconds in all: the long campaign is bench/fuzz_parsers.py).
"""
import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmcsuite.errors import PmcsuiteError

_SPEC = importlib.util.spec_from_file_location(
    "fuzz_parsers", Path(__file__).resolve().parents[1] / "bench" / "fuzz_parsers.py")
fuzz = importlib.util.module_from_spec(_SPEC)
sys.modules["fuzz_parsers"] = fuzz
_SPEC.loader.exec_module(fuzz)

# hypothesis warns about the large reprs of some inputs
pytestmark = [pytest.mark.unit, pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")]

FUZZ = settings(max_examples=int(os.environ.get("PMCSUITE_FUZZ_EXAMPLES", "80")), deadline=None,
                derandomize=True, database=None, report_multiple_bugs=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

#: JSON values of every shape, keys the parsers look for
_KEYS = st.sampled_from(["tool", "version", "counters", "status", "value", "event", "ipc", "buffer_size",
                         "variant", "iteration", "iterations", "counter-value", "event-runtime", "bench",
                         "benchmark_samples", "benchmark_configuration", "bandwidth", "time", "format",
                         "format_version", "writer", "reader", "enabled", "running", "x"])
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
                     st.sampled_from(["ok", "ipcbench", "pipe", "<not counted>", "0", "1e309", "NaN"]))
JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.one_of(_KEYS, st.text(max_size=6)), inner, max_size=5), max_leaves=20)


def _dumps(value) -> bytes:
    return json.dumps(value).encode()


def inputs(target):
    """Generated and mutated inputs for one parser (mutations weigh twice)."""
    seeds = target.seeds
    words = sorted({w for s in seeds for w in fuzz._SPLIT.split(s) if w})[:400] or [b"x"]
    tokens = st.sampled_from(words + fuzz.TOKENS)
    mutated = st.builds(lambda seed, rnd: fuzz.mutate(seed, rnd, seeds), st.sampled_from(seeds),
                        st.randoms(use_true_random=False))
    return st.one_of(
        mutated,
        st.sampled_from(seeds),
        st.binary(max_size=400),
        st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.lists(JSON, min_size=1, max_size=3).map(lambda vs: b"\n".join(map(_dumps, vs))),
        st.lists(st.lists(tokens, min_size=1, max_size=8).map(b" ".join), max_size=6).map(b"\n".join),
        mutated,
    )


@pytest.mark.parametrize("name", [t.name for t in fuzz.TARGETS])
def test_any_input_gives_a_result_or_pmcsuite_error(name):
    target = fuzz.BY_NAME[name]

    @FUZZ
    @given(data=inputs(target))
    def check(data):
        try:
            target.run(data)
        except PmcsuiteError as exc:
            assert "\n" not in str(exc)            # one line, as the CLI prints it

    check()


def test_the_real_inputs_parse():
    """The seeds are the parsers' real inputs: they parse without any error (the stderr texts
    among the pmcstat seeds are classify_failure's)."""
    for name in ("perf_json", "perf_csv", "pmcstat", "dtrace", "bench_lines", "inproc", "l41_text",
                 "l41_json", "l41_manifest", "tidy_csv", "timeline", "run_record", "load_runs",
                 "load_metadata", "store", "hostinfo"):
        for seed in fuzz.BY_NAME[name].seeds:
            if not (name in ("pmcstat", "dtrace") and seed.startswith((b"pmcstat:", b"dtrace:"))):
                fuzz.BY_NAME[name].run(seed)


_L41_CONFIG = (b"Benchmark configuration:\n  buffersize: 65536\n  totalsize: 16777216\n  blockcount: 256\n"
               b"  mode: 2thread\n  ipctype: pipe\n")

#: the smallest inputs that raised something else before the fixes (one per place)
REGRESSIONS = [
    ("perf_json", b'{"counter-value": "1", "event": {"a": 1}}'),                 # TypeError: unhashable
    ("perf_json", b'{"counter-value": "1", "event": 1.5}'),                      # AttributeError: split
    ("perf_json", b'{"counter-value": "1", "event": "x", "event-runtime": {}}'),  # TypeError: int()
    ("perf_json", b'{"counter-value": "1", "event": "x", "event-runtime": 1e999}'),  # OverflowError
    ("perf_json", b'{"counter-value": "1", "event": "x", "event-runtime": "ok"}'),   # ValueError
    ("perf_json", b'{"counter-value": ' + b"9" * 5000 + b', "event": "x"}'),     # ValueError: 4300 digits
    ("perf_json", b'{"counter-value": "1", "event": "x", "aggregate-number": []}'),
    ("perf_csv", b"1;;task-clock;inf;100.00;;"),                                 # OverflowError: int(inf)
    ("perf_csv", b"CPU0;" + "²".encode() + b";1;;task-clock;1;100.00"),           # ValueError: int("²")
    ("pmcstat", "# p/INSTR_EXECUTED\n ①\n".encode()),                           # ValueError: int("①")
    ("pmcstat", b"# p/INSTR_EXECUTED\n" + b"9" * 5000 + b"\n"),
    ("dtrace", b"  syscalls_read " + b"9" * 5000 + b"\n"),                        # ValueError: 4300 digits
    ("bench_lines", b"[" * 100_000),                                              # RecursionError
    ("bench_lines", json.dumps({**fuzz.BENCH_V1, "buffers": 1.5}).encode()),      # TypeError: in float
    ("l41_json", b"[" * 100_000),                                                 # RecursionError
    ("l41_json", b'{"benchmark_configuration": {"ipctype": {}}, "benchmark_samples": [{}]}'),  # unhashable
    ("l41_manifest", b"\xc3\xc3"),                                                # UnicodeDecodeError
    ("l41_manifest", b"file\n" + b"x" * 200_000),                                 # csv.Error: field limit
    ("l41_import_manifest", b"file,ip"),                                          # ValueError: max() of nothing
    ("l41_import_manifest", b"file\n" + b"9" * 5000 + b"\n"),                     # OSError: name too long
    ("inproc", json.dumps({"counters": {"w": {"status": "ok", "value": {}}}}).encode()),   # TypeError: float()
    ("inproc", json.dumps({**fuzz.BENCH_V2, "counters": {"w": {**fuzz.BENCH_V2["counters"]["w"], "writer": {
        "status": "ok", "value": 1, "enabled": 1, "running": 10 ** 400}}}}).encode()),  # OverflowError: int/int
    ("l41_text", b"\n  pmctype: mem\n  INSTR_EXECUTED: " + b"9" * 5000 + b"\n\n1 KBytes/sec\n"),  # 4300 digits
    ("l41_text", b"Benchmark configuration:\n  blockcount: " + b"9" * 5000 + b"\n"),
    ("l41_json", b'{"benchmark_samples": [{"bandwidth": 1, "utime": 1e300}]}'),       # OverflowError: round(inf)
    ("l41_manifest", b"file\n\x00x.txt\n"),                                      # ValueError: NUL in a path
    ("l41_import", _L41_CONFIG + b"9" * 400 + b" KBytes/sec\n"),                   # ValueError: inf not JSON
    ("l41_import", _L41_CONFIG + b"  time: 1e300\n\n1 KBytes/sec\n"),             # OverflowError: round(inf)
    ("l41_import", b'{"benchmark_configuration": {"buffersize": 65536, "totalsize": 16777216, "mode": "2thread", '
                   b'"ipctype": "pipe", "pmctype": "mem"}, "benchmark_samples": [{"bandwidth": 1000, '
                   b'"INSTR_EXECUTED": 1' + b"0" * 400 + b"}]}"),                     # OverflowError: float()
    ("l41_import", (fuzz.FIXTURES / "l41/ipc-benchmark-2020/local-2proc-r-v.json").read_bytes()
     .replace(b'"hw.ncpu": 4', b'"hw.ncpu": Infinity')),                             # ValueError: inf not JSON
    ("tidy_csv", b"ipc,actors,buffer_size,total_size,run,variant,bandwidth\n" + b"x" * 200_000),  # csv.Error
    ("tidy_csv", b"ipc,actors,buffer_size,total_size,run,variant,bandwidth\npipe,2thread,1K,1M,0,x,1e-320\n"),
    ("timeline", (fuzz.FIXTURES / "trace_perf_script_pipe_256K.txt").read_bytes()    # AttributeError: an int
     .replace(b"prev_state=S", b"prev_state=5")),                                     # state
    ("tidy_csv", "ipc,actors,buffer_size,total_size,run,variant,bandwidth\npipe,2thread,1K,1M,²,x,1\n".encode()),
    ("timeline", b" a  1/1 [000] 1.000000000: syscalls:sys_exit_read: \n"),      # IndexError
    ("timeline", b" a  1/1 [000] 1.000000000: syscalls:sys_exit_read: 0x-inf\n"),  # ValueError
    ("timeline", b" a  " + b"9" * 5000 + b"/1 [000] 1.0: syscalls:sys_exit_read: 0\n"),
    ("run_record", b"{}"),                                                        # ValueError (not ours)
    ("run_record", b"[]"),
    ("load_runs", b"[" * 100_000 + b"\n{}\n"),                                    # RecursionError
    ("load_runs", json.dumps({"ipc": "pipe", "buffer_size": 1, "variant": "v", "run": 2 ** 64}).encode()),  # Overflow
    ("store", b'{"a":' * 100_000 + b"\n{}\n"),                                    # RecursionError
    ("store", b'{"iteration": "0", "iterations": 2}\n'),                          # TypeError: str + 1
    ("load_metadata", b"[" * 100_000),
    ("catalogue", b"version: " + b"[" * 1000),                                    # RecursionError (PyYAML)
    ("catalogue", b"9" * 5000),                                                   # ValueError: 4300 digits
    ("catalogue", b"version: 1\n" + b"9" * 5000 + b": x\n"),
    ("hostinfo", b"cpu  4705 356 ion\n"),                                         # ValueError: int("ion")
    ("sizes", b"1" + b"9" * 5000),                                                # ValueError: 4300 digits
]


@pytest.mark.parametrize("name, data", REGRESSIONS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(REGRESSIONS)])
def test_inputs_that_crashed_give_pmcsuite_error(name, data):
    try:
        fuzz.BY_NAME[name].run(data)
    except PmcsuiteError as exc:
        assert "\n" not in str(exc)


def test_run_record_errors_are_pmcsuite_errors_and_value_errors():
    """RunRecord.from_json's error is a PmcsuiteError (a one-line message for the user) and still the
    ValueError its callers catch."""
    from pmcsuite.schema import MalformedRecord, RunRecord
    with pytest.raises(PmcsuiteError, match="'buffer_size' is 'x', not a positive integer"):
        RunRecord.from_json({"ipc": "pipe", "buffer_size": "x", "variant": "v"})
    with pytest.raises(ValueError):
        RunRecord.from_json([])
    assert issubclass(MalformedRecord, ValueError) and issubclass(MalformedRecord, PmcsuiteError)


def test_store_repair_ignores_a_last_line_that_is_no_batch(tmp_path):
    """A last line with a negative or non-integer iteration is not a batch to cut (before: a
    negative iteration cut the wrong lines, a string raised TypeError)."""
    from pmcsuite.results.store import ResultStore
    store = ResultStore(tmp_path)
    store.create({"seed": 1})
    good = json.dumps({"ipc": "pipe", "buffer_size": 1, "variant": "v", "iteration": 0, "iterations": 1})
    for last in ({"iteration": -3, "iterations": 2}, {"iteration": "0", "iterations": 2},
                 {"iteration": True, "iterations": 2}):
        store.runs_path.write_text("\n".join([good] * 5 + [json.dumps(last)]) + "\n")
        assert store.drop_incomplete_tail() == 0
        assert len(store.runs_path.read_text().splitlines()) == 6


@pytest.mark.parametrize("parse, text", [
    ("bench", json.dumps({**fuzz.BENCH_V1, "bandwidth": float("nan")})),
    ("bench", json.dumps({**fuzz.BENCH_V1, "loop_ns": float("inf")})),
    ("perf_json", '{"counter-value": "nan", "event": "task-clock"}'),
])
def test_values_json_cannot_store_are_refused(parse, text):
    """NaN and Infinity (Python's json reads them) would make runs.jsonl unwritable later
    (allow_nan=False): the parsers refuse them, in one line."""
    from pmcsuite.collect.backends.perf import parse_perf_csv, parse_perf_json
    from pmcsuite.collect.benchmark import parse_bench_lines
    with pytest.raises(PmcsuiteError) as info:
        {"bench": parse_bench_lines, "perf_json": parse_perf_json, "perf_csv": parse_perf_csv}[parse](text)
    assert "\n" not in str(info.value)


def test_perf_csv_never_gives_a_value_json_cannot_store():
    from pmcsuite.collect.backends.perf import parse_perf_csv
    for line in ("inf;;task-clock;1;100.00;;", "nan;;task-clock;1;100.00;;", "1;;task-clock;1;inf;;"):
        for r in parse_perf_csv(line):          # skipped as a metric-only line, or kept without them
            assert r.value is None or r.value == 1 and r.pcnt_running is None, r


def test_deep_or_huge_formulas_are_one_line_errors():
    """Found by bench/fuzz_parsers.py (seed 7): ast.parse raised RecursionError on deep formulas."""
    from pmcsuite.catalogue import parse_formula
    from pmcsuite.errors import PmcsuiteError
    for formula in ("-" * 5000 + "x", "+".join(["x"] * 100000), "(" * 300 + "x" + ")" * 300):
        with pytest.raises(PmcsuiteError):
            parse_formula(formula)
