"""How analysis results show themselves in a notebook: tables first.

``Text`` is what ``.summary()`` returns: a ``str`` (print it, compare it) that a notebook or the
REPL shows as text, not as a quoted string full of ``\\n``. ``Displayable`` gives a result object a
short ``repr``, an HTML view (its summary, then its ``to_frame()`` table) for Jupyter's
``_repr_html_``, and nothing else: each class says what its table is (``to_frame``) and how it
summarises itself (``summary``)."""
from __future__ import annotations

import html

import pandas as pd


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
                + self.to_frame().to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}"))


def size_axis(ax) -> None:
    """A log2 x axis of buffer sizes labelled as people write them (1K, 64K, 1M)."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    from ..sizes import format_size
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(LogLocator(base=2, numticks=30))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_size(int(round(v))) if v >= 1 else ""))
    ax.set_xlabel("buffer size (bytes per write)")
