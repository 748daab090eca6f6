"""Build and run the native IPC benchmark (``native/ipcbench.c``) and parse its JSON lines.

``build()`` compiles the C source once per (source, flags, compiler, target) and caches the
executable (``target`` cross-compiles with the ``ziglang`` wheel); ``bench_argv()`` turns
validated parameters into its command line (``bench_points_argv()``: several points, IPC mode x
buffer size, in one process with ``--points``); ``run_bench()`` / ``run_bench_lines()`` run it and
turn every failure (crash, hang, error exit, garbage output) into a one-line ``PmcsuiteError``.
ipcbench prints one JSON object per iteration (``-n``), one line each.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import EnvironmentProblem, PmcsuiteError
from .executable import private_directory
from .processes import run_group
from ..schema import (
    ACTORS, BENCH_STATUSES, DEFAULT_ACTORS, DEFAULT_PLACEMENT, DEFAULT_TIMEOUT, DEFAULT_TOTAL, IPC_MODES, PLACEMENTS,
    ROLES, parse_json)
from ..sizes import format_size, parse_size

#: compiler flags (``-static`` is tried first and dropped if static linking fails)
CFLAGS = ("-O2", "-std=c99", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-pthread")
_COMPILERS = ("cc", "gcc", "clang")

#: keys every ipcbench JSON object has (docs/DESIGN.md, "ipcbench JSON")
BENCH_KEYS = ("tool", "version", "ipc", "actors", "placement", "buffer_size", "total_size", "loop_ns",
              "bandwidth", "writes", "reads", "write_sizes", "read_sizes", "buffers", "rusage", "cpus",
              "counting", "bytes_ok")
#: per-actor times (ns) the current ipcbench prints: each actor's own loop window, the CPU time it
#: used in it (its thread CPU clock) and the difference, its time off-CPU (asleep or waiting to
#: run). Validated when present; not required, so that results of older builds still parse.
ACTOR_TIME_KEYS = ("wall_ns", "oncpu_ns", "offcpu_ns")
_BUFFER_KEYS = ("requested", "sndbuf", "rcvbuf", "pipe_size", "forced")
_RUSAGE_KEYS = ("minflt", "majflt", "nvcsw", "nivcsw", "utime_ns", "stime_ns")
#: versions of the ipcbench JSON this wrapper reads (2 adds iteration, iterations and counters)
BENCH_VERSIONS = (1, 2)
COUNTINGS = ("none", "loop", "actors", "process")
MAX_ITERATIONS = 100000
MAX_EVENTS = 32
#: at most this many points (``--points`` items) per ipcbench process
MAX_POINTS = 4096
#: the arguments of a probe run: a tiny transfer that exercises both actors (a counter's probe; the
#: check that a benchmark copied to a target runs there)
PROBE_ARGS = ("-i", "pipe", "-b", "4096", "-t", "65536", "-p", "any")
_INT_MAX = 2**31 - 1
_EVENT_ID = re.compile(r"[a-z0-9_]+\Z")
_SAMPLE_SPEC = re.compile(r"(cpu-clock|cycles):([0-9]{1,13})\Z")   # --sample EVENT:PERIOD
_SAMPLE_MIN_PERIOD = {"cpu-clock": 10000, "cycles": 1000}


# ---------------------------------------------------------------------------------- build

def source_path() -> Path:
    """The C source of the benchmark, shipped inside the package."""
    return Path(__file__).resolve().parent / "native" / "ipcbench.c"


def default_cache_dir() -> Path:
    """Where built executables live: $PMCSUITE_CACHE, else $XDG_CACHE_HOME/pmcsuite, else ~/.cache/pmcsuite."""
    if os.environ.get("PMCSUITE_CACHE"):
        return Path(os.environ["PMCSUITE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pmcsuite"


def find_compiler(cc=None) -> list[str]:
    """The compiler command as an argv prefix: ``cc`` if given, else $CC, else cc, gcc or clang on PATH."""
    chosen = cc or os.environ.get("CC")
    if chosen:
        words = shlex.split(chosen) if isinstance(chosen, str) else [str(w) for w in chosen]
        if not words or shutil.which(words[0]) is None:
            raise EnvironmentProblem(f"C compiler {chosen!r} not found: install it or set CC to a working compiler")
        return [shutil.which(words[0])] + words[1:]
    for name in _COMPILERS:
        path = shutil.which(name)
        if path:
            return [path]
    raise EnvironmentProblem("no C compiler found: install gcc (apt-get install gcc) or set CC")


@functools.lru_cache(maxsize=8)
def _compiler_version(compiler: tuple[str, ...]) -> str:
    """First line of ``cc --version`` (part of the cache key and of the result metadata)."""
    try:
        proc = subprocess.run([*compiler, "--version"], capture_output=True, text=True, timeout=30)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot run C compiler {compiler[0]}: {exc.strerror}; "
                                 "set CC to a working compiler") from None
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def _first_error(stderr: str) -> str:
    """The first line of compiler output that says 'error' (else the first non-empty line)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower():
            return line
    return lines[0] if lines else "no message"


