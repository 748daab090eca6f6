"""Which counter groups a sweep measures: every counter opened for real first (``check.check``);
the default is every catalogue group that opens completely here (the others are lost, said on stderr
with what brings them back), explicit groups fail in one line naming what does not open."""
from __future__ import annotations

import sys

from ..errors import EnvironmentProblem
from .check import check
from .tracefs import MOUNT_COMMAND


def _classify(cat, groups, platforms, backend):
    """Open the counters of ``groups`` for real: (results by counter, {counter: reason} absent by
    design on this platform, {counter: result} that should count here but do not)."""
    results = {r.counter: r for r in check(cat, groups, platforms, backend)}
    by_design = {c: r.reason for c, r in results.items() if r.status == "unavailable"}
    failing = {c: r for c, r in results.items() if r.status not in ("available", "unavailable")}
    return results, by_design, failing


def _usable(cat, group, by_design, failing) -> bool:
    """Every counter of ``group`` opens, or is absent by design, and at least one opens."""
    members = set(cat.expand([group]))
    return not members & set(failing) and not members <= set(by_design)


def choose_groups(cat, requested, platforms, backend) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """The counter groups to measure, the counters skipped because this platform has no such event
    by design (catalogue ``unavailable``, e.g. AXI on x86-64), and the groups lost here (their
    counters should open but do not): ``(groups, {counter: reason}, {group: why})``.

    Every counter is opened for real first. Explicit groups fail with one line when a counter
    that should exist here does not open (not supported, permission denied, tool missing) or
    when none of a group's counters exists on this platform. The default is every catalogue
    group that opens completely here."""
    candidates = list(requested) if requested else list(cat.groups)
    results, by_design, failing = _classify(cat, candidates, platforms, backend)
    lost: dict[str, str] = {}
    if not requested:
        chosen = [g for g in candidates if _usable(cat, g, by_design, failing)]
        _note_dropped(cat, [g for g in candidates if g not in chosen], results, failing)
        lost = {g: _why_lost(cat, g, results, failing) for g in candidates
                if g not in chosen and set(cat.expand([g])) & set(failing)}
    else:
        empty = [g for g in candidates if set(cat.expand([g])) <= set(by_design)]
        if failing or empty:
            bad = list(failing) + [c for g in empty for c in cat.expand([g]) if c not in failing]
            reasons = sorted({(results[c].reason or results[c].status).rstrip(".") for c in bad})
            others = [g for g in cat.groups if g not in candidates] or list(cat.groups)
            _, all_by_design, all_failing = _classify(cat, others, platforms, backend)
            available = [g for g in others if _usable(cat, g, all_by_design, all_failing)]
            raise EnvironmentProblem(
                f"counters not available here: {', '.join(bad)} ({'; '.join(reasons)}); "
                f"groups available on this host: {', '.join(available) or 'none'} (see 'pmcsuite check')")
        chosen = candidates
    skipped = {c: by_design[c] for g in chosen for c in cat.expand([g]) if c in by_design}
    return chosen, skipped, lost


def _why_lost(cat, group: str, results, failing) -> str:
    """Why a group's counters do not open here, each reason once."""
    return "; ".join(sorted({(results[c].reason or results[c].status).rstrip(".")
                             for c in cat.expand([group]) if c in failing}))


def _note_dropped(cat, dropped, results, failing) -> None:
    """Say on stderr which default groups are not counted here, and why (one line)."""
    if not dropped:
        return
    why: dict[str, list[str]] = {}
    for group in dropped:
        statuses = sorted({results[c].status for c in cat.expand([group]) if c in failing})
        reason = ", ".join(s.replace("_", " ") for s in statuses) or "no event on this platform"
        why.setdefault(reason, []).append(group)
    parts = "; ".join(f"{', '.join(groups)} ({reason})" for reason, groups in why.items())
    missing = {results[c].reason for c in failing if results[c].status == "tool_missing"}
    if any(MOUNT_COMMAND in (results[c].reason or "") for c in failing):
        parts += f"; tracefs is not mounted: 'sudo {MOUNT_COMMAND}' brings the tracepoints back"
    if len(dropped) == len(cat.groups):
        print(f"pmcsuite: warning: no counter can be counted here, measuring bandwidth only: {parts}"
              f"{'; ' + '; '.join(sorted(missing)) if missing else ''} (see 'pmcsuite check')", file=sys.stderr)
    else:
        print(f"pmcsuite: note: not counting {parts} (see 'pmcsuite check')", file=sys.stderr)
