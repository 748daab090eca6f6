"""The first report (bandwidth section, Markdown + self-contained HTML) on the synthetic fixture."""
import json
import re
from pathlib import Path

import matplotlib.image
import pytest

from pmcsuite.errors import PmcsuiteError
from pmcsuite.report import SECTIONS, Figure, Section, bandwidth, build_report, figure_path

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "results_small"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    assert build_report(FIXTURE, out=out, sections=[bandwidth.section]) == out
    return out



def test_files_written(report):
    assert (report / "report.md").is_file() and (report / "report.html").is_file()
    assert sorted(p.name for p in (report / "figures").iterdir()) == ["bandwidth.png"]   # baseline, one line a mode


def test_png_is_a_real_image(report):
    image = matplotlib.image.imread(report / "figures" / "bandwidth.png")
    height, width, channels = image.shape
    assert 400 <= height <= 2000 and 600 <= width <= 3000 and channels in (3, 4)
    assert image.std() > 0.01                       # not a blank canvas


def test_html_is_self_contained(report):
    html = (report / "report.html").read_text()
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert len(sources) == 1 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert len(sources[0]) > 10000
    assert "<table>" in html and "<style>" in html
    assert "figures/" not in html


def test_markdown_ends_with_provenance(report):
    text = (report / "report.md").read_text()
    head = text.split("## Provenance")[1]
    assert "## Bandwidth" in text.split("## Provenance")[0]
    for expected in (
            "synthetic-host", "6.0.0-synthetic", "SYNTHETIC CPU (fixture) (2 CPUs)", "| Seed | 1 |",
            "pmcsuite collect --out results\\_small", "4K, 64K, 1M",
            "4 runs per point in 4 benchmark process(es) of 1 iteration(s), 1 of them warm-up(s): 2-3 measured",
            "| Platform / backend | x86-64, software / perf |", "perf version 6.1.0",
            "version 1, sha256 ffffffffffffffff", "2026-01-01T00:00:00+00:00", "72 runs stored (1 failed, 18 warm-ups)",
            "SYNTHETIC test fixture"):
        assert expected in head, expected
    assert "![" in text and "](figures/bandwidth.png)" in text
    assert "interquartile range (q25 to q75)" in text
    assert "<details" in text.split("## Provenance")[1]          # folded


def test_bandwidth_table_and_warnings(report):
    text = (report / "report.md").read_text()
    # synthetic pipe 64K baseline: runs 1..3 at 2010, 2020, 2030 MiB/s
    assert "| pipe | 64K | 2,020 [2,015–2,025] (3) | 1,720 (3, ×0.85) | 1,920 (3, ×0.95) |" in text
    assert "| local | 4K | 815 [813–818] (2) |" in text          # failed run and warm-up excluded
    warnings = text.split("### Warnings")[1]
    assert "local 4K baseline: 1 of 4 runs failed" in warnings
    assert "1 of 71 successful runs shared the CPU with other work (1 of the 53 measured runs, 0 warm-ups" in warnings
    assert "Measured runs per point: pipe 4K baseline 1/3." in warnings
    assert "**5 warning(s).** Cells with the most failed or CPU-sharing runs: local 4K baseline (1 of 4 runs); " \
        "pipe 4K baseline (1 of 4 runs)." in warnings
    assert "<details" in warnings and "All 5 warning(s) in full" in warnings
    assert "sanity: syscalls\\_write 257" in warnings
    assert "context\\_switches was multiplexed" in warnings
    assert "cycles was never counted (not\\_supported ×24)" in warnings


