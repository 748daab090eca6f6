"""The result directory: ``metadata.json`` plus append-only ``runs.jsonl`` (see docs/DESIGN.md).

Every file in it is opened relative to a handle on the directory, never through a symbolic link
(:func:`open_in`), and only when it is a regular file; a writer holds an OS lock on that handle and
checks, before each write, that the directory at the path is still the one it holds."""
import errno
import fcntl
import json
import os
import stat
from pathlib import Path

from ..errors import EnvironmentProblem, PmcsuiteError
from ..schema import FORMAT, FORMAT_VERSION, MIB, READABLE_VERSIONS, MalformedMetadata, check_metadata, jsonable

METADATA = "metadata.json"
RUNS = "runs.jsonl"
LOCK = ".lock"        # holds the pid of the writer, which flock()s the directory itself
#: the largest metadata.json read (a real one is a few hundred KiB)
METADATA_LIMIT = 64 * MIB
_NO_LINK = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def open_in(dir_fd: int, name: str, flags: int, directory, mode: int = 0o644) -> int:
    """Open ``name`` in the directory held by ``dir_fd`` without following a symbolic link and
    without waiting on a FIFO; refuse anything but a regular file (``directory``: its path, for
    the message). Raises OSError for the caller's own handling of other failures."""
    try:
        fd = os.open(name, flags | _NO_LINK, mode, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise EnvironmentProblem(f"{Path(directory) / name} is a symbolic link: pmcsuite never follows links "
                                     "in a result directory; remove it (someone may have planted it)") from None
        if exc.errno == errno.ENXIO:          # a FIFO opened to write with no reader
            raise _not_regular(Path(directory) / name) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _not_regular(Path(directory) / name)
    os.set_blocking(fd, True)
    return fd


def _not_regular(path) -> PmcsuiteError:
    return PmcsuiteError(f"{path} is not a regular file (a FIFO, device or directory?): remove or rename what "
                         "stands there")


def open_directory(path, action: str = "open") -> int:
    """A handle on the directory ``path`` (for :func:`open_in`)."""
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise storage_error(action, path, exc) from None


def check_ours(path, st: os.stat_result, what: str = "result directory") -> None:
    """Refuse a directory another user owns or can write into (they could plant links or swap files)."""
    if st.st_uid != os.geteuid():
        raise EnvironmentProblem(f"the {what} {path} belongs to another user (uid {st.st_uid}): they could plant "
                                 "links or swap files in it; choose a directory of your own")
    _check_not_shared(path, st, what)


def _check_not_shared(path, st: os.stat_result, what: str) -> None:
    if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX and st.st_uid != os.geteuid():
        raise EnvironmentProblem(f"the {what} {path} is writable by other users: they could swap what pmcsuite "
                                 "writes there; choose a directory of your own (or chmod go-w it)")


def storage_error(action: str, path, exc: OSError) -> PmcsuiteError:
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
        self._fd = self._lock_fd = None       # the handle on the directory; the .lock file
        self._identity = None                 # (st_dev, st_ino) of the directory the handle holds

    def __del__(self):
        if self._lock_fd is None:       # a lock is held until unlock() or the end of the process
            self.unlock()

    def _handle(self) -> int:
        """The handle on the directory (every file in it is opened relative to it), opened on first use."""
        if self._fd is None:
            fd = open_directory(self.dir)
            st = os.fstat(fd)
            self._fd, self._identity = fd, (st.st_dev, st.st_ino)
        return self._fd

    def _open(self, name: str, flags: int, action: str) -> int:
        try:
            return open_in(self._handle(), name, flags, self.dir)
        except OSError as exc:
            raise storage_error(action, self.dir / name, exc) from None

    def _check_same_directory(self) -> None:
        """Before writing: the directory at the path must still be the one the handle holds."""
        try:
            st = os.stat(self.dir)
            same = (st.st_dev, st.st_ino) == self._identity
        except OSError:
            same = False
        if self._identity is not None and not same:
            raise EnvironmentProblem(f"{self.dir} was removed, moved or replaced while pmcsuite was writing into it: "
                                     "nothing more is written there; find out who did it, then "
                                     "'pmcsuite collect --resume' the directory that holds the runs")

    def _make_directory(self) -> None:
        """Create the directory (and its parents) if needed; refuse one another user owns or can write
        into, or a new one inside a directory other users can write into."""
        try:
            if not self.dir.exists():
                parent = next(p for p in self.dir.absolute().parents if p.exists())
                _check_not_shared(parent, os.stat(parent), "parent directory")
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error("create result directory", self.dir, exc) from None
        check_ours(self.dir, os.fstat(self._handle()))

    @property
    def metadata_path(self) -> Path:
        return self.dir / METADATA

    @property
    def runs_path(self) -> Path:
        return self.dir / RUNS

    def exists(self) -> bool:
        return os.path.lexists(self.metadata_path)

    def ensure_new(self, resumable: bool = True) -> None:
        """Refuse to write over a result directory (``resumable``: say how to finish it instead),
        and never append to half of one: a runs.jsonl without its metadata.json, or the other way."""
        self._refuse_if_held()
        has_meta, has_runs = self.exists(), os.path.lexists(self.runs_path)
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
        self._make_directory()
        if not overwrite:
            self.ensure_new(resumable)
        self.write_metadata(metadata)
        os.close(self._open(RUNS, os.O_WRONLY | os.O_CREAT, "write"))

    def lock(self) -> None:
        """Hold the directory's lock (an OS lock on the handle on the directory itself, so that
        deleting ``.lock`` lets no one in) until :meth:`unlock` or the end of this process: one
        collect, resume or import at a time; a second one is refused in one line naming the holder's pid."""
        if self._lock_fd is not None:
            return
        self._make_directory()
        try:
            fcntl.flock(self._handle(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise storage_error("lock", self.dir, exc) from None
            raise self._held() from None
        try:
            fd = self._open(LOCK, os.O_RDWR | os.O_CREAT, "lock")
        except PmcsuiteError:
            self.unlock()            # the directory's OS lock goes with its handle
            raise
        self._lock_fd = fd
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:
            self.unlock()
            raise storage_error("lock", self.dir, exc) from None

    def _held(self) -> EnvironmentProblem:
        """The refusal of a directory another pmcsuite holds, naming its pid (from ``.lock``)."""
        try:
            fd = open_in(self._handle(), LOCK, os.O_RDONLY, self.dir)
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
        except (OSError, PmcsuiteError):
            holder = ""
        return EnvironmentProblem(f"{self.dir} is being written by another pmcsuite (pid {holder or 'unknown'}): "
                                  "wait for it to finish, or stop it first; two writers would duplicate runs")

    def _refuse_if_held(self) -> None:
        """Refuse a directory another pmcsuite holds locked (without taking its lock)."""
        if self._lock_fd is not None or not self.dir.is_dir():
            return
        probe = open_directory(self.dir)
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise self._held() from None
        finally:
            os.close(probe)

    def unlock(self) -> None:
        """Release the lock taken by :meth:`lock` and the handle on the directory (also released
        when the process ends)."""
        for name in ("_lock_fd", "_fd"):
            fd = getattr(self, name, None)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)

    def write_metadata(self, metadata: dict) -> None:
        """Write metadata.json (``format`` and ``format_version`` first), cleaned by ``schema.jsonable``
        and checked against ``schema.METADATA``: a field it does not register, or a value of the wrong
        type, is refused (MalformedMetadata naming the field) and nothing is written."""
        document = jsonable({"format": FORMAT, "format_version": FORMAT_VERSION, **metadata})
        try:
            check_metadata(document)
        except MalformedMetadata as exc:
            raise MalformedMetadata(f"refusing to write {self.metadata_path}: {exc}") from None
        tmp = METADATA + ".tmp"
        self._check_same_directory()
        fd = self._open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, "write")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(document, indent=2, allow_nan=False) + "\n")
            os.replace(tmp, METADATA, src_dir_fd=self._handle(), dst_dir_fd=self._handle())
        except OSError as exc:
            raise storage_error("write", self.metadata_path, exc) from None

    def drop_incomplete_tail(self) -> int:
        """Cut off what a crash left unfinished at the end of runs.jsonl: a last line without its
        newline, and the iterations of a benchmark process whose batch was cut short (a process's
        runs are appended together, so only the last batch can be incomplete). The next run is
        then appended on a line of its own, and the cut process is run again whole. Returns the
        number of lines cut (a partial line counts as one)."""
        if not os.path.lexists(self.runs_path):
            return 0
        self._check_same_directory()
        try:
            with os.fdopen(self._open(RUNS, os.O_RDONLY, "read"), "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise storage_error("read", self.runs_path, exc) from None
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
                fd = self._open(RUNS, os.O_WRONLY, "repair")
                try:
                    os.ftruncate(fd, keep)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise storage_error("repair", self.runs_path, exc) from None
        return cut

    def append_run(self, record: dict) -> None:
        self.append_runs([record])

    def append_runs(self, records) -> None:
        """Append the runs of one benchmark process in one write, then flush and fsync."""
        text = "".join(json.dumps(r, default=str, allow_nan=False) + "\n" for r in records)
        self._check_same_directory()
        try:
            fd = open_in(self._handle(), RUNS, os.O_WRONLY | os.O_APPEND, self.dir)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise EnvironmentProblem(f"{storage_error('append to', self.runs_path, exc)} (the runs stored before "
                                     "are kept; 'pmcsuite collect --resume' finishes the rest)") from None

    def read_metadata(self) -> dict:
        if not self.dir.is_dir():
            raise PmcsuiteError(f"{self.dir} is not a directory: give a result directory made by 'pmcsuite collect' "
                                "or 'pmcsuite import'")
        if not os.path.lexists(self.metadata_path):
            if os.path.lexists(self.runs_path):
                raise PmcsuiteError(f"{self.dir} has a {RUNS} but no {METADATA} (lost?): without it the runs cannot "
                                    f"be read or resumed; restore {METADATA} from a backup")
            raise PmcsuiteError(f"{self.dir} has no {METADATA}: it is not a pmcsuite result directory")
        try:
            meta = json.loads(self._read_bounded(METADATA, METADATA_LIMIT))
        except OSError as exc:
            raise storage_error("read", self.metadata_path, exc) from None
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

    def _read_bounded(self, name: str, limit: int) -> bytes:
        """The bytes of ``name``, refused in one line when larger than ``limit``."""
        with os.fdopen(self._open(name, os.O_RDONLY, "read"), "rb") as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise PmcsuiteError(f"{self.dir / name} is larger than {limit // MIB} MiB, far more than a pmcsuite "
                                "file holds: it is not one; restore it from a backup")
        return data

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
        if not os.path.lexists(self.runs_path):
            raise PmcsuiteError(f"{self.dir} has a {METADATA} but no {RUNS} (lost?): restore {RUNS}, or collect "
                                "again into a new directory")
        if os.path.isdir(self.runs_path) and not os.path.islink(self.runs_path):
            raise PmcsuiteError(f"{self.runs_path} is not a file: remove or rename what stands there")
        try:
            with os.fdopen(self._open(RUNS, os.O_RDONLY, "read"), "rb") as handle:
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
            raise storage_error("read", self.runs_path, exc) from None


def _record(line: bytes):
    """A journal line -> its record (a dict), or a string saying why it is not one."""
    try:
        record = json.loads(line.decode("utf-8"))   # a non-UTF-8 byte: corrupt, never a new IPC mode
    except (ValueError, RecursionError) as exc:     # RecursionError: nesting too deep; UnicodeDecodeError
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
