"""The kernel profile's analysis (issue 17): shares of the sampled time and time per KiB per category with
process-level intervals, fault time against loop time, folded stacks, and explain naming a category."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from collected import PERIOD, sweep
from pmcsuite.analysis import explain, findings
from pmcsuite.analysis.attribution import SAMPLED, Change, attribute_changes
from pmcsuite.analysis.labels import counter_labels, is_profile_counter, is_time_counter
from pmcsuite.analysis.profile import (OTHER, chosen_points, folded_text, icicle, kernel_frames, merge_folded,
                                       parse_folded, profile, unmatched_functions)
from pmcsuite.schema import DEFAULT_TOTAL, KIB

pytestmark = pytest.mark.unit

SIZES = [4096, 16384, 65536, 262144, 1048576]
TRUTH = {"fault": lambda n: 200.0 if n >= 1 << 20 else 20.0, "memcg": lambda n: 100.0, "copy": lambda n: 300.0,
         "syscall": lambda n: 2e6 / n, "user": lambda n: 0.0, "other": lambda n: 40.0}


@pytest.fixture(scope="module")
def profiled():
    return sweep(3, passes=("profile",), sizes=SIZES, runs=13, processes=4, ipcs=("pipe", "local"), profile=TRUTH)


@pytest.fixture(scope="module")
def result(profiled):
    return profile(profiled)


def row(result, ipc, size, category):
    t = result.table
    return t[(t["ipc"] == ipc) & (t["buffer_size"] == size) & (t["category"] == category)].iloc[0]


def test_shares_are_levels_over_processes_and_cover_the_truth(result):
    for size in SIZES:
        truth = {c: f(size) for c, f in TRUTH.items()}
        for c, v in truth.items():
            r = row(result, "pipe", size, c)
            assert r["n_processes"] == 4 and r["n_runs"] >= 8
            expected = v / sum(truth.values())
            assert r["share_low"] - 0.02 <= expected <= r["share_high"] + 0.02, (size, c, r.to_dict())
    point = result.table[(result.table["ipc"] == "pipe") & (result.table["buffer_size"] == 65536)]
    assert point["share"].sum() == pytest.approx(1.0)        # four processes: nothing trimmed


def test_time_per_kib_is_samples_times_period_per_kib(result):
    # the synthetic runs' samples are the truth x the run's own slowness: intervals cover it
    t = result.table
    truth = np.array([TRUTH[c](s) for c, s in zip(t["category"], t["buffer_size"])])
    covered = (t["ns_low"] <= truth) & (truth <= t["ns_high"])
    assert covered.mean() >= 0.9
    timed = truth > 0
    assert float(np.median(t["ns_per_kib"][timed] / truth[timed])) == pytest.approx(1.0, abs=0.05)


def test_a_category_never_sampled_is_a_real_zero(result):
    r = row(result, "pipe", 65536, "user")
    assert r["share"] == 0 and r["ns_per_kib"] == 0 and r["samples_per_run"] == 0


def test_one_process_gives_no_interval():
    df = sweep(1, passes=("profile",), sizes=[4096, 65536], runs=5, processes=1, ipcs=("pipe",), profile=TRUTH)
    r = profile(df).table.iloc[0]
    assert r["n_processes"] == 1 and math.isnan(r["share_low"]) and math.isfinite(r["share"])


def test_runs_without_a_process_are_each_their_own(profiled):
    df = profiled.copy()
    df["process"] = pd.array([pd.NA] * len(df), dtype="Int64")
    r = row(profile(df), "pipe", 4096, "copy")
    assert r["n_processes"] == r["n_runs"]


def test_fault_time_against_loop_time(result, profiled):
    f = result.faults[result.faults["ipc"] == "pipe"].set_index("buffer_size")
    assert list(f.index) == SIZES
    runs = profiled[(profiled["ipc"] == "pipe") & (profiled["variant"] == "profile") & ~profiled["warmup"]]
    loop_ms = runs.groupby("buffer_size")["loop_ns"].median() / 1e6
    for size in SIZES:
        truth = TRUTH["fault"](size) * DEFAULT_TOTAL / KIB / 1e6          # ms per run at the curve's level
        assert f.loc[size, "fault_ms"] == pytest.approx(truth, rel=0.25)
        assert f.loc[size, "loop_ms"] == pytest.approx(loop_ms[size], rel=0.1)
        assert 0 <= f.loc[size, "fraction_low"] <= f.loc[size, "fraction"] <= f.loc[size, "fraction_high"]
    assert f.loc[1 << 20, "fraction"] > 5 * f.loc[65536, "fraction"]


def test_unknown_period_keeps_shares_and_says_why(profiled):
    df = profiled.copy()
    df["profile_period_ns"] = np.nan
    res = profile(df)
    assert res.table["share"].notna().all() and res.table["ns_per_kib"].isna().all()
    assert res.faults.empty
    assert any("sampling period" in n for n in res.notes)


def test_lost_samples_are_said(profiled):
    df = profiled.copy()
    df.loc[(df["ipc"] == "pipe") & (df["buffer_size"] == 4096) & df["profile_lost"].notna(), "profile_lost"] = 50
    res = profile(df)
    assert any("lost" in n and "pipe 4K" in n for n in res.notes)
    assert not any("lost" in n for n in profile(profiled).notes)


def test_no_profile_no_rows():
    res = profile(sweep(1, sizes=[4096, 65536], runs=5, ipcs=("pipe",)))
    assert res.table.empty and res.faults.empty and res.categories == []


def test_summary_dict_and_plot(result):
    text = result.summary()
    assert "pipe" in text and "4K" in text and "estimate" in text
    json.dumps(result.to_dict(), allow_nan=False)
    assert result.to_frame() is result.table
    fig = result.plot(["pipe"])
    assert len(fig.axes) == 1 and fig.axes[0].get_title() == "pipe"


# ------------------------------------------------------------------------------------------ stacks

def records():
    stack = "writer;[user];entry_SYSCALL_64;do_syscall_64;copy_page_from_iter"
    base = {"ipc": "pipe", "buffer_size": 4096, "ok": True, "warmup": False}
    return [
        {**base, "profile": {"folded": {stack: 5, "reader;[user]": 2}}},
        {**base, "profile": {"folded": {stack: 3, "reader;entry_SYSCALL_64;mystery": 4}}},
        {**base, "warmup": True, "profile": {"folded": {stack: 100}}},
        {**base, "ok": False, "profile": {"folded": {stack: 100}}},
        {**base, "buffer_size": 65536, "profile": {"folded": {stack: 7}}},
        {**base, "buffer_size": 65536},                                       # a run without a profile
    ]


def test_merge_folded_sums_the_measured_runs_of_a_point_per_actor_root():
    merged = merge_folded(records())
    assert merged[("pipe", 4096)] == {"writer;[user];entry_SYSCALL_64;do_syscall_64;copy_page_from_iter": 8,
                                      "reader;[user]": 2, "reader;entry_SYSCALL_64;mystery": 4}
    assert list(merge_folded(records(), points=[("pipe", 65536)])) == [("pipe", 65536)]


def test_folded_text_round_trips_and_keeps_a_frame_whole():
    folded = {"writer;a;b": 3, "reader;odd name with spaces": 2}
    text = folded_text(folded)
    assert text.splitlines() == ["reader;odd_name_with_spaces 2", "writer;a;b 3"]
    assert parse_folded(text) == {"reader;odd_name_with_spaces": 2, "writer;a;b": 3}
    with pytest.raises(ValueError, match="line 1"):
        parse_folded("writer;a;b\n")


def test_unmatched_functions_are_the_leaves_of_other_stacks():
    def categorise(frames):
        return "copy" if any(f.startswith("copy_") for f in frames) else OTHER
    folded = merge_folded(records())[("pipe", 4096)]
    assert kernel_frames("writer;[user];entry_SYSCALL_64;leaf") == ["leaf", "entry_SYSCALL_64"]
    top = unmatched_functions(folded, categorise)
    assert top.to_dict("records") == [{"function": "mystery", "samples": 4, "share_of_other": 1.0,
                                       "share_of_all": 4 / 14}]


def test_icicle_boxes_nest_and_are_as_wide_as_their_samples():
    boxes = icicle({"writer;a;b": 3, "writer;a;c": 1, "reader;a": 2})
    roots = [b for b in boxes if b.depth == 0]
    assert [(b.name, b.start, b.width) for b in roots] == [("reader", 0, 2), ("writer", 2, 4)]
    for b in boxes:
        if b.depth:
            parent = next(p for p in boxes if p.path == b.path[:-1])
            assert parent.start <= b.start and b.start + b.width <= parent.start + parent.width
    assert [(b.name, b.start, b.width) for b in boxes if b.depth == 2] == [("b", 2, 3), ("c", 5, 1)]


def test_chosen_points_are_the_ends_and_middle_of_each_mode(result):
    points = chosen_points(result, also=[("pipe", 16384), ("pipe", 999)])
    assert points[:3] == [("local", 4096), ("local", 65536), ("local", 1048576)]
    assert ("pipe", 16384) in points and ("pipe", 999) not in points


# ------------------------------------------------------------------------------------------ explain

STEP = 1 << 16
KIB_NS = KIB * 1e9


def memcg_rise(n):
    return 150.0 if n < STEP else 450.0


def wall_ns_per_kib(n):
    """The loop's wall time per KiB: per-call cost + copy, plus what memory-cgroup charging adds past STEP."""
    return 2e6 / n + 400 + memcg_rise(n) - 150


