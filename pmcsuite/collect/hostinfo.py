"""Platform detection, host metadata, machine busy-ness and tool versions.

The parsing and matching functions are pure (they take the text of /proc/cpuinfo, the uname
fields, sysctl values); the thin wrappers read them from the running host.

Detection uses each catalogue platform's ``detect`` rules, most specific first:
  1. ``cpu_implementer`` + ``cpu_part`` against Linux /proc/cpuinfo ("CPU implementer", "CPU part");
  2. ``hw_model`` substrings against FreeBSD ``sysctl hw.model``;
  3. ``machine`` against ``uname -m``.
The first hardware platform matched at the best level wins (ties: catalogue order). Platforms
whose rules are only ``os`` (the ``software`` platform: Linux perf) are added after it.
"""
from __future__ import annotations

import os
import platform as _platform
import re
import resource
import shutil
import socket
import subprocess
from dataclasses import dataclass

from ..errors import PmcsuiteError

# ARM Ltd (implementer 0x41) part numbers, for a readable cpu_model on ARM Linux.
ARM_PARTS = {
    0xB76: "ARM1176", 0xC07: "Cortex-A7", 0xC08: "Cortex-A8", 0xC09: "Cortex-A9", 0xC0F: "Cortex-A15",
    0xD03: "Cortex-A53", 0xD04: "Cortex-A35", 0xD05: "Cortex-A55", 0xD07: "Cortex-A57",
    0xD08: "Cortex-A72", 0xD09: "Cortex-A73", 0xD0A: "Cortex-A75", 0xD0B: "Cortex-A76",
    0xD0C: "Neoverse-N1", 0xD0D: "Cortex-A77", 0xD40: "Neoverse-V1", 0xD41: "Cortex-A78",
    0xD44: "Cortex-X1", 0xD46: "Cortex-A510", 0xD47: "Cortex-A710", 0xD49: "Neoverse-N2",
    0xD4F: "Neoverse-V2", 0xD80: "Cortex-A520", 0xD81: "Cortex-A720",
}


@dataclass(frozen=True)
class Uname:
    """The two uname fields detection needs (``platform.uname()`` also fits)."""
    system: str
    machine: str


# --------------------------------------------------------------------------------------
# pure parsing


def parse_cpuinfo(text: str) -> list[dict[str, str]]:
    """/proc/cpuinfo text -> one dict per processor block (keys as printed, values stripped).
    Lines before the first blank-separated block (ARM prints 'Hardware' etc. at the end) form
    their own block."""
    blocks, current = [], {}
    for line in (text or "").splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, sep, value = line.partition(":")
        if sep:
            current[key.strip()] = value.strip()
    if current:
        blocks.append(current)
    return blocks


def cpu_ids(cpuinfo_text: str) -> set[tuple[int, int]]:
    """Set of (implementer, part) pairs found in /proc/cpuinfo (ARM; empty on x86)."""
    ids = set()
    for block in parse_cpuinfo(cpuinfo_text):
        try:
            ids.add((int(block["CPU implementer"], 0), int(block["CPU part"], 0)))
        except (KeyError, ValueError):
            continue
    return ids


def cpu_model_from_cpuinfo(cpuinfo_text: str) -> str | None:
    """A readable CPU model: x86 'model name'; on ARM the core name from implementer/part
    (plus the board from 'Hardware'/'Model' when printed), else 'model name'/'Processor'."""
    blocks = parse_cpuinfo(cpuinfo_text)
    merged: dict[str, str] = {}
    for block in blocks:
        for key, value in block.items():
            merged.setdefault(key, value)
    for impl, part in sorted(cpu_ids(cpuinfo_text)):
        if impl == 0x41 and part in ARM_PARTS:
            board = merged.get("Model") or merged.get("Hardware")
            return f"ARM {ARM_PARTS[part]}" + (f" ({board})" if board else "")
    for key in ("model name", "Processor", "cpu model", "cpu"):
        if merged.get(key):
            return merged[key]
    if cpu_ids(cpuinfo_text):
        impl, part = sorted(cpu_ids(cpuinfo_text))[0]
        return f"CPU implementer 0x{impl:02x} part 0x{part:03x}"
    return None


