"""The report's toolbox: what every section uses to show its results the same way.

- **Parts**: :class:`Section` (a title, Markdown, figures) and :class:`Figure` (a PNG and its caption).
- **Numbers** (``pmcsuite.analysis.display``, the one formatter module, re-exported): :func:`number`,
  :func:`percent`, :func:`ratio`, :func:`interval`, :func:`level_text`, :func:`size_list`; byte sizes
  by ``pmcsuite.sizes.format_size``.
- **Markdown**: :func:`md_escape` (text shown literally), :func:`fold` (``<details>``), :func:`header`
  (a column identifier in words), :func:`cell` (one value as a table cell) and the one table builder,
  :func:`pipe_table` (cells already Markdown) with :func:`md_table` for a DataFrame; HTML tables are
  made from these by ``render``.
- **Names**: :func:`slug` (file names of figures, HTML anchors).
- **Figures**: :func:`new_figure` (an Agg figure, no display), :func:`size_axis` (the log2
  buffer-size axis), :func:`ipc_colour` and :func:`ipc_marker` (the same for the same IPC mode in every
  figure), :func:`figure_path` and :func:`save_figure`.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure

from ..analysis.display import MISSING, interval, level_text, number, percent, ratio, size_axis, size_list
from ..schema import IPC_ORDER

__all__ = ["Figure", "Section", "SectionFunction", "MISSING", "number", "percent", "ratio", "interval",
           "level_text", "size_list", "size_axis", "md_escape", "fold", "header", "cell", "pipe_table", "md_table",
           "slug", "new_figure", "ipc_colour", "ipc_marker", "figure_path", "save_figure"]


@dataclass
class Figure:
    """A PNG written by a section, with the caption shown under it."""
    path: Path
    caption: str


@dataclass
class Section:
    """One part of the report: a title, Markdown text, and figures shown before the text.
    ``lead``: shown before the table of contents (the findings); ``anchor``: the HTML id (default:
    from the title)."""
    title: str
    markdown: str
    figures: list[Figure] = field(default_factory=list)
    lead: bool = False
    anchor: str = ""
    figures_first: bool = True


SectionFunction = Callable[[pd.DataFrame, dict, Path], "Section | list[Section]"]


# ----------------------------------------------------------------------------------------------
# Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]>|#])")


def md_escape(text) -> str:
    """Text -> Markdown that shows it literally (also safe inside a table cell)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split())).replace("<", "&lt;")


def fold(summary: str, body: str, open_: bool = False) -> str:
    """Markdown ``body`` folded under ``summary`` (HTML ``<details>``; GitHub renders it too)."""
    return (f'<details markdown="1"{" open" if open_ else ""}><summary>{html.escape(summary)}</summary>\n\n'
            f"{body.strip()}\n\n</details>\n")


#: readable column headers for identifiers that reach a table
HEADERS = {
    "ipc": "IPC", "variant": "pass", "buffer_size": "buffer", "n_sizes": "sizes", "median_ratio": "median ratio",
    "min_ratio": "min ratio", "max_ratio": "max ratio", "n_slower": "slower", "n_faster": "faster",
    "n_negligible": "negligible", "n_not_established": "not established", "n_too_few": "too few processes",
    "n_unreliable": "unreliable", "baseline_breakpoints": "baseline inflexions",
    "variant_breakpoints": "instrumented inflexions", "n_baseline": "runs (baseline)", "n_variant": "runs (pass)",
    "p_baseline": "processes (baseline)", "p_variant": "processes (pass)",
    "baseline_mib_s": "baseline (MiB/s)", "variant_mib_s": "with the pass (MiB/s)", "ratio": "ratio",
    "ci": "interval", "overall_ratio": "overall ratio", "overall_verdict": "overall verdict",
    "mde": "smallest detectable", "overall_mde": "smallest detectable",
    "p_value": "p", "n_sizes_": "sizes", "rho": "Spearman ρ",
    "fold_change": "fold change", "p_adjusted": "p (Bonferroni)", "share": "share of the time change",
    "named": "named", "reasons": "why", "reliability": "reliability", "verdict": "verdict",
}


def header(name) -> str:
    """A column identifier as a reader would write it (``std_coef`` -> ``std coef``, ``ipc`` -> ``IPC``)."""
    text = str(name)
    return HEADERS.get(text, text.replace("_", " ") if "_" in text and " " not in text else text)


def cell(value) -> str:
    """One value as a Markdown table cell: yes/no, a whole number, a number (:func:`number`), ``MISSING``
    for none, or the text escaped."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if value is None or isinstance(value, (float, np.floating)):
        return number(value)
    return md_escape(value)


def pipe_table(head, rows, right=()) -> str:
    """The one Markdown table builder: a header row, then ``rows`` (lists of cells already in Markdown);
    the columns whose index is in ``right`` are right-aligned (numbers)."""
    lines = ["| " + " | ".join(head) + " |",
             "|" + "".join("---:|" if k in right else "---|" for k in range(len(head)))]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def md_table(frame: pd.DataFrame, right=()) -> str:
    """A DataFrame as a Markdown table: headers in words (:func:`header`), each value a :func:`cell`."""
    if frame.empty:
        return "_(empty)_"
    return pipe_table([md_escape(header(c)) for c in frame.columns],
                      [[cell(v) for v in row] for row in frame.itertuples(index=False)], right)


def slug(text, fallback: str = "x") -> str:
    """A name safe in a file name and an HTML id: lower case, each run of other characters one '-'
    ('Probe effect at a glance' -> 'probe-effect-at-a-glance'); ``fallback`` when nothing is left."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or fallback


# ----------------------------------------------------------------------------------------------
# Figures

#: IPC modes in the order their colours are given (matplotlib's C0, C1, ...): the same colour
#: for the same mode in every figure of a report; other (imported) names follow.
IPC_COLOUR_ORDER = IPC_ORDER
#: One marker per IPC mode, in the same order as the colours.
IPC_MARKER_ORDER = ("o", "s", "^", "D", "v", "P")


def ipc_colour(label: str) -> str:
    """The colour of an IPC mode (or of a series label that starts with one, e.g. 'pipe 2proc')."""
    ipc = str(label).split(" ")[0]
    if ipc in IPC_COLOUR_ORDER:
        return f"C{IPC_COLOUR_ORDER.index(ipc)}"
    return f"C{(len(IPC_COLOUR_ORDER) + sum(map(ord, ipc))) % 10}"


def ipc_marker(label: str) -> str:
    """The marker of an IPC mode (same rule as :func:`ipc_colour`)."""
    ipc = str(label).split(" ")[0]
    if ipc in IPC_COLOUR_ORDER:
        return IPC_MARKER_ORDER[IPC_COLOUR_ORDER.index(ipc)]
    return "X*<>"[sum(map(ord, ipc)) % 4]


def new_figure(width: float, height: float, dpi: int = 100, **kwargs) -> MplFigure:
    """A matplotlib figure drawn by the Agg canvas (no display needed), ``width`` x ``height`` inches."""
    fig = MplFigure(figsize=(width, height), dpi=dpi, **kwargs)
    FigureCanvasAgg(fig)
    return fig


def figure_path(outdir: Path, name: str) -> Path:
    """Where a section stores figure ``name`` (a file name such as ``bandwidth-pipe.png``)."""
    return Path(outdir) / "figures" / name


def save_figure(fig, path: Path) -> Path:
    """Write ``fig`` as the PNG ``path`` (its directory made if need be); returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
