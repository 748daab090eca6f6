"""What the numbers are (issue 18): emulation and virtualisation detected and said (check, collect,
metadata, report), the kernel tunables recorded, buffers the kernel capped warned about, a partial
sweep said to be one."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from needs import require
from nobody import run_as_nobody
from pmcsuite.collect import board as bd
from pmcsuite.collect import benchmark as bm
from pmcsuite.collect.hostenv import (TUNABLES, capped_buffer, classify, environment_script, parse_environment,
                                      tunables)
from pmcsuite.collect.hostinfo import host_metadata
from pmcsuite.errors import PmcsuiteError
from pmcsuite.sizes import format_size

MiB = 1 << 20
#: what the emulated board prints for the environment script (read there on 2026-12-06)
BOARD = {"device_tree": "linux,dummy-virt,", "cpuinfo": "BogoMIPS\t: 125.00", "smt_active": "0",
         "net.core.wmem_max": "212992"}
#: this VM (Firecracker/KVM): systemd-detect-virt and the cpuinfo flag
KVM = {"detect-virt": "kvm", "cpuinfo": "model name\t: AMD EPYC\nflags\t\t: fpu vme hypervisor lahf_lm"}


@pytest.mark.unit
def test_the_emulated_board_is_emulated_and_a_vm_is_a_vm():
    """Before: nothing said that the board's counts and times were an emulator's."""
    board = classify(BOARD)
    assert (board["kind"], board["by"]) == ("emulated", "qemu-tcg")
    assert "device tree: linux,dummy-virt" in board["evidence"] and "BogoMIPS: 125.00" in board["evidence"]
    vm = classify(KVM)
    assert (vm["kind"], vm["by"]) == ("vm", "kvm") and "cpuinfo flag: hypervisor" in vm["evidence"]
    assert classify({"detect-virt": "qemu"})["kind"] == "emulated"
    assert classify({"sys_vendor": "Xen", "hypervisor_type": "xen"})["by"] == "xen"
    kvm_arm = classify({"device_tree": "linux,dummy-virt", "cpuinfo": "BogoMIPS\t: 50.00"})
    assert (kvm_arm["kind"], kvm_arm["by"]) == ("vm", "qemu")             # the host's timer: not TCG
    assert classify({"cpuinfo": "flags\t: fpu sse2"}) == {"kind": "none", "by": None, "evidence": []}


@pytest.mark.unit
def test_tunables_are_parsed_and_missing_ones_are_null():
    text = ("@@pmcsuite-env:net.core.wmem_max\n4194304\n@@pmcsuite-env:transparent_hugepage\n"
            "always [madvise] never\n@@pmcsuite-env:cpufreq.governor\n\n@@pmcsuite-env:device_tree\n"
            "linux,dummy-virt\x00\n")
    sections = parse_environment(text)
    got = tunables(sections)
    assert set(got) == set(TUNABLES)
    assert got["net.core.wmem_max"] == 4194304 and got["transparent_hugepage"] == "madvise"
    assert got["cpufreq.governor"] is None and got["fs.pipe-max-size"] is None
    assert sections["device_tree"] == "linux,dummy-virt,"


@pytest.mark.e2e
def test_host_metadata_records_virtualisation_and_tunables_read_here():
    """Before: metadata.json's host had neither."""
    host = host_metadata()
    assert host["virtualisation"]["kind"] in ("emulated", "vm", "none")
    assert set(host["tunables"]) == set(TUNABLES)
    if Path("/proc/sys/fs/pipe-max-size").exists():
        assert host["tunables"]["fs.pipe-max-size"] == int(Path("/proc/sys/fs/pipe-max-size").read_text())
    out = subprocess.run(["sh", "-c", environment_script()], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0


@pytest.mark.unit
def test_a_buffer_the_kernel_capped_is_named_with_its_cap():
    """Before: local-s 8M ran with wmem_max's buffers, pipe-s 4M with 1 MiB, and nothing said so."""
    def bench(ipc, **buffers):
        return {"ipc": ipc, "buffers": {"requested": buffers.pop("asked"), "sndbuf": None, "rcvbuf": None,
                                        "pipe_size": None, **buffers}}
    local = capped_buffer(bench("local-s", asked=8 * MiB, sndbuf=8 * MiB, rcvbuf=8 * MiB))
    assert "SO_SNDBUF at 4M of the 8M asked" in local and "net.core.wmem_max" in local
    assert capped_buffer(bench("local-s", asked=4 * MiB, sndbuf=8 * MiB, rcvbuf=8 * MiB)) is None
    assert capped_buffer(bench("local-s", asked=8 * MiB, sndbuf=8 * MiB, rcvbuf=8 * MiB), linux=False) is None
    pipe = capped_buffer(bench("pipe-s", asked=4 * MiB, pipe_size=MiB))
    assert "pipe at 1M of the 4M asked" in pipe and "fs.pipe-max-size" in pipe and "CAP_SYS_RESOURCE" in pipe
    assert capped_buffer(bench("pipe", asked=4 * MiB, pipe_size=64 * 1024)) is None      # nothing asked


def _pipe_max() -> int | None:
    path = Path("/proc/sys/fs/pipe-max-size")
    return int(path.read_text()) if path.exists() else None


@pytest.mark.e2e
def test_collect_and_report_say_the_machine_and_the_capped_buffers(cli, tmp_path):
    require(_pipe_max() is not None, "F_SETPIPE_SZ and fs.pipe-max-size are Linux's")
    out, big = tmp_path / "r", 4 * _pipe_max()             # 4x the cap: capped unless --force as root
    proc = cli("collect", "--backend", "none", "--ipc", "pipe-s", "--sizes", f"4K,{big}", "--runs", "2",
               "--total", str(2 * big), "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert f"pipe-s {format_size(big)}: the kernel capped pipe at" in proc.stdout + proc.stderr
    assert "pipe-s 4K:" not in proc.stdout + proc.stderr
    host = json.loads((out / "metadata.json").read_text())["host"]
    assert host["tunables"]["fs.pipe-max-size"] == _pipe_max()
    virtual = host["virtualisation"]
    if virtual["kind"] != "none":
        assert "pmcsuite: note: " in proc.stderr
    report = cli("report", out, "--out", tmp_path / "rep")
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "rep" / "report.md").read_text()
    top = text[:text.index("finding(s)")]
    assert f"pipe-s {format_size(big)}: the kernel capped pipe" in top
    assert "| Kernel tunables |" in text and "| Virtualisation |" in text
    assert "incomplete" not in top
    # a sweep stopped early: fewer runs stored than planned, said first
    journal = out / "runs.jsonl"
    journal.write_text("".join(journal.read_text().splitlines(keepends=True)[:3]))
    cli("report", out, "--out", tmp_path / "rep2")
    top = (tmp_path / "rep2" / "report.md").read_text()
    assert "This sweep is incomplete: 3 of 4 runs" in top[:top.index("finding(s)")]


@pytest.mark.e2e
def test_force_past_pipe_max_size_without_the_capability_names_it(exe):
    """Before: '-f' for pipe-s failed as a user with 'fcntl(F_SETPIPE_SZ) failed' and no word of why."""
    require(os.geteuid() == 0 and _pipe_max() is not None, "needs root (to run the benchmark as nobody) on Linux")
    proc = run_as_nobody(exe, lambda copy: bm.bench_argv(copy, "pipe-s", 4 * _pipe_max(), 8 * _pipe_max(),
                                                          force=True))
    assert proc.returncode != 0
    assert "CAP_SYS_RESOURCE" in proc.stderr and "pipe-max-size" in proc.stderr, proc.stderr


@pytest.mark.board
def test_the_board_says_it_is_emulated():
    """On the board itself: the environment script, run there, classifies it as QEMU TCG."""
    require(shutil.which(bd.QEMU), f"{bd.QEMU} not found: run bin/install")
    try:
        bd.images()
    except PmcsuiteError as exc:
        require(False, str(exc))
    [result] = bd.run_on_board([["sh", "-c", environment_script()]], timeout=120, smp=1)
    assert result.returncode == 0, result.stderr
    sections = parse_environment(result.stdout)
    assert classify(sections)["kind"] == "emulated", sections
    assert tunables(sections)["kernel.perf_event_paranoid"] is not None
