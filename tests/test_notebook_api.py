"""The Python API as a notebook user meets it: results are tables first, with summaries that display
as text, HTML views and plot methods that return matplotlib Figures."""
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

import pmcsuite
import pmcsuite.analysis
from pmcsuite.analysis.display import Text

pytestmark = pytest.mark.unit

L41 = Path(__file__).resolve().parent / "fixtures" / "l41"


def test_explain_and_overhead_show_themselves(tmp_path):
    df = pmcsuite.load(pmcsuite.import_l41([L41], tmp_path / "l41"))
    for result in (pmcsuite.explain(df), pmcsuite.overhead(df)):
        table = result.to_frame()
        # the sample's 2 runs a point establish no finding: explain's table is then empty, not missing
        assert isinstance(table, pd.DataFrame) and (len(table) > 0 or isinstance(result, pmcsuite.analysis.Explanation))
        summary = result.summary()
        assert isinstance(summary, Text) and repr(summary) == str(summary) and "\\n" not in repr(summary)
        assert "<pre>" in result._repr_html_() and "<table" in result._repr_html_()
        assert repr(result).startswith(f"<{type(result).__name__}: {len(table)} rows")
        fig = result.plot()
        assert isinstance(fig, Figure) and fig.axes[0].get_xlabel() == "buffer size (bytes per write(), log scale)"
    expl = pmcsuite.explain(df)
    assert "pipe" in expl.summary() and expl.modes["pipe"].cells["buffer_size"].tolist() == [1024, 65536, 131072,
                                                                                               1048576]
