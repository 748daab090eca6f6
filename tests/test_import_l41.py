"""Importing L41 benchmark output: the real BeagleBone Black sample (tests/fixtures/l41, a verbatim
copy of shared/data/l41-bbb-sample) and illustrative 2020-2023 JSON (tests/fixtures/l41/ipc-benchmark-2020)."""
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from needs import require

from pmcsuite.errors import PmcsuiteError
from pmcsuite.results.importers import import_l41, parse_l41_json, parse_l41_text
from pmcsuite.results.load import load, summarise
from pmcsuite.results.store import ResultStore

pytestmark = pytest.mark.unit

FIX = Path(__file__).resolve().parent / "fixtures" / "l41"
JSON_DIR = FIX / "ipc-benchmark-2020"
KIB = 1024


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """The whole real sample imported once (directory with its manifest.csv)."""
    out = tmp_path_factory.mktemp("l41") / "res"
    import_l41([FIX], out)
    store = ResultStore(out)
    return out, store.read_metadata(), store.read_runs(strict=True)


def by_file(runs):
    return {Path(r["source"]["file"]).name: r for r in runs}


def test_fixture_is_the_verbatim_real_sample():
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "l41-bbb-sample"
    require(shared.is_dir(), "shared/ is not beside the clone")
    for original in shared.iterdir():
        assert (FIX / original.name).read_bytes() == original.read_bytes(), original.name


def test_all_40_real_files_import(real):
    out, meta, runs = real
    assert len(runs) == 40
    assert sorted(by_file(runs)) == [f"run{i:05d}.txt" for i in range(40)]
    assert all(r["bench"]["bandwidth"] > 0 and r["bench"]["loop_ns"] > 0 for r in runs)
    assert all(r["backend"] == "import" and r["ok"] and r["ipc"] == "pipe" and r["actors"] == "2thread" for r in runs)
    assert meta["source"] == "import-l41" and meta["backend"] == "import"
    assert meta["platform"] == ["cortex-a8"]
    assert meta["host"]["hostname"] is None and meta["host"]["os"] == "unknown"
    files = meta["imported"]["files"]
    assert len(files) == 40
    for entry in files:
        assert entry["sha256"] == hashlib.sha256(Path(entry["path"]).read_bytes()).hexdigest()
    assert meta["imported"]["manifests"][0]["path"] == str((FIX / "manifest.csv").resolve())
    assert [r["seq"] for r in runs] == list(range(40))


def test_exact_values_from_the_files(real):
    runs = by_file(real[2])
    axi = runs["run00032.txt"]
    assert axi["bench"]["bandwidth"] == pytest.approx(62001.90 * KIB)
    assert axi["counters"]["axi_read"] == {"event": "AXI_READ", "value": 69673.0, "unit": "", "status": "ok"}
    assert axi["counters"]["axi_write"]["value"] == 10614.0
    assert axi["counters"]["instructions"]["value"] == 89107476.0
    assert axi["counters"]["cycles"]["value"] == 194033798.0
    # no configuration block: loop time derived from total / bandwidth
    assert axi["bench"]["loop_ns"] == round(16777216 / (62001.90 * KIB) * 1e9)
    assert axi["source"]["loop_ns_from"] == "bandwidth"
    last = runs["run00039.txt"]
    assert last["counters"]["axi_read"]["value"] == 1293295.0
    assert last["bench"]["bandwidth"] == pytest.approx(112778.69 * KIB)
    first = runs["run00000.txt"]
    assert first["bench"]["bandwidth"] == pytest.approx(73087.63 * KIB)
    assert first["bench"]["loop_ns"] == 224169250 and first["source"]["loop_ns_from"] == "time"
    l1d = runs["run00016.txt"]["counters"]
    assert l1d["l1d_access"]["value"] == 49134040.0 and l1d["l1d_refill"]["value"] == 433111.0


