"""Merging checked catalogue files, then the cross-reference checks and the ``Catalogue`` objects.

Merge rules for user files: new ids are added; an existing counter, group, derived metric or
platform is updated field by field (a field given replaces the old value), except that a
platform's ``events`` merge per counter and per key, and giving an event for a counter drops that
counter's ``unavailable`` reason (and the other way round). ``default_groups`` is replaced. The
catalogue ``version`` is the built-in file's.

An error after a merge names the file that set the faulty field (the merge records who set what).
"""
from __future__ import annotations

from ..errors import PmcsuiteError
from .formula import parse_formula
from .model import (BACKEND_KEYS, Catalogue, Cost, Counter, Crosscheck, Derived, Group, Platform,
                    suggest)
from .validate import REQUIRED


def merge(base: dict, new: dict, src: str, origins: dict) -> None:
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


def _crosscheck(entry: dict | None) -> Crosscheck | None:
    if not entry:
        return None
    return Crosscheck(tuple(entry["own"]), tuple(entry.get("exact", ())), dict(entry.get("expect", {})))


def _counter(cid: str, e: dict) -> Counter:
    return Counter(cid, e["description"], e["unit"], e["kind"], list(e.get("caveats", [])),
                   bool(e.get("never_zero", False)), _cost(e.get("cost")), e.get("label"), e.get("time"),
                   bool(e.get("probe", False)), e.get("min_per_write"), _crosscheck(e.get("crosscheck")),
                   dict(e.get("means", {})))


