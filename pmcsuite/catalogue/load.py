"""Loading the catalogue: the built-in ``counters.yaml`` merged with user files, or the catalogue a
result directory stored (its snapshot in metadata.json).

``load_catalogue()`` reads the built-in file shipped with the package, then merges each user
file given with ``--catalogue`` over it (rules in :mod:`.build`). Every problem is one
``PmcsuiteError`` line naming the file and the dotted path of the entry at fault
(``counters.yaml: groups.l1: ...``).
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from ..errors import PmcsuiteError
from .build import build, merge
from .files import read_yaml
from .model import SNAPSHOT_FORMAT, Catalogue
from .validate import FileChecker

#: the built-in catalogue (the repository's counters.yaml; pmcsuite/counters.yaml links to it)
BUILTIN = Path(__file__).parent.parent / "counters.yaml"


def load_catalogue(extra=()) -> Catalogue:
    """Load the built-in ``counters.yaml`` and merge the user files ``extra`` over it, in order."""
    if isinstance(extra, (str, Path)):
        extra = [extra]
    paths = [BUILTIN, *(Path(p) for p in extra)]
    return _load([(path, str(path.resolve()), None) for path in paths])


@functools.cache
def builtin_catalogue() -> Catalogue:
    """The built-in catalogue, loaded once per process: for the counter facts code reads at import
    (probe counters, crosschecks, meanings) and for fallbacks. Shared: treat it as read-only."""
    return load_catalogue()


def _load(files_in: list) -> Catalogue:
    """Merge ``[(path for messages, source name, raw bytes or None to read the file)]`` in order."""
    merged: dict = {}
    origins: dict = {}
    digest = hashlib.sha256()
    files, sources, texts = [], [], []
    for index, (path, source, raw_in) in enumerate(files_in):
        data, raw = read_yaml(Path(path), raw_in)
        digest.update(raw)
        files.append(str(path))
        sources.append(source)
        texts.append(raw.decode("utf-8"))
        merge(merged, FileChecker(files[-1]).file(data, builtin=index == 0), files[-1], origins)
    cat = build(merged, origins, files, sources, digest.hexdigest())
    cat.texts = texts
    return cat


def catalogue_from_snapshot(snapshot: dict, sha256: str | None = None) -> Catalogue:
    """Rebuild the catalogue stored by ``catalogue_snapshot``. ``sha256``: the digest recorded
    beside it; a snapshot that does not hash to it is refused (it was edited or truncated)."""
    files = (snapshot or {}).get("files") if isinstance(snapshot, dict) else None
    if (not isinstance(snapshot, dict) or snapshot.get("format") != SNAPSHOT_FORMAT or not isinstance(files, list)
            or not files or not all(isinstance(f, dict) and isinstance(f.get("text"), str) for f in files)):
        raise PmcsuiteError("the catalogue snapshot in metadata.json is not a format-1 snapshot "
                            "({'format': 1, 'files': [{'source', 'text'}]})")
    cat = _load([(f"{f.get('source') or 'catalogue'} (snapshot)", str(f.get("source") or "snapshot"),
                  f["text"].encode("utf-8")) for f in files])
    if sha256 is not None and cat.sha256 != sha256:
        raise PmcsuiteError(f"the catalogue snapshot in metadata.json hashes to {cat.sha256[:16]}…, not the "
                            f"recorded {str(sha256)[:16]}…: it was edited")
    return cat


_SNAPSHOT_CACHE: dict[str, Catalogue] = {}


def result_catalogue(metadata: dict | None) -> Catalogue | None:
    """The catalogue a result directory was collected (or imported) with.

    From the snapshot its metadata.json holds (``catalogue.snapshot``, see ``catalogue_snapshot``):
    today's YAML files do not matter, so a counter or derived metric that was in the catalogue then
    keeps its description, unit and formula even if it has since been removed or changed. Result
    directories made before snapshots existed (or whose snapshot does not rebuild) fall back to
    today's files: the built-in one plus the user files ``catalogue.sources`` lists that still exist,
    else the built-in one alone; then ``Catalogue.note`` says so (None otherwise). Returns None when
    nothing loads. Rebuilt snapshots are cached by digest: treat the object as read-only.
    """
    info = (metadata or {}).get("catalogue") or {}
    snapshot = info.get("snapshot")
    problem = None
    if snapshot is not None:
        key = str(info.get("sha256")) + ":" + str(len((snapshot or {}).get("files") or []))
        if key in _SNAPSHOT_CACHE:
            return _SNAPSHOT_CACHE[key]
        try:
            cat = catalogue_from_snapshot(snapshot, info.get("sha256"))
        except PmcsuiteError as exc:
            problem = f"its catalogue snapshot does not load ({exc})"
        else:
            _SNAPSHOT_CACHE[key] = cat
            return cat
    return _todays_catalogue(info, problem or "this result directory predates catalogue snapshots")


def _todays_catalogue(info: dict, why: str) -> Catalogue | None:
    """``result_catalogue``'s fallback: today's files, with a ``note`` saying so and why."""
    sources = info.get("sources") or []
    extra = [Path(s) for s in sources[1:] if Path(s).is_file()]   # sources[0] is the built-in file
    missing = [str(s) for s in sources[1:] if not Path(s).is_file()]
    try:
        cat = load_catalogue(extra)
        today = "today's catalogue files" + (f" (missing now: {', '.join(missing)})" if missing else "")
    except PmcsuiteError:
        try:
            cat = load_catalogue()
        except PmcsuiteError:
            return None
        today = "today's built-in catalogue only (its user catalogue files no longer load)"
    changed = info.get("sha256") and cat.sha256 != info.get("sha256")
    cat.note = (f"{why}: counters are described with {today}"
                + ("; they differ from the catalogue the results were collected with (sha256 "
                   f"{str(info.get('sha256'))[:16]}…)" if changed else ""))
    return cat
