"""The report's "Where the time goes (kernel profile)" section (issue 17), on a synthetic result directory
written as collect would (tests/collected.py ``store``): its figures, the folded-stack files beside the
report, escaping of what the result files hold, and no section (nor any change) without a profile."""
from pathlib import Path

import matplotlib.image
import pytest

from collected import STACK_FRAMES, sweep, store
from pmcsuite.analysis.profile import merge_folded, parse_folded
from pmcsuite.report import build_report
from pmcsuite.report.profile_section import TITLE
from pmcsuite.results.store import ResultStore

pytestmark = pytest.mark.unit

SIZES = [4096, 16384, 65536, 262144, 1048576]
PROFILE = {"fault": lambda n: 200.0 if n >= 1 << 20 else 10.0, "memcg": lambda n: 100.0,
           "copy": lambda n: 300.0, "syscall": lambda n: 2e6 / n, "user": lambda n: 20.0, "other": lambda n: 60.0}
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    base = tmp_path_factory.mktemp("profile")
    df = sweep(2, passes=("profile",), sizes=SIZES, runs=7, processes=3, ipcs=("pipe", "local"), profile=PROFILE)
    results = store(df, base / "results", {"plan": {"ipc": ["pipe", "local"], "sizes": SIZES}})
    out = build_report(results, out=base / "report")
    return Path(results), out


def section(markdown: str) -> str:
    start = markdown.index(f"## {TITLE}")
    return markdown[start:markdown.index("\n## ", start + 3)]


def test_the_section_and_its_figures(made):
    _, out = made
    text = section((out / "report.md").read_text(encoding="utf-8"))
    for name in ("profile-shares.png", "profile-faults.png", "profile-flame-pipe.png", "profile-flame-local.png"):
        assert f"figures/{name}" in text
        assert matplotlib.image.imread(out / "figures" / name).shape[0] > 100
    assert "### pipe" in text and "memory-cgroup charging" in text and "### Page faults against the loop" in text
    assert text.index("### pipe") < text.index("### local")          # the plan's order


def test_folded_files_beside_the_report_hold_every_measured_run_of_their_point(made):
    results, out = made
    files = sorted(p.name for p in (out / "profiles").glob("*.folded"))
    assert files == sorted(f"{ipc}-{s}.folded" for ipc in ("pipe", "local") for s in ("4K", "64K", "1M"))
    expected = merge_folded(record for _, record in ResultStore(results).iter_runs())
    text = (out / "profiles" / "pipe-64K.folded").read_text(encoding="utf-8")
    assert parse_folded(text) == expected[("pipe", 65536)]
    assert all(line.split(";")[0] in ("writer", "reader") for line in text.splitlines())
    assert "profiles/pipe-64K.folded" in (out / "report.md").read_text(encoding="utf-8")


def test_what_the_result_files_hold_is_escaped(made):
    _, out = made
    page = (out / "report.html").read_text(encoding="utf-8")
    assert HOSTILE in STACK_FRAMES["other"]
    assert "<script>" not in page
    unmatched = page[page.index("Functions in no category"):]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in unmatched[:unmatched.index("</table>")]
    assert "--catalogue FILE" in unmatched


def test_the_synthetic_stacks_fall_in_their_own_categories():
    from pmcsuite.catalogue import builtin_catalogue
    from pmcsuite.collect.profile import categorise
    categories = builtin_catalogue().profile_categories
    for name, frames in STACK_FRAMES.items():
        assert categorise(list(reversed(frames.split(";"))), categories, "linux") == name


def test_the_probe_effect_of_the_profile_pass_is_in_the_overhead_section(made):
    _, out = made
    markdown = (out / "report.md").read_text(encoding="utf-8")
    overhead = markdown[markdown.index("## Probe effect (overhead of the counters)"):]
    assert "| pipe | profile |" in overhead and "| local | profile |" in overhead


def test_no_profile_no_section(tmp_path):
    df = sweep(2, passes=("pmc",), sizes=SIZES[:3], runs=5, processes=2, ipcs=("pipe",))
    out = build_report(store(df, tmp_path / "results"), out=tmp_path / "report")
    assert TITLE not in (out / "report.md").read_text(encoding="utf-8")
    assert not (out / "profiles").exists()


def test_unknown_frames_are_explained_and_odd_names_drawn_as_written(tmp_path):
    from pmcsuite.report.profile_section import _unmatched_text, plot_flames
    folded = {"writer;asm_sysvec_apic_timer_interrupt;[unknown]": 9, "writer;entry_SYSCALL_64;do_syscall_64": 3}
    text = _unmatched_text(folded, {})
    assert "| \\[unknown\\] | 9 | 100 % | 75 % |" in text and "kptr_restrict" in text
    odd = {"reader;$\\frac{a$;{bad": 5, "writer;[user]": 5}           # mathtext would refuse this name
    path = plot_flames("pipe", [(4096, odd)], tmp_path / "flame.png")
    assert matplotlib.image.imread(path).shape[0] > 50
