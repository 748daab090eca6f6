"""Platform detection from real /proc/cpuinfo texts, host metadata, busy-ness, tool versions."""
import os
import platform
import time
from pathlib import Path

import pytest

from pmcsuite.collect import hostinfo
from pmcsuite.errors import PmcsuiteError
from pmcsuite.collect.hostinfo import (
    Uname, cpu_ids, cpu_model_from_cpuinfo, detect_host, detect_platform, other_cpu_fraction, parse_cp_time,
    parse_os_release, parse_proc_stat, resolve_platforms)

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures"
BBB = (FIXTURES / "cpuinfo-beaglebone-a8.txt").read_text()
RPI4 = (FIXTURES / "cpuinfo-rpi4-a72.txt").read_text()
X86 = (FIXTURES / "cpuinfo-x86-64.txt").read_text()


def test_cpuinfo_parsing():
    assert cpu_ids(BBB) == {(0x41, 0xC08)}
    assert cpu_ids(RPI4) == {(0x41, 0xD08)}
    assert cpu_ids(X86) == set()
    assert cpu_model_from_cpuinfo(BBB) == "ARM Cortex-A8 (Generic AM33XX (Flattened Device Tree))"
    assert cpu_model_from_cpuinfo(RPI4) == "ARM Cortex-A72 (Raspberry Pi 4 Model B Rev 1.1)"
    assert cpu_model_from_cpuinfo(X86) == "AMD EPYC"
    assert cpu_model_from_cpuinfo("") is None


@pytest.mark.parametrize("text, uname, sysctl, expected", [
    (BBB, ("Linux", "armv7l"), {}, ["cortex-a8", "software"]),
    (RPI4, ("Linux", "aarch64"), {}, ["armv8", "software"]),
    (RPI4, ("Linux", "armv7l"), {}, ["armv8", "software"]),       # 32-bit OS on a Pi 4: by CPU part
    (X86, ("Linux", "x86_64"), {}, ["x86-64", "software"]),
    ("", ("FreeBSD", "arm"), {"hw.model": "ARM Cortex-A8 r3p2"}, ["cortex-a8", "freebsd-kernel"]),
    ("", ("FreeBSD", "arm64"), {"hw.model": "ARM Cortex-A72 r0p3"}, ["armv8", "freebsd-kernel"]),
    ("", ("FreeBSD", "amd64"), {"hw.model": "Intel(R) Xeon(R) CPU"}, ["x86-64", "freebsd-kernel"]),
])
def test_detect_platform(cat, text, uname, sysctl, expected):
    assert detect_platform(text, Uname(*uname), sysctl, cat) == expected


def test_unknown_cpu_gives_software_and_a_note(cat):
    cortex_a9 = BBB.replace("0xc08", "0xc09")
    platforms, notes = detect_host(cortex_a9, {"system": "Linux", "machine": "armv7l"}, {}, cat)
    assert platforms == ["software"]
    assert len(notes) == 1 and "unknown CPU" in notes[0] and "part 0xc09" in notes[0] and "--platform" in notes[0]
    platforms, notes = detect_host("", ("Darwin", "arm64e"), {}, cat)
    assert platforms == [] and any("Linux perf" in n for n in notes)


def test_detect_this_host(cat):
    platforms, notes = detect_host(cat=cat)
    if platform.system() == "Linux":
        assert platforms[-1] == "software"
    if platform.machine() == "x86_64":
        assert platforms[0] == "x86-64"
    assert all(p in cat.platforms for p in platforms)


def test_resolve_platforms(cat):
    assert resolve_platforms(cat, "cortex-a8, software,cortex-a8") == ["cortex-a8", "software"]
    assert resolve_platforms(cat, None) == detect_platform(cat=cat)
    with pytest.raises(PmcsuiteError, match="unknown platform 'arm9' in --platform"):
        resolve_platforms(cat, "arm9")
    with pytest.raises(PmcsuiteError, match="--platform is empty"):
        resolve_platforms(cat, " , ")


