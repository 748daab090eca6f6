"""The ``pmcsuite`` commands: each ``cmd_NAME(args)`` runs one subcommand through the Python API
and prints its result (``--json``: one JSON document with a ``provenance`` object, the result
directory's own and this run's)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import REGRESSION, EnvironmentProblem, PmcsuiteError
from ..options import name_list
from ..schema import MIB, jsonable, now


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


def _json_text(document) -> str:
    """``document`` as strict JSON (NaN and infinities as null), indented."""
    return json.dumps(jsonable(document), indent=2, allow_nan=False)


def _print_json(document: dict, df=None) -> None:
    """One JSON document on stdout with its provenance."""
    print(_json_text({"provenance": _provenance(df), **document}))


#: collect options that define a sweep (None when not given): --resume takes them from the directory
SWEEP_OPTIONS = {"counters": "counters", "ipc": "ipcs", "sizes": "sizes", "runs": "runs", "warmup": "warmup",
                 "total": "total", "actors": "actors", "placement": "placement", "backend": "backend",
                 "platform": "platform", "seed": "seed", "out": "out", "catalogue": "catalogue",
                 "processes": "processes", "points_per_process": "points_per_process",
                 "target_ci": "target_ci", "max_runs": "max_runs", "host": "host", "hosts": "host",
                 "tag": "tag", "target_cc": "target_cc"}


def _collect_request(args):
    """The ``collect.settings.Request`` of ``pmcsuite collect``'s options, built once; --resume
    refuses the options that define a sweep (the directory has them)."""
    from ..collect.settings import Request
    sweep = {name: getattr(args, option) for option, name in SWEEP_OPTIONS.items()
             if getattr(args, option) is not None and option != "hosts"}
    if args.hosts is not None:
        from ..collect.hosts import read_hosts_file
        sweep["host"] = [*(args.host or []), *read_hosts_file(args.hosts)]
    if args.quick:
        sweep["quick"] = True
    if args.force:
        sweep["force"] = True
    given_again = {"target_cc": sweep.pop("target_cc")} if args.resume and "target_cc" in sweep else {}
    if args.resume and sweep:
        given = ", ".join("--" + o for o in SWEEP_OPTIONS if getattr(args, o) is not None and o != "target_cc")
        raise PmcsuiteError(f"--resume takes the sweep from {args.resume}: drop {given or '--quick/--force'}"
                            " (only --timeout, --ssh-command, --target-cc and --no-progress go with it)")
    return Request(resume=args.resume, timeout=args.timeout, progress=not args.no_progress,
                   command_line=["pmcsuite", *sys.argv[1:]], ssh_command=args.ssh_command, **sweep, **given_again)


def cmd_collect(args):
    from ..api import collect_request
    from ..results.summary import summary_lines
    out = collect_request(_collect_request(args))
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
    from ..results.load import load
    from ..results.summary import summary_lines
    df = load(directory)
    ok = df[df["ok"]]
    meta = df.attrs["metadata"]
    host = meta.get("host") or {}
    return {"directory": str(directory), "hostname": host.get("hostname"), "ssh": (host.get("via") or {}).get("ssh"),
            "tag": meta.get("tag"), "runs": int(len(ok)), "failed": int((~df["ok"]).sum()),
            "shared_cpu": int(ok["shared_cpu"].sum()), "warnings": len(df.attrs.get("warnings") or []),
            "summary": summary_lines(directory), "_df": df}


def cmd_bench(args):
    from ..collect.benchmark import bench
    from ..sizes import format_size, parse_size
    result = bench(args.ipc, parse_size(args.buffer), total_size=parse_size(args.total), actors=args.actors,
                   placement=args.placement, force=args.force)
    if args.json:
        print(_json_text(result))
        return
    mib = result["bandwidth"] / MIB
    granted = ", ".join(f"{k} {format_size(v)}" for k, v in (result.get("buffers") or {}).items()
                        if k in ("sndbuf", "rcvbuf", "pipe_size") and v is not None) or "defaults"
    cpus = result.get("cpus") or {}
    where = ", ".join(f"{role} on CPU {c[0]}" for role, c in cpus.items() if isinstance(c, list) and c) or "n/a"
    print(f"{result['ipc']} {result['actors']} placement {result['placement']}, "
          f"buffer {format_size(result['buffer_size'])}: "
          f"{mib:,.0f} MiB/s ({result['loop_ns'] / 1e6:,.2f} ms for {format_size(result['total_size'])})\n"
          f"  {result['writes']:,} writes, {result['reads']:,} reads; {where}; buffers granted: {granted}; "
          f"data {'intact' if result.get('bytes_ok') else 'CORRUPT'}")


def cmd_check(args):
    from ..catalogue import load_catalogue
    from ..collect.backends import resolve_backends
    from ..collect.check import check, format_check
    from ..collect.hostenv import describe, environment
    from ..collect.hostinfo import resolve_platforms
    if args.host:
        from ..collect.targets import check_target
        platforms, backends, results, virtual = check_target(args.host, args.ssh_command, args.counters,
                                                             args.backend, args.platform, args.catalogue or (),
                                                             args.target_cc)
    else:
        if args.ssh_command or args.target_cc:
            raise PmcsuiteError("--ssh-command and --target-cc go with --host: they say how to reach the target "
                                "and build its benchmark")
        cat = load_catalogue([Path(c) for c in args.catalogue or ()])
        platforms = resolve_platforms(cat, args.platform)
        backends = resolve_backends(args.backend)
        results = check(cat, name_list(args.counters, "--counters", "syscalls,faults"), platforms, backends)
        virtual = environment()["virtualisation"]
    where = {"host": args.host} if args.host else {}
    if args.json:
        _print_json({**where, "platform": platforms, "backend": backends, "virtualisation": virtual,
                     "counters": [r.to_dict() for r in results]})
    else:
        print(f"{'host: ' + args.host + '; ' if args.host else ''}platform: {', '.join(platforms)}; "
              f"backend: {', '.join(backends) or 'none'}; machine: {virtual['kind']}"
              f"{' (' + virtual['by'] + ')' if virtual.get('by') else ''}")
        if describe(virtual):
            print(f"note: {describe(virtual)}")
        print(format_check(results))
    if not any(r.status == "available" for r in results):
        raise EnvironmentProblem("none of these counters can be counted here (see the table above): measure "
                                 "bandwidth only with --backend none, or fix what the reasons say")


def cmd_counters(args):
    from ..catalogue import format_catalogue, load_catalogue
    from ..collect.backends import resolve_backends
    from ..collect.hostinfo import resolve_platforms
    cat = load_catalogue([Path(c) for c in args.catalogue or ()])
    platforms, backends = resolve_platforms(cat, args.platform), resolve_backends(args.backend)
    if args.json:
        _print_json({"platform": platforms, "backend": backends, "catalogue": cat.metadata(),
                     "groups": {g.name: {"description": g.description, "counters": g.counters}
                                for g in cat.groups.values()},
                     "counters": {c.id: {"description": c.description, "unit": c.unit, "kind": c.kind,
                                         "caveats": c.caveats, "never_zero": c.never_zero,
                                         "event": _event(cat.locate(c.id, platforms, backends)),
                                         "unavailable": cat.why_missing(c.id, platforms, backends) or None}
                                  for c in cat.counters.values()},
                     "derived": {d.name: {"formula": d.formula, "unit": d.unit, "description": d.description}
                                 for d in cat.derived.values()}})
        return
    print(format_catalogue(cat, platforms, backends))


def _event(found) -> dict | None:
    """``Catalogue.locate``'s (platform, spec, backend) as ``counters --json`` prints it."""
    return {"platform": found[0], "spec": found[1], "backend": found[2]} if found else None


