"""What the numbers are: whether the measured machine is emulated or virtualised, and the kernel
tunables behind its results, read in one bounded shell command here or on a ``--host`` target.

``host["virtualisation"]`` is ``{"kind": "emulated"|"vm"|"none", "by": ..., "evidence": [...]}``:
QEMU TCG (the emulated board: a ``linux,dummy-virt`` device tree with QEMU's 62.5 MHz timer, or
systemd-detect-virt saying ``qemu``) counts and times an emulator, not a core; a hypervisor
(systemd-detect-virt, /sys/hypervisor/type, the ``hypervisor`` cpuinfo flag, DMI vendor/product)
shares the core and may hide or virtualise its PMU. ``host["tunables"]``: the sysctl and sysfs
settings that change what a run can get (buffer caps, counter access, frequency, THP, SMT); a
setting the machine does not have is null.
"""
from __future__ import annotations

import subprocess
import sys

from ..errors import PmcsuiteError
from ..sizes import format_size

#: tunable -> the file that holds it
TUNABLES = {
    "net.core.wmem_max": "/proc/sys/net/core/wmem_max",
    "net.core.rmem_max": "/proc/sys/net/core/rmem_max",
    "fs.pipe-max-size": "/proc/sys/fs/pipe-max-size",
    "kernel.perf_event_paranoid": "/proc/sys/kernel/perf_event_paranoid",
    "kernel.nmi_watchdog": "/proc/sys/kernel/nmi_watchdog",
    "cpufreq.governor": "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor",
    "cpufreq.cur_khz": "/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq",
    "transparent_hugepage": "/sys/kernel/mm/transparent_hugepage/enabled",
    "smt_active": "/sys/devices/system/cpu/smt/active",
}
#: evidence of emulation or virtualisation -> the file that holds it
_VIRT_FILES = {"hypervisor_type": "/sys/hypervisor/type", "sys_vendor": "/sys/class/dmi/id/sys_vendor",
               "product_name": "/sys/class/dmi/id/product_name", "device_tree": "/proc/device-tree/compatible"}
_MARK = "@@pmcsuite-env:"
#: QEMU's virt machine and its generic timer (62.5 MHz: BogoMIPS 125.00) when it emulates the CPU (TCG)
QEMU_VIRT_DT = "linux,dummy-virt"
QEMU_TCG_BOGOMIPS = "125.00"
#: how a run's warning about a buffer the kernel cut starts (``capped_buffer``)
CAPPED = "the kernel capped"


def environment_script() -> str:
    """One shell command printing every tunable and piece of evidence after its marker (bounded reads)."""
    parts = [f'echo {_MARK}{name}; head -c 256 {path} 2>/dev/null; echo'
             for name, path in {**TUNABLES, **_VIRT_FILES}.items()]
    parts.append(f"echo {_MARK}detect-virt; command -v systemd-detect-virt >/dev/null && "
                 "timeout 5 systemd-detect-virt --vm 2>/dev/null; echo")
    parts.append(f"echo {_MARK}cpuinfo; grep -E -m 4 '^(flags|BogoMIPS|model name)' /proc/cpuinfo 2>/dev/null; "
                 "exit 0")
    return "; ".join(parts)


def parse_environment(text: str | None) -> dict[str, str]:
    """The script's output -> {section: its text, stripped, NULs as commas}."""
    out: dict[str, str] = {}
    name = None
    for line in (text or "").replace("\x00", ",").splitlines():
        if line.startswith(_MARK):
            name = line[len(_MARK):].strip()
            out[name] = ""
        elif name is not None:
            out[name] = (out[name] + "\n" + line).strip()
    return out


def _tunable(name: str, text: str) -> int | str | None:
    """A tunable's value: an integer where it is one, THP's chosen mode ("[madvise]" -> "madvise")."""
    text = (text or "").strip()
    if not text:
        return None
    if name == "transparent_hugepage" and "[" in text:
        return text.split("[", 1)[1].split("]", 1)[0]
    try:
        return int(text)
    except ValueError:
        return text.splitlines()[0][:100]


def tunables(sections: dict[str, str]) -> dict:
    """{tunable: value or None} from the parsed script output."""
    return {name: _tunable(name, sections.get(name, "")) for name in TUNABLES}


def _cpuinfo_field(cpuinfo: str, key: str) -> str:
    for line in cpuinfo.splitlines():
        field, _, value = line.partition(":")
        if field.strip() == key:
            return value.strip()
    return ""