class _Builder:
    """Cross-reference checks of the merged catalogue, then its objects.

    An error names the file to fix: of the files that set the fields involved (``origins``, see
    :func:`merge`; ``files`` in merge order), the last one merged, since the files before it were
    consistent without it."""

    def __init__(self, merged: dict, origins: dict, files: list[str]):
        self.merged, self.origins, self.files = merged, origins, files
        self.counters: dict[str, Counter] = {}

    def origin(self, *paths) -> str:
        found = [self.origins[p] for p in paths if p in self.origins]
        return max(found, key=self.files.index) if found else self.files[-1]

    def fail(self, section, key, msg, *paths):
        """Raise ``FILE: section.key: msg``; ``paths`` are the origins keys of the fields at fault."""
        raise PmcsuiteError(f"{self.origin(*(paths or [(section, key)]))}: {section}.{key}: {msg}")

    def known_counter(self, section, key, where, cid, *field):
        if cid not in self.counters:
            self.fail(section, key, f"{where}unknown counter '{cid}'{suggest(cid, self.counters)}"
                                    f" (known: {', '.join(self.counters)})", (section, key, *field))

    def required(self) -> None:
        for section, required in REQUIRED.items():
            for key, entry in self.merged.get(section, {}).items():
                for field_name in required:
                    if field_name not in entry:
                        self.fail(section, key, f"missing required field '{field_name}'")

    def groups(self) -> dict[str, Group]:
        groups = {}
        for name, e in self.merged.get("groups", {}).items():
            for cid in e["counters"]:
                self.known_counter("groups", name, "", cid, "counters")
            groups[name] = Group(name, e["description"], list(e["counters"]))
        return groups

    def event(self, name: str, kinds: list[str], cid: str, spec: dict) -> None:
        """One platform event: a known counter of a kind the platform provides, spelt for a backend;
        a D clause only beside a dtrace spelling, adding to the counter's key and using its probes."""
        event = ("platforms", name, "events", cid)
        self.known_counter("platforms", name, f"events.{cid}: ", cid, "events", cid)
        if not any(spec.get(b) for b in BACKEND_KEYS):
            self.fail("platforms", name, f"events.{cid}: gives no event spelling (keys: {', '.join(BACKEND_KEYS)})",
                      event)
        kind = self.counters[cid].kind
        if kind not in kinds:
            self.fail("platforms", name, f"events.{cid}: {cid} is a {kind} counter but the platform"
                                         f" provides only {', '.join(kinds)} counters (add the kind to 'kinds')",
                      event, ("platforms", name, "kinds"), ("counters", cid, "kind"))
        clause = spec.get("clause")
        if clause is None:
            return
        if not spec.get("dtrace"):
            self.fail("platforms", name, f"events.{cid}.clause: a D clause needs a dtrace spelling (its probes)",
                      event)
        missing = [p for p in spec["dtrace"].split(",") if p not in clause]
        if missing or f'@counts["{cid}"]' not in clause:
            what = f"probe {missing[0]} of its dtrace spelling" if missing else f'@counts["{cid}"]'
            self.fail("platforms", name, f"events.{cid}.clause: the D clauses do not use {what}; a clause adds "
                                         f'to @counts["{cid}"] from the probes the dtrace spelling names', event)

    def one_name_one_counter(self, name: str, events: dict) -> None:
        """One event spelling (or alias) of a platform must not stand for two counters."""
        for backend in BACKEND_KEYS + ("alias",):
            users: dict[str, str] = {}
            for cid, spec in events.items():
                names = ([a.upper() for a in spec.get("aliases", [])] + [(spec.get("pmcstat") or "").upper()]
                         if backend == "alias" else [spec.get(backend)])
                for spelt in filter(None, names):
                    if users.get(spelt, cid) != cid:
                        what, who = (("the event name (pmcstat or alias)", "an import") if backend == "alias"
                                     else (f"{backend} event", "a pass"))
                        self.fail("platforms", name, f"events {users[spelt]} and {cid} both use {what}"
                                                     f" '{spelt}'; {who} could not tell them apart: keep one",
                                  ("platforms", name, "events", users[spelt]), ("platforms", name, "events", cid))
                    users[spelt] = cid

    def platforms(self) -> dict[str, Platform]:
        platforms = {}
        for name, e in self.merged.get("platforms", {}).items():
            for cid, spec in e.get("events", {}).items():
                self.event(name, e["kinds"], cid, spec)
            self.one_name_one_counter(name, e.get("events", {}))
            for cid in e.get("unavailable", {}):
                self.known_counter("platforms", name, f"unavailable.{cid}: ", cid, "unavailable", cid)
            for cid in e.get("fixed", []):
                self.known_counter("platforms", name, "fixed: ", cid, "fixed")
            platforms[name] = Platform(name, e["description"], list(e["kinds"]), e["slots"],
                                       list(e.get("fixed", [])), list(e.get("fixed_on", [])),
                                       {cid: dict(spec) for cid, spec in e.get("events", {}).items()},
                                       dict(e.get("unavailable", {})), dict(e.get("detect", {})))
        return platforms

    def derived(self) -> dict[str, Derived]:
        derived = {}
        for name, e in self.merged.get("derived", {}).items():
            names = parse_formula(e["formula"], f"{self.origin(('derived', name, 'formula'))}: derived.{name}")
            for cid in names:
                self.known_counter("derived", name, f"formula '{e['formula']}': ", cid, "formula")
            derived[name] = Derived(name, e["formula"], e["unit"], e["description"], names)
        return derived

    def default_groups(self, groups: dict) -> list[str]:
        default_groups = list(self.merged.get("default_groups", []))
        for name in default_groups:
            if name not in groups:
                raise PmcsuiteError(f"{self.origin(('default_groups',))}: default_groups: unknown group '{name}'"
                                    f"{suggest(name, groups)} (known: {', '.join(groups)})")
        return default_groups

    def catalogue(self, sources: list[str], digest: str) -> Catalogue:
        self.required()
        self.counters = {cid: _counter(cid, e) for cid, e in self.merged.get("counters", {}).items()}
        groups = self.groups()
        platforms, derived = self.platforms(), self.derived()
        return Catalogue(self.merged.get("version") or 1, digest, sources, self.counters, groups, platforms,
                         derived, self.default_groups(groups))


def build(merged: dict, origins: dict, files: list[str], sources: list[str], digest: str) -> Catalogue:
    """The ``Catalogue`` of the merged files (see :class:`_Builder` for how errors name a file)."""
    return _Builder(merged, origins, files).catalogue(sources, digest)