def parse_os_release(text: str) -> dict[str, str]:
    """/etc/os-release KEY=value lines -> dict (quotes removed)."""
    out = {}
    for line in (text or "").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            out[key] = value
    return out


def _norm_uname(uname) -> Uname:
    if isinstance(uname, dict):
        return Uname(str(uname.get("system", "")), str(uname.get("machine", "")))
    if isinstance(uname, (tuple, list)) and not hasattr(uname, "system"):
        return Uname(str(uname[0]), str(uname[1]))
    return Uname(str(getattr(uname, "system", "")), str(getattr(uname, "machine", "")))


def match_platforms(cat, cpuinfo_text: str | None, uname, sysctl: dict | None) -> tuple[list[str], list[str]]:
    """Pure detection: (platform names, notes). See the module docstring for the rules."""
    uname = _norm_uname(uname)
    system, machine = uname.system.lower(), uname.machine.lower()
    ids = cpu_ids(cpuinfo_text or "")
    hw_model = ((sysctl or {}).get("hw.model") or "").lower()
    best, best_level = None, 99
    extra = []
    for name, plat in cat.platforms.items():
        rules = plat.detect
        if not rules:
            continue
        if set(rules) <= {"os"}:
            if system in {o.lower() for o in rules.get("os", [])}:
                extra.append(name)
            continue
        level = 99
        impl = rules.get("cpu_implementer")
        if impl is not None and any(i == impl and p in rules.get("cpu_part", []) for i, p in ids):
            level = 1
        elif hw_model and any(m.lower() in hw_model for m in rules.get("hw_model", [])):
            level = 2
        elif machine and machine in {m.lower() for m in rules.get("machine", [])}:
            level = 3
        if level < best_level:
            best, best_level = name, level
    notes = []
    if best is None:
        what = ", ".join(f"implementer 0x{i:02x} part 0x{p:03x}" for i, p in sorted(ids)) or "no CPU id"
        notes.append(f"unknown CPU ({uname.system or '?'} {uname.machine or '?'}, {what}"
                     f"{', hw.model ' + repr(hw_model) if hw_model else ''}): no hardware counters;"
                     f" pass --platform NAME (one of {', '.join(cat.platforms)}) if it has a supported PMU")
    if not extra:
        notes.append(f"no software-counter platform for {uname.system or 'this OS'} (Linux perf is needed)")
    return ([best] if best else []) + extra, notes


# --------------------------------------------------------------------------------------
# reading the host


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def _run(argv: list[str], timeout: float = 10.0) -> str | None:
    """stdout+stderr of ``argv``, or None if it cannot be run or fails."""
    if not shutil.which(argv[0]):
        return None
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return (proc.stdout or "") + (proc.stderr or "")


def _sysctl(name: str) -> str | None:
    out = _run(["sysctl", "-n", name])
    return out.strip() if out else None


def detect_host(cpuinfo_text=None, uname=None, sysctl=None, cat=None) -> tuple[list[str], list[str]]:
    """(platforms, notes) for this host. Arguments left None are read from the host:
    /proc/cpuinfo, ``platform.uname()``, and ``sysctl -n hw.model`` on FreeBSD."""
    if cat is None:
        from ..catalogue import load_catalogue
        cat = load_catalogue()
    if uname is None:
        uname = _platform.uname()
    if cpuinfo_text is None:
        cpuinfo_text = _read("/proc/cpuinfo") or ""
    if sysctl is None:
        sysctl = {}
        if _norm_uname(uname).system.lower() == "freebsd":
            sysctl["hw.model"] = _sysctl("hw.model") or ""
    return match_platforms(cat, cpuinfo_text, uname, sysctl)


