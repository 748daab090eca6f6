"""Inputs a user (or someone handing them files) can get wrong: each is refused in one line with the
documented exit status (README "When things go wrong"), read with a bound, and never hangs."""
import copy
import functools
import json
import os
import shutil

import pytest

from runcli import cli as entry_point

pytestmark = pytest.mark.e2e

QUICK = ["--backend", "none", "--ipc", "pipe", "--total", "1M", "--sizes", "1M", "--runs", "2"]


def one_line(proc, *fragments, code=2):
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pmcsuite: error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def _hosts(cli, path, tmp_path):
    return cli("collect", *QUICK, "--hosts", path, "--out", tmp_path / "out")


def _catalogue(cli, path, tmp_path):
    return cli("counters", "--catalogue", path)


@pytest.mark.parametrize("read", [_hosts, _catalogue])
def test_a_device_is_refused_not_read(cli, tmp_path, read):
    one_line(read(cli, "/dev/zero", tmp_path), "/dev/zero is a device, not a regular file")


@pytest.mark.parametrize("read", [_hosts, _catalogue])
def test_a_file_over_16M_is_refused_unread(cli, tmp_path, read):
    big = tmp_path / "big"
    with open(big, "wb") as f:
        f.truncate(17 << 20)
    one_line(read(cli, big, tmp_path), "larger than 16MB")


@pytest.mark.parametrize("read", [_hosts, _catalogue])
def test_binary_content_is_one_line(cli, tmp_path, read):
    binary = tmp_path / "binary"
    binary.write_bytes(bytes(range(256)) * 8)
    one_line(read(cli, binary, tmp_path), "not UTF-8")


@pytest.mark.parametrize("option", [["collect", *QUICK, "--hosts"], ["counters", "--catalogue"]])
def test_a_fifo_is_refused_without_hanging(tmp_path, option):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    extra = ["--out", tmp_path / "out"] if option[0] == "collect" else []
    proc = entry_point(*option, fifo, *extra, timeout=60)          # a hang raises TimeoutExpired: a failure
    one_line(proc, "is a FIFO, not a regular file")


@pytest.mark.parametrize("corrupt", ['{"settings": [1', "[]", '{"settings": {"host": 7}}', "\x00\xff"])
def test_a_fleet_resume_with_one_corrupt_host_resumes_the_others(cli, tmp_path, corrupt):
    fleet = tmp_path / "fleet"
    assert cli("collect", *QUICK, "--out", fleet / "a").returncode == 0
    assert cli("collect", *QUICK, "--out", fleet / "b").returncode == 0
    (fleet / "b" / "metadata.json").write_text(corrupt)
    proc = cli("collect", "--resume", fleet)
    assert proc.returncode == 2, proc.stderr
    assert "pmcsuite: a: done" in proc.stderr and "1 of 2 hosts failed (b: " in proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("paranoid", ["", "\n", "   ", "garbage"])
def test_a_remote_linux_perf_event_paranoid_that_reads_empty_is_unknown(paranoid):
    from pmcsuite.collect.remote import host_from_sections
    host = host_from_sections({"system": "Linux", "paranoid": paranoid, "nproc": "4"})
    assert host["perf_event_paranoid"] is None and host["cpus"] == 4
    assert host_from_sections({"system": "Linux"})["perf_event_paranoid"] is None     # the section missing


@pytest.mark.parametrize("name", ["x" * 300, "x/" * 3000])
def test_an_out_name_too_long_is_one_line(cli, tmp_path, name):
    one_line(cli("collect", *QUICK, "--out", tmp_path / name), "file name too long", "characters")
    one_line(cli("summary", tmp_path / name), "file name too long")


def test_the_ssh_control_directory_a_killed_sweep_left_is_removed_at_the_next_start(tmp_path, monkeypatch):
    """kill -9 of a remote sweep cannot remove its control directory (pmcsuite-ssh-PID-*); the next
    connection removes those whose pid is gone, and leaves a live process's alone."""
    import subprocess
    import sys
    import tempfile

    from pmcsuite.collect.ssh import SshTarget
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"pmcsuite-ssh-{int(gone.stdout)}-k9left"
    live = tmp_path / f"pmcsuite-ssh-{os.getpid()}-inuse"
    for directory in (stale, live):
        directory.mkdir()
        (directory / "cm").write_text("")
    target = SshTarget("example.invalid", ssh_command="true")        # 'true' stands in for ssh: no network
    try:
        target.connect()
        assert not stale.exists() and live.exists()
    finally:
        target.close()


# ---- a wrong type anywhere in metadata.json -------------------------------------------------------

_WRONG = {"list": [1, "x"], "dict": {"a": 1}, "str": "zz", "int": 7}


def _key_paths(value, path=()):
    """Every key path of a JSON document (a list's first item stands for the rest)."""
    if path:
        yield path
    items = value.items() if isinstance(value, dict) else enumerate(value[:1]) if isinstance(value, list) else ()
    for key, inner in items:
        yield from _key_paths(inner, (*path, key))


@pytest.fixture(scope="module")
def full_result(tmp_path_factory):
    """A real collection whose metadata.json also holds what a remote, resumed, --target-ci sweep writes."""
    out = tmp_path_factory.mktemp("meta") / "r"
    proc = entry_point("collect", "--backend", "inproc", "--counters", "faults", "--ipc", "pipe", "--total", "1M",
                       "--sizes", "4K", "--runs", "4", "--no-progress", "--out", out)
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((out / "metadata.json").read_text())
    meta["settings"].update(target_ci=5.0, max_runs=40, host="u@example:22", ssh_command="ssh -p 22", tag="t",
                            target_cc="cc")
    meta["host"]["via"] = {"ssh": "u@example:22", "ssh_command": "ssh", "cache_dir": "/c", "workstation": "w"}
    meta["resumes"] = [{"time": "2026-01-01T00:00:00Z", "command_line": ["pmcsuite"], "remaining": 3, "timeout": 9.0}]
    meta["lost_groups"] = {"syscalls": "tracefs is not mounted"}
    (out / "metadata.json").write_text(json.dumps(meta))
    return out, meta


def test_a_wrong_type_at_any_key_path_of_metadata_is_one_line_never_70(cli, tmp_path, full_result):
    """Every key path of a real metadata.json set to each wrong type (list, object, text, integer):
    summary, explain and report (in turn) exit 0 (the value is not read), or 2/3 with one line."""
    source, meta = full_result
    work = tmp_path / "r"
    shutil.copytree(source, work)
    commands = [["summary", work], ["explain", work], ["report", work, "--out", tmp_path / "report"]]
    tried, bad = 0, []
    for path in _key_paths(meta):
        for kind, wrong in _WRONG.items():
            doc = copy.deepcopy(meta)
            node = functools.reduce(lambda inner, key: inner[key], path[:-1], doc)
            if type(node[path[-1]]).__name__ == kind:
                continue
            node[path[-1]] = wrong
            (work / "metadata.json").write_text(json.dumps(doc))
            proc = cli(*commands[tried % len(commands)])
            tried += 1
            errors = [line for line in proc.stderr.splitlines() if "error" in line]
            if proc.returncode not in (0, 2, 3) or "Traceback" in proc.stderr or (proc.returncode and len(errors) != 1):
                bad.append((path, kind, proc.args[1], proc.returncode, proc.stderr[-200:]))
    assert tried > 300 and not bad, (tried, bad)
