"""The plain first sentence of a finding (pmcsuite/analysis/why.py): each rule on small hand-made
evidence, the fallback, silence where the evidence contradicts a rule, reliability from the interval,
and the one noisy-machine line."""
import math

import numpy as np
import pandas as pd
import pytest

from pmcsuite.analysis import inference, why

pytestmark = pytest.mark.unit

K, M = 1 << 10, 1 << 20
GRID = [1 << k for k in range(12, 21)]          # 4K .. 1M


def _evidence(ipc="pipe", model=None, departures=(), **columns):
    """Evidence from per-size columns given as functions of the size (or constants)."""
    table = pd.DataFrame({name: [(v(s) if callable(v) else v) for s in GRID] for name, v in columns.items()},
                         index=pd.Index(GRID, name="buffer_size"))
    return why.Evidence(ipc=ipc, table=table, model=model, departures=tuple(departures))


def _pipe(cap=64 * K, read_cap=None):
    """A pipe of capacity ``cap``: writes above it take size/cap reads of ``read_cap`` (default cap) bytes."""
    read_cap = read_cap or cap
    return _evidence("pipe", pipe_size=cap, reads_per_write=lambda s: max(1.0, s / read_cap),
                     read_bytes=lambda s: min(s, read_cap), max_read=lambda s: float(min(s, read_cap)))


def _finding(kind, size, to_size=None, ipc="pipe", **extra):
    """A finding dict as ``findings.findings`` makes it (only the fields the rules read)."""
    f = {"kind": kind, "ipc": ipc, "of": "bandwidth", "variant": "baseline", "counters": []}
    if kind == "peak":
        f.update(size=size)
    else:
        f.update(from_size=size, to_size=to_size or GRID[-1])
    f.update(extra)
    return f


