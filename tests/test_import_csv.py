"""Importing the tidy CSV of docs/import-csv.md."""
import math
from pathlib import Path

import pandas as pd
import pytest

from pmcsuite.errors import PmcsuiteError
from pmcsuite.results.importers import import_csv, import_l41
from pmcsuite.results.load import counter_table, load
from pmcsuite.results.store import ResultStore

pytestmark = pytest.mark.unit

FIX = Path(__file__).resolve().parent / "fixtures" / "l41"

HEADER = "ipc,actors,placement,buffer_size,total_size,run,variant,bandwidth,warmup,counter,value,status\n"
GOOD = HEADER + (
    "pipe,2thread,same,64K,16M,0,baseline,6791331840,true,,,\n"
    "pipe,2thread,same,64K,16M,1,baseline,6803217408,false,,,\n"
    "pipe,2thread,same,64K,16M,0,syscalls,6512109568,false,syscalls_write,256,ok\n"
    "pipe,2thread,same,64K,16M,0,syscalls,6512109568,false,syscalls_read,256,ok\n"
    "pipe,2thread,same,64K,16M,0,syscalls,6512109568,false,instructions,,not_supported\n"
)


def write(tmp_path, text, name="in.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_documented_example_imports(tmp_path):
    out = import_csv(write(tmp_path, GOOD), tmp_path / "out")
    store = ResultStore(out)
    runs, meta = store.read_runs(strict=True), store.read_metadata()
    assert meta["source"] == "import-csv" and meta["platform"] == ["unknown"] and meta["backend"] == "import"
    assert len(runs) == 3 and [r["seq"] for r in runs] == [0, 1, 2]
    first, _, counted = runs
    assert first["warmup"] is True and first["buffer_size"] == 65536 and first["total_size"] == 16 << 20
    assert first["bench"]["loop_ns"] == round((16 << 20) / 6791331840 * 1e9)
    assert counted["counters"]["syscalls_write"]["value"] == 256.0
    assert counted["counters"]["instructions"] == {"event": None, "value": None, "unit": "", "status": "not_supported"}
    df = load(out)
    row = df[df["variant"] == "syscalls"].iloc[0]
    assert row["syscalls_read"] == 256.0 and math.isnan(row["instructions"])
    assert row["instructions_status"] == "not_supported"


def test_loop_ns_only_derives_bandwidth(tmp_path):
    text = ("ipc,actors,buffer_size,total_size,run,variant,loop_ns\n"
            "local,2proc,4096,16777216,0,baseline,2000000\n")
    runs = ResultStore(import_csv(write(tmp_path, text), tmp_path / "out")).read_runs()
    assert runs[0]["bench"]["bandwidth"] == pytest.approx(16777216 / 2e-3)
    assert runs[0]["placement"] is None and runs[0]["warmup"] is False


def test_roundtrip_through_the_l41_import(tmp_path):
    """L41 sample -> result dir -> tidy CSV (long form) -> import_csv -> same table."""
    first = load(import_l41([FIX], tmp_path / "a"))
    counters = counter_table(first)[["row", "counter", "value", "status"]]
    runs = first.reset_index(names="row")[["row", "ipc", "actors", "buffer_size", "total_size", "run",
                                             "variant", "bandwidth", "loop_ns", "warmup"]]
    tidy = runs.merge(counters, on="row", how="left").drop(columns="row")
    tidy.to_csv(tmp_path / "tidy.csv", index=False)
    second = load(import_csv(tmp_path / "tidy.csv", tmp_path / "b"))
    key = ["variant", "buffer_size", "run"]
    a = first.sort_values(key).reset_index(drop=True)
    b = second.sort_values(key).reset_index(drop=True)
    assert len(b) == 40
    for column in ["ipc", "actors", "buffer_size", "total_size", "run", "variant", "warmup", "loop_ns"]:
        assert (a[column] == b[column]).all(), column
    assert b["bandwidth"].to_numpy() == pytest.approx(a["bandwidth"].to_numpy(), rel=1e-12)
    for cid in first.attrs["counters"]:
        pd.testing.assert_series_equal(a[cid], b[cid], check_names=False)


PROCESSES = ("ipc,actors,buffer_size,total_size,run,process,iteration,variant,bandwidth,counter,value\n"
             "pipe,2thread,4K,16M,0,7,0,baseline,1e9,,\n"
             "pipe,2thread,4K,16M,1,7,1,baseline,1.1e9,,\n"
             "pipe,2thread,64K,16M,0,7,2,baseline,2e9,,\n"
             "pipe,2thread,4K,16M,2,3,0,baseline,1.2e9,,\n"
             "pipe,2thread,4K,16M,0,12,0,pmc,1e9,instructions,5\n"
             "pipe,2thread,4K,16M,0,12,0,pmc,1e9,cycles,9\n"
             "pipe,2thread,4K,16M,1,,,pmc,1e9,,\n")


def test_process_and_iteration_are_stored_and_loaded(tmp_path):
    out = import_csv(write(tmp_path, PROCESSES), tmp_path / "out")
    runs = ResultStore(out).read_runs(strict=True)
    assert [(r["run"], r["process"], r["iteration"]) for r in runs] == [
        (0, 7, 0), (1, 7, 1), (0, 7, 2), (2, 3, 0), (0, 12, 0), (1, None, None)]
    df = load(out).sort_values("seq")
    assert df["process"].tolist()[:5] == [7, 7, 7, 3, 12] and pd.isna(df["process"].iloc[5])
    assert df["iteration"].tolist()[:5] == [0, 1, 2, 0, 0]


def test_without_a_process_column_each_run_is_its_own_process(tmp_path):
    """Not the v1 reading (process = run number, which would join run 0 of every cell)."""
    runs = ResultStore(import_csv(write(tmp_path, GOOD), tmp_path / "out")).read_runs(strict=True)
    assert all(r["process"] is None and r["iteration"] is None for r in runs)
    assert load(tmp_path / "out")["process"].isna().all()


@pytest.mark.parametrize("old, new, message", [
    (",7,1,baseline", ",-7,1,baseline", r"in\.csv:3: process is '-7': expected a whole number >= 0"),
    (",7,1,baseline", ",7.5,1,baseline", r"in\.csv:3: process is '7\.5'"),
    (",7,1,baseline", ",x,1,baseline", r"in\.csv:3: process is 'x'"),
    (",7,1,baseline", ",7,one,baseline", r"in\.csv:3: iteration is 'one'"),
    (",7,1,baseline", ",,1,baseline", r"in\.csv:3: an iteration without a process"),
    (",7,1,baseline", ",7,0,baseline", r"in\.csv:3: process 7 iteration 0 is also the run of line 2"),
    ("0,12,0,pmc,1e9,cycles", "0,13,0,pmc,1e9,cycles", r"in\.csv:7: process differs from line 6 of the same run"),
])
def test_bad_process_is_a_one_line_error(tmp_path, old, new, message):
    assert old in PROCESSES
    with pytest.raises(PmcsuiteError, match=message) as info:
        import_csv(write(tmp_path, PROCESSES.replace(old, new, 1)), tmp_path / "out")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text, message", [
    (HEADER.replace("bandwidth", "bandwith") + "pipe,2thread,,1K,16M,0,baseline,1,,,,\n",
     r"in\.csv:1: unknown column 'bandwith'"),
    (HEADER.replace("variant,", "") + "pipe,2thread,,1K,16M,0,1,,,,\n", r"in\.csv:1: missing column 'variant'"),
    (HEADER + "pipe,2thread,,1K,16M,0,x,1e6,,no_such_counter,5,\n", r"in\.csv:2: unknown counter id 'no_such_counter'"),
    (HEADER + "pipe,2thread,,1K,16M,0,x,1e6,,instructions,0,not_supported\n",
     r"in\.csv:2: .*only ok counters have values"),
    (HEADER + "pipe,2thread,,1K,16M,0,x,1e6,,instructions,,ok\n", r"in\.csv:2: .*status ok but no value"),
    (HEADER + "pipe,2thread,,1K,16M,0,x,1e6,,instructions,,\n", r"in\.csv:2: .*never 0"),
    (HEADER + "pipe,2thread,,1K,16M,0,x,1e6,,instructions,1,\npipe,2thread,,1K,16M,0,x,2e6,,cycles,1,\n",
     r"in\.csv:3: bandwidth differs from line 2"),
    (HEADER + "pipe,2thread,,1K,16M,0,x,1e6,,instructions,1,\npipe,2thread,,1K,16M,0,x,1e6,,instructions,2,\n",
     r"in\.csv:3: counter instructions given twice"),
    (HEADER + "pipe,2thread,,1000,16M,0,baseline,1e6,,,,\n", r"in\.csv:2: total_size 16777216 is not a multiple"),
    (HEADER + "pipe,3thread,,1K,16M,0,baseline,1e6,,,,\n", r"in\.csv:2: actors is '3thread'"),
    (HEADER + "pipe,2thread,,1K,16M,-1,baseline,1e6,,,,\n", r"in\.csv:2: run is '-1'"),
    (HEADER + "pipe,2thread,,1K,16M,0,baseline,fast,,,,\n", r"in\.csv:2: bandwidth is 'fast'"),
    (HEADER + "pipe,2thread,,1K,16M,0,baseline,1e6,maybe,,,\n", r"in\.csv:2: warmup is 'maybe'"),
    (HEADER + "pipe,2thread,,1K,16M,0,baseline,1e6,,,,,extra\n", r"in\.csv:2: more fields"),
    (HEADER, r"has a header but no rows"),
    ("", r"is empty"),
    ("ipc,actors,buffer_size,total_size,run,variant\npipe,2thread,1K,16M,0,baseline\n", r"needs a 'bandwidth'"),
    ("ipc,actors,buffer_size,total_size,run,variant,bandwidth,loop_ns\npipe,2thread,1K,16M,0,baseline,1e9,1000\n",
     r"in\.csv:2: bandwidth .* disagrees"),
])
def test_bad_csv_is_a_one_line_error(tmp_path, text, message):
    with pytest.raises(PmcsuiteError, match=message) as info:
        import_csv(write(tmp_path, text), tmp_path / "out")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()


def test_missing_file(tmp_path):
    with pytest.raises(PmcsuiteError, match="does not exist"):
        import_csv(tmp_path / "nope.csv", tmp_path / "out")


def test_a_row_repeated_word_for_word_is_refused_naming_both_lines(tmp_path):
    text = GOOD + "pipe,2thread,same,64K,16M,1,baseline,6803217408,false,,,\n"     # line 3 again, as line 7
    with pytest.raises(PmcsuiteError, match=r"in\.csv:7: repeats line 3 word for word") as info:
        import_csv(write(tmp_path, text), tmp_path / "out")
    assert "\n" not in str(info.value) and not (tmp_path / "out").exists()
