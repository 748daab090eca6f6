"""Reports: a list of sections, each a function ``(df, meta, outdir) -> Section``, rendered to
``report.md`` and a self-contained ``report.html`` (figures under ``OUT/figures/``).

To add a section (analysis, kernel view, ...), write a function with that signature in its own
module and append it to :data:`SECTIONS`. A section that also accepts a keyword ``ctx`` receives the
report's :class:`~pmcsuite.report.context.ReportContext`: the results every section shares (one
``explain``, one overhead, one kernel view per report), computed on first use. A section writes its
PNGs into ``outdir / "figures"`` (use :func:`figure_path`) and returns their paths in
``Section.figures``. What sections share (parts, numbers, tables, slugs, the size axis, the figure
saver) is in :mod:`pmcsuite.report.toolbox`; a section imports it, never this package.
"""
from pathlib import Path

from ..errors import PmcsuiteError
from ..results.load import load, require_runs
from . import analysis_sections, bandwidth, derived_section, findings_section, kernel_sections, profile_section
from .compare_section import compare_section
from .context import ReportContext, call_section
from .render import render
from .toolbox import Figure, Section, SectionFunction, figure_path, ipc_colour, ipc_marker, save_figure

__all__ = ["Figure", "Section", "SectionFunction", "SECTIONS", "build_report", "default_outdir", "figure_path",
           "ipc_colour", "ipc_marker", "save_figure"]


def default_outdir(directory) -> Path:
    """``reports/<result dir name>/`` under the current directory."""
    return Path.cwd() / "reports" / Path(directory).resolve().name


#: The report's sections, in order. Later modules append theirs, e.g.
#: ``from pmcsuite.report import SECTIONS; SECTIONS.append(analysis_section)``.
SECTIONS: list[SectionFunction] = [findings_section.findings_section, bandwidth.section,
                                   analysis_sections.analysis_sections, derived_section.derived_section,
                                   profile_section.profile_section, kernel_sections.kernel_sections]


def build_report(directory, out=None, sections=None, compare_with=()) -> Path:
    """Load ``directory``, run every section, write ``report.md``, ``report.html`` and
    ``figures/*.png`` into ``out`` (default :func:`default_outdir`). Returns the output directory.
    ``compare_with``: result directories to compare this one with, a section each after the findings
    (:mod:`pmcsuite.report.compare_section`)."""
    df = require_runs(load(directory))
    meta = df.attrs["metadata"]
    outdir = Path(out) if out is not None else default_outdir(directory)
    try:
        (outdir / "figures").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PmcsuiteError(f"cannot create the report directory {outdir}: {exc.strerror}; "
                            "choose another --out") from None
    ctx = ReportContext(df, meta)       # every result (explain, overhead, kernel view) computed once, shared
    parts = []
    for make in SECTIONS if sections is None else sections:
        made = call_section(make, df, meta, outdir, ctx)   # one Section, or a list (e.g. one per IPC mode)
        parts.extend(made if isinstance(made, list) else [made])
    if compare_with:
        lead = sum(part.lead for part in parts)
        parts[lead:lead] = [compare_section(df, meta, outdir, ref) for ref in compare_with]
    render(df, meta, parts, outdir, ctx=ctx, title=f"pmcsuite report: {Path(directory).resolve().name}")
    return outdir
