"""Reports: a list of sections, each a function ``(df, meta, outdir) -> Section``, rendered to
``report.md`` and a self-contained ``report.html`` (figures under ``OUT/figures/``).

To add a section (analysis, kernel view, ...), write a function with that signature in its own
module and append it to :data:`SECTIONS`. A section that also accepts a keyword ``ctx`` receives the
report's :class:`~pmcsuite.report.context.ReportContext`: the results every section shares (one
``explain``, one overhead, one kernel view per report), computed on first use. A section writes its PNGs into ``outdir / "figures"``
(use :func:`figure_path`) and returns their paths in ``Section.figures``.
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from ..errors import PmcsuiteError
from ..results.load import load, require_runs


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


#: IPC modes in the order their colours are given (matplotlib's C0, C1, ...): the same colour
#: for the same mode in every figure of a report; other (imported) names follow.
IPC_COLOUR_ORDER = ("pipe", "local", "local-s", "pipe-s", "tcp", "tcp-s")


def ipc_colour(label: str) -> str:
    """The colour of an IPC mode (or of a series label that starts with one, e.g. 'pipe 2proc')."""
    ipc = str(label).split(" ")[0]
    if ipc in IPC_COLOUR_ORDER:
        return f"C{IPC_COLOUR_ORDER.index(ipc)}"
    return f"C{(len(IPC_COLOUR_ORDER) + sum(map(ord, ipc))) % 10}"


#: One marker per IPC mode, in the same order as the colours.
IPC_MARKER_ORDER = ("o", "s", "^", "D", "v", "P")


def ipc_marker(label: str) -> str:
    """The marker of an IPC mode (same rule as :func:`ipc_colour`)."""
    ipc = str(label).split(" ")[0]
    if ipc in IPC_COLOUR_ORDER:
        return IPC_MARKER_ORDER[IPC_COLOUR_ORDER.index(ipc)]
    return "X*<>"[sum(map(ord, ipc)) % 4]


def figure_path(outdir: Path, name: str) -> Path:
    """Where a section stores figure ``name`` (a file name such as ``bandwidth-pipe.png``)."""
    return Path(outdir) / "figures" / name


def save_figure(fig, path: Path) -> Path:
    """Write ``fig`` as the PNG ``path`` (its directory made if need be); returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def default_outdir(directory) -> Path:
    """``reports/<result dir name>/`` under the current directory."""
    return Path.cwd() / "reports" / Path(directory).resolve().name


def _sections() -> list[SectionFunction]:
    from . import analysis_sections, bandwidth, derived_section, findings_section, kernel_sections
    return [findings_section.findings_section, bandwidth.section, analysis_sections.analysis_sections,
            derived_section.derived_section, kernel_sections.kernel_sections]


#: The report's sections, in order. Later modules append theirs, e.g.
#: ``from pmcsuite.report import SECTIONS; SECTIONS.append(analysis_section)``.
SECTIONS: list[SectionFunction] = _sections()


def build_report(directory, out=None, sections=None, compare_with=()) -> Path:
    """Load ``directory``, run every section, write ``report.md``, ``report.html`` and
    ``figures/*.png`` into ``out`` (default :func:`default_outdir`). Returns the output directory.
    ``compare_with``: result directories to compare this one with, a section each after the findings
    (:mod:`pmcsuite.report.compare_section`)."""
    from .render import render

    df = require_runs(load(directory))
    meta = df.attrs["metadata"]
    outdir = Path(out) if out is not None else default_outdir(directory)
    try:
        (outdir / "figures").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PmcsuiteError(f"cannot create the report directory {outdir}: {exc.strerror}; choose another --out") from None
    from .context import ReportContext, call_section

    ctx = ReportContext(df, meta)       # every result (explain, overhead, kernel view) computed once, shared
    parts = []
    for make in SECTIONS if sections is None else sections:
        made = call_section(make, df, meta, outdir, ctx)   # one Section, or a list (e.g. one per IPC mode)
        parts.extend(made if isinstance(made, list) else [made])
    if compare_with:
        from .compare_section import compare_section
        lead = sum(part.lead for part in parts)
        parts[lead:lead] = [compare_section(df, meta, outdir, ref) for ref in compare_with]
    render(df, meta, parts, outdir, ctx=ctx, title=f"pmcsuite report: {Path(directory).resolve().name}")
    return outdir