def _compile(compiler: list[str], flags: list[str], source: Path, out: Path) -> subprocess.CompletedProcess:
    argv = [*compiler, *flags, str(source), "-o", str(out)]
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=300)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot run C compiler {compiler[0]}: {exc.strerror}; "
                                 "set CC to a working compiler") from None


def _cache_key(compiler: list[str], version: str, source_bytes: bytes, target=None) -> str:
    digest = hashlib.sha256(source_bytes)
    for part in (*compiler, version, *CFLAGS, *(["target=" + target] if target else [])):
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()


_TARGET = re.compile(r"[a-z0-9_]+-[a-z0-9_.]+(-[a-z0-9_.]+)?\Z")


def zig_compiler(target: str) -> list[str]:
    """The cross compiler for ``target`` (zig's clang, from the ``ziglang`` wheel) as an argv prefix."""
    if not isinstance(target, str) or not _TARGET.match(target):
        raise PmcsuiteError(f"invalid target {target!r}: use a zig target triple such as aarch64-linux-musl, "
                            "arm-linux-musleabihf, x86_64-freebsd")
    try:
        import ziglang  # noqa: F401  (only its presence matters: python -m ziglang runs zig)
    except ImportError:
        raise PmcsuiteError("cross-compiling needs the ziglang wheel: pip install ziglang") from None
    return [sys.executable, "-m", "ziglang", "cc", "-target", target]


def _is_linux_target(target: str) -> bool:
    return "-linux" in target


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _private(path: Path) -> bool:
    """Owned by this user and writable by no one else (so no one else can plant a file in or as it)."""
    try:
        st = path.lstat()
    except OSError:
        return False
    return st.st_uid == os.getuid() and not st.st_mode & 0o022 and not path.is_symlink()


def _trusted_cache(directory: Path) -> Path:
    """The cache directory (created 0700 when missing), resolved, if no other user can change anything
    on its path; else EnvironmentProblem: a benchmark another user could swap would run as us (root)."""
    fix = "set PMCSUITE_CACHE to a directory of your own that only you can write"
    private_directory(directory, "the benchmark cache", fix)      # before creating anything under it
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot create cache directory {directory}: {exc.strerror}; "
                                 "set PMCSUITE_CACHE") from None
    return private_directory(directory, "the benchmark cache", fix)


def _cached_build_ok(exe: Path, info_path: Path) -> bool:
    """A cached executable is run only if it and its build record are ours alone and the executable's
    hash matches the one recorded when it was built; anything else is rebuilt."""
    if not (exe.is_file() and os.access(exe, os.X_OK) and _private(exe) and _private(info_path)):
        return False
    try:
        recorded = json.loads(info_path.read_text()).get("sha256")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(recorded, str) and recorded == _file_sha256(exe)


