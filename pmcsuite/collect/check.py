"""``pmcsuite check``: open every catalogue counter for real on this host and say which work.

For each counter: the catalogue's event spec for this platform and backend (none -> status
"unavailable" with the catalogue's reason); the backend's tool missing -> "tool_missing";
otherwise a hardware event the core's PMU does not list in sysfs is "not_supported" ("not
implemented on this core": ``pmu``, never opened); the backend opens the others for real
(``Backend.probe``) and reports "available", "not_supported", "permission_denied", ... with a
reason. Before tracepoints are opened on this machine, tracefs is mounted if it is not (as root;
else their reason says how: ``tracefs``).
"""
from __future__ import annotations

from dataclasses import dataclass

from .backends import flag_silent_zeros, get_backend
from .pmu import REASON, backend_listing, unimplemented
from .tracefs import tracefs_here

#: Check statuses, in the order of the totals line.
CHECK_STATUSES = ("available", "not_supported", "not_counted", "permission_denied", "multiplexed",
                  "silent_zero", "tool_missing", "unavailable", "error")
_TOTAL_LABELS = {"available": "available", "not_supported": "not supported",
                 "not_counted": "not counted", "permission_denied": "permission denied",
                 "multiplexed": "multiplexed", "silent_zero": "silent zero (reads 0: not implemented)",
                 "tool_missing": "tool missing", "unavailable": "unavailable on this platform",
                 "error": "error"}
_ALWAYS_SHOWN = ("available", "not_supported", "permission_denied", "tool_missing", "unavailable")


@dataclass
class CheckResult:
    """Whether one catalogue counter can be counted here, and if not, why."""

    counter: str
    event: str | None
    status: str
    reason: str | None = None
    platform: str | None = None

    def to_dict(self) -> dict:
        return {"counter": self.counter, "event": self.event, "status": self.status,
                "reason": self.reason, "platform": self.platform}


def _platform_counters(cat, platforms) -> list[str]:
    """Catalogue counters (in catalogue order) that the given platforms mention."""
    mentioned = set()
    for name in platforms:
        p = cat.platforms.get(name)
        if p is not None:
            mentioned |= set(p.events) | set(getattr(p, "unavailable", {}) or {})
    return [c for c in cat.counters if c in mentioned]


def _unavailable_reason(cat, counter, platforms, backend_names) -> str:
    reason = cat.why_missing(counter, platforms, backend_names) if hasattr(cat, "why_missing") else ""
    if reason:
        return " ".join(reason.split())
    for name in platforms:
        p = cat.platforms.get(name)
        reason = (getattr(p, "unavailable", {}) or {}).get(counter) if p is not None else None
        if reason:
            return " ".join(str(reason).split())
    return (f"no {'/'.join(backend_names)} event for this counter on platform "
            f"{', '.join(platforms) or '(none)'}: add one with --catalogue FILE")


def _tracefs_lost(cat, events: dict, backend) -> str | None:
    """Why ``backend`` cannot count the tracepoints among ``events`` here (tracefs not mounted and
    not mountable: ``tracefs.ensure_tracefs``), after mounting it where it can; None when they may
    open (or none is asked for, or the backend counts on a --host target)."""
    target = getattr(backend, "target", None)
    remote = getattr(backend, "runner", None) is not None or getattr(target, "remote", False)
    counters = getattr(cat, "counters", {})
    if remote or not any(getattr(counters.get(cid), "kind", None) == "tracepoint" for cid in events):
        return None
    return tracefs_here()


def _not_implemented(cat, platforms, events: dict, backend) -> set[str]:
    """The hardware counters among ``events`` whose event the core's PMU does not list in sysfs
    (``pmu.unimplemented``, read where ``backend`` counts): they would open and count nothing."""
    counters = getattr(cat, "counters", {})
    hardware = {cid: spec for cid, spec in events.items() if getattr(counters.get(cid), "kind", None) == "hardware"}
    if not hardware or backend.name == "none":
        return set()
    return unimplemented(cat, platforms, hardware, backend_listing(backend))


