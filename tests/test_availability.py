"""pmcsuite check: every catalogue counter opened for real (perf on this VM; pmcstat through the
stand-in), plus the pure parts against a small fake catalogue."""
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from needs import needs

from pmcsuite.collect.backends import CounterValue, flag_silent_zeros
from pmcsuite.collect.check import CheckResult, check, format_check
from pmcsuite.collect.pmu import parse_listing
from pmcsuite.results.load import derived_metrics

pytestmark = pytest.mark.e2e

STANDINS = Path(__file__).resolve().parent / "standins"
SOFTWARE = ["task_clock", "page_faults", "minor_faults", "major_faults", "context_switches",
            "cpu_migrations", "syscalls_read", "syscalls_write", "syscalls_all", "sched_switch"]

real_perf_x86 = needs(shutil.which("perf") is not None and platform.machine() == "x86_64",
                      "the real-host expectations are for Linux perf on x86-64 (bin/install adds perf)")


@dataclass
class FakePlatform:
    events: dict
    unavailable: dict = field(default_factory=dict)


class FakeCatalogue:
    counters = {"a": None, "b": None, "c": None, "d": None}
    groups = {"g": ["a", "d"]}
    platforms = {"p": FakePlatform({"a": {"perf": "task-clock"}, "b": {"perf": "instructions"},
                                    "c": {"pmcstat": "X"}},
                                   {"d": "no such thing here"})}

    def expand(self, groups):
        return [c for g in groups for c in self.groups[g]]

    def event_for(self, cid, platforms, backend):
        for p in platforms:
            spec = self.platforms[p].events.get(cid, {}).get(backend)
            if spec:
                return p, spec
        return None


class FakeBackend:
    name = "perf"
    scope = "loop"

    def __init__(self, ok=True):
        self.ok, self.probed = ok, None

    def available(self):
        return (True, "fake") if self.ok else (False, "fake tool not found")

    def probe(self, events):
        self.probed = dict(events)
        return [CounterValue(c, e, None, "", "available" if e == "task-clock" else "not_supported",
                             reason=None if e == "task-clock" else "nope") for c, e in events.items()]


def test_fake_catalogue_all_counters_of_platform():
    be = FakeBackend()
    res = check(FakeCatalogue(), None, ["p"], be)
    assert be.probed == {"a": "task-clock", "b": "instructions"}
    assert [(r.counter, r.event, r.status) for r in res] == [
        ("a", "task-clock", "available"), ("b", "instructions", "not_supported"),
        ("c", None, "unavailable"), ("d", None, "unavailable")]
    assert res[3].reason == "no such thing here" and "no perf event" in res[2].reason
    text = format_check(res)
    assert text.splitlines()[0].split() == ["counter", "event", "status", "reason"]
    assert text.splitlines()[-1] == ("1 available, 1 not supported, 0 permission denied, "
                                     "0 tool missing, 2 unavailable on this platform")


def test_fake_catalogue_groups_and_tool_missing():
    res = check(FakeCatalogue(), ["g"], ["p"], FakeBackend(ok=False))
    assert [(r.counter, r.status, r.reason) for r in res] == [
        ("a", "tool_missing", "fake tool not found"), ("d", "unavailable", "no such thing here")]
    assert format_check(res).endswith("0 available, 0 not supported, 0 permission denied, "
                                      "1 tool missing, 1 unavailable on this platform")


def test_format_check_extra_statuses():
    res = [CheckResult("a", "e", "error", "boom"), CheckResult("b", "f", "available")]
    assert format_check(res).splitlines()[-1].endswith(", 1 error")


@real_perf_x86
def test_real_perf_check_on_this_vm(cat):
    res = check(cat, None, ["x86-64", "software"], "perf")
    st = {r.counter: r.status for r in res}
    for c in SOFTWARE:
        assert st[c] == "available", (c, st[c])
    assert st["instructions"] == "not_supported" and st["cycles"] == "not_supported"
    assert st["axi_read"] == st["axi_write"] == "unavailable"
    assert all(r.reason for r in res if r.status != "available")
    last = format_check(res).splitlines()[-1]
    n_ns = sum(s == "not_supported" for s in st.values())
    n_un = sum(s == "unavailable" for s in st.values())
    assert n_un >= 2  # at least the two AXI counters have no x86-64 event
    assert last == (f"{len(SOFTWARE)} available, {n_ns} not supported, 0 permission denied, "
                    f"0 tool missing, {n_un} unavailable on this platform")


@real_perf_x86
def test_real_perf_check_groups(cat):
    res = check(cat, ["syscalls", "faults"], ["x86-64", "software"], "perf")
    assert [r.counter for r in res] == cat.expand(["syscalls", "faults"])
    st = {r.counter: r.status for r in res}
    assert st.pop("fault_ns") == "unavailable" and set(st.values()) == {"available"}
    assert {r.platform for r in res if r.counter != "fault_ns"} == {"software"}