def bandwidth(n):
    return KIB_NS / wall_ns_per_kib(np.asarray(n, float))


def explained(memcg):
    prof = {"memcg": memcg, "syscall": lambda n: 2e6 / n, "copy": lambda n: 300.0, "other": lambda n: 50.0}
    df = sweep(1, curves={"pipe": bandwidth}, passes=("profile",), sizes=[1 << k for k in range(12, 22)], runs=8,
               processes=4, profile=prof)
    return df, explain(df)


def test_explain_names_the_category_that_rises():
    df, expl = explained(memcg_rise)
    fall = next(f for f in findings(expl) if f["kind"] == "fall")
    assert [c["id"] for c in fall["counters"]] == ["profile_memcg"]
    assert fall["counters"][0]["cost_source"] == SAMPLED
    assert "as time in memory-cgroup charging per KiB rises" in fall["sentence"]
    assert fall["counters"][0]["fold_change"] == pytest.approx(3.0, rel=0.2)
    m = expl.modes["pipe"]
    assert m.counter_cells["profile_memcg"]["median"].iloc[-1] == pytest.approx(450, rel=0.15)   # ns per KiB


def test_explain_names_no_category_when_they_are_flat():
    # the same fall of bandwidth, but the profile does not see it (e.g. time off the CPU): nothing named
    _, expl = explained(lambda n: 150.0)
    fall = next(f for f in findings(expl) if f["kind"] == "fall")
    assert fall["counters"] == [] and fall["counters_tried"] == 4
    assert "nothing measured shows why" in fall["sentence"]