def classify(sections: dict[str, str]) -> dict:
    """``{"kind": "emulated"|"vm"|"none", "by": what, "evidence": [lines]}`` from the parsed output."""
    cpuinfo = sections.get("cpuinfo", "")
    detected = (sections.get("detect-virt") or "").split()
    detected = detected[0] if detected and detected[0] != "none" else ""
    flags = _cpuinfo_field(cpuinfo, "flags").split()
    bogomips = _cpuinfo_field(cpuinfo, "BogoMIPS")
    dt = sections.get("device_tree", "")
    dmi = " ".join(filter(None, (sections.get("sys_vendor"), sections.get("product_name"))))
    hypervisor = sections.get("hypervisor_type", "")
    evidence = [line for line in (
        f"systemd-detect-virt --vm: {detected}" if detected else "",
        "cpuinfo flag: hypervisor" if "hypervisor" in flags else "",
        f"/sys/hypervisor/type: {hypervisor}" if hypervisor else "",
        f"DMI: {dmi}" if dmi else "",
        f"device tree: {dt.strip(',')}" if dt else "",
        f"BogoMIPS: {bogomips}" if bogomips and QEMU_VIRT_DT in dt else "",
        f"cpu: {_cpuinfo_field(cpuinfo, 'model name')}" if "QEMU" in _cpuinfo_field(cpuinfo, "model name") else "",
    ) if line]
    if detected == "qemu" or (QEMU_VIRT_DT in dt and bogomips == QEMU_TCG_BOGOMIPS) \
            or ("QEMU" in _cpuinfo_field(cpuinfo, "model name") and not detected):
        kind, by = "emulated", "qemu-tcg"
    elif detected or hypervisor or "hypervisor" in flags or QEMU_VIRT_DT in dt:
        kind, by = "vm", detected or hypervisor or _by_dmi(dmi) or ("qemu" if QEMU_VIRT_DT in dt else "hypervisor")
    else:
        kind, by = "none", None
    return {"kind": kind, "by": by, "evidence": evidence}


def _by_dmi(dmi: str) -> str | None:
    """A hypervisor's name from the DMI vendor/product (KVM, QEMU, VMware, ...), lower case."""
    for name in ("KVM", "QEMU", "VMware", "VirtualBox", "Xen", "Firecracker", "Microsoft", "Amazon EC2", "Google"):
        if name.lower() in dmi.lower():
            return name.lower()
    return None


def read_environment(target=None) -> dict[str, str]:
    """The script's parsed output, run here (``sh -c``) or on a ``--host`` target (its ``shell``);
    empty when it cannot run."""
    argv = ["sh", "-c", environment_script()]
    try:
        if target is not None and getattr(target, "remote", False):
            if not hasattr(target, "shell"):          # a target that runs only the benchmark: unknown
                return {}
            proc = target.shell(argv, timeout=30)
        else:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, errors="replace")
    except (OSError, subprocess.SubprocessError, PmcsuiteError):   # a dropped link: the sweep reports it
        return {}
    return parse_environment(proc.stdout)


def environment(target=None) -> dict:
    """``{"virtualisation": classify(...), "tunables": tunables(...)}`` of this machine or ``target``."""
    sections = read_environment(target)
    return {"virtualisation": classify(sections), "tunables": tunables(sections)}


def describe(virtualisation: dict | None) -> str | None:
    """One sentence saying what the counts and times are, or None on bare metal / when unknown."""
    if not isinstance(virtualisation, dict) or virtualisation.get("kind") not in ("emulated", "vm"):
        return None
    by = virtualisation.get("by") or "unknown"
    if virtualisation["kind"] == "emulated":
        return (f"emulated machine ({by}): counts and times are the emulator's, not a real core's; "
                "compare them only with runs on the same emulator")
    return (f"virtual machine ({by}): the hypervisor shares the core and may virtualise or hide its PMU; "
            "times include its interference")


def note_environment(host: dict) -> None:
    """Say on stderr, once at collect time, when the machine is emulated or virtualised."""
    said = describe((host or {}).get("virtualisation"))
    if said:
        print(f"pmcsuite: note: {said}", file=sys.stderr)


def capped_buffer(bench: dict, linux: bool = True) -> str | None:
    """What the kernel cut from the buffer a sized mode (pipe-s, local-s, tcp-s) asked for, from the
    benchmark's ``buffers`` (one sentence naming the cap), or None when it granted it all. Linux
    doubles SO_SNDBUF/SO_RCVBUF for its bookkeeping, so a socket got all it asked for at twice the
    request; a pipe is rounded up to whole pages."""
    buffers = bench.get("buffers") if isinstance(bench.get("buffers"), dict) else {}
    asked = buffers.get("requested")
    if not str(bench.get("ipc", "")).endswith("-s") or not isinstance(asked, int) or asked <= 0:
        return None
    caps = (("pipe_size", "pipe", 1, "fs.pipe-max-size", "CAP_SYS_RESOURCE"),
            ("sndbuf", "SO_SNDBUF", 2 if linux else 1, "net.core.wmem_max", "CAP_NET_ADMIN"),
            ("rcvbuf", "SO_RCVBUF", 2 if linux else 1, "net.core.rmem_max", "CAP_NET_ADMIN"))
    for key, what, factor, sysctl, capability in caps:
        got = buffers.get(key)
        if isinstance(got, int) and not isinstance(got, bool) and 0 <= got < asked * factor:
            reports = f" (it reports {format_size(got)}, doubled for its bookkeeping)" if factor == 2 else ""
            return (f"{CAPPED} {what} at {format_size(got // factor)} of the {format_size(asked)} asked"
                    f"{reports}: {sysctl} caps it; raise it, or --force as root ({capability})")
    return None
