"""Several hosts at once: ``--host A --host B`` (or ``--hosts FILE``) runs one sweep per host, in
parallel threads, each into OUT/<host>; the result directories of the hosts that finished are kept
whatever the others do, and resuming OUT resumes each unfinished one."""
from __future__ import annotations

import dataclasses
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Callable

from ..errors import EnvironmentProblem, Interrupted, PmcsuiteError
from ..userfiles import read_small_file
from .remote import host_dirname, parse_host
from .settings import Request


def host_list(host) -> list[str]:
    """``host``: None, one spelling, or a list; duplicates (the same spelling twice) dropped."""
    if host is None:
        return []
    items = [host] if isinstance(host, str) else list(host)
    out = []
    for item in items:
        item = str(item).strip()
        if not item:
            raise PmcsuiteError("--host is empty: give [user@]host[:port]")
        if item not in out:
            out.append(item)
    return out


def read_hosts_file(path) -> list[str]:
    """``--hosts FILE``: one [user@]host[:port] a line; blank lines and ``#`` comments skipped."""
    try:
        text = read_small_file(path, "--hosts").decode("utf-8")
    except OSError as exc:
        raise PmcsuiteError(f"--hosts {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PmcsuiteError(f"--hosts {path} is not UTF-8 text: give one [user@]host[:port] per line") from None
    hosts = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    hosts = [h for h in hosts if h]
    if not hosts:
        raise PmcsuiteError(f"--hosts {path} names no host: one [user@]host[:port] per line")
    return hosts


def is_fleet(directory) -> bool:
    """A directory of per-host result directories (what several --host write), not one itself."""
    d = Path(directory)
    return not (d / "metadata.json").exists() and any(d.glob("*/metadata.json"))


def fleet_requests(hosts: list[str], root: Path, request: Request) -> list[tuple[str, Request]]:
    """(host, its request) for a new sweep of each host into ``root``/<host>; every spelling is
    checked first, and two that map to one directory name are refused."""
    for h in hosts:
        parse_host(h)
    names = [host_dirname(h) for h in hosts]
    if len(set(names)) != len(names):
        raise PmcsuiteError(f"hosts {', '.join(hosts)} map to the same result directory name: spell them apart")
    return [(h, dataclasses.replace(request, host=h, out=root / n, progress=False)) for h, n in zip(hosts, names)]


def resumed_requests(root: Path, request: Request) -> list[tuple[str, Request]]:
    """(host, its request) resuming each result directory under ``root``; only the timeout, the ssh
    command, the target compiler and the command line of ``request`` go with them."""
    return [(_recorded_host(d),
             Request(resume=d, timeout=request.timeout, ssh_command=request.ssh_command, target_cc=request.target_cc,
                     command_line=request.command_line, progress=False))
            for d in sorted(p.parent for p in root.glob("*/metadata.json"))]


def _recorded_host(directory: Path) -> str:
    """The host spelling a result directory's metadata.json records, else the directory's name (a
    corrupt file is that host's own failure, reported when its resume reads it; the others go on)."""
    try:
        settings = json.loads(read_small_file(directory / "metadata.json", "metadata.json")).get("settings")
        host = settings.get("host") if isinstance(settings, dict) else None
    except (OSError, ValueError, AttributeError, PmcsuiteError):
        host = None
    return host if isinstance(host, str) and host else directory.name


def run_in_parallel(root: Path, jobs: list[tuple[str, Request]], collect: Callable[[Request, list], Path]) -> Path:
    """Run ``collect(request, targets)`` for every (host, request) of ``jobs`` in its own thread
    (``targets``: where it puts the SSH target it opens, so that Ctrl-C can close them all); one line
    on stderr as each ends; one error naming the hosts that failed, after all have ended."""
    results: dict[str, object] = {}
    targets: dict[str, list] = {h: [] for h, _ in jobs}

    def one(name, request):
        try:
            results[name] = collect(request, targets[name])
            print(f"pmcsuite: {name}: done, {results[name]}", file=sys.stderr, flush=True)
        except PmcsuiteError as exc:
            results[name] = exc
            print(f"pmcsuite: {name}: error: {exc}", file=sys.stderr, flush=True)
        except Exception as exc:                      # a bug in one sweep must not hide the others
            results[name] = PmcsuiteError(f"internal error: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=one, args=job, name=f"pmcsuite-{job[0]}") for job in jobs]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.2)
    except KeyboardInterrupt as exc:
        for held in targets.values():      # ends every remote benchmark (its session) and the sweeps with it
            for target in list(held):
                target.close()
        for t in threads:
            t.join(30)
        signum = getattr(exc, "signum", signal.SIGINT)
        raise Interrupted(f"interrupted ({signal.Signals(signum).name}): the runs so far are kept under {root}; "
                          f"'pmcsuite collect --resume {root}' finishes the rest", signum) from None
    failed = {h: r for h, r in results.items() if isinstance(r, PmcsuiteError)}
    if failed:
        kind = EnvironmentProblem if all(isinstance(e, EnvironmentProblem) for e in failed.values()) else PmcsuiteError
        done, why = len(results) - len(failed), "; ".join(f"{h}: {e}" for h, e in failed.items())
        raise kind(f"{len(failed)} of {len(results)} hosts failed ({why}); "
                   f"{done} finished; 'pmcsuite collect --resume {root}' finishes the rest")
    return root
