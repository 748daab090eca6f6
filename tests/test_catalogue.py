"""Catalogue: the built-in counters.yaml is complete and consistent; bad files fail clearly."""
import csv
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from pmcsuite.catalogue import BUILTIN, evaluate_formula, load_catalogue, parse_formula
from pmcsuite.errors import PmcsuiteError

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures"
COUNTER_IDS = """instructions cycles l1d_access l1d_refill l1i_refill l2_access l2_refill axi_read axi_write
    mem_read mem_write itlb_refill dtlb_refill task_clock page_faults minor_faults major_faults
    context_switches cpu_migrations offcpu_ns fault_ns syscalls_read syscalls_write syscalls_all sched_switch
    profile_fault profile_memcg profile_sched profile_lock profile_copy profile_syscall profile_ipc profile_user
    profile_other""".split()
GROUPS = "instr l1 l1i l2 axi mem tlb syscalls faults sched time profile".split()


def write(tmp_path, text, name="user.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(*extra) -> str:
    with pytest.raises(PmcsuiteError) as info:
        load_catalogue(list(extra))
    message = str(info.value)
    assert "\n" not in message
    return message


# ---- the built-in catalogue -----------------------------------------------------------

def test_builtin_ids_groups_platforms(cat):
    assert BUILTIN.name == "counters.yaml" and BUILTIN.exists()
    assert list(cat.counters) == COUNTER_IDS
    assert set(cat.groups) == set(GROUPS)
    assert list(cat.platforms) == ["cortex-a8", "armv8", "x86-64", "software", "freebsd-kernel"]
    assert cat.version == 1 and len(cat.sha256) == 64 and cat.sources[0].endswith("counters.yaml")
    assert set(cat.default_groups) <= {"syscalls", "faults", "sched", "time"} and cat.default_groups
    assert cat.platforms["cortex-a8"].slots == 4 and cat.platforms["software"].slots is None
    assert cat.platforms["armv8"].slots == 6
    assert cat.groups["instr"].counters == ["instructions", "cycles"]
    assert cat.groups["l1i"].counters == ["l1i_refill", "instructions"]


def test_every_group_covered_on_every_platform(cat):
    """Each counter of each group has an event or an unavailable reason on every platform that
    provides its kind; hardware platforms cover all hardware counters."""
    for plat in cat.platforms.values():
        for group in cat.groups.values():
            for cid in group.counters:
                if cat.counters[cid].kind not in plat.kinds:
                    continue
                has_event = any(plat.events.get(cid, {}).get(b) for b in ("perf", "pmcstat", "dtrace", "inproc"))
                assert has_event or plat.unavailable.get(cid), (plat.name, group.name, cid)
    hardware = [p for p in cat.platforms.values() if "hardware" in p.kinds]
    software = [p for p in cat.platforms.values() if "software" in p.kinds]
    assert len(hardware) == 3 and [p.name for p in software] == ["software", "freebsd-kernel"]


def test_axi_caveat_and_x86_reason(cat):
    caveats = " ".join(cat.counters["axi_read"].caveats)
    assert "transaction" in caveats and "cycles" in caveats
    assert cat.counters["l2_refill"].caveats
    assert cat.event_for("axi_read", ["x86-64", "software"], "perf") is None
    assert "memory-bus" in cat.unavailable_reason("axi_read", ["x86-64", "software"], "perf")
    assert cat.unavailable_reason("instructions", ["software"], "perf").startswith("it is a hardware counter")
    assert cat.unavailable_reason("instructions", ["x86-64"], "perf") == ""


def _csv_rows():
    with open(FIXTURES / "pmc_events.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_cortex_a8_events_match_pmc_events_csv(cat):
    rows = [r for r in _csv_rows() if r["platform"] == "cortex-a8"]
    by_name = {r["name"]: int(r["code_hex"], 16) for r in rows}
    codes = set(by_name.values())
    generic = {}
    for r in rows:
        for name in filter(None, (g.strip() for g in r["linux_perf_generic"].split(";"))):
            generic.setdefault(name, int(r["code_hex"], 16))
    plat = cat.platforms["cortex-a8"]
    assert set(plat.events) == {c for c in COUNTER_IDS if cat.counters[c].kind == "hardware"}
    for cid, ev in plat.events.items():
        code = int(ev["code"], 16)
        assert by_name.get(ev["pmcstat"]) == code, (cid, ev)
        perf = ev["perf"]
        if re.fullmatch(r"r[0-9a-fA-F]+", perf):
            assert int(perf[1:], 16) == code and code in codes, (cid, ev)
        elif cid in plat.fixed:                      # perf 'cycles' = the dedicated counter 0xFF
            assert generic[perf] == 0xFF
        else:
            assert generic.get(perf) == code, (cid, ev)


def test_armv8_events_match_pmc_events_csv(cat):
    rows = [r for r in _csv_rows() if r["platform"] == "armv8-pmuv3"]
    names = {}
    for r in rows:
        names[r["name"]] = int(r["code_hex"], 16)
        for alias in re.findall(r"FreeBSD alias (\w+)", r["notes"]):
            names[alias] = int(r["code_hex"], 16)
    for cid, ev in cat.platforms["armv8"].events.items():
        assert names.get(ev["pmcstat"]) == int(ev["code"], 16), (cid, ev)
        if ev["perf"].startswith("r"):
            assert int(ev["perf"][1:], 16) == int(ev["code"], 16)


def test_expand_and_event_for(cat):
    assert cat.expand(["instr", "l1i", "page_faults"]) == ["instructions", "cycles", "l1i_refill", "page_faults"]
    assert cat.expand("l1,tlb") == ["l1d_access", "l1d_refill", "itlb_refill", "dtlb_refill"]
    with pytest.raises(PmcsuiteError, match="unknown counter group or counter 'l3'.*known groups: instr"):
        cat.expand(["l3"])
    assert cat.event_for("axi_read", ["cortex-a8", "software"], "perf") == ("cortex-a8", "r45")
    assert cat.event_for("axi_read", ["armv8"], "pmcstat") == ("armv8", "BUS_ACCESS_LD")
    assert cat.event_for("syscalls_write", ["x86-64", "software"], "perf") == ("software", "syscalls:sys_enter_write")
    assert cat.event_for("syscalls_write", ["cortex-a8"], "pmcstat") is None
    assert cat.event_for("cycles", ["cortex-a8"], "none") is None
    with pytest.raises(PmcsuiteError, match="unknown platform 'arm9'"):
        cat.event_for("cycles", ["arm9"], "perf")
    assert cat.platforms["cortex-a8"].is_fixed("cycles", "perf")
    assert not cat.platforms["cortex-a8"].is_fixed("cycles", "pmcstat")
    assert cat.platforms["x86-64"].is_fixed("instructions", "pmcstat")


# ---- derived metrics ------------------------------------------------------------------

def test_derived_formulas(cat):
    assert cat.derived["cpi"].names == ["cycles", "instructions"]
    assert cat.evaluate_derived("cpi", {"cycles": 300, "instructions": 100}) == 3
    assert math.isnan(cat.evaluate_derived("cpi", {"cycles": 300, "instructions": 0}))
    assert math.isnan(cat.evaluate_derived("cpi", {"cycles": 300, "instructions": None}))
    frame = pd.DataFrame({"l1d_refill": [10, 0, 5], "l1d_access": [100, 0, 0]})
    ratio = cat.evaluate_derived("l1d_miss_ratio", frame)
    assert ratio.iloc[0] == pytest.approx(0.1) and ratio.iloc[1:].isna().all()
    assert evaluate_formula("-(a - b) * 2 / 4", {"a": 1, "b": 3}) == 1
    with pytest.raises(PmcsuiteError, match="needs counter 'cycles'"):
        cat.evaluate_derived("cpi", {"instructions": 1})
    with pytest.raises(PmcsuiteError, match="unknown derived metric"):
        cat.evaluate_derived("nope", {})
    for bad in ("a ** 2", "f(a)", "a.b", "'x' + a", "a // b", "a +"):
        with pytest.raises(PmcsuiteError):
            parse_formula(bad)


# ---- bad files ------------------------------------------------------------------------

def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = write(tmp_path, "counters:\n  foo:\n    description: x\n   unit: [\n")
    message = error_of(path)
    assert str(path) in message and re.search(r"line [34]\b", message), message


def test_unknown_key_names_path_and_known_keys(tmp_path):
    path = write(tmp_path, "platforms:\n  cortex-a8:\n    events:\n      l1d_refill: {perff: x}\n")
    message = error_of(path)
    assert "platforms.cortex-a8.events.l1d_refill: unknown key 'perff'" in message
    assert "known: perf, pmcstat" in message and "did you mean 'perf'" in message
    assert "unknown key 'colour'" in error_of(write(tmp_path, "colour: red\n"))
    assert "counters.foo: unknown key 'units'" in error_of(
        write(tmp_path, "counters:\n  foo: {description: d, units: count, kind: hardware}\n"))


def test_duplicate_ids_are_rejected(tmp_path):
    text = ("counters:\n  foo: {description: a, unit: count, kind: software}\n"
            "  foo: {description: b, unit: count, kind: software}\n")
    message = error_of(write(tmp_path, text))
    assert "duplicate key 'foo'" in message and "line 3" in message


def test_group_with_unknown_counter(tmp_path):
    message = error_of(write(tmp_path, "groups:\n  mine: {description: d, counters: [l1d_refil]}\n"))
    assert "groups.mine: unknown counter 'l1d_refil'" in message and "did you mean 'l1d_refill'" in message


def test_platform_event_with_unknown_counter(tmp_path):
    message = error_of(write(tmp_path, "platforms:\n  x86-64:\n    events:\n      l9_refill: {perf: r99}\n"))
    assert "platforms.x86-64: events.l9_refill: unknown counter 'l9_refill'" in message


def test_formula_with_unknown_counter(tmp_path):
    text = "derived:\n  bad: {formula: cycles / instrs, unit: x, description: d}\n"
    message = error_of(write(tmp_path, text))
    assert "derived.bad: formula 'cycles / instrs': unknown counter 'instrs'" in message
    text = "derived:\n  bad: {formula: cycles ** 2, unit: x, description: d}\n"
    assert "only counter ids, numbers" in error_of(write(tmp_path, text))


def test_missing_fields_and_wrong_types(tmp_path):
    assert "counters.foo: missing required field 'unit'" in error_of(
        write(tmp_path, "counters:\n  foo: {description: d, kind: software}\n"))
    assert "platforms.p1: missing required field 'slots'" in error_of(
        write(tmp_path, "platforms:\n  p1: {description: d, kinds: [hardware]}\n"))
    assert "slots: must be a positive integer or null" in error_of(
        write(tmp_path, "platforms:\n  x86-64: {slots: four}\n"))
    assert "counters.foo.kind: must be one of hardware, software, tracepoint" in error_of(
        write(tmp_path, "counters:\n  foo: {description: d, unit: count, kind: magic}\n"))
    assert "groups.l1.counters: must be a list of strings" in error_of(
        write(tmp_path, "groups:\n  l1: {counters: l1d_refill}\n"))
    assert "top level must be a mapping" in error_of(write(tmp_path, "- a\n- b\n"))
    assert "is empty" in error_of(write(tmp_path, ""))
    assert "cannot read catalogue" in error_of(tmp_path / "missing.yaml")
    assert "events l1d_access and mem_read both use perf event 'L1-dcache-loads'" in error_of(
        write(tmp_path, "platforms:\n  x86-64:\n    events:\n      mem_read: {perf: L1-dcache-loads}\n"))
    assert "software counter but the platform provides only hardware" in error_of(
        write(tmp_path, "platforms:\n  x86-64:\n    events:\n      task_clock: {perf: task-clock}\n"))


@pytest.mark.parametrize("cid", ["bandwidth", "loop_ns", "ipc", "variant", "ok", "write_sizes", "foo_status",
                                 "cycles_status"])
def test_counter_id_that_is_a_result_column_is_refused(tmp_path, cid):
    """A counter named like a column of the result table (or a status column) would be collected and
    then break every analysis: the catalogue refuses it when it loads, naming the file and the entry."""
    path = write(tmp_path, f"counters:\n  {cid}: {{description: d, unit: count, kind: software}}\n")
    message = error_of(path)
    assert message.startswith(f"{path}: counters.{cid}: counter id '{cid}' "), message
    assert ("_status" in message) if cid.endswith("_status") else ("column of the result table" in message)
    assert "rename" in message


def test_result_column_id_refused_even_when_only_overridden(tmp_path):
    # no new entry, only a field of a (hypothetical) existing one: still refused before the merge
    path = write(tmp_path, "counters:\n  bandwidth: {caveats: [x]}\n")
    assert error_of(path).startswith(f"{path}: counters.bandwidth: counter id 'bandwidth'")


@pytest.mark.parametrize("backend,spec,why", [
    ("perf", "context-switches,cpu-migrations", "more than one event"),
    ("perf", "context-switches cpu-migrations", "white space"),
    ("perf", "context-switches\tcpu-migrations", "white space"),
    ("perf", "context-switches,", "more than one event"),
    ("pmcstat", "INSTR_EXECUTED,CLOCK_CYCLES", "more than one event"),
    ("pmcstat", "INSTR_EXECUTED CLOCK_CYCLES", "white space"),
    ("dtrace", "sched:::off-cpu sched:::on-cpu", "white space"),
    ("dtrace", "context-switches,cpu-migrations", "not a list of dtrace probe descriptions"),
    ("dtrace", "sched:::off-cpu,", "not a list of dtrace probe descriptions"),
])
def test_event_spelling_that_is_more_than_one_event_is_refused(tmp_path, backend, spec, why):
    """'context-switches,cpu-migrations' went to perf -e as two events and one value was dropped."""
    platform = "freebsd-kernel" if backend == "dtrace" else "software"
    path = write(tmp_path, f"platforms:\n  {platform}:\n    events:\n"
                           f"      context_switches: {{{backend}: {spec!r}}}\n".replace("'", '"'))
    message = error_of(path)
    assert message.startswith(f"{path}: platforms.{platform}.events.context_switches.{backend}: "), message
    assert why in message, message


def test_one_event_spellings_still_load(tmp_path, cat):
    """What the check must not refuse: the built-in spellings (dtrace's probe lists for the timed
    counters among them), raw events, tracepoints and a user's single events."""
    assert cat.platforms["freebsd-kernel"].events["fault_ns"]["dtrace"] == "fbt::vm_fault:entry,fbt::vm_fault:return"
    path = write(tmp_path, "platforms:\n  software:\n    events:\n"
                           "      context_switches: {perf: cs}\n"
                           "      cpu_migrations: {perf: 'sched:sched_migrate_task'}\n"
                           "  x86-64:\n    events:\n      cycles: {perf: r003c, pmcstat: unhalted-cycles}\n"
                           "  freebsd-kernel:\n    events:\n"
                           "      offcpu_ns: {dtrace: 'sched:::off-cpu,sched:::on-cpu'}\n")
    mine = load_catalogue([path])
    assert mine.platforms["software"].events["context_switches"]["perf"] == "cs"
    assert mine.platforms["x86-64"].events["cycles"] == {"perf": "r003c", "pmcstat": "unhalted-cycles"}


@pytest.mark.parametrize("text, why", [
    ("version: " + "[" * 3000, "nests too deeply"),
    ("counters:\n  foo: {description: " + "[" * 900 + "]" * 900 + ", unit: u, kind: software}\n", "nests too deeply"),
    ("version: " + "9" * 5000, "a value cannot be read (Exceeds the limit (4300 digits)"),
])
def test_yaml_the_loader_cannot_build_is_a_one_line_error(tmp_path, text, why):
    """PyYAML's RecursionError (deep nesting) and ValueError (an integer of 4300+ digits) were
    internal errors (found by bench/fuzz_parsers.py)."""
    path = write(tmp_path, text)
    message = error_of(path)
    assert message.startswith(f"{path}: ") and why in message, message


def test_user_override_merges(tmp_path, cat):
    text = """
counters:
  l2_refill: {caveats: [my caveat]}
  bus_cycles: {description: Bus cycles, unit: count, kind: hardware}
groups:
  bus: {description: bus, counters: [bus_cycles, axi_read]}
platforms:
  x86-64:
    slots: 6
    events:
      axi_read: {perf: "uncore_imc/data_reads/"}
      l2_refill: {pmcstat: l2-misses}
      bus_cycles: {perf: bus-cycles}
  cortex-a8:
    unavailable:
      mem_read: not on my board
derived:
  axi_per_instr: {formula: (axi_read + axi_write) / instructions, unit: ratio, description: d}
default_groups: [time]
"""
    merged = load_catalogue([write(tmp_path, text)])
    x86 = merged.platforms["x86-64"]
    assert x86.slots == 6 and x86.fixed == ["instructions", "cycles"]            # other fields kept
    assert x86.events["l2_refill"] == {"perf": "LLC-load-misses", "pmcstat": "l2-misses"}   # deep merge
    assert "axi_read" not in x86.unavailable and "axi_write" in x86.unavailable
    assert merged.event_for("axi_read", ["x86-64"], "perf") == ("x86-64", "uncore_imc/data_reads/")
    assert "mem_read" not in merged.platforms["cortex-a8"].events
    assert merged.unavailable_reason("mem_read", ["cortex-a8"], "perf") == "cortex-a8: not on my board"
    assert merged.counters["l2_refill"].caveats == ["my caveat"]
    assert merged.counters["l2_refill"].description == cat.counters["l2_refill"].description
    assert merged.expand(["bus"]) == ["bus_cycles", "axi_read"]
    assert merged.derived["axi_per_instr"].names == ["axi_read", "axi_write", "instructions"]
    assert merged.default_groups == ["time"]
    assert merged.sha256 != cat.sha256 and len(merged.sources) == 2
    assert load_catalogue().platforms["x86-64"].slots == 4                        # built-in untouched


def test_kernel_times_are_dtrace_only_with_precise_reasons(cat):
    """offcpu_ns and fault_ns: dtrace spellings equal to the backend's probes; on Linux perf they
    are unavailable by design with a reason that names what measures them instead."""
    from pmcsuite.collect.backends.dtrace import DEFAULT_EVENTS
    assert "offcpu_ns" in cat.groups["sched"].counters and "fault_ns" in cat.groups["faults"].counters
    fbsd = cat.platforms["freebsd-kernel"]
    assert fbsd.detect == {"os": ["FreeBSD"]}     # detected with the CPU's platform on FreeBSD
    for cid, spec in fbsd.events.items():
        assert set(spec) <= {"dtrace", "clause"} and spec["dtrace"] == DEFAULT_EVENTS[cid], cid
    linux = ["x86-64", "software"]
    assert cat.event_for("offcpu_ns", linux, "perf") is None and cat.event_for("fault_ns", linux, "perf") is None
    assert "offcpu_writer_ns" in cat.unavailable_reason("offcpu_ns", linux, "perf")
    assert "cannot time them" in cat.unavailable_reason("fault_ns", linux, "perf")
    assert cat.event_for("offcpu_ns", ["cortex-a8", "freebsd-kernel"], "dtrace") == \
        ("freebsd-kernel", "sched:::off-cpu,sched:::on-cpu")
    assert cat.event_for("offcpu_ns", ["freebsd-kernel"], "perf") is None


# ---- errors after a merge name the file that set the faulty field ---------------------

def test_user_override_with_invalid_formula_names_the_user_file(tmp_path):
    path = write(tmp_path, 'derived:\n  cpi: {formula: \'__import__("os")\'}\n')
    message = error_of(path)
    assert message.startswith(f"{path}: derived.cpi: ") and "Call" in message, message
    assert "counters.yaml" not in message
    path = write(tmp_path, "derived:\n  cpi: {formula: cycles / instrs}\n")
    message = error_of(path)
    assert message.startswith(f"{path}: derived.cpi: formula 'cycles / instrs': unknown counter 'instrs'")


def test_errors_name_the_file_that_set_the_field(tmp_path):
    # the formula comes from a.yaml; b.yaml only changes the unit: a.yaml is at fault
    a = write(tmp_path, "derived:\n  mine: {formula: cycles / nope, unit: x, description: d}\n", "a.yaml")
    b = write(tmp_path, "derived:\n  mine: {unit: ratio}\n", "b.yaml")
    assert error_of(a, b).startswith(f"{a}: derived.mine: formula")
    # a default group set by a.yaml is a.yaml's fault even when b.yaml comes later
    a = write(tmp_path, "default_groups: [nosuch]\n", "a.yaml")
    b = write(tmp_path, "derived:\n  cpi: {unit: ratio}\n", "b.yaml")
    assert error_of(a, b).startswith(f"{a}: default_groups: unknown group 'nosuch'")
    # overriding a built-in group's counters, and a built-in counter's kind
    assert error_of(write(tmp_path, "groups:\n  l1: {counters: [l1d_refil]}\n")).startswith(
        f"{tmp_path / 'user.yaml'}: groups.l1: unknown counter 'l1d_refil'")
    message = error_of(write(tmp_path, "counters:\n  cycles: {kind: software}\n"))
    assert message.startswith(f"{tmp_path / 'user.yaml'}: platforms.") and "cycles is a software counter" in message
    # an entry first defined incompletely by a.yaml: a.yaml, not the file after it
    a = write(tmp_path, "counters:\n  foo: {description: d, kind: software}\n", "a.yaml")
    b = write(tmp_path, "counters:\n  foo: {description: e}\n", "b.yaml")
    assert error_of(a, b).startswith(f"{a}: counters.foo: missing required field 'unit'")


# ---- the catalogue a result directory was collected with (snapshot in metadata.json) ----------

def test_snapshot_round_trip(cat):
    from pmcsuite.catalogue import catalogue_from_snapshot, catalogue_metadata, result_catalogue
    info = catalogue_metadata(cat)
    assert info["sha256"] == cat.sha256 and info["snapshot"]["format"] == 1
    assert [f["source"] for f in info["snapshot"]["files"]] == cat.sources
    assert info["snapshot"]["files"][0]["text"] == BUILTIN.read_text()
    rebuilt = catalogue_from_snapshot(info["snapshot"], info["sha256"])
    assert rebuilt.sha256 == cat.sha256 and rebuilt.counters == cat.counters and rebuilt.derived == cat.derived
    got = result_catalogue({"catalogue": info})
    assert got.note is None and got.counters == cat.counters
    edited = {**info["snapshot"], "files": [{**info["snapshot"]["files"][0],
                                             "text": info["snapshot"]["files"][0]["text"] + "\n# edited\n"}]}
    with pytest.raises(PmcsuiteError, match="edited"):
        catalogue_from_snapshot(edited, info["sha256"])


USER_CATALOGUE = """
counters:
  widget_events: {description: "Widget thingies handed over (my board; counted by my driver)", unit: count,
                  kind: hardware}
platforms:
  x86-64:
    events:
      widget_events: {perf: "widget:thingies"}
derived:
  widgets_per_write: {formula: widget_events / syscalls_write, unit: widgets/call,
                      description: Widgets per write() call}
"""


def test_result_directory_keeps_a_counter_todays_catalogue_does_not_know(tmp_path):
    """Imported with a user catalogue that is gone now: the directory still loads, and its derived
    metric and counter label come from the snapshot stored in metadata.json."""
    from pmcsuite.analysis.labels import counter_labels
    from pmcsuite.catalogue import result_catalogue
    from pmcsuite.results.importers import import_csv
    from pmcsuite.results.load import derived_metrics, load

    user = write(tmp_path, USER_CATALOGUE)
    rows = ["ipc,actors,placement,buffer_size,total_size,run,variant,bandwidth,warmup,counter,value,status"]
    for run in range(3):
        rows += [f"pipe,2thread,same,64K,16M,{run},w,{6.5e9 + run},false,widget_events,{512 + run},ok",
                 f"pipe,2thread,same,64K,16M,{run},w,{6.5e9 + run},false,syscalls_write,256,ok"]
    data = tmp_path / "data.csv"
    data.write_text("\n".join(rows) + "\n")
    out = tmp_path / "res"
    import_csv(data, out, catalogue=[user])
    user.unlink()                                        # today's catalogue no longer knows widget_events
    assert "widget_events" not in load_catalogue().counters
    df = load(out)
    assert df["widget_events"].notna().sum() == 3
    cat = result_catalogue(df.attrs["metadata"])
    assert cat.note is None and "widget_events" in cat.counters
    derived = derived_metrics(df)
    row = derived[derived["metric"] == "widgets_per_write"].iloc[0]
    assert row["value"] == pytest.approx(513 / 256) and row["unit"] == "widgets/call"
    assert counter_labels(["widget_events"], df.attrs["metadata"]) == {"widget_events": "widget thingies handed over"}


def test_result_directory_without_snapshot_falls_back_with_a_note(tmp_path):
    from pmcsuite.catalogue import result_catalogue
    user = write(tmp_path, USER_CATALOGUE)
    sources = [str(BUILTIN), str(user), str(tmp_path / "gone.yaml")]
    old = {"catalogue": {"version": 1, "sha256": "0" * 64, "sources": sources}}
    cat = result_catalogue(old)
    assert "widget_events" in cat.counters                      # the user file that still exists
    assert "predates catalogue snapshots" in cat.note and "gone.yaml" in cat.note and "differ" in cat.note
    assert result_catalogue(None).note                           # no metadata at all: today's built-in, said so


# ---- counter facts the code reads (labels, time, probes, crosschecks, meanings, aliases, clauses) ----

def test_every_builtin_counter_has_a_label_and_time_counters_say_so(cat):
    assert all(c.label for c in cat.counters.values())
    assert len({c.label for c in cat.counters.values()}) == len(cat.counters)       # no two read alike
    assert {cid for cid, c in cat.counters.items() if c.measures_time} == {"cycles", "task_clock", "offcpu_ns",
                                                                           "fault_ns"}


def test_cycle_counters_are_the_time_counters_without_a_duration_unit(cat, tmp_path):
    assert cat.cycle_counters() == ("cycles",)
    assert {cid: c.ns_per_unit for cid, c in cat.counters.items() if c.ns_per_unit} == {
        "task_clock": 1e6, "offcpu_ns": 1.0, "fault_ns": 1.0}
    user = tmp_path / "user.yaml"
    user.write_text("counters:\n  ref_cycles: {description: reference cycles, unit: cycles, kind: hardware}\n"
                    "  cycles: {time: false}\n")
    assert load_catalogue([user]).cycle_counters() == ("ref_cycles",)


def test_probe_counters_are_the_tracepoints_and_the_dtrace_only_times(cat):
    tracepoints = {cid for cid, c in cat.counters.items() if c.kind == "tracepoint"}
    dtrace_only = {cid for cid in cat.counters if cat.counters[cid].kind != "sample"
                   and not any(cat.event_for(cid, list(cat.platforms), b) for b in ("perf", "pmcstat"))}
    assert set(cat.probe_counters()) == tracepoints | dtrace_only == tracepoints | {"offcpu_ns", "fault_ns"}


def test_crosschecks_name_result_columns_and_the_write_rule(cat):
    checks = {cid: (own, expect) for cid, own, expect in cat.crosschecks()}
    assert checks["syscalls_write"][0] == ("writes",) and checks["page_faults"][0] == ("minflt", "majflt")
    assert all(set(expect) == {"actors", "loop"} and "\n" not in " ".join(expect.values())
               for _own, expect in checks.values())
    assert {cid for cid, c in cat.counters.items() if c.crosscheck and c.crosscheck.exact} == {
        "syscalls_read", "syscalls_write"}
    assert {cid: c.min_per_write for cid, c in cat.counters.items() if c.min_per_write} == {"syscalls_write": 1.0}
    assert cat.meanings()[("syscalls_write", "falls")] == "fewer calls move the same data"


@pytest.mark.parametrize("entry, message", [
    ("{label: [a]}", "counters.foo.label: must be a non-empty string"),
    ("{time: yes please}", "counters.foo.time: must be true or false"),
    ("{probe: 1}", "counters.foo.probe: must be true or false"),
    ("{min_per_write: -1}", "counters.foo.min_per_write: must be a positive number"),
    ("{crosscheck: {exact: [actors]}}", "counters.foo.crosscheck: missing required field 'own'"),
    ("{crosscheck: {own: [writez]}}", "counters.foo.crosscheck.own: 'writez' is not a column of the result table"
                                      " (did you mean 'writes'?)"),
    ("{crosscheck: {own: writes, exact: [everywhere]}}", "counters.foo.crosscheck.exact: must be one of actors"),
    ("{crosscheck: {own: writes, expect: {always: equal}}}", "counters.foo.crosscheck.expect: unknown key 'always'"),
    ("{means: {grows: more}}", "counters.foo.means: unknown key 'grows'"),
])
def test_bad_counter_facts_are_one_line_errors_naming_file_and_field(tmp_path, entry, message):
    path = write(tmp_path, f"counters:\n  foo: {entry}\n")
    assert error_of(path).startswith(f"{path}: {message}")


@pytest.mark.parametrize("events, message", [
    ("l2_access: {aliases: [L2_CACHE_MISS]}",
     "platforms.cortex-a8: events l2_access and l2_refill both use the event name (pmcstat or alias) 'L2_CACHE_MISS'"),
    ("l2_access: {aliases: [L2 ACCESS]}", "platforms.cortex-a8.events.l2_access.aliases: 'L2 ACCESS' contains white"),
    ("l2_access: {clause: 'x'}", "platforms.cortex-a8: events.l2_access.clause: a D clause needs a dtrace spelling"),
])
def test_bad_aliases_and_clauses_are_refused(tmp_path, events, message):
    path = write(tmp_path, f"platforms:\n  cortex-a8:\n    events:\n      {events}\n")
    assert error_of(path).startswith(f"{path}: {message}"), error_of(path)


@pytest.mark.parametrize("clause, missing", [
    ('"sched:::on-cpu /{target}/ { @counts[\\"other\\"] = sum(1); }"', '@counts["cpu_migrations"]'),
    ('"sched:::off-cpu /{target}/ { @counts[\\"cpu_migrations\\"] = sum(1); }"', "probe sched:::on-cpu"),
])
def test_a_d_clause_must_use_its_probes_and_its_key(tmp_path, clause, missing):
    path = write(tmp_path, f"platforms:\n  freebsd-kernel:\n    events:\n      cpu_migrations: {{clause: {clause}}}\n")
    message = error_of(path)
    assert message.startswith(f"{path}: platforms.freebsd-kernel: events.cpu_migrations.clause: the D clauses do not "
                              f"use {missing}"), message


def test_an_old_snapshot_without_the_new_fields_still_reads_with_todays_labels_and_time():
    """A result directory whose catalogue snapshot predates ``label`` and ``time`` keeps its labels and
    time counters: the built-in catalogue answers for the fields its snapshot lacks."""
    from pmcsuite.analysis.labels import counter_labels, is_time_counter
    from pmcsuite.catalogue import catalogue_from_snapshot
    text = BUILTIN.read_text()
    old_text = "\n".join(line for line in text.splitlines() if not re.match(r"    (label|time):", line)) + "\n"
    old = catalogue_from_snapshot({"format": 1, "files": [{"source": "counters.yaml", "text": old_text}]})
    assert old.counters["cycles"].label is None and old.counters["cycles"].time is None
    assert not old.counters["cycles"].measures_time                       # unit 'count': the field decides
    assert is_time_counter("cycles", old) and is_time_counter("task_clock", old)
    assert not is_time_counter("syscalls_write", old) and is_time_counter("loop_ns", old)
    metadata = {"catalogue": {"sha256": old.sha256, "snapshot": {"format": 1, "files": [
        {"source": "counters.yaml", "text": old_text}]}}}
    assert counter_labels(["syscalls_read", "cycles"], metadata) == {"syscalls_read": "read() calls",
                                                                     "cycles": "CPU cycles"}


def test_a_user_label_and_time_field_win(tmp_path):
    from pmcsuite.analysis.labels import counter_label, is_time_counter
    mine = load_catalogue([write(tmp_path, "counters:\n  widgets: {description: Widgets (all), unit: count, "
                                           "kind: software}\n  cycles: {label: ticks, time: false}\n")])
    assert counter_label("widgets", mine) == "widgets" and counter_label("cycles", mine) == "ticks"
    assert not is_time_counter("cycles", mine) and is_time_counter("cycles")
    assert counter_label("not_a_counter", mine) == "not_a_counter"
