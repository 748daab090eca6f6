"""pmcsuite: explain inter-process communication performance with hardware and kernel counters.

The flow is one-way: catalogue -> plan -> run (benchmark + counter backend) -> store ->
load/align -> analyse -> report. Every step is a plain function a notebook can call::

    import pmcsuite
    out = pmcsuite.collect(out="results/q", quick=True)
    df = pmcsuite.load(out)
    pmcsuite.summarise(df)
"""
import importlib

__version__ = "0.1.0"

# name -> module; imported on first use so that the command line starts fast
_API = {
    "load": "results", "summarise": "results", "derived_metrics": "results",
    "export": "export", "tidy_table": "export",
    "collect": "collection",
    "load_catalogue": "catalogue",
    "check": "availability",
    "bench": "benchmark",
    "build_report": "report",
    "import_l41": "importers.l41", "import_csv": "importers.tidy_csv",
    "overhead": "analysis.overhead", "explain": "analysis.explain", "compare": "analysis.compare",
    "fit_model": "analysis.model",
    "trace": "timeline",
    "PmcsuiteError": "errors",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name):
    if name in _API:
        return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'pmcsuite' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))