def test_real_catalogue_tool_missing(cat, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    res = check(cat, ["syscalls"], ["software"], "perf")
    assert {r.status for r in res} == {"tool_missing"}
    assert "perf not found" in res[0].reason


def test_real_catalogue_pmcstat_standin_cortex_a8(cat, monkeypatch):
    monkeypatch.setenv("PATH", f"{STANDINS}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv("PMCSTAT_STANDIN_NO_HWPMC", raising=False)
    res = check(cat, None, ["cortex-a8"], "pmcstat")
    assert len(res) == 13 and {r.status for r in res} == {"available"}
    assert {r.counter: r.event for r in res}["axi_read"] == "AXI_READ"
    monkeypatch.setenv("PMCSTAT_STANDIN_NO_HWPMC", "1")
    res = check(cat, ["axi"], ["cortex-a8"], "pmcstat")
    assert {r.status for r in res} == {"permission_denied"}
    assert "kldload hwpmc" in res[0].reason


def test_check_needs_no_arguments():
    """Before: check() needed a catalogue and returned [] with one (no platforms)."""
    results = check()
    assert len(results) > 10 and {r.counter for r in results} >= {"page_faults", "instructions"}
    assert [r.counter for r in check(groups="syscalls")] == ["syscalls_read", "syscalls_write", "syscalls_all"]


#: what the emulated board's kernel lists (QEMU TCG cortex-a57: PMCEID has cycles and instructions only)
BOARD_LISTING = ("/sys/bus/event_source/devices/armv8_pmuv3/events/cpu_cycles event=0x0011\n"
                 "/sys/bus/event_source/devices/armv8_pmuv3/events/inst_retired event=0x0008\n"
                 "/sys/bus/event_source/devices/software/events/whatever event=0x1\n")


class RemoteBackend(FakeBackend):
    """Counts on a target through ``runner`` (as inproc over --host): every event it opens reads 5."""
    name = "inproc"

    def __init__(self, listing):
        super().__init__()
        self.listing, self.ran = listing, []

    def runner(self, argv, timeout):
        self.ran.append(argv)
        return subprocess.CompletedProcess(argv, 0, self.listing, "")

    def probe(self, events):
        self.probed = dict(events)
        return [CounterValue(c, e, 5, "", "ok") for c, e in events.items()]


def test_events_the_core_does_not_list_are_not_implemented_and_never_opened(cat):
    """Before: the board's seven unimplemented armv8 events opened, read 0 and were 'available'."""
    backend = RemoteBackend(BOARD_LISTING)
    res = {r.counter: r for r in check(cat, None, ["armv8"], backend)}
    assert backend.ran and backend.ran[0][:2] == ["sh", "-c"]            # asked on the target, not here
    assert set(backend.probed) == {"instructions", "cycles"}
    for cid in ("l1i_refill", "l2_access", "l2_refill", "axi_read", "axi_write", "itlb_refill", "dtlb_refill",
                "l1d_access", "l1d_refill", "mem_read", "mem_write"):
        assert (res[cid].status, res[cid].reason) == ("not_supported", "not implemented on this core"), res[cid]
    assert res["instructions"].status == res["cycles"].status == "available"
    assert "11 not supported" in format_check(list(res.values()))


def test_no_core_pmu_listing_decides_nothing(cat):
    backend = RemoteBackend("/sys/bus/event_source/devices/software/events/x event=0x1\n")
    check(cat, None, ["armv8"], backend)
    assert len(backend.probed) == len(cat.platforms["armv8"].events)
    assert parse_listing("") is None
    assert parse_listing("/sys/bus/event_source/devices/cpu/events/cpu-cycles event=0x3c") == (
        False, {"cpu-cycles"}, {0x3C})


def test_a_bus_or_cache_access_count_of_zero_is_a_silent_zero(cat):
    """Before: only never_zero counters were flagged; axi_read 0 was stored ok."""
    values = flag_silent_zeros([CounterValue("axi_read", "r60", 0, "", "ok"),
                                CounterValue("l2_access", "r16", 0, "", "ok"),
                                CounterValue("l1i_refill", "r01", 0, "", "ok")], cat)
    assert [v.status for v in values] == ["silent_zero", "silent_zero", "ok"]
    assert values[0].value is None


def test_no_derived_metric_is_built_on_a_counter_that_read_zero_in_every_run(cat):
    """Before: axi_total 0 came from axi_read and axi_write that read 0 in every run (board)."""
    rows = [{"ipc": "pipe", "actors": "2thread", "placement": "same", "buffer_size": 4096, "variant": "v",
             "run": r, "ok": True, "warmup": False, "axi_read": 0.0, "axi_write": 0.0, "cycles": 300.0 + r,
             "instructions": 100.0} for r in range(3)]
    df = pd.DataFrame(rows)
    df.attrs["counters"] = ["axi_read", "axi_write", "cycles", "instructions"]
    metrics = set(derived_metrics(df, cat)["metric"])
    assert "axi_total" not in metrics and "cpi" in metrics
