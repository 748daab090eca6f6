"""Attribution by magnitude and direction (issue 15): a counter is named for a change of bandwidth only
when its change is established over the whole family, moves the way that costs time, and can account
for a stated share of the time change at its documented cost per event."""
import math

import numpy as np
import pandas as pd
import pytest

from pmcsuite.analysis.attribution import (CATALOGUE, MIN_SHARE, OTHER_RUNS, SAME_RUNS, TIME_REASON, Attribution,
                                           Change, attribute_changes)
from pmcsuite.catalogue import load_catalogue
from pmcsuite.errors import PmcsuiteError

pytestmark = [pytest.mark.unit, pytest.mark.filterwarnings("error")]

MIB = 1 << 20
TOTAL = 1 << 24
SIZES = [16384, 65536, 262144, 1048576]
#: bandwidth (MiB/s) per size: a fall from 64K to 256K halves it (time per KiB 1953 -> 3906 ns)
CURVE = {16384: 450.0, 65536: 500.0, 262144: 250.0, 1048576: 240.0}
NS_PER_KIB = {s: 1024e9 / (v * MIB) for s, v in CURVE.items()}
FALL = Change("pipe", 65536, 262144)
COST = 20.0          # cycles per axi_read event in the test catalogue; cycles run at 1 GHz: 20 ns
SHARE = 0.7          # planted share of the time change the axi_read rise accounts for
AXI_FROM = 18.0
AXI_TO = AXI_FROM + SHARE * (NS_PER_KIB[262144] - NS_PER_KIB[65536]) / COST    # ~86 per KiB


