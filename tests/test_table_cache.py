"""The columnar cache beside runs.jsonl (pmcsuite.results.cache): a load through it is the journal's load,
and anything that changes the journal is seen."""
import json
from pathlib import Path

import pandas as pd
import pytest

from pmcsuite.results import cache as table_cache
from pmcsuite.errors import PmcsuiteError
from pmcsuite.results.load import load

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "results_small"



def same_table(a: pd.DataFrame, b: pd.DataFrame):
    """Equal frames, dtypes, Python types of every value, and attrs."""
    pd.testing.assert_frame_equal(a, b)
    for column in a.columns:
        assert [type(v) for v in a[column]] == [type(v) for v in b[column]], column
    assert dict(a.attrs) == dict(b.attrs)


def append_copies(results_small: Path, count: int) -> None:
    """Append ``count`` copies of the last run (new run and seq numbers), as a collection appends."""
    last = json.loads((results_small / "runs.jsonl").read_text().splitlines()[-1])
    with open(results_small / "runs.jsonl", "a") as handle:
        for k in range(count):
            handle.write(json.dumps({**last, "run": last["run"] + 1000 + k, "seq": last["seq"] + 1 + k,
                                     "warnings": [f"copy {k}"]}) + "\n")


def test_cached_load_is_the_journal_load(results_small):
    journal = load(results_small, cache=False)
    assert not table_cache.cache_path(results_small).exists()     # cache=False leaves it alone
    first = load(results_small)
    assert table_cache.cache_path(results_small).exists()
    cached = table_cache.read(results_small)
    assert cached is not None and len(cached.table) == len(journal) == 72
    same_table(journal, first)
    same_table(journal, load(results_small))


def test_appended_runs_are_read_and_the_cache_refreshed(results_small, monkeypatch):
    load(results_small)
    append_copies(results_small, 3)
    monkeypatch.setattr("pmcsuite.results.load._REWRITE", 10_000)      # 3 runs are 4 % of 72: not rewritten yet
    grown = load(results_small)
    assert len(grown) == 75 and grown.attrs["warnings"][-1] == {"row": 74, "warning": "copy 2"}
    same_table(load(results_small, cache=False), grown)
    assert len(table_cache.read(results_small).table) == 72
    append_copies(results_small, 2)                                           # now 5 beyond 72: rewritten
    same_table(load(results_small, cache=False), load(results_small))
    assert len(table_cache.read(results_small).table) == 77


@pytest.mark.parametrize("change", ["edit", "truncate", "replace"])
def test_a_changed_journal_is_never_answered_from_the_cache(results_small, change):
    load(results_small)
    path = results_small / "runs.jsonl"
    text = path.read_text()
    if change == "edit":               # same length, one digit of a bandwidth changed
        record = json.loads(text.splitlines()[5])
        old = json.dumps(record["bench"]["bandwidth"])
        new = old[:-1] + ("1" if old[-1] != "1" else "2")
        assert text.count(old) == 1
        path.write_text(text.replace(old, new))
    elif change == "truncate":         # a resume cut a batch: shorter than the cache covers
        path.write_text("".join(text.splitlines(keepends=True)[:60]))
    else:                               # another result set moved in
        lines = text.splitlines(keepends=True)
        path.write_text("".join(lines[:30] + [json.dumps({**json.loads(lines[40]), "run": 99}) + "\n"] + lines[31:]))
    assert table_cache.read(results_small) is None
    same_table(load(results_small, cache=False), load(results_small))


def test_unusable_caches_are_ignored(results_small, monkeypatch):
    journal = load(results_small, cache=False)
    table_cache.cache_path(results_small).write_bytes(b"PAR1 not parquet at all")
    same_table(journal, load(results_small))                                   # and rewritten
    assert table_cache.read(results_small) is not None
    monkeypatch.setattr(table_cache, "LAYOUT", table_cache.LAYOUT + 1)   # written by another layout
    assert table_cache.read(results_small) is None
    same_table(journal, load(results_small))


def test_a_cache_that_cannot_be_written_is_not_an_error(results_small):
    table_cache.cache_path(results_small).mkdir()                              # something else stands there
    same_table(load(results_small, cache=False), load(results_small))
    assert not list(results_small.glob(".*.tmp"))


def test_the_cache_covers_whole_good_lines_only(results_small):
    path = results_small / "runs.jsonl"
    whole = path.read_text().splitlines(keepends=True)
    path.write_text("".join(whole[:-1]) + whole[-1][:40])              # the last run is cut off
    assert len(load(results_small)) == 71 and load(results_small).attrs["skipped_lines"] == [72]
    path.write_text("".join(whole))                                      # ... and completed
    df = load(results_small)
    assert len(df) == 72 and df.attrs["skipped_lines"] == []
    same_table(load(results_small, cache=False), df)


def test_corrupt_lines_are_reported_every_time_and_strict_still_refuses(results_small):
    path = results_small / "runs.jsonl"
    lines = path.read_text().splitlines()
    lines[9] = "this is not json"
    path.write_text("\n".join(lines) + "\n")
    for _ in range(2):
        df = load(results_small)
        assert len(df) == 71 and df.attrs["skipped_lines"] == [10]
    with pytest.raises(PmcsuiteError, match=r"runs.jsonl:10 is corrupt"):
        load(results_small, strict=True)


def test_a_cache_with_other_columns_is_not_used(results_small):
    journal = load(results_small, cache=False)
    load(results_small)
    path = table_cache.cache_path(results_small)
    import pyarrow.parquet as pq
    table = pq.read_table(path)
    pq.write_table(table.drop_columns(["cycles_status"]), path)     # metadata kept, a column gone
    assert table_cache.read(results_small) is None
    same_table(journal, load(results_small))


def test_a_cache_with_flipped_bits_never_answers_for_the_journal(results_small):
    """Before: 169 of 1,000 random 1-4-bit flips in the cache loaded a table unlike runs.jsonl."""
    import random
    journal = load(results_small, cache=False)
    load(results_small)
    path = table_cache.cache_path(results_small)
    good = path.read_bytes()
    rng = random.Random(18)
    for _ in range(60):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(data))
        same_table(journal, load(results_small))


def test_a_cache_with_an_edited_column_is_not_used(results_small):
    """Before: the bandwidth column doubled in the cache (its metadata kept) doubled every summary."""
    journal = load(results_small, cache=False)
    load(results_small)
    path = table_cache.cache_path(results_small)
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    table = pq.read_table(path)
    doubled = pc.multiply(table["bandwidth"], 2)
    pq.write_table(table.set_column(table.schema.get_field_index("bandwidth"), "bandwidth", doubled), path)
    assert table_cache.read(results_small) is None
    same_table(journal, load(results_small))
