"""The result directory: ``metadata.json`` plus append-only ``runs.jsonl`` (see docs/DESIGN.md)."""
import json
import os
from pathlib import Path

from .errors import PmcsuiteError
from .schema import FORMAT, FORMAT_VERSION, READABLE_VERSIONS

METADATA = "metadata.json"
RUNS = "runs.jsonl"


class ResultStore:
    """Reads and writes one result directory. Every run is on disk as soon as ``append_run`` returns."""

    def __init__(self, directory):
        self.dir = Path(directory)

    @property
    def metadata_path(self) -> Path:
        return self.dir / METADATA

    @property
    def runs_path(self) -> Path:
        return self.dir / RUNS

    def exists(self) -> bool:
        return self.metadata_path.exists()

    def ensure_new(self, resumable: bool = True) -> None:
        """Refuse to write over a result directory (``resumable``: say how to finish it instead)."""
        if self.exists():
            hint = f"use --resume {self.dir} to finish it, or choose another --out" if resumable else "choose another --out"
            raise PmcsuiteError(f"{self.dir} already holds results: {hint}")

    def create(self, metadata: dict, overwrite: bool = False, resumable: bool = True) -> None:
        if not overwrite:
            self.ensure_new(resumable)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PmcsuiteError(f"cannot create result directory {self.dir}: {exc.strerror}") from None
        self.write_metadata(metadata)
        self.runs_path.touch()

    def write_metadata(self, metadata: dict) -> None:
        tmp = self.metadata_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, **metadata}, indent=2, default=str) + "\n")
        os.replace(tmp, self.metadata_path)

    def drop_incomplete_tail(self) -> int:
        """Cut off what a crash left unfinished at the end of runs.jsonl: a last line without its
        newline, and the iterations of a benchmark process whose batch was cut short (a process's
        runs are appended together, so only the last batch can be incomplete). The next run is
        then appended on a line of its own, and the cut process is run again whole. Returns the
        number of lines cut (a partial line counts as one)."""
        if not self.runs_path.exists():
            return 0
        data = self.runs_path.read_bytes()
        keep, cut = len(data), 0
        if data and not data.endswith(b"\n"):
            keep, cut = data.rfind(b"\n") + 1, 1
        lines = data[:keep].splitlines(keepends=True)
        batch = _incomplete_batch(lines)
        if batch:
            keep -= sum(len(line) for line in lines[-batch:])
            cut += batch
        if cut:
            with open(self.runs_path, "r+b") as handle:
                handle.truncate(keep)
        return cut

    def append_run(self, record: dict) -> None:
        self.append_runs([record])

    def append_runs(self, records) -> None:
        """Append the runs of one benchmark process in one write, then flush and fsync."""
        text = "".join(json.dumps(r, default=str, allow_nan=False) + "\n" for r in records)
        with open(self.runs_path, "a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    def read_metadata(self) -> dict:
        if not self.dir.is_dir():
            raise PmcsuiteError(f"{self.dir} is not a directory: give a result directory made by 'pmcsuite collect' or 'pmcsuite import'")
        if not self.metadata_path.exists():
            raise PmcsuiteError(f"{self.dir} has no {METADATA}: it is not a pmcsuite result directory")
        try:
            meta = json.loads(self.metadata_path.read_text())
        except (ValueError, UnicodeDecodeError) as exc:
            raise PmcsuiteError(f"{self.metadata_path} is corrupt ({exc}); restore it or collect again") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise PmcsuiteError(f"{self.metadata_path} is not a pmcsuite metadata file")
        if meta.get("format_version") not in READABLE_VERSIONS:
            raise PmcsuiteError(f"{self.metadata_path} has format_version {meta.get('format_version')!r}, which this "
                                f"pmcsuite cannot read (it reads {', '.join(map(str, READABLE_VERSIONS))}): "
                                "use the pmcsuite that wrote it")
        return meta

    def read_runs(self, strict: bool = False) -> list[dict]:
        """All stored runs. A truncated last line (a run cut off by a crash) is dropped; other
        corrupt lines raise, naming the line, unless ``strict`` is False, in which case they are skipped
        and counted in ``self.skipped``."""
        self.skipped = []
        if not self.runs_path.exists():
            raise PmcsuiteError(f"{self.dir} has no {RUNS}: it is not a pmcsuite result directory")
        runs = []
        lines = self.runs_path.read_text(encoding="utf-8", errors="replace").splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                if number == len(lines):
                    self.skipped.append(number)
                    continue
                if strict:
                    raise PmcsuiteError(f"{self.runs_path}:{number} is corrupt ({exc}); remove that line to keep the rest") from None
                self.skipped.append(number)
                continue
            runs.append(record)
        return runs


def _incomplete_batch(lines: list[bytes]) -> int:
    """How many trailing lines belong to a process whose iterations stop short (0 if none)."""
    if not lines:
        return 0
    try:
        last = json.loads(lines[-1])
    except ValueError:
        return 0
    if not isinstance(last, dict) or last.get("iteration") is None or not isinstance(last.get("iterations"), int):
        return 0
    if last["iteration"] + 1 >= last["iterations"]:
        return 0
    return min(last["iteration"] + 1, len(lines))