def _load(args):
    """The result table of the directory given (or the newest), with a warning for skipped lines."""
    from ..results.load import load, require_runs
    df = require_runs(load(_dir(args)))
    skipped = df.attrs.get("skipped_lines")
    if skipped:
        print(f"pmcsuite: warning: {df.attrs['directory']}/runs.jsonl lines {', '.join(map(str, skipped))} are "
              "corrupt or truncated and were left out", file=sys.stderr)
    return df


def _provenance(df=None) -> dict:
    """Where a JSON output comes from: the result directory's own provenance (if any) and this run's."""
    from ..version import __version__
    if df is None:
        from ..collect.hostinfo import host_metadata
        return {"host": host_metadata(), "generated": now(),
                "generated_by": ["pmcsuite", *sys.argv[1:]], "pmcsuite_version": __version__}
    meta = df.attrs.get("metadata") or {}
    return {"results": str(df.attrs.get("directory")),
            "collected": {**{k: meta.get(k) for k in ("created", "command_line", "source", "host", "platform",
                                                      "backend", "tools", "seed")},
                          # the catalogue's identity; its snapshot (the YAML texts) stays in metadata.json
                          "catalogue": {k: v for k, v in (meta.get("catalogue") or {}).items() if k != "snapshot"}},
            "generated": now(), "generated_by": ["pmcsuite", *sys.argv[1:]], "pmcsuite_version": __version__}


