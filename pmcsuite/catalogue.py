"""The counter catalogue: load, validate and merge ``counters.yaml`` (+ user files).

``load_catalogue()`` reads the built-in file shipped with the package, then merges each user
file given with ``--catalogue`` over it. Every problem is one ``PmcsuiteError`` line naming the
file and the dotted path of the entry at fault (``counters.yaml: groups.l1: ...``); after a
merge, the file named is the one that set the faulty field (the merge records who set what).

Merge rules for user files: new ids are added; an existing counter, group, derived metric or
platform is updated field by field (a field given replaces the old value), except that a
platform's ``events`` merge per counter and per backend, and giving an event for a counter
drops that counter's ``unavailable`` reason (and the other way round). ``default_groups``
is replaced. The catalogue ``version`` is the built-in file's.
"""
from __future__ import annotations

import ast
import difflib
import hashlib
import math
import operator
import reprlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import PmcsuiteError
from .schema import reserved_id

BUILTIN = Path(__file__).with_name("counters.yaml")
KINDS = ("hardware", "software", "tracepoint")
BACKEND_KEYS = ("perf", "pmcstat", "dtrace")
#: Backends that spell events the way another tool does: counting inside ipcbench ("inproc") opens
#: the same kernel interface as perf (Linux perf_event_open) or pmcstat (FreeBSD libpmc).
BORROWED_SPELLING = {"inproc": {"FreeBSD": "pmcstat", None: "perf"}}
EVENT_KEYS = BACKEND_KEYS + ("code",)

TOP_KEYS = ("version", "counters", "groups", "default_groups", "platforms", "derived")
COUNTER_KEYS = ("description", "unit", "kind", "caveats", "never_zero", "cost")
#: keys of a counter's ``cost`` (what one event costs: ``cycles`` and/or ``ns``, each a number or a
#: [low, high] range, and the ``source`` of the estimate), read by ``analysis.attribution``
COST_KEYS = ("cycles", "ns", "source")
GROUP_KEYS = ("description", "counters")
PLATFORM_KEYS = ("description", "kinds", "detect", "slots", "fixed", "fixed_on", "events", "unavailable")
DETECT_KEYS = ("cpu_implementer", "cpu_part", "machine", "hw_model", "os")
DERIVED_KEYS = ("formula", "unit", "description")

REQUIRED = {
    "counters": ("description", "unit", "kind"),
    "groups": ("description", "counters"),
    "platforms": ("description", "kinds", "slots"),
    "derived": ("formula", "unit", "description"),
}


def spelling(backend: str, system: str | None = None) -> str:
    """The catalogue event key a backend reads: its own name, or the tool whose spelling it
    borrows (``inproc``: ``perf`` on Linux, ``pmcstat`` on FreeBSD; ``system`` defaults to this OS)."""
    borrowed = BORROWED_SPELLING.get(backend)
    if borrowed is None:
        return backend
    import platform as _platform
    system = system or _platform.system()
    return borrowed.get(system, borrowed[None])


@dataclass
class Counter:
    id: str
    description: str
    unit: str
    kind: str
    caveats: list[str] = field(default_factory=list)
    never_zero: bool = False    # counts in any loop that moves data: a 0 means the event is not implemented
    cost: "Cost | None" = None  # what one event costs (order of magnitude), None when not documented