def test_os_release_and_metadata():
    assert parse_os_release('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n') == {
        "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "ID": "debian"}
    meta = hostinfo.host_metadata()
    assert set(meta) == {"hostname", "os", "os_release", "kernel", "machine", "cpu_model", "cpus", "python",
                         "perf_event_paranoid", "virtualisation", "tunables"}   # schema.METADATA["host"] documents
    assert meta["os"] == platform.system() and meta["cpus"] >= 1 and meta["python"] == platform.python_version()
    assert meta["kernel"] == platform.release() and meta["os_release"]


def test_cpu_time_parsers():
    stat = "cpu  3270 0 1792 71802 248 0 29 245 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n"
    total, idle = parse_proc_stat(stat, 100)
    assert total == pytest.approx((3270 + 1792 + 71802 + 248 + 29 + 245) / 100)
    assert idle == pytest.approx((71802 + 248) / 100)
    assert parse_proc_stat("intr 1 2\n", 100) is None
    assert parse_cp_time("10 0 20 5 965", 127) == pytest.approx((1000 / 127, 965 / 127))
    assert parse_cp_time("garbage", 127) is None


def test_other_cpu_fraction():
    # 2 CPUs, 1 s window: 2 s available, 0.5 s idle -> 1.5 s busy, 1.0 s ours -> 0.5 / 2
    assert other_cpu_fraction((100.0, 50.0), (102.0, 50.5), 1.0) == pytest.approx(0.25)
    assert other_cpu_fraction((100.0, 50.0), (102.0, 52.0), 0.3) == 0.0        # clamped, jiffy noise
    assert other_cpu_fraction(None, (1.0, 1.0), 0.0) is None
    assert other_cpu_fraction((1.0, 1.0), (1.0, 1.0), 0.0) is None


@pytest.mark.skipif(platform.system() != "Linux", reason="/proc/stat is Linux-only")
def test_cpu_times_live():
    before, own0 = hostinfo.cpu_times(), hostinfo.own_cpu_time()
    deadline = time.monotonic() + 5
    while hostinfo.own_cpu_time() - own0 < 0.5 and time.monotonic() < deadline:   # burn 0.5 s of CPU
        pass
    after, own = hostinfo.cpu_times(), hostinfo.own_cpu_time() - own0
    assert own >= 0.5
    assert after[0] - before[0] >= 0.45 and after[1] >= before[1]     # jiffies: 10 ms resolution
    frac = other_cpu_fraction(before, after, own)
    assert frac is not None and 0.0 <= frac <= 1.0


def test_short_windows_give_no_busy_share():
    """10 ms ticks cannot say how busy the machine was during a few milliseconds."""
    cpus = os.cpu_count() or 1
    short = hostinfo.MIN_BUSY_WINDOW_S * cpus * 0.5
    assert other_cpu_fraction((100.0, 50.0), (100.0 + short, 50.0), 0.0) is None
    assert other_cpu_fraction((100.0, 50.0), (100.0 + 4 * short, 50.0), 0.0) == 1.0


@pytest.mark.skipif(platform.system() != "Linux", reason="/proc/loadavg is Linux-only")
def test_runnable_others_counts_a_busy_child():
    import subprocess
    import sys
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        assert hostinfo.runnable_others() >= 1
    finally:
        hog.kill()
        hog.wait()


def test_tool_versions(monkeypatch):
    versions = hostinfo.tool_versions(["cc", "surely-not-a-tool-xyz", "none"])
    assert set(versions) == {"cc", "surely-not-a-tool-xyz"}
    assert versions["surely-not-a-tool-xyz"] is None
    assert hostinfo.first_line("\n  perf version 6.1.187 \nmore") == "perf version 6.1.187"
    monkeypatch.setattr(hostinfo, "_run", lambda argv, timeout=10.0: "perf version 6.1.187\n")
    assert hostinfo.tool_versions("perf") == {"perf": "perf version 6.1.187"}
    monkeypatch.setattr(hostinfo.shutil, "which", lambda name: "/usr/sbin/" + name)
    monkeypatch.setattr(hostinfo, "_run",
                        lambda argv, timeout=10.0: "14.1-RELEASE\n" if argv == ["uname", "-r"] else None)
    assert hostinfo.tool_version("pmcstat") == "pmcstat (FreeBSD 14.1-RELEASE)"


def test_load_the_benchmark_sampled_itself():
    from pmcsuite.collect.hostinfo import benchmark_load
    first = {"machine": {"hz": 100, "before": {"total": 1000, "idle": 800, "runnable": 1},
                         "after": {"total": 1010, "idle": 805, "runnable": 0}}}
    last = {"machine": {"hz": 100, "before": {"total": 1020, "idle": 810, "runnable": 0},
                        "after": {"total": 1050, "idle": 830, "runnable": 2}}}
    assert benchmark_load([first, last]) == ((10.0, 8.0), (10.5, 8.3), 1)      # first's before, last's after
    freebsd = {"machine": {"hz": 127, "before": {"total": 254, "idle": 127, "runnable": None},
                           "after": {"total": 508, "idle": 254, "runnable": None}}}
    assert benchmark_load([freebsd]) == ((2.0, 1.0), (4.0, 2.0), None)
    assert benchmark_load([{}]) == (None, None, None) and benchmark_load([]) == (None, None, None)
    assert benchmark_load([{"machine": {"hz": None, "before": {"total": 1, "idle": 1}}}]) == (None, None, None)
