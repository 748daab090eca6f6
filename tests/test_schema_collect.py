"""Every field a real collection writes into metadata.json is in schema.METADATA, with its type: the
metadata of a collect and of its resume, built by the code that writes them (never copied here)."""
import json

import pytest

import pmcsuite
from pmcsuite.schema import METADATA, check_metadata

pytestmark = pytest.mark.e2e


def test_every_field_a_collection_writes_is_registered(tmp_path):
    out = pmcsuite.collect(out=tmp_path / "r", ipcs=["pipe"], sizes="64K", runs=2, warmup=1, total="1M",
                           backend="none", progress=False)
    created = json.loads((out / "metadata.json").read_text())
    pmcsuite.collect(resume=out, progress=False)             # nothing left to run: adds "resumes"
    resumed = json.loads((out / "metadata.json").read_text())
    for meta in (created, resumed):
        assert set(meta) <= set(METADATA) and check_metadata(meta) is meta
    assert {"format", "format_version", "pmcsuite_version", "created", "command_line", "seed", "source", "host",
            "tag", "platform", "backend", "tools", "catalogue", "plan", "settings"} <= set(created)
    assert set(resumed) - set(created) == {"resumes"}
