"""A result directory is written only when it is ours, never through a link planted in it, by one writer
at a time (an OS lock that deleting .lock does not lift), and its files are read bounded and never waited
on (issue 18, item 3)."""
import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pmcsuite.errors import EnvironmentProblem
from pmcsuite.results import store as store_module
from pmcsuite.results.export import export
from pmcsuite.results.importers import import_csv
from pmcsuite.results.load import load
from pmcsuite.results.store import ResultStore
from runcli import cli

pytestmark = pytest.mark.unit

NOBODY = 65534
ROOT_ONLY = "root only: do not overwrite\n"


@pytest.fixture
def victim(tmp_path) -> Path:
    """A file a planted link points at; it must never change."""
    path = tmp_path / "victim"
    path.write_text(ROOT_ONLY)
    return path


def metadata_of(results_small: Path) -> dict:
    meta = json.loads((results_small / "metadata.json").read_text())
    return {k: v for k, v in meta.items() if k not in ("format", "format_version")}


@pytest.mark.parametrize("name", [".lock", "metadata.json.tmp"])
def test_a_link_planted_in_a_new_out_is_refused_never_followed(tmp_path, results_small, victim, name):
    out = tmp_path / "out"
    out.mkdir()
    (out / name).symlink_to(victim)
    store = ResultStore(out)
    with pytest.raises(EnvironmentProblem, match=rf"{name} is a symbolic link") as info:
        store.lock()
        store.create(metadata_of(results_small))
    assert info.value.exit_code == 3 and victim.read_text() == ROOT_ONLY


def test_a_journal_replaced_by_a_link_is_never_appended_through(results_small, victim):
    (results_small / "runs.jsonl").unlink()
    (results_small / "runs.jsonl").symlink_to(victim)
    store = ResultStore(results_small)
    store.lock()
    with pytest.raises(EnvironmentProblem, match="runs.jsonl is a symbolic link"):
        store.append_runs([{"seq": 1}])
    with pytest.raises(EnvironmentProblem, match="runs.jsonl is a symbolic link"):
        store.drop_incomplete_tail()
    assert victim.read_text() == ROOT_ONLY


def test_links_as_the_cache_or_its_temporary_file_are_not_followed(results_small, victim):
    journal = load(results_small, cache=False)
    (results_small / f".runs.cache.parquet.{os.getpid()}.tmp").symlink_to(victim)
    load(results_small)                                      # cannot write its cache: still a load
    assert victim.read_text() == ROOT_ONLY
    (results_small / f".runs.cache.parquet.{os.getpid()}.tmp").unlink(missing_ok=True)     # or removed
    load(results_small)
    real = results_small / "elsewhere.parquet"
    (results_small / "runs.cache.parquet").rename(real)
    (results_small / "runs.cache.parquet").symlink_to(real)
    assert load(results_small).equals(journal)
    assert (results_small / "runs.cache.parquet").is_symlink() is False      # replaced, not written through


@pytest.mark.parametrize("planted", ["export", "export/results.csv"])
def test_export_never_writes_through_a_link(results_small, tmp_path, victim, planted):
    if planted == "export":
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        (results_small / "export").symlink_to(elsewhere)
    else:
        (results_small / "export").mkdir()
        (results_small / planted).symlink_to(victim)
    with pytest.raises(EnvironmentProblem, match="is a symbolic link") as info:
        export(results_small)
    assert info.value.exit_code == 3 and victim.read_text() == ROOT_ONLY
    assert not list((tmp_path / "elsewhere").glob("*")) if planted == "export" else True


def test_the_cli_refuses_a_planted_link_in_one_line(results_small, victim):
    (results_small / "runs.jsonl").rename(results_small / "kept.jsonl")
    (results_small / "runs.jsonl").symlink_to(victim)
    proc = cli("summary", results_small)
    assert proc.returncode == 3 and "symbolic link" in proc.stderr and proc.stderr.count("\n") == 1


def test_an_out_another_user_owns_or_can_write_into_is_refused(tmp_path, results_small):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, NOBODY, NOBODY)
    with pytest.raises(EnvironmentProblem, match=r"theirs belongs to another user \(uid 65534\)") as info:
        ResultStore(theirs).lock()
    assert info.value.exit_code == 3 and not list(theirs.iterdir())
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chown(shared, NOBODY, NOBODY)
    shared.chmod(0o777)                                       # no sticky bit: anyone may swap what is in it
    for out in (shared / "out", shared / "a" / "b"):
        with pytest.raises(EnvironmentProblem, match=r"shared is writable by other users"):
            ResultStore(out).lock()
    assert not list(shared.iterdir())
    shared.chmod(0o1777)                                      # like /tmp: they cannot touch our entries
    ResultStore(shared / "out").lock()
    with pytest.raises(EnvironmentProblem, match="belongs to another user"):
        import_csv(_tidy_csv(results_small, tmp_path), theirs)


