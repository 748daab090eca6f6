"""Which events the core's PMU implements, asked of the kernel before any is opened.

The kernel lists a core PMU's events in sysfs (``/sys/bus/event_source/devices/PMU/events/NAME``,
each file ``event=0x...``). On arm64 the armv8_pmuv3 driver shows a common event (0x00-0x3F,
0x4000-) only when the core's ``PMCEID`` registers say it is implemented, so the list *is* the
PMCEID bits; on x86 the ``cpu`` PMU lists the generic hardware events it maps. A raw event
the core does not implement opens and counts nothing (a silent zero): ``check`` reports it
``not_supported`` ("not implemented on this core") and a sweep never opens it.
"""
from __future__ import annotations

import glob
import re
import subprocess

from ..errors import PmcsuiteError

REASON = "not implemented on this core"
#: a core PMU's sysfs name (arm64 armv8_pmuv3_0 / armv8_cortex_a72, x86 cpu, Intel hybrid cpu_core/cpu_atom)
_CORE_PMU = re.compile(r"^(armv8_\w+|cpu|cpu_core|cpu_atom)$")
_EVENTS_GLOB = "/sys/bus/event_source/devices/*/events/*"
#: one line per event file there: "PATH CONTENTS" (bounded; a missing tree prints nothing)
LISTING_SCRIPT = (f'for f in {_EVENTS_GLOB}; do [ -f "$f" ] && printf "%s %s\\n" "$f" "$(head -c 200 "$f")"; '
                  "done 2>/dev/null; exit 0")
#: ARMv8 events outside the PMCEID range (0x40-0xFF, "recommended IMPLEMENTATION DEFINED") that
#: refine a common event: a core without the common event has none of its refinements
_ARMV8_REFINES = {0x40: 0x04, 0x41: 0x04, 0x42: 0x03, 0x43: 0x03, 0x50: 0x16, 0x51: 0x16, 0x52: 0x17,
                  0x53: 0x17, 0x60: 0x19, 0x61: 0x19, 0x66: 0x13, 0x67: 0x13}
#: perf's generic hardware event names -> the name the x86 ``cpu`` PMU lists them under
_GENERIC = {"instructions": "instructions", "cycles": "cpu-cycles", "cpu-cycles": "cpu-cycles",
            "cache-references": "cache-references", "cache-misses": "cache-misses",
            "branch-instructions": "branch-instructions", "branches": "branch-instructions",
            "branch-misses": "branch-misses", "bus-cycles": "bus-cycles", "ref-cycles": "ref-cycles"}


def parse_listing(text: str | None) -> tuple[bool, set[str], set[int]] | None:
    """``LISTING_SCRIPT``'s output -> (an ARMv8 PMU?, event names, event codes) of the core PMUs;
    None when no core PMU lists its events (then nothing can be decided: every event is tried)."""
    names: set[str] = set()
    codes: set[int] = set()
    found = arm = False
    for line in (text or "").splitlines():
        path, _, value = line.strip().partition(" ")
        parts = path.split("/")
        if len(parts) < 3 or parts[-2] != "events" or not _CORE_PMU.match(parts[-3]):
            continue
        found, arm = True, arm or parts[-3].startswith("armv8_")
        names.add(parts[-1])
        match = re.fullmatch(r"event=(0x[0-9a-fA-F]+|\d+)", value.strip())
        if match:
            codes.add(int(match.group(1), 0))
    return (arm, names, codes) if found else None


def _armv8_implemented(code: int, codes: set[int]) -> bool | None:
    """Whether an ARMv8 PMU with ``codes`` listed implements ``code``; None where sysfs cannot say."""
    if code < 0x40 or code >= 0x4000:
        return code in codes
    parent = _ARMV8_REFINES.get(code)
    return False if parent is not None and parent not in codes else None


def implemented(spec: str, code, core: tuple[bool, set[str], set[int]]) -> bool | None:
    """Whether the core implements the event ``spec`` (a perf name or rNN), ``code`` its catalogue
    code (ARM) or None; None where the list cannot say (generic cache names, x86 raw codes)."""
    arm, names, codes = core
    raw = re.fullmatch(r"r([0-9a-fA-F]{1,4})", str(spec).strip())
    if arm and (code is not None or raw):
        return _armv8_implemented(int(str(code), 0) if code is not None else int(raw.group(1), 16), codes)
    listed = _GENERIC.get(str(spec).strip())
    return (listed in names) if listed else None


def local_listing() -> str:
    """``LISTING_SCRIPT``'s output for this machine, read directly."""
    lines = []
    for path in sorted(glob.glob(_EVENTS_GLOB)):
        try:
            with open(path, encoding="ascii", errors="replace") as handle:
                lines.append(f"{path} {handle.read(200).strip()}")
        except OSError:
            continue
    return "\n".join(lines)


def backend_listing(backend) -> str | None:
    """The sysfs event list of the machine ``backend`` counts on: read here, or on its target (its
    ``runner``, or ``target.run`` for a tool there); None when it cannot be read."""
    target = getattr(backend, "target", None)
    run = getattr(backend, "runner", None) or (target.run if getattr(target, "remote", False) else None)
    if run is None:
        return local_listing()
    try:
        proc = run(["sh", "-c", LISTING_SCRIPT], 30)
    except (OSError, subprocess.SubprocessError, PmcsuiteError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def unimplemented(cat, platforms, events: dict[str, str], listing: str | None) -> set[str]:
    """The counters of ``events`` ({counter: spec}) whose event the core does not implement."""
    core = parse_listing(listing)
    if core is None:
        return set()
    out = set()
    for cid, spec in events.items():
        code = next((cat.platforms[p].events.get(cid, {}).get("code") for p in platforms
                     if p in cat.platforms and cat.platforms[p].events.get(cid, {}).get("code") is not None), None)
        if implemented(spec, code, core) is False:
            out.add(cid)
    return out
