"""An emulated ARMv8 board: a real armv8_pmuv3 PMU driver without ARM hardware.

Debian's arm64 kernel boots under ``qemu-system-aarch64 -M virt -cpu cortex-a57 -icount shift=0``
with a busybox initramfs in a few seconds; its PMU driver offers 6 programmable counters plus the
cycle counter, and under ``-icount`` the guest's instruction counts are reproducible.

``fetch()`` (``python3 -m pmcsuite.collect.board fetch``, run by ``bin/install``) downloads the arm64
kernel and ``busybox-static`` packages with ``apt-get download`` and unpacks them with ``dpkg -x``
into the board directory (``PMCSUITE_BOARD_DIR``, default ``~/.cache/pmcsuite/board``), which then
holds ``vmlinuz`` and ``busybox``. Nothing is installed for arm64.

``fetch()`` also unpacks what an SSH server on the board needs: the kernel's virtio-net modules
(``modules/``) and dropbear's arm64 packages with their dependencies (``dropbear/``, a tree of
``lib``, ``usr/lib``, ``usr/sbin/dropbear`` and ``usr/bin/dropbearkey``; glibc-linked, loaded by
the tree's own ``ld-linux-aarch64.so.1``).

``run_on_board(commands, files)`` boots the board once, runs each command (an argv list) in the
guest as root, and returns each command's stdout, stderr and exit status.

``serve()`` (``python3 -m pmcsuite.collect.board serve``) boots it and keeps it up with dropbear listening
on port 22, forwarded by QEMU's user-mode network from a loopback port here; a context manager
yielding a ``BoardServer`` (``host``, ``ssh_command``: what ``collect --host`` takes), killing QEMU
on every exit.
"""
from __future__ import annotations

import contextlib
import glob
import gzip
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EnvironmentProblem, PmcsuiteError
from ..schema import KIB
from .processes import spawn

KERNEL_META = "linux-image-arm64:arm64"
BUSYBOX_PKG = "busybox-static:arm64"
DROPBEAR_PKG = "dropbear-bin:arm64"
#: the kernel's modules for a virtio network device on the virt machine's MMIO transport, in load
#: order (Debian builds VIRTIO_NET and VIRTIO_MMIO as modules, uncompressed)
NET_MODULES = ("net/core/failover.ko", "drivers/net/net_failover.ko", "drivers/net/virtio_net.ko",
               "drivers/virtio/virtio_mmio.ko")
#: what the board keeps of the dropbear packages' unpacked tree (gconv, docs and the rest are left out)
DROPBEAR_KEEP = ("lib/aarch64-linux-gnu/", "lib/ld-linux-aarch64.so.1", "usr/lib/aarch64-linux-gnu/",
                 "usr/sbin/dropbear", "usr/bin/dropbearkey")
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


def ssh_images(board_dir=None) -> tuple[list[Path], Path]:
    """(network module paths in load order, dropbear tree); PmcsuiteError when any is missing."""
    where = resolve_board_dir(board_dir)
    modules = [where / "modules" / Path(m).name for m in NET_MODULES]
    dropbear = where / "dropbear"
    missing = [f"modules/{p.name}" for p in modules if not p.is_file()]
    missing += [f"dropbear/{p}" for p in ("usr/sbin/dropbear", "usr/bin/dropbearkey", "lib/ld-linux-aarch64.so.1")
                if not (dropbear / p).exists()]
    if missing:
        raise PmcsuiteError(f"the board's SSH server images are missing in {where} ({', '.join(missing[:3])}"
                            f"{', ...' if len(missing) > 3 else ''}): {INSTALL_HINT}")
    return modules, dropbear


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


