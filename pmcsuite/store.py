"""The result directory: ``metadata.json`` plus append-only ``runs.jsonl`` (see docs/DESIGN.md)."""
import json
import os
from pathlib import Path

from .errors import PmcsuiteError

METADATA = "metadata.json"
RUNS = "runs.jsonl"
FORMAT = "pmcsuite-results"


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
        tmp.write_text(json.dumps({"format": FORMAT, "format_version": 1, **metadata}, indent=2, default=str) + "\n")
        os.replace(tmp, self.metadata_path)

    def drop_incomplete_tail(self) -> bool:
        """Cut off a last line that a crash left unfinished (no newline), so that the next run is
        appended on a line of its own. Returns True when something was cut."""
        if not self.runs_path.exists():
            return False
        data = self.runs_path.read_bytes()
        if not data or data.endswith(b"\n"):
            return False
        with open(self.runs_path, "r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)
        return True

    def append_run(self, record: dict) -> None:
        line = json.dumps(record, default=str, allow_nan=False) + "\n"
        with open(self.runs_path, "a", encoding="utf-8") as handle:
            handle.write(line)
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
