"""The catalogue's objects: counters, groups, platforms, derived metrics, the profile's categories,
and the ``Catalogue`` that answers questions about them (which event counts a counter here, why
none does, which counters are time, probes or checked against the benchmark's own counts).

Every counter fact is a field of ``counters.yaml`` (docs/catalogue.md); the objects here only hold
what :mod:`.load` read and checked, and :mod:`.validate` lists the keys a file may use.
"""
from __future__ import annotations

import difflib
import platform as _platform
from dataclasses import dataclass, field

from ..errors import PmcsuiteError
from .formula import evaluate_formula

#: counter kinds: ``sample`` is a profile's counter (samples of the loop's stacks in one category),
#: counted by sampling, never by counting events; a pass holds counters of one kind
KINDS = ("hardware", "software", "tracepoint", "sample")
BACKEND_KEYS = ("perf", "pmcstat", "dtrace", "inproc")
#: Backends that spell events the way another tool does: counting inside ipcbench ("inproc") opens
#: the same kernel interface as perf (Linux perf_event_open) or pmcstat (FreeBSD libpmc), unless
#: the event gives an ``inproc`` spelling of its own (the profile's ``sample:EVENT:PERIOD``).
BORROWED_SPELLING = {"inproc": {"FreeBSD": "pmcstat", None: "perf"}}
#: the OSes a profile category gives function-name patterns for (``linux``, ``freebsd`` keys)
PROFILE_OSES = ("linux", "freebsd")
#: the categories every profile has, without patterns: a sample with no kernel frame, and a kernel
#: stack that no pattern matches
PROFILE_USER, PROFILE_OTHER = "user", "other"
#: a profile category ``NAME`` is counted by the counter ``profile_NAME`` (kind ``sample``)
PROFILE_PREFIX = "profile_"
#: ns per unit of the catalogue's time units (a counter whose ``unit`` is one of them, or ``cycles``,
#: measures time unless its ``time`` field says otherwise)
UNIT_NS = {"ns": 1.0, "nsec": 1.0, "us": 1e3, "usec": 1e3, "ms": 1e6, "msec": 1e6, "s": 1e9, "sec": 1e9,
           "seconds": 1e9}
TIME_UNITS = frozenset(UNIT_NS) | {"cycles"}
#: the directions a counter's ``means`` explains (a change of the counter per KiB)
DIRECTIONS = ("rises", "falls")
#: format of the ``catalogue.snapshot`` object of metadata.json
SNAPSHOT_FORMAT = 1


def spelling(backend: str, system: str | None = None) -> str:
    """The catalogue event key a backend reads: its own name, or the tool whose spelling it
    borrows (``inproc``: ``perf`` on Linux, ``pmcstat`` on FreeBSD; ``system`` defaults to this OS)."""
    borrowed = BORROWED_SPELLING.get(backend)
    if borrowed is None:
        return backend
    system = system or _platform.system()
    return borrowed.get(system, borrowed[None])


def spellings(backend: str, system: str | None = None) -> tuple[str, ...]:
    """The catalogue event keys a backend reads, in order of preference: its own name, then (inproc)
    the spelling it borrows (:func:`spelling`)."""
    borrowed = spelling(backend, system)
    return (backend, borrowed) if borrowed != backend else (backend,)


def unit_is_time(unit: str) -> bool:
    """True when a catalogue ``unit`` is a duration (``TIME_UNITS``: ns, msec, cycles, ...)."""
    return str(unit).strip().lower() in TIME_UNITS


