"""Structural checks of one catalogue file: the keys each entry may have and the shape of each value.

:class:`FileChecker` turns one parsed YAML file into its canonical form (stripped strings, ints for
hex numbers, [low, high] ranges) or raises one ``PmcsuiteError`` line naming the file and the
dotted path of the entry at fault (``counters.yaml: counters.cycles.time: must be true or false``).
Checks that need the merged catalogue (unknown counters in groups, one event for two counters, a D
clause without its probes) are :mod:`.load`'s. docs/catalogue.md documents every key.
"""
from __future__ import annotations

import math
import re
import reprlib

from ..errors import PmcsuiteError
from ..schema import SCOPES, TABLE_COLUMNS, reserved_id
from .model import BACKEND_KEYS, DIRECTIONS, KINDS, PROFILE_OSES, suggest

EVENT_KEYS = BACKEND_KEYS + ("code", "aliases", "clause")
TOP_KEYS = ("version", "counters", "groups", "default_groups", "platforms", "derived", "profile")
COUNTER_KEYS = ("description", "unit", "kind", "label", "caveats", "never_zero", "time", "probe", "cost",
                "min_per_write", "crosscheck", "means")
#: keys of a counter's ``cost`` (what one event costs: ``cycles`` and/or ``ns``, each a number or a
#: [low, high] range, and the ``source`` of the estimate), read by ``analysis.attribution``
COST_KEYS = ("cycles", "ns", "source")
#: keys of a counter's ``crosscheck`` (the benchmark's own count of the same events)
CROSSCHECK_KEYS = ("own", "exact", "expect")
GROUP_KEYS = ("description", "counters")
PLATFORM_KEYS = ("description", "kinds", "detect", "slots", "fixed", "fixed_on", "events", "unavailable")
DETECT_KEYS = ("cpu_implementer", "cpu_part", "machine", "hw_model", "os")
DERIVED_KEYS = ("formula", "unit", "description")
PROFILE_KEYS = ("categories",)
#: keys of a profile category (``name`` required in every file; ``label`` and ``description`` once merged)
CATEGORY_KEYS = ("name", "label", "description", "under", "leaf") + PROFILE_OSES
#: a category name: part of its counter's id (``profile_<name>``)
CATEGORY_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
#: an ``inproc`` sampling spelling: ``sample:EVENT:PERIOD`` (ipcbench ``--sample EVENT:PERIOD``)
SAMPLE_SPEC = re.compile(r"sample:[A-Za-z0-9_-]+:[1-9][0-9]*\Z")
#: the scopes a crosscheck can speak of (``schema.SCOPES`` less "nothing counted")
CHECK_SCOPES = tuple(s for s in SCOPES if s is not None)

REQUIRED = {
    "counters": ("description", "unit", "kind"),
    "groups": ("description", "counters"),
    "platforms": ("description", "kinds", "slots"),
    "derived": ("formula", "unit", "description"),
}


def type_name(value) -> str:
    """``a list ([1, 2])``: what a value is, for a message (80 characters at most)."""
    return "nothing" if value is None else f"a {type(value).__name__} ({reprlib.repr(value)})"[:80]