def build(cc=None, cache_dir=None, target=None) -> Path:
    """Compile ipcbench (static if the platform allows) and return the cached executable's path.

    The cache key is the sha256 of the source, the flags, the compiler (path and version) and the
    target; a second call with the same inputs returns the same file without compiling. The
    executable is written to a temporary name and renamed into place, so concurrent builds never
    see half a file. Beside it, ``<exe>.json`` records how it was built (see ``build_info``).

    ``target`` (e.g. ``aarch64-linux-musl``, ``arm-linux-musleabihf``, ``x86_64-freebsd``)
    cross-compiles with zig (the ``ziglang`` wheel) instead of ``cc``; Linux targets are linked
    ``-static`` (no dynamic fallback: the executable is meant to be copied to another machine).
    """
    if target is not None and cc is not None:
        raise PmcsuiteError("give a compiler (cc) or a cross-compilation target, not both")
    compiler = zig_compiler(target) if target is not None else find_compiler(cc)
    version = _compiler_version(tuple(compiler))
    source = source_path()
    source_bytes = source.read_bytes()
    key = _cache_key(compiler, version, source_bytes, target)
    directory = _trusted_cache(Path(cache_dir) if cache_dir is not None else default_cache_dir())
    exe = directory / (f"ipcbench-{target}-{key[:16]}" if target else f"ipcbench-{key[:16]}")
    info_path = exe.with_name(exe.name + ".json")
    if _cached_build_ok(exe, info_path):
        return exe
    fd, tmp_name = tempfile.mkstemp(prefix=".ipcbench-", dir=directory)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        static = True
        proc = _compile(compiler, [*CFLAGS, "-static"] if target is None or _is_linux_target(target)
                        else list(CFLAGS), source, tmp)
        if target is not None:
            static = _is_linux_target(target)
        elif proc.returncode != 0:  # static libc missing (macOS, some distributions): link dynamically
            static = False
            proc = _compile(compiler, list(CFLAGS), source, tmp)
        if proc.returncode != 0:
            name = f"zig cc -target {target}" if target else compiler[0]
            raise PmcsuiteError(f"compiling {source.name} with {name} failed: {_first_error(proc.stderr)}")
        tmp.chmod(0o755)
        info = {"compiler": shlex.join(compiler), "compiler_version": version,
                "flags": [*CFLAGS, *(["-static"] if static else [])], "static": static,
                "source_sha256": hashlib.sha256(source_bytes).hexdigest(), "path": str(exe),
                "target": target, "sha256": _file_sha256(tmp)}
        info_tmp = tmp.with_name(tmp.name + ".json")
        info_tmp.write_text(json.dumps(info, indent=1) + "\n")
        os.replace(tmp, exe)
        os.replace(info_tmp, info_path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".json")):
            if leftover.exists():
                leftover.unlink()
    return exe


def build_info(cc=None, cache_dir=None, target=None) -> dict:
    """How the benchmark was built, for result metadata (builds it if needed).

    Keys: ``compiler``, ``compiler_version``, ``flags``, ``static``, ``source_sha256``, ``path``,
    ``target`` (None for a native build).
    """
    exe = build(cc, cache_dir, target)
    try:
        info = json.loads(exe.with_name(exe.name + ".json").read_text())
    except (OSError, ValueError):
        raise PmcsuiteError(f"build record of {exe} is unreadable: delete {exe.parent} to rebuild") from None
    info.setdefault("target", None)
    return info


# ---------------------------------------------------------------------------------- run

def _choice(value, valid, what: str) -> str:
    if value not in valid:
        raise PmcsuiteError(f"unknown {what} {value!r}: use one of {', '.join(valid)}")
    return value


def event_args(events) -> list[str]:
    """``{id: spec}`` -> ``["-e", "id=spec", ...]``, validated like ipcbench validates them."""
    if not isinstance(events, dict):
        raise PmcsuiteError(f"events must be a dict {{id: perf event spec}}, not {type(events).__name__}")
    if len(events) > MAX_EVENTS:
        raise PmcsuiteError(f"{len(events)} events asked for: ipcbench counts at most {MAX_EVENTS} per run")
    args = []
    for ident, spec in events.items():
        if not isinstance(ident, str) or not _EVENT_ID.match(ident):
            raise PmcsuiteError(f"invalid event id {ident!r}: use lower-case letters, digits and _ only")
        if not isinstance(spec, str) or not spec or any(c == "," or c.isspace() for c in spec):
            raise PmcsuiteError(f"invalid event spec {spec!r} for {ident}: one event, no commas or whitespace "
                                "(e.g. instructions, L1-dcache-load-misses, r08, syscalls:sys_enter_write)")
        args += ["-e", f"{ident}={spec}"]
    return args


