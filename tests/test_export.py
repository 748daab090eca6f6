"""pmcsuite.results.export: every format holds the result table, and tidy.csv round-trips through import csv."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pmcsuite.errors import PmcsuiteError
from pmcsuite.results.export import export, tidy_table
from pmcsuite.results.importers.l41 import import_l41
from pmcsuite.results.importers.tidy_csv import import_csv
from pmcsuite.results.load import load

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "results_small"
L41 = Path(__file__).resolve().parent / "fixtures" / "l41"
KEY = ["ipc", "actors", "placement", "buffer_size", "total_size", "variant", "run"]



def by_run(df: pd.DataFrame) -> pd.DataFrame:
    ok = df[df["ok"]].copy()
    ok["placement"] = ok["placement"].fillna("")
    return ok.set_index(KEY).sort_index()


def assert_same_runs(original: pd.DataFrame, imported: pd.DataFrame):
    """Every successful run of ``original`` is in ``imported`` with its warm-up flag, benchmark process
    and iteration, bandwidth, loop time, scope and each counter's value and status."""
    a, b = by_run(original), by_run(imported)
    assert list(a.index) == list(b.index)
    assert (a["warmup"] == b["warmup"]).all()
    assert a["process"].notna().all()
    for column in ("process", "iteration"):
        assert b[column].dtype == a[column].dtype and b[column].tolist() == a[column].tolist(), column
    np.testing.assert_allclose(b["bandwidth"].to_numpy(float), a["bandwidth"].to_numpy(float), rtol=1e-12)
    assert (a["loop_ns"].to_numpy() == b["loop_ns"].to_numpy()).all()
    assert a["scope"].fillna("-").tolist() == b["scope"].fillna("-").tolist()
    assert original.attrs["counters"] and sorted(original.attrs["counters"]) == sorted(imported.attrs["counters"])
    for cid in original.attrs["counters"]:
        assert a[f"{cid}_status"].fillna("-").tolist() == b[f"{cid}_status"].fillna("-").tolist(), cid
        np.testing.assert_array_equal(a[cid].to_numpy(float), b[cid].to_numpy(float))


def test_tidy_csv_round_trips_through_import_csv(results_small, tmp_path):
    files = export(results_small)
    assert [p.name for p in files] == ["results.csv", "tidy.csv", "summary.csv", "derived.csv", "results.json",
                                       "results.parquet", "metadata.json"]
    assert all(p.parent == results_small / "export" for p in files)
    original = load(results_small)
    back = load(import_csv(results_small / "export" / "tidy.csv", tmp_path / "back"))
    assert len(back) == original["ok"].sum() == len(original) - tidy_table(original)[1]
    assert_same_runs(original, back)
    again = tmp_path / "again"                     # and the re-import exports the same tidy.csv
    export(tmp_path / "back", again, "csv")
    assert (again / "tidy.csv").read_text() == (results_small / "export" / "tidy.csv").read_text()


def test_imported_l41_data_round_trips_too(tmp_path):
    source = import_l41([L41], tmp_path / "l41")
    export(source, tmp_path / "out", "csv")
    assert_same_runs(load(source), load(import_csv(tmp_path / "out" / "tidy.csv", tmp_path / "back")))


def test_processes_of_several_iterations_round_trip(results_small, tmp_path):
    """A set whose processes ran several iterations of several points (as collect's are) keeps every
    run's process and iteration through tidy.csv, and a run without a process stays without one."""
    df = load(results_small)
    measured = df[df["ok"]].sort_values(["variant", "seq"]).copy()
    # processes of two iterations of one variant, numbered over the set; one run left without a process
    order = measured.groupby("variant", sort=True).cumcount()
    first = {v: 100 * k for k, v in enumerate(sorted(set(measured["variant"])))}
    measured["process"] = order // 2 + measured["variant"].map(first)
    measured["iteration"] = order % 2
    measured = measured.astype({"process": "Int64", "iteration": "Int64"})
    measured.loc[measured.index[0], ["process", "iteration"]] = pd.NA
    measured.attrs = df.attrs
    tidy, _ = tidy_table(measured)
    assert list(tidy.columns[6:9]) == ["run", "process", "iteration"]
    tidy.to_csv(tmp_path / "tidy.csv", index=False)
    back = load(import_csv(tmp_path / "tidy.csv", tmp_path / "back"))
    a, b = by_run(measured), by_run(back)
    assert a["process"].tolist() == b["process"].tolist() and a["iteration"].tolist() == b["iteration"].tolist()
    assert b["process"].isna().sum() == 1 and b["process"].nunique() < len(b) / 1.5


def test_every_format_holds_the_table(results_small, tmp_path):
    export(results_small, tmp_path / "out")
    df = load(results_small)
    out = tmp_path / "out"
    as_json = pd.read_json(out / "results.json", orient="table")
    parquet = pd.read_parquet(out / "results.parquet")
    csv = pd.read_csv(out / "results.csv")
    for table in (as_json, parquet, csv):
        assert list(table.columns) == list(df.columns) and len(table) == len(df)
        np.testing.assert_allclose(table["bandwidth"].to_numpy(float), df["bandwidth"].to_numpy(float), rtol=1e-12)
        assert table["syscalls_write_status"].fillna("-").tolist() == df["syscalls_write_status"].fillna("-").tolist()
    assert str(as_json["buffer_size"].dtype) == "Int64" and str(as_json["started"].dtype).startswith("datetime64")
    histogram = df.loc[df["ok"], "write_sizes"].iloc[0]
    for table in (parquet, csv):       # histograms as JSON text
        written = json.loads(table.loc[df["ok"].to_numpy(), "write_sizes"].iloc[0])
        assert {int(k): v for k, v in written.items()} == histogram
    assert {int(k): v for k, v in as_json.loc[df["ok"].to_numpy(), "write_sizes"].iloc[0].items()} == histogram
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["host"] == df.attrs["metadata"]["host"] and meta["exported_from"] == str(results_small.resolve())


def test_failed_runs_are_counted_out_of_the_tidy_form(results_small):
    df = load(results_small)
    tidy, left_out = tidy_table(df)
    assert left_out == int((~df["ok"]).sum()) >= 1
    assert set(tidy.columns) >= {"counter", "value", "status", "event"}
    counted = tidy[tidy["counter"].notna()]
    assert counted["event"].notna().all()
    assert not counted.loc[counted["status"] != "ok", "value"].notna().any()     # no value unless ok


def test_bad_formats_and_targets_are_one_line_errors(results_small, tmp_path):
    with pytest.raises(PmcsuiteError, match="unknown export format 'xml'"):
        export(results_small, tmp_path / "x", "csv,xml")
    with pytest.raises(PmcsuiteError, match="more than once"):
        export(results_small, tmp_path / "x", ["csv", "csv"])
    (tmp_path / "file").write_text("")
    with pytest.raises(PmcsuiteError, match="is a file"):
        export(results_small, tmp_path / "file")
