"""What every analysis module reads off a result table: the measured runs, the counter columns, and
how sizes are written for people."""
from __future__ import annotations

import pandas as pd

from ..errors import PmcsuiteError
from ..results.load import measured
from ..sizes import format_size

REQUIRED = ("ipc", "buffer_size", "total_size", "variant", "ok", "warmup", "bandwidth")


def measured_runs(df: pd.DataFrame) -> pd.DataFrame:
    """The rows analysis uses: ``ok & ~warmup``. Raises PmcsuiteError when required columns are missing."""
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise PmcsuiteError(f"result table lacks column(s) {', '.join(missing)}: load it with pmcsuite.load(DIR)")
    out = measured(df)
    if out.empty:
        raise PmcsuiteError("no successful non-warm-up runs in the result table: collect or import some runs first")
    return out


def counter_columns(df: pd.DataFrame) -> list[str]:
    """Counter ids: ``df.attrs['counters']`` if present, else columns that have a ``<id>_status`` twin."""
    attrs = df.attrs.get("counters") if hasattr(df, "attrs") else None
    if attrs:
        return [c for c in attrs if c in df.columns]
    return [c for c in df.columns if not str(c).endswith("_status") and f"{c}_status" in df.columns]


def size_step_label(size: int) -> str:
    """65536 -> '64 KiB', 1048576 -> '1 MiB', 1000 -> '1000 B' (for sentences and axis labels)."""
    text = format_size(int(size))
    return {"K": f"{text[:-1]} KiB", "M": f"{text[:-1]} MiB", "G": f"{text[:-1]} GiB"}.get(text[-1:], f"{text} B")

