"""The ``pmcsuite`` command: a thin argparse layer over the Python API.

Every failure the user can fix is a PmcsuiteError: printed as one line, with the exit status of its
class (errors.py). Every command that prints results takes ``--json`` and prints one JSON document
with a ``provenance`` object (the result directory's own and this run's).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from .errors import INTERNAL, REGRESSION, EnvironmentProblem, PmcsuiteError, Signalled
from .options import name_list


def _latest_results() -> Path:
    """The newest result directory under ./results (what 'pmcsuite report' uses without DIR)."""
    root = Path("results")
    candidates = [p.parent for p in root.glob("*/metadata.json")] if root.is_dir() else []
    if not candidates:
        raise PmcsuiteError("no result directory given and none under ./results: "
                            "run 'pmcsuite collect' first or name a directory")
    return max(candidates, key=lambda p: (p / "metadata.json").stat().st_mtime)


def _dir(args) -> Path:
    if args.dir:
        return Path(args.dir)
    chosen = _latest_results()
    print(f"pmcsuite: using the newest result directory, {chosen} (give DIR to choose another)", file=sys.stderr)
    args.dir = str(chosen)          # said once per command
    return chosen


def _print_json(document: dict, df=None) -> None:
    """One JSON document on stdout with its provenance (NaN as null)."""
    from .analysis.runs import jsonable
    print(json.dumps({"provenance": _provenance(df), **document}, indent=2, default=jsonable))


#: collect options that define a sweep (None when not given): --resume takes them from the directory
SWEEP_OPTIONS = {"counters": "counters", "ipc": "ipcs", "sizes": "sizes", "runs": "runs", "warmup": "warmup",
                 "total": "total", "actors": "actors", "placement": "placement", "backend": "backend",
                 "platform": "platform", "seed": "seed", "out": "out", "catalogue": "catalogue",
                 "processes": "processes", "points_per_process": "points_per_process",
                 "target_ci": "target_ci", "max_runs": "max_runs", "host": "host", "hosts": "host",
                 "tag": "tag", "target_cc": "target_cc"}


def cmd_collect(args):
    from .collect.collection import collect, summary_lines
    sweep = {name: getattr(args, option) for option, name in SWEEP_OPTIONS.items()
             if getattr(args, option) is not None and option != "hosts"}
    if args.hosts is not None:
        from .collect.collection import read_hosts_file
        sweep["host"] = [*(args.host or []), *read_hosts_file(args.hosts)]
    if args.quick:
        sweep["quick"] = True
    if args.force:
        sweep["force"] = True
    if args.resume and sweep:
        raise PmcsuiteError(f"--resume takes the sweep from {args.resume}: drop "
                            f"{', '.join('--' + o for o in SWEEP_OPTIONS if getattr(args, o) is not None) or '--quick/--force'}"
                            " (only --timeout, --ssh-command and --no-progress go with it)")
    out = collect(resume=args.resume, timeout=args.timeout, progress=not args.no_progress,
                  command_line=["pmcsuite", *sys.argv[1:]], ssh_command=args.ssh_command, **sweep)
    several = not (out / "metadata.json").exists()       # several hosts: one result directory each
    directories = sorted(p.parent for p in out.glob("*/metadata.json")) if several else [out]
    if args.json:
        documents = [_collected(d) for d in directories]
        tables = [document.pop("_df") for document in documents]
        _print_json({"directory": str(out), "hosts": documents} if several else documents[0],
                    None if several else tables[0])
        return
    for directory in directories:
        for line in summary_lines(directory):
            print(line)
    print(f"next: pmcsuite compare {' '.join(map(str, directories))}" if several else f"next: pmcsuite report {out}")


def _collected(directory: Path) -> dict:
    """What ``collect --json`` says of one result directory (``_df``: its table, for the provenance)."""
    from .collect.collection import summary_lines
    from .results.load import load
    df = load(directory)
    ok = df[df["ok"]]
    meta = df.attrs["metadata"]
    host = meta.get("host") or {}
    return {"directory": str(directory), "hostname": host.get("hostname"), "ssh": (host.get("via") or {}).get("ssh"),
            "tag": meta.get("tag"), "runs": int(len(ok)), "failed": int((~df["ok"]).sum()),
            "shared_cpu": int(ok["shared_cpu"].sum()), "warnings": len(df.attrs.get("warnings") or []),
            "summary": summary_lines(directory), "_df": df}


def cmd_bench(args):
    from .collect.benchmark import bench
    from .sizes import parse_size
    from .sizes import format_size
    result = bench(args.ipc, parse_size(args.buffer), total_size=parse_size(args.total), actors=args.actors,
                   placement=args.placement, force=args.force)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    mib = result["bandwidth"] / (1 << 20)
    granted = ", ".join(f"{k} {format_size(v)}" for k, v in (result.get("buffers") or {}).items()
                        if k in ("sndbuf", "rcvbuf", "pipe_size") and v is not None) or "defaults"
    cpus = result.get("cpus") or {}
    where = ", ".join(f"{role} on CPU {c[0]}" for role, c in cpus.items() if isinstance(c, list) and c) or "n/a"
    print(f"{result['ipc']} {result['actors']} placement {result['placement']}, buffer {format_size(result['buffer_size'])}: "
          f"{mib:,.0f} MiB/s ({result['loop_ns'] / 1e6:,.2f} ms for {format_size(result['total_size'])})\n"
          f"  {result['writes']:,} writes, {result['reads']:,} reads; {where}; buffers granted: {granted}; "
          f"data {'intact' if result.get('bytes_ok') else 'CORRUPT'}")


def cmd_check(args):
    from .collect.backends import resolve_backends
    from .catalogue import load_catalogue
    from .collect.check import check, format_check
    from .collect.hostinfo import resolve_platforms
    if args.host:
        from .collect.collection import check_target
        platforms, backends, results = check_target(args.host, args.ssh_command, args.counters, args.backend,
                                                    args.platform, args.catalogue or (), args.target_cc)
    else:
        if args.ssh_command or args.target_cc:
            raise PmcsuiteError("--ssh-command and --target-cc go with --host: they say how to reach the target "
                                "and build its benchmark")
        cat = load_catalogue([Path(c) for c in args.catalogue or ()])
        platforms = resolve_platforms(cat, args.platform)
        backends = resolve_backends(args.backend)
        results = check(cat, name_list(args.counters, "--counters", "syscalls,faults"), platforms, backends)
    where = {"host": args.host} if args.host else {}
    if args.json:
        _print_json({**where, "platform": platforms, "backend": backends, "counters": [r.to_dict() for r in results]})
    else:
        print(f"{'host: ' + args.host + '; ' if args.host else ''}platform: {', '.join(platforms)}; "
              f"backend: {', '.join(backends) or 'none'}")
        print(format_check(results))
    if not any(r.status == "available" for r in results):
        raise EnvironmentProblem("none of these counters can be counted here (see the table above): measure "
                                 "bandwidth only with --backend none, or fix what the reasons say")


def cmd_counters(args):
    from .collect.backends import resolve_backends
    from .catalogue import format_catalogue, load_catalogue
    from .collect.hostinfo import resolve_platforms
    cat = load_catalogue([Path(c) for c in args.catalogue or ()])
    platforms, backends = resolve_platforms(cat, args.platform), resolve_backends(args.backend)
    if args.json:
        _print_json({"platform": platforms, "backend": backends, "catalogue": cat.metadata(),
                     "groups": {g.name: {"description": g.description, "counters": g.counters} for g in cat.groups.values()},
                     "counters": {c.id: {"description": c.description, "unit": c.unit, "kind": c.kind,
                                         "caveats": c.caveats, "never_zero": c.never_zero,
                                         "event": (lambda found: {"platform": found[0], "spec": found[1], "backend": found[2]}
                                                   if found else None)(cat.locate(c.id, platforms, backends)),
                                         "unavailable": cat.why_missing(c.id, platforms, backends) or None}
                                  for c in cat.counters.values()},
                     "derived": {d.name: {"formula": d.formula, "unit": d.unit, "description": d.description}
                                 for d in cat.derived.values()}})
        return
    print(format_catalogue(cat, platforms, backends))


def _load(args):
    """The result table of the directory given (or the newest), with a warning for skipped lines."""
    from .results.load import load, require_runs
    df = require_runs(load(_dir(args)))
    skipped = df.attrs.get("skipped_lines")
    if skipped:
        print(f"pmcsuite: warning: {df.attrs['directory']}/runs.jsonl lines {', '.join(map(str, skipped))} are "
              "corrupt or truncated and were left out", file=sys.stderr)
    return df


def _provenance(df=None) -> dict:
    """Where a JSON output comes from: the result directory's own provenance (if any) and this run's."""
    import datetime as dt
    from . import __version__
    if df is None:
        from .collect.hostinfo import host_metadata
        return {"host": host_metadata(), "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "generated_by": ["pmcsuite", *sys.argv[1:]], "pmcsuite_version": __version__}
    meta = df.attrs.get("metadata") or {}
    return {"results": str(df.attrs.get("directory")),
            "collected": {**{k: meta.get(k) for k in ("created", "command_line", "source", "host", "platform",
                                                      "backend", "tools", "seed")},
                          # the catalogue's identity; its snapshot (the YAML texts) stays in metadata.json
                          "catalogue": {k: v for k, v in (meta.get("catalogue") or {}).items() if k != "snapshot"}},
            "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "generated_by": ["pmcsuite", *sys.argv[1:]], "pmcsuite_version": __version__}


def cmd_summary(args):
    import pandas as pd
    from .sizes import format_size
    from .analysis.precision import needs_runs, precision
    from .results.load import GROUP_KEYS, summarise
    df = _load(args)
    table = summarise(df)
    stats = ["median", "q25", "q75", "min", "max", "mean", "std"]
    known = precision(df)
    ci = known.set_index(GROUP_KEYS)["half_width_pct"]
    table["median_ci95_pct"] = ci.reindex(pd.MultiIndex.from_frame(table[GROUP_KEYS].astype(object))).to_numpy()
    target = ((df.attrs.get("metadata") or {}).get("settings") or {}).get("target_ci")
    if args.json:
        rows = table.drop(columns=["status"]).rename(columns={"metric": "value"}).to_dict("records")
        _print_json({"unit": "bytes/s", "cells": rows,
                     "target_ci": target, "short_of_target": (needs_runs(known, target).to_dict("records")
                                                              if target else [])}, df)
        return
    table[stats] = table[stats] / (1 << 20)
    table = table.rename(columns={"metric": "unit"}).assign(
        unit="MiB/s", buffer_size=table["buffer_size"].map(format_size),
        cv=table["cv"].map(lambda v: f"{v:.1%}" if v == v else "n/a"),
        median_ci95=table["median_ci95_pct"].map(lambda v: f"±{v:.1f}%" if v == v else "n/a"))
    with pd.option_context("display.max_rows", None, "display.width", 200, "display.float_format", "{:,.1f}".format):
        print(table.drop(columns=["status", "median_ci95_pct"]).to_string(index=False, na_rep="n/a"))
    if target:
        short = needs_runs(known, target)
        if short.empty:
            print(f"every point's level is known within ±{target:g} % (95 % interval over its processes; "
                  f"--target-ci {target:g})")
        else:
            cells = "; ".join(f"{r.ipc} {format_size(r.buffer_size)} {r.variant} (±{r.half_width_pct:.1f}%, "
                              f"{r.n_processes} processes, n={r.n})" if r.half_width_pct == r.half_width_pct else
                              f"{r.ipc} {format_size(r.buffer_size)} {r.variant} (unknown, {r.n_processes} "
                              f"process{'es' if r.n_processes != 1 else ''}, n={r.n})"
                              for r in short.itertuples())
            print(f"{len(short)} point(s) did not reach --target-ci {target:g} % within --max-runs: {cells}")


def cmd_export(args):
    from .results.export import export, tidy_runs
    df = _load(args)   # warns about skipped lines
    written = export(df, args.out, args.format)
    left_out = len(df) - len(tidy_runs(df)) if any(p.name == "tidy.csv" for p in written) else 0
    if args.json:
        _print_json({"files": [{"path": str(p), "bytes": p.stat().st_size} for p in written],
                     "failed_runs_not_in_tidy_csv": left_out}, df)
        return
    for path in written:
        print(path)
    if left_out:
        print(f"pmcsuite: {left_out} failed run(s) are in results.* but not in tidy.csv, whose form has no "
              "failed runs", file=sys.stderr)


def cmd_report(args):
    from .report import build_report
    print(build_report(_dir(args), args.out, compare_with=args.compare or ()))


def cmd_overhead(args):
    from .analysis.overhead import overhead
    df = _load(args)
    result = overhead(df)
    print(json.dumps({"provenance": _provenance(df), **result.to_dict()}, indent=2) if args.json
          else result.summary())


def cmd_explain(args):
    from .analysis.findings import findings_dict, findings_text
    df = _load(args)
    print(json.dumps({"provenance": _provenance(df), **findings_dict(df)}, indent=2) if args.json
          else findings_text(df))


def cmd_compare(args):
    from .analysis.compare import compare
    from .analysis.overhead import format_interval, level_text
    from .results.load import load
    tables = [load(d) for d in args.dirs]
    result = compare(*tables, names=[str(d) for d in args.dirs])
    if args.json:
        _print_json(result.to_dict(), tables[0])
    else:
        print(result.summary())
    if args.fail_if_slower is not None:
        slower = result.slower(args.fail_if_slower)
        if len(slower):
            shown = [f"{r.point} of {r.name} {r.ratio:.3f}x ({level_text(r.level)} interval "
                     f"{format_interval(r.ci_low, r.ci_high)})" for r in slower.itertuples()]
            print(f"pmcsuite: slower than {args.dirs[0]} by more than {args.fail_if_slower:g} % (the whole "
                  f"interval below {1 - args.fail_if_slower / 100:.3g}x): {'; '.join(shown)}", file=sys.stderr)
            return REGRESSION
    return 0


def _percent(text: str) -> float:
    """--fail-if-slower PCT: a finite percentage from 0 to 100 (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value == value and 0 <= value < 100):
        raise argparse.ArgumentTypeError(f"{text} is not a percentage from 0 to 100 (e.g. 5)")
    return value