def test_variants_scopes_and_no_ratios(real):
    runs = real[2]
    variants = {}
    for r in runs:
        variants.setdefault(r["variant"], []).append(r)
    assert {k: len(v) for k, v in variants.items()} == {"baseline": 8, "timed+mem": 8, "mem": 8, "l1d": 8, "axi": 8}
    assert all(r["scope"] is None and r["counters"] == {} for r in variants["baseline"])
    # -v -P mem (configuration block, loop time) and -P mem (neither) are two data sets
    assert {Path(r["source"]["file"]).name for r in variants["timed+mem"]} == {
        f"run000{n:02d}.txt" for n in range(8, 16)}
    assert all(r["source"]["loop_ns_from"] == "time" for r in variants["timed+mem"])
    assert all(r["source"]["loop_ns_from"] == "bandwidth" for r in variants["mem"])
    expected = {"mem": {"instructions", "cycles", "mem_read", "mem_write"},
                "timed+mem": {"instructions", "cycles", "mem_read", "mem_write"},
                "l1d": {"instructions", "cycles", "l1d_access", "l1d_refill"},
                "axi": {"instructions", "cycles", "axi_read", "axi_write"}}
    for name, ids in expected.items():
        assert all(r["scope"] == "loop" and set(r["counters"]) == ids for r in variants[name])
    passes = {p["name"]: p for p in real[1]["plan"]["passes"]}
    assert passes["axi"]["events"]["axi_read"] == "AXI_READ"


def test_run_numbering(real):
    cells = {}
    for r in real[2]:
        cells.setdefault((r["buffer_size"], r["variant"]), []).append(r["run"])
    for (size, variant), numbers in cells.items():
        assert sorted(numbers) == [0, 1], (size, variant)
    runs = by_file(real[2])
    # every cell keeps the manifest's numbers: timed+mem and mem are separate cells now
    assert runs["run00001.txt"]["run"] == 1
    assert [runs[f"run000{n}.txt"]["run"] for n in (10, 11, 26, 27)] == [0, 1, 0, 1]
    assert runs["run00026.txt"]["source"]["manifest_run"] == 0
    assert not any("renumbered" in note for note in real[1]["imported"]["notes"])
    assert not any(r["warmup"] for r in real[2])


def test_each_ipc_static_run_is_a_process_of_its_own(real):
    """ipc-static runs once per invocation: 40 files, 40 processes (numbered in input order), one iteration each."""
    runs = real[2]
    assert [r["process"] for r in runs] == list(range(40))
    assert all(r["iteration"] == 0 and r["iterations"] == 1 for r in runs)
    assert load(real[0])["process"].nunique() == 40


def test_two_launches_of_one_variant_are_renumbered(tmp_path):
    """Two launches of the same variant numbered 0,1 each by the manifest become runs 0-3."""
    import shutil
    for name in ("run00024.txt", "run00025.txt"):
        shutil.copy(FIX / name, tmp_path / name)
        shutil.copy(FIX / name, tmp_path / name.replace("run000", "again"))
    rows = ["file,ipctype,mode,buffersize,totalsize,run,flags"] + [
        f"{prefix}{n}.txt,pipe,2thread,1024,16777216,{n - 24},-i pipe -P mem"
        for prefix in ("run000", "again") for n in (24, 25)]
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    import_l41([tmp_path], tmp_path / "out")
    store = ResultStore(tmp_path / "out")
    runs = by_file(store.read_runs())
    assert [runs[n]["run"] for n in ("run00024.txt", "run00025.txt", "again24.txt", "again25.txt")] == [0, 1, 2, 3]
    assert any("renumbered" in note for note in store.read_metadata()["imported"]["notes"])


def test_load_and_summarise_accept_the_import(real):
    df = load(real[0])
    assert len(df) == 40
    assert df["bandwidth"].notna().all()
    assert df["axi_read"].notna().sum() == 8
    assert (df.loc[df["variant"] == "baseline", "instructions"].isna()).all()
    summary = summarise(df)
    cell = summary[(summary["buffer_size"] == 65536) & (summary["variant"] == "baseline")]
    assert cell["median"].iloc[0] == pytest.approx((557770.59 + 554593.18) / 2 * KIB)


def test_parse_text_with_configuration_and_counters():
    parsed = parse_l41_text((FIX / "run00008.txt").read_text(), "run00008.txt")
    assert parsed["config"] == {"buffer_size": 1024, "total_size": 16777216, "blockcount": 16384,
                                "actors": "2thread", "ipc": "pipe", "time_s": 0.359705084}
    assert parsed["pmctype"] == "mem"
    assert parsed["events"] == {"INSTR_EXECUTED": 115743499, "CLOCK_CYCLES": 261215049,
                                "MEM_READ": 28882348, "MEM_WRITE": 14692567}
    assert parsed["ratios_skipped"] == 5
    assert parsed["kbytes_per_sec"] == 45548.42
    assert parsed["lines"]["MEM_READ"] == 13