def test_default_output_place(results_small, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = build_report(results_small, sections=[])
    assert out == tmp_path / "reports" / "results_small"
    assert (out / "report.html").is_file()


def test_sections_are_pluggable(results_small, tmp_path):
    assert bandwidth.section in SECTIONS

    def extra(df, meta, outdir):
        path = figure_path(outdir, "extra.png")
        matplotlib.image.imsave(path, [[0.0, 1.0], [1.0, 0.0]])
        return Section("Extra | part", f"{len(df)} runs from {meta['host']['hostname']}\n", [Figure(path, "a tile")])

    out = build_report(results_small, out=tmp_path / "s", sections=[bandwidth.section, extra])
    html = (out / "report.html").read_text()
    assert "Extra | part" in html and "72 runs from synthetic-host" in html
    assert html.count("data:image/png;base64,") == 2 and "<figcaption>a tile</figcaption>" in html
    assert html.index("Bandwidth vs buffer size") < html.index("Extra | part")
    assert "](figures/extra.png)" in (out / "report.md").read_text()


def test_empty_results_is_an_error(results_small, tmp_path):
    (results_small / "runs.jsonl").write_text("")
    with pytest.raises(PmcsuiteError, match="holds no runs yet"):
        build_report(results_small, out=tmp_path / "out")


def test_all_runs_failed_still_reports(results_small, tmp_path):
    lines = []
    for line in (results_small / "runs.jsonl").read_text().splitlines():
        record = json.loads(line)
        record.update(ok=False, error="synthetic failure", bench=None)
        lines.append(json.dumps(record))
    (results_small / "runs.jsonl").write_text("\n".join(lines) + "\n")
    out = build_report(results_small, out=tmp_path / "out")
    text = (out / "report.md").read_text()
    assert "nothing to plot" in text
    assert "No successful non-warm-up runs: nothing to analyse." in text
    assert "pipe 64K baseline: 4 of 4 runs failed (first error: synthetic failure)" in text
    assert not (out / "figures" / "bandwidth.png").exists()


def test_one_buffer_size_still_reports_every_section(results_small, tmp_path):
    lines = [line for line in (results_small / "runs.jsonl").read_text().splitlines()
             if json.loads(line)["buffer_size"] == 65536]
    (results_small / "runs.jsonl").write_text("\n".join(lines) + "\n")
    out = build_report(results_small, out=tmp_path / "out")
    text = (out / "report.md").read_text()
    assert "one buffer size (64 KiB) cannot show an inflexion point" in text
    assert "## Probe effect" in text and "## Kernel view: read()/write() return sizes" in text


def test_default_report_has_analysis_and_kernel_sections(tmp_path):
    text = (build_report(FIXTURE, out=tmp_path / "out") / "report.md").read_text()
    for title in ("## Bandwidth vs buffer size", "## Inflexion points and counters — pipe", "## Probe effect",
                  "## Kernel view: read()/write() return sizes", "## Kernel view: time asleep / off-CPU",
                  "## Kernel view: page faults"):
        assert title in text, title


# ------------------------------------------------------------------ issue 10: the page a person reads

@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    return build_report(FIXTURE, out=tmp_path_factory.mktemp("full"))


def test_findings_first_then_contents_then_details(full_report):
    html = (full_report / "report.html").read_text()
    findings, probe, toc = html.index('id="findings"'), html.index('id="probe-effect-at-a-glance"'), \
        html.index('id="contents"')
    assert findings < probe < toc < html.index("<table") and html.index('id="provenance"') > html.index("Kernel view")
    assert '<span class="tag' in html[findings:probe]                      # reliability of each finding
    md = (full_report / "report.md").read_text()
    assert md.index("## Findings") < md.index("## Contents") < md.index("## Bandwidth vs buffer size")
    assert "figures/findings-pipe.png" in md and "figures/probe-effect.png" in md


def test_html_is_correct(full_report):
    html = (full_report / "report.html").read_text()
    assert html.count("<pre><code>") >= 6 and "<p><code>write() returns" not in html     # histograms are <pre>
    assert html.count('<div class="scroll"><table>') == html.count("<table>")            # wide tables scroll
    assert "td { white-space: nowrap" in html and "<details" in html
    for raw in ("std_coef", "partial_r2", "counter_ci", "delta_slope", "baseline_mib_s", "p_corrected",
                "n_slowdown", "development VM"):
        assert raw not in html, raw


def test_shared_cpu_count_agrees_with_collect(tmp_path):
    from pmcsuite.results.summary import summary_lines
    from pmcsuite.report.context import ReportContext
    from pmcsuite.results.load import load
    df = load(FIXTURE)
    said = " ".join(summary_lines(FIXTURE))
    shared = ReportContext(df).shared_cpu["shared"]
    assert f"{shared} runs shared the CPU" in said or (shared == 0 and "shared the CPU" not in said)


def test_l41_import_kernel_view_is_one_honest_line(tmp_path):
    import pmcsuite
    result = pmcsuite.import_l41([Path(__file__).resolve().parent / "fixtures" / "l41"], tmp_path / "l41")
    md = (build_report(result, out=tmp_path / "r") / "report.md").read_text()
    assert "re-collect" not in md.lower() and "## Kernel view\n" in md
    assert "## Kernel view: read()/write() return sizes" not in md and "(no calls)" not in md


# ------------------------------------------------------------------ issue 15: findings a student reads

def test_findings_open_with_one_short_sentence_and_fold_the_numbers(full_report):
    md = (full_report / "report.md").read_text()
    lead = md.split("## Findings")[1].split("## Probe effect at a glance")[0]
    bullets = [line for line in lead.splitlines() if re.match(r'\d+\. <span class="tag', line)]
    assert bullets and all(len(line) < 250 for line in bullets)
    said = " ".join(bullets).lower()
    for word in ("support", "materiality", "context", "[unreliable", "cv "):
        assert word not in said, word
    assert lead.count("The numbers behind them") == 1 and "95 % interval" in lead.split("The numbers behind them")[1]
    assert lead.count("Words used here") == 1
    for term in ("interval", "process", "not established", "per-call model", "departure"):
        assert f"*{term}*:" in lead, term


def test_no_threshold_or_interval_rule_contradicts_itself(full_report):
    md = (full_report / "report.md").read_text()
    assert not re.search(r"(\d+(?:\.\d+)?) ?% ?> ?\1 ?%", md)               # never "10 % > 10 %"
    assert "an interval needs >= 3" not in md and "fewer than 3 runs" not in md


def test_findings_captions_promise_only_what_is_drawn(full_report):
    from pmcsuite.analysis import explain, findings
    from pmcsuite.results.load import load
    md = (full_report / "report.md").read_text()
    by_mode = {name[len("findings-"):]: caption
               for caption, name in re.findall(r"!\[([^\]]*)\]\(figures/(findings-[a-z-]+)\.png\)", md)}
    expl = explain(load(FIXTURE))
    found = findings(expl)
    assert set(by_mode) == set(expl.modes)
    for ipc, m in expl.modes.items():
        caption, model = by_mode[ipc], m.model
        assert ("per-call model" in caption) == (model is not None)
        assert ("departs" in caption) == bool(model is not None and model.departures)
        assert ("(star)" in caption) == any(f["kind"] == "peak" and f.get("ipc") == ipc for f in found)
        assert "segmented" not in caption and "bootstrap" not in caption


def test_groups_lost_on_the_machine_are_named_with_the_command_that_brings_them_back():
    meta = {"lost_groups": {"syscalls": "tracefs is not mounted: sudo mount -t tracefs nodev /sys/kernel/tracing",
                            "<b>x</b>": "why <i>"}}
    text = bandwidth.lost_groups_markdown(meta)
    assert "Groups lost on this machine (2)" in text
    assert "syscalls: tracefs is not mounted: sudo mount -t tracefs nodev /sys/kernel/tracing" in text
    assert "<b>" not in text and "<i>" not in text                # escaped: it comes from a result file
    assert bandwidth.lost_groups_markdown({}) == "" and bandwidth.lost_groups_markdown({"lost_groups": []}) == ""


def _copy_of_fixture(tmp_path) -> Path:
    import shutil
    directory = tmp_path / "res"
    shutil.copytree(FIXTURE, directory, ignore=shutil.ignore_patterns("*.parquet", ".lock"))
    return directory


def test_a_run_record_stored_twice_is_refused_not_counted_twice(tmp_path, cli):
    directory = _copy_of_fixture(tmp_path)
    lines = (directory / "runs.jsonl").read_text().splitlines(keepends=True)
    twice = next(k for k, line in enumerate(lines) if json.loads(line)["ok"])
    (directory / "runs.jsonl").write_text("".join(lines + [lines[twice]]))
    with pytest.raises(PmcsuiteError, match=rf"twice \(run records {twice + 1} and {len(lines) + 1}\)"):
        build_report(directory, out=tmp_path / "out")
    result = cli("summary", directory)
    assert result.returncode == 2 and "counted twice" in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_directory_of_warm_ups_only_has_nothing_to_summarise(tmp_path, cli):
    directory = _copy_of_fixture(tmp_path)
    records = [json.loads(line) for line in (directory / "runs.jsonl").read_text().splitlines()]
    (directory / "runs.jsonl").write_text("".join(json.dumps({**r, "warmup": True}) + "\n" for r in records))
    result = cli("summary", directory)
    assert result.returncode == 2 and result.stdout == ""
    assert "holds no measured runs" in result.stderr and len(result.stderr.splitlines()) == 1
