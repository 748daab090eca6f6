"""pmcsuite compare: the overall ratio per compared set first (geometric mean over the shared points,
with its interval and verdict), then per point ratios with simultaneous intervals; process ids that
never collide across sets; what moved (non-overlapping intervals only), what was left out;
--fail-if-slower for CI."""
import json
from pathlib import Path

import numpy as np
import pytest
from collected import sweep as collected_sweep

import pmcsuite
from pmcsuite.analysis import inference as inf
from pmcsuite.analysis.compare import _changes, compare, set_levels
from pmcsuite.errors import PmcsuiteError
from pmcsuite.results.load import measured
from synthetic import scaled_copy

pytestmark = pytest.mark.e2e

L41 = Path(__file__).resolve().parent / "fixtures" / "l41"
SMALL = [1 << k for k in range(10, 17)]          # 1K..64K


def sweep(seed, scale=1.0, ipcs=("pipe", "local"), sizes=SMALL, **kw):
    """A baseline-only sweep laid out as collect does (3 processes per point unless said)."""
    kw = {"runs": 13, "processes": 3, "process_cv": 0.05, **kw}
    return collected_sweep(seed, passes=(), ipcs=ipcs, sizes=sizes, scale=scale, **kw)


def _called(result) -> bool:
    return bool(result.overall["verdict"].isin(["slower", "faster"]).any()
                or result.points["verdict"].isin(["slower", "faster"]).any())


def test_same_configuration_is_rarely_called_different():
    """20 pairs of sweeps of one configuration: at most one with any verdict of a change."""
    called = [_called(compare(sweep(2 * d), sweep(2 * d + 1), with_findings=False)) for d in range(20)]
    assert sum(called) <= 1, called


def test_a_planted_slowdown_is_found_overall_first_and_fails_the_gate():
    result = compare(sweep(1), sweep(2, scale=0.85), names=["main", "branch"], with_findings=False)
    overall = result.overall.iloc[0]
    assert overall["name"] == "branch" and overall["reference"] == "main" and overall["n_points"] == 14
    assert overall["verdict"] == "slower" and overall["ci_low"] < 0.85 < overall["ci_high"] < 0.95
    assert overall["level"] == pytest.approx(inf.family_level(0.025, 1))
    assert list(result.points["level"]) == pytest.approx([inf.family_level(0.025, 14)] * 14)
    gate = result.slower(5)
    assert gate.iloc[0]["point"] == "overall" and gate.iloc[0]["name"] == "branch"
    assert result.slower(20).empty                          # a 15 % slowdown is not shown slower by 20 %
    text = str(result.summary()).splitlines()
    assert text[1].startswith("overall: branch against main: is ") and "% slower [" in text[1]
    doc = result.to_dict()
    assert list(doc).index("overall") < list(doc).index("points") and doc["overall"][0]["verdict"] == "slower"
    json.dumps(doc, allow_nan=False)


def test_points_have_their_verdicts_with_more_processes():
    result = compare(sweep(1, runs=16, processes=8), sweep(2, scale=0.8, runs=16, processes=8),
                     names=["a", "b"], with_findings=False)
    points = result.points
    assert (points["verdict"] == "slower").mean() >= 0.9
    assert points.loc[points["verdict"] == "slower", "said"].str.match(r"^1\.\d\dx slower$").all()
    for r in points.to_dict("records"):
        assert r["verdict"] == inf.verdict(r["ci_low"], r["ci_high"]) and r["ci_low"] <= r["ratio"] <= r["ci_high"]


def test_process_numbers_do_not_collide_across_sets():
    """The same process numbers in both sets are different processes: renumbering one set's processes
    changes nothing, and every process is named after its set."""
    a, b = sweep(3), sweep(4, scale=0.95)
    shifted = b.copy()
    shifted["process"] = shifted["process"] + 1000
    same_ids = compare(a, b, names=["a", "b"], with_findings=False)
    other_ids = compare(a, shifted, names=["a", "b"], with_findings=False)
    for column in ("ratio", "ci_low", "ci_high"):
        assert np.allclose(same_ids.points[column], other_ids.points[column])
        assert np.allclose(same_ids.overall[column], other_ids.overall[column])
    levels, facts = set_levels(measured(a), "a")
    assert all(str(c).startswith("a:") for lv in levels.values() for c in lv.clusters)
    assert all(f["processes"] == 3 for f in facts.values())


def test_only_what_the_sets_share_is_compared():
    a, b = sweep(1), sweep(2, sizes=SMALL[:4])
    result = compare(a, b, names=["a", "b"], with_findings=False)
    assert len(result.points) == 2 * 4 and result.overall.iloc[0]["n_points"] == 8
    assert any("only in a left out" in n for n in result.notes)
    c = sweep(3)
    c["placement"] = "any"
    with pytest.raises(PmcsuiteError, match="share no point to compare.*placement differs"):
        compare(a, c, names=["a", "c"], with_findings=False)


