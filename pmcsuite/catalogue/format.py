"""The catalogue as text (``pmcsuite counters``): groups with their counters and this platform's
events, the derived metrics, then the profile's categories."""
from __future__ import annotations

from .model import Catalogue


def format_catalogue(cat: Catalogue, platforms, backends) -> str:
    """Groups with their counters and this platform's events, the derived metrics, the profile's categories."""
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
    if cat.profile_categories:
        lines += ["", "profile categories, in priority order (under: a frame anywhere in the stack decides):"]
        lines += [f"  {c.name:<18} {c.label}{' (under)' if c.under else ''}: {len(c.linux)} Linux, "
                  f"{len(c.freebsd)} FreeBSD patterns" for c in cat.profile_categories]
    return "\n".join(lines)
