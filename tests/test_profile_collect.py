"""The kernel profile's collection side: the catalogue's profile section, kallsyms, the categories, the
folded stacks, the counters and the run record's profile, the inproc plumbing and the result table."""
import json
import shutil
from pathlib import Path

import pytest

from pmcsuite.catalogue import PROFILE_PREFIX, builtin_catalogue, load_catalogue
from pmcsuite.collect.backends.inproc import iteration_result, sample_spec, split_sampled
from pmcsuite.collect.profile import (UNKNOWN, Kallsyms, categorise, fold, parse_profile, profile_counters,
                                      summarise)
from pmcsuite.errors import PmcsuiteError
from pmcsuite.plan import plan_counters
from pmcsuite.results.load import load
from pmcsuite.schema import RunRecord, profile_problems

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures"
CAT = builtin_catalogue()
CATEGORIES = CAT.profile_categories
PROFILE_IDS = [f"{PROFILE_PREFIX}{c.name}" for c in CATEGORIES]
SPEC = "sample:cpu-clock:100000"

KALLSYMS = """\
ffffffff81000000 T _stext
ffffffff81001000 T entry_SYSCALL_64
ffffffff81002000 T do_syscall_64
ffffffff81003000 t ksys_write
ffffffff81004000 T __x64_sys_write
ffffffff81005000 t pipe_write
ffffffff81006000 T copy_page_from_iter
ffffffff81007000 D some_data
ffffffff81008000 T __memcg_kmem_charge_page
ffffffff81009000 t _raw_spin_lock_irqsave
ffffffff8100a000 W weak_helper
ffffffffc0001000 t mod_fn\t[some_module]
"""
SYMBOL = {name: int(addr, 16) for addr, _, name, *_ in (line.split() for line in KALLSYMS.splitlines())}


def ip(name: str, offset: int = 0x10) -> str:
    return f"{SYMBOL[name] + offset:x}"


def stack(n, kernel=(), user=("55d0c0de1234",)):
    return {"n": n, "k": [ip(name) for name in kernel], "u": list(user)}


WRITE = ["copy_page_from_iter", "pipe_write", "ksys_write", "__x64_sys_write", "do_syscall_64", "entry_SYSCALL_64"]


def bench_profile(**overrides):
    """A hand-written ipcbench profile object (the contract's shape)."""
    writer = [stack(40, WRITE), stack(5, ["__memcg_kmem_charge_page", "pipe_write", "do_syscall_64"]),
              stack(3), stack(2, ["_raw_spin_lock_irqsave", "pipe_write", "do_syscall_64"])]
    reader = [stack(30, ["pipe_write", "do_syscall_64"]), stack(7, ["_stext"]), stack(1, ["weak_helper"])]
    obj = {"event": "cpu-clock", "period": 100000, "unit": "ns", "status": "ok",
           "writer": {"samples": 50, "lost": 0, "stacks": writer},
           "reader": {"samples": 38, "lost": 2, "stacks": reader}}
    obj.update(overrides)
    return obj


# ---- kallsyms

def test_kallsyms_names_code_addresses_by_the_symbol_at_or_below_them():
    syms = Kallsyms.from_text(KALLSYMS)
    assert syms.state == "ok" and "some_data" not in syms.names and list(syms.addresses) == sorted(syms.addresses)
    assert syms.name(SYMBOL["pipe_write"]) == "pipe_write" and syms.name(SYMBOL["pipe_write"] + 0xfff) == "pipe_write"
    assert syms.name(SYMBOL["some_data"] + 8) == "copy_page_from_iter"       # data symbols are not code
    assert syms.name(SYMBOL["weak_helper"] + 1) == "weak_helper" and syms.name(SYMBOL["mod_fn"] + 4) == "mod_fn"
    assert syms.name(0x1000) == UNKNOWN


def test_kallsyms_hidden_or_missing_names_every_frame_unknown():
    hidden = Kallsyms.from_text("".join(f"0000000000000000 T {n}\n" for n in ("a", "b")))
    assert hidden.state == "hidden" and Kallsyms.from_text("").state == "missing"
    summary = summarise(bench_profile(), CATEGORIES, hidden)
    assert {frame for key in summary.record["folded"] for frame in key.split(";")[1:]} <= {UNKNOWN, "[user]"}
    assert summary.record["kallsyms"] == "hidden" and summary.samples("other") == 85


# ---- categories and folding

