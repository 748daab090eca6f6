"""pmcsuite.schema: the metadata registry the store enforces, the one JSON cleaner, the one timestamp,
and the run record's vocabularies (the metadata of a real collection: tests/test_schema_collect.py)."""
import datetime
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pmcsuite.errors import PmcsuiteError
from pmcsuite.results.export import export
from pmcsuite.results.importers import import_csv, import_l41
from pmcsuite.results.load import load
from pmcsuite.results.store import ResultStore
from pmcsuite.schema import (
    IPC_MODES, IPC_ORDER, METADATA, REFERENCE_IPCS, MalformedMetadata, MalformedRecord, RunRecord, check_metadata,
    jsonable, now, parse_json, stamp)

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CSV = ("ipc,actors,placement,buffer_size,total_size,run,variant,bandwidth,counter,value,status\n"
       "pipe,2thread,same,64K,16M,0,baseline,6791331840,,,\n"
       "pipe,2thread,same,64K,16M,0,syscalls,6512109568,syscalls_write,256,ok\n")


# ---- the metadata registry ----------------------------------------------------------------------

@pytest.mark.parametrize("metadata, named", [
    ({"seed": 1, "colour": "red"}, "'colour' is not a metadata field"),
    ({"seed": "one"}, "'seed' is 'one', not an integer or null"),
    ({"seed": True}, "'seed' is True, not an integer or null"),
    ({"host": ["a", "b"]}, "'host' is ['a', 'b'], not an object"),
    ({"command_line": ["pmcsuite", 3]}, "'command_line' has an item that is not text"),
    ({"resumes": [{"time": "t"}, "x"]}, "'resumes' has an item that is not an object"),
])
def test_a_writer_cannot_write_an_unknown_field_or_a_wrong_type(tmp_path, metadata, named):
    with pytest.raises(MalformedMetadata, match="refusing to write .*metadata.json") as info:
        ResultStore(tmp_path / "r").create(metadata)
    assert named in str(info.value) and "\n" not in str(info.value)
    assert info.value.exit_code == 2 and isinstance(info.value, ValueError)
    assert not (tmp_path / "r" / "metadata.json").exists()


def test_every_problem_is_named_at_once():
    with pytest.raises(MalformedMetadata) as info:
        check_metadata({"seed": "x", "tag": 5, "nonsense": None})
    assert all(name in str(info.value) for name in ("'seed'", "'tag'", "'nonsense'"))


@pytest.mark.parametrize("field, bad", [("host", "a laptop"), ("created", 20261201), ("extra", 1),
                                        ("platform", ["x86-64", None])])
def test_a_malformed_metadata_is_reported_in_one_line(tmp_path, field, bad):
    out = import_csv(_csv(tmp_path), tmp_path / "out")
    meta = json.loads((out / "metadata.json").read_text())
    meta[field] = bad
    (out / "metadata.json").write_text(json.dumps(meta))
    for read in (ResultStore(out).read_metadata, lambda: load(out)):
        with pytest.raises(PmcsuiteError, match=rf"metadata.json is malformed \('{field}'") as info:
            read()
        assert "\n" not in str(info.value) and info.value.exit_code == 2


def test_format_version_1_directories_still_read():
    meta = ResultStore(FIXTURES / "results_small").read_metadata()
    assert meta["format_version"] == 1 and check_metadata(meta) is meta


def test_the_metadata_is_cleaned_before_it_is_checked(tmp_path):
    store = ResultStore(tmp_path)
    store.create({"seed": np.int64(3), "note": "x", "host": {"cpus": np.int64(2), "load": float("nan")},
                  "command_line": ("pmcsuite", Path("/x"))})
    assert store.read_metadata() == {"format": "pmcsuite-results", "format_version": 3, "seed": 3, "note": "x",
                                     "host": {"cpus": 2, "load": None}, "command_line": ["pmcsuite", "/x"]}


def test_every_field_an_import_writes_is_registered(tmp_path):
    for out in (import_csv(_csv(tmp_path), tmp_path / "csv"), import_l41([FIXTURES / "l41"], tmp_path / "l41")):
        meta = json.loads((out / "metadata.json").read_text())
        assert set(meta) <= set(METADATA) and check_metadata(meta) is meta
        assert {"format", "format_version", "pmcsuite_version", "created", "command_line", "source", "host",
                "backend", "tools", "catalogue", "plan", "platform", "imported"} <= set(meta)