def table(variants=("baseline", "bus"), processes=5, iterations=3, process_cv=0.03, run_cv=0.01, seed=0,
          curve=CURVE):
    """Runs in benchmark processes: each (variant, size) point runs in ``processes`` processes of
    ``iterations`` runs; a process's regime scales all its runs' bandwidth (``process_cv``)."""
    rng = np.random.default_rng(seed)
    rows, process = [], 0
    for variant in variants:
        for size in SIZES:
            for _ in range(processes):
                regime = math.exp(process_cv * rng.standard_normal())
                for it in range(iterations):
                    bw = curve[size] * regime * math.exp(run_cv * rng.standard_normal()) * MIB
                    rows.append({"ipc": "pipe", "buffer_size": size, "total_size": TOTAL, "run": len(rows),
                                 "warmup": False, "variant": variant, "ok": True, "loop_ns": TOTAL / bw * 1e9,
                                 "bandwidth": bw, "writes": TOTAL // size, "process": process, "iteration": it})
                process += 1
    return pd.DataFrame(rows)


def counter(df, name, per_kib_at, variant="bus", noise=0.01, seed=1):
    """Counter ``name`` on ``variant``'s runs: ``per_kib_at[size]`` per KiB with run noise."""
    rng = np.random.default_rng(seed)
    rows = df["variant"] == variant
    per_kib = df["buffer_size"].map(per_kib_at).to_numpy(float)
    values = per_kib * TOTAL / 1024 * np.exp(noise * rng.standard_normal(len(df)))
    df[name] = np.where(rows, values, np.nan)
    df[f"{name}_status"] = np.where(rows, "ok", None)
    return df


def with_cycles(df, variant="bus", ghz=1.0):
    rows = df["variant"] == variant
    df["cycles"] = np.where(rows, df["loop_ns"] * ghz, np.nan)
    df["cycles_status"] = np.where(rows, "ok", None)
    return df


def flat(v):
    return {s: v for s in SIZES}


def fall_at(a, b):
    """``a`` per KiB up to 64K, ``b`` from 256K."""
    return {16384: a, 65536: a, 262144: b, 1048576: b}


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    """The built-in catalogue with an exact cost for axi_read (so the planted share is known)."""
    path = tmp_path_factory.mktemp("cat") / "cost.yaml"
    path.write_text("counters:\n  axi_read:\n    cost:\n      cycles: %g\n      source: test\n" % COST)
    return load_catalogue([path])


@pytest.fixture(scope="module")
def sweep():
    df = with_cycles(table())
    counter(df, "axi_read", fall_at(AXI_FROM, AXI_TO), seed=1)           # rises enough through the fall
    counter(df, "itlb_refill", fall_at(0.004, 0.02), noise=0.02, seed=2)   # 5x, but 0.016 per KiB
    counter(df, "dtlb_refill", fall_at(2.0, 0.5), seed=3)                # falls through the fall
    counter(df, "l1d_refill", fall_at(20.0, 20.0), noise=0.02, seed=4)    # does not change
    return df


def by_id(atts):
    return {a.id: a for a in atts}


def test_planted_counter_is_named_with_its_share(sweep, catalogue):
    [atts] = attribute_changes(sweep, [FALL], ["axi_read", "itlb_refill", "dtlb_refill", "l1d_refill", "cycles"],
                               catalogue=catalogue)
    a = by_id(atts)["axi_read"]
    assert a.named and a.reason == "" and atts[0] is a                   # named, first
    assert a.share == pytest.approx(SHARE, rel=0.15)
    assert a.direction == "rises" and a.fold_interval[0] > 1 and a.p_adjusted < 0.05
    assert a.per_kib_from[1] <= a.per_kib_from[0] <= a.per_kib_from[2]
    assert a.per_kib_from[0] == pytest.approx(AXI_FROM, rel=0.05) and a.per_kib_to[0] == pytest.approx(AXI_TO, rel=0.05)
    assert a.time_change_ns_per_kib == pytest.approx(NS_PER_KIB[262144] - NS_PER_KIB[65536], rel=0.1)
    assert a.cost_source == SAME_RUNS and a.cost_ns_per_event == pytest.approx(COST, rel=0.05)
    assert a.variants == ["bus"] and a.n_family == 4 and a.level == pytest.approx(1 - 0.05 / 4)
    d = a.to_dict()
    for key in ("id", "label", "per_kib_from", "per_kib_to", "fold_change", "direction", "time_change_ns_per_kib",
                "cost_ns_per_event", "cost_source", "share", "named", "reason", "p_adjusted", "variants", "same_as"):
        assert key in d
    assert d["label"] == "AXI bus reads"


def test_counters_that_cannot_be_the_cause_are_not_named(sweep, catalogue):
    [atts] = attribute_changes(sweep, [FALL], ["axi_read", "itlb_refill", "dtlb_refill", "l1d_refill", "cycles"],
                               catalogue=catalogue)
    a = by_id(atts)
    itlb = a["itlb_refill"]                   # a 5x change, established, far too small per KiB
    assert not itlb.named and itlb.fold_interval[0] > 1 and itlb.fold_change == pytest.approx(5, rel=0.1)
    assert itlb.reason.startswith("changes too little to matter: at most ") and itlb.share_max < MIN_SHARE
    dtlb = a["dtlb_refill"]                   # established fall where time rises
    assert not dtlb.named and dtlb.direction == "falls" and dtlb.share < 0
    assert dtlb.reason == "falls where time rises"
    l1d = a["l1d_refill"]
    assert not l1d.named and l1d.reason.startswith("change not established")
    cycles = a["cycles"]                      # time: context, whatever its change
    assert not cycles.named and cycles.reason == TIME_REASON and cycles.is_time
    assert cycles.fold_interval[0] > 1 and cycles.share == pytest.approx(1, rel=0.1)
    assert atts[-1] is cycles                 # time counters last


def test_rise_of_bandwidth_needs_a_falling_counter(catalogue):
    up = {16384: 240.0, 65536: 250.0, 262144: 500.0, 1048576: 450.0}            # bandwidth doubles 64K->256K
    df = with_cycles(table(curve=up, seed=5))
    counter(df, "axi_read", fall_at(AXI_TO, AXI_FROM), seed=6)                   # falls: can explain a rise
    counter(df, "dtlb_refill", fall_at(0.5, 40.0), seed=7)                       # rises where time falls
    [atts] = attribute_changes(df, [FALL], ["axi_read", "dtlb_refill"], catalogue=catalogue)
    a = by_id(atts)
    assert a["axi_read"].named and a["axi_read"].time_change_ns_per_kib < 0 and a["axi_read"].share > 0
    assert not a["dtlb_refill"].named and a["dtlb_refill"].reason == "rises where time falls"


def test_family_covers_every_pair(sweep, catalogue):
    ids = ["axi_read", "itlb_refill", "dtlb_refill", "l1d_refill", "cycles"]
    [one] = attribute_changes(sweep, [FALL], ids, catalogue=catalogue)
    changes = [FALL, Change("pipe", 16384, 65536), Change("pipe", 262144, 1048576)]
    three = attribute_changes(sweep, changes, ids, catalogue=catalogue)
    a1, a3 = by_id(one)["axi_read"], by_id(three[0])["axi_read"]
    assert a3.n_family == 12 and a3.level == pytest.approx(1 - 0.05 / 12)    # 3 changes x 4 (time counters out)
    assert a3.fold_change == a1.fold_change and a3.p_value == a1.p_value
    assert a3.fold_interval[0] < a1.fold_interval[0] and a3.fold_interval[1] > a1.fold_interval[1]
    assert a3.p_adjusted == pytest.approx(min(1.0, 12 * a1.p_value))
    assert [len(x) for x in three] == [5, 5, 5]
    assert all(x.to_size == ch.to_size for ch, atts in zip(changes, three) for x in atts)


def test_runs_without_process_are_their_own_processes(sweep, catalogue):
    runs = sweep.drop(columns=["process", "iteration"])
    [atts] = attribute_changes(runs, [FALL], ["axi_read", "dtlb_refill"], catalogue=catalogue)
    a = by_id(atts)
    assert a["axi_read"].named and a["axi_read"].share == pytest.approx(SHARE, rel=0.15)
    assert not a["dtlb_refill"].named


def test_too_few_processes_establish_nothing(catalogue):
    df = with_cycles(table(processes=1, iterations=6))
    counter(df, "axi_read", fall_at(AXI_FROM, AXI_TO))
    [atts] = attribute_changes(df, [FALL], ["axi_read"], catalogue=catalogue)
    assert not atts[0].named and atts[0].reason == "change not established (fewer than 2 processes at a size)"
    assert math.isnan(atts[0].fold_interval[0])


def test_cost_sources(catalogue):
    """Cycles from the same runs, else from other runs of the same points, else the catalogue's ns;
    no cost at all: not named, said so."""
    df = table(variants=("baseline", "bus", "sys"))
    with_cycles(df, variant="baseline", ghz=2.0)
    counter(df, "axi_read", fall_at(AXI_FROM, AXI_TO))
    counter(df, "context_switches", fall_at(0.01, 1.0), variant="sys")
    atts = by_id(attribute_changes(df, [FALL], ["axi_read", "context_switches"], catalogue=catalogue)[0])
    axi = atts["axi_read"]
    assert axi.cost_source == OTHER_RUNS and axi.cost_ns_per_event == pytest.approx(COST / 2, rel=0.05)
    cs = atts["context_switches"]          # built-in cost has cycles and ns: cycles from other runs
    assert cs.cost_source == OTHER_RUNS
    df = df.drop(columns=["cycles", "cycles_status"])
    atts = by_id(attribute_changes(df, [FALL], ["axi_read", "context_switches"], catalogue=catalogue)[0])
    assert atts["context_switches"].cost_source == CATALOGUE
    lo, hi = load_catalogue().counters["context_switches"].cost.ns
    assert atts["context_switches"].cost_ns_per_event == pytest.approx(math.sqrt(lo * hi))
    axi = atts["axi_read"]                 # cost in cycles only, no cycles anywhere
    assert not axi.named and "no cost per event known" in axi.reason and math.isnan(axi.share)


def test_zero_counts_and_duplicates(catalogue):
    df = with_cycles(table(seed=3))
    counter(df, "axi_read", fall_at(AXI_FROM, AXI_TO), seed=8)
    df["l2_refill"] = df["axi_read"] / 2                 # the same measurement under another id
    df["l2_refill_status"] = df["axi_read_status"]
    counter(df, "major_faults", fall_at(0.0, 0.0))
    atts = by_id(attribute_changes(df, [FALL], ["axi_read", "l2_refill", "major_faults"], catalogue=catalogue)[0])
    assert atts["axi_read"].named and atts["axi_read"].same_as == ["l2_refill"]
    assert not atts["l2_refill"].named and atts["l2_refill"].reason == "same measurement as axi_read"
    zero = atts["major_faults"]            # zero in every run: a level (of count + 1), no change
    assert zero.per_kib_from[0] == pytest.approx(0, abs=1e-9) and not zero.named


def test_unmeasured_counters_and_bad_changes(sweep, catalogue):
    [atts] = attribute_changes(sweep, [FALL], ["axi_read", "not_a_column"], catalogue=catalogue)
    assert [a.id for a in atts] == ["axi_read"]
    assert attribute_changes(sweep, [Change("local", 65536, 262144)], ["axi_read"], catalogue=catalogue) == [[]]
    with pytest.raises(PmcsuiteError):
        Change("pipe", 262144, 65536)
    assert isinstance(atts[0], Attribution)


# ---- the catalogue's cost field -------------------------------------------------------------

def test_builtin_costs_are_documented():
    cat = load_catalogue()
    for cid in ("l2_refill", "l1d_refill", "itlb_refill", "dtlb_refill", "axi_read", "syscalls_write",
                "context_switches"):
        cost = cat.counters[cid].cost
        assert cost is not None and cost.source and (cost.cycles or cost.ns)
    assert 100 <= cat.counters["l2_refill"].cost.cycles[0] <= cat.counters["l2_refill"].cost.cycles[1] <= 200
    assert cat.counters["cycles"].cost is None and cat.counters["task_clock"].cost is None   # time, not events


@pytest.mark.parametrize("cost, why", [
    ("{cycles: 10}", "missing required field 'source'"),
    ("{source: x}", "gives neither 'cycles' nor 'ns'"),
    ("{cycles: -1, source: x}", "must be a positive number"),
    ("{cycles: [30, 10], source: x}", "is not [low, high]"),
    ("{cycles: [1, 2, 3], source: x}", "must be a positive number"),
    ("{ns: .nan, source: x}", "must be a positive number"),
    ("{cycle: 3, source: x}", "unknown key 'cycle'"),
])
def test_bad_costs_are_one_line_errors(tmp_path, cost, why):
    path = tmp_path / "bad.yaml"
    path.write_text(f"counters:\n  l2_refill:\n    cost: {cost}\n")
    with pytest.raises(PmcsuiteError) as info:
        load_catalogue([path])
    assert why in str(info.value) and "counters.l2_refill.cost" in str(info.value) and "\n" not in str(info.value)
