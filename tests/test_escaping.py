"""Strings from a result directory (IPC modes, passes, counter ids, hosts, tags, tools, warnings,
errors) are shown as text in report.html, never as live HTML; a byte that is not UTF-8 never makes
a new IPC mode."""
import json
from html.parser import HTMLParser

import pytest

from collected import QUICK_SIZES, store, sweep

import pmcsuite
from pmcsuite.report import build_report

pytestmark = pytest.mark.unit

TAG = "<img src=x onerror=alert(1)>"


class _LiveTags(HTMLParser):
    """The elements of a page that carry the planted tag's marks (an ``img`` from ``x``, a script, an
    ``onerror`` attribute)."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" or "onerror" in attrs or (tag == "img" and attrs.get("src") == "x"):
            self.found.append((tag, attrs))


def _hostile_directory(path):
    """A result directory whose names and texts all hold ``TAG``: an IPC mode, a pass, a counter id
    (with backticks), the host, tag, platform, backend, tools, note, lost groups, warnings and errors;
    the pass counts the kernel view's tracepoint counters, so the probe-effect paragraph names it."""
    df = sweep(1, passes=(TAG + "p",), ipcs=("pipe", TAG), sizes=QUICK_SIZES[:4], runs=5)
    counter = "a`" + TAG + "`c"
    store(df, path, metadata={"host": {"hostname": TAG}, "tag": TAG, "platform": [TAG], "backend": TAG,
                              "command_line": [TAG], "note": TAG, "tools": {TAG: TAG}, "lost_groups": {TAG: TAG},
                              "plan": {"ipc": ["pipe", TAG], "sizes": QUICK_SIZES[:4],
                                       "passes": [{"name": TAG + "p", "counters": [counter]}]}})
    records = [json.loads(line) for line in (path / "runs.jsonl").read_text().splitlines()]
    for r in records:
        r["warnings"] = [TAG + "w"]
        if r["variant"] != "baseline":
            writes, reads = r["bench"]["writes"], r["bench"]["reads"]
            r["counters"] = {
                counter: {"event": TAG, "value": float(r["buffer_size"] * (1 + r["run"] % 3)), "unit": "x",
                          "status": "ok"},
                "syscalls_write": {"event": "e", "value": writes + 2.0, "unit": "calls", "status": "ok"},
                "syscalls_read": {"event": "e", "value": reads + 2.0, "unit": "calls", "status": "ok"}}
        if r["run"] == 3 and r["buffer_size"] == QUICK_SIZES[0]:
            r.update(ok=False, error=TAG + "e", bench=None, counters={})
    (path / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_no_string_from_the_results_becomes_live_html(tmp_path):
    directory = _hostile_directory(tmp_path / "res")
    out = build_report(directory, out=tmp_path / "report", compare_with=[directory])
    page = (out / "report.html").read_text()
    assert "Probe effect" in page and page.count("onerror=alert(1)") > 20    # the strings are shown ...
    parser = _LiveTags()
    parser.feed(page)
    assert parser.found == []                                               # ... as text only


def test_a_byte_that_is_not_utf8_makes_no_new_ipc_mode(tmp_path):
    directory = store(sweep(1, ipcs=("pipe",), sizes=QUICK_SIZES[:2], runs=3), tmp_path / "res")
    lines = (directory / "runs.jsonl").read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"ipc": "pipe"', b'"ipc": "pipe\xff"')
    (directory / "runs.jsonl").write_bytes(b"".join(lines))
    table = pmcsuite.load(directory)
    assert set(table["ipc"]) == {"pipe"} and table.attrs["skipped_lines"] == [3]