def test_a_category_is_a_cause_and_whole_loop_time_stays_context():
    df, _ = explained(memcg_rise)
    df = df.copy()
    rows = df["profile_memcg"].notna()
    df["task_clock"] = np.where(rows, df["loop_ns"] * 2, np.nan)
    df["task_clock_status"] = np.where(rows, "ok", None)
    atts = attribute_changes(df[~df["warmup"]], [Change("pipe", 32768, 1 << 20)],
                             ["profile_memcg", "profile_copy", "task_clock"])[0]
    by_id = {a.id: a for a in atts}
    assert by_id["profile_memcg"].named and not by_id["profile_memcg"].is_time
    assert by_id["task_clock"].is_time and not by_id["task_clock"].named
    assert by_id["profile_memcg"].share == pytest.approx(1.0, abs=0.35)


def test_profile_counters_are_labelled_as_time_where_they_went():
    assert is_profile_counter("profile_memcg") and not is_time_counter("profile_memcg")
    assert not is_profile_counter("profile_period_ns") and not is_profile_counter("cycles")
    assert counter_labels(["profile_memcg"]) == {"profile_memcg": "time in memory-cgroup charging"}
    assert counter_labels(["profile_nosuch"]) == {"profile_nosuch": "time in nosuch"}


def test_the_synthetic_period_is_the_default_one():
    assert PERIOD == 100_000.0


def test_a_category_time_is_one_amount_in_the_sentence():
    from pmcsuite.analysis.why import named_counter
    f = {"kind": "fall", "ipc": "pipe", "from_size": 65536, "to_size": 1 << 20,
         "counters": [{"id": "profile_lock", "label": "time in locks", "fold_change": 2.0, "share": 0.6,
                       "direction": "rises"}]}
    assert named_counter(f) == "pipe bandwidth falls from 64 KiB as time in locks per KiB rises 2.0x."
