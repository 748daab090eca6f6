"""The first report (bandwidth section, Markdown + self-contained HTML) on the synthetic fixture."""
import json
import re
import shutil
from pathlib import Path

import matplotlib.image
import pytest

from pmcsuite.errors import PmcsuiteError
from pmcsuite.report import SECTIONS, Figure, Section, bandwidth, build_report, figure_path

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "results_small"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    assert build_report(FIXTURE, out=out, sections=[bandwidth.section]) == out
    return out


@pytest.fixture
def results(tmp_path):
    return Path(shutil.copytree(FIXTURE, tmp_path / "results_small"))


def test_files_written(report):
    assert (report / "report.md").is_file() and (report / "report.html").is_file()
    assert sorted(p.name for p in (report / "figures").iterdir()) == [
        "bandwidth-local.png", "bandwidth-pipe.png", "bandwidth.png"]


def test_png_is_a_real_image(report):
    image = matplotlib.image.imread(report / "figures" / "bandwidth.png")
    height, width, channels = image.shape
    assert 400 <= height <= 2000 and 600 <= width <= 3000 and channels in (3, 4)
    assert image.std() > 0.01                       # not a blank canvas


def test_html_is_self_contained(report):
    html = (report / "report.html").read_text()
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert len(sources) == 3 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert len(sources[0]) > 10000
    assert "<table>" in html and "<style>" in html
    assert "figures/" not in html


def test_markdown_opens_with_provenance(report):
    text = (report / "report.md").read_text()
    head = text.split("## Bandwidth")[0]
    for expected in ("synthetic-host", "6.0.0-synthetic", "SYNTHETIC CPU (fixture) (2 CPUs)", "| Seed | 1 |",
                     "pmcsuite collect --out results\\_small", "4K, 64K, 1M", "3 per point + 1 warm-up",
                     "| Backend | perf |", "perf version 6.1.0", "version 1, sha256 ffffffffffffffff",
                     "2026-01-01T00:00:00+00:00", "72 runs stored (1 failed, 18 warm-ups)", "SYNTHETIC test fixture"):
        assert expected in head, expected
    assert "![" in text and "](figures/bandwidth.png)" in text
    assert "interquartile range (q25 to q75)" in text


def test_bandwidth_table_and_warnings(report):
    text = (report / "report.md").read_text()
    # synthetic pipe 64K baseline: runs 1..3 at 2010, 2020, 2030 MiB/s
    assert "| pipe | 64K | 2,020 [2,015–2,025] (3) | 1,720 (3, ×0.85) | 1,920 (3, ×0.95) |" in text
    assert "| local | 4K | 815 [813–818] (2) |" in text          # failed run and warm-up excluded
    warnings = text.split("### Warnings")[1]
    assert "local 4K baseline: 1 of 4 runs failed" in warnings
    assert "1 of 53 measured runs shared the CPU" in warnings and "Per point: pipe 4K baseline 1/3." in warnings
    assert "sanity: syscalls\\_write 257" in warnings
    assert "context\\_switches was multiplexed" in warnings
    assert "cycles was never counted (not\\_supported ×24)" in warnings


def test_default_output_place(results, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = build_report(results, sections=[])
    assert out == tmp_path / "reports" / "results_small"
    assert (out / "report.html").is_file()


def test_sections_are_pluggable(results, tmp_path):
    assert bandwidth.section in SECTIONS

    def extra(df, meta, outdir):
        path = figure_path(outdir, "extra.png")
        matplotlib.image.imsave(path, [[0.0, 1.0], [1.0, 0.0]])
        return Section("Extra | part", f"{len(df)} runs from {meta['host']['hostname']}\n", [Figure(path, "a tile")])

    out = build_report(results, out=tmp_path / "s", sections=[bandwidth.section, extra])
    html = (out / "report.html").read_text()
    assert "Extra | part" in html and "72 runs from synthetic-host" in html
    assert html.count("data:image/png;base64,") == 4 and "<figcaption>a tile</figcaption>" in html
    assert html.index("Bandwidth vs buffer size") < html.index("Extra | part")
    assert "](figures/extra.png)" in (out / "report.md").read_text()


def test_empty_results_is_an_error(results, tmp_path):
    (results / "runs.jsonl").write_text("")
    with pytest.raises(PmcsuiteError, match="holds no runs yet"):
        build_report(results, out=tmp_path / "out")


def test_all_runs_failed_still_reports(results, tmp_path):
    lines = []
    for line in (results / "runs.jsonl").read_text().splitlines():
        record = json.loads(line)
        record.update(ok=False, error="synthetic failure", bench=None)
        lines.append(json.dumps(record))
    (results / "runs.jsonl").write_text("\n".join(lines) + "\n")
    out = build_report(results, out=tmp_path / "out")
    text = (out / "report.md").read_text()
    assert "nothing to plot" in text
    assert "No successful non-warm-up runs: nothing to analyse." in text
    assert "pipe 64K baseline: 4 of 4 runs failed (first error: synthetic failure)" in text
    assert not (out / "figures" / "bandwidth.png").exists()


def test_one_buffer_size_still_reports_every_section(results, tmp_path):
    lines = [line for line in (results / "runs.jsonl").read_text().splitlines()
             if json.loads(line)["buffer_size"] == 65536]
    (results / "runs.jsonl").write_text("\n".join(lines) + "\n")
    out = build_report(results, out=tmp_path / "out")
    text = (out / "report.md").read_text()
    assert "one buffer size (64 KiB) cannot show an inflexion point" in text
    assert "## Probe effect" in text and "## Kernel view: read()/write() return sizes" in text


def test_default_report_has_analysis_and_kernel_sections(tmp_path):
    text = (build_report(FIXTURE, out=tmp_path / "out") / "report.md").read_text()
    for title in ("## Bandwidth vs buffer size", "## Inflexion points and counters — pipe", "## Probe effect",
                  "## Kernel view: read()/write() return sizes", "## Kernel view: time asleep / off-CPU",
                  "## Kernel view: page faults"):
        assert title in text, title