def dropbear_packages() -> list[str]:
    """dropbear-bin:arm64 and every package it needs, recursively (``apt-cache depends --recurse``)."""
    out = _run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
                "--no-breaks", "--no-replaces", "--no-enhances", DROPBEAR_PKG])
    names = sorted({line.strip() for line in out.splitlines() if line and not line[0].isspace()
                    and not line.startswith("<")})
    if DROPBEAR_PKG not in names:
        raise PmcsuiteError(f"apt-cache depends {DROPBEAR_PKG} did not name it; run: apt-get update")
    return names


def _complete(where: Path) -> bool:
    try:
        images(where)
        ssh_images(where)
    except PmcsuiteError:
        return False
    return True


def _replace(src, dest: Path) -> None:
    """Copy a file or a directory tree to ``dest`` under a temporary name, then rename it into place."""
    part = dest.with_name(dest.name + ".part")
    shutil.rmtree(part, ignore_errors=True)
    if os.path.isdir(src):
        shutil.copytree(src, part, symlinks=True)
        shutil.rmtree(dest, ignore_errors=True)
    else:
        shutil.copyfile(src, part)
        os.chmod(part, 0o755)
    os.replace(part, dest)


def _dropbear_tree(root: str, dest: str) -> None:
    """Keep of the unpacked packages what dropbear needs (DROPBEAR_KEEP, without gconv)."""
    for keep in DROPBEAR_KEEP:
        src = os.path.join(root, keep)
        if keep.endswith("/"):
            shutil.copytree(src, os.path.join(dest, keep), symlinks=True, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("gconv"))
        else:
            os.makedirs(os.path.dirname(os.path.join(dest, keep)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, keep), follow_symlinks=False)


def fetch(board_dir=None, update: bool = True) -> tuple[Path, Path]:
    """Download and unpack the arm64 kernel, busybox, the kernel's network modules and dropbear with
    its libraries into the board directory (idempotent: nothing is downloaded when all are there).

    Needs root for ``dpkg --add-architecture`` / ``apt-get update`` the first time (the update
    runs only when arm64 was just added or the download failed). Returns ``images()``."""
    where = resolve_board_dir(board_dir)
    if _complete(where):
        return images(where)
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
        def download():
            _run(["apt-get", "download", "-q", kernel_package(), BUSYBOX_PKG, *dropbear_packages()], cwd=tmp)
        try:
            download()
        except PmcsuiteError:
            if updated or not update:
                raise
            # Package lists without arm64 yet, or stale (the named version is gone): update once.
            _run(["apt-get", "update", "-qq"], timeout=900)
            download()
        debs = sorted(glob.glob(os.path.join(tmp, "*.deb")))
        root = os.path.join(tmp, "root")
        for deb in debs:
            _run(["dpkg", "-x", deb, root])
        kernels = sorted(glob.glob(os.path.join(root, "boot", "vmlinuz-*")))
        busybox = os.path.join(root, "bin", "busybox")
        if not kernels or not os.path.isfile(busybox):
            raise PmcsuiteError(f"unpacked {', '.join(map(os.path.basename, debs))} but found no"
                                " boot/vmlinuz-* or bin/busybox in them")
        release = os.path.basename(kernels[-1])[len("vmlinuz-"):]
        module_dir = os.path.join(tmp, "modules")
        os.mkdir(module_dir)
        for module in NET_MODULES:
            src = os.path.join(root, "lib", "modules", release, "kernel", module)
            if not os.path.isfile(src):
                raise PmcsuiteError(f"the kernel package {release} has no {module}: the board needs it for its network")
            shutil.copyfile(src, os.path.join(module_dir, os.path.basename(module)))
        dropbear = os.path.join(tmp, "dropbear")
        _dropbear_tree(root, dropbear)
        # The cache holds only what a boot needs; each piece written under a temporary name, then renamed.
        for src, name in ((kernels[-1], "vmlinuz"), (busybox, "busybox"), (module_dir, "modules"),
                          (dropbear, "dropbear")):
            _replace(src, where / name)
        (where / "VERSION").write_text(f"kernel {os.path.basename(kernels[-1])}\n"
                                       f"packages {' '.join(os.path.basename(d) for d in debs)}\n")
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


