"""The command line: every bad input is one line on stderr, exit status 2, no traceback.

The commands run in-process (the ``cli`` fixture calls ``pmcsuite.cli.main``); the entry point itself
(``python -m pmcsuite``: its exit status, its streams) is checked in a subprocess."""
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from runcli import cli as entry_point

pytestmark = pytest.mark.e2e

L41 = Path(__file__).resolve().parent / "fixtures" / "l41"
#: the smallest real collection: no counters, one mode, runs of 1 MiB
QUICK = ["--backend", "none", "--ipc", "pipe", "--total", "1M"]


def one_line_error(proc, *fragments, code=2):
    """One line on stderr, and the documented exit status: 2 bad input, 3 the environment (errors.py)."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pmcsuite: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def test_the_entry_point_prints_and_exits_with_the_commands_status(tmp_path):
    version = entry_point("--version")
    assert version.returncode == 0 and version.stdout.strip().startswith("pmcsuite ")
    one_line_error(entry_point("frobnicate"), "invalid choice")                        # argparse: 2
    one_line_error(entry_point("report", tmp_path), "no metadata.json")                 # bad input: 2
    one_line_error(entry_point("collect", *QUICK, "--sizes", "1M", "--runs", "2", "--out", "/proc/no/such/dir"),
                   "cannot create result directory", code=3)                         # the environment: 3


def test_malformed_catalogue_names_file_and_line(cli, tmp_path):
    bad = tmp_path / "mine.yaml"
    bad.write_text("counters:\n  l1d_refill:\n    description: [unclosed\n")
    one_line_error(cli("check", "--catalogue", bad), "mine.yaml", "line")


def test_unknown_key_in_catalogue(cli, tmp_path):
    bad = tmp_path / "mine.yaml"
    bad.write_text("groups:\n  l1:\n    description: x\n    counterz: [l1d_access]\n")
    one_line_error(cli("counters", "--catalogue", bad), "counterz")


def test_unknown_counter_group(cli, tmp_path):
    one_line_error(cli("collect", "--counters", "l3,syscalls", "--out", tmp_path / "r"),
                   "unknown counter group or counter 'l3'")
    assert not (tmp_path / "r").exists()


def test_invalid_sizes(cli, tmp_path):
    one_line_error(cli("bench", "--buffer", "3000"), "not a multiple")
    one_line_error(cli("collect", "--sizes", "16M-1K", "--out", tmp_path / "r"), "must not exceed")
    assert not (tmp_path / "r").exists()


def test_missing_tool(cli, tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))        # no perf (and nothing else) on PATH
    one_line_error(cli("collect", "--backend", "perf", "--counters", "syscalls", "--out", tmp_path / "r", env=env),
                   "perf not found", code=3)
    assert not (tmp_path / "r").exists()
    proc = cli("check", "--backend", "perf", "--counters", "syscalls", env=env)
    assert proc.returncode == 3 and "tool_missing" in proc.stdout            # nothing can count: environment
    assert "none of these counters can be counted here" in proc.stderr
    # in-process counting needs no tool, only the compiler that builds the benchmark
    one_line_error(cli("collect", "--counters", "syscalls", "--out", tmp_path / "r", env=env), "no C compiler found",
                   code=3)
    assert not (tmp_path / "r").exists()


def test_not_a_result_directory(cli, tmp_path):
    one_line_error(cli("report", tmp_path), "no metadata.json")
    one_line_error(cli("summary", tmp_path / "absent"), "not a directory")


def test_corrupt_metadata(cli, tmp_path):
    (tmp_path / "metadata.json").write_text("{not json")
    (tmp_path / "runs.jsonl").write_text("")
    one_line_error(cli("explain", tmp_path), "corrupt")


def test_report_without_directory_and_without_results(cli, tmp_path):
    one_line_error(cli("report", cwd=tmp_path), "run 'pmcsuite collect' first")


def test_corrupt_l41_file(cli, tmp_path):
    bad = tmp_path / "run.txt"
    bad.write_text("Benchmark configuration:\n  buffersize: 1024\n  totalsize: 16777216\n")
    one_line_error(cli("import", "l41", bad, "--out", tmp_path / "out"), "run.txt")
    assert not (tmp_path / "out").exists()


def test_real_l41_sample_through_every_command(cli, tmp_path):
    out = tmp_path / "l41"
    proc = cli("import", "l41", L41, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert cli("summary", out).returncode == 0
    overhead = cli("overhead", out, "--json")
    assert overhead.returncode == 0, overhead.stderr
    assert json.loads(overhead.stdout)
    explain = cli("explain", out, "--json")
    assert explain.returncode == 0, explain.stderr
    assert "pipe" in json.loads(explain.stdout)["modes"]
    report = cli("report", out, "--out", tmp_path / "rep")
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "rep" / "report.html").stat().st_size > 10_000


def test_bench_prints_one_point_without_dicts(cli):
    proc = cli("bench", "--ipc", "pipe", "--buffer", "64K", "--total", "4M")
    assert proc.returncode == 0, proc.stderr
    assert "pipe 2thread placement same, buffer 64K:" in proc.stdout and "64 writes" in proc.stdout
    assert "{" not in proc.stdout                       # collect's placement by default, no raw dicts


def test_usage_errors_are_one_line_too(cli):
    one_line_error(cli("bench", "--buffer"), "expected one argument")
    one_line_error(cli("frobnicate"), "invalid choice")


def test_resume_refuses_sweep_options(cli, tmp_path):
    one_line_error(cli("collect", "--resume", tmp_path, "--sizes", "1K"), "drop --sizes")


@pytest.fixture(scope="module")
def small_results(cli, tmp_path_factory):
    """A real collection of 4 runs at 64K (no counters), through the command line."""
    out = tmp_path_factory.mktemp("cli") / "res"
    proc = cli("collect", *QUICK, "--sizes", "64K", "--runs", "4", "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_collect_says_what_it_did(small_results):
    out, proc = small_results
    collected = json.loads(proc.stdout)
    assert collected["runs"] == 4 and collected["provenance"]["results"] == str(out)
    # not a terminal: progress comes as one-line updates, the last at the end
    assert "pmcsuite: 4/4 runs (100%)" in proc.stderr


def test_json_on_every_command_that_prints_results(cli, small_results, tmp_path):
    out, _ = small_results
    for argv in (("summary", out), ("check", "--counters", "page_faults"), ("counters",), ("overhead", out),
                 ("explain", out)):
        proc = cli(*argv, "--json")
        assert proc.returncode == 0, (argv, proc.stderr)
        assert "provenance" in json.loads(proc.stdout), argv
    summary = json.loads(cli("summary", out, "--json").stdout)
    assert summary["unit"] == "bytes/s" and summary["cells"][0]["buffer_size"] == 65536
    imported = json.loads(cli("import", "l41", L41, "--out", tmp_path / "l41", "--json").stdout)
    assert imported["runs"] > 0 and imported["directory"] == str(tmp_path / "l41")


def test_json_outputs_carry_provenance(cli, small_results):
    out, _ = small_results
    for command in ("explain", "overhead"):
        proc = cli(command, out, "--json")
        assert proc.returncode == 0, proc.stderr
        prov = json.loads(proc.stdout)["provenance"]
        assert prov["results"] == str(out) and prov["collected"]["host"]["kernel"]
        assert prov["collected"]["command_line"][:2] == ["pmcsuite", "collect"] and prov["generated"]


def test_export_lists_every_file_it_writes(cli, small_results, tmp_path):
    out, _ = small_results
    proc = cli("export", out, "--out", tmp_path / "x")
    assert proc.returncode == 0, proc.stderr
    listed = proc.stdout.split()
    assert sorted(listed) == sorted(str(p) for p in (tmp_path / "x").iterdir())
    assert [Path(p).name for p in listed] == ["results.csv", "tidy.csv", "summary.csv", "derived.csv", "results.json",
                                              "results.parquet", "metadata.json"]
    meta = json.loads((tmp_path / "x" / "metadata.json").read_text())
    assert meta["host"]["kernel"] and meta["exported_from"] == str(out)
    proc = cli("export", out, "--out", tmp_path / "y", "--format", "parquet", "--json")
    assert proc.returncode == 0, proc.stderr
    files = json.loads(proc.stdout)["files"]
    assert [Path(f["path"]).name for f in files] == ["results.parquet", "metadata.json"]
    assert all(f["bytes"] == Path(f["path"]).stat().st_size > 0 for f in files)
    one_line_error(cli("export", out, "--out", tmp_path / "z", "--format", "xlsx"), "unknown export format 'xlsx'")
    (tmp_path / "file").write_text("")
    one_line_error(cli("export", out, "--out", tmp_path / "file"), "is a file")


def test_corrupt_lines_are_announced(cli, small_results, tmp_path):
    copy = Path(shutil.copytree(small_results[0], tmp_path / "copy"))
    lines = (copy / "runs.jsonl").read_text().splitlines()
    (copy / "runs.jsonl").write_text("\n".join([lines[0], "{garbage", *lines[1:]]) + "\n")
    proc = cli("summary", copy)
    assert proc.returncode == 0
    assert "runs.jsonl lines 2 are corrupt or truncated and were left out" in proc.stderr


def test_summary_reads_like_a_table_for_people(cli, small_results):
    text = cli("summary", small_results[0]).stdout
    assert " 64K " in text and "65536" not in text and "nan" not in text


def test_the_directory_picked_is_named(cli, small_results, tmp_path):
    shutil.copytree(small_results[0], tmp_path / "results" / "a")
    proc = cli("summary", cwd=tmp_path)
    assert proc.returncode == 0 and "using the newest result directory, results/a" in proc.stderr


def test_every_command_has_examples_in_its_help(cli):
    listed = cli("--help").stdout             # "  COMMAND" then one "    name   what it does" a command
    commands = re.findall(r"^    (\w+) ", listed.split("  COMMAND\n", 1)[1], re.M)
    assert {"collect", "report", "summary", "compare"} <= set(commands)
    for name in commands:
        proc = cli(name, "--help")
        assert proc.returncode == 0 and "examples:" in proc.stdout and f"pmcsuite {name}" in proc.stdout, name


def test_a_second_sigterm_while_the_first_is_handled_prints_no_traceback(tmp_path):
    """Two SIGTERMs in a row (a service manager, then an impatient user): the second lands while the
    first's cleanup runs; it is ignored there, not raised in the middle of it. Ten tries, gaps of 0-9 ms."""
    import signal
    import subprocess
    import sys
    import time
    for attempt in range(10):
        out = tmp_path / f"r{attempt}"
        proc = subprocess.Popen([sys.executable, "-m", "pmcsuite", "collect", *QUICK, "--sizes", "4K-64K",
                                 "--runs", "40", "--no-progress", "--out", str(out)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not (out / "runs.jsonl").exists() or not (out / "runs.jsonl").stat().st_size:
            assert proc.poll() is None and time.monotonic() < deadline, "the sweep stored no run"
            time.sleep(0.005)
        proc.send_signal(signal.SIGTERM)
        time.sleep(attempt / 1000)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert "Traceback" not in err and proc.returncode == 143, (attempt, proc.returncode, err)
        errors = [line for line in err.splitlines() if line.startswith("pmcsuite: error: ")]
        assert len(errors) == 1 and "interrupted (SIGTERM)" in errors[0], err
