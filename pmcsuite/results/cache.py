"""The columnar cache of a result table: ``runs.cache.parquet`` beside ``runs.jsonl``.

``runs.jsonl`` stays the source of truth; the cache only saves parsing it again. It holds the table
``results.load`` built from the first ``covered`` bytes of the journal (whole lines, none of them
corrupt) and, in its Parquet metadata, what the table cannot hold as columns (counters, warnings,
multiplexed values) with the SHA-256 of those bytes. It is used only when that digest matches the
journal's first ``covered`` bytes, when the SHA-256 of the cache file's own bytes matches the one
written beside it (``runs.cache.sha256``: a flipped bit or an edited column is never loaded), when it
was written by the same cache layout and result-table columns, and it then covers a prefix:
``load`` parses only the lines appended since (a collection in progress, a resume) and writes the
cache again. A journal that was cut, edited or replaced no
longer matches, and the table is built from the journal alone.

A cache that cannot be written (a read-only result directory, a full disk) is simply not written;
one that cannot be read is ignored. Delete it at will. Both files are opened relative to a handle on
the result directory, never through a symbolic link (``store.open_in``).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..schema import MIB, TABLE_COLUMNS, jsonable
from .store import RUNS, open_directory, open_in

CACHE = "runs.cache.parquet"
#: the SHA-256 of the cache file's bytes, written after it
DIGEST = "runs.cache.sha256"
#: bump when what ``results.load`` puts in the table changes in a way the columns do not show
LAYOUT = 1
_KEY = b"pmcsuite_cache"
#: the dict-valued columns, stored as JSON text (Parquet has no {int: int} column)
DICT_COLUMNS = ("write_sizes", "read_sizes")
#: rows converted to Arrow at a time when the cache is written
ROW_GROUP = 20_000


def cache_path(directory) -> Path:
    return Path(directory) / CACHE


@dataclass
class CachedTable:
    table: pd.DataFrame
    covered: int                 # bytes of runs.jsonl the table holds
    lines: int                   # lines of runs.jsonl in those bytes
    counters: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    multiplexed: list = field(default_factory=list)


def _layout() -> list:
    return [LAYOUT, [[name, str(dtype)] for name, dtype in TABLE_COLUMNS.items()]]


def _digest(dir_fd: int, directory, size: int) -> str | None:
    """SHA-256 of the first ``size`` bytes of the journal (None when it is shorter)."""
    digest, left = hashlib.sha256(), size
    with os.fdopen(open_in(dir_fd, RUNS, os.O_RDONLY, directory), "rb") as handle:
        while left:
            chunk = handle.read(min(left, MIB))
            if not chunk:
                return None
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def read(directory) -> CachedTable | None:
    """The cached table of ``directory`` when it still matches its journal, runs.jsonl (else None)."""
    try:
        dir_fd = open_directory(directory)
    except Exception:             # noqa: BLE001 - no directory: no cache
        return None
    try:
        return _read(dir_fd, directory)
    except Exception:             # noqa: BLE001 - no cache, or one we cannot use (any damage): use the journal
        return None
    finally:
        os.close(dir_fd)


def _read_file(dir_fd: int, directory, name: str) -> bytes:
    with os.fdopen(open_in(dir_fd, name, os.O_RDONLY, directory), "rb") as handle:
        return handle.read()


def _read(dir_fd: int, directory) -> CachedTable | None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    data = _read_file(dir_fd, directory, CACHE)
    if _read_file(dir_fd, directory, DIGEST).decode() != hashlib.sha256(data).hexdigest():
        return None               # damaged or edited since it was written
    meta = json.loads(pq.read_schema(pa.BufferReader(data)).metadata[_KEY])
    if meta.get("layout") != _layout() or _digest(dir_fd, directory, meta["covered"]) != meta["sha256"]:
        return None
    arrow = pq.read_table(pa.BufferReader(data))
    del data
    # text as categoricals, so that the object columns made from them share one string per value;
    # self_destruct frees each Arrow column once converted
    table = arrow.to_pandas(split_blocks=True, self_destruct=True, strings_to_categorical=True)
    del arrow
    counters = [str(c) for c in meta["counters"]]
    if list(table.columns) != [*TABLE_COLUMNS, *counters, *(f"{c}_status" for c in counters)]:
        return None               # not the table results.load makes (written by hand, or damaged)
    seen = {}          # equal histograms are one dict, as results.load makes them (read-only)
    for name in DICT_COLUMNS:
        table[name] = [_histogram(text, seen) for text in table[name].astype(object)]
    return CachedTable(table, int(meta["covered"]), int(meta["lines"]), counters, list(meta["warnings"]),
                       list(meta["multiplexed"]))


def _histogram(text, seen: dict):
    if not isinstance(text, str):
        return None
    if text not in seen:
        seen[text] = {int(k): v for k, v in json.loads(text).items()}
    return seen[text]


def histograms_as_text(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` (shallow copy) with its size histograms as JSON text (``{"65536": 255}``), the form
    Parquet and CSV can hold; ``_histogram`` reads it back."""
    out = df.copy(deep=False)
    for name in DICT_COLUMNS:
        out[name] = [None if d is None else json.dumps(d) for d in out[name]]
    return out


