"""An emulated ARMv8 board: a real armv8_pmuv3 PMU driver without ARM hardware.

Debian's arm64 kernel boots under ``qemu-system-aarch64 -M virt -cpu cortex-a57 -icount shift=0``
with a busybox initramfs in a few seconds; its PMU driver offers 6 programmable counters plus the
cycle counter, and under ``-icount`` the guest's instruction counts are reproducible.

``fetch()`` (``python3 -m pmcsuite.board fetch``, run by ``bin/install``) downloads the arm64
kernel and ``busybox-static`` packages with ``apt-get download`` and unpacks them with ``dpkg -x``
into the board directory (``PMCSUITE_BOARD_DIR``, default ``~/.cache/pmcsuite/board``), which then
holds ``vmlinuz`` and ``busybox``. Nothing is installed for arm64.

``run_on_board(commands, files)`` boots the board once, runs each command (an argv list) in the
guest as root, and returns each command's stdout, stderr and exit status.
"""
from __future__ import annotations

import glob
import gzip
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from .errors import EnvironmentProblem, PmcsuiteError

KERNEL_META = "linux-image-arm64:arm64"
BUSYBOX_PKG = "busybox-static:arm64"
QEMU = "qemu-system-aarch64"
INSTALL_HINT = "run bin/install (as root) to fetch the board images"


@dataclass
class CommandResult:
    """What one guest command did."""
    argv: list[str]
    stdout: str
    stderr: str
    returncode: int


def resolve_board_dir(board_dir=None) -> Path:
    """Where the board images live: the argument, else $PMCSUITE_BOARD_DIR, else ~/.cache/pmcsuite/board."""
    if board_dir:
        return Path(board_dir)
    env = os.environ.get("PMCSUITE_BOARD_DIR")
    return Path(env) if env else Path.home() / ".cache" / "pmcsuite" / "board"


def images(board_dir=None) -> tuple[Path, Path]:
    """(kernel, busybox) paths; PmcsuiteError when either is missing."""
    where = resolve_board_dir(board_dir)
    kernel, busybox = where / "vmlinuz", where / "busybox"
    missing = [p.name for p in (kernel, busybox) if not p.is_file()]
    if missing:
        raise PmcsuiteError(f"board images missing in {where} ({', '.join(missing)}): {INSTALL_HINT}")
    return kernel, busybox


def missing_tools() -> list[str]:
    """Host tools run_on_board needs that are not on PATH."""
    return [t for t in (QEMU,) if shutil.which(t) is None]


# --------------------------------------------------------------------------------------
# fetching


def _run(argv: list[str], cwd=None, timeout=600) -> str:
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PmcsuiteError(f"{shlex.join(argv)} failed: {exc}") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["no output"])[-1]
        raise PmcsuiteError(f"{shlex.join(argv)} exited {proc.returncode}: {last}")
    return proc.stdout


def kernel_package() -> str:
    """The versioned kernel package ``linux-image-arm64:arm64`` depends on (e.g. linux-image-6.1.0-NN-arm64)."""
    out = _run(["apt-cache", "depends", KERNEL_META])
    for line in out.splitlines():
        m = re.match(r"\s*(?:\|)?Depends:\s*(linux-image-\S+)", line)
        if m:
            name = m.group(1).strip("<>")
            return name if ":" in name else name + ":arm64"
    raise PmcsuiteError(f"apt-cache depends {KERNEL_META} names no linux-image package;"
                        " run: dpkg --add-architecture arm64 && apt-get update")


