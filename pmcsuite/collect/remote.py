"""Where the benchmark runs: this machine (``LocalTarget``) or a remote one over SSH (``ssh.SshTarget``),
and the pure helpers for remote hosts: a host's spelling (``parse_host``), its result-directory name,
the zig target triple of its ``uname``, POSIX ``cksum``, and its provenance read from what it prints.

A remote target needs a POSIX shell and its kernel's counting interface, nothing else: no Python,
no perf (see ssh.py for how it is reached and how the benchmark gets there). ``LinkLost`` is the SSH
link failing (an EnvironmentProblem, exit 3): the sweep stops, its runs are kept, ``--resume`` reconnects.
"""
from __future__ import annotations

import contextlib
import platform as _platform
import re
import shutil
import subprocess
from pathlib import Path

from ..errors import EnvironmentProblem, PmcsuiteError
from .processes import run_group, scratch_dir

_HOST = re.compile(r"^(?:(?P<user>[^@\s/]+)@)?(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9_.-]+))"
                   r"(?::(?P<port>\d{1,5}))?$")


class LinkLost(EnvironmentProblem):
    """The SSH connection to a target could not be made or dropped: the sweep stops (exit 3), its
    runs are kept, and ``collect --resume DIR`` reconnects. ``what``: the failure without the advice."""

    def __init__(self, message: str, what: str | None = None):
        super().__init__(message)
        self.what = " ".join((what or message).split())


# ------------------------------------------------------------------------------------ pure helpers

def parse_host(spec: str) -> tuple[str | None, str, int | None]:
    """``[user@]host[:port]`` (IPv6 as ``[addr]:port``) -> (user, host, port)."""
    match = _HOST.match(str(spec or "").strip())
    port = int(match.group("port")) if match and match.group("port") else None
    if not match or (port is not None and not 0 < port < 65536) or (match.group("name") or "").startswith("-") \
            or (match.group("user") or "").startswith("-"):
        raise PmcsuiteError(f"--host {spec!r}: give [user@]host[:port], e.g. root@192.168.7.2 or "
                            "pi@board.local:2222")
    return match.group("user"), match.group("v6") or match.group("name"), port


def host_dirname(spec: str) -> str:
    """A result-directory name for a host spelling (``root@127.0.0.1:2222`` -> ``root@127.0.0.1_2222``)."""
    return re.sub(r"[^A-Za-z0-9@._-]", "_", str(spec).strip()) or "host"


def zig_target(system: str, machine: str) -> str:
    """The zig target triple of a ``uname -s`` / ``uname -m`` pair (Linux: static musl)."""
    system, machine = (system or "").strip(), (machine or "").strip().lower()
    linux = {"x86_64": "x86_64-linux-musl", "amd64": "x86_64-linux-musl",
             "aarch64": "aarch64-linux-musl", "arm64": "aarch64-linux-musl"}
    freebsd = {"amd64": "x86_64-freebsd", "x86_64": "x86_64-freebsd",
               "arm64": "aarch64-freebsd", "aarch64": "aarch64-freebsd"}
    if system == "Linux":
        if machine in linux:
            return linux[machine]
        if machine.startswith("arm"):               # armv7l, armv6l, armv8l (32-bit userland)
            return "arm-linux-musleabihf"
    elif system == "FreeBSD":
        if machine in freebsd:
            return freebsd[machine]
        if machine.startswith("arm"):
            return "arm-freebsd-eabihf"
    raise EnvironmentProblem(f"no cross-compilation target for {system or '?'} {machine or '?'}: build on the "
                             "target with --target-cc cc (its own C compiler)")


_CRC_TABLE = []
for _i in range(256):
    _c = _i << 24
    for _ in range(8):
        _c = ((_c << 1) ^ 0x04C11DB7) if _c & 0x80000000 else (_c << 1)
    _CRC_TABLE.append(_c & 0xFFFFFFFF)