def detect_platform(cpuinfo_text=None, uname=None, sysctl=None, cat=None) -> list[str]:
    """Platform names for this host, hardware first: e.g. ["x86-64", "software"] on Linux,
    ["cortex-a8"] on FreeBSD, ["software"] on Linux with an unknown CPU."""
    return detect_host(cpuinfo_text, uname, sysctl, cat)[0]


def resolve_platforms(cat, override: str | None = None) -> list[str]:
    """``--platform NAME[,NAME]`` validated against the catalogue, or detection when None."""
    if override is None:
        return detect_platform(cat=cat)
    names = []
    for name in str(override).split(","):
        name = name.strip()
        if not name:
            continue
        if name not in cat.platforms:
            raise PmcsuiteError(f"unknown platform '{name}' in --platform (known: {', '.join(cat.platforms)})")
        if name not in names:
            names.append(name)
    if not names:
        raise PmcsuiteError(f"--platform is empty; give one or more of {', '.join(cat.platforms)}, comma-separated")
    return names


def host_metadata() -> dict:
    """The ``host`` object of metadata.json, with this machine's ``virtualisation`` and kernel
    ``tunables`` (``hostenv.environment``)."""
    from .hostenv import environment
    uname = _platform.uname()
    system = uname.system
    cpuinfo = _read("/proc/cpuinfo") if system == "Linux" else None
    cpu_model = cpu_model_from_cpuinfo(cpuinfo) if cpuinfo else None
    if system == "FreeBSD":
        cpu_model = _sysctl("hw.model") or cpu_model
    os_release = parse_os_release(_read("/etc/os-release") or "").get("PRETTY_NAME") if system == "Linux" else None
    return {
        "hostname": socket.gethostname(),
        "os": system,
        "os_release": os_release or f"{system} {uname.release}".strip(),
        "kernel": uname.release,
        "machine": uname.machine,
        "cpu_model": cpu_model or _platform.processor() or None,
        "cpus": os.cpu_count(),
        "python": _platform.python_version(),
        # who may count what with perf_event_open (in-process counting and perf): -1 .. 4
        "perf_event_paranoid": (_int_or_none(_read("/proc/sys/kernel/perf_event_paranoid")) if system == "Linux"
                                else None),
        **environment(),
    }


def _int_or_none(text: str | None) -> int | None:
    try:
        return int((text or "").strip())
    except ValueError:
        return None


# --------------------------------------------------------------------------------------
# busy-ness: how much of the machine others used during a run


def parse_proc_stat(text: str, hz: float) -> tuple[float, float] | None:
    """First 'cpu' line of /proc/stat -> (total, idle) CPU seconds summed over CPUs.
    total = user+nice+system+idle+iowait+irq+softirq+steal (guest time is inside user/nice)."""
    for line in (text or "").splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            try:
                values = [int(v) for v in fields[1:9]]
            except ValueError:                 # not /proc/stat's tick counts: load unknown
                return None
            values += [0] * (8 - len(values))
            return sum(values) / hz, (values[3] + values[4]) / hz
    return None


def parse_cp_time(text: str, stathz: float) -> tuple[float, float] | None:
    """FreeBSD ``sysctl -n kern.cp_time`` (user nice sys intr idle ticks) -> (total, idle) seconds."""
    try:
        values = [int(v) for v in (text or "").split()[:5]]
    except ValueError:
        return None
    if len(values) != 5:
        return None
    return sum(values) / stathz, values[4] / stathz


def cpu_times() -> tuple[float, float] | None:
    """(total, idle) CPU seconds of the whole machine since boot (all CPUs summed), from
    /proc/stat jiffies (Linux, USER_HZ ticks: 10 ms resolution) or kern.cp_time (FreeBSD);
    None elsewhere."""
    system = _platform.system()
    if system == "Linux":
        text = _read("/proc/stat")
        return parse_proc_stat(text, os.sysconf("SC_CLK_TCK")) if text else None
    if system == "FreeBSD":
        rate = re.search(r"stathz\s*=\s*(\d+)", _sysctl("kern.clockrate") or "")
        return parse_cp_time(_sysctl("kern.cp_time") or "", float(rate.group(1))) if rate else None
    return None