def fetch(board_dir=None, update: bool = True) -> tuple[Path, Path]:
    """Download and unpack the arm64 kernel and busybox into the board directory (idempotent).

    Needs root for ``dpkg --add-architecture`` / ``apt-get update`` the first time (the update
    runs only when arm64 was just added or the download failed). Returns ``images()``."""
    where = resolve_board_dir(board_dir)
    try:
        return images(where)
    except PmcsuiteError:
        pass
    for tool in ("apt-get", "apt-cache", "dpkg"):
        if shutil.which(tool) is None:
            raise EnvironmentProblem(f"cannot fetch the board images: {tool} not found (Debian/Ubuntu only)")
    updated = False
    if "arm64" not in _run(["dpkg", "--print-foreign-architectures"]).split():
        _run(["dpkg", "--add-architecture", "arm64"])
        _run(["apt-get", "update", "-qq"], timeout=900)
        updated = True
    where.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        try:
            _run(["apt-get", "download", "-q", kernel_package(), BUSYBOX_PKG], cwd=tmp)
        except PmcsuiteError:
            if updated or not update:
                raise
            # Package lists without arm64 yet, or stale (the named version is gone): update once.
            _run(["apt-get", "update", "-qq"], timeout=900)
            _run(["apt-get", "download", "-q", kernel_package(), BUSYBOX_PKG], cwd=tmp)
        debs = sorted(glob.glob(os.path.join(tmp, "*.deb")))
        root = os.path.join(tmp, "root")
        for deb in debs:
            _run(["dpkg", "-x", deb, root])
        kernels = sorted(glob.glob(os.path.join(root, "boot", "vmlinuz-*")))
        busybox = os.path.join(root, "bin", "busybox")
        if not kernels or not os.path.isfile(busybox):
            raise PmcsuiteError(f"unpacked {', '.join(map(os.path.basename, debs))} but found no"
                                " boot/vmlinuz-* or bin/busybox in them")
        # The cache holds only what a boot needs; write under temporary names, then rename.
        for src, name in ((kernels[-1], "vmlinuz"), (busybox, "busybox")):
            shutil.copyfile(src, where / (name + ".part"))
            os.chmod(where / (name + ".part"), 0o755)
            os.replace(where / (name + ".part"), where / name)
        (where / "VERSION").write_text(f"kernel {os.path.basename(kernels[-1])}\n"
                                       f"busybox ({BUSYBOX_PKG})\n")
    return images(where)


# --------------------------------------------------------------------------------------
# booting


def _cpio_newc(entries) -> bytes:
    """entries: (name, mode, data bytes) -> an uncompressed cpio 'newc' archive."""
    out = bytearray()

    def pad4():
        out.extend(b"\0" * (-len(out) % 4))

    for ino, (name, mode, data) in enumerate(list(entries) + [("TRAILER!!!", 0, b"")], 1):
        encoded = name.encode() + b"\0"
        fields = [ino if name != "TRAILER!!!" else 0, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(encoded), 0]
        out.extend(b"070701" + b"".join(b"%08X" % f for f in fields))
        out.extend(encoded)
        pad4()
        out.extend(data)
        pad4()
    return bytes(out)


def _init_script(commands, marker: str) -> str:
    """The guest's /init: mount the pseudo file systems, run each command with its output in
    files, print them between markers, power off."""
    lines = [
        "#!/bin/busybox sh",
        "/bin/busybox --install -s /bin",
        "export PATH=/bin:/sbin:/usr/bin:/usr/sbin",
        "mkdir -p /proc /sys /dev /tmp /out",
        "mount -t proc proc /proc",
        "mount -t sysfs sysfs /sys",
        "mount -t devtmpfs devtmpfs /dev",
        "mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null",
        "echo 1 > /proc/sys/kernel/printk",       # only panics interleave with the output
    ]
    for i, argv in enumerate(commands):
        lines += [
            f"{shlex.join(argv)} >/out/{i}.out 2>/out/{i}.err </dev/null",
            "rc=$?",
            f"echo {marker}:{i}:stdout",
            f"cat /out/{i}.out; echo",            # the echo: markers start a line; dropped when parsed
            f"echo {marker}:{i}:stderr",
            f"cat /out/{i}.err; echo",
            f"echo {marker}:{i}:rc:$rc",
        ]
    lines += [f"echo {marker}:end", "busybox poweroff -f", ""]
    return "\n".join(lines)


def _initramfs(busybox: Path, files: dict, init: str) -> bytes:
    entries, dirs = [], set()

    def add_dirs(path: str):
        parts = path.strip("/").split("/")[:-1]
        for k in range(1, len(parts) + 1):
            d = "/".join(parts[:k])
            if d not in dirs:
                dirs.add(d)
                entries.append((d, 0o040755, b""))

    for d in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "out"):
        add_dirs(d + "/x")
    entries.append(("bin/busybox", 0o100755, busybox.read_bytes()))
    entries.append(("init", 0o100755, init.encode()))
    for guest, host in (files or {}).items():
        guest = str(guest).lstrip("/")
        add_dirs(guest)
        host = Path(host)
        if not host.is_file():
            raise PmcsuiteError(f"run_on_board: {host} (for guest {guest}) is not a file")
        entries.append((guest, 0o100755, host.read_bytes()))
    return gzip.compress(_cpio_newc(entries), compresslevel=1)


