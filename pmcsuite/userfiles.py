"""Files a user names (``--hosts FILE``, ``--catalogue FILE``, a result's metadata.json), read
without blocking on a FIFO or device and without reading more than a small text file can be."""
import os
import stat

from .errors import PmcsuiteError
from .schema import MIB
from .sizes import format_size

#: the most a small input file (--hosts, --catalogue) may hold: far beyond any real one, far below memory
INPUT_FILE_LIMIT = 16 * MIB


def read_small_file(path, what: str, limit: int = INPUT_FILE_LIMIT) -> bytes:
    """The bytes of the regular file ``path`` (``what``: how the user named it, e.g. ``--hosts``), read
    without blocking on a FIFO or device (opened O_NONBLOCK, refused unless fstat says regular) and
    refused when over ``limit`` bytes; OSError when it cannot be opened."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = ("a FIFO" if stat.S_ISFIFO(info.st_mode) else "a directory" if stat.S_ISDIR(info.st_mode)
                else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "a socket")
        raise PmcsuiteError(f"{what} {path} is {kind}, not a regular file: give a file")
    with open(fd, "rb") as file:
        data = file.read(limit + 1) if info.st_size <= limit else b""
    if info.st_size > limit or len(data) > limit:
        raise PmcsuiteError(f"{what} {path} is larger than {format_size(limit)}B: give the right file "
                            "(it is a small text file)")
    return data
