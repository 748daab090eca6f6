"""Importers: existing benchmark output -> a pmcsuite result directory (docs/DESIGN.md).

- :func:`import_l41` reads the Cambridge L41 IPC benchmark's own output (2015-2020 ``ipc-static``
  text, 2020-2023 ``ipc-benchmark -j`` JSON), placed by an optional manifest.
- :func:`import_csv` reads the documented tidy CSV (docs/import-csv.md).

Both parse everything first (pure functions) and write the directory only when every input is
valid, so a bad file never leaves a half-written result directory behind.

The helpers below are shared by both importers: catalogue access (optional while the catalogue
module is absent), file hashing and the metadata skeleton of an imported result directory.
"""
import hashlib
from datetime import datetime, timezone
from pathlib import Path

from ... import __version__

UNKNOWN_HOST = {"hostname": None, "os": "unknown", "os_release": None, "kernel": None,
                "machine": None, "cpu_model": None, "cpus": None, "python": None}


def load_catalogue_or_none(extra=()):
    """The counter catalogue, or None when ``pmcsuite.catalogue`` is not installed.

    Only a missing module is tolerated: a catalogue that exists but is broken raises its own
    PmcsuiteError, because importing against a broken catalogue would mislabel counters."""
    try:
        from ...catalogue import load_catalogue
    except ImportError:
        return None
    return load_catalogue(list(extra))


def catalogue_info(cat) -> dict | None:
    """The ``catalogue`` object of metadata.json (None when no catalogue was available), with the
    snapshot of the merged catalogue's source files (``catalogue.catalogue_metadata``): analysis of
    the imported directory reads that, not the YAML files of the day."""
    if cat is None:
        return None
    from ...catalogue import catalogue_metadata
    return catalogue_metadata(cat)


def file_sha256(path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def now_iso() -> str:
    """Current UTC time, ISO 8601 with offset (the ``created`` field)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def base_metadata(source: str, command_line, cat, host: dict | None = None,
                  host_note: str | None = None) -> dict:
    """Metadata fields common to every import; the caller adds platform, plan and ``imported``.

    Host fields are never invented: they stay null/"unknown" unless the data (``host``) or the
    user (``host_note``) says something."""
    host_obj = dict(UNKNOWN_HOST)
    host_obj.update({k: v for k, v in (host or {}).items() if v is not None})
    if host_note:
        host_obj["note"] = host_note
    return {
        "pmcsuite_version": __version__,
        "created": now_iso(),
        "command_line": [str(a) for a in command_line],
        "seed": None,
        "host": host_obj,
        "backend": "import",
        "tools": {},
        "catalogue": catalogue_info(cat),
        "source": source,
    }


def write_result(out, metadata: dict, records: list[dict]) -> None:
    """Create the result directory ``out`` with ``metadata`` and the imported runs, each validated
    as a schema.RunRecord first (a record that does not validate is a bug of the importer)."""
    from ...schema import RunRecord
    from ..store import ResultStore
    runs = [RunRecord.from_json(rec).to_json() for rec in records]
    store = ResultStore(out)
    store.create(metadata, resumable=False)
    store.append_runs(runs)


from .l41 import import_l41, parse_l41_json, parse_l41_text  # noqa: E402  (needs the helpers above)
from .tidy_csv import import_csv  # noqa: E402

__all__ = ["import_l41", "import_csv", "parse_l41_text", "parse_l41_json"]