def cmd_summary(args):
    import pandas as pd

    from ..analysis.precision import needs_runs, precision
    from ..results.load import GROUP_KEYS, require_measured, summarise
    from ..sizes import format_size
    df = require_measured(_load(args))
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
    table[stats] = table[stats] / MIB
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
    from ..results.export import export, tidy_runs
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
    from ..report import build_report
    print(build_report(_dir(args), args.out, compare_with=args.compare or ()))


def cmd_overhead(args):
    from ..analysis.overhead import overhead
    df = _load(args)
    result = overhead(df)
    if args.json:
        _print_json(result.to_dict(), df)
    else:
        print(result.summary())


def cmd_explain(args):
    from ..analysis.explain import findings_dict, findings_text
    df = _load(args)
    if args.json:
        _print_json(findings_dict(df), df)
    else:
        print(findings_text(df))


def cmd_compare(args):
    from ..analysis.compare import compare
    from ..analysis.display import interval, level_text
    from ..results.load import load
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
                     f"{interval(r.ci_low, r.ci_high)})" for r in slower.itertuples()]
            print(f"pmcsuite: slower than {args.dirs[0]} by more than {args.fail_if_slower:g} % (the whole "
                  f"interval below {1 - args.fail_if_slower / 100:.3g}x): {'; '.join(shown)}", file=sys.stderr)
            return REGRESSION
    return 0


def cmd_import(args):
    if args.format == "l41":
        from ..results.importers.l41 import import_l41
        out = import_l41(args.paths, args.out, manifest=args.manifest, warmup=args.warmup, host_note=args.host_note,
                         command_line=["pmcsuite", *sys.argv[1:]])
    else:
        from ..results.importers.tidy_csv import import_csv
        if len(args.paths) != 1:
            raise PmcsuiteError("'pmcsuite import csv' takes exactly one CSV file")
        out = import_csv(args.paths[0], args.out, host_note=args.host_note, command_line=["pmcsuite", *sys.argv[1:]])
    if args.json:
        from ..results.load import load
        df = load(out)
        _print_json({"directory": str(out), "runs": int(len(df)),
                     "variants": sorted(set(df["variant"])), "counters": list(df.attrs.get("counters") or [])}, df)
        return
    print(out)


def cmd_trace(args):
    from ..collect.trace import trace
    from ..sizes import parse_size
    paths = trace(args.ipc, parse_size(args.buffer), total_size=parse_size(args.total), out=args.out,
                  placement=args.placement, actors=args.actors, command_line=["pmcsuite", *sys.argv[1:]])
    for path in paths:
        print(path)