def qemu_argv(kernel, initrd, smp=2, memory_mb=512) -> list[str]:
    """The QEMU command line of the emulated board."""
    return [QEMU, "-M", "virt", "-cpu", "cortex-a57", "-icount", "shift=0",
            "-smp", str(smp), "-m", str(memory_mb), "-nographic", "-no-reboot",
            "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", "console=ttyAMA0 rdinit=/init quiet panic=-1"]   # a panic ends QEMU (-no-reboot)


def parse_console(console: str, commands, marker: str) -> list[CommandResult]:
    """The serial console text -> one CommandResult per command; PmcsuiteError if incomplete."""
    text = console.replace("\r\n", "\n")         # the tty's ONLCR; a program's own \r stays
    results = []
    for i, argv in enumerate(commands):
        m = re.search(rf"^{marker}:{i}:stdout\n(.*?)\n^{marker}:{i}:stderr\n(.*?)\n^{marker}:{i}:rc:(\d+)$",
                      text, re.S | re.M)
        if not m:
            tail = " | ".join(text.strip().splitlines()[-8:])
            raise PmcsuiteError(f"the board did not report command {i} ({shlex.join(argv)}); console tail: {tail}")
        results.append(CommandResult(list(argv), m.group(1), m.group(2), int(m.group(3))))
    return results


def run_on_board(commands, files=None, timeout=120, smp=2, memory_mb=512, board_dir=None) -> list[CommandResult]:
    """Boot the emulated board once and run ``commands`` (argv lists) in order, as root.

    ``files``: {guest path: host path} copied into the initramfs (executable), e.g.
    ``{"/bin/ipcbench": path}``. Returns a CommandResult per command. PmcsuiteError when the
    images or QEMU are missing, the boot takes longer than ``timeout`` seconds (QEMU is killed),
    or the guest does not report every command."""
    commands = [[str(a) for a in argv] for argv in commands]
    kernel, busybox = images(board_dir)
    if missing_tools():
        raise EnvironmentProblem(f"{', '.join(missing_tools())} not found: {INSTALL_HINT}")
    marker = "PMCSUITE-" + uuid.uuid4().hex[:12]
    with tempfile.TemporaryDirectory(prefix="pmcsuite-board-") as tmp:
        initrd = Path(tmp) / "initrd.gz"
        initrd.write_bytes(_initramfs(busybox, files or {}, _init_script(commands, marker)))
        proc = subprocess.Popen(qemu_argv(kernel, initrd, smp, memory_mb), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            tail = " | ".join(out.decode(errors="replace").replace("\r", "").strip().splitlines()[-5:])
            raise PmcsuiteError(f"the board did not power off within {timeout} s (QEMU killed); console tail: {tail}") from None
        finally:
            if proc.poll() is None:      # interrupted (Ctrl-C): never leave QEMU running
                proc.kill()
                proc.wait()
    console = out.decode(errors="replace")
    if proc.returncode != 0 and f"{marker}:end" not in console:
        tail = " | ".join(console.replace("\r", "").strip().splitlines()[-8:])
        raise PmcsuiteError(f"QEMU exited {proc.returncode}; console tail: {tail}")
    return parse_console(console, commands, marker)


def main(argv=None) -> int:
    """``python3 -m pmcsuite.board fetch``: fetch the images and say where they are."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] != ["fetch"] or len(args) > 1:
        print("usage: python3 -m pmcsuite.board fetch", file=sys.stderr)
        return 2
    try:
        kernel, busybox = fetch()
    except (PmcsuiteError, OSError) as exc:
        print(f"pmcsuite.board: error: cannot fetch the board images: {exc}", file=sys.stderr)
        return 1
    print(f"board images: {kernel.parent} (vmlinuz {kernel.stat().st_size // 1024} KiB,"
          f" busybox {busybox.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