def _tidy_csv(results_small: Path, tmp_path: Path) -> Path:
    return [p for p in export(results_small, tmp_path / "exported", formats="csv") if p.name == "tidy.csv"][0]


def test_deleting_the_lock_file_lets_no_second_writer_in(tmp_path):
    out = tmp_path / "r"
    first = ResultStore(out)
    first.lock()
    (out / ".lock").unlink()
    with pytest.raises(EnvironmentProblem, match="being written by another pmcsuite") as info:
        ResultStore(out).lock()
    assert info.value.exit_code == 3


def test_a_resume_is_refused_while_a_writer_holds_the_directory_even_without_its_lock_file(results_small):
    holder = subprocess.Popen([sys.executable, "-c",
                               "import time\nfrom pmcsuite.results.store import ResultStore\n"
                               f"ResultStore({str(results_small)!r}).lock(); print('locked', flush=True); "
                               "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        (results_small / ".lock").unlink()
        before = (results_small / "runs.jsonl").read_bytes()
        proc = cli("collect", "--resume", results_small)
        assert proc.returncode == 3 and "being written by another pmcsuite" in proc.stderr
        assert (results_small / "runs.jsonl").read_bytes() == before
    finally:
        holder.kill()
        holder.wait()


def test_a_directory_replaced_mid_sweep_receives_nothing(results_small, tmp_path):
    store = ResultStore(results_small)
    store.lock()
    store.append_runs([])
    moved = tmp_path / "moved"
    results_small.rename(moved)
    results_small.mkdir()
    before = (moved / "runs.jsonl").read_bytes()
    with pytest.raises(EnvironmentProblem, match="removed, moved or replaced") as info:
        store.append_runs([{"seq": 999}])
    assert info.value.exit_code == 3
    assert not list(results_small.iterdir()) and (moved / "runs.jsonl").read_bytes() == before


def test_two_imports_into_one_out_never_both_succeed(results_small, tmp_path):
    source = _tidy_csv(results_small, tmp_path)
    other = ResultStore(tmp_path / "out")
    other.lock()                                 # another import (or collect) is writing there
    with pytest.raises(EnvironmentProblem, match="being written by another pmcsuite") as info:
        import_csv(source, tmp_path / "out")
    assert info.value.exit_code == 3 and not (tmp_path / "out" / "runs.jsonl").exists()
    other.unlock()
    import_csv(source, tmp_path / "out")


def test_the_loser_of_two_collects_into_one_out_exits_3(tmp_path, results_small):
    winner = ResultStore(tmp_path / "d")         # still collecting: its metadata.json is written
    winner.lock()
    winner.create(metadata_of(results_small))
    proc = cli("collect", "--out", tmp_path / "d", "--quick", "--ipc", "pipe", "--sizes", "64K", "--backend", "none")
    assert proc.returncode == 3 and "being written by another pmcsuite" in proc.stderr


def test_no_space_while_taking_the_lock_is_one_line_exit_3(results_small, monkeypatch):
    def full(*_):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(store_module.os, "pwrite", full)
    with pytest.raises(EnvironmentProblem, match="the disk is full") as info:
        ResultStore(results_small).lock()
    assert info.value.exit_code == 3
    monkeypatch.undo()
    ResultStore(results_small).lock()            # the failed attempt held nothing


def test_an_oversized_metadata_file_is_refused_in_one_line(results_small):
    with open(results_small / "metadata.json", "r+b") as handle:
        handle.truncate(store_module.METADATA_LIMIT + 1)          # sparse: no disk used
    proc = cli("summary", results_small)
    assert proc.returncode == 2 and "larger than 64 MiB" in proc.stderr and proc.stderr.count("\n") == 1


@pytest.mark.parametrize("name", ["metadata.json", "runs.jsonl", "runs.cache.parquet"])
def test_a_fifo_in_a_result_directory_is_never_waited_on(results_small, name):
    path = results_small / name
    path.unlink(missing_ok=True)
    os.mkfifo(path)
    started = time.monotonic()
    proc = cli("summary", results_small, timeout=60)
    assert time.monotonic() - started < 60
    if name == "runs.cache.parquet":               # only a cache: ignored, the journal answers
        assert proc.returncode == 0, proc.stderr
    else:
        assert proc.returncode == 2 and "is not a regular file" in proc.stderr and proc.stderr.count("\n") == 1
