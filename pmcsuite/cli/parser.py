"""The ``pmcsuite`` command line: one parser, one small function per subcommand's options; each
subcommand's ``func`` is its ``commands.cmd_NAME``."""
from __future__ import annotations

import argparse

from ..errors import REGRESSION
from ..schema import (ACTORS, DEFAULT_ACTORS, DEFAULT_PLACEMENT, DEFAULT_SWEEP, DEFAULT_TIMEOUT, DEFAULT_TOTAL,
                      IPC_MODES, PLACEMENTS, QUICK_SWEEP, REFERENCE_IPCS, REFERENCE_SIZES)
from ..sizes import format_size
from . import commands


def _percent(text: str) -> float:
    """--fail-if-slower PCT: a finite percentage from 0 to 100 (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value == value and 0 <= value < 100):
        raise argparse.ArgumentTypeError(f"{text} is not a percentage from 0 to 100 (e.g. 5)")
    return value



class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, with its usage errors as one line and exit status 2 like every other error."""

    def error(self, message):
        self.exit(2, f"pmcsuite: error: {message} (see '{self.prog} --help')\n")


#: examples shown at the end of each command's --help
EXAMPLES = {
    "collect": ["pmcsuite collect --quick --out results/q",
                "pmcsuite collect --counters syscalls,faults --ipc pipe,local --sizes 4K,64K,1M",
                "pmcsuite collect --target-ci 2 --max-runs 40 --out results/precise",
                "pmcsuite collect --backend perf --quick          # perf stat around every run",
                "pmcsuite collect --resume results/q --timeout 300",
                "pmcsuite collect --quick --host root@192.168.7.2 --out results/bbb",
                "pmcsuite collect --quick --host pi@a --host pi@b:2222 --ssh-command \"ssh -i ~/.ssh/lab\" "
                "--out results/fleet"],
    "bench": ["pmcsuite bench --ipc local-s --buffer 256K", "pmcsuite bench --ipc pipe --buffer 1M --json"],
    "check": ["pmcsuite check", "pmcsuite check --counters l1,axi --platform cortex-a8 --json",
              "pmcsuite check --host root@192.168.7.2"],
    "counters": ["pmcsuite counters", "pmcsuite counters --platform armv8 --json"],
    "summary": ["pmcsuite summary results/q", "pmcsuite summary --json"],
    "report": ["pmcsuite report results/q", "pmcsuite report results/q --out reports/q",
               "pmcsuite report results/new-kernel --compare results/old-kernel"],
    "export": ["pmcsuite export results/q                 # into results/q/export/",
               "pmcsuite export results/q --out /tmp/q --format csv,parquet --json"],
    "overhead": ["pmcsuite overhead results/q", "pmcsuite overhead results/q --json"],
    "explain": ["pmcsuite explain results/q", "pmcsuite explain results/q --json"],
    "import": ["pmcsuite import l41 shared/data/l41-bbb-sample --out results/l41",
               "pmcsuite import csv mine.csv --out results/mine --json"],
    "trace": ["pmcsuite trace --ipc pipe --buffer 256K --out reports/"],
    "compare": ["pmcsuite compare results/old-kernel results/new-kernel",
                "pmcsuite compare results/main results/branch --fail-if-slower 5 --json"],
}



class _Commands:
    """The subcommands' parsers: ``add`` gives each its examples (EXAMPLES) as its epilog."""

    def __init__(self, parser: argparse.ArgumentParser):
        self._subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(self, name: str, func, **kwargs) -> argparse.ArgumentParser:
        examples = "\n".join(f"  {e}" for e in EXAMPLES.get(name, []))
        p = self._subparsers.add_parser(name, epilog=f"examples:\n{examples}" if examples else None,
                                        formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)
        p.set_defaults(func=func)
        return p


def _words(names, default=None) -> str:
    """('same', 'split', 'any') -> 'same, split or any', the default marked '(default)'."""
    shown = [f"{name} (default)" if name == default else name for name in names]
    return ", ".join(shown[:-1]) + " or " + shown[-1]


