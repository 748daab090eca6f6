"""How analysis results show themselves: numbers in words, tables first in a notebook, the size axis.

The one place for how a number is written, in sentences (``why``, ``findings``, ``overhead``,
``attribution``, ``compare``) and in the report (``pmcsuite.report.toolbox`` re-exports these):

    number(v, digits=3)     '4,887', '540', '12.5', '0.031'       (``MISSING``, '—', for None or NaN)
    percent(fraction)       '18 %', '4.3 %', '0.06 %'             a fraction as a percentage
    over(value, limit)      '10.3 %' (limit 0.10)                 a percentage above a limit, never printed as it
    ratio(v)                '0.951'                               a ratio to 3 decimals
    interval(lo, hi)        '0.951–1.012'                         two numbers, each as ``show`` writes it
    level_text(level)       '95 %', '99.58 %'                     a confidence level
    size_list(sizes)        '4K, 64K, 1M'                         byte sizes (``format_size``), 'none' for none
    size_axis(ax, sizes)    a log2 x axis of buffer sizes labelled as people write them (1K, 64K, 1M)

Byte sizes are written by ``pmcsuite.sizes.format_size`` ('64K') in tables and axes and by
``runs.size_step_label`` ('64 KiB') in sentences.

``Text`` is what ``.summary()`` returns: a ``str`` (print it, compare it) that a notebook or the
REPL shows as text, not as a quoted string full of ``\\n``. ``Displayable`` gives a result object a
short ``repr``, an HTML view (its summary, then its ``to_frame()`` table) for Jupyter's
``_repr_html_``, and nothing else: each class says what its table is (``to_frame``) and how it
summarises itself (``summary``)."""
from __future__ import annotations

import html
import math
from typing import Callable

import pandas as pd

from ..sizes import format_size

#: what a table or a sentence shows for a number that is not there (None, NaN, infinite)
MISSING = "—"
#: the x label of every buffer-size axis
SIZE_LABEL = "buffer size (bytes per write(), log scale)"


def _missing(v) -> bool:
    try:
        return v is None or not math.isfinite(float(v))
    except (TypeError, ValueError):
        return True


def number(v, digits: int = 3, signed: bool = False, missing: str = MISSING) -> str:
    """A number for people: whole, with thousands separated, from ``10 ** (digits - 1)`` on ('4,887',
    '540'), else to ``digits`` significant digits ('12.5', '0.031'); ``signed``: with its sign, also '+'
    ('+12.5', '+0', '-3'); ``missing`` when there is none."""
    if _missing(v):
        return missing
    v = float(v) + 0.0                  # -0.0 -> 0.0
    text = f"{v:,.0f}" if abs(v) >= 10 ** (digits - 1) else f"{v:.{digits}g}"
    return f"+{text}" if signed and not text.startswith("-") else text


def percent(fraction, digits: int = 2, signed: bool = False, missing: str = MISSING) -> str:
    """A fraction as a percentage to ``digits`` significant digits (whole from 10 % on): 0.18 -> '18 %',
    0.043 -> '4.3 %', 0.0006 -> '0.06 %'; ``signed``: with its sign, also '+' ('+18 %')."""
    return missing if _missing(fraction) else f"{number(100 * float(fraction), digits, signed)} %"


def over(value: float, limit: float) -> str:
    """'14 %' for a fraction above ``limit``, with as many decimals as it takes not to print the limit
    itself ('10.3 %', never '10 % > 10 %')."""
    for digits in (0, 1, 2, 3):
        text = f"{100 * value:.{digits}f}"
        if float(text) != round(100 * limit, digits):
            return f"{text} %"
    return f"{100 * value:.4f} %"


def ratio(v, digits: int = 3, missing: str = MISSING) -> str:
    """A ratio (with / without, this / reference) to ``digits`` decimals: '0.951'."""
    return missing if _missing(v) else f"{float(v):.{digits}f}"


def interval(lo, hi, show: Callable[[float], str] = ratio, missing: str = MISSING) -> str:
    """An interval as 'lo–hi', each end as ``show`` writes it (default :func:`ratio`: '0.951–1.012');
    ``missing`` when an end is not there."""
    return missing if _missing(lo) or _missing(hi) else f"{show(lo)}–{show(hi)}"


def level_text(level) -> str:
    """A confidence level with the digits that tell it from 100 %: '95 %', '97.5 %', '99.58 %'."""
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        return "95 %"
    digits = max(0, 1 - math.floor(math.log10(100 * (1 - level))))
    return f"{100 * level:.{digits}f}".rstrip("0").rstrip(".") + " %"


def size_list(sizes, missing: str = "none") -> str:
    """Byte sizes as a list people read: '4K, 64K, 1M' (``format_size``; None left out); ``missing`` for none."""
    return ", ".join(format_size(s) for s in sizes if s is not None) or missing


def size_axis(ax, sizes, label: str | None = SIZE_LABEL, fontsize: float | None = None) -> None:
    """A log2 x axis of the buffer ``sizes`` (bytes), ticked at each size (every other one past 8) and
    labelled as people write them (1K, 64K, 1M), no minor ticks, a light grid; ``label`` under it."""
    sizes = sorted({int(s) for s in sizes})
    ax.set_xscale("log", base=2)
    ticks = sizes if len(sizes) <= 8 else sizes[::2]
    ax.set_xticks(ticks, [format_size(s) for s in ticks], **({"fontsize": fontsize} if fontsize else {}))
    ax.minorticks_off()
    ax.grid(True, alpha=0.3)
    if label:
        ax.set_xlabel(label)


class Text(str):
    """A summary: a str that displays as itself."""

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer, cycle) -> None:      # IPython's plain-text display
        printer.text(str(self))

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"


class Displayable:
    """Mixin for result objects with ``summary() -> str`` and ``to_frame() -> DataFrame``."""

    def to_frame(self) -> pd.DataFrame:                      # pragma: no cover - every class defines it
        raise NotImplementedError

    def __repr__(self) -> str:
        rows = len(self.to_frame())
        return f"<{type(self).__name__}: {rows} row{'s' if rows != 1 else ''}; .summary(), .to_frame(), .plot()>"

    def _repr_html_(self) -> str:
        return (f"<pre>{html.escape(str(self.summary()))}</pre>"
                + self.to_frame().to_html(index=False, na_rep="", float_format=number))
