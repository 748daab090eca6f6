"""PerfBackend for real: perf 6.1 on this VM (software events and tracepoints count, hardware
events are <not supported>), with tests/standins/fakebench as the workload (same fifo protocol
as ipcbench: enable/disable around its loop of N write() calls to /dev/null).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from needs import needs, needs_perf

from pmcsuite.catalogue import load_catalogue
from pmcsuite.collect.backends import CounterValue, NoneBackend, auto_backends, get_backend
from pmcsuite.collect.backends.inproc import counter_values
from pmcsuite.collect.backends import perf as perfmod
from pmcsuite.collect.backends.perf import PerfBackend
from pmcsuite.errors import PmcsuiteError

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
FAKEBENCH = str(ROOT / "tests" / "standins" / "fakebench")
EVENTS = {"task_clock": "task-clock", "page_faults": "page-faults",
          "syscalls_write": "syscalls:sys_enter_write", "instructions": "instructions",
          "context_switches": "context-switches"}


def test_counter_value_dict():
    v = CounterValue("c", "e", None, "", "not_supported", 100.0, "why")
    assert v.to_dict() == {"event": "e", "value": None, "unit": "", "status": "not_supported",
                           "pcnt_running": 100.0, "reason": "why"}


def test_get_backend_and_auto():
    assert get_backend("perf").name == "perf" and get_backend("perf").scope == "loop"
    assert get_backend("pmcstat").scope == "process"
    assert isinstance(get_backend("none"), NoneBackend) and get_backend("none").scope is None
    assert get_backend("inproc").scope == "actors" and get_backend("inproc").iterations
    with pytest.raises(PmcsuiteError, match="choose from inproc, perf, pmcstat, dtrace, none"):
        get_backend("papi")
    # Linux: the benchmark counts itself; FreeBSD: the tools (libpmc in ipcbench has never run)
    assert auto_backends("Linux") == ["inproc"] and auto_backends("FreeBSD") == ["pmcstat", "dtrace"]
    with pytest.raises(PmcsuiteError, match="Darwin"):
        auto_backends("Darwin")


def test_inproc_gives_time_counters_in_their_catalogue_unit(tmp_path):
    """perf_event_open counts time in ns: a counter whose catalogue unit is a duration is converted."""
    events = {"task_clock": "task-clock", "cpu_clock": "cpu-clock", "syscalls_write": "syscalls:sys_enter_write"}
    line = {"counters": {c: {"status": "ok", "value": 2_500_000} for c in events}}
    by = {v.counter: v for v in counter_values(line, events)}
    assert (by["task_clock"].value, by["task_clock"].unit) == (2.5, "msec")          # the built-in catalogue
    assert (by["cpu_clock"].value, by["cpu_clock"].unit) == (2_500_000, "")          # unknown to it: a count
    user = tmp_path / "user.yaml"
    user.write_text("counters:\n  cpu_clock: {description: CPU clock, unit: us, kind: software}\n")
    by = {v.counter: v for v in counter_values(line, events, load_catalogue([user]))}
    assert (by["cpu_clock"].value, by["cpu_clock"].unit) == (2500.0, "us")
    assert (by["syscalls_write"].value, by["syscalls_write"].unit) == (2_500_000, "")


def test_none_backend_runs_bench_alone():
    bench, values = NoneBackend().run({}, [FAKEBENCH, "--writes", "5"], 30)
    assert values == [] and bench["writes"] == 5 and bench["counting"] == "none"


@needs_perf
def test_run_counts_only_the_loop():
    be = PerfBackend()
    got = {}
    for n in (200, 2000):
        bench, values = be.run(EVENTS, [FAKEBENCH, "--writes", str(n)], 30)
        assert bench["writes"] == n and bench["counting"] == "loop"
        assert [v.counter for v in values] == list(EVENTS)
        by = {v.counter: v for v in values}
        assert by["task_clock"].status == "ok" and by["task_clock"].unit == "msec"
        assert by["task_clock"].value > 0 and by["page_faults"].status == "ok"
        assert by["instructions"].status == "not_supported" and by["instructions"].value is None
        w = by["syscalls_write"]
        assert w.status == "ok" and n <= w.value <= n + 3   # + the "disable" write itself
        got[n] = w.value
    # Python start-up alone does far more than 3 writes' worth of syscalls: the region works
    assert got[2000] - got[200] == 1800


@needs_perf
def test_run_csv_fallback(monkeypatch):
    monkeypatch.setattr(PerfBackend, "_use_json", lambda self: False)
    bench, values = PerfBackend().run(EVENTS, [FAKEBENCH, "--writes", "300"], 30)
    by = {v.counter: v for v in values}
    assert 300 <= by["syscalls_write"].value <= 303
    assert by["instructions"].status == "not_supported"
    assert by["task_clock"].unit == "msec"


@needs_perf
def test_json_support_detected_for_real():
    assert perfmod._supports_json(shutil.which("perf")) is True


@needs_perf
def test_build_argv_uses_found_perf(tmp_path):
    argv = PerfBackend().build_argv(["task-clock"], tmp_path / "o", "c", "a", ["b"])
    assert argv[0] == shutil.which("perf") and argv[1:3] == ["stat", "-j"]


@needs_perf
@pytest.mark.parametrize("spec,match", [
    ("armv7_cortex_a8/event=0x45/", r"armv7_cortex_a8/event=0x45/.*Cannot find PMU"),
    ("{cycles,instructions}", r"'cycles'.*not supported"),
    ("no_such_event_xyz", r"no_such_event_xyz"),
])
def test_run_bad_events_are_one_line_errors(spec, match):
    with pytest.raises(PmcsuiteError, match=match) as ei:
        PerfBackend().run({"x": spec, "tc": "task-clock"}, [FAKEBENCH], 30)
    assert "\n" not in str(ei.value)


@needs_perf
def test_run_benchmark_failure_and_garbage():
    with pytest.raises(PmcsuiteError, match="exit 1.*Too many open files"):
        PerfBackend().run(EVENTS, [FAKEBENCH, "--fail"], 30)
    with pytest.raises(PmcsuiteError, match="garbage|no JSON"):
        PerfBackend().run(EVENTS, [FAKEBENCH, "--no-json"], 30)
    with pytest.raises(PmcsuiteError, match="could not start"):
        PerfBackend().run(EVENTS, ["/nonexistent/ipcbench"], 30)
    # perf stat exits 0 when its workload dies of a signal (after printing a valid result, here)
    with pytest.raises(PmcsuiteError, match="crashed under perf: killed by SIGSEGV"):
        PerfBackend().run(EVENTS, [FAKEBENCH, "--crash-after"], 30)


def _procs_with(token):
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if token in (d / "cmdline").read_bytes():
                    found.append(int(d.name))
            except OSError:
                pass
    return found


@needs_perf
def test_run_hang_kills_process_group():
    token = "987651"
    t0 = time.monotonic()
    with pytest.raises(PmcsuiteError, match="benchmark hung: no result after 1 s"):
        PerfBackend().run(EVENTS, [FAKEBENCH, "--hang", "--writes", token], 1)
    assert time.monotonic() - t0 < 10
    time.sleep(0.2)
    assert _procs_with(token.encode()) == []


def test_perf_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    be = PerfBackend()
    ok, why = be.available()
    assert not ok and "perf not found" in why and be.version() is None
    with pytest.raises(PmcsuiteError, match="perf not found"):
        be.run(EVENTS, [FAKEBENCH], 10)
    assert {v.status for v in be.probe(EVENTS)} == {"tool_missing"}


@needs_perf
def test_probe_for_real():
    vals = PerfBackend().probe({"tc": "task-clock", "w": "syscalls:sys_enter_write",
                                "ins": "instructions", "pmu": "armv7_cortex_a8/event=0x45/",
                                "raw": "r45", "cyc": "cycles"})
    st = {v.counter: v.status for v in vals}
    assert st == {"tc": "available", "w": "available", "ins": "not_supported",
                  "pmu": "not_supported", "raw": "not_supported", "cyc": "not_supported"}
    assert all(v.value is None for v in vals)
    assert "Cannot find PMU" in next(v.reason for v in vals if v.counter == "pmu")


@needs_perf
@needs(os.geteuid() == 0 and shutil.which("setpriv") is not None,
       "needs root and setpriv to become an unprivileged user")
def test_probe_permission_denied_as_unprivileged_user():
    code = ("from pmcsuite.collect.backends.perf import PerfBackend; "
            "v = PerfBackend().probe({'w': 'syscalls:sys_enter_write', 'tc': 'task-clock'}); "
            "print(v[0].status, v[1].status); print(v[0].reason)")
    # the unprivileged user may not be able to read the checkout (e.g. under a 0700 directory):
    # give it a world-readable copy of the package
    readable = Path(tempfile.mkdtemp(prefix="pmcsuite-nobody-"))
    try:
        readable.chmod(0o755)
        shutil.copytree(ROOT / "pmcsuite", readable / "pmcsuite")
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            sys.executable, "-c", code], capture_output=True, text=True,
                           cwd=readable, env={**os.environ, "PYTHONPATH": str(readable), "HOME": "/tmp"},
                           timeout=60)
    finally:
        shutil.rmtree(readable, ignore_errors=True)
    assert r.returncode == 0, r.stderr
    status, reason = r.stdout.splitlines()[:2]
    assert status == "permission_denied available"  # task-clock:u still counts as non-root
    assert "perf_event_paranoid" in reason
