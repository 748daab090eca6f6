"""The result directory: ``metadata.json`` plus append-only ``runs.jsonl`` (see docs/DESIGN.md)."""
import errno
import fcntl
import json
import os
from pathlib import Path

from ..errors import EnvironmentProblem, PmcsuiteError
from ..schema import FORMAT, FORMAT_VERSION, READABLE_VERSIONS, MalformedMetadata, check_metadata, jsonable

METADATA = "metadata.json"
RUNS = "runs.jsonl"
LOCK = ".lock"        # flock()ed for the life of a collect or resume; holds the writer's pid


def _storage_error(action: str, path, exc: OSError) -> PmcsuiteError:
    """An OSError while writing results -> one line saying what to do (environment, exit 3)."""
    why = {errno.ENOSPC: "the disk is full: free some space",
           errno.EDQUOT: "the disk quota is exhausted: free some space",
           errno.EROFS: "the file system is read-only: choose a writable --out",
           errno.EACCES: "permission denied: choose a directory you may write, or fix its permissions",
           errno.EPERM: "the file is not writable (immutable? chattr -i): fix it or choose another --out",
           errno.EISDIR: "a directory stands where the file should be: remove or rename it",
           errno.ENOTDIR: "a file stands where a directory should be: choose another --out"}
    return EnvironmentProblem(f"cannot {action} {path}: {why.get(exc.errno, exc.strerror or str(exc))}")


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
        """Refuse to write over a result directory (``resumable``: say how to finish it instead),
        and never append to half of one: a runs.jsonl without its metadata.json, or the other way."""
        has_meta, has_runs = self.exists(), self.runs_path.exists()
        if has_meta and has_runs:
            hint = (f"use --resume {self.dir} to finish it, or choose another --out" if resumable
                    else "choose another --out")
            raise PmcsuiteError(f"{self.dir} already holds results: {hint}")
        if has_runs:
            raise PmcsuiteError(f"{self.dir} holds a {RUNS} without its {METADATA} (lost?): its runs cannot be "
                                f"resumed or appended to; restore {METADATA}, or move the directory away and "
                                "collect again")
        if has_meta:
            raise PmcsuiteError(f"{self.dir} holds a {METADATA} without its {RUNS} (lost?): restore {RUNS} to "
                                "resume, or choose another --out")

    def create(self, metadata: dict, overwrite: bool = False, resumable: bool = True) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _storage_error("create result directory", self.dir, exc) from None
        if not overwrite:
            self.ensure_new(resumable)
        self.write_metadata(metadata)
        try:
            self.runs_path.touch()
        except OSError as exc:
            raise _storage_error("write", self.runs_path, exc) from None

    def lock(self) -> None:
        """Hold the directory's lock until this process ends (one collect or resume at a time);
        a second one is refused in one line naming the holder's pid."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _storage_error("create result directory", self.dir, exc) from None
        try:
            fd = os.open(self.dir / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise _storage_error("lock", self.dir, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise EnvironmentProblem(f"{self.dir} is being written by another pmcsuite (pid {holder}): wait for it "
                                     "to finish, or stop it first; two writers would duplicate runs") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def unlock(self) -> None:
        """Release the lock taken by :meth:`lock` (also released when the process ends)."""
        fd = getattr(self, "_lock_fd", None)
        if fd is not None:
            os.close(fd)
            self._lock_fd = None

    def write_metadata(self, metadata: dict) -> None:
        """Write metadata.json (``format`` and ``format_version`` first), cleaned by ``schema.jsonable``
        and checked against ``schema.METADATA``: a field it does not register, or a value of the wrong
        type, is refused (MalformedMetadata naming the field) and nothing is written."""
        document = jsonable({"format": FORMAT, "format_version": FORMAT_VERSION, **metadata})
        try:
            check_metadata(document)
        except MalformedMetadata as exc:
            raise MalformedMetadata(f"refusing to write {self.metadata_path}: {exc}") from None
        tmp = self.metadata_path.with_suffix(".json.tmp")
        try:
            tmp.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n")
            os.replace(tmp, self.metadata_path)
        except OSError as exc:
            raise _storage_error("write", self.metadata_path, exc) from None

    def drop_incomplete_tail(self) -> int:
        """Cut off what a crash left unfinished at the end of runs.jsonl: a last line without its
        newline, and the iterations of a benchmark process whose batch was cut short (a process's
        runs are appended together, so only the last batch can be incomplete). The next run is
        then appended on a line of its own, and the cut process is run again whole. Returns the
        number of lines cut (a partial line counts as one)."""
        if not self.runs_path.exists():
            return 0
        try:
            data = self.runs_path.read_bytes()
        except OSError as exc:
            raise _storage_error("read", self.runs_path, exc) from None
        keep, cut = len(data), 0
        if data and not data.endswith(b"\n"):
            keep, cut = data.rfind(b"\n") + 1, 1
        lines = data[:keep].splitlines(keepends=True)
        batch = _incomplete_batch(lines)
        if batch:
            keep -= sum(len(line) for line in lines[-batch:])
            cut += batch
        if cut:
            try:
                with open(self.runs_path, "r+b") as handle:
                    handle.truncate(keep)
            except OSError as exc:
                raise _storage_error("repair", self.runs_path, exc) from None
        return cut

    def append_run(self, record: dict) -> None:
        self.append_runs([record])

    def append_runs(self, records) -> None:
        """Append the runs of one benchmark process in one write, then flush and fsync."""
        text = "".join(json.dumps(r, default=str, allow_nan=False) + "\n" for r in records)
        try:
            with open(self.runs_path, "a", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise EnvironmentProblem(f"{_storage_error('append to', self.runs_path, exc)} (the runs stored before "
                                     "are kept; 'pmcsuite collect --resume' finishes the rest)") from None

    def read_metadata(self) -> dict:
        if not self.dir.is_dir():
            raise PmcsuiteError(f"{self.dir} is not a directory: give a result directory made by 'pmcsuite collect' "
                                "or 'pmcsuite import'")
        if not self.metadata_path.exists():
            if self.runs_path.exists():
                raise PmcsuiteError(f"{self.dir} has a {RUNS} but no {METADATA} (lost?): without it the runs cannot "
                                    f"be read or resumed; restore {METADATA} from a backup")
            raise PmcsuiteError(f"{self.dir} has no {METADATA}: it is not a pmcsuite result directory")
        try:
            meta = json.loads(self.metadata_path.read_text())
        except OSError as exc:
            raise _storage_error("read", self.metadata_path, exc) from None
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise PmcsuiteError(f"{self.metadata_path} is corrupt ({exc}); restore it or collect again") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise PmcsuiteError(f"{self.metadata_path} is not a pmcsuite metadata file")
        if meta.get("format_version") not in READABLE_VERSIONS:
            raise PmcsuiteError(f"{self.metadata_path} has format_version {meta.get('format_version')!r}, which this "
                                f"pmcsuite cannot read (it reads {', '.join(map(str, READABLE_VERSIONS))}): "
                                "use the pmcsuite that wrote it")
        try:
            return check_metadata(meta)
        except MalformedMetadata as exc:
            raise MalformedMetadata(f"{self.metadata_path} is malformed ({exc}): restore it from a backup, "
                                    "or collect again") from None

    def read_runs(self, strict: bool = False) -> list[dict]:
        """All stored runs. A truncated last line (a run cut off by a crash) is dropped; other
        corrupt lines raise, naming the line, unless ``strict`` is False, in which case they are skipped
        and counted in ``self.skipped``."""
        return [record for _, record in self.iter_runs(strict=strict)]

    def iter_runs(self, start: int = 0, first_line: int = 1, strict: bool = False):
        """Yield ``(line number, record)`` for the runs stored from byte ``start`` on (the start of a
        line, numbered ``first_line``), reading the journal a piece at a time. Corrupt lines are
        handled as in :meth:`read_runs`; afterwards ``self.skipped`` lists them and ``self.covered`` is
        the byte offset just after the last newline-terminated line that was a record (what a
        cache of these runs covers) and ``self.covered_lines`` the number of that line."""
        self.skipped, self.covered, self.covered_lines = [], start, first_line - 1
        if not self.runs_path.exists():
            raise PmcsuiteError(f"{self.dir} has a {METADATA} but no {RUNS} (lost?): restore {RUNS}, or collect "
                                "again into a new directory")
        if not self.runs_path.is_file():
            raise PmcsuiteError(f"{self.runs_path} is not a file: remove or rename what stands there")
        try:
            with open(self.runs_path, "rb") as handle:
                handle.seek(start)
                offset, number, line = start, first_line - 1, handle.readline()
                while line:
                    number += 1
                    following = handle.readline()
                    offset += len(line)
                    record = _record(line) if line.strip() else None
                    if isinstance(record, str):
                        if not following:            # the last line: a run cut off by a crash
                            self.skipped.append(number)
                        elif strict:
                            raise PmcsuiteError(f"{self.runs_path}:{number} is corrupt ({record}); remove that "
                                                "line to keep the rest")
                        else:
                            self.skipped.append(number)
                    elif record is not None:
                        if line.endswith(b"\n") and not self.skipped:
                            self.covered, self.covered_lines = offset, number
                        yield number, record
                    line = following
        except OSError as exc:
            raise _storage_error("read", self.runs_path, exc) from None


def _record(line: bytes):
    """A journal line -> its record (a dict), or a string saying why it is not one."""
    try:
        record = json.loads(line.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError) as exc:     # RecursionError: nesting too deep
        return str(exc)
    return record if isinstance(record, dict) else "not an object"


def _incomplete_batch(lines: list[bytes]) -> int:
    """How many trailing lines belong to a process whose iterations stop short (0 if none)."""
    if not lines:
        return 0
    try:
        last = json.loads(lines[-1])
    except (ValueError, RecursionError):
        return 0
    if not isinstance(last, dict) or not all(isinstance(last.get(k), int) and not isinstance(last.get(k), bool)
                                             for k in ("iteration", "iterations")) or last["iteration"] < 0:
        return 0          # not a run record read_runs would use: no batch to cut
    if last["iteration"] + 1 >= last["iterations"]:
        return 0
    return min(last["iteration"] + 1, len(lines))