def test_the_exported_metadata_is_registered(tmp_path):
    results = Path(shutil.copytree(FIXTURES / "results_small", tmp_path / "r",
                                   ignore=shutil.ignore_patterns("*.parquet")))
    written = export(results, tmp_path / "x", formats="csv")
    meta = json.loads(next(p for p in written if p.name == "metadata.json").read_text())
    assert check_metadata(meta)["exported_from"] == str(results.resolve())


def test_every_registered_field_says_what_it_means():
    assert all(spec.meaning and spec.kinds for spec in METADATA.values())


def _csv(tmp_path) -> Path:
    path = tmp_path / "in.csv"
    path.write_text(CSV)
    return path


# ---- jsonable, parse_json, now, stamp ----------------------------------------------------------

def test_jsonable_gives_plain_json():
    value = {"nan": float("nan"), "inf": -math.inf, "ok": 1.5, "np_int": np.int64(7), "np_nan": np.float64("nan"),
             "np_bool": np.bool_(True), "array": np.array([1.0, np.nan]), "tuple": (1, (2, 3)),
             "set": {4}, "na": pd.NA, "nat": pd.NaT, "when": pd.Timestamp("2026-12-01T10:00:00+00:00"),
             "path": Path("/tmp/x"), np.int64(5): "a numpy key", "none": None, "text": "t"}
    clean = jsonable(value)
    assert clean == {"nan": None, "inf": None, "ok": 1.5, "np_int": 7, "np_nan": None, "np_bool": True,
                     "array": [1.0, None], "tuple": [1, [2, 3]], "set": [4], "na": None, "nat": None,
                     "when": "2026-12-01T10:00:00+00:00", "path": "/tmp/x", 5: "a numpy key", "none": None,
                     "text": "t"}
    assert type(clean["np_int"]) is int and type(clean["np_bool"]) is bool and type(clean["ok"]) is float
    json.dumps(clean, allow_nan=False)         # nothing json cannot write is left


def test_jsonable_leaves_what_it_does_not_know_for_json_to_refuse():
    thing = object()
    assert jsonable({"x": [thing]})["x"][0] is thing


@pytest.mark.parametrize("text", ["NaN", '{"a": Infinity}', "[-Infinity]"])
def test_parse_json_refuses_what_json_is_not(text):
    with pytest.raises(ValueError, match="is not a JSON value"):
        parse_json(text)
    assert parse_json('{"a": [1.5, null]}') == {"a": [1.5, None]}


def test_now_is_utc_iso_8601_to_the_millisecond():
    before = datetime.datetime.now(datetime.timezone.utc)
    text = now()
    when = datetime.datetime.fromisoformat(text)
    assert when.utcoffset() == datetime.timedelta(0) and text.endswith("+00:00")
    assert len(text.split(".")[1]) == len("123+00:00")
    assert before - datetime.timedelta(milliseconds=1) <= when <= datetime.datetime.now(datetime.timezone.utc)


def test_stamp_heads_every_document():
    head = stamp("9.9", ["pmcsuite", Path("x"), 3])
    assert head["pmcsuite_version"] == "9.9" and head["command_line"] == ["pmcsuite", "x", "3"]
    assert datetime.datetime.fromisoformat(head["created"]).utcoffset() == datetime.timedelta(0)


# ---- vocabularies and the run record -----------------------------------------------------------

def test_reports_order_the_reference_modes_first_and_know_every_mode():
    assert IPC_ORDER[:len(REFERENCE_IPCS)] == REFERENCE_IPCS and sorted(IPC_ORDER) == sorted(IPC_MODES)


@pytest.mark.parametrize("field, bad", [("actors", "3proc"), ("placement", "far"), ("backend", "gdb")])
def test_a_run_record_names_only_known_settings(field, bad):
    with pytest.raises(MalformedRecord, match=rf"'{field}' is '{bad}', not one of"):
        RunRecord(ipc="pipe", buffer_size=4096, variant="baseline", **{field: bad})


def test_imported_runs_may_be_one_thread():
    assert RunRecord(ipc="pipe", buffer_size=4096, variant="baseline", actors="1thread").actors == "1thread"