def sample_args(sample) -> list[str]:
    """``"cpu-clock:100000"`` -> ``["--sample", "cpu-clock:100000"]`` (``[]`` for None), validated like
    ipcbench validates it: cpu-clock (period in ns, 10000 to 10^12) or cycles (1000 to 10^12)."""
    if sample is None:
        return []
    match = _SAMPLE_SPEC.match(sample) if isinstance(sample, str) else None
    if not match or not _SAMPLE_MIN_PERIOD[match[1]] <= int(match[2]) <= 10**12:
        raise PmcsuiteError(f"invalid sample spec {sample!r}: write EVENT:PERIOD, EVENT cpu-clock (PERIOD in ns, "
                            "10000 to 10^12) or cycles (1000 to 10^12), e.g. cpu-clock:100000")
    return ["--sample", sample]


def _check_divides(total_size: int, buffer_size: int, where: str = "") -> None:
    if total_size % buffer_size:
        raise PmcsuiteError(
            f"{where}total size {format_size(total_size)} is not a multiple of the buffer size "
            f"{format_size(buffer_size)}: "
            "choose a buffer size that divides the total (powers of two do)")


def _check_iterations(iterations, where: str = "") -> None:
    if isinstance(iterations, bool) or not isinstance(iterations, int) or not 1 <= iterations <= MAX_ITERATIONS:
        raise PmcsuiteError(f"{where}invalid iteration count {iterations!r}: use a whole number from 1 to "
                            f"{MAX_ITERATIONS}")


def _placement_args(placement: str, force, cpus) -> list[str]:
    """``-f`` and ``-c CPU[,CPU]``, validated against the placement."""
    args = ["-f"] if force else []
    if cpus is not None:
        cpu_list = [cpus] if isinstance(cpus, int) else list(cpus)
        wanted = {"same": 1, "split": 2}.get(placement)
        if wanted is None:
            raise PmcsuiteError("CPUs can only be chosen with placement same (one CPU) or split (two CPUs)")
        if len(cpu_list) != wanted or not all(isinstance(c, int) and c >= 0 for c in cpu_list) \
                or len(set(cpu_list)) != wanted:
            raise PmcsuiteError(f"placement {placement} takes {wanted} different CPU number(s), got {cpus!r}")
        args += ["-c", ",".join(str(c) for c in cpu_list)]
    return args


def bench_argv(exe, ipc, buffer_size, total_size=DEFAULT_TOTAL, actors=DEFAULT_ACTORS,
               placement=DEFAULT_PLACEMENT, force=False, cpus=None, ctl_fifo=None, ack_fifo=None, iterations=1,
               events=None, load=False, sample=None) -> list[str]:
    """The validated command line of one benchmark run.

    ``buffer_size``/``total_size`` take bytes or size strings (``64K``); ``cpus`` is one CPU (``same``)
    or two (``split``); ``ctl_fifo``/``ack_fifo`` enable loop-only counting under ``perf stat --control``;
    ``iterations`` transfers run in one process (one JSON line each); ``events`` ``{id: spec}`` are
    counted by the actors themselves (``-e id=spec``; perf's spelling on Linux, libpmc's on FreeBSD);
    ``load``: ipcbench samples the machine's load around each iteration itself (``--load``: its
    JSON's ``machine``), for a target the harness cannot watch; ``sample`` (``"cpu-clock:100000"``):
    each actor samples its kernel and user call stacks over its loop (``--sample``: its JSON's
    ``profile``).
    """
    _choice(ipc, IPC_MODES, "IPC mode")
    _choice(actors, ACTORS, "actors mode")
    _choice(placement, PLACEMENTS, "placement")
    buffer_size, total_size = parse_size(buffer_size), parse_size(total_size)
    _check_divides(total_size, buffer_size)
    _check_iterations(iterations)
    argv = [str(exe), "-i", ipc, "-a", actors, "-p", placement, "-b", str(buffer_size), "-t", str(total_size)]
    argv += _placement_args(placement, force, cpus)
    if (ctl_fifo is None) != (ack_fifo is None):
        raise PmcsuiteError("control and ack fifos go together: give both or neither")
    if ctl_fifo is not None and (events or sample):
        raise PmcsuiteError("events or sampling (done by ipcbench itself) and perf control fifos exclude each other")
    if ctl_fifo is not None and iterations != 1:
        raise PmcsuiteError(f"perf control fifos need iterations=1: perf stat would sum all {iterations} iterations")
    if iterations != 1:
        argv += ["-n", str(iterations)]
    if events:
        argv += event_args(events)
    argv += sample_args(sample)
    if ctl_fifo is not None:
        argv += ["--ctl-fifo", str(ctl_fifo), "--ack-fifo", str(ack_fifo)]
    return argv + (["--load"] if load else [])