def cmd_import(args):
    if args.format == "l41":
        from .results.importers.l41 import import_l41
        out = import_l41(args.paths, args.out, manifest=args.manifest, warmup=args.warmup, host_note=args.host_note,
                         command_line=["pmcsuite", *sys.argv[1:]])
    else:
        from .results.importers.tidy_csv import import_csv
        if len(args.paths) != 1:
            raise PmcsuiteError("'pmcsuite import csv' takes exactly one CSV file")
        out = import_csv(args.paths[0], args.out, host_note=args.host_note, command_line=["pmcsuite", *sys.argv[1:]])
    if args.json:
        from .results.load import load
        df = load(out)
        _print_json({"directory": str(out), "runs": int(len(df)),
                     "variants": sorted(set(df["variant"])), "counters": list(df.attrs.get("counters") or [])}, df)
        return
    print(out)


def cmd_trace(args):
    from .sizes import parse_size
    from .collect.trace import trace
    paths = trace(args.ipc, parse_size(args.buffer), total_size=parse_size(args.total), out=args.out,
                  placement=args.placement, actors=args.actors, command_line=["pmcsuite", *sys.argv[1:]])
    for path in paths:
        print(path)


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
                "pmcsuite collect --quick --host pi@a --host pi@b:2222 --ssh-command \"ssh -i ~/.ssh/lab\" --out results/fleet"],
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


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = OneLineErrorParser(
        prog="pmcsuite",
        description="Explain IPC bandwidth with hardware performance counters and kernel counters.",
        epilog="examples:\n  pmcsuite check\n  pmcsuite collect --quick --out results/q\n  pmcsuite report results/q\n"
               "  pmcsuite explain results/q\n\nexit status: 0 ok, 2 bad input, 3 environment (tool, permission, "
               "storage), 70 bug, 128+N interrupted by signal N",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"pmcsuite {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    class _Sub:
        """add_parser with the command's examples as its epilog."""
        def add_parser(self, name, **kwargs):
            examples = "\n".join(f"  {e}" for e in EXAMPLES.get(name, []))
            return commands.add_parser(name, epilog=f"examples:\n{examples}" if examples else None,
                                       formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)

    sub = _Sub()

    def json_option(p):
        p.add_argument("--json", action="store_true", help="print one JSON document (with its provenance)")

    def bench_options(p, default_placement, defaults=True):
        p.add_argument("--actors", default="2thread" if defaults else None, help="2thread (default) or 2proc")
        p.add_argument("--placement", default=default_placement if defaults else None,
                       help=f"CPU placement: same, split or any (default {default_placement})")
        p.add_argument("--total", default="16M" if defaults else None, help="bytes moved per run (default 16M)")

    p = sub.add_parser("collect", help="run the IPC sweep with counters and store every run")
    p.add_argument("--counters", help="counter groups, e.g. l1,axi (default: every group this host can count)")
    p.add_argument("--ipc", help="IPC modes (default pipe,local,local-s)")
    p.add_argument("--sizes", help="buffer sizes: a power-of-two range 1K-16M (default) or a list 4K,64K,1M")
    p.add_argument("--runs", type=int, help="runs per point and variant, warm-ups included (default 14: 7 processes "
                                            "x (1 warm-up + 1 measured); --quick 12: 6 processes)")
    p.add_argument("--warmup", type=int,
                   help="warm-up iterations at the start of each benchmark process (default 1); with a tool "
                        "backend (one process per run), the leading runs of each point")
    p.add_argument("--processes", type=int,
                   help="benchmark processes per point and variant that share its runs (default 7, quick 6); "
                        "in-process counting only (perf, pmcstat, dtrace start one process per run)")
    p.add_argument("--points-per-process", type=int, dest="points_per_process",
                   help="points (IPC mode x buffer size) one benchmark process runs in a row, each with its own "
                        "iterations (default 15, quick 5; 1 = a process per point): what a process costs to start, such "
                        "as registering tracepoints, is paid once for them")
    p.add_argument("--target-ci", type=float, dest="target_ci", metavar="PCT",
                   help="add benchmark processes to every point until the 95 %% interval of its bandwidth (over "
                        "its processes) is within ±PCT %% of it, as many at a time as its spread needs, or "
                        "--max-runs is reached (pmcsuite summary lists the points that did not get there)")
    p.add_argument("--max-runs", type=int, dest="max_runs",
                   help="with --target-ci: at most this many runs per point and variant, warm-ups included "
                        "(default 3 x --runs)")
    bench_options(p, "same", defaults=False)     # collect() fills in the defaults; --resume refuses them
    p.add_argument("--backend",
                   help="auto (Linux: inproc, the benchmark counts its own loop; FreeBSD: pmcstat,dtrace), inproc, "
                        "perf (perf stat around every run), pmcstat, dtrace, a list such as pmcstat,dtrace, or none "
                        "(bandwidth only)")
    p.add_argument("--platform", help="override platform detection, e.g. cortex-a8 or x86-64,software")
    p.add_argument("--seed", type=int, help="seed of the interleaved run order (default 1)")
    p.add_argument("--out", help="result directory (default results/collect-<time>)")
    p.add_argument("--quick", action="store_true", help="a short sweep (1K-1M, 12 runs per point: 6 processes of "
                                                      "1 warm-up + 1 measured) "
                                                      "for a first look")
    p.add_argument("--resume", metavar="DIR", help="finish the runs missing from DIR")
    p.add_argument("--catalogue", action="append", metavar="FILE", help="extra counters.yaml to merge")
    p.add_argument("--timeout", type=float, help="seconds before a run counts as hung (default 120; may be raised on --resume)")
    p.add_argument("--force", action="store_true",
                   help="as root, grant socket buffers above net.core.wmem_max (SO_*BUFFORCE) and pipe-s sizes above "
                        "fs.pipe-max-size, so that every size is granted as in the reference study")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or progress lines")
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
    json_option(p)
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("bench", help="run the benchmark once and print its result")
    p.add_argument("--ipc", default="pipe", help="pipe, pipe-s, local, local-s, tcp, tcp-s")
    p.add_argument("--buffer", default="64K", help="bytes per write (default 64K)")
    bench_options(p, "same")               # as collect: both actors on one CPU
    p.add_argument("--force", action="store_true", help="as root, force socket buffers above wmem_max")
    p.add_argument("--json", action="store_true", help="print the benchmark's JSON")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("check", help="open every catalogue counter on this host (or --host) and report its status")
    p.add_argument("--counters", help="only these groups or counter ids")
    p.add_argument("--backend", default="auto")
    p.add_argument("--platform")
    p.add_argument("--catalogue", action="append", metavar="FILE")
    p.add_argument("--host", metavar="[USER@]HOST[:PORT]", help="ask a remote target over SSH, as collect --host would")
    p.add_argument("--ssh-command", help="the ssh command line for --host (default: ssh)")
    p.add_argument("--target-cc", metavar="CC", help="build the benchmark with the target's compiler (--host)")
    json_option(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("counters", help="list the catalogue: groups, counters, this platform's events, derived metrics")
    p.add_argument("--backend", default="auto")
    p.add_argument("--platform", help="show another platform's events, e.g. cortex-a8")
    p.add_argument("--catalogue", action="append", metavar="FILE")
    json_option(p)
    p.set_defaults(func=cmd_counters)

    for name, func, text in (("summary", cmd_summary, "print medians and spread per point"),
                             ("report", cmd_report, "write the Markdown/HTML report with figures"),
                             ("export", cmd_export, "write the result table as CSV, JSON and Parquet, and the "
                                                    "tidy CSV 'import csv' reads")):
        p = sub.add_parser(name, help=text)
        p.add_argument("dir", nargs="?", help="result directory (default: newest under ./results)")
        if name in ("report", "export"):
            p.add_argument("--out", help="output directory (default: reports/NAME for report, DIR/export for export)")
        if name == "export":
            p.add_argument("--format", default="csv,json,parquet",
                           help="csv, json, parquet or several, comma-separated (default: all three)")
        if name in ("summary", "export"):
            json_option(p)
        if name == "report":
            p.add_argument("--compare", action="append", metavar="REF",
                           help="add a section comparing DIR with the result directory REF (repeatable)")
        p.set_defaults(func=func)

    for name, func, text in (("overhead", cmd_overhead, "instrumented vs baseline bandwidth per point"),
                             ("explain", cmd_explain, "inflexion points and the counters behind them")):
        p = sub.add_parser(name, help=text)
        p.add_argument("dir", nargs="?", help="result directory (default: newest under ./results)")
        json_option(p)
        p.set_defaults(func=func)

    p = sub.add_parser("compare", help="compare result sets with the first: per point ratio, interval, verdict")
    p.add_argument("dirs", nargs="+", metavar="DIR", help="result directories: the reference first, then the others")
    p.add_argument("--fail-if-slower", type=_percent, metavar="PCT",
                   help=f"exit {REGRESSION} when a set's overall ratio, or any point's, is shown slower than the "
                        "reference by more than PCT %% (its whole interval below 1 - PCT/100), naming them (for "
                        "regression tracking in CI)")
    json_option(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("import", help="import existing benchmark output as a result directory")
    p.add_argument("format", choices=["l41", "csv"], help="l41 (ipc-static text or ipc-benchmark JSON) or csv")
    p.add_argument("paths", nargs="+", help="files or directories")
    p.add_argument("--manifest", help="CSV saying how each L41 file was launched")
    p.add_argument("--warmup", type=int, default=0, help="leading runs per point to mark as warm-up (default 0)")
    p.add_argument("--host-note", help="what the data says about its machine, e.g. 'BeagleBone Black, FreeBSD 11'")
    p.add_argument("--out", required=True, help="result directory to create")
    json_option(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("trace", help="timeline of one run as a Perfetto/Chrome trace and a PNG")
    p.add_argument("--ipc", default="pipe")
    p.add_argument("--buffer", default="256K")
    bench_options(p, "any")
    p.add_argument("--out", help="trace JSON path (default reports/trace-<ipc>-<size>.json)")
    p.set_defaults(func=cmd_trace)
    return parser


def _terminated(signum, frame):
    """SIGTERM and SIGHUP are handled like Ctrl-C: measured processes killed, temporary files removed,
    runs kept; the exit status says which signal (128 + N)."""
    raise Signalled(signum)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _terminated)
    try:
        status = args.func(args) or 0          # a command may return a status of its own (compare: 1)
    except PmcsuiteError as exc:
        print(f"pmcsuite: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"pmcsuite: interrupted ({signal.Signals(signum).name})", file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: one line, the traceback on request
        if os.environ.get("PMCSUITE_DEBUG"):
            raise
        print(f"pmcsuite: internal error: {type(exc).__name__}: {exc} "
              "(set PMCSUITE_DEBUG=1 for the traceback and please report it)", file=sys.stderr)
        return INTERNAL
    return status


if __name__ == "__main__":
    sys.exit(main())