def suggest(name: str, known) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known`` to ``name``, else ''."""
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


@dataclass(frozen=True)
class Cost:
    """What one event of a counter costs, as a documented order-of-magnitude range: in CPU ``cycles``
    (converted to time with the ns per cycle measured in the same runs) and/or in ``ns`` (used when no
    cycles were counted); each (low, high) or None; ``source``: where the estimate comes from."""
    cycles: tuple[float, float] | None
    ns: tuple[float, float] | None
    source: str


@dataclass(frozen=True)
class Crosscheck:
    """A counter against the benchmark's own count of the same events in the same run: ``own``, the
    result-table columns summed (``writes``; ``minflt`` + ``majflt``); ``exact``, the scopes where the
    two must be equal (a stored run that differs gets a warning); ``expect``, scope -> the relation to
    expect there, in words (the report prints it beside the measured differences)."""
    own: tuple[str, ...]
    exact: tuple[str, ...] = ()
    expect: dict = field(default_factory=dict)


@dataclass
class Counter:
    id: str
    description: str
    unit: str
    kind: str
    caveats: list[str] = field(default_factory=list)
    never_zero: bool = False    # counts in any loop that moves data: a 0 means the event is not implemented
    cost: Cost | None = None    # what one event costs (order of magnitude), None when not documented
    label: str | None = None    # short readable name for sentences and figure titles ("read() calls")
    time: bool | None = None    # measures time (context, never a cause); None: decided by the unit
    probe: bool = False         # counted by a probe or tracepoint that fires on every event (probe effect)
    min_per_write: float | None = None   # at least this many per write() call of the loop
    crosscheck: Crosscheck | None = None  # the benchmark's own count of the same events
    means: dict = field(default_factory=dict)   # "rises"/"falls" -> what that change means, in words

    @property
    def measures_time(self) -> bool:
        """``time`` when the catalogue gives it, else whether ``unit`` is a time unit."""
        return self.time if self.time is not None else unit_is_time(self.unit)

    @property
    def ns_per_unit(self) -> float | None:
        """ns per unit when ``unit`` is a duration (``UNIT_NS``: ns, msec...), else None (a count)."""
        return UNIT_NS.get(str(self.unit).strip().lower())

    @property
    def counts_cycles(self) -> bool:
        """True for a time counter whose unit is no duration (``count``, ``cycles``): it counts CPU
        cycles, turned into time with the ns per cycle measured in the same runs."""
        return self.measures_time and self.ns_per_unit is None


@dataclass
class Group:
    name: str
    description: str
    counters: list[str]


@dataclass
class Platform:
    """One PMU (or the kernel's software events). ``slots`` None = no limit.

    ``fixed`` counters sit on dedicated hardware and use no slot, on the backends listed in
    ``fixed_on`` (empty = on every backend). ``detect`` holds the rules hostinfo.py applies;
    ``cpu_implementer``/``cpu_part`` are ints there. ``events`` maps a counter id to its spellings
    (``perf``, ``pmcstat``, ``dtrace``), its ``code``, and optionally ``aliases`` (other names of
    the event in imported data) and ``clause`` (the dtrace backend's D clauses)."""
    name: str
    description: str
    kinds: list[str]
    slots: int | None
    fixed: list[str] = field(default_factory=list)
    fixed_on: list[str] = field(default_factory=list)
    events: dict[str, dict] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    detect: dict = field(default_factory=dict)

    def is_fixed(self, counter_id: str, backend: str) -> bool:
        """True when ``counter_id`` uses a dedicated counter (no slot) with ``backend``."""
        return counter_id in self.fixed and (not self.fixed_on or spelling(backend) in self.fixed_on)


@dataclass
class Derived:
    name: str
    formula: str
    unit: str
    description: str
    names: list[str] = field(default_factory=list)      # counter ids the formula uses

    def evaluate(self, values):
        """Evaluate over ``values`` (dict of numbers or Series, or a DataFrame); x/0 -> NaN."""
        return evaluate_formula(self.formula, values)


@dataclass(frozen=True)
class ProfileCategory:
    """Where a sample of the loop's stacks spent its time (``profile.categories`` of counters.yaml).

    ``linux`` and ``freebsd``: fnmatch patterns of kernel function names. ``under``: a stack with a
    matching frame anywhere belongs here (the page-fault handler and everything it calls); otherwise
    a stack belongs to the category of its frame nearest the leaf that matches; ``leaf``: only the
    leaf frame itself may match (system-call entry and exit, which every system call passes through). Counted by the
    counter ``profile_<name>`` (:attr:`counter`)."""
    name: str
    label: str
    description: str
    under: bool = False
    leaf: bool = False
    linux: tuple[str, ...] = ()
    freebsd: tuple[str, ...] = ()

    @property
    def counter(self) -> str:
        """The id of the counter of this category's samples."""
        return PROFILE_PREFIX + self.name

    def patterns(self, os: str) -> tuple[str, ...]:
        """The patterns for ``os`` (``linux`` or ``freebsd``, any case)."""
        key = str(os).lower()
        if key not in PROFILE_OSES:
            raise PmcsuiteError(f"no profile patterns for OS {os!r}: the catalogue gives {', '.join(PROFILE_OSES)}")
        return getattr(self, key)


@dataclass
class Catalogue:
    version: int
    sha256: str
    sources: list[str]
    counters: dict[str, Counter]
    groups: dict[str, Group]
    platforms: dict[str, Platform]
    derived: dict[str, Derived]
    default_groups: list[str] = field(default_factory=list)
    #: the YAML text of each source file, in merge order (what :func:`catalogue_snapshot` stores)
    texts: list[str] = field(default_factory=list, repr=False)
    #: where the catalogue of a result directory came from when that is not its own snapshot
    #: (``result_catalogue``): a one-line warning for the reader, else None
    note: str | None = None
    #: the profile's categories in priority order (``profile.categories``; empty: no profile section)
    profile_categories: tuple[ProfileCategory, ...] = ()

    def metadata(self) -> dict:
        """The ``catalogue`` object of metadata.json, snapshot included (:func:`catalogue_metadata`)."""
        return catalogue_metadata(self)

    def expand(self, groups) -> list[str]:
        """Group names and/or bare counter ids (a list, or one comma-separated string) ->
        counter ids, in order, without duplicates."""
        if isinstance(groups, str):
            groups = groups.split(",")
        out: list[str] = []
        for raw in groups:
            name = str(raw).strip()
            if not name:
                continue
            if name in self.groups:
                members = self.groups[name].counters
            elif name in self.counters:
                members = [name]
            else:
                raise PmcsuiteError(
                    f"unknown counter group or counter '{name}'{suggest(name, [*self.groups, *self.counters])}"
                    f" (known groups: {', '.join(self.groups)}; or a counter id, see 'pmcsuite counters')")
            out.extend(c for c in members if c not in out)
        return out

    def _check_platforms(self, platforms) -> list[str]:
        platforms = list(platforms)
        for name in platforms:
            if name not in self.platforms:
                raise PmcsuiteError(
                    f"unknown platform '{name}'{suggest(name, self.platforms)} (known: {', '.join(self.platforms)})")
        return platforms

    def _check_counter(self, counter_id: str) -> Counter:
        if counter_id not in self.counters:
            raise PmcsuiteError(
                f"unknown counter '{counter_id}'{suggest(counter_id, self.counters)}"
                f" (known: {', '.join(self.counters)})")
        return self.counters[counter_id]

    def event_for(self, counter_id: str, platforms, backend: str):
        """(platform name, event spec) of the first platform in ``platforms`` that spells
        ``counter_id`` for ``backend``, else None."""
        self._check_counter(counter_id)
        keys = [key for key in spellings(backend) if key in BACKEND_KEYS]
        for name in self._check_platforms(platforms):
            event = self.platforms[name].events.get(counter_id, {})
            spec = next((event[key] for key in keys if event.get(key)), None)
            if spec:
                return name, spec
        return None

    def locate(self, counter_id: str, platforms, backends):
        """(platform, spec, backend) from the first of ``backends`` (names, in order of preference)
        that has an event for ``counter_id`` on ``platforms``; None if none has."""
        for backend in backends:
            found = self.event_for(counter_id, platforms, backend)
            if found:
                return (*found, backend)
        return None

    def why_missing(self, counter_id: str, platforms, backends) -> str:
        """``unavailable_reason`` over several backends (each reason once)."""
        return "; ".join(dict.fromkeys(self.unavailable_reason(counter_id, platforms, b) for b in backends)) or (
            "no counter backend (--backend none)")

    def unavailable_reason(self, counter_id: str, platforms, backend: str) -> str:
        """Why ``counter_id`` has no event on ``platforms`` with ``backend`` ('' if it has one)."""
        counter = self._check_counter(counter_id)
        platforms = self._check_platforms(platforms)
        if self.event_for(counter_id, platforms, backend):
            return ""
        reasons = []
        for name in platforms:
            plat = self.platforms[name]
            if counter_id in plat.unavailable:
                reasons.append(f"{name}: {plat.unavailable[counter_id]}")
            elif counter_id in plat.events:
                reasons.append(f"{name} has no {backend} event for it")
        if reasons:
            return "; ".join(reasons)
        if any(counter.kind in self.platforms[p].kinds for p in platforms):
            return f"no event for it on {', '.join(platforms)}"
        if counter.kind == "hardware":
            return (f"it is a hardware counter and platform(s) {', '.join(platforms) or '(none)'}"
                    " have no PMU (unknown CPU, VM or no PMU; pass --platform NAME if this CPU has one)")
        return (f"it is a {counter.kind} counter and platform(s) {', '.join(platforms) or '(none)'}"
                " do not provide them (the 'software' platform needs Linux perf)")

    def evaluate_derived(self, name: str, values):
        """Evaluate derived metric ``name`` (see ``evaluate_formula``)."""
        if name not in self.derived:
            raise PmcsuiteError(f"unknown derived metric '{name}'{suggest(name, self.derived)}"
                                f" (known: {', '.join(self.derived)})")
        return self.derived[name].evaluate(values)

    # ---- counter facts other modules read (docs/catalogue.md)

    def probe_counters(self) -> tuple[str, ...]:
        """Ids of the counters counted by a probe or tracepoint on every event (``probe: true``):
        a pass that counts one of them slows the loop down (its probe effect is not nil)."""
        return tuple(cid for cid, c in self.counters.items() if c.probe)

    def cycle_counters(self) -> tuple[str, ...]:
        """Ids of the counters that count CPU cycles (:attr:`Counter.counts_cycles`)."""
        return tuple(cid for cid, c in self.counters.items() if c.counts_cycles)

    def crosschecks(self) -> tuple[tuple[str, tuple[str, ...], dict], ...]:
        """``(counter id, the benchmark's own columns, {scope: the relation expected there})`` of every
        counter with a ``crosscheck``, in catalogue order."""
        return tuple((cid, c.crosscheck.own, dict(c.crosscheck.expect))
                     for cid, c in self.counters.items() if c.crosscheck is not None)

    def meanings(self) -> dict[tuple[str, str], str]:
        """``{(counter id, "rises"|"falls"): what that change means}`` from the counters' ``means``."""
        return {(cid, direction): text for cid, c in self.counters.items() for direction, text in c.means.items()}


# --------------------------------------------------------------------------------------
# the catalogue a result directory was collected with

def catalogue_snapshot(cat: Catalogue) -> dict:
    """What a result directory stores to rebuild ``cat`` later, whatever happens to the YAML files:
    ``{"format": 1, "files": [{"source": resolved path, "text": YAML text}, ...]}``, the source files
    in merge order (built-in first). The texts, not the merged structure, are kept so that a rebuild
    goes through the same checks and merge as ``load_catalogue`` and reproduces ``cat.sha256``."""
    if len(cat.texts) != len(cat.sources):
        raise PmcsuiteError("this catalogue object holds no source texts: build it with load_catalogue()")
    return {"format": SNAPSHOT_FORMAT,
            "files": [{"source": str(src), "text": text} for src, text in zip(cat.sources, cat.texts)]}


def catalogue_metadata(cat: Catalogue) -> dict:
    """The ``catalogue`` object of metadata.json: version, sha256, sources and the snapshot."""
    return {"version": cat.version, "sha256": cat.sha256, "sources": [str(s) for s in cat.sources],
            "snapshot": catalogue_snapshot(cat)}