def bench_points_argv(exe, points, total_size=DEFAULT_TOTAL, actors=DEFAULT_ACTORS,
                      placement=DEFAULT_PLACEMENT, force=False, cpus=None, events=None, load=False,
                      sample=None) -> list[str]:
    """The validated command line of one benchmark process that runs several points in a row.

    ``points`` is a list of ``(ipc, buffer_size, iterations)`` (sizes in bytes or size strings),
    run in that order (``--points IPC:SIZE:N,...``; at most ``MAX_POINTS``); every buffer size
    must divide ``total_size``. The process prints one JSON line per iteration of every point,
    with ``point`` (the index in ``points``), ``iteration`` (within the point) and ``iterations``
    (that point's). The other parameters are those of ``bench_argv``.
    """
    _choice(actors, ACTORS, "actors mode")
    _choice(placement, PLACEMENTS, "placement")
    total_size = parse_size(total_size)
    if isinstance(points, (str, bytes, dict)) or not hasattr(points, "__iter__"):
        raise PmcsuiteError(f"points must be a list of (ipc, buffer_size, iterations), not {type(points).__name__}")
    points = list(points)
    if not 1 <= len(points) <= MAX_POINTS:
        raise PmcsuiteError(f"{len(points)} points given: one ipcbench process runs 1 to {MAX_POINTS} points")
    items = []
    for number, point in enumerate(points):
        if isinstance(point, (str, bytes)) or not isinstance(point, (tuple, list)) or len(point) != 3:
            raise PmcsuiteError(f"point {number} is {point!r}: give (ipc, buffer_size, iterations)")
        ipc, buffer_size, iterations = point
        where = f"point {number} ({ipc!r}, {buffer_size!r}): "
        if ipc not in IPC_MODES:
            raise PmcsuiteError(f"{where}unknown IPC mode {ipc!r}: use one of {', '.join(IPC_MODES)}")
        try:
            buffer_size = parse_size(buffer_size)
        except PmcsuiteError as exc:
            raise PmcsuiteError(f"{where}{exc}") from None
        _check_divides(total_size, buffer_size, where)
        if ipc in ("local-s", "tcp-s") and buffer_size > _INT_MAX:
            raise PmcsuiteError(f"{where}buffer size {format_size(buffer_size)} is too large for SO_SNDBUF: "
                                f"use at most {_INT_MAX} bytes")
        _check_iterations(iterations, where)
        items.append(f"{ipc}:{buffer_size}:{iterations}")
    argv = [str(exe), "-a", actors, "-p", placement, "-t", str(total_size), "--points", ",".join(items)]
    argv += _placement_args(placement, force, cpus)
    if events:
        argv += event_args(events)
    argv += sample_args(sample)
    return argv + (["--load"] if load else [])


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _counter_problems(counters) -> list[str]:
    """What is wrong with a version-2 ``counters`` object (empty list when it is well formed)."""
    if not isinstance(counters, dict):
        return ["counters is not an object"]
    bad = []
    for ident, entry in counters.items():
        if not isinstance(entry, dict):
            bad.append(f"counters.{ident} is not an object")
            continue
        missing = [k for k in ("event", "status", "value") if k not in entry]
        if missing:
            bad.append(f"counters.{ident} lacks {', '.join(missing)}")
            continue
        if not isinstance(entry["event"], str):
            bad.append(f"counters.{ident}.event is not a string")
        if entry["status"] not in BENCH_STATUSES:
            bad.append(f"counters.{ident}.status {entry['status']!r} is unknown")
        elif entry["status"] == "ok" and not _is_count(entry["value"]):
            bad.append(f"counters.{ident} is ok without a count")
        elif entry["status"] != "ok" and entry["value"] is not None:
            bad.append(f"counters.{ident} has a value although it is {entry['status']}")
        if entry.get("reason") is not None and (not isinstance(entry["reason"], str) or "\n" in entry["reason"]):
            bad.append(f"counters.{ident}.reason is not a one-line string")
        for role in ROLES:
            if role not in entry:
                continue
            actor = entry[role]
            if not isinstance(actor, dict) or actor.get("status") not in BENCH_STATUSES \
                    or not (actor.get("value") is None or _is_count(actor.get("value"))):
                bad.append(f"counters.{ident}.{role} is malformed")
    return bad


