"""Run only what was built and checked (issue 18, item 3): a benchmark cache whose path another user
could change is refused, and a sweep runs a private copy it verified, whatever happens to the cached
file meanwhile."""
import json
import os
import pwd

import pytest

import pmcsuite
from pmcsuite.collect import benchmark as bm
from pmcsuite.collect import sweep as collect_sweep
from pmcsuite.collect.executable import unsafe_part, verified_copy
from pmcsuite.errors import EnvironmentProblem, PmcsuiteError
from pmcsuite.results.store import ResultStore

pytestmark = pytest.mark.e2e

PLANTED = "#!/bin/sh\necho planted >&2\nexit 9\n"


def refused(cache, part):
    with pytest.raises(EnvironmentProblem) as info:
        bm.build(cache_dir=cache)
    message = str(info.value)
    assert str(part) in message and "PMCSUITE_CACHE" in message and "\n" not in message
    return message


def test_cache_under_a_group_writable_parent_is_refused(tmp_path):
    """Before: only the cache directory itself was checked; whoever could write its parent could swap it."""
    parent = tmp_path / "shared"
    parent.mkdir()
    parent.chmod(0o775)
    assert "writable by group" in refused(parent / "pmcsuite", parent)
    assert not (parent / "pmcsuite").exists()                # nothing created under it
    parent.chmod(0o1777)                                     # sticky (like /tmp): others cannot swap ours
    assert bm.build(cache_dir=parent / "pmcsuite").is_file()


@pytest.mark.skipif(os.getuid() != 0, reason="chown to another user needs root")
def test_cache_under_a_parent_owned_by_another_user_is_refused(tmp_path):
    """root with another user's XDG_CACHE_HOME (sudo -E): that user owns the parent and could swap it."""
    nobody = pwd.getpwnam("nobody").pw_uid
    home = tmp_path / "home"
    (home / ".cache").mkdir(parents=True)
    os.chown(home, nobody, -1)
    assert f"owned by uid {nobody}" in refused(home / ".cache" / "pmcsuite", home)
    os.chown(home, 0, -1)
    os.chown(home / ".cache", nobody, -1)
    refused(home / ".cache" / "pmcsuite", home / ".cache")


def test_symlinked_cache_is_checked_where_it_leads(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (tmp_path / "link").symlink_to(shared)
    refused(tmp_path / "link" / "cache", shared)
    assert unsafe_part(tmp_path) is None


def test_the_verified_copy_runs_whatever_happens_to_the_cache(tmp_path):
    exe = bm.build(cache_dir=tmp_path / "cache")
    info = bm.build_info(cache_dir=tmp_path / "cache")
    with verified_copy(exe, info["sha256"]) as copy:
        assert copy != exe and (copy.parent.stat().st_mode & 0o777) == 0o700
        exe.unlink()
        exe.write_text(PLANTED)
        exe.chmod(0o755)
        assert bm.run_bench(bm.bench_argv(copy, "pipe", "64K", "1M"), timeout=60)["bytes_ok"]
    assert not copy.parent.exists()
    with pytest.raises(EnvironmentProblem, match="changed since it was built"), \
            verified_copy(exe, info["sha256"]):
        pass


def test_a_sweep_runs_the_benchmark_it_verified(tmp_path, monkeypatch):
    """Before: each benchmark process was started by the cache's path: a file swapped there mid-sweep
    ran (as root). Now the sweep runs its verified private copy."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("PMCSUITE_CACHE", str(cache))
    exe = bm.build()
    execute = collect_sweep.execute

    def swap_then_execute(store, jobs, runner):
        exe.unlink()
        exe.write_text(PLANTED)
        exe.chmod(0o755)
        assert str(runner.exe) != str(exe)
        return execute(store, jobs, runner)

    monkeypatch.setattr(collect_sweep, "execute", swap_then_execute)
    out = tmp_path / "out"
    pmcsuite.collect(out=out, ipcs=["pipe"], sizes="64K", runs=4, warmup=1, processes=2, total="1M",
                     backend="none", progress=False)
    records = [record for _, record in ResultStore(out).iter_runs()]
    assert len(records) == 4 and all(r["ok"] for r in records)


def test_resume_does_not_run_a_command_stored_in_the_result_directory(tmp_path):
    """Before: --resume ran settings.ssh_command / settings.target_cc from metadata.json: a result
    directory someone hands you ran their command as you."""
    out = tmp_path / "handed"
    pmcsuite.collect(out=out, ipcs=["pipe"], sizes="64K", runs=4, warmup=1, processes=2, total="1M",
                     backend="none", progress=False)
    (out / "runs.jsonl").write_text((out / "runs.jsonl").read_text().splitlines(keepends=True)[0])
    marker = tmp_path / "ran"
    meta = json.loads((out / "metadata.json").read_text())
    for option, name in (("--ssh-command", "ssh_command"), ("--target-cc", "target_cc")):
        planted = f"sh -c 'touch {marker}'"
        settings = {**meta["settings"], "host": "target.example", "ssh_command": None, "target_cc": None, name: planted}
        (out / "metadata.json").write_text(json.dumps(dict(meta, settings=settings)))
        with pytest.raises(PmcsuiteError) as info:
            pmcsuite.collect(resume=out, progress=False)
        message = str(info.value)
        assert f"give {option} again" in message and planted in message and "\n" not in message
        assert not marker.exists()
    (out / "metadata.json").write_text(json.dumps(meta))           # collected here: nothing to give again
    with pytest.raises(PmcsuiteError, match="--target-cc: .* was collected on this machine"):
        pmcsuite.collect(resume=out, target_cc="cc", progress=False)
    pmcsuite.collect(resume=out, progress=False)
    assert len(list(ResultStore(out).iter_runs())) == 4


def test_cli_resume_names_the_stored_command_and_exits_2(cli, tmp_path):
    out = tmp_path / "handed"
    assert cli("collect", "--ipc", "pipe", "--sizes", "64K", "--runs", "4", "--processes", "2", "--total", "1M",
               "--backend", "none", "--out", out, "--no-progress").returncode == 0
    meta = json.loads((out / "metadata.json").read_text())
    meta["settings"].update(host="target.example", ssh_command="ssh -o ProxyCommand=evil")
    (out / "metadata.json").write_text(json.dumps(meta))
    proc = cli("collect", "--resume", out, "--no-progress")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "--ssh-command 'ssh -o ProxyCommand=evil'" in proc.stderr
    proc = cli("collect", "--resume", out, "--target-cc", "cc", "--no-progress")   # accepted with --resume now
    assert "drop" not in proc.stderr and "give --ssh-command again" in proc.stderr
