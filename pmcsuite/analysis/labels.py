"""Readable counter names for sentences and figure titles ("read() calls" rather than "syscalls_read").

``counter_labels(ids, metadata)`` gives one short label per counter id: a hand-picked short name for
the built-in catalogue's counters, else the catalogue description cut at its first qualifier
("Unified L2 refills / misses" stays, "Read traffic on the AXI bus to DRAM/IO (Cortex-A8); ..."
becomes "read traffic on the AXI bus to DRAM/IO"), else the id itself. A user catalogue recorded in
the result's metadata (``catalogue.sources``) is merged when its files still exist.
"""
from __future__ import annotations

import re

from ..catalogue import result_catalogue

#: Short names of the built-in counters (``counters.yaml``), used before any description.
SHORT = {
    "instructions": "instructions", "cycles": "CPU cycles",
    "l1d_access": "L1D accesses", "l1d_refill": "L1D refills", "l1i_refill": "L1I refills",
    "l2_access": "L2 accesses", "l2_refill": "L2 refills",
    "axi_read": "AXI bus reads", "axi_write": "AXI bus writes",
    "mem_read": "loads", "mem_write": "stores",
    "itlb_refill": "ITLB refills", "dtlb_refill": "DTLB refills",
    "task_clock": "CPU time", "page_faults": "page faults", "minor_faults": "minor page faults",
    "major_faults": "major page faults", "context_switches": "context switches",
    "cpu_migrations": "CPU migrations", "syscalls_read": "read() calls", "syscalls_write": "write() calls",
    "syscalls_all": "system calls", "sched_switch": "scheduler switches",
}


def short_description(description: str) -> str:
    """A catalogue description cut before its first ``(``, ``;`` or ``,``; first letter lower-cased
    unless the first word is an acronym ("L1 data cache refills" stays)."""
    text = re.split(r"\s*[(;,]", description.strip(), maxsplit=1)[0].strip()
    if len(text) > 1 and text[0].isupper() and not text[1].isupper() and not text[1].isdigit():
        text = text[0].lower() + text[1:]
    return text


def counter_labels(counters, metadata: dict | None = None) -> dict[str, str]:
    """{counter id: short readable label} for ``counters`` (see the module docstring)."""
    cat = None
    out = {}
    for c in counters:
        if c in SHORT:
            out[c] = SHORT[c]
            continue
        if cat is None:
            cat = result_catalogue(metadata) or False
        counter = cat.counters.get(c) if cat else None
        out[c] = short_description(counter.description) if counter is not None and counter.description else c
    return out


# ----------------------------------------------------------------------------------------------
# Counters that measure time: context for a finding, never its explanation (the one place this rule lives)

#: catalogue units that are durations
TIME_UNITS = {"ns", "nsec", "us", "usec", "ms", "msec", "s", "sec", "seconds", "cycles"}
#: ids that measure time whatever their catalogue entry says (cycles are time at a fixed clock)
TIME_IDS = {"cycles", "cpu_cycles", "clock_cycles", "bus_cycles", "ref_cycles", "task_clock", "cpu_clock",
            "loop_ns", "utime_ns", "stime_ns", "offcpu_ns", "fault_ns", "offcpu_writer_ns", "offcpu_reader_ns"}


def is_time_counter(counter: str, catalogue=None) -> bool:
    """True when ``counter`` measures time (cycles, CPU time, loop time, off-CPU time...): by id
    (``TIME_IDS``, or an id ending in ``_ns``/``_cycles``/``_clock``), else by the catalogue unit
    (``TIME_UNITS``: msec, ns, ...). ``catalogue``: a loaded Catalogue (default: none, ids only)."""
    c = str(counter)
    if c in TIME_IDS or c.endswith(("_ns", "_cycles", "_clock", "_time")):
        return True
    entry = catalogue.counters.get(c) if catalogue is not None and hasattr(catalogue, "counters") else None
    return bool(entry is not None and str(entry.unit).strip().lower() in TIME_UNITS)


def time_counters(counters, metadata: dict | None = None) -> set[str]:
    """The counters of ``counters`` that measure time (``is_time_counter``, with the result's catalogue)."""
    cat = result_catalogue(metadata)
    return {c for c in counters if is_time_counter(c, cat)}
