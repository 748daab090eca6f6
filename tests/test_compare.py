"""pmcsuite compare: per point ratio with interval, Holm-corrected verdicts in pyperf's words, what
moved, what was left out; --fail-if-slower for CI."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pmcsuite
from pmcsuite.analysis.compare import compare
from pmcsuite.errors import PmcsuiteError
from synthetic import peak_at, runs_table, scaled_copy

L41 = Path(__file__).resolve().parent / "fixtures" / "l41"


def sweep(seed, scale=1.0, ipcs=("pipe", "local"), **kw):
    df = runs_table({"baseline": lambda x: scale * peak_at(16)(x)}, runs=10, noise=0.03, seed=seed, ipcs=ipcs, **kw)
    df["actors"], df["placement"], df["shared_cpu"] = "2thread", "same", False
    df.attrs["counters"] = []
    return df


def test_same_configuration_is_rarely_called_different():
    """Two sweeps of one configuration: at most 5 % of points significant (Holm across points)."""
    called = total = 0
    for draw in range(20):
        points = compare(sweep(2 * draw), sweep(2 * draw + 1), with_findings=False).points
        called += int(points["verdict"].str.endswith(("faster", "slower")).sum())
        total += len(points)
    assert total == 20 * 30 and called / total <= 0.05, called


def test_a_planted_slowdown_is_found_and_fails_the_gate():
    result = compare(sweep(1), sweep(2, scale=0.9), names=["main", "branch"], with_findings=False)
    slower = result.points["verdict"].str.endswith("slower")
    assert slower.mean() >= 0.9
    assert result.points.loc[slower, "verdict"].str.match(r"^1\.\d\dx slower$").all()
    assert (result.points["against"] == "branch").all() and len(result.slower(5)) >= 27
    assert result.slower(20).empty                       # a 10 % slowdown is not slower by 20 %


def test_only_what_the_sets_share_is_compared():
    a, b = sweep(1), sweep(2, sizes=[1 << k for k in range(10, 20)])
    b["total_size"] = a["total_size"].iloc[0]
    result = compare(a, b, names=["a", "b"], with_findings=False)
    assert len(result.points) == 2 * 10
    assert any("only in a left out" in n for n in result.notes)
    c = sweep(3)
    c["placement"] = "any"
    with pytest.raises(PmcsuiteError, match="share no point to compare.*placement differs"):
        compare(a, c, names=["a", "c"], with_findings=False)


def test_compare_collected_and_imported_sets_from_the_command_line(tmp_path):
    ref = pmcsuite.import_l41([L41], tmp_path / "ref")
    again = pmcsuite.import_l41([L41], tmp_path / "again")
    proc = subprocess.run([sys.executable, "-m", "pmcsuite", "compare", str(ref), str(again), "--json",
                           "--fail-if-slower", "5"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["reference"] == str(ref) and doc["correction"] == "holm" and doc["points"]
    assert all(p["ratio"] == pytest.approx(1.0) for p in doc["points"])
    assert not [f for f in doc["findings"] if f["change"] != "moved"]      # the same data: nothing (dis)appears
    # a collected sweep against itself with a slowed-down copy: the gate says which points
    out = pmcsuite.collect(out=tmp_path / "c", backend="none", ipcs=["pipe"], sizes="64K,1M", runs=8, processes=2,
                           total="4M", progress=False)
    slow = tmp_path / "slow"
    slow.mkdir()
    (slow / "metadata.json").write_text((out / "metadata.json").read_text())
    lines = []
    for line in (out / "runs.jsonl").read_text().splitlines():
        rec = json.loads(line)
        rec["bench"]["bandwidth"] *= 0.7
        rec["bench"]["loop_ns"] = int(rec["bench"]["loop_ns"] / 0.7)
        lines.append(json.dumps(rec))
    (slow / "runs.jsonl").write_text("\n".join(lines) + "\n")
    proc = subprocess.run([sys.executable, "-m", "pmcsuite", "compare", str(out), str(slow), "--fail-if-slower", "10"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "significantly slower than" in proc.stderr and "pipe 64K baseline 1.43x slower" in proc.stderr
    assert "1.43x slower" in proc.stdout


def test_comparison_shows_itself():
    result = compare(sweep(1), sweep(2, scale=0.9), names=["a", "b"], with_findings=False)
    assert "b: 30 points" in str(result.summary()) and result.to_frame().shape[0] == 30
    assert result.plot().axes and "<table" in result._repr_html_()
    assert np.isfinite(result.points["ci_low"]).all()


def test_the_report_has_a_comparison_section(tmp_path):
    from pmcsuite.report.compare_section import compare_section
    ref, slow = sweep(1), sweep(2, scale=0.8)
    slow.attrs["directory"] = "results/branch"
    section = compare_section(slow, {}, tmp_path, ref, name="results/main")
    text = section.markdown
    assert section.title == "Compared with results/main"
    assert "30 point(s) compared with `results/main` (the reference): 30 slower" in text
    assert "The 10 largest changes:" in text and text.count("1.25x slower") >= 10
    assert "Every point compared (30)" in text and "<details" in text
    assert section.figures and section.figures[0].path.is_file() and section.figures[0].path.stat().st_size > 5000
    same = compare_section(sweep(3), {}, tmp_path, sweep(4), name="again").markdown
    assert "No point is significantly faster or slower." in same


def test_report_compare_from_the_command_line(tmp_path):
    """pmcsuite report DIR --compare REF on a collected set and a copy of it 20 % faster."""
    ref = tmp_path / "ref"
    proc = subprocess.run([sys.executable, "-m", "pmcsuite", "collect", "--backend", "none", "--ipc", "pipe",
                           "--sizes", "64K,1M", "--runs", "10", "--processes", "2", "--total", "4M", "--out", ref],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    faster = scaled_copy(ref, tmp_path / "faster", 1.2)
    proc = subprocess.run([sys.executable, "-m", "pmcsuite", "report", faster, "--compare", ref, "--out",
                           tmp_path / "report"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    md = (tmp_path / "report" / "report.md").read_text()
    from pmcsuite.report.render import md_escape
    assert f"## Compared with {md_escape(str(ref))}" in md and "2 point(s) compared" in md and "2 faster" in md
    assert md.index("## Compared with") < md.index("## Bandwidth vs buffer size")
    html = (tmp_path / "report" / "report.html").read_text()
    assert "Compared with" in html and "1.20x faster" in html