def runnable_others() -> int | None:
    """Tasks other than the caller that are runnable right now (Linux /proc/loadavg, field 4
    ``running/total`` counts the reading process itself). An instantaneous sample with
    nanosecond-scale meaning, unlike the 10 ms ticks of /proc/stat; None where unknown."""
    text = _read("/proc/loadavg")
    match = re.search(r"\s(\d+)/\d+\s", text or "")
    return max(0, int(match.group(1)) - 1) if match else None


def benchmark_load(benches: list[dict]) -> tuple:
    """The machine's load that ``ipcbench --load`` sampled around a process's iterations (``benches``:
    their JSON objects, in order) -> (``cpu_times()`` at the first iteration's start, at the last
    one's end, tasks runnable besides the benchmark then, the fewer of the two); None where unknown."""
    def sample(bench, when) -> tuple[dict, object]:
        machine = bench.get("machine") if isinstance(bench.get("machine"), dict) else {}
        found = machine.get(when)
        return (found if isinstance(found, dict) else {}), machine.get("hz")

    def whole(*values) -> bool:
        return all(isinstance(v, int) and not isinstance(v, bool) for v in values)

    if not benches:
        return None, None, None
    (start, hz), (end, hz_end) = sample(benches[0], "before"), sample(benches[-1], "after")
    times = [(s["total"] / h, s["idle"] / h) if whole(s.get("total"), s.get("idle"), h) and h > 0 else None
             for s, h in ((start, hz), (end, hz_end))]
    runnable = start.get("runnable"), end.get("runnable")
    return times[0], times[1], min(runnable) if whole(*runnable) else None


def own_cpu_time() -> float:
    """User + system CPU seconds of this process and its waited-for children."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


#: /proc/stat counts 10 ms ticks: a window shorter than this many seconds per CPU gives no usable share
MIN_BUSY_WINDOW_S = 0.2


def other_cpu_fraction(before, after, own_cpu_seconds: float, cpus: int | None = None) -> float | None:
    """Share of the machine's CPU time in the window [before, after] (``cpu_times()`` values)
    that was busy but not ours: (busy - own) / total, clamped to [0, 1]. None if unknown, or if
    the window is too short for the 10 ms tick resolution (< MIN_BUSY_WINDOW_S per CPU).
    ``cpus``: that machine's CPU count (default: this one's)."""
    if before is None or after is None or own_cpu_seconds is None:
        return None
    total = after[0] - before[0]
    if total <= 0 or total < MIN_BUSY_WINDOW_S * (cpus or os.cpu_count() or 1):
        return None
    busy = total - (after[1] - before[1])
    return min(1.0, max(0.0, (busy - own_cpu_seconds) / total))


# --------------------------------------------------------------------------------------
# tool versions

_VERSION_ARGV = {
    "perf": ["perf", "--version"],
    "cc": ["cc", "--version"],
    "gcc": ["gcc", "--version"],
    "clang": ["clang", "--version"],
    "dtrace": ["dtrace", "-V"],
}


def first_line(text: str | None) -> str | None:
    """First non-empty line of ``text``, stripped (None if there is none)."""
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return None


def tool_version(name: str) -> str | None:
    """One tool's version line, or None when it is missing. pmcstat has no version flag: its
    version is the FreeBSD release it came with (``uname -r``)."""
    if name in ("none", "inproc"):
        return None
    if name == "pmcstat":
        if not shutil.which("pmcstat"):
            return None
        return f"pmcstat (FreeBSD {first_line(_run(['uname', '-r'])) or _platform.release()})"
    return first_line(_run(_VERSION_ARGV.get(name, [name, "--version"])))


def tool_versions(names=("perf", "cc")) -> dict[str, str | None]:
    """{name: version line or None} for ``names`` (one name, e.g. a backend, or a list)."""
    if isinstance(names, str):
        names = [names]
    return {name: tool_version(name) for name in names if name not in ("none", "inproc")}   # inproc: ipcbench itself
