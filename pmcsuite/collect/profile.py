"""The kernel profile of the transfer loop: from ipcbench's sampled stacks to categories, counters and
folded stacks. Pure, apart from :func:`local_kallsyms` (reads this machine's ``/proc/kallsyms``).

ipcbench ``--sample EVENT:PERIOD`` has each actor sample its own kernel and user call stacks while it
transfers, and adds to each iteration's JSON line (identical stacks aggregated, IPs as hex text)::

    "profile": {"event": "cpu-clock", "period": 100000, "unit": "ns", "status": "ok",
                "writer": {"samples": 812, "lost": 0, "stacks": [{"n": 40, "k": [...], "u": [...]}, ...]},
                "reader": {...}}

(``status`` ``not_supported`` or ``permission_denied`` with a ``reason`` where it cannot sample).
Kernel IPs are named with the kallsyms of the machine that ran the benchmark (:class:`Kallsyms`), each
stack goes to one category of the catalogue's profile section (:func:`categorise`), and the result is
the ``profile_<category>`` counters (:func:`profile_counters`) and the run record's ``profile``
(:func:`summarise`): the samples and lost samples per actor and the folded stacks
(``"writer;entry_SYSCALL_64;...;copy_page_from_iter": 12``) that FlameGraph, inferno and speedscope read.
"""
from __future__ import annotations

import bisect
import fnmatch
import functools
import re
from dataclasses import dataclass

from ..catalogue import PROFILE_OTHER, PROFILE_PREFIX, PROFILE_USER
from ..errors import PmcsuiteError
from ..schema import ROLES, CounterValue

#: how a frame with no symbol is named (an address below every symbol, or hidden kernel addresses)
UNKNOWN = "[unknown]"
#: the one frame that stands for a sample's user stack in a folded stack
USER_FRAME = "[user]"
#: the kallsyms symbol types of code: text, weak
TEXT_TYPES = frozenset("tTwW")
#: a profile of no sample over a loop of more periods than this did not sample at all (silent_zero)
SILENT_PERIODS = 10
#: the statuses a profile that did not sample has (as a counter's)
NOT_SAMPLED = ("not_supported", "permission_denied", "error")
#: what ``Kallsyms.state`` says of the names: read, hidden (kptr_restrict: all zero), missing (unreadable)
KALLSYMS_STATES = ("ok", "hidden", "missing")
_HEX = re.compile(r"[0-9a-f]{1,16}\Z")


# ---------------------------------------------------------------------------------- kallsyms

@dataclass(frozen=True)
class Kallsyms:
    """Kernel text symbols sorted by address: ``name(address)`` is the symbol at or below it.

    ``state`` ``hidden``: the file gave every address as 0 (``kernel.kptr_restrict`` hides them from
    this user), ``missing``: there was none to read; either way every kernel frame is ``[unknown]``."""
    addresses: tuple[int, ...] = ()
    names: tuple[str, ...] = ()
    state: str = "missing"

    @classmethod
    def from_text(cls, text: str | None) -> "Kallsyms":
        """Parse ``/proc/kallsyms`` (``ADDRESS TYPE NAME [\\t[module]]``); only code (t, T, w, W) counts."""
        if not text:
            return cls()
        symbols, seen = [], False
        for line in text.splitlines():
            parts = line.split()
            if len(parts) < 3 or parts[1] not in TEXT_TYPES:
                continue
            try:
                address = int(parts[0], 16)
            except ValueError:
                continue
            seen = True
            if address:
                symbols.append((address, parts[2]))
        if not symbols:
            return cls(state="hidden" if seen else "missing")
        symbols.sort()
        return cls(tuple(a for a, _ in symbols), tuple(n for _, n in symbols), "ok")

    def name(self, address: int) -> str:
        """The function ``address`` is in (the nearest symbol at or below it), else ``[unknown]``."""
        index = bisect.bisect_right(self.addresses, address) - 1
        return self.names[index] if index >= 0 else UNKNOWN


@functools.cache
def local_kallsyms() -> Kallsyms:
    """This machine's kernel symbols, read once per process."""
    try:
        with open("/proc/kallsyms", encoding="ascii", errors="replace") as handle:
            return Kallsyms.from_text(handle.read())
    except OSError:
        return Kallsyms()


# ---------------------------------------------------------------------------------- the benchmark's profile

@dataclass(frozen=True)
class Stack:
    """One aggregated stack of one actor: ``n`` samples, kernel and user IPs leaf first."""
    n: int
    kernel: tuple[int, ...]
    user: tuple[int, ...]


@dataclass(frozen=True)
class RawProfile:
    """ipcbench's ``profile`` object, checked: per actor (``ROLES``) its samples, lost samples and stacks."""
    event: str | None
    period: float | None
    unit: str | None
    status: str
    reason: str | None = None
    samples: dict | None = None       # role -> samples
    lost: dict | None = None          # role -> samples lost to a full ring buffer
    stacks: dict | None = None        # role -> tuple[Stack, ...]
    mode: str | None = None           # "cpu" (one sampler per CPU, kept by actor) or "thread" (one per actor)


