"""ipcbench.c cross-compiles cleanly (zig cc, from the ziglang wheel) for the boards' targets:
FreeBSD (with and without libpmc, compile only: no FreeBSD libc to link against here) and
static Linux/musl executables for ARM, built through benchmark.build(target=...)."""
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from needs import HAVE_ZIG, require  # noqa: E402

from pmcsuite.collect import benchmark as bm
from pmcsuite.errors import PmcsuiteError

pytestmark = pytest.mark.e2e

EM_ARM, EM_X86_64, EM_AARCH64 = 40, 62, 183


def elf_machine(path: Path) -> tuple[int, int]:
    """(EI_CLASS, e_machine) of an ELF file (little-endian targets only)."""
    head = path.read_bytes()[:20]
    assert head[:4] == b"\x7fELF", f"{path} is not an ELF file"
    assert head[5] == 1, "expected a little-endian ELF file"
    return head[4], int.from_bytes(head[18:20], "little")


def has_interpreter(path: Path) -> bool:
    """Whether an ELF executable has a PT_INTERP program header (is dynamically linked)."""
    data = path.read_bytes()

    def field(offset: int, size: int) -> int:  # a little-endian unsigned field of the file
        return int.from_bytes(data[offset:offset + size], "little")

    if data[4] == 2:   # ELF64: e_phoff at 32 (8 bytes), e_phentsize/e_phnum at 54/56
        phoff, phentsize, phnum = field(32, 8), field(54, 2), field(56, 2)
    else:              # ELF32: e_phoff at 28 (4 bytes), e_phentsize/e_phnum at 42/44
        phoff, phentsize, phnum = field(28, 4), field(42, 2), field(44, 2)
    assert phnum > 0
    return any(field(phoff + i * phentsize, 4) == 3 for i in range(phnum))   # p_type 3 is PT_INTERP


def test_has_interpreter_sees_a_dynamic_executable():
    assert has_interpreter(Path(sys.executable).resolve()) or not Path("/lib64").exists()


@pytest.mark.parametrize("libpmc", [False, True], ids=["plain", "libpmc"])
@pytest.mark.parametrize("target", ["x86_64-freebsd", "arm-freebsd-eabihf"])
def test_freebsd_compiles_without_warnings(tmp_path, target, libpmc):
    require(HAVE_ZIG, "cross-compiling needs the ziglang wheel: pip install ziglang")
    out = tmp_path / "ipcbench.o"
    argv = [sys.executable, "-m", "ziglang", "cc", "-target", target, "-Wall", "-Wextra", "-Werror", "-std=c99",
            "-O2", *(["-DWITH_LIBPMC"] if libpmc else []), "-c", str(bm.source_path()), "-o", str(out)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "", proc.stderr            # not even a note
    assert elf_machine(out) == ({"x86_64-freebsd": 2, "arm-freebsd-eabihf": 1}[target],
                                {"x86_64-freebsd": EM_X86_64, "arm-freebsd-eabihf": EM_ARM}[target])
    # the libpmc build really contains the libpmc calls (undefined symbols, linked from -lpmc)
    symbols = out.read_bytes()
    assert (b"pmc_allocate" in symbols) == libpmc and (b"pmc_attach" in symbols) == libpmc


@pytest.mark.parametrize("target, machine", [("aarch64-linux-musl", (2, EM_AARCH64)),
                                             ("arm-linux-musleabihf", (1, EM_ARM))])
def test_static_linux_cross_build(tmp_path, target, machine):
    require(HAVE_ZIG, "cross-compiling needs the ziglang wheel: pip install ziglang")
    exe = bm.build(cache_dir=tmp_path, target=target)
    assert elf_machine(exe) == machine
    info = bm.build_info(cache_dir=tmp_path, target=target)
    assert info["target"] == target and info["static"] is True and "-static" in info["flags"]
    assert info["compiler"].endswith(f"-m ziglang cc -target {target}")
    assert info["path"] == str(exe) and target in exe.name
    assert not has_interpreter(exe)                              # no dynamic loader: static
    # cached per target: a second build returns the same file, another target another file
    assert bm.build(cache_dir=tmp_path, target=target) == exe


def test_cross_build_options_are_checked(tmp_path, monkeypatch):
    with pytest.raises(PmcsuiteError, match="not both"):
        bm.build(cc="gcc", cache_dir=tmp_path, target="aarch64-linux-musl")
    with pytest.raises(PmcsuiteError, match="invalid target 'aarch64 linux'"):
        bm.build(cache_dir=tmp_path, target="aarch64 linux")
    import builtins
    real_import = builtins.__import__

    def no_zig(name, *args, **kwargs):
        if name == "ziglang":
            raise ImportError("no ziglang")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_zig)
    with pytest.raises(PmcsuiteError, match=r"^cross-compiling needs the ziglang wheel: pip install ziglang$"):
        bm.build(cache_dir=tmp_path, target="aarch64-linux-musl")


def test_native_build_info_has_no_target(tmp_path):
    assert bm.build_info(cache_dir=tmp_path)["target"] is None


def test_static_musl_build_runs_and_counts_here(tmp_path):
    """The x86_64-linux-musl build of the same source runs on this machine; with tracefs and root
    its actors count their own write()/read() calls exactly, as the glibc build's do."""
    require(HAVE_ZIG, "cross-compiling needs the ziglang wheel: pip install ziglang")
    require(sys.platform.startswith("linux") and __import__("platform").machine() == "x86_64",
            "runs the x86_64 build: needs an x86-64 Linux host")
    exe = bm.build(cache_dir=tmp_path, target="x86_64-linux-musl")
    assert not has_interpreter(exe)
    events = {"w": "syscalls:sys_enter_write", "r": "syscalls:sys_enter_read"}
    results = bm.run_bench_lines(bm.bench_argv(exe, "pipe", 4096, 1 << 20, iterations=2, events=events), timeout=60)
    assert [r["iteration"] for r in results] == [0, 1] and all(r["bytes_ok"] for r in results)
    for r in results:
        c = r["counters"]
        if c["w"]["status"] == "ok":
            assert c["w"]["value"] == r["writes"] and c["r"]["value"] == r["reads"], r
        else:  # not root or no tracefs: a reason, never a number
            assert c["w"]["value"] is None and c["w"]["reason"]