def _process_words(sweep: dict) -> str:
    """What each benchmark process of a sweep (``schema.DEFAULT_SWEEP``) runs: '1 warm-up + 1 measured'."""
    return f"{sweep['warmup']} warm-up + {sweep['runs'] // sweep['processes'] - sweep['warmup']} measured"


def _json_option(p) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON document (with its provenance)")


def _bench_options(p, default_placement, defaults=True) -> None:
    total = format_size(DEFAULT_TOTAL)
    p.add_argument("--actors", default=DEFAULT_ACTORS if defaults else None, help=_words(ACTORS, DEFAULT_ACTORS))
    p.add_argument("--placement", default=default_placement if defaults else None,
                   help=f"CPU placement: {_words(PLACEMENTS)} (default {default_placement})")
    p.add_argument("--total", default=total if defaults else None, help=f"bytes moved per run (default {total})")


def build_parser() -> argparse.ArgumentParser:
    from ..version import __version__
    parser = OneLineErrorParser(
        prog="pmcsuite",
        description="Explain IPC bandwidth with hardware performance counters and kernel counters.",
        epilog="examples:\n  pmcsuite check\n  pmcsuite collect --quick --out results/q\n  pmcsuite report results/q\n"
               "  pmcsuite explain results/q\n\nexit status: 0 ok, 2 bad input, 3 environment (tool, permission, "
               "storage), 70 bug, 128+N interrupted by signal N",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"pmcsuite {__version__}")
    sub = _Commands(parser)
    _add_collect(sub.add("collect", commands.cmd_collect, help="run the IPC sweep with counters and store every run"))
    _add_bench(sub.add("bench", commands.cmd_bench, help="run the benchmark once and print its result"))
    _add_check(sub.add("check", commands.cmd_check,
                       help="open every catalogue counter on this host (or --host) and report its status"))
    _add_counters(sub.add("counters", commands.cmd_counters,
                          help="list the catalogue: groups, counters, this platform's events, derived metrics"))
    _add_result_commands(sub)
    _add_compare(sub.add("compare", commands.cmd_compare,
                         help="compare result sets with the first: per point ratio, interval, verdict"))
    _add_import(sub.add("import", commands.cmd_import, help="import existing benchmark output as a result directory"))
    _add_trace(sub.add("trace", commands.cmd_trace, help="timeline of one run as a Perfetto/Chrome trace and a PNG"))
    return parser


def _add_collect(p) -> None:
    _sweep_options(p)
    _collect_run_options(p)
    _remote_options(p)
    _json_option(p)


