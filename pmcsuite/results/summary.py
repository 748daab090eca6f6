"""What ``pmcsuite collect`` says when it ends: a plain-language summary of a result directory."""
from __future__ import annotations

from ..collect.hostenv import CAPPED
from ..sizes import format_size
from .load import shared_cpu
from .store import ResultStore


def summary_lines(directory) -> list[str]:
    """Plain-language summary of a collection: runs, failures, sanity warnings, shared-CPU runs."""
    runs = ResultStore(directory).read_runs()
    ok = [r for r in runs if r.get("ok")]
    lines = [f"{len(ok)} runs stored in {directory} ({len(runs) - len(ok)} failed)"]
    shared = [r for r in ok if shared_cpu(r.get("busy") or {})]
    if shared:
        lines.append(f"warning: {len(shared)} runs shared the CPU with other work (see the report's warnings); "
                     "their timings are suspect")
    capped = {}
    for r in ok:
        for warning in r.get("warnings") or []:
            if warning.startswith(CAPPED):
                capped.setdefault((r["ipc"], r["buffer_size"]), warning)
    lines += [f"warning: {ipc} {format_size(size)}: {warning}" for (ipc, size), warning in sorted(capped.items())]
    warned = [r for r in ok if any(not w.startswith(CAPPED) for w in r.get("warnings") or [])]
    if warned:
        first = warned[0]
        lines.append(f"warning: {len(warned)} runs failed a sanity check, e.g. {first['ipc']} "
                     f"{format_size(first['buffer_size'])} {first['variant']}: "
                     f"{next(w for w in first['warnings'] if not w.startswith(CAPPED))}")
    unsupported = sorted({f"{cid} ({c.get('status')})" for r in ok for cid, c in (r.get("counters") or {}).items()
                          if c.get("status") != "ok"})
    if unsupported:
        lines.append(f"warning: counters without a value: {', '.join(unsupported)}")
    return lines
