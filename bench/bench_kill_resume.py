"""Kill `pmcsuite collect` at random moments, resume until done, and count what was lost.

    python bench/bench_kill_resume.py [--kills 20] [--signals 2] [--seed 0] [--backend inproc] [--keep]

A real small sweep (pipe and local, 1K-64K, 6 runs in 2 benchmark processes per point and variant,
4 MiB per run, the software groups faults and syscalls counted in the benchmark: a few seconds) runs as
``python -m pmcsuite collect`` in a subprocess. It is SIGKILLed at seeded random moments spread over
the whole sweep (start-up and build included), and so is the ``--resume`` that follows, until
``--kills`` kills have landed; each sweep is then resumed to completion. ``--signals N`` also sends
SIGTERM and SIGHUP N times each (and SIGINT once) to a collect or resume mid-sweep, half of them at a
random moment, half just after a batch of runs is stored (when the next benchmark process is being
forked): the exit status must be 128 + N (143, 129, 130) with one line on stderr.

Printed at the end, over every sweep: runs expected, stored, lost (missing keys (ipc, buffer_size,
variant, run)), duplicated (a key stored twice), corrupted (lines that do not parse or do not
validate as ``schema.RunRecord``), failed (stored with ok false), leftover processes (a process of
the run, ipcbench or a tool, still alive 1 s after a kill: found by an environment tag in
/proc/PID/environ, named from /proc/PID/cmdline), leftover scratch directories
(``pmcsuite-*-<pid>-*`` of a killed pid in the private temp dir once the sweep is done), signal
exits that were wrong, and the wall time. Goal: all zero; exit 1 otherwise.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pmcsuite.schema import RunRecord  # noqa: E402

SWEEP = ["--ipc", "pipe,local", "--sizes", "1K-64K", "--runs", "6", "--processes", "2", "--total", "4M",
         "--counters", "faults,syscalls"]
TAG = "PMCSUITE_KILL_RESUME_TAG"
GRACE = 1.0          # seconds a killed run's processes get to die before they count as left over


def tagged_processes(tag: str, var: str = TAG) -> dict[int, str]:
    """pid -> command line of every live (not zombie) process whose environment has ``var=tag``
    (tests/test_kill_resume.py uses it too)."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as handle:
                if f"{var}={tag}".encode() not in handle.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
            if stat[stat.rfind(b")") + 2:].split()[0] in (b"Z", b"X"):
                continue
            with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                found[int(entry.name)] = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
    return found


def survivors(tag: str, grace: float = GRACE) -> dict[int, str]:
    """The tagged processes still alive ``grace`` seconds from now (polled: usually gone at once)."""
    deadline = time.monotonic() + grace
    while True:
        alive = tagged_processes(tag)
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.02)


def expected_keys(directory: Path) -> set[tuple]:
    """(ipc, buffer_size, variant, run) of every run the stored plan asks for."""
    plan = json.loads((directory / "metadata.json").read_text())["plan"]
    variants = ["baseline", *(p["name"] for p in plan["passes"])]
    return {(ipc, size, variant, run) for ipc in plan["ipc"] for size in plan["sizes"]
            for variant in variants for run in range(plan["runs"])}


def audit(directory: Path) -> dict:
    """Expected, stored, lost, duplicated, corrupted and failed runs of one finished directory."""
    expected = expected_keys(directory)
    keys, corrupted, failed = collections.Counter(), 0, 0
    for line in (directory / "runs.jsonl").read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = RunRecord.from_json(json.loads(line))
        except (ValueError, TypeError):
            corrupted += 1
            continue
        if not record.ok:
            failed += 1
            continue
        keys[(record.ipc, record.buffer_size, record.variant, record.run)] += 1
    return {"expected": len(expected), "stored": sum(keys.values()), "lost": len(expected - set(keys)),
            "duplicated": sum(n - 1 for n in keys.values() if n > 1), "corrupted": corrupted, "failed": failed,
            "unexpected": len(set(keys) - expected)}