def test_parse_text_without_anything_but_bandwidth():
    parsed = parse_l41_text("98817.53 KBytes/sec\n", "x")
    assert parsed["config"] is None and parsed["pmctype"] is None and parsed["events"] == {}


def test_socket_is_local_and_s_flag_is_local_s(tmp_path):
    text = (FIX / "run00000.txt").read_text().replace("ipctype: pipe", "ipctype: socket")
    assert parse_l41_text(text)["config"]["ipc"] == "local"
    (tmp_path / "a.txt").write_text(text)
    (tmp_path / "b.txt").write_text(text)
    (tmp_path / "m.csv").write_text("file,ipctype,mode,buffersize,totalsize,run,flags\n"
                                    "b.txt,local,2thread,1024,16777216,0,-i local -s -v\n")
    import_l41([tmp_path / "a.txt", tmp_path / "b.txt"], tmp_path / "out", manifest=tmp_path / "m.csv")
    runs = by_file(ResultStore(tmp_path / "out").read_runs())
    assert runs["a.txt"]["ipc"] == "local" and runs["b.txt"]["ipc"] == "local-s"


def test_missing_manifest_is_an_error(tmp_path):
    shutil.copy(FIX / "run00032.txt", tmp_path)
    with pytest.raises(PmcsuiteError, match=r"run00032\.txt: .*--manifest"):
        import_l41([tmp_path], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_file_not_in_the_manifest_is_an_error(tmp_path):
    shutil.copy(FIX / "run00032.txt", tmp_path / "extra.txt")
    with pytest.raises(PmcsuiteError, match="--manifest"):
        import_l41([tmp_path / "extra.txt"], tmp_path / "out", manifest=FIX / "manifest.csv")


@pytest.mark.parametrize("cut, line", [(-1, 18), (-12, 7), (4, 4)])
def test_truncated_file_is_an_error(tmp_path, cut, line):
    lines = (FIX / "run00008.txt").read_text().splitlines(keepends=True)
    bad = tmp_path / "run00008.txt"
    bad.write_text("".join(lines[:cut]))
    with pytest.raises(PmcsuiteError, match=rf"run00008\.txt:{line}: truncated"):
        import_l41([bad], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_number_cut_mid_line_is_an_error():
    text = (FIX / "run00000.txt").read_text()[:-12]      # "73087.63 KB"
    with pytest.raises(PmcsuiteError, match=r"f:8: unexpected line"):
        parse_l41_text(text, "f")


@pytest.mark.parametrize("old, new, message", [
    ("  MEM_READ: 28882348", "  MEM_READ: 28x82348", r"f:13: .*MEM_READ"),
    ("  MEM_READ: 28882348", "  MEM_READ 28882348", r"f:13: unexpected line"),
    ("ipctype: pipe", "ipctype: shm", r"f:6: unknown ipctype"),
    ("blockcount: 16384", "blockcount: 16000", r"f:1: blockcount"),
    ("totalsize: 16777216", "totalsize: 16777000", r"f:1: totalsize 16777000 is not a multiple"),
    ("45548.42 KBytes/sec", "45548.42 KBytes/sec\ngarbage", r"f:21: unexpected text after"),
])
def test_corrupt_text_names_file_and_line(old, new, message):
    text = (FIX / "run00008.txt").read_text()
    assert old in text
    with pytest.raises(PmcsuiteError, match=message):
        parse_l41_text(text.replace(old, new), "f")


def test_unknown_event_is_an_error_with_line(tmp_path):
    text = (FIX / "run00008.txt").read_text().replace("MEM_READ:", "MEM_FOO:")
    (tmp_path / "x.txt").write_text(text)
    with pytest.raises(PmcsuiteError, match=r"x\.txt:13: unknown event MEM_FOO"):
        import_l41([tmp_path / "x.txt"], tmp_path / "out")


def test_pmuv2_spelling_maps_through_the_catalogue_aliases(tmp_path):
    text = (FIX / "run00008.txt").read_text()
    text = text.replace("MEM_READ", "L2_CACHE_ACCESS").replace("MEM_WRITE", "L2_CACHE_REFILL")
    (tmp_path / "x.txt").write_text(text)
    import_l41([tmp_path / "x.txt"], tmp_path / "out")
    counters = ResultStore(tmp_path / "out").read_runs()[0]["counters"]
    assert counters["l2_access"]["value"] == 28882348.0 and counters["l2_refill"]["value"] == 14692567.0
    assert counters["l2_access"]["event"] == "L2_CACHE_ACCESS"         # the name the file used


def test_a_user_catalogue_alias_imports_a_new_name(tmp_path):
    text = (FIX / "run00008.txt").read_text().replace("MEM_READ:", "LD_RETIRED:")
    (tmp_path / "x.txt").write_text(text)
    with pytest.raises(PmcsuiteError, match="unknown event LD_RETIRED"):
        import_l41([tmp_path / "x.txt"], tmp_path / "out")
    user = tmp_path / "user.yaml"
    user.write_text("platforms:\n  cortex-a8:\n    events:\n      mem_read: {aliases: [ld_retired]}\n")
    import_l41([tmp_path / "x.txt"], tmp_path / "out", catalogue=[user])
    assert ResultStore(tmp_path / "out").read_runs()[0]["counters"]["mem_read"]["event"] == "LD_RETIRED"


def test_manifest_disagreeing_with_the_file_is_an_error(tmp_path):
    shutil.copy(FIX / "run00000.txt", tmp_path)
    (tmp_path / "m.csv").write_text("file,ipctype,mode,buffersize,totalsize,run,flags\n"
                                    "run00000.txt,pipe,2thread,2048,16777216,0,-i pipe -v\n")
    with pytest.raises(PmcsuiteError, match=r"run00000\.txt:2: buffersize is 1024 in the file but 2048"):
        import_l41([tmp_path / "run00000.txt"], tmp_path / "out", manifest=tmp_path / "m.csv")


def test_manifest_total_not_multiple_of_buffer(tmp_path):
    shutil.copy(FIX / "run00032.txt", tmp_path)
    (tmp_path / "m.csv").write_text("file,ipctype,mode,buffersize,totalsize,run,flags\n"
                                    "run00032.txt,pipe,2thread,1000,16777216,0,-i pipe -P axi\n")
    with pytest.raises(PmcsuiteError, match="not a multiple"):
        import_l41([tmp_path / "run00032.txt"], tmp_path / "out", manifest=tmp_path / "m.csv")


def test_warmup_option_and_host_note(tmp_path):
    import_l41([FIX], tmp_path / "out", warmup=1, host_note="BeagleBone Black, FreeBSD 11")
    store = ResultStore(tmp_path / "out")
    runs = store.read_runs()
    assert all(r["warmup"] == (r["run"] < 1) for r in runs)
    assert sum(r["warmup"] for r in runs) == 20           # one per (size, variant) cell: 4 x 5
    meta = store.read_metadata()
    assert meta["host"]["note"] == "BeagleBone Black, FreeBSD 11" and meta["plan"]["warmup"] == 1


def test_existing_output_directory_is_refused(real):
    with pytest.raises(PmcsuiteError, match="already holds results"):
        import_l41([FIX / "run00000.txt"], real[0])


def test_parse_json_samples():
    samples = parse_l41_json((JSON_DIR / "pipe-dcache-v.json").read_text(), "j")
    assert len(samples) == 3
    first = samples[0]
    assert first["config"]["buffer_size"] == 65536 and first["config"]["time_s"] == 0.010213456
    assert first["pmctype"] == "dcache"
    assert set(first["events"]) == {"INST_RETIRED", "CPU_CYCLES", "L1D_CACHE", "L1D_CACHE_REFILL",
                                    "L2D_CACHE", "L2D_CACHE_REFILL"}
    assert first["ratios_skipped"] == 3
    assert first["host_configuration"]["hw.model"] == "ARM Cortex-A72 r0p3"
    rusage = parse_l41_json((JSON_DIR / "local-2proc-r-v.json").read_text(), "j")
    assert rusage[1]["rusage"] == {"utime_ns": 7812000, "stime_ns": 140625000}
    assert rusage[0]["pmctype"] is None and rusage[0]["events"] == {}


def test_json_import(tmp_path):
    import_l41([JSON_DIR / "pipe-dcache-v.json", JSON_DIR / "local-2proc-r-v.json"], tmp_path / "out")
    store = ResultStore(tmp_path / "out")
    runs, meta = store.read_runs(), store.read_metadata()
    assert [(r["ipc"], r["actors"], r["variant"], r["run"]) for r in runs] == [
        ("pipe", "2thread", "dcache", 0), ("pipe", "2thread", "dcache", 1), ("pipe", "2thread", "dcache", 2),
        ("local", "2proc", "baseline", 0), ("local", "2proc", "baseline", 1)]
    doc = json.loads((JSON_DIR / "pipe-dcache-v.json").read_text())
    sample = doc["benchmark_samples"][1]
    assert runs[1]["bench"]["bandwidth"] == pytest.approx(sample["bandwidth"] * KIB)
    assert runs[1]["bench"]["loop_ns"] == round(sample["time"] * 1e9)
    assert runs[1]["counters"]["l2_refill"] == {"event": "L2D_CACHE_REFILL", "value": 399871.0, "unit": "",
                                                "status": "ok"}
    assert "cycles_per_instruction" not in runs[1]["counters"] and len(runs[1]["counters"]) == 6
    assert runs[3]["bench"]["rusage"]["stime_ns"] == 144531000 and runs[3]["scope"] is None
    assert meta["platform"] == ["armv8"]
    assert meta["host"]["cpu_model"] == "ARM Cortex-A72 r0p3" and meta["host"]["cpus"] == 4
    df = load(tmp_path / "out")
    assert df["stime_ns"].iloc[3] == 144531000 and df["l1d_access"].notna().sum() == 3
    # one ipc-benchmark invocation (-n iterations) per file: its samples are the iterations of one process
    assert [(r["process"], r["iteration"], r["iterations"]) for r in runs] == [
        (0, 0, 3), (0, 1, 3), (0, 2, 3), (1, 0, 2), (1, 1, 2)]
    assert df["process"].tolist() == [0, 0, 0, 1, 1]


def test_json_directory_with_manifest(tmp_path):
    import_l41([JSON_DIR], tmp_path / "out")
    runs = ResultStore(tmp_path / "out").read_runs()
    assert len(runs) == 6
    nov = by_file(runs)["pipe-dcache-nov.json"]
    assert nov["variant"] == "dcache" and nov["buffer_size"] == 65536 and nov["run"] == 3


def test_json_without_configuration_needs_a_manifest(tmp_path):
    with pytest.raises(PmcsuiteError, match="--manifest"):
        import_l41([JSON_DIR / "pipe-dcache-nov.json"], tmp_path / "out")


def test_json_errors(tmp_path):
    text = (JSON_DIR / "pipe-dcache-v.json").read_text()
    with pytest.raises(PmcsuiteError, match=r"j:\d+: not valid JSON"):
        parse_l41_json(text[: len(text) // 2], "j")
    with pytest.raises(PmcsuiteError, match="no 'benchmark_samples'"):
        parse_l41_json('{"datum": []}', "j")
    doc = json.loads(text)
    doc["benchmark_configuration"]["iterations"] = 4
    with pytest.raises(PmcsuiteError, match="4 iterations but benchmark_samples has 3"):
        parse_l41_json(json.dumps(doc), "j")
    doc = json.loads(text)
    doc["benchmark_samples"][0]["BR_PRED"] = 12
    (tmp_path / "x.json").write_text(json.dumps(doc))
    with pytest.raises(PmcsuiteError, match="unknown event BR_PRED"):
        import_l41([tmp_path / "x.json"], tmp_path / "out")


def test_cli_import_exit_codes(tmp_path, cli):
    ok = cli("import", "l41", FIX, "--out", tmp_path / "o")
    assert ok.returncode == 0, ok.stderr
    assert len(ResultStore(tmp_path / "o").read_runs()) == 40
    bad = cli("import", "l41", FIX / "run00032.txt", "--out", tmp_path / "p")
    assert bad.returncode == 2 and "--manifest" in bad.stderr and "Traceback" not in bad.stderr


def test_imported_data_has_quartiles_and_error_bars(real, tmp_path):
    """Placement is unknown (None) in L41 data: summaries keep q25/q75, the figure draws error bars."""
    import matplotlib
    matplotlib.use("Agg")
    from pmcsuite.report import bandwidth
    df = load(real[0])
    summary = bandwidth.bandwidth_summary(df, real[1])
    assert summary["placement"].isna().all()
    assert summary["q25"].notna().all() and summary["q75"].notna().all()
    assert ((summary["q25"] <= summary["median"]) & (summary["median"] <= summary["q75"])).all()
    assert (summary["q75"] > summary["q25"]).any()
    drawn = []
    original = bandwidth.new_figure

    def spy(*a, **k):
        drawn.append(original(*a, **k))
        return drawn[-1]
    bandwidth.new_figure = spy
    try:
        bandwidth.plot_bandwidth(summary, "t", tmp_path / "bw.png")
    finally:
        bandwidth.new_figure = original
    bars = [c for fig in drawn for ax in fig.axes for c in ax.containers]
    assert bars and all(c.has_yerr for c in bars)
    segments = [seg for c in bars for seg in c.lines[2][0].get_segments()]
    assert any(abs(seg[1][1] - seg[0][1]) > 0 for seg in segments)        # the bars have a length


SECRET = "root:$6$secret-hash-line:19000:0:99999:7:::"


def _outside_file(tmp_path) -> Path:
    """A file outside the imported directory whose content must never reach an error line."""
    outside = tmp_path / "private" / "shadow.txt"
    outside.parent.mkdir()
    outside.write_text(SECRET + "\n")
    return outside


def test_a_symlink_out_of_the_directory_is_refused_without_reading_it(tmp_path):
    src = tmp_path / "given"
    src.mkdir()
    shutil.copy(FIX / "run00000.txt", src / "run00000.txt")
    (src / "zz.txt").symlink_to(_outside_file(tmp_path))
    with pytest.raises(PmcsuiteError) as caught:
        import_l41([src], tmp_path / "out")
    message = str(caught.value)
    assert "zz.txt" in message and "outside" in message and "\n" not in message
    assert "secret" not in message and not (tmp_path / "out").exists()


@pytest.mark.parametrize("listed", ["../private/shadow.txt", "ABSOLUTE", "link.txt"])
def test_a_manifest_found_in_the_directory_lists_only_files_inside_it(tmp_path, listed):
    outside = _outside_file(tmp_path)
    src = tmp_path / "given"
    src.mkdir()
    (src / "link.txt").symlink_to(outside)
    name = str(outside) if listed == "ABSOLUTE" else listed
    (src / "manifest.csv").write_text("file,ipctype,mode,buffersize,totalsize,run,flags\n"
                                      f"{name},pipe,2thread,1024,16777216,0,-i pipe\n")
    with pytest.raises(PmcsuiteError, match=r"manifest\.csv:2: .*outside") as caught:
        import_l41([src], tmp_path / "out")
    assert "secret" not in str(caught.value) and "\n" not in str(caught.value)


def test_a_manifest_symlinked_from_outside_is_refused(tmp_path):
    src = tmp_path / "given"
    src.mkdir()
    shutil.copy(FIX / "run00000.txt", src / "run00000.txt")
    (tmp_path / "elsewhere.csv").write_text("file\nrun00000.txt\n")
    (src / "manifest.csv").symlink_to(tmp_path / "elsewhere.csv")
    with pytest.raises(PmcsuiteError, match="manifest.csv.*outside"):
        import_l41([src], tmp_path / "out")


@pytest.mark.parametrize("old, new, message", [
    ("73087.63 KBytes/sec", "0 KBytes/sec", r"run00000\.txt:8: bandwidth is 0 KBytes/sec"),
    ("time: 0.224169250", "time: 0", r"run00000\.txt:7: time is 0 s"),
    ("73087.63 KBytes/sec", "730876.3 KBytes/sec", r"run00000\.txt:8: printed bandwidth .* disagrees .*\(10\.0x\)"),
])
def test_a_run_that_cannot_have_moved_its_data_is_refused(tmp_path, old, new, message):
    text = (FIX / "run00000.txt").read_text()
    assert old in text
    (tmp_path / "run00000.txt").write_text(text.replace(old, new))
    with pytest.raises(PmcsuiteError, match=message) as caught:
        import_l41([tmp_path / "run00000.txt"], tmp_path / "out")
    assert "\n" not in str(caught.value) and not (tmp_path / "out").exists()


def test_a_bandwidth_slightly_off_its_time_is_kept_with_a_warning(tmp_path):
    text = (FIX / "run00000.txt").read_text().replace("73087.63 KBytes/sec", "75000.00 KBytes/sec")
    (tmp_path / "run00000.txt").write_text(text)
    import_l41([tmp_path / "run00000.txt"], tmp_path / "out")
    [run] = ResultStore(tmp_path / "out").read_runs()
    assert "disagrees" in run["warnings"][0]


def test_a_json_sample_with_time_0_is_refused(tmp_path):
    doc = json.loads((JSON_DIR / "pipe-dcache-v.json").read_text())
    doc["benchmark_samples"][1]["time"] = 0
    (tmp_path / "x.json").write_text(json.dumps(doc))
    with pytest.raises(PmcsuiteError, match="time is 0 s"):
        import_l41([tmp_path / "x.json"], tmp_path / "out")
