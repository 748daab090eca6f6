"""Planner: passes honour the PMU slots; the job order is seeded, reproducible, warm-ups first."""
import random
from collections import Counter

import pytest

from pmcsuite.errors import PmcsuiteError
from pmcsuite.plan import (
    batches, split_runs, Job, Pass, make_jobs, more_jobs, plan_counters, remaining_jobs, run_key)

pytestmark = pytest.mark.unit


def counted_passes(cat, groups, platforms, backend):
    """``plan_counters``' passes where every counter has an event."""
    passes, unavailable = plan_counters(cat, groups, platforms, backend)
    assert unavailable == {}
    return passes


def _slots_used(cat, p, backend):
    plat = cat.platforms[p.platform[p.counters[0]]]
    return sum(1 for c in p.counters if not plat.is_fixed(c, backend))


@pytest.mark.parametrize("backend", ["perf", "pmcstat"])
def test_cortex_a8_passes_fit_four_counters(cat, backend):
    passes = counted_passes(cat, ["l1", "axi", "l2", "tlb"], ["cortex-a8"], backend)
    assert [p.name for p in passes] == ["l1+axi", "l2+tlb"]
    assert all(len(p.counters) <= 4 for p in passes)
    assert passes[0].events == {"l1d_access": "L1-dcache-loads" if backend == "perf" else "L1_DCACHE_ACCESS",
                                "l1d_refill": "L1-dcache-load-misses" if backend == "perf" else "L1_DCACHE_REFILL",
                                "axi_read": "r45" if backend == "perf" else "AXI_READ",
                                "axi_write": "r46" if backend == "perf" else "AXI_WRITE"}
    assert passes[1].groups == ["l2", "tlb"] and set(passes[1].platform.values()) == {"cortex-a8"}


def test_fixed_cycle_counter_takes_no_slot_with_perf_only(cat):
    groups = ["instr", "l1", "mem", "l1i"]
    perf = counted_passes(cat, groups, ["cortex-a8"], "perf")
    assert [p.name for p in perf] == ["instr+l1+l1i", "mem"]          # instructions is counted once
    assert perf[0].counters == ["instructions", "cycles", "l1d_access", "l1d_refill", "l1i_refill"]
    pmcstat = counted_passes(cat, groups, ["cortex-a8"], "pmcstat")       # hwpmc books cycles on a row
    assert [p.name for p in pmcstat] == ["instr+l1", "mem+l1i"]
    for backend, passes in (("perf", perf), ("pmcstat", pmcstat)):
        assert all(_slots_used(cat, p, backend) <= 4 for p in passes)
        assert sorted(c for p in passes for c in p.counters) == sorted(cat.expand(groups))


def test_group_larger_than_slots_is_split(cat, monkeypatch):
    monkeypatch.setattr(cat.platforms["cortex-a8"], "slots", 1)
    passes = counted_passes(cat, ["instr", "tlb"], ["cortex-a8"], "perf")
    assert [p.name for p in passes] == ["instr", "tlb#1", "tlb#2"]
    assert [p.groups for p in passes] == [["instr"], ["tlb"], ["tlb"]]
    monkeypatch.setattr(cat.platforms["cortex-a8"], "slots", 3)
    passes = counted_passes(cat, ["syscalls"], ["cortex-a8", "software"], "perf")
    assert [p.name for p in passes] == ["syscalls"]                     # software: no slot limit


def test_tracepoints_apart_from_software_events_and_never_mixed_with_hardware(cat):
    software, unavailable = plan_counters(cat, ["syscalls", "faults", "sched", "time"], ["software"], "perf")
    assert set(unavailable) == {"fault_ns", "offcpu_ns"}     # no perf event times faults or sleep
    assert [p.name for p in software] == ["syscalls+sched.tracepoint", "faults+sched.software+time"]
    assert software[0].events == {"syscalls_read": "syscalls:sys_enter_read",
                                  "syscalls_write": "syscalls:sys_enter_write",
                                  "syscalls_all": "raw_syscalls:sys_enter", "sched_switch": "sched:sched_switch"}
    assert {cat.counters[c].kind for c in software[1].counters} == {"software"}
    assert software[1].groups == ["faults", "sched", "time"]
    mixed = counted_passes(cat, ["instr", "syscalls", "l1"], ["x86-64", "software"], "perf")
    assert [p.name for p in mixed] == ["instr+l1", "syscalls"]
    for p in mixed:
        assert len(set(p.platform.values())) == 1


def test_unavailable_counters_are_reported_not_dropped(cat):
    passes, unavailable = plan_counters(cat, ["axi", "l1", "syscalls"], ["x86-64", "software"], "perf")
    assert set(unavailable) == {"axi_read", "axi_write"} and "memory-bus" in unavailable["axi_read"]
    assert [p.name for p in passes] == ["l1", "syscalls"]
    passes, unavailable = plan_counters(cat, ["l1", "time"], ["software"], "perf")   # VM without a PMU
    assert [p.name for p in passes] == ["time"] and set(unavailable) == {"l1d_access", "l1d_refill"}
    with pytest.raises(PmcsuiteError, match="unknown counter group or counter 'l7'"):
        plan_counters(cat, ["l7"], ["software"], "perf")


