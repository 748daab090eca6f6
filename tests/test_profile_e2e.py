"""The kernel profile end to end on this machine: ``pmcsuite collect --counters profile`` samples the
real benchmark's loop, and the result directory holds every profile counter at every point, the
categories adding up to the samples, folded stacks in the FlameGraph text form, and kernel frames
named from /proc/kallsyms. Shapes and counts only: no share of any category is asserted."""
import json
import os
import re
import sys

import pytest

from needs import require
from pmcsuite.catalogue import builtin_catalogue
from pmcsuite.collect.profile import local_kallsyms
from pmcsuite.results.load import load
from runcli import cli

pytestmark = pytest.mark.e2e

PROFILE_IDS = [c.counter for c in builtin_catalogue().profile_categories]
SIZES = {4096, 65536}
FOLDED_LINE = re.compile(r"(writer|reader)(;[^; ]+)+\Z")


def _sampling_possible() -> str | None:
    """Why this machine cannot sample kernel stacks (None when it can)."""
    if not sys.platform.startswith("linux"):
        return "sampling uses Linux perf_event_open"
    try:
        paranoid = int(open("/proc/sys/kernel/perf_event_paranoid").read())
    except (OSError, ValueError):
        return "no perf_event_open here (no /proc/sys/kernel/perf_event_paranoid)"
    if paranoid > 1 and os.geteuid() != 0:
        return f"kernel stacks need root or perf_event_paranoid <= 1 (it is {paranoid})"
    if local_kallsyms().state != "ok":
        return f"/proc/kallsyms cannot name kernel frames here ({local_kallsyms().state})"
    return None


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    why = _sampling_possible()
    require(why is None, f"the profile cannot be sampled here: {why}")
    out = tmp_path_factory.mktemp("profile") / "results"
    done = cli("collect", "--counters", "profile", "--ipc", "pipe", "--sizes", "4K,64K", "--quick", "--out", out,
               timeout=600)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    return out, load(out, cache=False), records


def test_every_profile_column_at_every_point(collected):
    _, df, _ = collected
    profiled = df[(df["variant"] == "profile") & df["ok"]]
    assert set(profiled["buffer_size"]) == SIZES
    for cid in PROFILE_IDS:
        assert cid in df.columns and (profiled[f"{cid}_status"] == "ok").all(), cid
        assert profiled[cid].notna().all() and (profiled[cid] >= 0).all(), cid
    assert (profiled["profile_period_ns"] == 100000.0).all() and profiled["profile_lost"].notna().all()
    assert df.loc[df["variant"] == "baseline", "profile_period_ns"].isna().all()


def test_samples_at_each_point_and_the_categories_sum_to_them(collected):
    _, df, records = collected
    profiled = df[(df["variant"] == "profile") & df["ok"]]
    totals = profiled[PROFILE_IDS].sum(axis=1)
    by_point = totals.groupby(profiled["buffer_size"]).sum()
    assert (by_point > 0).all() and set(by_point.index) == SIZES
    for record in records:
        if record["variant"] != "profile":
            assert "profile" not in record
            continue
        profile = record["profile"]
        samples = sum(profile["samples"].values())
        assert sum(record["counters"][cid]["value"] for cid in PROFILE_IDS) == samples
        assert sum(profile["folded"].values()) == samples and profile["kallsyms"] == "ok"
        assert profile["mode"] in ("cpu", "thread")          # as root here: cpu (one sampler per CPU)


def test_folded_stacks_parse_and_name_kernel_frames(collected):
    _, _, records = collected
    folded = {}
    for record in records:
        for stack, n in (record.get("profile") or {}).get("folded", {}).items():
            folded[stack] = folded.get(stack, 0) + n
    assert folded and all(FOLDED_LINE.match(stack) and n > 0 for stack, n in folded.items())
    frames = {frame for stack in folded for frame in stack.split(";")[1:]}
    assert any(re.fullmatch(r".*sys.*write.*", frame) for frame in frames), sorted(frames)[:40]