#: the start of every /init: busybox's applets, the pseudo file systems, a quiet console
_PRELUDE = [
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


def _init_script(commands, marker: str) -> str:
    """The guest's /init: mount the pseudo file systems, run each command with its output in
    files, print them between markers, power off."""
    lines = list(_PRELUDE)
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


def _initramfs(busybox: Path, files: dict, init: str, extra=()) -> bytes:
    """busybox, /init, ``files`` ({guest path: host path}, executable) and ``extra`` entries
    ((guest path, mode, data), e.g. from :func:`_tree_entries`), with their parent directories."""
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
    for guest, mode, data in extra:
        guest = guest.lstrip("/")
        add_dirs(guest)
        entries.append((guest, mode, data))
    return gzip.compress(_cpio_newc(entries), compresslevel=1)


def _tree_entries(root: Path, prefix: str = "/"):
    """A host directory tree's files and symlinks -> initramfs entries under ``prefix``."""
    for path in sorted(root.rglob("*")):
        guest = prefix.rstrip("/") + "/" + path.relative_to(root).as_posix()
        if path.is_symlink():
            yield guest, 0o120777, os.readlink(path).encode()
        elif path.is_file():
            yield guest, 0o100000 | (path.stat().st_mode & 0o777), path.read_bytes()


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
            raise PmcsuiteError(f"the board did not power off within {timeout} s (QEMU killed); console tail: "
                                f"{tail}") from None
        finally:
            if proc.poll() is None:      # interrupted (Ctrl-C): never leave QEMU running
                proc.kill()
                proc.wait()
    console = out.decode(errors="replace")
    if proc.returncode != 0 and f"{marker}:end" not in console:
        tail = " | ".join(console.replace("\r", "").strip().splitlines()[-8:])
        raise PmcsuiteError(f"QEMU exited {proc.returncode}; console tail: {tail}")
    return parse_console(console, commands, marker)


# --------------------------------------------------------------------------------------
# an SSH server on the board

#: QEMU's user-mode network: the guest's address and gateway
GUEST_ADDRESS, GUEST_GATEWAY = "10.0.2.15/24", "10.0.2.2"
GUEST_HOSTNAME = "pmcsuite-board"
_ACCOUNT = [("/etc/passwd", 0o100644, b"root:x:0:0:root:/root:/bin/sh\n"),
            ("/etc/group", 0o100644, b"root:x:0:\n"),
            ("/etc/shells", 0o100644, b"/bin/sh\n")]


def _serve_script(marker: str) -> str:
    """The guest's /init for serve(): the network up, a fresh host key, dropbear in the foreground;
    a failed step prints ``MARKER:failed:WHAT``, the host key ``MARKER:hostkey:TYPE KEY``."""
    fail = f"echo {marker}:failed:"
    return "\n".join([
        *_PRELUDE,
        "mkdir -p /dev/pts && mount -t devpts devpts /dev/pts",
        *[f"insmod /lib/modules/pmcsuite/{Path(m).name} || {fail}insmod {Path(m).name}" for m in NET_MODULES],
        f"hostname {GUEST_HOSTNAME}",
        "ip link set lo up",
        f"{{ ip link set eth0 up && ip addr add {GUEST_ADDRESS} dev eth0 && ip route add default via "
        f"{GUEST_GATEWAY}; }} || {fail}network: eth0 not configured",
        "mkdir -p /etc/dropbear",
        f"dropbearkey -t ed25519 -f /etc/dropbear/host_key >/dev/null 2>&1 || {fail}dropbearkey",
        f'echo "{marker}:hostkey:$(dropbearkey -y -f /etc/dropbear/host_key | grep ^ssh-)"',
        "dropbear -F -E -s -p 22 -r /etc/dropbear/host_key -P /tmp/dropbear.pid",
        f"{fail}dropbear exited $?",
        "busybox poweroff -f", ""])


class _Output:
    """One of QEMU's output pipes, read by a thread as it comes (a full pipe would stop QEMU)."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for line in stream:
            self.lines.append(line.rstrip("\r\n"))

    def text(self) -> str:
        return "\n".join(self.lines)

    def tail(self, n: int = 6) -> str:
        return " | ".join([line.strip() for line in self.lines if line.strip()][-n:]) or "no output"


@dataclass
class BoardServer:
    """A booted board with dropbear listening: what ``collect --host`` and ``--ssh-command`` take."""
    port: int
    identity: Path | None        # the private key root's authorized_keys accepts (None: the caller's own key)
    known_hosts: Path            # the board's host key, made at boot: StrictHostKeyChecking=yes works
    boot_seconds: float          # QEMU started -> the SSH banner answered
    proc: subprocess.Popen = field(repr=False)
    console: _Output = field(repr=False)

    @property
    def host(self) -> str:
        return f"root@127.0.0.1:{self.port}"

    @property
    def ssh_command(self) -> str:
        words = ["ssh", *(["-i", str(self.identity)] if self.identity else []),
                 "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes"]
        return shlex.join(words)

    def ssh(self, argv, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run one command (an argv list) on the board with the system ssh client: text output."""
        command = [*shlex.split(self.ssh_command), "-o", "BatchMode=yes", "-p", str(self.port), "root@127.0.0.1",
                   shlex.join([str(a) for a in argv])]
        return subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers_ssh(port: int) -> bool:
    """Does 127.0.0.1:port send an SSH banner? (QEMU accepts a forwarded connection before the guest listens.)"""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            conn.settimeout(5)
            return conn.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def _wait_for_ssh(proc, port: int, marker: str, console: _Output, errors: _Output, timeout: float) -> str:
    """Until the board's dropbear answers: its host key line; PmcsuiteError naming what went wrong."""
    deadline = time.monotonic() + timeout
    while True:
        text = console.text()
        failed = re.search(rf"^{marker}:failed:(.*)$", text, re.M)
        if failed:
            raise PmcsuiteError(f"the board's SSH server did not start ({failed.group(1).strip()}); "
                                f"console tail: {console.tail()}")
        if proc.poll() is not None:
            raise PmcsuiteError(f"QEMU exited {proc.returncode} before the board's SSH server answered: "
                                f"{errors.tail() if errors.lines else console.tail()}")
        key = re.search(rf"^{marker}:hostkey:(ssh-\S+ \S+)", text, re.M)
        if key and _answers_ssh(port):
            return key.group(1)
        if time.monotonic() > deadline:
            raise PmcsuiteError(f"the board's SSH server did not answer on 127.0.0.1:{port} within {timeout:g} s "
                                f"(QEMU killed); console tail: {console.tail()}")
        time.sleep(0.05)


@contextlib.contextmanager
def serve(authorized_key=None, port=None, timeout=90, smp=2, memory_mb=512, files=None, board_dir=None):
    """Boot the board with dropbear on its port 22, forwarded from ``127.0.0.1:port`` (a free port
    by default), and yield a :class:`BoardServer` once the SSH banner answers; QEMU is killed when
    the block ends, however it ends (and by the kernel if this process dies: PR_SET_PDEATHSIG).

    ``authorized_key``: a public key file root accepts; by default a key pair is made for this boot
    (``BoardServer.identity``). ``files``: {guest path: host path} put in the initramfs, as for
    run_on_board. PmcsuiteError (one line) when images or tools are missing, QEMU exits, or the
    server does not answer within ``timeout`` seconds."""
    kernel, busybox = images(board_dir)
    modules, dropbear = ssh_images(board_dir)
    needed = missing_tools() + [t for t in ("ssh-keygen",) if authorized_key is None and shutil.which(t) is None]
    if needed:
        raise EnvironmentProblem(f"{', '.join(needed)} not found: {INSTALL_HINT}")
    marker = "PMCSUITE-" + uuid.uuid4().hex[:12]
    with tempfile.TemporaryDirectory(prefix="pmcsuite-board-") as tmp:
        tmp = Path(tmp)
        identity = None
        if authorized_key is None:
            identity = tmp / "id_ed25519"
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pmcsuite-board", "-f", str(identity)])
            authorized_key = Path(f"{identity}.pub")
        extra = [*_tree_entries(dropbear), *_ACCOUNT,
                 *[(f"/lib/modules/pmcsuite/{m.name}", 0o100644, m.read_bytes()) for m in modules],
                 ("/root/.ssh/authorized_keys", 0o100600, Path(authorized_key).read_bytes())]
        initrd = tmp / "initrd.gz"
        initrd.write_bytes(_initramfs(busybox, files or {}, _serve_script(marker), extra))
        port = port or _free_port()
        argv = [*qemu_argv(kernel, initrd, smp, memory_mb),
                "-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{port}-:22", "-device", "virtio-net-device,netdev=net0"]
        start = time.monotonic()
        proc, release = spawn(argv)
        outputs = []
        try:
            release()
            outputs += [_Output(proc.stdout), _Output(proc.stderr)]
            hostkey = _wait_for_ssh(proc, port, marker, *outputs, timeout)
            known_hosts = tmp / "known_hosts"
            known_hosts.write_text(f"[127.0.0.1]:{port} {hostkey}\n")
            yield BoardServer(port, identity, known_hosts, time.monotonic() - start, proc, outputs[0])
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for out in outputs:
                out.thread.join(5)
            for stream in (proc.stdout, proc.stderr):
                stream.close()


def main(argv=None) -> int:
    """``python3 -m pmcsuite.collect.board fetch``: fetch the images and say where they are;
    ``python3 -m pmcsuite.collect.board serve [--port N] [--authorized-key FILE.pub]``: boot the board
    with its SSH server until Ctrl-C."""
    import argparse
    parser = argparse.ArgumentParser(prog="python3 -m pmcsuite.collect.board")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="download and unpack the board's images (bin/install runs it)")
    srv = sub.add_parser("serve", help="boot the board with an SSH server on a loopback port until Ctrl-C")
    srv.add_argument("--port", type=int,
                     help="the loopback port forwarded to the board's port 22 (default: a free one)")
    srv.add_argument("--authorized-key", help="a public key file root accepts (default: a key made for this boot)")
    srv.add_argument("--smp", type=int, default=2, help="guest CPUs (default 2)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "fetch":
        try:
            kernel, busybox = fetch()
        except (PmcsuiteError, OSError) as exc:
            print(f"pmcsuite.collect.board: error: cannot fetch the board images: {exc}", file=sys.stderr)
            return 1
        print(f"board images: {kernel.parent} (vmlinuz {kernel.stat().st_size // KIB} KiB,"
              f" busybox {busybox.stat().st_size // KIB} KiB, dropbear and the network modules)")
        return 0
    try:
        with serve(authorized_key=args.authorized_key, port=args.port, smp=args.smp) as server:
            print(f"the board answers SSH on 127.0.0.1:{server.port} ({server.boot_seconds:.1f} s after QEMU started)\n"
                  f"  {server.ssh_command} -p {server.port} {server.host.rsplit(':', 1)[0]}\n"
                  f"  pmcsuite collect --host {server.host} --ssh-command {shlex.quote(server.ssh_command)}"
                  " --counters instr --quick --out results/board\n"
                  "Ctrl-C powers it off.", flush=True)
            server.proc.wait()
            print(f"pmcsuite.collect.board: error: QEMU exited {server.proc.returncode}: {server.console.tail()}",
                  file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        return 0
    except (PmcsuiteError, OSError) as exc:
        print(f"pmcsuite.collect.board: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
