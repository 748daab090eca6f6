"""The counter catalogue: every counter fact (``counters.yaml``, documented in docs/catalogue.md),
loaded, validated and merged with user files, and the ``Catalogue`` object that answers for it.

Modules, in the order they build on each other: :mod:`.formula` (derived-metric formulas),
:mod:`.model` (the objects and the snapshot stored in metadata.json), :mod:`.validate` (the keys
and value shapes of one file), :mod:`.files` (strict YAML reading), :mod:`.build` (merge and
cross-reference checks), :mod:`.load` (``load_catalogue``, ``result_catalogue``), :mod:`.format`
(``pmcsuite counters``). Import from here; the submodules never import this package.
"""
from .format import format_catalogue
from .formula import evaluate_formula, parse_formula
from .load import BUILTIN, builtin_catalogue, catalogue_from_snapshot, load_catalogue, result_catalogue
from .model import (PROFILE_OSES, PROFILE_OTHER, PROFILE_PREFIX, PROFILE_USER, UNIT_NS, Catalogue, Cost, Counter,
                    Crosscheck, Derived, Group, Platform, ProfileCategory, catalogue_metadata, catalogue_snapshot,
                    spelling, spellings, unit_is_time)

__all__ = [
    "BUILTIN", "PROFILE_OSES", "PROFILE_OTHER", "PROFILE_PREFIX", "PROFILE_USER", "UNIT_NS", "Catalogue", "Cost",
    "Counter", "Crosscheck", "Derived", "Group", "Platform", "ProfileCategory", "builtin_catalogue",
    "catalogue_from_snapshot", "catalogue_metadata", "catalogue_snapshot", "evaluate_formula", "format_catalogue",
    "load_catalogue", "parse_formula", "result_catalogue", "spelling", "spellings", "unit_is_time",
]
