"""pmcsuite check: every catalogue counter opened for real (perf on this VM; pmcstat through the
stand-in), plus the pure parts against a small fake catalogue."""
import os
import platform
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from needs import needs

from pmcsuite.collect.backends import CounterValue
from pmcsuite.collect.check import CheckResult, check, format_check

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
