"""What both importers share: catalogue access (optional while the catalogue module is absent),
file hashing, the metadata skeleton of an imported result directory and writing it."""
import hashlib
from pathlib import Path

from ...version import __version__
from ...schema import RunRecord, stamp

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
        **stamp(__version__, command_line),
        "seed": None,
        "host": host_obj,
        "backend": "import",
        "tools": {},
        "catalogue": catalogue_info(cat),
        "source": source,
    }


def write_result(out, metadata: dict, runs: list[RunRecord]) -> None:
    """Create the result directory ``out`` with ``metadata`` (checked against schema.METADATA) and
    the imported runs (each built, hence validated, as a schema.RunRecord by its importer), holding
    the directory's lock meanwhile (two imports into one ``out``: one is refused, nothing mixed)."""
    from ..store import ResultStore
    store = ResultStore(out)
    store.lock()
    try:
        store.create(metadata, resumable=False)
        store.append_runs([run.to_json() for run in runs])
    finally:
        store.unlock()
