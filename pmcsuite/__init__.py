"""pmcsuite: explain inter-process communication performance with hardware and kernel counters.

The flow is one-way: catalogue -> plan -> run (benchmark + counter backend) -> store ->
load/align -> analyse -> report. Every step is a plain function a notebook can call::

    import pmcsuite
    out = pmcsuite.collect(out="results/q", quick=True)
    df = pmcsuite.load(out)
    pmcsuite.summarise(df)
"""
import importlib
import types

from .version import __version__  # noqa: F401  (re-exported)

# name -> module; imported on first use so that the command line starts fast
_API = {
    "load": "results.load", "summarise": "results.load", "derived_metrics": "results.load",
    "export": "results.export", "tidy_table": "results.export",
    "load_catalogue": "catalogue",
    "check": "collect.check",
    "bench": "collect.benchmark",
    "build_report": "report",
    "import_l41": "results.importers.l41", "import_csv": "results.importers.tidy_csv",
    "overhead": "analysis.overhead", "explain": "analysis.explain", "compare": "analysis.compare",
    "fit_model": "analysis.model", "profile": "analysis.profile",
    "trace": "collect.trace",
    "PmcsuiteError": "errors",
}

# sorted(_API) + ["__version__", "collect"], written out so that tools can read it
__all__ = [
    "PmcsuiteError", "bench", "build_report", "check", "compare", "derived_metrics", "explain", "export",
    "fit_model", "import_csv", "import_l41", "load", "load_catalogue", "overhead", "profile", "summarise", "tidy_table",
    "trace", "__version__", "collect",
]


class _CollectStage(types.ModuleType):
    """``pmcsuite.collect`` is both the run stage's folder (``pmcsuite.collect.benchmark``, ...)
    and the function that runs a sweep: calling the package runs :func:`pmcsuite.api.collect`."""

    def __call__(self, *args, **kwargs):
        from .api import collect as run
        return run(*args, **kwargs)


from . import collect  # noqa: E402  (the package; made callable below)

collect.__class__ = _CollectStage


def __getattr__(name):
    if name in _API:
        return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'pmcsuite' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))