@dataclass(frozen=True)
class Cost:
    """What one event of a counter costs, as a documented order-of-magnitude range: in CPU ``cycles``
    (converted to time with the ns per cycle measured in the same runs) and/or in ``ns`` (used when no
    cycles were counted); each (low, high) or None; ``source``: where the estimate comes from."""
    cycles: tuple[float, float] | None
    ns: tuple[float, float] | None
    source: str


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
    ``cpu_implementer``/``cpu_part`` are ints there."""
    name: str
    description: str
    kinds: list[str]
    slots: int | None
    fixed: list[str] = field(default_factory=list)
    fixed_on: list[str] = field(default_factory=list)
    events: dict[str, dict[str, str]] = field(default_factory=dict)
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
    #: (:func:`result_catalogue`): a one-line warning for the reader, else None
    note: str | None = None

    def metadata(self) -> dict:
        """The ``catalogue`` object of metadata.json, snapshot included (:func:`catalogue_metadata`)."""
        return catalogue_metadata(self)

    def expand(self, groups) -> list[str]:
        """Group names and/or bare counter ids (a list, or one comma-separated string) ->
        counter ids, in order, without duplicates."""
        if isinstance(groups, str):
            groups = [g for g in groups.split(",")]
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
                    f"unknown counter group or counter '{name}'{_suggest(name, [*self.groups, *self.counters])}"
                    f" (known groups: {', '.join(self.groups)}; or a counter id, see 'pmcsuite counters')")
            out.extend(c for c in members if c not in out)
        return out

    def _check_platforms(self, platforms) -> list[str]:
        platforms = list(platforms)
        for name in platforms:
            if name not in self.platforms:
                raise PmcsuiteError(
                    f"unknown platform '{name}'{_suggest(name, self.platforms)} (known: {', '.join(self.platforms)})")
        return platforms

    def _check_counter(self, counter_id: str) -> Counter:
        if counter_id not in self.counters:
            raise PmcsuiteError(
                f"unknown counter '{counter_id}'{_suggest(counter_id, self.counters)}"
                f" (known: {', '.join(self.counters)})")
        return self.counters[counter_id]

    def event_for(self, counter_id: str, platforms, backend: str):
        """(platform name, event spec) of the first platform in ``platforms`` that spells
        ``counter_id`` for ``backend``, else None."""
        self._check_counter(counter_id)
        key = spelling(backend)
        for name in self._check_platforms(platforms):
            spec = self.platforms[name].events.get(counter_id, {}).get(key)
            if key in BACKEND_KEYS and spec:
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
        if not reasons:
            if not any(counter.kind in self.platforms[p].kinds for p in platforms):
                if counter.kind == "hardware":
                    reasons.append(f"it is a hardware counter and platform(s) {', '.join(platforms) or '(none)'}"
                                   " have no PMU (unknown CPU, VM or no PMU; pass --platform NAME if this CPU has one)")
                else:
                    reasons.append(f"it is a {counter.kind} counter and platform(s) {', '.join(platforms) or '(none)'}"
                                   " do not provide them (the 'software' platform needs Linux perf)")
            else:
                reasons.append(f"no event for it on {', '.join(platforms)}")
        return "; ".join(reasons)

    def evaluate_derived(self, name: str, values):
        """Evaluate derived metric ``name`` (see ``evaluate_formula``)."""
        if name not in self.derived:
            raise PmcsuiteError(f"unknown derived metric '{name}'{_suggest(name, self.derived)}"
                                f" (known: {', '.join(self.derived)})")
        return self.derived[name].evaluate(values)


# --------------------------------------------------------------------------------------
# formulas

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: None}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


#: longer formulas are refused: a derived metric is a short expression (and a deep one overflows ast.parse)
MAX_FORMULA = 500


def parse_formula(formula: str, where: str = "formula") -> list[str]:
    """Check ``formula`` (names, numbers, + - * /, parentheses) and return the names it uses."""
    if not isinstance(formula, str) or not formula.strip():
        raise PmcsuiteError(f"{where}: formula must be a non-empty string such as 'cycles / instructions'")
    if len(formula) > MAX_FORMULA:
        raise PmcsuiteError(f"{where}: the formula is {len(formula)} characters long; keep it under {MAX_FORMULA}")
    try:
        tree = ast.parse(formula.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise PmcsuiteError(f"{where}: '{formula[:80]}' is not a valid formula; use counter ids, numbers, + - * / and "
                            "parentheses") from None
    found: list[ast.Name] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.append(node)
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise PmcsuiteError(f"{where}: '{formula}' contains {node.value!r}; only numbers are allowed as constants")
        elif not isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Load, *_BINOPS, *_UNARY)):
            raise PmcsuiteError(
                f"{where}: '{formula}' uses {type(node).__name__}; only counter ids, numbers, + - * / and parentheses are allowed")
    names: list[str] = []
    for node in sorted(found, key=lambda n: n.col_offset):      # source order
        if node.id not in names:
            names.append(node.id)
    return names


def _divide(a, b):
    """a / b with NaN wherever b == 0 (elementwise for numpy/pandas objects)."""
    if hasattr(b, "where"):                                    # pandas Series / DataFrame
        return a / b.where(b != 0)
    if hasattr(b, "shape"):                                    # numpy array
        import numpy as np
        b = np.asarray(b, dtype=float)
        return a / np.where(b != 0, b, np.nan)
    if b is None or b == 0 or (isinstance(b, float) and math.isnan(b)):
        return math.nan
    return a / b


def _lookup(values, name):
    try:
        value = values[name]
    except (KeyError, IndexError):
        raise PmcsuiteError(f"derived metric needs counter '{name}', which is not in the data: measure its group first") from None
    return math.nan if value is None else value


def evaluate_formula(formula: str, values):
    """Evaluate ``formula`` with counter values from ``values`` (a dict of numbers/Series or a
    DataFrame); works elementwise on pandas objects. Division by zero gives NaN; a None value is NaN."""
    parse_formula(formula)
    tree = ast.parse(formula.strip(), mode="eval")

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return _lookup(values, node.id)
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](ev(node.operand))
        left, right = ev(node.left), ev(node.right)
        if isinstance(node.op, ast.Div):
            return _divide(left, right)
        return _BINOPS[type(node.op)](left, right)

    return ev(tree)


# --------------------------------------------------------------------------------------
# reading and validating files


class _DuplicateKey(yaml.constructor.ConstructorError):
    """A mapping key given twice."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys (PyYAML silently keeps the last one)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:
                    continue                                  # unhashable: SafeLoader reports it
                if duplicate:
                    raise _DuplicateKey("while constructing a mapping", node.start_mark,
                                        f"duplicate key '{key}'", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path, raw: bytes | None = None) -> tuple[dict, bytes]:
    """Parse one catalogue file (its bytes ``raw`` when given, e.g. from a snapshot)."""
    if raw is None:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise PmcsuiteError(f"cannot read catalogue {path}: {exc.strerror or exc}; check the --catalogue path") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PmcsuiteError(f"{path} is not UTF-8 text; save the catalogue as UTF-8") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path} line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        fix = "each key may appear only once: remove or rename one" if isinstance(exc, _DuplicateKey) else "fix the YAML syntax"
        raise PmcsuiteError(f"{where}: {exc.problem or exc.context}; {fix}") from None
    except yaml.YAMLError as exc:
        raise PmcsuiteError(f"{path}: invalid YAML ({exc}); fix the YAML syntax") from None
    except RecursionError:
        raise PmcsuiteError(f"{path}: the YAML nests too deeply to read; a catalogue is a few levels of "
                            "mappings and lists") from None
    except ValueError as exc:                         # e.g. an integer of more than 4300 digits
        raise PmcsuiteError(f"{path}: a value cannot be read ({str(exc).split(';')[0]}); fix it") from None
    if data is None:
        raise PmcsuiteError(f"{path} is empty; a catalogue holds 'counters', 'groups', 'platforms' and/or 'derived'")
    if not isinstance(data, dict):
        raise PmcsuiteError(f"{path}: the top level must be a mapping with keys {', '.join(TOP_KEYS)}")
    return data, raw