def test_bare_counter_ids(cat):
    passes = counted_passes(cat, "syscalls_write,page_faults,task_clock", ["software"], "perf")
    assert [p.name for p in passes] == ["syscalls_write", "page_faults+task_clock"]
    assert passes[0].metadata()["events"] == {"syscalls_write": "syscalls:sys_enter_write"}
    assert passes[1].metadata()["events"] == {"page_faults": "page-faults", "task_clock": "task-clock"}


def _passes(cat):
    return counted_passes(cat, ["l1", "axi", "l2", "tlb"], ["cortex-a8"], "perf")


def test_jobs_complete_seeded_and_reproducible(cat):
    passes = _passes(cat)
    jobs = make_jobs(["pipe", "local"], [1024, 65536, 1 << 20], 4, passes, seed=7)
    assert len(jobs) == 2 * 3 * (1 + len(passes)) * 4
    cells = Counter((j.ipc, j.size, j.variant) for j in jobs)
    assert set(cells.values()) == {4} and len(cells) == 2 * 3 * 3
    assert {(j.ipc, j.size, j.variant, j.first_run) for j in jobs} == {
        (i, s, v, r) for i in ("pipe", "local") for s in (1024, 65536, 1 << 20)
        for v in ("baseline", "l1+axi", "l2+tlb") for r in range(4)}
    assert [j.process for j in jobs] == list(range(len(jobs)))      # one job per process, in order
    again = make_jobs(["pipe", "local"], [1024, 65536, 1 << 20], 4, passes, seed=7)
    assert [j.key for j in again] == [j.key for j in jobs]
    other = make_jobs(["pipe", "local"], [1024, 65536, 1 << 20], 4, passes, seed=8)
    assert [j.key for j in other] != [j.key for j in jobs]
    # shuffled, not grouped by cell
    assert [j.key for j in jobs] != sorted(j.key for j in jobs)
    assert all((j.pass_ is None) == (j.variant == "baseline") for j in jobs)
    assert all(j.pass_.name == j.variant for j in jobs if j.pass_)


def test_warmup_runs_first_in_each_cell(cat):
    jobs = make_jobs(["pipe", "local", "local-s"], [4096, 65536], 5, _passes(cat), seed=1)
    last = {}
    for job in jobs:                                   # run numbers rise in execution order
        cell = (job.ipc, job.size, job.variant)
        assert job.first_run == last.get(cell, -1) + 1 and job.iterations == 1
        last[cell] = job.first_run
    no_baseline = make_jobs(["pipe"], [4096], 2, _passes(cat), seed=1, baseline=False)
    assert {j.variant for j in no_baseline} == {"l1+axi", "l2+tlb"} and len(no_baseline) == 4


def test_make_jobs_rejects_bad_input(cat):
    with pytest.raises(PmcsuiteError, match="runs must be a positive integer"):
        make_jobs(["pipe"], [4096], 0, [], 1)
    with pytest.raises(PmcsuiteError, match="sweep is empty"):
        make_jobs([], [4096], 1, [], 1)
    with pytest.raises(PmcsuiteError, match="nothing to run"):
        make_jobs(["pipe"], [4096], 1, [], 1, baseline=False)
    dup = Pass("baseline", [], [], {})
    with pytest.raises(PmcsuiteError, match="unique"):
        make_jobs(["pipe"], [4096], 1, [dup], 1)


def test_remaining_jobs_for_resume(cat):
    jobs = make_jobs(["pipe", "local"], [4096, 65536], 3, _passes(cat), seed=3)
    records = [{"ipc": j.ipc, "buffer_size": j.size, "variant": j.variant, "run": j.first_run, "ok": True,
                "process": j.process, "iteration": 0, "iterations": 1} for j in jobs[:10]]
    left = remaining_jobs(jobs, {run_key(r) for r in records})
    assert left == jobs[10:]
    assert remaining_jobs(jobs, []) == jobs
    assert remaining_jobs(jobs, [list(j.key) for j in jobs]) == []
    assert Job("pipe", 4096, "baseline", 0).key == ("pipe", 4096, "baseline", 0)