def _bad(what: str):
    raise PmcsuiteError(f"ipcbench's profile {what}: rebuild it (pmcsuite/collect/native/ipcbench.c)")


def _whole(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        _bad(f"has {what} {value!r}, not a whole number")
    return value


def _ips(values, what: str) -> tuple[int, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) and _HEX.match(v) for v in values):
        _bad(f"has {what} that are not lists of lowercase hex addresses")
    return tuple(int(v, 16) for v in values)


def _actor(entry, role: str) -> tuple[int, int, tuple[Stack, ...]]:
    if not isinstance(entry, dict):
        _bad(f"has no {role} object")
    stacks = entry.get("stacks")
    if not isinstance(stacks, list) or not all(isinstance(s, dict) for s in stacks):
        _bad(f"{role}.stacks is not a list of objects")
    parsed = tuple(Stack(_whole(s.get("n"), f"{role} stack count"), _ips(s.get("k", []), f"{role} kernel IPs"),
                         _ips(s.get("u", []), f"{role} user IPs")) for s in stacks)
    samples = _whole(entry.get("samples"), f"{role}.samples")
    if samples != sum(s.n for s in parsed):
        _bad(f"says {role} took {samples} samples but its stacks add up to {sum(s.n for s in parsed)}")
    return samples, _whole(entry.get("lost", 0), f"{role}.lost"), parsed


def parse_profile(obj) -> RawProfile:
    """ipcbench's ``profile`` object (module docstring) -> :class:`RawProfile`; a malformed one is a
    one-line PmcsuiteError."""
    if not isinstance(obj, dict):
        _bad(f"is {type(obj).__name__}, not an object")
    status = obj.get("status")
    if status in NOT_SAMPLED:
        return RawProfile(obj.get("event"), None, obj.get("unit"), status, str(obj.get("reason") or status))
    if status != "ok":
        _bad(f"has status {status!r}, not ok, {', '.join(NOT_SAMPLED)}")
    period = obj.get("period")
    if isinstance(period, bool) or not isinstance(period, (int, float)) or not period > 0:
        _bad(f"has period {period!r}, not a positive number")
    if not isinstance(obj.get("event"), str) or not isinstance(obj.get("unit"), str):
        _bad("names no event or unit")
    actors = {role: _actor(obj.get(role), role) for role in ROLES}
    return RawProfile(obj["event"], period, obj["unit"], "ok", None, {r: a[0] for r, a in actors.items()},
                      {r: a[1] for r, a in actors.items()}, {r: a[2] for r, a in actors.items()},
                      obj.get("mode") if isinstance(obj.get("mode"), str) else None)


# ---------------------------------------------------------------------------------- categories

class _Rules:
    """The categories of one OS compiled: ``under`` ones (any frame decides), ``leaf`` ones (only the
    leaf frame may decide) and the others (the frame nearest the leaf decides), each one regular
    expression of its fnmatch patterns."""

    def __init__(self, categories, os: str):
        def compiled(category):
            patterns = category.patterns(os)
            return re.compile("|".join(fnmatch.translate(p) for p in patterns)) if patterns else None
        rules = [(c, compiled(c)) for c in categories]
        self.under = [(c.name, rx) for c, rx in rules if c.under and rx is not None]
        self.direct = [(c.name, c.leaf, rx) for c, rx in rules if not c.under and rx is not None]
        self.frames: dict[tuple[str, bool], str | None] = {}

    def frame(self, name: str, at_leaf: bool) -> str | None:
        """The non-``under`` category a function name matches first (``leaf`` ones only at the leaf), or None."""
        key = (name, at_leaf)
        if key not in self.frames:
            self.frames[key] = next((cat for cat, leaf, rx in self.direct if (at_leaf or not leaf) and rx.match(name)),
                                    None)
        return self.frames[key]

    def categorise(self, frames) -> str:
        for name, rx in self.under:
            if any(rx.match(f) for f in frames):
                return name
        for index, f in enumerate(frames):
            found = self.frame(f, index == 0)
            if found is not None:
                return found
        return PROFILE_OTHER if frames else PROFILE_USER


@functools.lru_cache(maxsize=16)
def _rules(categories: tuple, os: str) -> _Rules:
    return _Rules(categories, os)


def categorise(frames_leaf_first, categories, os: str) -> str:
    """The category of one sample: its kernel function names ``frames_leaf_first`` (empty: no kernel
    frame) against the catalogue's ``categories`` (``Catalogue.profile_categories``, in priority
    order) for ``os`` (``linux`` or ``freebsd``). The first ``under`` category with a pattern matching
    ANY frame; else the category of the frame nearest the leaf that matches a category without
    ``under`` (a ``leaf`` category only by the leaf frame itself: system-call entry and exit, which
    every system call's stack passes through); a sample without kernel frames is ``user``; else
    ``other``."""
    return _rules(tuple(categories), str(os).lower()).categorise(tuple(frames_leaf_first))


