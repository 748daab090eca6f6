"""The command line: every bad input is one line on stderr, exit status 2, no traceback."""
import json
import shutil
import os
import subprocess
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
L41 = ROOT / "tests" / "fixtures" / "l41"


def run(*argv, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "pmcsuite", *map(str, argv)], capture_output=True, text=True,
                          timeout=300, env=env, cwd=cwd)


def one_line_error(proc, *fragments, code=2):
    """One line on stderr, and the documented exit status: 2 bad input, 3 the environment (errors.py)."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pmcsuite: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def test_malformed_catalogue_names_file_and_line(tmp_path):
    bad = tmp_path / "mine.yaml"
    bad.write_text("counters:\n  l1d_refill:\n    description: [unclosed\n")
    one_line_error(run("check", "--catalogue", bad), "mine.yaml", "line")


def test_unknown_key_in_catalogue(tmp_path):
    bad = tmp_path / "mine.yaml"
    bad.write_text("groups:\n  l1:\n    description: x\n    counterz: [l1d_access]\n")
    one_line_error(run("counters", "--catalogue", bad), "counterz")


def test_unknown_counter_group():
    one_line_error(run("collect", "--counters", "l3,syscalls"), "unknown counter group or counter 'l3'")


def test_invalid_sizes():
    one_line_error(run("bench", "--buffer", "3000"), "not a multiple")
    one_line_error(run("collect", "--sizes", "16M-1K"), "must not exceed")


def test_missing_tool(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))        # no perf (and nothing else) on PATH
    one_line_error(run("collect", "--backend", "perf", "--counters", "syscalls", "--out", tmp_path / "r", env=env),
                   "perf not found", code=3)
    assert not (tmp_path / "r").exists()
    proc = run("check", "--backend", "perf", "--counters", "syscalls", env=env)
    assert proc.returncode == 3 and "tool_missing" in proc.stdout            # nothing can count: environment
    assert "none of these counters can be counted here" in proc.stderr
    # in-process counting needs no tool, only the compiler that builds the benchmark
    one_line_error(run("collect", "--counters", "syscalls", "--out", tmp_path / "r", env=env), "no C compiler found",
                   code=3)
    assert not (tmp_path / "r").exists()


def test_unwritable_output(tmp_path):
    one_line_error(run("collect", "--backend", "none", "--sizes", "1M", "--runs", "2", "--out", "/proc/no/such/dir"),
                   "cannot create result directory", code=3)


def test_not_a_result_directory(tmp_path):
    one_line_error(run("report", tmp_path), "no metadata.json")
    one_line_error(run("summary", tmp_path / "absent"), "not a directory")


def test_corrupt_metadata(tmp_path):
    (tmp_path / "metadata.json").write_text("{not json")
    (tmp_path / "runs.jsonl").write_text("")
    one_line_error(run("explain", tmp_path), "corrupt")


def test_report_without_directory_and_without_results(tmp_path):
    one_line_error(run("report", cwd=tmp_path), "run 'pmcsuite collect' first")


def test_corrupt_l41_file(tmp_path):
    bad = tmp_path / "run.txt"
    bad.write_text("Benchmark configuration:\n  buffersize: 1024\n  totalsize: 16777216\n")
    one_line_error(run("import", "l41", bad, "--out", tmp_path / "out"), "run.txt")
    assert not (tmp_path / "out").exists()


def test_real_l41_sample_through_every_command(tmp_path):
    out = tmp_path / "l41"
    proc = run("import", "l41", L41, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert run("summary", out).returncode == 0
    overhead = run("overhead", out, "--json")
    assert overhead.returncode == 0, overhead.stderr
    assert json.loads(overhead.stdout)
    explain = run("explain", out, "--json")
    assert explain.returncode == 0, explain.stderr
    assert "pipe" in json.loads(explain.stdout)["modes"]
    report = run("report", out, "--out", tmp_path / "rep")
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "rep" / "report.html").stat().st_size > 10_000


def test_bench_prints_one_point():
    proc = run("bench", "--ipc", "pipe", "--buffer", "64K", "--total", "4M")
    assert proc.returncode == 0, proc.stderr
    assert "pipe 2thread placement same, buffer 64K:" in proc.stdout and "64 writes" in proc.stdout


def test_usage_errors_are_one_line_too():
    one_line_error(run("bench", "--buffer"), "expected one argument")
    one_line_error(run("frobnicate"), "invalid choice")


def test_resume_refuses_sweep_options(tmp_path):
    one_line_error(run("collect", "--resume", tmp_path, "--sizes", "1K"), "drop --sizes")


@pytest.fixture(scope="module")
def small_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "res"
    proc = run("collect", "--backend", "none", "--ipc", "pipe", "--sizes", "64K,1M", "--runs", "3", "--total", "4M",
               "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out


def test_json_outputs_carry_provenance(small_results):
    for command in ("explain", "overhead"):
        proc = run(command, small_results, "--json")
        assert proc.returncode == 0, proc.stderr
        prov = json.loads(proc.stdout)["provenance"]
        assert prov["results"] == str(small_results) and prov["collected"]["host"]["kernel"]
        assert prov["collected"]["command_line"][:2] == ["pmcsuite", "collect"] and prov["generated"]


def test_export_lists_every_file_it_writes(small_results, tmp_path):
    proc = run("export", small_results, "--out", tmp_path / "x")
    assert proc.returncode == 0, proc.stderr
    listed = proc.stdout.split()
    assert sorted(listed) == sorted(str(p) for p in (tmp_path / "x").iterdir())
    assert [Path(p).name for p in listed] == ["results.csv", "tidy.csv", "summary.csv", "derived.csv", "results.json",
                                              "results.parquet", "metadata.json"]
    meta = json.loads((tmp_path / "x" / "metadata.json").read_text())
    assert meta["host"]["kernel"] and meta["exported_from"] == str(small_results)
    proc = run("export", small_results, "--out", tmp_path / "y", "--format", "parquet", "--json")
    assert proc.returncode == 0, proc.stderr
    files = json.loads(proc.stdout)["files"]
    assert [Path(f["path"]).name for f in files] == ["results.parquet", "metadata.json"]
    assert all(f["bytes"] == Path(f["path"]).stat().st_size > 0 for f in files)
    proc = run("export", small_results, "--out", tmp_path / "z", "--format", "xlsx")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "unknown export format 'xlsx'" in proc.stderr
    (tmp_path / "file").write_text("")
    proc = run("export", small_results, "--out", tmp_path / "file")
    assert proc.returncode == 2 and "is a file" in proc.stderr


def test_corrupt_lines_are_announced(small_results, tmp_path):
    copy = Path(shutil.copytree(small_results, tmp_path / "copy"))
    lines = (copy / "runs.jsonl").read_text().splitlines()
    (copy / "runs.jsonl").write_text("\n".join([lines[0], "{garbage", *lines[1:]]) + "\n")
    proc = run("summary", copy)
    assert proc.returncode == 0
    assert "runs.jsonl lines 2 are corrupt or truncated and were left out" in proc.stderr


def test_version_and_examples_in_every_help():
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.strip().startswith("pmcsuite ")
    from pmcsuite.cli import EXAMPLES, build_parser
    commands = build_parser()._subparsers._group_actions[0].choices
    for name in commands:
        text = run(name, "--help").stdout
        assert "examples:" in text and f"pmcsuite {name}" in text, name
    assert set(EXAMPLES) == set(commands)


def test_json_on_every_command_that_prints_results(tmp_path):
    out = tmp_path / "r"
    proc = run("collect", "--backend", "none", "--ipc", "pipe", "--sizes", "64K", "--runs", "4", "--total", "1M",
               "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    collected = json.loads(proc.stdout)
    assert collected["runs"] == 4 and collected["provenance"]["results"] == str(out)
    # not a terminal: progress comes as one-line updates, the last at the end
    assert "pmcsuite: 4/4 runs (100%)" in proc.stderr
    for argv in (("summary", out), ("check", "--counters", "page_faults"), ("counters",), ("overhead", out),
                 ("explain", out)):
        proc = run(*argv, "--json")
        assert proc.returncode == 0, (argv, proc.stderr)
        assert "provenance" in json.loads(proc.stdout), argv
    summary = json.loads(run("summary", out, "--json").stdout)
    assert summary["unit"] == "bytes/s" and summary["cells"][0]["buffer_size"] == 65536
    imported = json.loads(run("import", "l41", L41, "--out", tmp_path / "l41", "--json").stdout)
    assert imported["runs"] > 0 and imported["directory"] == str(tmp_path / "l41")


def test_summary_reads_like_a_table_for_people(tmp_path):
    out = tmp_path / "r"
    assert run("collect", "--backend", "none", "--ipc", "pipe", "--sizes", "64K", "--runs", "4", "--total", "1M",
               "--out", out).returncode == 0
    text = run("summary", out).stdout
    assert " 64K " in text and "65536" not in text and "nan" not in text


def test_the_directory_picked_is_named(tmp_path):
    results = tmp_path / "results"
    assert run("collect", "--backend", "none", "--ipc", "pipe", "--sizes", "64K", "--runs", "2", "--total", "1M",
               "--out", results / "a").returncode == 0
    proc = run("summary", cwd=tmp_path)
    assert proc.returncode == 0 and "using the newest result directory, results/a" in proc.stderr


def test_bench_defaults_to_collects_placement_and_prints_no_dicts():
    proc = run("bench", "--ipc", "pipe", "--buffer", "64K", "--total", "1M")
    assert proc.returncode == 0 and "placement same" in proc.stdout and "{" not in proc.stdout
