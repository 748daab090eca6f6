"""Readable counter names ("read() calls" rather than "syscalls_read") and which counters measure
time: both read from the catalogue (``counters.yaml`` fields ``label`` and ``time``).

``counter_labels(ids, metadata)`` gives one short label per counter id: the catalogue's ``label``
(the result's catalogue, else today's built-in one for a catalogue that predates the field), else
the catalogue description cut at its first qualifier ("Read traffic on the AXI bus to DRAM/IO
(Cortex-A8); ..." becomes "read traffic on the AXI bus to DRAM/IO"), else the id itself. The
result's catalogue is its snapshot in metadata.json (``catalogue.result_catalogue``).

The kernel profile's counters (``profile_<category>``: samples per run in one category of the
sampled time, catalogue kind ``sample``) are estimates of time that say *where* it went: they are
not time counters (``is_time_counter``), and their label in sentences is "time in <the category's
label>" ("time in memory-cgroup charging").
"""
from __future__ import annotations

import re

from ..catalogue import builtin_catalogue, result_catalogue

#: ids ending so measure time whatever the catalogue says: result columns (``loop_ns``,
#: ``offcpu_writer_ns``, ``utime_ns``) and counters of user catalogues (``ref_cycles``, ``cpu_clock``)
TIME_SUFFIXES = ("_ns", "_cycles", "_clock", "_time")
#: the id prefix of the kernel profile's category counters, and the profile's fixed result columns
PROFILE_PREFIX = "profile_"
PROFILE_COLUMNS = ("profile_period_ns", "profile_lost")
#: the catalogue kind of the profile's counters
SAMPLE_KIND = "sample"


def short_description(description: str) -> str:
    """A catalogue description cut before its first ``(``, ``;`` or ``,``; first letter lower-cased
    unless the first word is an acronym ("L1 data cache refills" stays)."""
    text = re.split(r"\s*[(;,]", description.strip(), maxsplit=1)[0].strip()
    if len(text) > 1 and text[0].isupper() and not text[1].isupper() and not text[1].isdigit():
        text = text[0].lower() + text[1:]
    return text


def _entries(counter: str, catalogue) -> list:
    """The catalogue entries of ``counter``: the given catalogue's, then the built-in one's."""
    cats = [catalogue] if catalogue is not None and hasattr(catalogue, "counters") else []
    return [e for e in (cat.counters.get(counter) for cat in [*cats, builtin_catalogue()]) if e is not None]


def counter_label(counter: str, catalogue=None) -> str:
    """The short readable label of one counter (see the module docstring)."""
    entries = _entries(counter, catalogue)
    label = next((e.label for e in entries if e.label), None)
    if label:
        return label
    return short_description(entries[0].description) if entries and entries[0].description else counter


def _result_catalogue(metadata: dict | None):
    """The result's catalogue; None without metadata (the built-in one answers then)."""
    return result_catalogue(metadata) if metadata else None


def counter_labels(counters, metadata: dict | None = None) -> dict[str, str]:
    """{counter id: short readable label} for ``counters``, with the result's catalogue (a profile
    counter's: ``sampled_time_label``)."""
    cat = _result_catalogue(metadata)
    return {c: sampled_time_label(c, cat) if is_profile_counter(c, cat) else counter_label(c, cat) for c in counters}


def is_profile_counter(counter: str, catalogue=None) -> bool:
    """True for a category counter of the kernel profile: catalogue kind ``sample``; a counter no
    catalogue knows, by its id (``profile_<category>``, not a fixed column)."""
    c = str(counter)
    entries = _entries(c, catalogue)
    if entries:
        return entries[0].kind == SAMPLE_KIND
    return c.startswith(PROFILE_PREFIX) and c not in PROFILE_COLUMNS and not c.endswith("_status")


def profile_category(counter: str) -> str:
    """'profile_memcg' -> 'memcg'."""
    c = str(counter)
    return c[len(PROFILE_PREFIX):] if c.startswith(PROFILE_PREFIX) else c


def sampled_time_label(counter: str, catalogue=None) -> str:
    """'time in memory-cgroup charging': a profile counter as an amount of time, for sentences."""
    label = counter_label(counter, catalogue)
    return f"time in {profile_category(label) if label == counter else label}"


def profile_counters(counters, metadata: dict | None = None) -> list[str]:
    """The counters of ``counters`` that are categories of the kernel profile, in their order."""
    cat = _result_catalogue(metadata)
    return [c for c in counters if is_profile_counter(c, cat)]


def is_time_counter(counter: str, catalogue=None) -> bool:
    """True when ``counter`` measures time (cycles, CPU time, loop time, off-CPU time...): by id
    (``TIME_SUFFIXES``), else the catalogue's ``time`` field (the given catalogue's, else the
    built-in one's), else whether its unit is a time unit (msec, ns, ...). ``catalogue``: a loaded
    Catalogue (default: the built-in one only). A profile counter (``is_profile_counter``) is time
    in one place, not the whole loop's: never a time counter."""
    c = str(counter)
    if is_profile_counter(c, catalogue):
        return False
    if c.endswith(TIME_SUFFIXES):
        return True
    entries = _entries(c, catalogue)
    explicit = next((e.time for e in entries if e.time is not None), None)
    if explicit is not None:
        return explicit
    return bool(entries) and entries[0].measures_time


def time_counters(counters, metadata: dict | None = None) -> set[str]:
    """The counters of ``counters`` that measure time (``is_time_counter``, with the result's catalogue)."""
    cat = _result_catalogue(metadata)
    return {c for c in counters if is_time_counter(c, cat)}