def test_an_under_category_wins_wherever_its_frame_is():
    assert categorise(["copy_page_from_iter", "__memcg_kmem_charge_page", "pipe_write"], CATEGORIES, "linux") == "memcg"
    assert categorise(["_raw_spin_lock", "try_to_wake_up", "pipe_write"], CATEGORIES, "linux") == "sched"
    # fault is before memcg: a stack with both goes to fault
    assert categorise(["mem_cgroup_charge", "handle_mm_fault", "exc_page_fault"], CATEGORIES, "linux") == "fault"


def test_else_the_frame_nearest_the_leaf_decides():
    assert categorise(WRITE, CATEGORIES, "linux") == "copy"
    # system-call entry and exit decides only as the leaf: every system call passes through it, so
    # anything else under it that no pattern names is 'other' (and listed as unmatched)
    assert categorise(["fsnotify", "vfs_write", "ksys_write", "__x64_sys_write"], CATEGORIES, "linux") == "other"
    assert categorise(["syscall_exit_to_user_mode", "do_syscall_64"], CATEGORIES, "linux") == "syscall"
    assert categorise(["entry_SYSCALL_64"], CATEGORIES, "linux") == "syscall"
    assert categorise(["_raw_spin_lock_irqsave", "pipe_write"], CATEGORIES, "linux") == "lock"
    assert categorise(["xyz", "abc"], CATEGORIES, "linux") == "other"
    assert categorise([], CATEGORIES, "linux") == "user"
    assert categorise(["uiomove_faultflag", "pipe_write"], CATEGORIES, "FreeBSD") == "copy"
    assert categorise(["uiomove_faultflag", "pipe_write"], CATEGORIES, "linux") == "ipc"


def test_folded_stacks_are_root_first_with_the_role_as_root():
    assert fold("writer", WRITE) == "writer;" + ";".join(reversed(WRITE))
    assert fold("reader", ()) == "reader;[user]"


# ---- the benchmark's profile -> counters and the record

def test_summary_counts_every_sample_once_and_folds_named_stacks():
    summary = summarise(bench_profile(), CATEGORIES, Kallsyms.from_text(KALLSYMS))
    record = summary.record
    assert sum(summary.samples(c.name) for c in CATEGORIES) == 88 == sum(record["folded"].values())
    assert summary.samples("copy") == 40 and summary.samples("memcg") == 5 and summary.samples("user") == 3
    assert summary.samples("ipc", "reader") == 30 and summary.samples("other") == 8        # _stext, weak_helper
    assert record["folded"]["writer;" + ";".join(reversed(WRITE))] == 40 and record["folded"]["writer;[user]"] == 3
    assert record["samples"] == {"writer": 50, "reader": 38} and record["lost"] == {"writer": 0, "reader": 2}
    assert profile_problems(record) == [] and json.loads(json.dumps(record)) == record


def test_the_counters_are_the_categories_and_zero_is_a_value():
    summary = summarise(bench_profile(), CATEGORIES, Kallsyms.from_text(KALLSYMS))
    values = profile_counters(summary, dict.fromkeys(PROFILE_IDS, SPEC), loop_ns=10**8)
    assert [v.counter for v in values] == PROFILE_IDS and {v.status for v in values} == {"ok"}
    by_id = {v.counter: v for v in values}
    assert by_id["profile_fault"].value == 0.0 and by_id["profile_copy"].value == 40.0
    assert sum(v.value for v in values) == 88 and by_id["profile_ipc"].actors["reader"]["value"] == 30
    assert all(v.unit == "samples" and v.event == SPEC for v in values)


def test_a_profile_that_cannot_sample_says_why_and_counts_nothing():
    summary = summarise({"status": "permission_denied", "reason": "perf_event_paranoid is 3"}, CATEGORIES, Kallsyms())
    values = profile_counters(summary, dict.fromkeys(PROFILE_IDS, SPEC), 10**8)
    assert summary.record is None
    assert {(v.status, v.value, v.reason) for v in values} == {("permission_denied", None, "perf_event_paranoid is 3")}
    assert {v.status for v in profile_counters(None, {"profile_copy": SPEC})} == {"error"}


def test_no_sample_in_a_long_loop_is_a_silent_zero_but_a_short_loop_is_zero():
    none = {"samples": 0, "lost": 0, "stacks": []}
    empty = bench_profile(writer=none, reader=none)
    summary = summarise(empty, CATEGORIES, Kallsyms())
    assert {v.status for v in profile_counters(summary, {"profile_copy": SPEC}, loop_ns=10**7)} == {"silent_zero"}
    short = profile_counters(summary, {"profile_copy": SPEC}, loop_ns=500_000)
    assert [(v.status, v.value) for v in short] == [("ok", 0.0)]