def _sweep_options(p) -> None:
    """collect's options that define a sweep (--resume takes them from the directory)."""
    p.add_argument("--counters", help="counter groups, e.g. l1,axi (default: every group this host can count)")
    default, quick = DEFAULT_SWEEP, QUICK_SWEEP
    p.add_argument("--ipc", help=f"IPC modes (default {','.join(REFERENCE_IPCS)})")
    p.add_argument("--sizes", help=f"buffer sizes: a power-of-two range {REFERENCE_SIZES} (default) or a list "
                                   "4K,64K,1M")
    p.add_argument("--runs", type=int, help=f"runs per point and variant, warm-ups included (default "
                                            f"{default['runs']}: {default['processes']} processes x "
                                            f"({_process_words(default)}); --quick {quick['runs']}: "
                                            f"{quick['processes']} processes)")
    p.add_argument("--warmup", type=int,
                   help=f"warm-up iterations at the start of each benchmark process (default {default['warmup']}); "
                        "with a tool backend (one process per run), the leading runs of each point")
    p.add_argument("--processes", type=int,
                   help=f"benchmark processes per point and variant that share its runs (default "
                        f"{default['processes']}, quick {quick['processes']}); in-process counting only (perf, "
                        "pmcstat, dtrace start one process per run)")
    p.add_argument("--points-per-process", type=int, dest="points_per_process",
                   help="points (IPC mode x buffer size) one benchmark process runs in a row, each with its own "
                        f"iterations (default {default['points_per_process']}, quick {quick['points_per_process']}; "
                        "1 = a process per point): what a process costs to start, such as registering "
                        "tracepoints, is paid once for them")
    p.add_argument("--target-ci", type=float, dest="target_ci", metavar="PCT",
                   help="add benchmark processes to every point until the 95 %% interval of its bandwidth (over "
                        "its processes) is within ±PCT %% of it, as many at a time as its spread needs, or "
                        "--max-runs is reached (pmcsuite summary lists the points that did not get there)")
    p.add_argument("--max-runs", type=int, dest="max_runs",
                   help="with --target-ci: at most this many runs per point and variant, warm-ups included "
                        "(default 3 x --runs)")
    _bench_options(p, DEFAULT_PLACEMENT, defaults=False)     # collect() fills in the defaults; --resume refuses them
    p.add_argument("--backend",
                   help="auto (Linux: inproc, the benchmark counts its own loop; FreeBSD: pmcstat,dtrace), inproc, "
                        "perf (perf stat around every run), pmcstat, dtrace, a list such as pmcstat,dtrace, or none "
                        "(bandwidth only)")
    p.add_argument("--platform", help="override platform detection, e.g. cortex-a8 or x86-64,software")
    p.add_argument("--seed", type=int, help="seed of the interleaved run order (default 1)")


def _collect_run_options(p) -> None:
    """collect's options about where the results go and how the sweep runs."""
    p.add_argument("--out", help="result directory (default results/collect-<time>)")
    quick = QUICK_SWEEP
    p.add_argument("--quick", action="store_true",
                   help=f"a short sweep ({quick['sizes']}, {quick['runs']} runs per point: {quick['processes']} "
                        f"processes of {_process_words(quick)}) for a first look")
    p.add_argument("--resume", metavar="DIR", help="finish the runs missing from DIR")
    p.add_argument("--catalogue", action="append", metavar="FILE", help="extra counters.yaml to merge")
    p.add_argument("--timeout", type=float,
                   help=f"seconds before a run counts as hung (default {DEFAULT_TIMEOUT:g}; may be raised on --resume)")
    p.add_argument("--force", action="store_true",
                   help="as root, grant socket buffers above net.core.wmem_max (SO_*BUFFORCE) and pipe-s sizes above "
                        "fs.pipe-max-size, so that every size is granted as in the reference study")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or progress lines")


def _remote_options(p) -> None:
    """collect's options for running on other machines over SSH."""
    p.add_argument("--host", action="append", metavar="[USER@]HOST[:PORT]",
                   help="run the sweep on this machine over SSH (it needs a POSIX shell, nothing else: the benchmark "
                        "is cross-compiled here and copied there); repeat for several hosts, one sweep each in "
                        "parallel into OUT/<host>")
    p.add_argument("--hosts", metavar="FILE", help="hosts to collect on, one [user@]host[:port] a line")
    p.add_argument("--ssh-command", dest="ssh_command", metavar="CMD",
                   help="the ssh command line to reach the host(s), e.g. \"ssh -i KEY -o ProxyJump=gw\" (default "
                        "ssh: your ~/.ssh/config, keys and agent apply; never prompts); may be given again on --resume")
    p.add_argument("--target-cc", dest="target_cc", metavar="CC",
                   help="with --host: build the benchmark on the target with its own C compiler instead of "
                        "cross-compiling it here with zig")
    p.add_argument("--tag", help="a label stored in metadata.json (e.g. kernel-6.1, governor=performance)")