def _departure(kind, size, ipc="pipe", by=-0.3, direction="below", **extra):
    """A located (or, kind "departure", gradual) departure from the per-call model from ``size``."""
    return _finding(kind, size, M, ipc=ipc, direction=direction, by=by, at_size=M,
                    size_interval=[size // 2, size], **extra)


# ------------------------------------------------------------------ pipe capacity

def test_level_off_at_the_pipe_capacity_names_it():
    text = why.why(_departure("level-off", 64 * K), _pipe())
    assert text == "pipe bandwidth stops rising at 64 KiB: the pipe holds 64 KiB, so no read returns more " \
                   "(a 1 MiB write takes 16 reads)."
    assert "pipe holds 64 KiB" in why.why(_finding("peak", 128 * K), _pipe())       # one size step away


def test_pipe_capacity_is_silent_when_reads_return_more_or_the_size_is_elsewhere():
    assert why.pipe_capacity(_departure("level-off", 64 * K), _pipe(read_cap=256 * K)) == ""   # reads exceed it
    assert why.pipe_capacity(_departure("level-off", 8 * K), _pipe()) == ""                     # far from it
    assert why.pipe_capacity(_departure("rise", 32 * K, direction="above"), _pipe()) == ""   # a rise is no cap
    assert why.pipe_capacity(_departure("fall", 64 * K), _pipe()) == ""                      # nor is a fall
    no_pipe = _evidence("local", reads_per_write=1.0, read_bytes=lambda s: s)
    assert why.why(_departure("level-off", 64 * K, ipc="local"), no_pipe) == ""


# ------------------------------------------------------------------ socket buffer

def _socket(granted=lambda s: 212992, read_cap=212992):
    return _evidence("local", sndbuf=granted, rcvbuf=granted,
                     reads_per_write=lambda s: max(1.0, s / read_cap), read_bytes=lambda s: min(s, read_cap))


def test_fall_where_the_buffer_exceeds_the_granted_socket_buffer():
    text = why.why(_finding("fall", 256 * K, 1 * M, ipc="local"), _socket())
    assert text.startswith("local bandwidth falls from 256 KiB: the kernel granted a 208 KiB socket buffer, "
                           "so a larger write no longer fits in it")
    assert "(4.9 reads per 1 MiB write)" in text


def test_socket_buffer_is_silent_when_the_buffer_grows_with_the_size_or_reads_exceed_it():
    doubled = _socket(granted=lambda s: 2 * s)                  # local-s: setsockopt asks for the size
    assert why.socket_buffer(_finding("fall", 256 * K, ipc="local"), doubled) == ""
    assert why.socket_buffer(_finding("fall", 256 * K, ipc="local"), _socket(read_cap=512 * K)) == ""
    assert why.socket_buffer(_finding("fall", 16 * K, ipc="local"), _socket()) == ""       # far from it


# ------------------------------------------------------------------ per-call model

MODEL = {"t0_ns": [2000.0, 1800.0, 2200.0], "r_inf": [8e9, 7.5e9, 8.5e9], "n_half": [16 * K, 12 * K, 20 * K],
         "per_call": True, "fit_sizes": GRID[:6]}


def test_the_per_call_model_in_one_sentence():
    assert why.model_sentence("pipe", MODEL, GRID) == (
        "pipe: each call has a fixed cost of 2.0 µs; below 16 KiB (n½) that cost is most of a call's time, so "
        "bandwidth rises with the buffer size towards 7,629 MiB/s.")
    assert why.model_sentence("pipe", dict(MODEL, per_call=False), GRID) == ""          # not a per-call curve
    assert why.model_sentence("pipe", dict(MODEL, t0_ns=[300.0, -50.0, 650.0]), GRID) == ""   # no fixed cost
    assert why.model_sentence("pipe", dict(MODEL, fit_sizes=GRID[3:6]), GRID) == ""   # n½ below every size


def test_level_off_above_n_half_where_the_model_fits():
    flat = why.why(_finding("flat", 64 * K, M), _evidence(model=MODEL))
    assert flat == ("pipe bandwidth stays level from 64 KiB: above 16 KiB (n½) each call's fixed cost (2.0 µs) "
                    "is less than half of its time, so larger calls gain little.")
    assert why.per_call(_departure("level-off", 64 * K), _evidence(model=MODEL)) == ""   # the model departs


def test_per_call_is_silent_without_a_fixed_cost_or_where_the_model_departs():
    no_cost = dict(MODEL, t0_ns=[300.0, -50.0, 650.0])              # interval includes 0
    assert why.per_call(_finding("flat", 64 * K), _evidence(model=no_cost)) == ""
    departs = _evidence(model=MODEL, departures=[{"from_size": 32 * K, "to_size": 128 * K, "by": -0.3,
                                                  "direction": "below"}])
    assert why.per_call(_finding("flat", 64 * K), departs) == ""
    assert why.per_call(_finding("flat", 16 * K), _evidence(model=MODEL)) == ""   # not above n½ yet
    assert why.per_call(_finding("flat", 64 * K), _evidence(model=dict(MODEL, per_call=False))) == ""
    assert why.per_call(_finding("flat", 64 * K), _evidence(model=None)) == ""


# ------------------------------------------------------------------ named counter

def _counter(**kw):
    c = {"id": "axi_read", "label": "AXI bus reads", "fold_change": 5.0, "direction": "rises", "share": 0.6,
         "per_kib_from": [2.0, 1.8, 2.2], "per_kib_to": [10.0, 9.0, 11.0]}
    c.update(kw)
    return c


def test_named_counter_gives_its_change_and_what_it_means():
    f = _finding("fall", 64 * K, 1 * M, ipc="local", counters=[_counter()])
    assert why.why(f, None) == ("local bandwidth falls from 64 KiB as AXI bus reads per KiB rise 5.0x: data "
                                "now come from DRAM, not the cache.")
    plain = _finding("fall", 64 * K, ipc="local", counters=[_counter(id="l2_access", label="L2 accesses")])
    assert why.why(plain, None) == "local bandwidth falls from 64 KiB as L2 accesses per KiB rise 5.0x."


def test_named_counter_is_silent_when_its_numbers_contradict_it():
    for bad in (_counter(share=-0.2), _counter(share=0.1), _counter(direction="falls"), _counter(fold_change=None),
                _counter(share=None, fold_change=1.02)):
        assert why.named_counter(_finding("fall", 64 * K, counters=[bad]), None) == "", bad


# ------------------------------------------------------------------ the fallback

def test_fallback_states_what_was_measured_without_a_cause():
    f = _departure("fall", 128 * K, ipc="local-s", by=-0.5)
    sentence, cause = why.headline(f, _socket(granted=lambda s: 2 * s))
    assert cause == ""
    assert sentence == ("local-s bandwidth falls from 128 KiB (50 % below the per-call model at 1 MiB); nothing "
                        "measured shows why.")
    named = dict(f, counters=[_counter(id="l2_access", label="L2 accesses", share=None, fold_change=1.0)])
    assert why.headline(named, None)[0] == ("local-s bandwidth falls from 128 KiB (50 % below the per-call model "
                                            "at 1 MiB).")
    cross = {"kind": "crossover", "ipcs": ["local-s", "local"], "from_size": 512 * K, "to_size": M}
    assert why.headline(cross, None) == ("From 512 KiB on, local-s is slower than local.", "")
    peak = _finding("peak", 64 * K, measured={"value": 2020.0 * M})
    assert why.headline(peak, None) == ("pipe bandwidth is highest at 64 KiB (2,020 MiB/s).", "")
    flat = _finding("flat", 256 * K, M, tolerance=0.05)
    assert why.headline(flat, None) == ("pipe bandwidth stays within ±5 % from 256 KiB to 1 MiB.", "")


def test_no_sentence_uses_the_words_the_issue_bans():
    fs = [_departure("level-off", 64 * K), _departure("fall", 256 * K, ipc="local"), _finding("flat", 64 * K),
          _departure("fall", 64 * K, counters=[_counter()]), _departure("departure", 8 * K)]
    for f, ev in zip(fs, [_pipe(), _socket(), _evidence(model=MODEL), None, None]):
        text = why.headline(f, ev)[0].lower()
        assert text and not any(w in text for w in ("support", "materiality", "context")), text


# ------------------------------------------------------------------ evidence from runs

def test_evidence_from_runs_prefers_the_baseline():
    rows = []
    for size in (32 * K, 128 * K):
        for variant, reads in (("baseline", max(1, size // (64 * K))), ("pmc", 99)):
            rows.append({"ipc": "pipe", "buffer_size": size, "variant": variant, "total_size": M,
                         "writes": M // size, "reads": reads * (M // size), "pipe_size": 64 * K,
                         "sndbuf": None, "rcvbuf": None, "nvcsw": 3, "nivcsw": 1,
                         "read_sizes": {min(size, 64 * K): reads * (M // size)}})
    ev = why.evidence(pd.DataFrame(rows), "pipe")
    assert ev.sizes == [32 * K, 128 * K]
    assert ev.table.loc[128 * K, "reads_per_write"] == 2 and ev.table.loc[128 * K, "read_bytes"] == 64 * K
    assert ev.table.loc[128 * K, "max_read"] == 64 * K
    assert math.isnan(ev.table.loc[32 * K, "sndbuf"])


# ------------------------------------------------------------------ reliability

def _runs(per_process, size=64 * K, ipc="pipe"):
    return pd.DataFrame([{"ipc": ipc, "buffer_size": size, "variant": "baseline", "process": p, "bandwidth": v}
                         for p, values in enumerate(per_process) for v in values])


def test_one_slow_run_does_not_make_a_point_unreliable():
    rng = np.random.default_rng(4)
    procs = [list(np.exp(rng.normal(0, 0.01, 4) + rng.normal(0, 0.02)) * 5e9) for _ in range(4)]
    keys = ["ipc", "buffer_size", "variant"]
    before = inference.point_table(_runs(procs), keys)
    slow = [list(p) for p in procs]
    slow[1][2] /= 3                                           # one iteration three times slower
    after = inference.point_table(_runs(slow), keys)
    assert why.reliability(before, [64 * K], "pipe") == why.reliability(after, [64 * K], "pipe") \
        == {"reliability": "reliable", "reliability_reasons": []}
    assert after["centre"].iloc[0] == pytest.approx(before["centre"].iloc[0], rel=0.01)
    # the sd / mean the old rule used jumps past its 10 % limit with that one run
    values = np.concatenate(slow)
    assert values.std(ddof=1) / values.mean() > 0.10


def test_a_wide_interval_or_one_process_is_unreliable_and_says_so_without_contradiction():
    keys = ["ipc", "buffer_size", "variant"]
    wide = inference.point_table(_runs([[4e9] * 3, [6e9] * 3, [5e9] * 3]), keys)
    r = why.reliability(wide, [64 * K], "pipe")
    assert r["reliability"] == "unreliable" and r["reliability_reasons"][0].startswith("pipe 64 KiB: interval ±")
    one = inference.point_table(_runs([[5e9] * 4]), keys)
    assert why.reliability(one, [64 * K], "pipe")["reliability_reasons"] == \
        [f"pipe 64 KiB: 1 process, no interval (one needs {inference.MIN_PROCESSES})"]
    two = inference.point_table(_runs([[5e9] * 2, [5.01e9] * 2]), keys)        # 2 processes give an interval
    assert not any("no interval" in x for x in why.reliability(two, [64 * K])["reliability_reasons"])


def test_a_threshold_is_never_printed_equal_to_its_limit():
    assert why.over(0.1004, 0.10) == "10.04 %" and why.over(0.104, 0.10) == "10.4 %"
    assert why.over(0.14, 0.10) == "14 %"


# ------------------------------------------------------------------ the noisy machine

def _points(n, half, processes=3):
    lo, hi = 1 / (1 + half), 1 + half
    return pd.DataFrame({"buffer_size": GRID[:n], "n_processes": processes, "centre": 1.0,
                         "ci_low": lo, "ci_high": hi})


def test_noise_line_says_what_to_do_and_what_it_buys():
    points = _points(9, 0.14)
    line = why.noise_line(points, n_shared=300, n_runs=378, runs_per_process=13 / 3)
    se = why.point_se(3, 1 / 1.14, 1.14)
    need = inference.processes_needed(math.sqrt(2) * se, 3, 0.95)
    assert need is not None and need > 3
    assert line.startswith("This machine was noisy (300 of 378 measured runs shared the CPU; ")
    assert "Close other programs or use --placement split" in line
    assert f"; {need} processes per point (--processes {need} --runs {math.ceil(need * 13 / 3)}; now 3)" in line
    assert why.noise_line(_points(9, 0.02), n_shared=0, n_runs=378) == ""      # a quiet machine: nothing
    assert "--placement" not in why.noise_line(points, n_shared=300, n_runs=378, split=True)   # already split


def test_point_se_recovers_the_interval_of_inference():
    keys = ["ipc", "buffer_size", "variant"]
    rng = np.random.default_rng(5)
    runs = _runs([list(np.exp(rng.normal(0, 0.03, 3)) * 1e9) for _ in range(6)])
    (lv,) = inference.levels(inference.process_medians(runs, keys), keys).values()
    row = inference.point_table(runs, keys).iloc[0]
    assert why.point_se(int(row["n_processes"]), row["ci_low"], row["ci_high"]) == pytest.approx(lv.se)


# ------------------------------------------------------------------ wired into the findings

def _noisy_table(seed=6, process_cv=0.12):
    """pipe, 9 sizes levelling off at 64 KiB, 3 processes x (1 warm-up + 3 iterations) per point, every run
    sharing the CPU, processes that differ by ``process_cv``."""
    rng = np.random.default_rng(seed)
    rows = []
    for size in GRID:
        level = 5000 * min(size, 64 * K) / (64 * K) + 500
        for p in range(3):
            effect = np.exp(rng.normal(0, process_cv))
            for it in range(4):
                bw = level * effect * np.exp(rng.normal(0, 0.01)) * M
                rows.append({"ipc": "pipe", "buffer_size": size, "total_size": 4 * M, "variant": "baseline",
                             "run": 4 * p + it, "process": p, "iteration": it, "warmup": it == 0, "ok": True,
                             "bandwidth": bw, "loop_ns": 4 * M / bw * 1e9, "shared_cpu": True,
                             "writes": 4 * M // size, "reads": 4 * M // min(size, 64 * K)})
    df = pd.DataFrame(rows)
    df.attrs["counters"] = []
    return df


def test_the_noisy_machine_line_appears_once_with_the_processes_needed():
    from pmcsuite.analysis.explain import findings_text
    from pmcsuite.results.load import measured
    df = _noisy_table(process_cv=0.05)
    text = findings_text(df, n_boot=50)
    assert text.count("This machine was noisy") == 1 and text.startswith("This machine was noisy")
    points = inference.point_table(measured(df), ["ipc", "buffer_size", "variant"])
    ses = [why.point_se(3, lo, hi) for lo, hi in zip(points["ci_low"], points["ci_high"])]
    need = inference.processes_needed(math.sqrt(2) * float(np.median(ses)), 3, 0.95)
    assert f"{need} processes per point (--processes {need} --runs {4 * need}; now 3)" in text
    assert "[unreliable" not in text                       # no bracketed reason list on every finding


def test_every_finding_gets_a_sentence_why_and_details():
    from pmcsuite.analysis import explain
    from pmcsuite.analysis.findings import findings
    found = findings(explain(_noisy_table(process_cv=0.02), n_boot=50))
    assert found
    for f in found:
        assert f["sentence"] and isinstance(f["why"], str) and f["details"]
        assert not (f["why"] and f["why"] != f["sentence"])
        assert f["reliability"] in ("reliable", "unreliable")
        assert (f["reliability"] == "reliable") == (not f["reliability_reasons"])
        for word in ("support", "materiality", "context", "[unreliable"):
            assert word not in f["sentence"].lower()


def test_the_report_says_the_noisy_machine_line_once_and_defines_its_words(tmp_path):
    from pmcsuite.report.context import ReportContext
    from pmcsuite.report.findings_section import findings_section
    df = _noisy_table(process_cv=0.05)
    lead = findings_section(df, {}, tmp_path, ctx=ReportContext(df, {}, n_boot=50))[0].markdown
    assert lead.count("This machine was noisy") == 1 and "--processes " in lead
    assert lead.count("Words used here") == 1 and all(f"*{term}*:" in lead for term in why.GLOSSARY)
    assert "[unreliable" not in lead and "The numbers behind them" in lead


# ------------------------------------------------------------------ departures from the per-call model

def test_departure_below_the_model_at_the_pipe_capacity_and_its_fallback():
    f = _finding("level-off", 128 * K, M, direction="below", by=-0.3, at_size=M, size_interval=[64 * K, 128 * K])
    assert why.why(f, _pipe()) == ("pipe bandwidth stops rising at 128 KiB: the pipe holds 64 KiB, so no read "
                                   "returns more (a 1 MiB write takes 16 reads).")
    gradual = dict(f, kind="departure")
    assert why.why(gradual, _pipe()).startswith("pipe bandwidth falls behind the per-call model from 128 KiB: "
                                                "the pipe holds 64 KiB")
    assert why.headline(gradual, _evidence(model=MODEL)) == (
        "pipe bandwidth falls behind the per-call model from 128 KiB (30 % below it at 1 MiB); nothing measured "
        "shows why.", "")
    above = _finding("rise", 128 * K, M, direction="above", by=0.2, at_size=M)
    assert why.per_call(above, _evidence(model=MODEL)) == ""          # what the model does not explain


def test_a_located_departure_says_its_own_movement_and_its_gap_to_the_model():
    f = _finding("level-off", 1 * M, M, ipc="local-s", direction="below", by=-0.44, at_size=M)
    assert why.headline(f, _socket(granted=lambda s: 2 * s))[0] == (
        "local-s bandwidth stops rising at 1 MiB (44 % below the per-call model at 1 MiB); nothing measured "
        "shows why.")
    fall = dict(f, kind="fall", counters=[_counter(id="l2_access", label="L2 accesses", share=0.05,
                                                   fold_change=1.05)])
    assert why.headline(fall, None)[0] == "local-s bandwidth falls from 1 MiB (44 % below the per-call model at 1 MiB)."


def test_the_pipe_capacity_reaches_the_findings_from_the_runs():
    from pmcsuite.analysis.explain import findings_text
    df = _noisy_table(process_cv=0.02).assign(pipe_size=64 * K, shared_cpu=False)
    df["read_sizes"] = [{min(s, 64 * K): 4 * M // min(s, 64 * K)} for s in df["buffer_size"]]
    text = findings_text(df, n_boot=50)
    assert "the pipe holds 64 KiB, so no read returns more (a 1 MiB write takes 16 reads)" in text
    assert "This machine was noisy" not in text
    big_reads = df.assign(read_sizes=[{s: 4 * M // s} for s in df["buffer_size"]],
                          reads=[4 * M // s for s in df["buffer_size"]])
    assert "pipe holds" not in findings_text(big_reads, n_boot=50)       # reads of a whole write: no cap