def test_a_finding_moved_only_when_its_intervals_do_not_overlap():
    ident = ("knee", "pipe", "bandwidth")
    near = _changes(ident, [(65536, (32768.0, 131072.0))], [(131072, (65536.0, 262144.0))], "a", "b")
    assert near == []                                       # the intervals overlap: the same finding
    far = _changes(ident, [(65536, (32768.0, 65536.0))], [(1 << 20, (524288.0, 2097152.0))], "a", "b")
    assert [c["change"] for c in far] == ["moved"] and "do not overlap" in far[0]["description"]
    gone = _changes(ident, [(65536, (65536.0, 65536.0))], [], "a", "b")
    assert gone[0]["change"] == "disappeared"
    unknown = _changes(ident, [(65536, None)], [(1 << 20, (1048576.0, 1048576.0))], "a", "b")
    assert unknown == []                                    # no interval: no move claimed


def test_compare_imported_sets_and_refuse_a_bad_threshold(tmp_path, cli):
    ref = pmcsuite.import_l41([L41], tmp_path / "ref")
    again = pmcsuite.import_l41([L41], tmp_path / "again")
    proc = cli("compare", ref, again, "--json", "--fail-if-slower", "5")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["reference"] == str(ref) and doc["points"] and doc["overall"][0]["ratio"] == pytest.approx(1.0)
    assert all(p["ratio"] == pytest.approx(1.0) for p in doc["points"])
    assert not [f for f in doc["findings"] if f["change"] != "moved"]      # the same data: nothing (dis)appears
    for bad in ("nan", "inf", "-3"):
        proc = cli("compare", ref, again, "--fail-if-slower", bad)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert f"{bad} is not a percentage" in proc.stderr


def test_the_gate_names_what_is_slower(results_small, tmp_path, cli):
    """A result set against a copy of it 4x slower: exit 1, the overall and the points named. The set is
    the fixed fixture, not a collection, so that the verdict cannot depend on this machine's load."""
    out = results_small
    slow = scaled_copy(out, tmp_path / "slow", 0.25)
    proc = cli("compare", out, slow, "--fail-if-slower", "10")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"slower than {out} by more than 10 %" in proc.stderr and f"overall of {slow} 0.250x" in proc.stderr
    assert "pipe 64K baseline of" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert proc.stdout.splitlines()[1].startswith(f"overall: {slow} against {out}: is 75 % slower")
    assert "4.00x slower" in proc.stdout


def test_comparison_shows_itself():
    result = compare(sweep(1), sweep(2, scale=0.9), names=["a", "b"], with_findings=False)
    assert "b: 14 points" in str(result.summary()) and result.to_frame().shape[0] == 14
    assert result.plot().axes and "<table" in result._repr_html_()
    assert np.isfinite(result.points["ci_low"]).all()


def test_the_report_has_a_comparison_section(tmp_path):
    from pmcsuite.report.compare_section import compare_section
    ref, slow = sweep(1), sweep(2, scale=0.8)
    slow.attrs["directory"] = "results/branch"
    section = compare_section(slow, {}, tmp_path, ref, name="results/main")
    text = section.markdown
    assert section.title == "Compared with results/main"
    assert text.startswith("**Overall: branch against main: is ") and "% slower \\[" in text.splitlines()[0]
    assert text.index("**Overall") < text.index("14 point(s) compared with `results/main` (the reference)")
    assert "Every point compared (14)" in text and "<details" in text
    assert section.figures and section.figures[0].path.is_file() and section.figures[0].path.stat().st_size > 5000
    same = compare_section(sweep(3), {}, tmp_path, sweep(4), name="again").markdown
    assert "No point on its own is shown faster or slower." in same


def test_report_compare_from_the_command_line(tmp_path, cli):
    """pmcsuite report DIR --compare REF on a collected set and a copy of it 20 % faster."""
    ref = tmp_path / "ref"
    proc = cli("collect", "--backend", "none", "--ipc", "pipe", "--sizes", "64K,1M", "--runs", "10", "--processes", "5",
               "--total", "4M", "--out", ref)
    assert proc.returncode == 0, proc.stderr
    faster = scaled_copy(ref, tmp_path / "faster", 1.2)
    proc = cli("report", faster, "--compare", ref, "--out", tmp_path / "report")
    assert proc.returncode == 0, proc.stderr
    md = (tmp_path / "report" / "report.md").read_text()
    from pmcsuite.report.render import md_escape
    assert f"## Compared with {md_escape(str(ref))}" in md and "2 point(s) compared" in md
    # the copy is exactly 1.2x: its ratios are, whatever the machine's load (the verdicts are the noise's)
    section = md[md.index("## Compared with"):]
    assert section.index("**Overall: faster against ref: ") < section.index("2 point(s) compared")
    assert "1.200x" in section.split("2 point(s) compared")[0]        # in the overall line
    assert md.index("## Compared with") < md.index("## Bandwidth vs buffer size")
    html = (tmp_path / "report" / "report.html").read_text()
    assert "Compared with" in html and "1.200" in html