class Bench:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.root = Path(tempfile.mkdtemp(prefix="bench-kill-resume-"))
        self.tmp = self.root / "tmp"              # the runs' private temp dir: its scratch dirs are ours
        self.tmp.mkdir()
        self.tag = uuid.uuid4().hex
        self.env = {**os.environ, TAG: self.tag, "TMPDIR": str(self.tmp), "PYTHONPATH": str(ROOT)}
        self.killed_pids: list[int] = []
        self.leftovers: list[str] = []
        self.signal_problems: list[str] = []
        self.other_problems: list[str] = []
        self.attempts = collections.Counter()     # what happened to each started command
        self.kill_phases = collections.Counter()  # how far the killed command had got
        self.pmcsuite_seconds = 0.0
        self.sweep_options = SWEEP + ["--backend", args.backend]
        if args.backend not in ("inproc", "none", "auto"):         # a tool around every run: one process per run
            i = self.sweep_options.index("--processes")
            del self.sweep_options[i:i + 2]
        self.signal_exits = collections.Counter()
        self.signalled_complete = False
        self.scratch_at_kill = 0                  # scratch dirs a kill left (the next run removes them)
        self.signal_lines: dict[str, str] = {}

    # ---- one command ------------------------------------------------------------------

    def command(self, directory: Path, fresh: bool) -> list[str]:
        head = [sys.executable, "-m", "pmcsuite", "collect", "--no-progress"]
        if fresh:
            return head + self.sweep_options + ["--out", str(directory)]
        return head + ["--resume", str(directory)]

    def start(self, directory: Path, fresh: bool) -> subprocess.Popen:
        def child():
            signal.signal(signal.SIGINT, signal.SIG_DFL)      # as from a terminal, whatever we inherited
        return subprocess.Popen(self.command(directory, fresh), cwd=self.root, env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=child)

    def lines(self, directory: Path) -> int:
        try:
            return (directory / "runs.jsonl").read_bytes().count(b"\n")
        except OSError:
            return -1

    def run_once(self, directory: Path, fresh: bool, action) -> tuple[int, str, str]:
        """Start a collect or resume; ``action`` = None (let it finish), ("kill", delay) or
        ("signal", signum, delay after the sweep started). Returns (rc, stderr, what happened)."""
        before = self.lines(directory)
        started = time.monotonic()
        proc = self.start(directory, fresh)
        what = "finished"
        if action is not None and action[0] == "kill":
            try:
                proc.wait(timeout=action[1])
            except subprocess.TimeoutExpired:
                proc.kill()
                what = "killed"
        elif action is not None:
            _, signum, delay, after_batch = action
            lock = directory / ".lock"
            while proc.poll() is None:               # the handlers are installed once the lock is held
                try:
                    if lock.read_text().strip() == str(proc.pid):
                        break
                except OSError:
                    pass
                time.sleep(0.005)
            if after_batch:                          # just after a batch is stored: the next fork is near
                stored = self.lines(directory)
                while proc.poll() is None and self.lines(directory) <= stored:
                    time.sleep(0.001)
                if proc.poll() is None:
                    self.signalled_complete = self.lines(directory) >= self.total_runs
                    proc.send_signal(signum)
                    what = "signalled"
            else:
                try:
                    proc.wait(timeout=delay)
                except subprocess.TimeoutExpired:
                    self.signalled_complete = self.lines(directory) >= self.total_runs
                    proc.send_signal(signum)
                    what = "signalled"
        out, err = proc.communicate()
        self.pmcsuite_seconds += time.monotonic() - started
        if what != "finished":
            for pid, cmdline in survivors(self.tag).items():
                self.leftovers.append(f"pid {pid} after a {what} {'collect' if fresh else 'resume'}: {cmdline[:120]}")
                os.kill(pid, signal.SIGKILL)         # do not let one leftover spoil the next trial
        if what == "killed":
            self.killed_pids.append(proc.pid)
            after = self.lines(directory)
            phase = ("before the directory" if after < 0 else
                     "before the first run" if after == 0 else
                     "mid-sweep, nothing new yet" if after == before else "mid-sweep")
            self.kill_phases[f"{'collect' if fresh else 'resume'}: {phase}"] += 1
            self.scratch_at_kill += sum(1 for e in self.tmp.iterdir() if e.name.startswith("pmcsuite-")
                                        and f"-{proc.pid}-" in e.name)
        self.attempts[f"{'collect' if fresh else 'resume'} {what}"] += 1
        return proc.returncode, err, what

    # ---- one sweep, killed and resumed -----------------------------------------------------

    def sweep(self, index: int, kills: int, signals: list[int], reference: float) -> dict:
        """Collect into a new directory; land ``kills`` SIGKILLs and the ``signals`` (in a seeded
        order) on it and its resumes; then resume to completion and audit."""
        directory = self.root / f"sweep-{index:02d}"
        todo = [("kill",)] * kills + [("signal", s) for s in signals]
        self.rng.shuffle(todo)
        while True:
            fresh = not (directory / "metadata.json").exists()
            if fresh and (directory / "runs.jsonl").exists():
                self.other_problems.append(f"{directory.name}: half a result directory (runs.jsonl, no metadata.json)")
                return {}
            if fresh:
                estimate = reference
            else:
                done = max(self.lines(directory), 0)
                estimate = 0.6 + (reference - 0.6) * max(0.0, 1 - done / self.total_runs)
            if not todo:
                rc, err, _ = self.run_once(directory, fresh, None)
                if rc != 0:
                    self.other_problems.append(f"{directory.name}: the last {'collect' if fresh else 'resume'} "
                                               f"exited {rc}: {err.strip()[-300:]}")
                    return {}
                break
            step = todo[0]
            if step[0] == "kill":
                rc, err, what = self.run_once(directory, fresh, ("kill", self.rng.uniform(0, estimate)))
            else:
                signum = step[1]
                rc, err, what = self.run_once(directory, fresh,
                                              ("signal", signum, self.rng.uniform(0.05, max(0.1, estimate - 0.6)),
                                               self.rng.random() < 0.5))
                name = signal.Signals(signum).name
                if what == "signalled" and self.signalled_complete and rc in (0, -signum, 128 + signum):
                    # every run was stored and pmcsuite was on its way out: the signal raced the exit
                    self.signal_exits[f"{name} at the exit -> {rc}"] += 1
                    self.carry.append(step)                 # send it again, mid-sweep, in a later sweep
                elif what == "signalled":
                    text = [line for line in err.splitlines() if line.strip()]
                    self.signal_exits[f"{name} -> {rc}"] += 1
                    if rc != 128 + signum or len(text) != 1 or name not in text[0]:
                        self.signal_problems.append(f"{name}: exit {rc}, stderr {err.strip()!r}")
                    elif name not in self.signal_lines:
                        self.signal_lines[name] = text[0]
            if what == "finished":                  # done before the step landed: it goes to the next sweep
                if rc != 0:
                    self.other_problems.append(
                        f"{directory.name}: exited {rc} before the {step[0]}: {err.strip()[-300:]}")
                    return {}
                self.carry.extend(todo)
                break
            todo.pop(0)
        return audit(directory)

    def main(self) -> int:
        args = self.args
        t0 = time.monotonic()
        # a reference sweep, not killed: its wall time spreads the kill moments over a whole sweep
        reference_dir = self.root / "reference"
        started = time.monotonic()
        rc, err, _ = self.run_once(reference_dir, True, None)
        reference = time.monotonic() - started
        if rc != 0:
            print(f"the reference sweep failed (exit {rc}): {err.strip()}", file=sys.stderr)
            shutil.rmtree(self.root, ignore_errors=True)
            return 1
        self.total_runs = len(expected_keys(reference_dir))
        totals = collections.Counter(audit(reference_dir))
        print(f"reference sweep: {self.total_runs} runs in {reference:.1f} s ({' '.join(self.sweep_options)})")

        signals = [signal.SIGTERM, signal.SIGHUP] * args.signals + ([signal.SIGINT] if args.signals else [])
        self.rng.shuffle(signals)
        kills_left, index = args.kills, 0
        self.carry: list = []
        while kills_left > 0 or signals or self.carry:
            carried_kills = sum(1 for s in self.carry if s[0] == "kill")
            carried_signals = [s[1] for s in self.carry if s[0] == "signal"]
            self.carry = []
            kills = carried_kills + min(kills_left, self.rng.randint(2, 5))
            kills_left -= kills - carried_kills
            mine = carried_signals + ([signals.pop()] if signals and self.rng.random() < 0.7 else [])
            if kills == 0 and not mine and kills_left <= 0 and signals:
                mine = [signals.pop()]
            result = self.sweep(index, kills, mine, reference)
            index += 1
            if not result:
                break
            totals.update(result)
            if index > 10 * (args.kills + 3 * args.signals + 1):
                self.other_problems.append("the kills do not land: the sweep finishes too fast")
                break
        pattern, killed = re.compile(r"^pmcsuite-[a-z]+-(\d+)-"), set(self.killed_pids)
        leftover_scratch = sum(1 for entry in self.tmp.iterdir()
                               if (m := pattern.match(entry.name)) and int(m.group(1)) in killed)
        wall = time.monotonic() - t0
        print(f"sweeps: {index} killed and resumed, plus the reference; commands: "
              + ", ".join(f"{k} {v}" for k, v in sorted(self.attempts.items())))
        print("kills landed: " + ", ".join(f"{k} {v}" for k, v in sorted(self.kill_phases.items())))
        print(f"runs expected:        {totals['expected']} (the reference sweep's included)")
        print(f"runs stored:          {totals['stored']}")
        print(f"runs lost:            {totals['lost']}")
        print(f"runs duplicated:      {totals['duplicated']}")
        print(f"lines corrupted:      {totals['corrupted']}")
        print(f"runs failed (stored): {totals['failed']}")
        print(f"leftover processes:   {len(self.leftovers)}" + "".join(f"\n  {x}" for x in self.leftovers[:10]))
        print(f"leftover scratch:     {leftover_scratch} (once done; {self.scratch_at_kill} left by the kills, "
              "removed by the next run)")
        print(f"signal exits wrong:   {len(self.signal_problems)} of {sum(self.signal_exits.values())} "
              "(SIGTERM 143, SIGHUP 129, SIGINT 130, one stderr line): "
              + ", ".join(f"{k} x{v}" for k, v in sorted(self.signal_exits.items()))
              + "".join(f"\n  {x}" for x in self.signal_problems)
              + "".join(f"\n  {name}: {line[:150]}" for name, line in sorted(self.signal_lines.items())))
        for problem in self.other_problems:
            print(f"problem: {problem}")
        print(f"wall time:            {wall:.1f} s ({self.pmcsuite_seconds:.1f} s in pmcsuite)")
        bad = (totals["lost"] or totals["duplicated"] or totals["corrupted"] or totals["failed"] or totals["unexpected"]
               or self.leftovers or leftover_scratch or self.signal_problems or self.other_problems
               or sum(self.kill_phases.values()) < args.kills
               or sum(v for k, v in self.signal_exits.items() if "at the exit" not in k)
               < 2 * args.signals + bool(args.signals))
        if args.keep or bad:
            print(f"directories kept in {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)
        return 1 if bad else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs to land (default 20)")
    parser.add_argument("--signals", type=int, default=2,
                        help="SIGTERMs and SIGHUPs to send, each (default 2; plus one SIGINT)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments (default 0)")
    parser.add_argument("--backend", default="inproc", help="counter backend of the sweep (default inproc)")
    parser.add_argument("--keep", action="store_true", help="keep the result directories")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        print("bench_kill_resume needs Linux (/proc)", file=sys.stderr)
        return 1
    return Bench(args).main()


if __name__ == "__main__":
    sys.exit(main())