class _HashingFile:
    """A file object that keeps the SHA-256 of what is written through it."""

    def __init__(self, handle):
        self.handle, self.sha256, self.closed = handle, hashlib.sha256(), False

    def write(self, data) -> int:
        self.sha256.update(data)
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()

    def close(self) -> None:
        self.closed = True


def write(directory, cached: CachedTable) -> bool:
    """Write ``cached`` as the cache of ``directory`` (atomically), then its digest; False when it
    cannot be written."""
    tmp, tmp_digest = f".{CACHE}.{os.getpid()}.tmp", f".{DIGEST}.{os.getpid()}.tmp"
    try:
        dir_fd = open_directory(directory)
    except Exception:             # noqa: BLE001 - no directory: no cache
        return False
    try:
        meta = {"layout": _layout(), "covered": cached.covered, "lines": cached.lines,
                "sha256": _digest(dir_fd, directory, cached.covered), "counters": list(cached.counters),
                "warnings": list(cached.warnings), "multiplexed": list(cached.multiplexed)}
        digest = _write_table(dir_fd, directory, tmp, histograms_as_text(cached.table), meta)
        _write_new(dir_fd, directory, tmp_digest, digest.encode())
        os.replace(tmp, CACHE, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        os.replace(tmp_digest, DIGEST, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        return True
    except Exception:             # noqa: BLE001 - a cache is optional: never fail a load for it
        for name in (tmp, tmp_digest):
            try:
                os.unlink(name, dir_fd=dir_fd)
            except OSError:
                pass
        return False
    finally:
        os.close(dir_fd)


def _write_new(dir_fd: int, directory, name: str, data: bytes) -> None:
    with os.fdopen(open_in(dir_fd, name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, directory), "wb") as handle:
        handle.write(data)


def _write_table(dir_fd: int, directory, name: str, frame: pd.DataFrame, meta: dict) -> str:
    """Write ``frame`` as a new Parquet file ``name`` with ``meta``; the SHA-256 of its bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    schema = pa.Schema.from_pandas(frame, preserve_index=False)       # types from every row, not a slice's
    schema = schema.with_metadata({**(schema.metadata or {}), _KEY: json.dumps(jsonable(meta))})
    fd = open_in(dir_fd, name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, directory)
    with os.fdopen(fd, "wb") as handle:
        sink = _HashingFile(handle)
        with pq.ParquetWriter(sink, schema) as writer:
            for start in range(0, len(frame), ROW_GROUP):      # a slice at a time: never a second copy
                writer.write_table(pa.Table.from_pandas(frame.iloc[start:start + ROW_GROUP], schema=schema,
                                                        preserve_index=False))
    return sink.sha256.hexdigest()
