"""The whole report of a fixed result directory, compared line for line with a checked-in copy.

``build_report`` runs every section on tests/fixtures/results_small (synthetic: 2 IPC modes x 3 sizes x
3 passes, with a failed run, a busy run, a multiplexed and an unsupported counter) and its
``report.md`` must equal tests/golden/report.md, once what varies from run to run is normalised: the
provenance line "Report | generated <time> by pmcsuite <version> from <path>". Nothing else may vary:
the report is a pure function of its data (a difference between two runs is a bug to fix where it
starts, not to normalise here).

A deliberate change of the report (new words, a new table, another number format) is accepted by
rewriting the golden copy and reviewing its diff::

    PMCSUITE_UPDATE_GOLDEN=1 python3 -m pytest -q tests/test_golden_report.py
    git diff tests/golden/report.md
"""
import difflib
import os
import re
from pathlib import Path

import pytest

from pmcsuite.report import build_report

pytestmark = pytest.mark.unit

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "fixtures" / "results_small"
GOLDEN = HERE / "golden" / "report.md"
#: the one line of the report that says when, by which version and from where it was made
_GENERATED = re.compile(r"^\| Report \| generated .* by pmcsuite .* from .* \|$", re.M)


def normalised(markdown: str) -> str:
    """``markdown`` with the report's time, pmcsuite version and result path replaced by fixed words."""
    return _GENERATED.sub("| Report | generated TIME by pmcsuite VERSION from RESULTS |", markdown)


def test_normalised_replaces_only_the_generated_line():
    text = "| Collected | 2026-01-01 |\n| Report | generated 2026-12-06T07:23:42+00:00 by pmcsuite 0.1.0 from /x/y |\n"
    assert normalised(text) == ("| Collected | 2026-01-01 |\n"
                                "| Report | generated TIME by pmcsuite VERSION from RESULTS |\n")


def test_the_report_equals_the_golden_copy(tmp_path):
    made = normalised((build_report(FIXTURE, out=tmp_path) / "report.md").read_text(encoding="utf-8"))
    if os.environ.get("PMCSUITE_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(made, encoding="utf-8")
    golden = GOLDEN.read_text(encoding="utf-8")
    diff = list(difflib.unified_diff(golden.splitlines(), made.splitlines(), "tests/golden/report.md", "made now",
                                     lineterm=""))
    assert not diff, ("the report differs from tests/golden/report.md (if the change is meant, rewrite it with "
                      "PMCSUITE_UPDATE_GOLDEN=1 and review the diff):\n" + "\n".join(diff[:80]))