@pytest.mark.parametrize("points", [1, 3])
def test_runs_spread_over_processes(cat, points):
    """In-process counting: a cell's runs are iterations of several processes (larger shares first),
    each process running up to ``points`` cells of one variant, never one cell twice; the processes
    of all variants interleaved; run numbers follow execution order within each cell."""
    jobs = make_jobs(["pipe", "local"], [4096, 65536, 1 << 20], 13, _passes(cat), seed=5, processes=3,
                     points_per_process=points)
    assert len(jobs) == 2 * 3 * 3 * 3
    by_cell = {}
    for job in jobs:
        by_cell.setdefault((job.ipc, job.size, job.variant), []).append(job)
    for members in by_cell.values():
        assert len({j.process for j in members}) == 3
        assert [j.iterations for j in members] == [5, 4, 4]
        assert [j.first_run for j in members] == [0, 5, 9]
    groups = batches(jobs)
    assert sum(len(b) for b in groups) == len(jobs) and max(len(b) for b in groups) == points
    assert len(groups) == 3 * 3 * -(-6 // points)
    for b in groups:
        assert len({j.variant for j in b}) == 1 and len({(j.ipc, j.size) for j in b}) == len(b)
    assert [b[0].process for b in groups] == list(range(len(groups)))
    assert [b[0].variant for b in groups] != sorted(b[0].variant for b in groups)   # variants interleaved
    again = make_jobs(["pipe", "local"], [4096, 65536, 1 << 20], 13, _passes(cat), seed=5, processes=3,
                      points_per_process=points)
    assert [j.key for j in again] == [j.key for j in jobs]
    assert split_runs(10, 3) == [4, 3, 3] and split_runs(3, 3) == [1, 1, 1]
    with pytest.raises(PmcsuiteError, match="processes must be a whole number from 1 to runs"):
        make_jobs(["pipe"], [4096], 2, [], 1, processes=3)
    records = [{"ipc": "pipe", "buffer_size": 4096, "variant": "baseline", "run": 5, "process": 1,
                "iteration": 0, "iterations": 4}]
    assert run_key(records[0]) == ("pipe", 4096, "baseline", 1)


@pytest.mark.parametrize("name", ["DEFAULT", "QUICK"])
def test_the_default_and_quick_plans_are_whole_processes(name):
    """collect's plans (issue 15: more processes, fewer iterations): every process of a point gets the
    same iterations, its warm-up and at least one measured one; each point's runs come from that many
    different processes."""
    from pmcsuite.schema import DEFAULT_SWEEP, QUICK_SWEEP
    plan = {"DEFAULT": DEFAULT_SWEEP, "QUICK": QUICK_SWEEP}[name]
    shares = split_runs(plan["runs"], plan["processes"])
    assert len(set(shares)) == 1 and shares[0] >= plan["warmup"] + 1
    assert plan["processes"] >= 4          # fewer cannot give a one-point verdict (bench/validation_plan.py)
    jobs = make_jobs(["pipe", "local"], [4096, 65536], plan["runs"], [], seed=1, processes=plan["processes"],
                     points_per_process=plan["points_per_process"])
    per_cell = Counter((j.ipc, j.size) for j in jobs)
    assert set(per_cell.values()) == {plan["processes"]}


def test_more_jobs_adds_whole_processes_within_max_runs():
    """--target-ci's next round: each cell gets the processes its spread needs (at least one), each
    of the plan's size, the last one smaller only down to ``smallest``; run numbers go on after the
    cell's, process numbers from ``first_process``; a cell at --max-runs gets nothing."""
    pass_ = Pass("faults", ["faults"], ["page_faults"], {"page_faults": "page-faults"})
    cells = [(("pipe", 4096, "baseline"), 3, 4, 3),      # wants 3 more: room for 2 + 1 of max_runs 9
             (("pipe", 65536, "faults"), 0, 4, 3),       # wants none but is still wide: one process
             (("local", 4096, "baseline"), 2, 9, 8)]     # at max_runs already
    jobs = more_jobs(cells, [pass_], share=2, smallest=1, max_runs=9, points_per_process=1, first_process=10,
                     rng=random.Random(1))
    by_cell = {}
    for job in jobs:
        by_cell.setdefault((job.ipc, job.size, job.variant), []).append((job.first_run, job.iterations))
    assert sorted(by_cell[("pipe", 4096, "baseline")]) == [(4, 2), (6, 2), (8, 1)]
    assert by_cell[("pipe", 65536, "faults")] == [(4, 2)] and ("local", 4096, "baseline") not in by_cell
    assert sorted(j.process for j in jobs) == [10, 11, 12, 13]
    assert all(j.pass_ is pass_ for j in jobs if j.variant == "faults")
    assert all(j.pass_ is None for j in jobs if j.variant == "baseline")
    # a smaller last process than a warm-up and a measured iteration is not run
    fewer = more_jobs(cells[:1], [], share=2, smallest=2, max_runs=9, points_per_process=1, first_process=0,
                      rng=random.Random(1))
    assert sorted((j.first_run, j.iterations) for j in fewer) == [(4, 2), (6, 2)]
    assert more_jobs(cells[2:], [], share=2, smallest=1, max_runs=9, points_per_process=1, first_process=0,
                     rng=random.Random(1)) == []


def test_more_jobs_never_puts_a_cell_twice_in_one_process():
    cells = [(("pipe", size, "baseline"), 2, 2, 1) for size in (4096, 8192, 16384)]
    jobs = more_jobs(cells, [], share=2, smallest=2, max_runs=10, points_per_process=3, first_process=0,
                     rng=random.Random(7))
    assert len(jobs) == 6
    for process in {j.process for j in jobs}:
        members = [(j.ipc, j.size) for j in jobs if j.process == process]
        assert len(members) == len(set(members)) == 3
