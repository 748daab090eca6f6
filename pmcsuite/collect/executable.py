"""Running only what was built and checked: a directory is trusted to hold the benchmark only when
no other user can change anything on its path, and a sweep runs a private copy it verified.

``unsafe_part(path)`` names the first directory on a path that another user could change (owned by
someone other than this user or root, or group/other-writable without the sticky bit);
``private_directory`` refuses such a path in one line. ``verified_copy`` copies an executable into a
private directory (``processes.scratch_dir``: 0700, removed at the end) after checking its sha256,
so that swapping the cached file mid-sweep does not change what the sweep starts.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from pathlib import Path

from ..errors import EnvironmentProblem
from .processes import scratch_dir


def _why_unsafe(st: os.stat_result, last: bool) -> str | None:
    """Why a directory with this ``lstat`` lets another user change what lies under it (None: it does not).
    ``last``: the directory itself, which must be this user's and written by no one else."""
    mine = st.st_uid == os.getuid()
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if not mine and (last or st.st_uid != 0):
        return f"is owned by uid {st.st_uid}"
    if st.st_mode & 0o022 and (last or not st.st_mode & stat.S_ISVTX):
        who = " and ".join(name for bit, name in ((0o020, "group"), (0o002, "others")) if st.st_mode & bit)
        return f"is writable by {who} (mode {st.st_mode & 0o7777:o})"
    return None


def unsafe_part(path: Path) -> tuple[Path, str] | None:
    """(the first directory of ``path``, from /, that another user could change, why), or None when
    none can. Symbolic links are resolved first; missing parts are not checked."""
    resolved = Path(os.path.realpath(path))
    parts = [*reversed(resolved.parents), resolved]
    for part in parts:
        try:
            st = part.lstat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            return part, f"cannot be examined ({exc.strerror})"
        why = _why_unsafe(st, last=part == resolved)
        if why:
            return part, why
    return None


def private_directory(path: Path, what: str, fix: str) -> Path:
    """``path`` resolved, if no other user can change anything on it; else EnvironmentProblem naming
    the part and why, with ``fix``."""
    found = unsafe_part(path)
    if found:
        part, why = found
        raise EnvironmentProblem(f"{what} {path} is not safe to run from ({part} {why}): another user could "
                                 f"replace the benchmark; {fix}")
    return Path(os.path.realpath(path))


def file_sha256(path: Path) -> str:
    """sha256 of a file read without following a symbolic link."""
    return hashlib.sha256(_read_nofollow(path)).hexdigest()


def _read_nofollow(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def copy_verified(source: Path, sha256: str, directory: Path) -> Path:
    """Copy the executable ``source`` into ``directory`` (private, this user's) if its content has
    ``sha256``; the copy's path. What is copied is what was hashed (read once)."""
    try:
        data = _read_nofollow(source)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot read the benchmark {source}: {exc.strerror}; rebuild it "
                                 f"(delete {source.parent})") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise EnvironmentProblem(f"the benchmark {source} changed since it was built (its sha256 differs): delete "
                                 f"{source.parent} to rebuild it, and check who else writes there")
    copy = directory / source.name
    fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o700)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return copy


@contextlib.contextmanager
def verified_copy(source, sha256: str):
    """A private copy of the executable ``source`` whose content has ``sha256``, for as long as the
    ``with`` lasts (a sweep): what the sweep starts, whatever happens to ``source`` meanwhile."""
    with scratch_dir("exe") as scratch:
        private_directory(Path(scratch), "the temporary directory", "set TMPDIR to a directory only you "
                          "(or a sticky /tmp) can write")
        yield copy_verified(Path(source), sha256, Path(scratch))
