"""Pure perf parsers and record -> CounterValue mapping, against real perf 6.1 output.

Fixtures tests/fixtures/perf_*.txt were printed by perf 6.1 on the development VM (x86-64, no
PMU), except perf_formats_* (copied verbatim from shared/reference/formats.md).
"""
from pathlib import Path

import pytest

from pmcsuite.collect.backends import CounterValue
from pmcsuite.collect.backends.perf import (
    PerfRecord, build_argv, classify_failure, parse_perf_csv, parse_perf_json, to_counter_values)
from pmcsuite.errors import PmcsuiteError

pytestmark = pytest.mark.unit

FIX = Path(__file__).parent / "fixtures"
EVENTS = {"task_clock": "task-clock", "page_faults": "page-faults",
          "context_switches": "context-switches", "syscalls_write": "syscalls:sys_enter_write",
          "instructions": "instructions"}


def fx(name):
    return (FIX / name).read_text()


def test_formats_md_csv_verbatim():
    recs = parse_perf_csv(fx("perf_formats_csv.txt"))
    assert [r.event for r in recs] == list(EVENTS.values())
    assert recs[0].value == 1.23 and recs[0].unit == "msec" and recs[0].runtime == 1233282
    assert recs[1].value == 97.0 and recs[1].unit == ""
    assert recs[3].value == 19.0
    assert recs[4].value is None and recs[4].special == "<not supported>"
    assert all(r.variance is None for r in recs)


def test_formats_md_csv_repeat_variance_after_event():
    (r,) = parse_perf_csv(fx("perf_formats_csv_r3.txt"), repeat=True)
    assert (r.event, r.value, r.variance, r.runtime, r.pcnt_running) == \
        ("page-faults", 49.0, 0.68, 1243081, 100.0)


def test_formats_md_json_verbatim_value_is_string():
    recs = parse_perf_json(fx("perf_formats_json.txt"))
    assert recs[0] == PerfRecord("page-faults", 49.0, None, "", 1.80, 780931, 100.0)
    assert recs[1].special == "<not supported>" and recs[1].value is None


@pytest.mark.parametrize("name", ["perf_json.txt", "perf_json_o.txt", "perf_json_r3.txt"])
def test_real_json(name):
    recs = parse_perf_json(fx(name))
    assert [r.event for r in recs] == list(EVENTS.values())
    assert recs[0].unit == "msec" and 0 < recs[0].value < 100
    assert recs[1].value > 10  # page faults of a tiny process
    assert recs[4].special == "<not supported>"
    assert (recs[0].variance is not None) == ("r3" in name)


@pytest.mark.parametrize("name", ["perf_csv.txt", "perf_csv_o.txt", "perf_csv_r3.txt"])
def test_real_csv(name):
    recs = parse_perf_csv(fx(name), repeat="r3" in name)
    assert [r.event for r in recs] == list(EVENTS.values())
    assert recs[0].unit == "msec" and 0 < recs[0].value < 100
    assert recs[3].value == 1.0  # /bin/echo writes once
    assert recs[4].special == "<not supported>" and recs[4].value is None
    assert (recs[1].variance is not None) == ("r3" in name)


def test_csv_and_json_agree_on_same_shape():
    c = parse_perf_csv(fx("perf_csv_o.txt"))
    j = parse_perf_json(fx("perf_json_o.txt"))
    assert [(r.event, r.special, r.unit) for r in c] == [(r.event, r.special, r.unit) for r in j]


def test_csv_repeat_required_but_missing():
    with pytest.raises(PmcsuiteError, match="variance"):
        parse_perf_csv(fx("perf_csv.txt"), repeat=True)


def test_csv_interval_prefix():
    recs = parse_perf_csv(fx("perf_csv_interval.txt"))
    assert [r.interval for r in recs[:2]] == [0.100241314, 0.100241314]
    assert recs[2].special == "<not counted>"
    vals = to_counter_values(recs, {"tc": "task-clock", "pf": "page-faults"})
    assert vals[0].status == "ok" and vals[0].value == pytest.approx(1.57 + 0.07)
    assert vals[1].value == 58.0


def test_csv_per_cpu_and_per_socket_prefixes():
    recs = parse_perf_csv(fx("perf_csv_percpu.txt"))
    assert [r.aggr for r in recs] == ["CPU0", "CPU1", "CPU0", "CPU1"]
    assert [r.value for r in recs if r.event == "page-faults"] == [60.0, 2.0]
    assert to_counter_values(recs, {"pf": "page-faults"})[0].value == 62.0
    (tc, pf) = parse_perf_csv(fx("perf_csv_persocket.txt"))
    assert (tc.aggr, tc.cpus, tc.value, tc.unit) == ("S0", 2, 203.08, "msec")
    assert (pf.aggr, pf.cpus, pf.value) == ("S0", 2, 62.0)


def test_not_counted_from_control_without_enable():
    for recs in (parse_perf_json(fx("perf_json_notcounted_stderr.txt")),
                 parse_perf_csv(fx("perf_csv_notcounted_stderr.txt"))):
        vals = to_counter_values(recs, {"tc": "task-clock", "pf": "page-faults",
                                        "w": "syscalls:sys_enter_write", "i": "instructions"})
        assert [v.status for v in vals] == ["not_counted"] * 3 + ["not_supported"]
        assert all(v.value is None for v in vals)


