"""Result directory -> files for other tools: ``export`` and the tidy long form ``tidy_table``.

``export(DIR)`` writes, into ``DIR/export/`` (or ``out``):

- ``results.csv``, ``results.json``, ``results.parquet``: the result table of ``load`` (one row per
  run), as CSV, as JSON Table Schema (``pandas.read_json(path, orient="table")`` reads it back with
  its dtypes) and as Parquet; the size histograms are JSON text in CSV and Parquet;
- ``tidy.csv``: the long form of docs/import-csv.md (one row per run x counter), which
  ``pmcsuite import csv`` reads back into a result directory;
- ``summary.csv``, ``derived.csv``: ``summarise(df, "all")`` and ``derived_metrics(df)``;
- ``metadata.json``: the provenance of the result directory, plus where it was exported from.

``formats`` picks among csv, json and parquet (tidy, summary and derived are CSV files and come with
csv). Returns the paths written, in that order.
"""
from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pandas as pd

from ..errors import EnvironmentProblem, PmcsuiteError
from ..options import name_list
from ..schema import check_metadata, jsonable
from .load import counter_table, derived_metrics, load, require_runs, summarise
from .cache import histograms_as_text
from .store import check_ours, open_directory, open_in, storage_error

FORMATS = ("csv", "json", "parquet")
#: the columns of the tidy CSV (docs/import-csv.md), in order
TIDY_COLUMNS = ["ipc", "actors", "placement", "buffer_size", "total_size", "variant", "run", "process", "iteration",
                "warmup", "scope", "bandwidth", "loop_ns", "profile_period_ns", "profile_lost", "counter", "value",
                "status", "event", "unit"]
#: run columns the tidy form carries only when the table has them (``load`` always gives them), and
#: those of them that are whole numbers
_OPTIONAL_RUN_COLUMNS = ("process", "iteration", "profile_period_ns", "profile_lost")
_WHOLE_RUN_COLUMNS = ("process", "iteration", "profile_lost")


def _events(metadata: dict) -> dict:
    """counter id -> the event spelling the result set counted it with (from its plan's passes)."""
    events = {}
    for spec in ((metadata.get("plan") or {}).get("passes") or []):
        events.update({cid: event for cid, event in (spec.get("events") or {}).items() if event})
    return events


def _units(metadata: dict) -> dict:
    from ..catalogue import result_catalogue
    try:
        cat = result_catalogue(metadata)
    except PmcsuiteError:
        cat = None
    return {cid: counter.unit for cid, counter in cat.counters.items() if counter.unit} if cat is not None else {}


def tidy_runs(df: pd.DataFrame) -> pd.DataFrame:
    """The runs the tidy form can hold: successful ones, with a bandwidth (failed runs have none)."""
    return df[df["ok"].astype(bool) & df["bandwidth"].notna()]


def tidy_table(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The result table in the tidy long form of docs/import-csv.md: one row per run x counter it
    measured (:func:`pmcsuite.results.counter_table`), and one row with an empty ``counter`` for a run
    that measured none. Each run keeps its benchmark ``process`` and its ``iteration`` in it (empty
    where unknown), so that the analysis of the re-imported set groups runs as the original did, and
    its profile's period and lost samples (empty for a run that did not sample).
    Failed runs have no bandwidth, which that form cannot hold: they are left out (:func:`tidy_runs`),
    and their number is returned too."""
    ok = tidy_runs(df)
    columns = [c for c in TIDY_COLUMNS if c in df.columns or c not in _OPTIONAL_RUN_COLUMNS]
    run_columns = columns[:columns.index("counter")]
    runs = ok[run_columns].rename_axis("row").reset_index()
    metadata = df.attrs.get("metadata") or {}
    events, units = _events(metadata), _units(metadata)
    counted = counter_table(ok)[["row", "counter", "value", "status"]]
    counted = counted.assign(event=counted["counter"].map(events), unit=counted["counter"].map(units).fillna(""))
    out = runs.merge(counted.astype({"row": "int64"}), on="row", how="left").sort_values(["row"], kind="stable")
    out["warmup"] = out["warmup"].map({True: "true", False: "false"})
    for column in _WHOLE_RUN_COLUMNS:
        if column in out:
            out[column] = out[column].astype("Int64")        # whole numbers, empty where unknown
    return out[columns].reset_index(drop=True), int(len(df) - len(ok))


def export(source, out=None, formats=FORMATS) -> list[Path]:
    """Write the files of the module docstring into ``out`` (default ``DIR/export``); returns their
    paths. ``source``: a result directory, or the table ``load`` gave of one."""
    formats = name_list(formats, "export format", "csv,parquet")
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise PmcsuiteError(f"unknown export format {unknown[0]!r}: choose from {', '.join(FORMATS)}")
    df = require_runs(source if isinstance(source, pd.DataFrame) else load(source))
    directory = Path(df.attrs["directory"])
    target = Path(directory) / "export" if out is None else Path(out)
    if target.exists() and not target.is_dir():
        raise PmcsuiteError(f"{target} is a file: 'export --out' takes a directory to write the files into")
    metadata = check_metadata(jsonable({**df.attrs["metadata"], "exported_from": str(directory.resolve())}))
    written = []
    try:
        target_fd = _open_target(directory, out, target)
    except OSError as exc:
        raise storage_error("write into", target, exc) from None

    def write(name, save, mode="w"):
        with os.fdopen(open_in(target_fd, name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, target), mode) as handle:
            save(handle)
        written.append(target / name)

    try:
        text = histograms_as_text(df)
        if "csv" in formats:
            write("results.csv", lambda p: text.to_csv(p, index=False))
            write("tidy.csv", lambda p: tidy_table(df)[0].to_csv(p, index=False))
            write("summary.csv", lambda p: summarise(df, "all").to_csv(p, index=False))
            write("derived.csv", lambda p: derived_metrics(df).to_csv(p, index=False))
        if "json" in formats:
            write("results.json", lambda p: df.to_json(p, orient="table", index=False, date_format="iso", indent=None))
        if "parquet" in formats:
            write("results.parquet", lambda p: text.to_parquet(p, index=False), "wb")
        write("metadata.json", lambda p: p.write(json.dumps(metadata, indent=2, allow_nan=False) + "\n"))
    except OSError as exc:
        raise storage_error("write into", target, exc) from None
    finally:
        os.close(target_fd)
    return written


def _open_target(directory: Path, out, target: Path) -> int:
    """A handle on the directory to export into, made if needed: ``export/`` of the result directory,
    never through a symbolic link, or ``out`` as given; refused when another user owns it or can
    write into it."""
    if out is not None:
        target.mkdir(parents=True, exist_ok=True)
        fd = open_directory(target, "export into")
    else:
        parent = open_directory(directory, "export from")
        try:
            try:
                os.mkdir("export", 0o755, dir_fd=parent)
            except FileExistsError:
                pass
            fd = os.open("export", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(target):
                raise EnvironmentProblem(f"{target} is a symbolic link: pmcsuite never follows links in a result "
                                    "directory; remove it, or give 'export --out'") from None
            raise
        finally:
            os.close(parent)
    try:
        check_ours(target, os.fstat(fd), "export directory")
    except PmcsuiteError:
        os.close(fd)
        raise
    return fd