def cksum(data: bytes) -> tuple[int, int]:
    """POSIX ``cksum`` of ``data``: (CRC, length), as the target's ``cksum`` prints them."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[(crc >> 24) ^ byte]
    length = len(data)
    while length:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[(crc >> 24) ^ (length & 0xFF)]
        length >>= 8
    return (~crc) & 0xFFFFFFFF, len(data)


_SECTION = "@@pmcsuite:"
#: the target's provenance, read there in one command (LC_ALL=C); each section prints after its marker
METADATA_SCRIPT = "; ".join([
    f"echo {_SECTION}uname-a; uname -a",
    f"echo {_SECTION}system; uname -s", f"echo {_SECTION}release; uname -r",
    f"echo {_SECTION}machine; uname -m", f"echo {_SECTION}hostname; uname -n",
    f"echo {_SECTION}cpuinfo; cat /proc/cpuinfo 2>/dev/null",
    f"echo {_SECTION}os-release; cat /etc/os-release 2>/dev/null",
    f"echo {_SECTION}paranoid; cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null",
    f"echo {_SECTION}nproc; nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null "
    "|| sysctl -n hw.ncpu 2>/dev/null",
    f"echo {_SECTION}hw.model; sysctl -n hw.model 2>/dev/null",
    f"echo {_SECTION}end",
])


def parse_sections(text: str) -> dict[str, str]:
    """The output of the metadata script -> {section: text}."""
    out, name, lines = {}, None, []
    for line in (text or "").splitlines():
        if line.startswith(_SECTION):
            if name is not None:
                out[name] = "\n".join(lines).strip()
            name, lines = line[len(_SECTION):].strip(), []
        else:
            lines.append(line)
    if name is not None and name != "end":
        out[name] = "\n".join(lines).strip()
    return out


def host_from_sections(sections: dict[str, str]) -> dict:
    """The ``host`` object of metadata.json from what the target printed (the keys of
    ``hostinfo.host_metadata`` plus ``uname``, ``cpuinfo`` and ``os_release_id``)."""
    from .hostinfo import cpu_model_from_cpuinfo, parse_os_release
    system = sections.get("system") or None
    cpuinfo = sections.get("cpuinfo") or ""
    release = parse_os_release(sections.get("os-release") or "")
    cpu_model = (sections.get("hw.model") if system == "FreeBSD" else None) or cpu_model_from_cpuinfo(cpuinfo)

    def number(key):
        with contextlib.suppress(ValueError, TypeError, IndexError):     # empty or missing: unknown
            return int((sections.get(key) or "").split()[0])
        return None

    cpus = number("nproc")
    if cpus is None and cpuinfo:
        cpus = sum(1 for line in cpuinfo.splitlines() if re.match(r"processor\s*:", line)) or None
    return {"hostname": sections.get("hostname") or None, "os": system,
            "os_release": (release.get("PRETTY_NAME")
                           or f"{system or ''} {sections.get('release') or ''}".strip() or None),
            "kernel": sections.get("release") or None, "machine": sections.get("machine") or None,
            "cpu_model": cpu_model, "cpus": cpus, "python": None,          # none needed there
            "perf_event_paranoid": number("paranoid") if system == "Linux" else None,
            "uname": sections.get("uname-a") or None, "cpuinfo": cpuinfo or None,
            "os_release_id": " ".join(filter(None, (release.get("ID"), release.get("VERSION_ID")))) or None}


class LocalTarget:
    """This machine: what ``pmcsuite collect`` without ``--host`` does.

    A target is where the benchmark and the counting tool wrapping it run (the tool backends'
    ``target``): ``run``, ``which``, ``scratch`` (a private temporary directory there), ``write``
    and ``read`` a file there, and ``exe``, the benchmark's path there."""

    name = None
    remote = False
    where = "on PATH"             # where a tool was looked for, for "TOOL not found WHERE"

    def run(self, argv, timeout: float, tool: bool = False) -> subprocess.CompletedProcess:
        """``processes.run_group``; ``tool``: a counting tool (not ipcbench, which unblocks its
        signals and dies with its parent by itself)."""
        return run_group([str(a) for a in argv], timeout, self_managed=not tool)

    def which(self, tool: str) -> str | None:
        return shutil.which(tool)

    def scratch(self, kind: str):
        return scratch_dir(kind)

    def write(self, path: str, text: str) -> None:
        Path(path).write_text(text)

    def read(self, path: str) -> str | None:
        try:
            return Path(path).read_text(errors="replace")
        except OSError:
            return None

    @property
    def exe(self) -> str:
        from .benchmark import build
        return str(build())

    def uname(self) -> tuple[str, str]:
        u = _platform.uname()
        return u.system, u.machine

    def metadata(self) -> dict:
        from .hostinfo import host_metadata
        return host_metadata()

    def close(self) -> None:
        pass
