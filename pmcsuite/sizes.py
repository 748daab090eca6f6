"""Byte sizes as users write them: ``64K``, ``1M``, ``65536``, ranges ``1K-16M`` and lists ``4K,64K``."""
import re

from .errors import PmcsuiteError
from .schema import GIB, KIB, MIB

_UNITS = {"": 1, "B": 1, "K": KIB, "M": MIB, "G": GIB}
#: ASCII digits only (``int`` would read Arabic-Indic or fullwidth ones), then K/M/G in either case, optionally
#: followed by ``B`` or ``iB``; the ``B`` is upper case: ``64Kb`` reads as kilobits, so it is refused
_SIZE = re.compile(r"^[ \t]*([0-9]+)[ \t]*([KMGkmg]?)(?:[iI]?B)?[ \t]*$")


def parse_size(text) -> int:
    """Parse one size (``64K``, ``1M``, ``65536``, ``64KiB``) to a positive number of bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        match = _SIZE.match(str(text))
        if not match:
            raise PmcsuiteError(f"invalid size {text!r}: write a positive number of bytes in ASCII "
                                "digits with an optional K, M or G (or KiB, MB ...), e.g. 65536, 64K or 1M")
        if len(match.group(1)) > 30:            # int() refuses 4300+ digits; no buffer is 10^30 bytes
            raise PmcsuiteError(f"invalid size {str(text)[:40]!r}...: {len(match.group(1))} digits, far beyond "
                                "any buffer size")
        value = int(match.group(1)) * _UNITS[match.group(2).upper()]
    if value <= 0:
        raise PmcsuiteError(f"invalid size {text!r}: sizes must be positive")
    return value


def parse_sizes(text) -> list[int]:
    """Parse ``1K-16M`` (every power of two in the range) or a comma list ``4K,64K,1M`` (sorted, unique)."""
    if isinstance(text, (list, tuple)):
        return sorted({parse_size(t) for t in text})
    text = str(text).strip()
    if "-" in text and "," not in text:
        low_text, high_text = text.split("-", 1)
        low, high = parse_size(low_text), parse_size(high_text)
        if low > high:
            raise PmcsuiteError(f"invalid size range {text!r}: the first size must not exceed the second")
        if low & (low - 1) or high & (high - 1):
            raise PmcsuiteError(f"invalid size range {text!r}: range ends must be powers of two (e.g. 1K-16M)")
        sizes, size = [], low
        while size <= high:
            sizes.append(size)
            size *= 2
        return sizes
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise PmcsuiteError("no buffer sizes given: use e.g. --sizes 1K-16M or --sizes 4K,64K,1M")
    return sorted({parse_size(p) for p in parts})


def format_size(value: int) -> str:
    """65536 -> '64K', 1048576 -> '1M', 1000 -> '1000'."""
    value = int(value)
    for suffix, unit in (("G", GIB), ("M", MIB), ("K", KIB)):
        if value >= unit and value % unit == 0:
            return f"{value // unit}{suffix}"
    return str(value)