def test_skips_chatter_and_comments():
    text = "# started on Fri Nov 27 15:10:42 2026\n\nEvents disabled\nEvents enabled\n" + \
        fx("perf_csv.txt")
    assert len(parse_perf_csv(text)) == 5
    assert len(parse_perf_json("# started on x\n\n" + fx("perf_json.txt") + "Events disabled\n")) == 5


def test_garbage_line_is_an_error_not_a_zero():
    with pytest.raises(PmcsuiteError, match="cannot read"):
        parse_perf_csv("abc;def;ghi\n")
    with pytest.raises(PmcsuiteError, match="malformed JSON"):
        parse_perf_json('{"counter-value" : "1.0", \n')


def test_status_mapping_and_order():
    vals = to_counter_values(parse_perf_json(fx("perf_json.txt")),
                             {"instructions": "instructions", "syscalls_write":
                              "syscalls:sys_enter_write", "task_clock": "task-clock"})
    assert [v.counter for v in vals] == ["instructions", "syscalls_write", "task_clock"]
    ins, w, tc = vals
    assert ins.status == "not_supported" and ins.value is None
    assert "no hardware PMU" in ins.reason and ins.to_dict()["value"] is None
    assert w == CounterValue("syscalls_write", "syscalls:sys_enter_write", 1.0, "", "ok", 100.0)
    assert tc.unit == "msec" and tc.to_dict() == {"event": "task-clock", "value": 1.711146,
                                                  "unit": "msec", "status": "ok",
                                                  "pcnt_running": 100.0}


def test_multiplexed_flagged():
    line = ('{"counter-value" : "1234.000000", "unit" : "", "event" : "cycles", '
            '"event-runtime" : 500, "pcnt-running" : 50.00, "metric-value" : 0, "metric-unit" : ""}')
    (v,) = to_counter_values(parse_perf_json(line), {"cycles": "cycles"})
    assert v.status == "ok" and v.value == 1234.0 and v.pcnt_running == 50.0
    assert v.multiplexed and v.to_dict()["multiplexed"] is True


def test_modifier_and_positional_fallback():
    recs = parse_perf_json(fx("perf_json_user_modifier.txt"))  # non-root: "task-clock:u"
    vals = to_counter_values(recs, {"tc": "task-clock", "pf": "page-faults"})
    assert [v.status for v in vals] == ["ok", "ok"] and vals[0].unit == "msec"
    assert vals[1].value == recs[1].value
    # perf spells a PMU event differently: matched by position among the unmatched
    recs = [PerfRecord("page-faults", 3.0), PerfRecord("armv7_cortex_a8/event=0x45/", 7.0)]
    vals = to_counter_values(recs, {"axi": "r45", "pf": "page-faults"})
    assert (vals[0].counter, vals[0].value, vals[1].value) == ("axi", 7.0, 3.0)


def test_duplicate_spec_and_missing_record():
    recs = parse_perf_csv("5;;page-faults;1;100.00;;\n6;;page-faults;1;100.00;;\n")
    vals = to_counter_values(recs, {"a": "page-faults", "b": "page-faults", "c": "task-clock"})
    assert [v.value for v in vals] == [5.0, 6.0, None]
    assert vals[2].status == "error"


def test_raw_event_on_no_pmu_is_not_supported():
    vals = to_counter_values(parse_perf_json(fx("perf_json_raw_r45.txt")),
                             {"axi_read": "r45", "axi_write": "r46"})
    assert [v.status for v in vals] == ["not_supported", "not_supported"]


def test_build_argv():
    argv = build_argv(["task-clock", "syscalls:sys_enter_write"], "/t/o", "/t/c", "/t/a",
                      ["ipcbench", "-i", "pipe"])
    assert argv == ["perf", "stat", "-j", "-o", "/t/o", "--delay=-1", "--control",
                    "fifo:/t/c,/t/a", "-e", "task-clock,syscalls:sys_enter_write", "--",
                    "ipcbench", "-i", "pipe", "--ctl-fifo", "/t/c", "--ack-fifo", "/t/a"]
    assert build_argv(["x"], "o", "c", "a", ["b"], use_json=False)[2:4] == ["-x", ";"]


def test_classify_real_failures():
    st, msg = classify_failure(129, fx("perf_err_129_unknown_pmu.txt"))
    assert st == "not_supported" and "armv7_cortex_a8/event=0x45/" in msg and "Cannot find PMU" in msg
    st, msg = classify_failure(255, fx("perf_err_255_group.txt"))
    assert st == "not_supported" and "'cycles'" in msg
    st, msg = classify_failure(129, fx("perf_err_129_perm_tracepoint.txt"))
    assert st == "permission_denied" and "perf_event_paranoid" in msg
    st, msg = classify_failure(255, fx("perf_err_workload_missing.txt"))
    assert st == "error" and "No such file" in msg
    st, msg = classify_failure(129, fx("perf_err_unknown_option.txt"))
    assert st == "error" and "--bogus-opt" in msg and "newer" in msg
    assert classify_failure(1, "ipcbench: error: socketpair: Too many open files\n") is None
    assert classify_failure(1, "ipcbench: open: Permission denied\n") is None
    for _, m in [classify_failure(129, fx("perf_err_129_unknown_pmu.txt"))]:
        assert "\n" not in m