def _add_bench(p) -> None:
    p.add_argument("--ipc", default="pipe", help=", ".join(IPC_MODES))
    p.add_argument("--buffer", default="64K", help="bytes per write (default 64K)")
    _bench_options(p, DEFAULT_PLACEMENT)               # as collect: both actors on one CPU
    p.add_argument("--force", action="store_true", help="as root, force socket buffers above wmem_max")
    p.add_argument("--json", action="store_true", help="print the benchmark's JSON")


def _add_check(p) -> None:
    p.add_argument("--counters", help="only these groups or counter ids")
    p.add_argument("--backend", default="auto")
    p.add_argument("--platform")
    p.add_argument("--catalogue", action="append", metavar="FILE")
    p.add_argument("--host", metavar="[USER@]HOST[:PORT]", help="ask a remote target over SSH, as collect --host would")
    p.add_argument("--ssh-command", help="the ssh command line for --host (default: ssh)")
    p.add_argument("--target-cc", metavar="CC", help="build the benchmark with the target's compiler (--host)")
    _json_option(p)


def _add_counters(p) -> None:
    p.add_argument("--backend", default="auto")
    p.add_argument("--platform", help="show another platform's events, e.g. cortex-a8")
    p.add_argument("--catalogue", action="append", metavar="FILE")
    _json_option(p)


def _add_result_commands(sub: _Commands) -> None:
    """summary, report, export, overhead, explain: one result directory (default: the newest)."""
    for name, func, text in (("summary", commands.cmd_summary, "print medians and spread per point"),
                             ("report", commands.cmd_report, "write the Markdown/HTML report with figures"),
                             ("export", commands.cmd_export, "write the result table as CSV, JSON and Parquet, and "
                                                             "the tidy CSV 'import csv' reads")):
        p = sub.add(name, func, help=text)
        p.add_argument("dir", nargs="?", help="result directory (default: newest under ./results)")
        if name in ("report", "export"):
            p.add_argument("--out", help="output directory (default: reports/NAME for report, DIR/export for export)")
        if name == "export":
            p.add_argument("--format", default="csv,json,parquet",
                           help="csv, json, parquet or several, comma-separated (default: all three)")
        if name in ("summary", "export"):
            _json_option(p)
        if name == "report":
            p.add_argument("--compare", action="append", metavar="REF",
                           help="add a section comparing DIR with the result directory REF (repeatable)")
    for name, func, text in (("overhead", commands.cmd_overhead, "instrumented vs baseline bandwidth per point"),
                             ("explain", commands.cmd_explain, "inflexion points and the counters behind them")):
        p = sub.add(name, func, help=text)
        p.add_argument("dir", nargs="?", help="result directory (default: newest under ./results)")
        _json_option(p)


def _add_compare(p) -> None:
    p.add_argument("dirs", nargs="+", metavar="DIR", help="result directories: the reference first, then the others")
    p.add_argument("--fail-if-slower", type=_percent, metavar="PCT",
                   help=f"exit {REGRESSION} when a set's overall ratio, or any point's, is shown slower than the "
                        "reference by more than PCT %% (its whole interval below 1 - PCT/100), naming them (for "
                        "regression tracking in CI)")
    _json_option(p)


def _add_import(p) -> None:
    p.add_argument("format", choices=["l41", "csv"], help="l41 (ipc-static text or ipc-benchmark JSON) or csv")
    p.add_argument("paths", nargs="+", help="files or directories")
    p.add_argument("--manifest", help="CSV saying how each L41 file was launched")
    p.add_argument("--warmup", type=int, default=0, help="leading runs per point to mark as warm-up (default 0)")
    p.add_argument("--host-note", help="what the data says about its machine, e.g. 'BeagleBone Black, FreeBSD 11'")
    p.add_argument("--out", required=True, help="result directory to create")
    _json_option(p)


def _add_trace(p) -> None:
    p.add_argument("--ipc", default="pipe")
    p.add_argument("--buffer", default="256K")
    _bench_options(p, "any")
    p.add_argument("--out", help="trace JSON path (default reports/trace-<ipc>-<size>.json)")