def fold(role: str, frames_leaf_first) -> str:
    """One folded stack, root first: the actor's role, then the kernel frames from the system call
    down to the leaf; a sample without kernel frames is ``role;[user]`` (user frames are one frame)."""
    return ";".join([role, *reversed(frames_leaf_first)] if frames_leaf_first else [role, USER_FRAME])


# ---------------------------------------------------------------------------------- one iteration

@dataclass(frozen=True)
class Summary:
    """One iteration's profile, named and categorised: the raw profile, samples per actor and
    category (``{"writer": {"copy": 12, ...}, "reader": {...}}``), and the run record's ``profile``
    (None when it did not sample)."""
    raw: RawProfile
    by_category: dict
    record: dict | None

    def samples(self, category: str, role: str | None = None) -> int | None:
        """Samples of ``category`` (both actors, or ``role``'s); None for a category it does not know."""
        counts = [self.by_category[r].get(category) for r in ([role] if role else ROLES)]
        return None if None in counts else sum(counts)


def summarise(obj, categories, kallsyms: Kallsyms, os: str = "linux") -> Summary:
    """ipcbench's ``profile`` object -> :class:`Summary`. The record (RunRecord ``profile``): ``event``,
    ``period``, ``unit``, ``samples`` and ``lost`` per actor, ``folded`` stacks (``{"writer;f1;...;leaf":
    n}``) and ``kallsyms`` (``Kallsyms.state``: whether kernel frames could be named)."""
    raw = parse_profile(obj)
    by_category = {role: {c.name: 0 for c in categories} for role in ROLES}
    if raw.status != "ok":
        return Summary(raw, by_category, None)
    rules = _rules(tuple(categories), str(os).lower())
    names: dict[int, str] = {}
    folded: dict[str, int] = {}
    for role in ROLES:
        for stack in raw.stacks[role]:
            frames = tuple(names.get(ip) or names.setdefault(ip, _name(kallsyms, ip)) for ip in stack.kernel)
            category = rules.categorise(frames)
            by_category[role][category] = by_category[role].get(category, 0) + stack.n
            key = fold(role, frames)
            folded[key] = folded.get(key, 0) + stack.n
    record = {"event": raw.event, "period": raw.period, "unit": raw.unit, "mode": raw.mode,
              "samples": dict(raw.samples), "lost": dict(raw.lost), "folded": folded, "kallsyms": kallsyms.state}
    return Summary(raw, by_category, record)


def _name(kallsyms: Kallsyms, address: int) -> str:
    return kallsyms.name(address) if kallsyms.state == "ok" else UNKNOWN


def loop_periods(loop_ns, period, unit: str | None) -> float | None:
    """How many sampling periods a loop of ``loop_ns`` lasted: the period in ns, or in cycles counted
    at 100 MHz at least (no CPU that runs the benchmark is slower); None when unknown."""
    if loop_ns is None or not period:
        return None
    ns_per_unit = {"ns": 1.0, "cycles": 10.0}.get(unit or "")
    return loop_ns / (period * ns_per_unit) if ns_per_unit else None


def profile_counters(summary: Summary | None, events: dict, loop_ns=None) -> list[CounterValue]:
    """The ``profile_<category>`` counters of ``events`` (counter id -> its sampling spec), in order:
    each the samples of its category over both actors, status ok (0 is a real value). A profile that
    did not sample keeps its status and reason on every counter; no sample at all over a loop of more
    than ``SILENT_PERIODS`` periods is ``silent_zero``; no profile object (``summary`` None) is an error."""
    if summary is None:
        return [CounterValue(cid, spec, None, "", "error", reason="ipcbench reported no profile: rebuild it")
                for cid, spec in events.items()]
    raw = summary.raw
    if raw.status != "ok":
        return [CounterValue(cid, spec, None, "", raw.status, reason=raw.reason) for cid, spec in events.items()]
    periods = loop_periods(loop_ns, raw.period, raw.unit)
    if sum(raw.samples.values()) == 0 and periods is not None and periods > SILENT_PERIODS:
        why = (f"no sample in a loop of {periods:.0f} periods of {raw.event}: the event opened but never fired "
               "(a hypervisor or PMU that does not deliver it)")
        return [CounterValue(cid, spec, None, "", "silent_zero", reason=why) for cid, spec in events.items()]
    out = []
    for cid, spec in events.items():
        name = cid[len(PROFILE_PREFIX):] if cid.startswith(PROFILE_PREFIX) else ""
        total = summary.samples(name)
        if total is None:
            out.append(CounterValue(cid, spec, None, "", "error",
                                    reason=f"{cid} names no category of the catalogue's profile section"))
        else:
            actors = {role: {"status": "ok", "value": summary.samples(name, role)} for role in ROLES}
            out.append(CounterValue(cid, spec, float(total), "samples", "ok", actors=actors))
    return out
