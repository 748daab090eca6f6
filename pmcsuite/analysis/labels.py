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
