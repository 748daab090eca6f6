"""pmcsuite.load on the synthetic result directory tests/fixtures/results_small (format fixture)."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pmcsuite.errors import PmcsuiteError
from pmcsuite.results.load import counter_table, load, require_runs, summarise

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "results_small"
FIXED = ["ipc", "actors", "placement", "buffer_size", "total_size", "run", "warmup", "variant", "backend", "scope",
         "process", "iteration", "seq", "started", "ok", "error", "loop_ns", "bandwidth", "writes", "reads", "minflt",
         "majflt", "nvcsw", "nivcsw", "utime_ns", "stime_ns", "offcpu_writer_ns", "offcpu_reader_ns", "sndbuf",
         "rcvbuf", "pipe_size", "cpu_writer", "cpu_reader", "other_cpu_frac", "runnable_others", "shared_cpu",
         "write_sizes", "read_sizes", "profile_period_ns", "profile_lost"]
COUNTERS = ["syscalls_write", "syscalls_read", "page_faults", "context_switches", "cycles"]



@pytest.fixture(scope="module")
def df():
    return load(FIXTURE)


def raw_records():
    return [json.loads(line) for line in (FIXTURE / "runs.jsonl").read_text().splitlines()]


def test_columns_exact_and_in_order(df):
    assert list(df.columns) == FIXED + COUNTERS + [f"{c}_status" for c in COUNTERS]
    assert df.attrs["counters"] == COUNTERS
    assert df.attrs["metadata"]["host"]["hostname"] == "synthetic-host"
    assert df.attrs["skipped_lines"] == []
    assert len(df) == 72


def test_dtypes(df):
    for column in ("buffer_size", "total_size", "run", "seq", "loop_ns", "writes", "reads", "pipe_size", "sndbuf"):
        assert df[column].dtype == "Int64", column
    assert df["bandwidth"].dtype == float and df["other_cpu_frac"].dtype == float
    assert df["warmup"].dtype == bool and df["ok"].dtype == bool
    assert all(df[c].dtype == float for c in COUNTERS)
    assert pd.api.types.is_datetime64_any_dtype(df["started"])
    pipe = df[df["ipc"] == "pipe"]
    assert pipe["sndbuf"].isna().all() and (pipe["pipe_size"].dropna() == 65536).all()


def test_counters_nan_where_not_measured_and_statuses(df):
    baseline = df[df["variant"] == "baseline"]
    assert baseline[COUNTERS].isna().all().all()
    assert baseline[[f"{c}_status" for c in COUNTERS]].isna().all().all()
    syscalls = df[(df["variant"] == "syscalls") & df["ok"]]
    assert (syscalls["syscalls_write_status"] == "ok").all()
    assert syscalls["page_faults"].isna().all() and syscalls["page_faults_status"].isna().all()
    faults = df[df["variant"] == "faults+cycles"]
    assert (faults["cycles_status"] == "not_supported").all()
    assert faults["cycles"].isna().all()            # never 0 for an unsupported counter
    row = df[(df["ipc"] == "pipe") & (df["buffer_size"] == 65536) & (df["variant"] == "syscalls") & (df["run"] == 1)]
    assert row["syscalls_write"].item() == 256 + 1


def test_warmups_flagged_and_failed_runs_kept(df):
    assert (df["warmup"] == (df["run"] == 0)).all()
    assert df["warmup"].sum() == 18
    failed = df[~df["ok"]]
    assert len(failed) == 1
    assert failed["error"].item().startswith("ipcbench exited")
    assert np.isnan(failed["bandwidth"].item())
    assert failed[["ipc", "buffer_size", "variant", "run"]].values.tolist() == [["local", 4096, "baseline", 3]]


def test_details_in_attrs(df):
    (scaled,) = df.attrs["multiplexed"]
    assert scaled["counter"] == "context_switches" and scaled["pcnt_running"] == 60.0
    assert df.loc[scaled["row"], ["ipc", "buffer_size", "variant", "run"]].tolist() == \
        ["pipe", 65536, "faults+cycles", 2]
    (warning,) = df.attrs["warnings"]
    assert "sanity" in warning["warning"] and df.loc[warning["row"], "variant"] == "syscalls"
    sizes = df.loc[(df["buffer_size"] == 65536) & df["ok"], "write_sizes"].iloc[0]
    assert sizes == {65536: 256}


def test_summarise_matches_numpy(df):
    summary = summarise(df)
    assert set(summary["metric"]) == {"bandwidth"}
    assert len(summary) == 2 * 3 * 3
    cells = {}
    for rec in raw_records():
        if rec["ok"] and not rec["warmup"]:
            cells.setdefault((rec["ipc"], rec["buffer_size"], rec["variant"]), []).append(rec["bench"]["bandwidth"])
    for row in summary.itertuples():
        values = np.array(cells[row.ipc, row.buffer_size, row.variant])
        assert row.n == len(values)
        assert row.median == pytest.approx(np.median(values))
        assert row.q25 == pytest.approx(np.percentile(values, 25))
        assert row.q75 == pytest.approx(np.percentile(values, 75))
        assert (row.min, row.max) == (values.min(), values.max())
        assert row.mean == pytest.approx(values.mean())
        assert row.cv == pytest.approx(values.std(ddof=1) / values.mean())
    # the failed run and the warm-up are excluded
    local = summary[(summary["ipc"] == "local") & (summary["buffer_size"] == 4096) & (summary["variant"] == "baseline")]
    assert local["n"].item() == 2


def test_summarise_counters_and_all(df):
    summary = summarise(df, "all")
    writes = summary[(summary["metric"] == "syscalls_write") & (summary["ipc"] == "pipe")
                     & (summary["buffer_size"] == 4096)]
    assert len(writes) == 1 and writes["variant"].item() == "syscalls"      # not measured elsewhere: no row
    assert writes["median"].item() == 4096 + 2 and writes["n"].item() == 3 and writes["status"].item() == "ok"
    cycles = summary[summary["metric"] == "cycles"]
    assert len(cycles) == 6 and (cycles["n"] == 0).all() and cycles["median"].isna().all()
    assert (cycles["status"] == "not_supported").all()
    assert summary["bandwidth" == summary["metric"]]["status"].isna().all()
    two = summarise(df, ["bandwidth", "page_faults"])
    assert set(two["metric"]) == {"bandwidth", "page_faults"}
    with pytest.raises(PmcsuiteError, match="cannot summarise 'nope'"):
        summarise(df, "nope")


def test_counter_table(df):
    table = counter_table(df)
    assert list(table.columns) == ["ipc", "actors", "placement", "buffer_size", "total_size", "variant", "run",
                                   "warmup", "ok", "seq", "row", "counter", "value", "status", "multiplexed"]
    # syscalls pass: 2 counters x 24 runs; faults+cycles pass: 3 counters x 24 runs
    assert len(table) == 2 * 24 + 3 * 24
    assert table["multiplexed"].sum() == 1
    cycles = table[table["counter"] == "cycles"]
    assert cycles["value"].isna().all() and (cycles["status"] == "not_supported").all()
    assert table.loc[table["multiplexed"], "counter"].item() == "context_switches"


def test_truncated_last_line_is_tolerated(results_small):
    with open(results_small / "runs.jsonl", "a") as handle:
        handle.write('{"ipc": "pipe", "buffer_size": 40')
    df = load(results_small)
    assert len(df) == 72 and df.attrs["skipped_lines"] == [73]


def test_corrupt_middle_line_is_skipped_and_reported(results_small):
    lines = (results_small / "runs.jsonl").read_text().splitlines()
    lines[9] = "this is not json"
    (results_small / "runs.jsonl").write_text("\n".join(lines) + "\n")
    df = load(results_small)
    assert len(df) == 71 and df.attrs["skipped_lines"] == [10]
    with pytest.raises(PmcsuiteError, match=r"runs.jsonl:10 is corrupt"):
        load(results_small, strict=True)


def test_missing_metadata_is_an_error(results_small):
    (results_small / "metadata.json").unlink()
    with pytest.raises(PmcsuiteError, match="no metadata.json"):
        load(results_small)


def _future_version(results_small, version=99) -> bytes:
    meta = json.loads((results_small / "metadata.json").read_text())
    meta["format_version"] = version
    (results_small / "metadata.json").write_text(json.dumps(meta, indent=2) + "\n")
    return (results_small / "metadata.json").read_bytes()


@pytest.mark.parametrize("version", [99, 0, "2", None])
def test_unknown_format_version_is_refused_by_load(results_small, version):
    """A result directory of a format this pmcsuite does not know is not read as if it were its own."""
    _future_version(results_small, version)
    with pytest.raises(PmcsuiteError, match=rf"has format_version {version!r}, which this pmcsuite cannot read"
                                            r" \(it reads 1, 2, 3\)") as info:
        load(results_small)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("command", ["summary", "export", "report", "explain", "overhead"])
def test_unknown_format_version_is_refused_by_every_command(results_small, tmp_path, command, cli):
    written = _future_version(results_small)
    runs = (results_small / "runs.jsonl").read_bytes()
    extra = ["--out", tmp_path / "out"] if command in ("report", "export") else []
    proc = cli(command, results_small, *extra, cwd=tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pmcsuite: error: ") and "format_version 99" in lines[0], proc.stderr
    assert (results_small / "metadata.json").read_bytes() == written
    assert (results_small / "runs.jsonl").read_bytes() == runs
    assert not (tmp_path / "out").exists()


def test_malformed_record_is_one_line_error(results_small):
    record = raw_records()[0]
    record["bench"]["writes"] = "many"
    (results_small / "runs.jsonl").write_text(json.dumps(record) + "\n" + json.dumps(raw_records()[1]) + "\n")
    with pytest.raises(PmcsuiteError, match="record 1 is malformed") as info:
        load(results_small)
    assert "\n" not in str(info.value)
    del record["ipc"]
    (results_small / "runs.jsonl").write_text(json.dumps(record) + "\n" + json.dumps(raw_records()[1]) + "\n")
    with pytest.raises(PmcsuiteError, match="record 1 is malformed .no ipc"):
        load(results_small)
    record = raw_records()[0]
    record["counters"]["cycles"] = {"status": "zero", "value": None}       # not a status of schema.STATUSES
    (results_small / "runs.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(PmcsuiteError, match="status 'zero', not one of ok, not_supported"):
        load(results_small)


def test_empty_runs_gives_empty_table(results_small):
    (results_small / "runs.jsonl").write_text("")
    df = load(results_small)
    assert df.empty and list(df.columns) == FIXED and df.attrs["counters"] == []
    assert df["buffer_size"].dtype == "Int64" and df["ok"].dtype == bool
    assert summarise(df).empty
    with pytest.raises(PmcsuiteError, match="holds no runs yet"):
        require_runs(df)
    from pmcsuite.results.export import export
    with pytest.raises(PmcsuiteError, match="holds no runs yet"):
        export(results_small)


def test_attrs_are_shared_not_deep_copied(df):
    """Provenance is kept out of the way of DataFrame operations: every frame derived from the
    table shares the one metadata object (pandas deep-copies attrs on every operation)."""
    import copy
    import pickle
    from pmcsuite.results.load import SharedDict, SharedList, share_attrs
    meta = df.attrs["metadata"]
    assert isinstance(meta, SharedDict) and isinstance(df.attrs["counters"], SharedList)
    for derived in (df[df["ok"]], df["bandwidth"], df.groupby("ipc").head(1), df.copy(), df.iloc[:3]):
        assert derived.attrs["metadata"] is meta
    assert copy.deepcopy(meta) is meta
    assert json.loads(json.dumps(meta)) == dict(meta)                    # still an ordinary dict to callers
    back = pickle.loads(pickle.dumps(df))
    assert back.attrs["metadata"] == dict(meta) and back.attrs["counters"] == COUNTERS
    frame = pd.DataFrame({"a": [1, 2]})
    frame.attrs["metadata"] = {"big": list(range(10))}
    assert share_attrs(frame)[frame["a"] > 1].attrs["metadata"] is frame.attrs["metadata"]


def test_summarise_keeps_quartiles_when_placement_is_unknown(df):
    """Imported data has placement None: its cells keep q25/q75 (the figures' error bars)."""
    known = summarise(df)
    unknown = df.copy()
    unknown["placement"] = None
    got = summarise(unknown)
    assert got["placement"].isna().all() and len(got) == len(known)
    assert got["q25"].notna().all() and got["q75"].notna().all()
    np.testing.assert_allclose(got["q25"], known["q25"])
    np.testing.assert_allclose(got["q75"], known["q75"])
    mixed = pd.concat([df, unknown], ignore_index=True)
    mixed.attrs = df.attrs
    both = summarise(mixed)
    assert len(both) == 2 * len(known) and both["q25"].notna().all()


def test_the_fixture_generator_writes_what_the_format_1_fixture_reads_as(tmp_path):
    """make_results_small.py builds schema.RunRecords in today's format (one process of one iteration
    a run); the committed directory is format 1. Both load to the same table: version 1 records still
    read as their process, and the generator is the fixture's true source."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_results_small", FIXTURE.parent / "make_results_small.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    written = generator.main(tmp_path / "results_small")
    assert json.loads((written / "metadata.json").read_text())["format_version"] == 3
    assert json.loads((FIXTURE / "metadata.json").read_text())["format_version"] == 1
    pd.testing.assert_frame_equal(load(written, cache=False), load(FIXTURE, cache=False))
