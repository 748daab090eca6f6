"""Merging checked catalogue files, then the cross-reference checks and the ``Catalogue`` objects.

Merge rules for user files: new ids are added; an existing counter, group, derived metric or
platform is updated field by field (a field given replaces the old value), except that a
platform's ``events`` merge per counter and per key, and giving an event for a counter drops that
counter's ``unavailable`` reason (and the other way round). ``default_groups`` is replaced. The
profile's categories merge by name: a category given again is updated field by field (its patterns
replaced), a new one is added after the others. The catalogue ``version`` is the built-in file's.

An error after a merge names the file that set the faulty field (the merge records who set what).
"""
from __future__ import annotations

from ..errors import PmcsuiteError
from .formula import parse_formula
from .model import (BACKEND_KEYS, PROFILE_OSES, PROFILE_OTHER, PROFILE_PREFIX, PROFILE_USER, Catalogue, Cost,
                    Counter, Crosscheck, Derived, Group, Platform, ProfileCategory, suggest)
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
    for entry in new.get("profile", {}).get("categories", []):
        origins.setdefault(("profile", entry["name"]), src)
        base.setdefault("profile", {}).setdefault("categories", {}).setdefault(entry["name"], {}).update(entry)
        origins.update({("profile", entry["name"], field_name): src for field_name in entry})
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
        self.sampling(name, cid, kind, spec)
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

    def sampling(self, name: str, cid: str, kind: str, spec: dict) -> None:
        """A sample counter samples (inproc ``sample:EVENT:PERIOD``, or dtrace), and only it does."""
        event = ("platforms", name, "events", cid)
        inproc = spec.get("inproc") or ""
        if kind == "sample":
            tools = [b for b in ("perf", "pmcstat") if spec.get(b)]
            if tools:
                self.fail("platforms", name, f"events.{cid}: {tools[0]} counts events, it does not sample: spell a "
                                             "profile counter for inproc (sample:EVENT:PERIOD) or dtrace", event)
            if inproc and not inproc.startswith("sample:"):
                self.fail("platforms", name, f"events.{cid}.inproc: '{inproc}' counts; a profile counter samples: "
                                             "sample:EVENT:PERIOD (e.g. sample:cpu-clock:100000)", event)
        elif inproc.startswith("sample:"):
            self.fail("platforms", name, f"events.{cid}.inproc: '{inproc}' samples, but {cid} is a {kind} counter "
                                         "(only counters of kind sample are sampled)", event, ("counters", cid, "kind"))

    def one_sampling_event(self, name: str, events: dict) -> None:
        """The profile counters of a platform share one spelling per backend: one profile samples once,
        and its samples are shared out among them by category."""
        for backend in BACKEND_KEYS:
            users = {cid: spec[backend] for cid, spec in events.items()
                     if self.counters[cid].kind == "sample" and spec.get(backend)}
            if len(set(users.values())) > 1:
                first, a = next(iter(users.items()))
                second, b = next((c, s) for c, s in users.items() if s != a)
                self.fail("platforms", name, f"events {first} and {second} sample with different {backend} events "
                                             f"'{a}' and '{b}'; one profile samples once: give every profile "
                                             "counter one spelling", ("platforms", name, "events", first),
                          ("platforms", name, "events", second))

    def one_name_one_counter(self, name: str, events: dict) -> None:
        """One event spelling (or alias) of a platform must not stand for two counters (the profile's
        counters share theirs: :meth:`one_sampling_event`)."""
        events = {cid: spec for cid, spec in events.items() if self.counters[cid].kind != "sample"}
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
            self.one_sampling_event(name, e.get("events", {}))
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

    # ---- the profile

    def category_entries(self) -> dict:
        """The merged profile categories (name -> entry), each with its label and description."""
        entries = self.merged.get("profile", {}).get("categories", {})
        for name, e in entries.items():
            for field_name in ("label", "description"):
                if field_name not in e:
                    self.fail("profile", f"categories.{name}", f"missing required field '{field_name}'",
                              ("profile", name))
        return entries

    def profile_counter_defaults(self, entries: dict) -> None:
        """A profile counter's description and label are its category's unless it gives its own."""
        counters = self.merged.get("counters", {})
        for name, e in entries.items():
            counter = counters.get(PROFILE_PREFIX + name)
            if counter is not None:
                counter.setdefault("description", e["description"])
                counter.setdefault("label", e["label"])

    def profile(self, entries: dict) -> tuple[ProfileCategory, ...]:
        """The categories, checked against the counters: ``profile_<name>`` of kind sample for each
        category and a category for each sample counter; ``user`` and ``other`` present, without patterns."""
        samples = [cid for cid, c in self.counters.items() if c.kind == "sample"]
        for cid in samples:
            if not cid.startswith(PROFILE_PREFIX) or cid[len(PROFILE_PREFIX):] not in entries:
                self.fail("counters", cid, f"a sample counter counts the samples of one profile category and is "
                                           f"named {PROFILE_PREFIX}<category>: add the category to profile.categories "
                                           "(or give the counter another kind)", ("counters", cid, "kind"))
        if not entries:
            return ()
        for fixed in (PROFILE_USER, PROFILE_OTHER):
            if fixed not in entries:
                raise PmcsuiteError(f"{self.origin(*(('profile', n) for n in entries))}: profile.categories: no "
                                    f"category '{fixed}'; every profile has "
                                    f"'{PROFILE_USER}' (no kernel frame) and '{PROFILE_OTHER}' (no pattern matches)")
            patterned = [key for key in ("under", "leaf") + PROFILE_OSES if entries[fixed].get(key)]
            if patterned:
                self.fail("profile", f"categories.{fixed}.{patterned[0]}", f"'{fixed}' takes no patterns: it is what "
                          f"no pattern decides ({PROFILE_USER}: no kernel frame, {PROFILE_OTHER}: none matches)",
                          ("profile", fixed, patterned[0]))
        for name in entries:
            cid = PROFILE_PREFIX + name
            if cid not in self.counters or self.counters[cid].kind != "sample":
                self.fail("profile", f"categories.{name}", f"no counter {cid} of kind sample counts it: add it to "
                          "counters (unit: samples, kind: sample) and to the profile group", ("profile", name))
        return tuple(ProfileCategory(name, e["label"], e["description"], bool(e.get("under", False)),
                                     bool(e.get("leaf", False)),
                                     *(tuple(e.get(os, ())) for os in PROFILE_OSES)) for name, e in entries.items())

    def catalogue(self, sources: list[str], digest: str) -> Catalogue:
        entries = self.category_entries()
        self.profile_counter_defaults(entries)
        self.required()
        self.counters = {cid: _counter(cid, e) for cid, e in self.merged.get("counters", {}).items()}
        groups = self.groups()
        platforms, derived = self.platforms(), self.derived()
        return Catalogue(self.merged.get("version") or 1, digest, sources, self.counters, groups, platforms,
                         derived, self.default_groups(groups), profile_categories=self.profile(entries))


def build(merged: dict, origins: dict, files: list[str], sources: list[str], digest: str) -> Catalogue:
    """The ``Catalogue`` of the merged files (see :class:`_Builder` for how errors name a file)."""
    return _Builder(merged, origins, files).catalogue(sources, digest)