def _validate(data, line: str) -> dict:
    """Check one parsed ipcbench object (``line`` is its text, quoted in errors)."""
    if not isinstance(data, dict) or data.get("tool") != "ipcbench":
        raise PmcsuiteError(f"the benchmark output is not an ipcbench result: {line[:60]!r}")
    if data.get("version") not in BENCH_VERSIONS:
        raise PmcsuiteError(f"ipcbench result version {data.get('version')!r} is not supported "
                            f"(expected {' or '.join(map(str, BENCH_VERSIONS))}): rebuild it")
    keys = BENCH_KEYS + (("iteration", "iterations", "counters") if data["version"] >= 2 else ())
    missing = [k for k in keys if k not in data]
    for key in ("buffers", "rusage"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise PmcsuiteError(f"ipcbench result has a {key} that is not an object: rebuild the benchmark")
    missing += [f"buffers.{k}" for k in _BUFFER_KEYS if k not in (data.get("buffers") or {})]
    missing += [f"rusage.{k}" for k in _RUSAGE_KEYS if k not in (data.get("rusage") or {})]
    if missing:
        raise PmcsuiteError(f"ipcbench result lacks {', '.join(missing)}: rebuild the benchmark (source and wrapper "
                            "disagree)")
    numeric = ("buffer_size", "total_size", "loop_ns", "bandwidth", "writes", "reads")
    bad = [k for k in numeric if not _is_number(data[k])]
    for key in ACTOR_TIME_KEYS:
        if key in data:
            times = data[key] if isinstance(data[key], dict) else {}
            bad += [f"{key}.{role}" for role in ROLES if not _is_number(times.get(role))]
    if bad:
        raise PmcsuiteError(f"ipcbench result has non-numeric {', '.join(bad)}: rebuild the benchmark")
    if data["version"] >= 2:
        problems = []
        if "point" in data and not _is_count(data["point"]):
            problems.append(f"point {data['point']!r} is not a count")
        if not _is_count(data["iterations"]) or data["iterations"] < 1:
            problems.append(f"iterations {data['iterations']!r} is not a positive count")
        elif not _is_count(data["iteration"]) or data["iteration"] >= data["iterations"]:
            problems.append(f"iteration {data['iteration']!r} is not in 0..{data['iterations'] - 1}")
        if data["counting"] not in COUNTINGS:
            problems.append(f"counting {data['counting']!r} is unknown")
        problems += _counter_problems(data["counters"])
        if problems:
            raise PmcsuiteError(f"ipcbench result is malformed: {'; '.join(problems)}: rebuild the benchmark")
    return data


def parse_bench_lines(text: str) -> list[dict]:
    """Parse and validate every JSON line ipcbench printed, one per iteration (pure).

    Versions 1 and 2 are read; for version 2 ``iteration``, ``iterations``, ``point`` (optional,
    0 when absent) and the shape of ``counters`` are checked too. With several lines, ``point``
    must not decrease, and the lines of each point must be its iterations 0, 1, ... in order,
    all of them (``--points``: the sequence restarts at 0 at each new point).
    """
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        raise PmcsuiteError("the benchmark printed nothing: expected one JSON object per line on stdout")
    results = []
    for number, line in enumerate(lines):
        try:
            data = parse_json(line)     # NaN/Infinity: not JSON, not storable
        except (ValueError, RecursionError):    # not JSON, a 5000-digit number, nesting too deep
            if number == 0 and len(lines) > 1:  # perhaps one object printed over several lines (old builds)
                try:
                    return [_validate(parse_json("\n".join(lines)), lines[0])]
                except (ValueError, RecursionError):
                    pass
            raise PmcsuiteError(f"the benchmark printed garbage instead of one JSON object per line "
                                f"(line {number + 1}): {line[:60]!r}") from None
        results.append(_validate(data, line))
    if len(results) > 1:
        _check_sequence(results)
    return results


def _check_sequence(results: list[dict]) -> None:
    """Several lines: ``point`` non-decreasing, each point's lines its iterations 0..N-1 in order."""
    versions = {data["version"] >= 2 for data in results}
    if versions == {False}:
        return
    if len(versions) > 1:
        raise PmcsuiteError("ipcbench printed lines of different versions: output is mixed")
    points = [data.get("point", 0) for data in results]
    for number in range(1, len(points)):
        if points[number] < points[number - 1]:
            raise PmcsuiteError(f"ipcbench line {number + 1} is point {points[number]} after point "
                                f"{points[number - 1]}: points must not decrease (output is mixed)")
    start = 0
    while start < len(results):
        end = start
        while end < len(results) and points[end] == points[start]:
            end += 1
        count = end - start
        for index in range(start, end):
            data = results[index]
            if data["iteration"] != index - start or data["iterations"] != count:
                where = f" of point {points[start]}" if points[-1] > 0 else ""
                raise PmcsuiteError(f"ipcbench line {index + 1} is iteration {data['iteration']} of "
                                    f"{data['iterations']}{where}, expected {index - start} of {count}: "
                                    "output is incomplete or mixed")
        start = end


def parse_bench_output(text: str) -> dict:
    """Parse and validate the one JSON object of a one-iteration ipcbench run (pure)."""
    results = parse_bench_lines(text)
    if len(results) != 1:
        raise PmcsuiteError(f"the benchmark printed {len(results)} results, expected one (was it run with -n?)")
    return results[0]


def _run(argv, timeout, runner=None) -> str:
    """Run a benchmark command line; its stdout, or ``PmcsuiteError`` on any failure. ``runner``
    (default ``processes.run_group``) runs it elsewhere, e.g. on an SSH target (``remote.SshTarget.run``)."""
    argv = [str(a) for a in argv]
    try:
        proc = runner(argv, timeout) if runner else run_group(argv, timeout, self_managed=True)
    except OSError as exc:
        raise PmcsuiteError(f"cannot run the benchmark {argv[0]}: {exc.strerror}; rebuild it with pmcsuite "
                            "bench") from None
    except subprocess.TimeoutExpired:
        raise PmcsuiteError(f"the benchmark hung: no result after {timeout:g} s, killed ({shlex.join(argv)})") from None
    out, err = proc.stdout, proc.stderr
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = f"signal {-proc.returncode}"
        raise PmcsuiteError(f"the benchmark crashed: killed by {name} ({shlex.join(argv)})")
    if proc.returncode != 0:
        lines = [line.strip() for line in err.splitlines() if line.strip()]
        reason = lines[-1] if lines else "no error message"
        raise PmcsuiteError(f"the benchmark failed (exit {proc.returncode}): {reason}")
    return out


def run_bench(argv, timeout=DEFAULT_TIMEOUT, runner=None) -> dict:
    """Run one benchmark command line (one iteration) and return its parsed JSON.

    A missing program, a crash (signal), an error exit (its last stderr line is quoted), a hang
    (the whole process group is killed after ``timeout`` seconds) or garbage output raise
    ``PmcsuiteError``. ``bytes_ok`` is returned as measured; callers flag a false value.
    """
    return parse_bench_output(_run(argv, timeout, runner))


def run_bench_lines(argv, timeout=DEFAULT_TIMEOUT, runner=None) -> list[dict]:
    """Run one benchmark command line (``-n N``) and return its N parsed JSON objects, in order."""
    return parse_bench_lines(_run(argv, timeout, runner))


def bench(ipc="pipe", buffer_size="64K", total_size=DEFAULT_TOTAL, actors=DEFAULT_ACTORS,
          placement=DEFAULT_PLACEMENT, force=False, cpus=None, timeout=DEFAULT_TIMEOUT, cc=None) -> dict:
    """Build (cached) and run one benchmark; returns its JSON (``pmcsuite bench --ipc pipe --buffer 64K``)."""
    argv = bench_argv(build(cc), ipc, buffer_size, total_size, actors, placement, force, cpus)
    return run_bench(argv, timeout)