class FileChecker:
    """Structural checks of one file; converts values to their canonical form."""

    def __init__(self, src: str):
        self.src = src

    def fail(self, where: str, msg: str):
        raise PmcsuiteError(f"{self.src}: {where}: {msg}")

    # ---- values

    def keys(self, where: str, value, known) -> dict:
        if not isinstance(value, dict):
            self.fail(where, f"must be a mapping (with keys such as {', '.join(known)}), not {type_name(value)}")
        for key in value:
            if not isinstance(key, str):
                self.fail(where, f"key {key!r} must be a string (quote it)")
            if key not in known:
                self.fail(where, f"unknown key '{key}'{suggest(key, known)} (known: {', '.join(known)})")
        return value

    def mapping(self, where: str, value) -> dict:
        if not isinstance(value, dict):
            self.fail(where, f"must be a mapping of ids to entries, not {type_name(value)}")
        for key in value:
            if not isinstance(key, str) or not key:
                self.fail(where, f"id {key!r} must be a non-empty string (quote it)")
        return value

    def string(self, where: str, value) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(where, f"must be a non-empty string, not {type_name(value)}")
        return value.strip()

    def strings(self, where: str, value, allow_single=False, allow_empty=True) -> list[str]:
        if allow_single and isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.fail(where, f"must be a list of strings, not {type_name(value)}")
        if not value and not allow_empty:
            self.fail(where, "must not be empty")
        return [v.strip() for v in value]

    def choice(self, where: str, value, choices) -> str:
        if value not in choices:
            self.fail(where, f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def flag(self, where: str, value) -> bool:
        if not isinstance(value, bool):
            self.fail(where, f"must be true or false, not {value!r}")
        return value

    def positive(self, where: str, value) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            self.fail(where, f"must be a positive number, not {value!r}")
        return float(value)

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

    # ---- counters

    def counter(self, where, entry) -> dict:
        entry = dict(self.keys(where, entry, COUNTER_KEYS))
        for key in ("description", "unit", "label"):
            if key in entry:
                entry[key] = self.string(f"{where}.{key}", entry[key])
        if "kind" in entry:
            self.choice(f"{where}.kind", entry["kind"], KINDS)
        if "caveats" in entry:
            entry["caveats"] = self.strings(f"{where}.caveats", entry["caveats"], allow_single=True)
        for key in ("never_zero", "time", "probe"):
            if key in entry:
                self.flag(f"{where}.{key}", entry[key])
        if "min_per_write" in entry:
            entry["min_per_write"] = self.positive(f"{where}.min_per_write", entry["min_per_write"])
        checks = {"cost": self.cost, "crosscheck": self.crosscheck, "means": self.means}
        for key, check in checks.items():
            if key in entry:
                entry[key] = check(f"{where}.{key}", entry[key])
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

    def crosscheck(self, where: str, entry) -> dict:
        """``own``: result-table columns (summed); ``exact``: scopes; ``expect``: scope -> words."""
        entry = dict(self.keys(where, entry, CROSSCHECK_KEYS))
        if "own" not in entry:
            self.fail(where, "missing required field 'own' (the benchmark's columns counting the same events)")
        entry["own"] = self.strings(f"{where}.own", entry["own"], allow_single=True, allow_empty=False)
        for column in entry["own"]:
            if column not in TABLE_COLUMNS:
                self.fail(f"{where}.own", f"'{column}' is not a column of the result table"
                                          f"{suggest(column, TABLE_COLUMNS)} (docs/DESIGN.md)")
        entry["exact"] = self.strings(f"{where}.exact", entry.get("exact", []), allow_single=True)
        for scope in entry["exact"]:
            self.choice(f"{where}.exact", scope, CHECK_SCOPES)
        expect = self.keys(f"{where}.expect", entry.get("expect", {}), CHECK_SCOPES)
        entry["expect"] = {scope: " ".join(self.string(f"{where}.expect.{scope}", text).split())
                           for scope, text in expect.items()}
        return entry

    def means(self, where: str, entry) -> dict:
        """``rises`` and/or ``falls``: what that change of the counter means, in words."""
        entry = self.keys(where, entry, DIRECTIONS)
        return {direction: self.string(f"{where}.{direction}", text) for direction, text in entry.items()}

    def counter_id(self, where: str, cid: str) -> None:
        """A counter id names a column of the result table (and ``<id>_status``): refuse one that
        would clash with a fixed column or a status column (``schema.reserved_id``)."""
        if reserved_id(cid):
            why = ("ends in '_status', the suffix of the status columns" if cid.endswith("_status")
                   else "is a fixed column of the result table (docs/DESIGN.md)")
            self.fail(where, f"counter id '{cid}' {why}, so its values would clash with it in every "
                             "analysis: rename the counter")

    # ---- groups, derived metrics

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

    # ---- platforms

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
            how = ("perf -e and ipcbench -e read a comma as a list of events" if backend in ("perf", "inproc") else
                   "pmcstat -p, and ipcbench -e when counting in process on FreeBSD, take one event without commas")
            self.fail(where, f"'{spec}' is more than one event ({how}): give each event its own counter")
        if backend == "inproc" and spec.startswith("sample:") and not SAMPLE_SPEC.match(spec):
            self.fail(where, f"'{spec}' is not sample:EVENT:PERIOD (e.g. sample:cpu-clock:100000: cpu-clock "
                             "every 100000 ns, or sample:cycles:1000000)")
        return spec

    def event(self, where, entry) -> dict:
        entry = dict(self.keys(where, entry, EVENT_KEYS))
        for key in BACKEND_KEYS:
            if key in entry:
                entry[key] = self.one_event(f"{where}.{key}", key, self.string(f"{where}.{key}", entry[key]))
        if "code" in entry:
            entry["code"] = f"0x{self.hexint(f'{where}.code', entry['code']):02x}"
        if "aliases" in entry:
            entry["aliases"] = [self.one_event(f"{where}.aliases", "alias", alias)
                                for alias in self.strings(f"{where}.aliases", entry["aliases"], allow_single=True)]
        if "clause" in entry:
            if not isinstance(entry["clause"], str) or not entry["clause"].strip():
                self.fail(f"{where}.clause", f"must be the D clauses as text, not {type_name(entry['clause'])}")
            entry["clause"] = entry["clause"].strip("\n") + "\n"
        return entry

    # ---- the profile

    def profile(self, where: str, entry) -> dict:
        """``categories``: a list of categories in priority order (:meth:`category`), each name once."""
        entry = self.keys(where, entry, PROFILE_KEYS)
        categories = entry.get("categories", [])
        if not isinstance(categories, list):
            self.fail(f"{where}.categories", f"must be a list of categories (name, label, description, under, leaf, "
                                             f"{', '.join(PROFILE_OSES)}), not {type_name(categories)}")
        out = [self.category(f"{where}.categories[{index}]", category) for index, category in enumerate(categories)]
        names = [c["name"] for c in out]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            self.fail(f"{where}.categories", f"names category '{twice[0]}' twice; give each category once")
        return {"categories": out}

    def category(self, where: str, entry) -> dict:
        entry = dict(self.keys(where, entry, CATEGORY_KEYS))
        if "name" not in entry:
            self.fail(where, "missing required field 'name'")
        name = self.string(f"{where}.name", entry["name"])
        if not CATEGORY_NAME.match(name):
            self.fail(f"{where}.name", f"'{name}' must be lower case letters, digits and _ (it names the counter "
                                       f"profile_{name})")
        entry["name"] = name
        for key in ("label", "description"):
            if key in entry:
                entry[key] = " ".join(self.string(f"{where}.{key}", entry[key]).split())
        for key in ("under", "leaf"):
            if key in entry:
                self.flag(f"{where}.{key}", entry[key])
        if entry.get("under") and entry.get("leaf"):
            self.fail(where, "is both 'under' (any frame decides) and 'leaf' (only the leaf frame): keep one")
        for os in PROFILE_OSES:
            if os in entry:
                entry[os] = self.strings(f"{where}.{os}", entry[os] or [], allow_single=True)
        return entry

    # ---- the file

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
        if "profile" in data:
            out["profile"] = self.profile("profile", data["profile"])
        return out