class _Checker:
    """Structural checks of one file; converts values to their canonical form."""

    def __init__(self, src: str):
        self.src = src

    def fail(self, where: str, msg: str):
        raise PmcsuiteError(f"{self.src}: {where}: {msg}")

    def keys(self, where: str, value, known) -> dict:
        if not isinstance(value, dict):
            self.fail(where, f"must be a mapping (with keys such as {', '.join(known)}), not {_tname(value)}")
        for key in value:
            if not isinstance(key, str):
                self.fail(where, f"key {key!r} must be a string (quote it)")
            if key not in known:
                self.fail(where, f"unknown key '{key}'{_suggest(key, known)} (known: {', '.join(known)})")
        return value

    def mapping(self, where: str, value) -> dict:
        if not isinstance(value, dict):
            self.fail(where, f"must be a mapping of ids to entries, not {_tname(value)}")
        for key in value:
            if not isinstance(key, str) or not key:
                self.fail(where, f"id {key!r} must be a non-empty string (quote it)")
        return value

    def string(self, where: str, value) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(where, f"must be a non-empty string, not {_tname(value)}")
        return value.strip()

    def strings(self, where: str, value, allow_single=False, allow_empty=True) -> list[str]:
        if allow_single and isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.fail(where, f"must be a list of strings, not {_tname(value)}")
        if not value and not allow_empty:
            self.fail(where, "must not be empty")
        return [v.strip() for v in value]

    def choice(self, where: str, value, choices) -> str:
        if value not in choices:
            self.fail(where, f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def hexint(self, where: str, value) -> int:
        if isinstance(value, bool):
            self.fail(where, f"must be a number such as 0x41, not {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip(), 0)
            except ValueError:
                pass
        self.fail(where, f"must be a number such as 0x41, not {value!r}")

    # ---- sections

    def counter(self, where, entry) -> dict:
        entry = dict(self.keys(where, entry, COUNTER_KEYS))
        for key in ("description", "unit"):
            if key in entry:
                entry[key] = self.string(f"{where}.{key}", entry[key])
        if "kind" in entry:
            self.choice(f"{where}.kind", entry["kind"], KINDS)
        if "caveats" in entry:
            entry["caveats"] = self.strings(f"{where}.caveats", entry["caveats"], allow_single=True)
        if "never_zero" in entry and not isinstance(entry["never_zero"], bool):
            self.fail(f"{where}.never_zero", f"must be true or false, not {entry['never_zero']!r}")
        if "cost" in entry:
            entry["cost"] = self.cost(f"{where}.cost", entry["cost"])
        return entry

    def cost(self, where: str, entry) -> dict:
        """``cycles`` and/or ``ns`` (a positive number or a [low, high] range) and a ``source``."""
        entry = dict(self.keys(where, entry, COST_KEYS))
        if "cycles" not in entry and "ns" not in entry:
            self.fail(where, "gives neither 'cycles' nor 'ns' (what one event costs)")
        if "source" not in entry:
            self.fail(where, "missing required field 'source' (where the estimate comes from)")
        entry["source"] = self.string(f"{where}.source", entry["source"])
        for key in ("cycles", "ns"):
            if key in entry:
                entry[key] = self.cost_range(f"{where}.{key}", entry[key])
        return entry

    def cost_range(self, where: str, value) -> list[float]:
        values = value if isinstance(value, list) else [value]
        if not 1 <= len(values) <= 2 or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0 for v in values):
            self.fail(where, f"must be a positive number or a [low, high] range of them, not {value!r}")
        if values[-1] < values[0]:
            self.fail(where, f"range {value!r} is not [low, high]")
        return [float(values[0]), float(values[-1])]

    def group(self, where, entry) -> dict:
        entry = dict(self.keys(where, entry, GROUP_KEYS))
        if "description" in entry:
            entry["description"] = self.string(f"{where}.description", entry["description"])
        if "counters" in entry:
            entry["counters"] = self.strings(f"{where}.counters", entry["counters"], allow_empty=False)
            dups = sorted({c for c in entry["counters"] if entry["counters"].count(c) > 1})
            if dups:
                self.fail(f"{where}.counters", f"lists {', '.join(dups)} twice")
        return entry

    def derived(self, where, entry) -> dict:
        entry = dict(self.keys(where, entry, DERIVED_KEYS))
        for key in DERIVED_KEYS:
            if key in entry:
                entry[key] = self.string(f"{where}.{key}", entry[key])
        return entry

    def platform(self, where, entry) -> dict:
        entry = dict(self.keys(where, entry, PLATFORM_KEYS))
        if "description" in entry:
            entry["description"] = self.string(f"{where}.description", entry["description"])
        if "kinds" in entry:
            entry["kinds"] = self.strings(f"{where}.kinds", entry["kinds"], allow_single=True, allow_empty=False)
            for kind in entry["kinds"]:
                self.choice(f"{where}.kinds", kind, KINDS)
        if "slots" in entry:
            slots = entry["slots"]
            if slots is not None and (isinstance(slots, bool) or not isinstance(slots, int) or slots < 1):
                self.fail(f"{where}.slots", f"must be a positive integer or null (no limit), not {slots!r}")
        for key in ("fixed", "fixed_on"):
            if key in entry:
                entry[key] = self.strings(f"{where}.{key}", entry[key] or [], allow_single=True)
        for backend in entry.get("fixed_on", []):
            self.choice(f"{where}.fixed_on", backend, BACKEND_KEYS)
        if "detect" in entry:
            entry["detect"] = self.detect(f"{where}.detect", entry["detect"] or {})
        if "events" in entry:
            events = self.mapping(f"{where}.events", entry["events"] or {})
            entry["events"] = {cid: self.event(f"{where}.events.{cid}", ev) for cid, ev in events.items()}
        if "unavailable" in entry:
            unavailable = self.mapping(f"{where}.unavailable", entry["unavailable"] or {})
            entry["unavailable"] = {cid: " ".join(self.string(f"{where}.unavailable.{cid}", reason).split())
                                    for cid, reason in unavailable.items()}
            both = [cid for cid in entry["unavailable"] if cid in entry.get("events", {})]
            if both:
                self.fail(where, f"counter '{both[0]}' has both an event and an unavailable reason; keep one")
        return entry

    def detect(self, where, entry) -> dict:
        entry = dict(self.keys(where, entry, DETECT_KEYS))
        if "cpu_implementer" in entry:
            entry["cpu_implementer"] = self.hexint(f"{where}.cpu_implementer", entry["cpu_implementer"])
        if "cpu_part" in entry:
            parts = entry["cpu_part"] if isinstance(entry["cpu_part"], list) else [entry["cpu_part"]]
            entry["cpu_part"] = [self.hexint(f"{where}.cpu_part", p) for p in parts]
            if "cpu_implementer" not in entry:
                self.fail(where, "cpu_part needs cpu_implementer too")
        for key in ("machine", "hw_model", "os"):
            if key in entry:
                entry[key] = self.strings(f"{where}.{key}", entry[key], allow_single=True)
        return entry

    def counter_id(self, where: str, cid: str) -> None:
        """A counter id names a column of the result table (and ``<id>_status``): refuse one that
        would clash with a fixed column or a status column (``schema.reserved_id``)."""
        if reserved_id(cid):
            why = ("ends in '_status', the suffix of the status columns" if cid.endswith("_status")
                   else "is a fixed column of the result table (docs/DESIGN.md)")
            self.fail(where, f"counter id '{cid}' {why}, so its values would clash with it in every "
                             "analysis: rename the counter")

    def one_event(self, where: str, backend: str, spec: str) -> str:
        """An event spelling must be one event for its tool: white space is refused for every key;
        a comma too for perf and pmcstat (perf -e and ipcbench -e read it as a list of events, and
        the pmcstat key is what in-process counting passes to libpmc on FreeBSD). A dtrace spelling
        names the probes of the backend's one D clause for the counter (an entry,return pair times
        one thing), so there a comma separates probe descriptions, each provider:module:function:name."""
        if any(c.isspace() for c in spec):
            self.fail(where, f"'{spec}' contains white space: a {backend} spelling is one event "
                             "(give each event its own counter)")
        if backend == "dtrace":
            bad = [p for p in spec.split(",") if p.count(":") != 3]
            if bad:
                self.fail(where, f"'{spec}' is not a list of dtrace probe descriptions ('{bad[0]}' is not "
                                 "provider:module:function:name): a spelling is the probes of one counter")
        elif "," in spec:
            how = ("perf -e and ipcbench -e read a comma as a list of events" if backend == "perf" else
                   "pmcstat -p, and ipcbench -e when counting in process on FreeBSD, take one event without commas")
            self.fail(where, f"'{spec}' is more than one event ({how}): give each event its own counter")
        return spec

    def event(self, where, entry) -> dict:
        entry = dict(self.keys(where, entry, EVENT_KEYS))
        for key in BACKEND_KEYS:
            if key in entry:
                entry[key] = self.one_event(f"{where}.{key}", key, self.string(f"{where}.{key}", entry[key]))
        if "code" in entry:
            entry["code"] = f"0x{self.hexint(f'{where}.code', entry['code']):02x}"
        return entry

    def file(self, data: dict, builtin: bool) -> dict:
        self.keys("top level", data, TOP_KEYS)
        if builtin:
            for key in ("version", "counters", "groups", "platforms"):
                if key not in data:
                    self.fail("top level", f"missing required key '{key}'")
        out: dict = {}
        if "version" in data:
            version = data["version"]
            if isinstance(version, bool) or not isinstance(version, int) or version < 1:
                self.fail("version", f"must be a positive integer, not {version!r}")
            out["version"] = version
        sections = {"counters": self.counter, "groups": self.group, "platforms": self.platform, "derived": self.derived}
        for section, check in sections.items():
            if section in data:
                entries = self.mapping(section, data[section] or {})
                if section == "counters":
                    for key in entries:
                        self.counter_id(f"counters.{key}", key)
                out[section] = {key: check(f"{section}.{key}", value) for key, value in entries.items()}
        if "default_groups" in data:
            out["default_groups"] = self.strings("default_groups", data["default_groups"], allow_single=True)
        return out


def _merge(base: dict, new: dict, src: str, origins: dict) -> None:
    """Merge one checked file ``new`` into ``base`` (see the module docstring).

    ``origins`` records which file set what, so that a later error names the right file:
    ``(section, id)`` -> the file that first defined the entry; ``(section, id, field)`` ->
    the file that last set that field (``(platforms, id, events|unavailable, counter)`` per
    counter, ``("default_groups",)``).
    """
    for section in ("counters", "groups", "derived", "platforms"):
        for key, entry in new.get(section, {}).items():
            origins.setdefault((section, key), src)
            target = base.setdefault(section, {}).setdefault(key, {})
            for field_name, value in entry.items():
                if section == "platforms" and field_name == "events":
                    events = target.setdefault("events", {})
                    for cid, spec in value.items():
                        events.setdefault(cid, {}).update(spec)
                        target.get("unavailable", {}).pop(cid, None)
                        origins[(section, key, "events", cid)] = src
                elif section == "platforms" and field_name == "unavailable":
                    for cid, reason in value.items():
                        target.setdefault("unavailable", {})[cid] = reason
                        target.get("events", {}).pop(cid, None)
                        origins[(section, key, "unavailable", cid)] = src
                else:
                    target[field_name] = value
                    origins[(section, key, field_name)] = src
    if "default_groups" in new:
        base["default_groups"] = new["default_groups"]
        origins[("default_groups",)] = src
    base.setdefault("version", new.get("version"))


def _cost(entry: dict | None) -> Cost | None:
    if not entry:
        return None
    cycles, ns = entry.get("cycles"), entry.get("ns")
    return Cost(tuple(cycles) if cycles else None, tuple(ns) if ns else None, entry["source"])


def _build(merged: dict, origins: dict, files: list[str], sources: list[str], digest: str) -> Catalogue:
    """Cross-reference checks on the merged catalogue, then the objects.

    An error names the file to fix: of the files that set the fields involved (``origins``,
    see :func:`_merge`; ``files`` in merge order), the last one merged, since the files before
    it were consistent without it.
    """
    def origin(*paths) -> str:
        found = [origins[p] for p in paths if p in origins]
        return max(found, key=files.index) if found else files[-1]

    def fail(section, key, msg, *paths):
        """Raise ``FILE: section.key: msg``; ``paths`` are the origins keys of the fields at fault."""
        raise PmcsuiteError(f"{origin(*(paths or [(section, key)]))}: {section}.{key}: {msg}")

    for section, required in REQUIRED.items():
        for key, entry in merged.get(section, {}).items():
            for field_name in required:
                if field_name not in entry:
                    fail(section, key, f"missing required field '{field_name}'")

    counters = {cid: Counter(cid, e["description"], e["unit"], e["kind"], list(e.get("caveats", [])),
                             bool(e.get("never_zero", False)), _cost(e.get("cost")))
                for cid, e in merged.get("counters", {}).items()}

    def known_counter(section, key, where, cid, *field):
        if cid not in counters:
            fail(section, key, f"{where}unknown counter '{cid}'{_suggest(cid, counters)}"
                               f" (known: {', '.join(counters)})", (section, key, *field))

    groups = {}
    for name, e in merged.get("groups", {}).items():
        for cid in e["counters"]:
            known_counter("groups", name, "", cid, "counters")
        groups[name] = Group(name, e["description"], list(e["counters"]))

    platforms = {}
    for name, e in merged.get("platforms", {}).items():
        for cid, spec in e.get("events", {}).items():
            event = ("platforms", name, "events", cid)
            known_counter("platforms", name, f"events.{cid}: ", cid, "events", cid)
            if not any(spec.get(b) for b in BACKEND_KEYS):
                fail("platforms", name, f"events.{cid}: gives no event spelling (keys: {', '.join(BACKEND_KEYS)})",
                     event)
            if counters[cid].kind not in e["kinds"]:
                fail("platforms", name, f"events.{cid}: {cid} is a {counters[cid].kind} counter but the platform"
                                        f" provides only {', '.join(e['kinds'])} counters (add the kind to 'kinds')",
                     event, ("platforms", name, "kinds"), ("counters", cid, "kind"))
        for backend in BACKEND_KEYS:                     # one event must not stand for two counters
            users: dict[str, str] = {}
            for cid, spec in e.get("events", {}).items():
                if spec.get(backend) and spec[backend] in users:
                    fail("platforms", name, f"events {users[spec[backend]]} and {cid} both use {backend} event"
                                            f" '{spec[backend]}'; a pass could not tell them apart: keep one",
                         ("platforms", name, "events", users[spec[backend]]), ("platforms", name, "events", cid))
                users.setdefault(spec.get(backend), cid)
        for cid in e.get("unavailable", {}):
            known_counter("platforms", name, f"unavailable.{cid}: ", cid, "unavailable", cid)
        for cid in e.get("fixed", []):
            known_counter("platforms", name, "fixed: ", cid, "fixed")
        platforms[name] = Platform(name, e["description"], list(e["kinds"]), e["slots"],
                                   list(e.get("fixed", [])), list(e.get("fixed_on", [])),
                                   {cid: dict(spec) for cid, spec in e.get("events", {}).items()},
                                   dict(e.get("unavailable", {})), dict(e.get("detect", {})))

    derived = {}
    for name, e in merged.get("derived", {}).items():
        names = parse_formula(e["formula"], f"{origin(('derived', name, 'formula'))}: derived.{name}")
        for cid in names:
            known_counter("derived", name, f"formula '{e['formula']}': ", cid, "formula")
        derived[name] = Derived(name, e["formula"], e["unit"], e["description"], names)

    default_groups = list(merged.get("default_groups", []))
    for name in default_groups:
        if name not in groups:
            raise PmcsuiteError(f"{origin(('default_groups',))}: default_groups: unknown group '{name}'"
                                f"{_suggest(name, groups)} (known: {', '.join(groups)})")
    return Catalogue(merged.get("version") or 1, digest, sources, counters, groups, platforms, derived, default_groups)


def load_catalogue(extra=()) -> Catalogue:
    """Load the built-in ``counters.yaml`` and merge the user files ``extra`` over it, in order."""
    if isinstance(extra, (str, Path)):
        extra = [extra]
    paths = [BUILTIN, *(Path(p) for p in extra)]
    return _load([(path, str(path.resolve()), None) for path in paths])


def _load(files_in: list) -> Catalogue:
    """Merge ``[(path for messages, source name, raw bytes or None to read the file)]`` in order."""
    merged: dict = {}
    origins: dict = {}
    digest = hashlib.sha256()
    files, sources, texts = [], [], []
    for index, (path, source, raw_in) in enumerate(files_in):
        data, raw = _read_yaml(Path(path), raw_in)
        digest.update(raw)
        files.append(str(path))
        sources.append(source)
        texts.append(raw.decode("utf-8"))
        _merge(merged, _Checker(files[-1]).file(data, builtin=index == 0), files[-1], origins)
    cat = _build(merged, origins, files, sources, digest.hexdigest())
    cat.texts = texts
    return cat


# --------------------------------------------------------------------------------------

def _tname(value) -> str:
    return "nothing" if value is None else f"a {type(value).__name__} ({reprlib.repr(value)})"[:80]


def _suggest(name: str, known) -> str:
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


# --------------------------------------------------------------------------------------
# the catalogue a result directory was collected with

#: format of the ``catalogue.snapshot`` object of metadata.json
SNAPSHOT_FORMAT = 1


def catalogue_snapshot(cat: Catalogue) -> dict:
    """What a result directory stores to rebuild ``cat`` later, whatever happens to the YAML files:
    ``{"format": 1, "files": [{"source": resolved path, "text": YAML text}, ...]}``, the source files
    in merge order (built-in first). The texts, not the merged structure, are kept so that a rebuild
    goes through the same checks and merge as :func:`load_catalogue` and reproduces ``cat.sha256``."""
    if len(cat.texts) != len(cat.sources):
        raise PmcsuiteError("this catalogue object holds no source texts: build it with load_catalogue()")
    return {"format": SNAPSHOT_FORMAT,
            "files": [{"source": str(src), "text": text} for src, text in zip(cat.sources, cat.texts)]}


def catalogue_metadata(cat: Catalogue) -> dict:
    """The ``catalogue`` object of metadata.json: version, sha256, sources and the snapshot."""
    return {"version": cat.version, "sha256": cat.sha256, "sources": [str(s) for s in cat.sources],
            "snapshot": catalogue_snapshot(cat)}


def catalogue_from_snapshot(snapshot: dict, sha256: str | None = None) -> Catalogue:
    """Rebuild the catalogue stored by :func:`catalogue_snapshot`. ``sha256``: the digest recorded
    beside it; a snapshot that does not hash to it is refused (it was edited or truncated)."""
    files = (snapshot or {}).get("files") if isinstance(snapshot, dict) else None
    if (not isinstance(snapshot, dict) or snapshot.get("format") != SNAPSHOT_FORMAT or not isinstance(files, list)
            or not files or not all(isinstance(f, dict) and isinstance(f.get("text"), str) for f in files)):
        raise PmcsuiteError("the catalogue snapshot in metadata.json is not a format-1 snapshot "
                            "({'format': 1, 'files': [{'source', 'text'}]})")
    cat = _load([(f"{f.get('source') or 'catalogue'} (snapshot)", str(f.get("source") or "snapshot"),
                  f["text"].encode("utf-8")) for f in files])
    if sha256 is not None and cat.sha256 != sha256:
        raise PmcsuiteError(f"the catalogue snapshot in metadata.json hashes to {cat.sha256[:16]}…, not the "
                            f"recorded {str(sha256)[:16]}…: it was edited")
    return cat


_SNAPSHOT_CACHE: dict[str, Catalogue] = {}


def result_catalogue(metadata: dict | None) -> Catalogue | None:
    """The catalogue a result directory was collected (or imported) with.

    From the snapshot its metadata.json holds (``catalogue.snapshot``, see :func:`catalogue_snapshot`):
    today's YAML files do not matter, so a counter or derived metric that was in the catalogue then
    keeps its description, unit and formula even if it has since been removed or changed. Result
    directories made before snapshots existed (or whose snapshot does not rebuild) fall back to
    today's files: the built-in one plus the user files ``catalogue.sources`` lists that still exist,
    else the built-in one alone; then ``Catalogue.note`` says so (None otherwise). Returns None when
    nothing loads. Rebuilt snapshots are cached by digest: treat the object as read-only.
    """
    info = (metadata or {}).get("catalogue") or {}
    snapshot = info.get("snapshot")
    problem = None
    if snapshot is not None:
        key = str(info.get("sha256")) + ":" + str(len((snapshot or {}).get("files") or []))
        if key in _SNAPSHOT_CACHE:
            return _SNAPSHOT_CACHE[key]
        try:
            cat = catalogue_from_snapshot(snapshot, info.get("sha256"))
        except PmcsuiteError as exc:
            problem = f"its catalogue snapshot does not load ({exc})"
        else:
            _SNAPSHOT_CACHE[key] = cat
            return cat
    sources = info.get("sources") or []
    extra = [Path(s) for s in sources[1:] if Path(s).is_file()]   # sources[0] is the built-in file
    missing = [str(s) for s in sources[1:] if not Path(s).is_file()]
    why = problem or "this result directory predates catalogue snapshots"
    try:
        cat = load_catalogue(extra)
        today = "today's catalogue files" + (f" (missing now: {', '.join(missing)})" if missing else "")
    except PmcsuiteError:
        try:
            cat = load_catalogue()
        except PmcsuiteError:
            return None
        today = "today's built-in catalogue only (its user catalogue files no longer load)"
    changed = info.get("sha256") and cat.sha256 != info.get("sha256")
    cat.note = (f"{why}: counters are described with {today}"
                + ("; they differ from the catalogue the results were collected with (sha256 "
                   f"{str(info.get('sha256'))[:16]}…)" if changed else ""))
    return cat


# --------------------------------------------------------------------------------------
# listing (``pmcsuite counters``)

def format_catalogue(cat: Catalogue, platforms, backends) -> str:
    """Groups with their counters and this platform's events, then the derived metrics."""
    backends = [backends] if isinstance(backends, str) else list(backends)
    lines = [f"catalogue version {cat.version} ({', '.join(cat.sources)}); platform {', '.join(platforms)}; "
             f"backend {', '.join(backends) or 'none'}", ""]
    for group in cat.groups.values():
        lines.append(f"{group.name}: {group.description}")
        for cid in group.counters:
            found = cat.locate(cid, platforms, backends)
            event = (f"{found[1]} ({found[0]}, {found[2]})" if found
                     else f"- ({cat.why_missing(cid, platforms, backends)})")
            lines.append(f"  {cid:<18} {event}")
            lines.append(f"  {'':<18} {cat.counters[cid].description}")
    lines += ["", "derived metrics (computed after collection from raw counts):"]
    lines += [f"  {d.name:<18} {d.formula}  [{d.unit}] {d.description}" for d in cat.derived.values()]
    return "\n".join(lines)