@pytest.mark.parametrize("change, words", [
    ({"status": "maybe"}, "status 'maybe'"),
    ({"period": 0}, "period 0"),
    ({"writer": {"samples": 3, "lost": 0, "stacks": [{"n": 2, "k": ["zz"], "u": []}]}}, "hex addresses"),
    ({"writer": {"samples": 3, "lost": 0, "stacks": [{"n": 2, "k": [], "u": []}]}}, "add up to 2"),
    ({"reader": None}, "no reader object"),
])
def test_a_malformed_profile_is_one_line(change, words):
    with pytest.raises(PmcsuiteError, match="rebuild it") as info:
        parse_profile(bench_profile(**change))
    assert words in str(info.value) and "\n" not in str(info.value)


# ---- inproc plumbing

def test_sampled_events_become_one_sample_argument():
    counted, sampled = split_sampled({"task_clock": "task-clock", **dict.fromkeys(PROFILE_IDS, SPEC)})
    assert counted == {"task_clock": "task-clock"} and list(sampled) == PROFILE_IDS
    assert sample_spec(sampled) == "cpu-clock:100000" and sample_spec({}) is None
    with pytest.raises(PmcsuiteError, match="samples once") as info:
        sample_spec({"profile_copy": SPEC, "profile_ipc": "sample:cycles:1000000"})
    assert "\n" not in str(info.value)


def test_an_iteration_gives_the_counters_and_the_records_profile():
    line = {"ipc": "pipe", "buffer_size": 4096, "loop_ns": 10**8, "profile": bench_profile(),
            "counters": {"task_clock": {"event": "task-clock", "status": "ok", "value": 2_000_000}}}
    events = {"task_clock": "task-clock", **dict.fromkeys(PROFILE_IDS, SPEC)}
    out, values = iteration_result(line, events, CAT, Kallsyms.from_text(KALLSYMS))
    assert [v.counter for v in values] == list(events) and values[0].value == 2.0     # msec, as the catalogue says
    assert out["profile"]["folded"] and "status" not in out["profile"] and line["profile"]["status"] == "ok"
    record = RunRecord(ipc="pipe", buffer_size=4096, variant="profile", profile=out["profile"],
                       counters={v.counter: v.to_dict() for v in values})
    assert RunRecord.from_json(json.loads(json.dumps(record.to_json()))).profile == out["profile"]
    assert "profile" not in RunRecord(ipc="pipe", buffer_size=4096, variant="baseline").to_json()


@pytest.mark.parametrize("profile, words", [
    ({"period": 1, "unit": "ns", "colour": 1}, "unknown key 'colour'"),
    ({"period": -1, "unit": "ns"}, "not a positive number"),
    ({"period": 1, "unit": "ns", "folded": {"a;b": -1}}, "folded is not an object of whole numbers"),
    ([], "not an object"),
])
def test_the_records_profile_is_validated(profile, words):
    with pytest.raises(ValueError, match=words):
        RunRecord(ipc="pipe", buffer_size=4096, variant="profile", profile=profile)


# ---- the catalogue's profile section

def test_the_builtin_profile_section():
    assert [c.name for c in CATEGORIES] == ["fault", "memcg", "sched", "lock", "copy", "syscall", "ipc", "user",
                                            "other"]
    assert [c.name for c in CATEGORIES if c.under] == ["fault", "memcg", "sched"]
    assert CAT.groups["profile"].counters == PROFILE_IDS
    for category in CATEGORIES:
        counter = CAT.counters[category.counter]
        assert (counter.kind, counter.unit, counter.label) == ("sample", "samples", category.label)
    assert CAT.event_for("profile_copy", ["x86-64", "software"], "inproc") == ("software", SPEC)
    assert CAT.event_for("profile_copy", ["software"], "perf") is None
    assert CAT.event_for("profile_copy", ["freebsd-kernel"], "dtrace")[1] == "profile:::profile-997"
    assert "profile categories" in __import__("pmcsuite.catalogue", fromlist=["x"]).format_catalogue(
        CAT, ["software"], ["inproc"])