def _backend_objects(backend) -> list:
    """None (this OS's tools), a name, "pmcstat,dtrace", a list of names or Backend objects."""
    from .backends import resolve_backends
    if backend is None or isinstance(backend, str):
        return [get_backend(name) for name in resolve_backends(backend or "auto")]
    if isinstance(backend, (list, tuple)):
        return [get_backend(b) if isinstance(b, str) else b for b in backend]
    return [backend]


def check(cat=None, groups=None, platforms=None, backend=None) -> list[CheckResult]:
    """Open the counters of ``groups`` (all counters of ``platforms`` if None) for real.

    Every argument has a default, so ``pmcsuite.check()`` answers "what can this host count?":
    ``cat`` the built-in catalogue, ``platforms`` this host's (detected), ``backend`` this OS's tools.
    ``groups``: group names or counter ids (a list or a comma-separated string). ``backend``: a
    backend name ("inproc", "perf", ...), several ("pmcstat,dtrace", or a list, in order of
    preference: each counter goes to the first that has an event for it), or a Backend object.
    Returns one CheckResult per counter, in catalogue order.
    """
    if cat is None:
        from ..catalogue import load_catalogue
        cat = load_catalogue()
    if platforms is None:
        from .hostinfo import resolve_platforms
        platforms = resolve_platforms(cat, None)
    elif isinstance(platforms, str):
        platforms = [p.strip() for p in platforms.split(",") if p.strip()]
    if isinstance(groups, str):
        from ..options import name_list
        groups = name_list(groups, "groups", "syscalls,faults")
    platforms = list(platforms)
    backends = _backend_objects(backend)
    names = [be.name for be in backends]
    counters = cat.expand(list(groups)) if groups is not None else _platform_counters(cat, platforms)

    results: dict[str, CheckResult] = {}
    to_probe: dict[str, dict[str, str]] = {name: {} for name in names}
    where: dict[str, str] = {}
    for cid in counters:
        found = next(((be.name, cat.event_for(cid, platforms, be.name)) for be in backends
                      if cat.event_for(cid, platforms, be.name)), None)
        if found is None:
            results[cid] = CheckResult(cid, None, "unavailable", _unavailable_reason(cat, cid, platforms, names))
        else:
            name, (where[cid], spec) = found
            to_probe[name][cid] = spec
    for be in backends:
        events = to_probe[be.name]
        if not events:
            continue
        ok, why = be.available()
        if not ok:
            for cid, spec in events.items():
                results[cid] = CheckResult(cid, spec, "tool_missing", why, where[cid])
            continue
        missing = _not_implemented(cat, platforms, events, be)
        for cid in missing:
            results[cid] = CheckResult(cid, events[cid], "not_supported", REASON, where[cid])
        events = {cid: spec for cid, spec in events.items() if cid not in missing}
        lost = _tracefs_lost(cat, events, be)
        for v in flag_silent_zeros(be.probe(events) if events else [], cat):
            status = "available" if v.status in ("ok", "not_counted") else v.status
            tracepoint = getattr(getattr(cat, "counters", {}).get(v.counter), "kind", None) == "tracepoint"
            reason = lost if lost and tracepoint else v.reason
            results[v.counter] = CheckResult(v.counter, v.event, status, None if status == "available" else reason,
                                             where.get(v.counter))
    return [results[c] for c in counters if c in results]


def format_check(results: list[CheckResult]) -> str:
    """A plain-text table (counter, event, status, reason) and a totals line."""
    rows = [("counter", "event", "status", "reason")]
    rows += [(r.counter, r.event or "-", r.status, r.reason or "") for r in results]
    w = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{a:<{w[0]}}  {b:<{w[1]}}  {c:<{w[2]}}  {d}".rstrip() for a, b, c, d in rows]
    counts = {s: sum(r.status == s for r in results) for s in CHECK_STATUSES}
    extra = sorted({r.status for r in results} - set(CHECK_STATUSES))
    parts = [f"{counts[s]} {_TOTAL_LABELS[s]}" for s in CHECK_STATUSES
             if s in _ALWAYS_SHOWN or counts[s]]
    parts += [f"{sum(r.status == s for r in results)} {s}" for s in extra]
    return "\n".join(lines + ["", ", ".join(parts)])