def test_the_profile_gets_a_pass_of_its_own_never_split():
    passes, unavailable = plan_counters(CAT, ["profile", "time", "syscalls"], ["x86-64", "software"], "inproc")
    assert unavailable == {} and [p.name for p in passes] == ["profile", "time", "syscalls"]
    assert set(passes[0].events.values()) == {SPEC} and passes[0].counters == PROFILE_IDS
    _, unavailable = plan_counters(CAT, ["profile"], ["software"], "perf")
    assert set(unavailable) == set(PROFILE_IDS)


def test_a_user_file_extends_a_category_and_adds_one(tmp_path):
    user = tmp_path / "user.yaml"
    user.write_text("""
counters:
  profile_vfs: {unit: samples, kind: sample}
platforms:
  software:
    events:
      profile_vfs: {inproc: "sample:cpu-clock:100000"}
profile:
  categories:
    - {name: copy, linux: ["copy_*"]}
    - {name: vfs, label: the VFS layer, description: Samples in vfs_*, linux: ["vfs_*"]}
""")
    cat = load_catalogue([user])
    names = [c.name for c in cat.profile_categories]
    assert names[-1] == "vfs" and names[:-1] == [c.name for c in CATEGORIES]
    assert cat.profile_categories[names.index("copy")].linux == ("copy_*",)
    assert cat.counters["profile_vfs"].label == "the VFS layer"
    assert categorise(["vfs_write", "ksys_write"], cat.profile_categories, "linux") == "vfs"


@pytest.mark.parametrize("text, words", [
    ("profile:\n  categories:\n    - {name: vfs, label: v, description: d}\n",
     "profile.categories.vfs: no counter profile_vfs of kind sample"),
    ("counters:\n  profile_vfs: {unit: samples, kind: sample, description: d}\n",
     "counters.profile_vfs: a sample counter counts the samples of one profile category"),
    ("profile:\n  categories:\n    - {name: user, linux: [x]}\n", "categories.user.linux: 'user' takes no patterns"),
    ("profile:\n  categories:\n    - {name: copy}\n    - {name: copy}\n", "names category 'copy' twice"),
    ("profile:\n  categories:\n    - {name: Copy}\n", "categories[0].name: 'Copy' must be lower case"),
    ("profile:\n  categories:\n    - {name: copy, under: true, leaf: true}\n", "is both 'under'"),
    ("profile:\n  categories:\n    - {name: other, leaf: true}\n", "categories.other.leaf: 'other' takes no patterns"),
    ("profile:\n  categories:\n    - {name: copy, linux: [1]}\n", "categories[0].linux: must be a list of strings"),
    ("profile:\n  categories:\n    - {label: x}\n", "categories[0]: missing required field 'name'"),
    ("profile:\n  categories: {copy: x}\n", "profile.categories: must be a list of categories"),
    ("platforms:\n  software:\n    events:\n      profile_copy: {perf: cpu-clock}\n",
     "perf counts events, it does not sample"),
    ("platforms:\n  software:\n    events:\n      profile_copy: {inproc: 'sample:cycles:10'}\n",
     "sample with different inproc events"),
    ("platforms:\n  software:\n    events:\n      profile_copy: {inproc: 'sample:cpu-clock'}\n",
     "is not sample:EVENT:PERIOD"),
    ("platforms:\n  software:\n    events:\n      task_clock: {inproc: 'sample:cpu-clock:100'}\n",
     "task_clock is a software counter"),
])
def test_a_bad_profile_section_is_one_line_naming_file_and_field(tmp_path, text, words):
    user = tmp_path / "user.yaml"
    user.write_text(text)
    with pytest.raises(PmcsuiteError) as info:
        load_catalogue([user])
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(user)) and words in message, message


# ---- the result table

def test_the_table_has_the_profile_columns(tmp_path):
    directory = Path(shutil.copytree(FIXTURES / "results_small", tmp_path / "results_small"))
    runs = (directory / "runs.jsonl").read_text().splitlines()
    first = json.loads(runs[0])
    first["profile"] = {"event": "cpu-clock", "period": 100000, "unit": "ns", "samples": {"writer": 5, "reader": 4},
                        "lost": {"writer": 1, "reader": 2}, "folded": {"writer;[user]": 5, "reader;[user]": 4}}
    (directory / "runs.jsonl").write_text("\n".join([json.dumps(first), *runs[1:]]) + "\n")
    df = load(directory, cache=False)
    assert df.loc[0, "profile_period_ns"] == 100000.0 and df.loc[0, "profile_lost"] == 3
    assert df["profile_period_ns"].iloc[1:].isna().all() and df["profile_lost"].iloc[1:].isna().all()
    assert str(df["profile_lost"].dtype) == "Int64" and df["profile_period_ns"].dtype == float


def test_export_and_import_csv_carry_the_profile_columns(tmp_path):
    from pmcsuite.results.export import export
    from pmcsuite.results.importers.tidy_csv import import_csv
    directory = Path(shutil.copytree(FIXTURES / "results_small", tmp_path / "results_small"))
    records = [json.loads(line) for line in (directory / "runs.jsonl").read_text().splitlines()]
    sampled = next(i for i, r in enumerate(records) if r.get("ok", r.get("error") is None) and r["counters"])
    records[sampled]["profile"] = {"event": "cpu-clock", "period": 100000, "unit": "ns",
                                   "samples": {"writer": 5, "reader": 4}, "lost": {"writer": 1, "reader": 2}}
    (directory / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    export(directory, tmp_path / "out", "csv")
    back = load(import_csv(tmp_path / "out" / "tidy.csv", tmp_path / "back"), cache=False)
    original = load(directory, cache=False)
    assert back["profile_lost"].sum() == 3 and back["profile_lost"].notna().sum() == 1
    assert back["profile_period_ns"].dropna().tolist() == [100000.0] == original["profile_period_ns"].dropna().tolist()
    export(tmp_path / "back", tmp_path / "again", "csv")
    assert (tmp_path / "again" / "tidy.csv").read_text() == (tmp_path / "out" / "tidy.csv").read_text()


def test_an_imported_lost_count_needs_a_period(tmp_path):
    from pmcsuite.results.importers.tidy_csv import import_csv
    csv = tmp_path / "t.csv"
    csv.write_text("ipc,actors,buffer_size,total_size,run,variant,bandwidth,profile_lost\n"
                   "pipe,2thread,4K,16M,0,profile,1000000,3\n")
    with pytest.raises(PmcsuiteError, match=r"t.csv:2: profile_lost without profile_period_ns"):
        import_csv(csv, tmp_path / "out")


# ---- tracefs

def test_tracefs_is_mounted_as_root_and_said_once(tmp_path):
    from pmcsuite.collect.tracefs import MOUNT_COMMAND, ensure_tracefs
    root, said, calls = tmp_path / "tracing", [], []
    root.mkdir()

    def mount(argv):
        calls.append(argv)
        (root / "events").mkdir()

    assert ensure_tracefs((str(root),), is_root=True, mount=mount, say=said.append) is None
    assert calls == [["mount", "-t", "tracefs", "nodev", str(root)]] and len(said) == 1 and MOUNT_COMMAND in said[0]
    assert ensure_tracefs((str(root),), is_root=True, mount=mount, say=said.append) is None and len(calls) == 1


def test_without_root_the_tracepoints_are_lost_with_the_command_that_brings_them_back(tmp_path):
    from pmcsuite.collect.tracefs import ensure_tracefs
    why = ensure_tracefs((str(tmp_path / "tracing"),), is_root=False, mount=pytest.fail)
    assert why == "tracefs is not mounted and only root can mount it: sudo mount -t tracefs nodev /sys/kernel/tracing"
    failed = ensure_tracefs((str(tmp_path),), is_root=True, mount=lambda argv: "permission denied")
    assert "failed (permission denied)" in failed


def test_lost_default_groups_are_named_with_why(monkeypatch, capsys):
    from pmcsuite.collect import check as check_module
    from pmcsuite.collect import groups
    from pmcsuite.collect.check import CheckResult
    why = "tracefs is not mounted and only root can mount it: sudo mount -t tracefs nodev /sys/kernel/tracing"

    def fake_check(cat, names, platforms, backend):
        return [CheckResult(c, "e", "not_supported" if CAT.counters[c].kind == "tracepoint" else "available",
                            why if CAT.counters[c].kind == "tracepoint" else None, "software")
                for c in CAT.expand(names) if "software" in CAT.platforms and c in CAT.platforms["software"].events]

    monkeypatch.setattr(groups, "check", fake_check)
    assert check_module.check is not fake_check
    chosen, _, lost = groups.choose_groups(CAT, [], ["software"], "inproc")
    assert "syscalls" not in chosen and "time" in chosen
    assert lost["syscalls"] == why and set(lost) == {"syscalls", "sched"}
    err = capsys.readouterr().err
    assert "not counting" in err and "'sudo mount -t tracefs nodev /sys/kernel/tracing' brings" in err
    assert len(err.strip().splitlines()) == 1
