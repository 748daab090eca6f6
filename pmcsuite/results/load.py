"""Result directory -> tidy pandas tables: ``load``, ``summarise``, ``counter_table``, ``derived_metrics``
(files for other tools: :mod:`pmcsuite.results.export`).

``load(DIR)`` gives one row per stored run with the columns of docs/DESIGN.md ("The result
table"). Everything the table cannot hold as a column is kept in ``df.attrs``:

- ``metadata``: the metadata.json dict;
- ``counters``: counter ids in order of first appearance in runs.jsonl;
- ``skipped_lines``: runs.jsonl line numbers that were not valid JSON objects. A truncated last
  line (a run cut off by a crash) and corrupt lines in the middle are both *skipped and reported*
  here (the report lists them), so one bad line never hides the rest of a long sweep;
- ``warnings``: ``[{"row": index, "warning": text}]`` sanity warnings stored with the runs;
- ``multiplexed``: ``[{"row": index, "counter": id, "pcnt_running": float}]`` counter values that
  were scaled because the counter was multiplexed.

Counter values are NaN unless the counter's status is ``ok``: an unsupported counter is never 0.

Provenance is kept out of the way of every DataFrame operation: pandas deep-copies ``df.attrs``
into the result of (almost) every operation (``df[mask]``, ``df[col]``, ``groupby``...), and an
import of 3,600 L41 files carries ~700 kB of metadata (one path and sha256 per file), so copying it
was ~95 % of an ``explain``. Each value stored in ``df.attrs`` is therefore a :class:`SharedDict`
or :class:`SharedList`: an ordinary dict/list (``df.attrs["metadata"]["host"]`` works as before,
``json.dumps`` takes it) whose deep copy is itself, so every frame derived from the table shares
the one object instead of copying it. Treat them as read-only: a change is seen by every frame
derived from the same load (copy with ``dict(...)``/``list(...)`` first).
"""
import gc
import itertools
import sys

import numpy as np
import pandas as pd

from ..errors import PmcsuiteError
from ..schema import TABLE_COLUMNS, RunRecord, reserved_id
from .store import ResultStore
from . import cache as table_cache

#: fixed columns of the result table, in order, with their dtypes (counter columns follow).
FIXED_COLUMNS = TABLE_COLUMNS
#: numeric per-run measurements (besides counters) that ``summarise(df, "all")`` covers.
MEASURES = ["bandwidth", "loop_ns", "writes", "reads", "minflt", "majflt", "nvcsw", "nivcsw",
            "utime_ns", "stime_ns", "other_cpu_frac", "runnable_others"]
#: the cell a summary row describes.
GROUP_KEYS = ["ipc", "actors", "placement", "buffer_size", "variant"]
#: stands for a missing group key (e.g. placement None) while ``summarise`` groups
_NO_KEY = "\x00none"
#: a run "shared the CPU" when others used more than this share of the machine during it ...
BUSY_LIMIT = 0.10


class SharedDict(dict):
    """A dict that ``copy.deepcopy`` (hence pandas' attrs propagation) shares instead of copying."""

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self

    def __reduce__(self):      # pickles as a plain dict
        return (dict, (dict(self),))


class SharedList(list):
    """A list that ``copy.deepcopy`` (hence pandas' attrs propagation) shares instead of copying."""

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self

    def __reduce__(self):
        return (list, (list(self),))


def shared(value):
    """``value`` wrapped for ``df.attrs``: dicts and lists become :class:`SharedDict`/:class:`SharedList`
    (their contents are not copied), anything else is returned as is."""
    if isinstance(value, (SharedDict, SharedList)):
        return value
    if isinstance(value, dict):
        return SharedDict(value)
    if isinstance(value, list):
        return SharedList(value)
    return value


def share_attrs(df: pd.DataFrame) -> pd.DataFrame:
    """Wrap every value of ``df.attrs`` with :func:`shared` (in place; returns ``df``). Use it on a
    table whose attrs were set by hand, before running many operations on it."""
    for key, value in list(df.attrs.items()):
        df.attrs[key] = shared(value)
    return df


def shared_cpu(busy: dict) -> bool:
    """... or, when the run was too short for /proc/stat's 10 ms ticks to tell, when another task
    was runnable both just before and just after it (``runnable_others`` is the smaller of the two)."""
    frac, others = busy.get("other_cpu_frac"), busy.get("runnable_others")
    if frac is not None:
        return frac > BUSY_LIMIT
    return others is not None and others >= 1


def _number(value):
    """JSON number -> itself; null -> None; anything else -> ValueError."""
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    raise ValueError(f"{value!r} is not a number")


def _first_cpu(cpus):
    """``[start, end]`` CPU list from ipcbench -> the CPU at loop start (None when absent)."""
    if isinstance(cpus, list) and cpus:
        return cpus[0]
    return cpus if isinstance(cpus, int) else None


def _buckets(sizes, seen: dict):
    """``{"65536": 255}`` -> ``{65536: 255}`` (None stays None). Equal histograms come back as the one
    dict in ``seen`` (most runs of a point have the same): treat them as read-only."""
    if sizes is None:
        return None
    if not isinstance(sizes, dict):
        raise ValueError(f"size histogram {sizes!r} is not an object")
    buckets = {int(key): int(count) for key, count in sizes.items()}
    return seen.setdefault(tuple(buckets.items()), buckets)


def _name(value):
    """A text value of a column as one shared string (a result table holds 100,000s of copies)."""
    return sys.intern(value) if isinstance(value, str) else value


def _flatten(record: dict, seen: dict) -> dict:
    """One runs.jsonl record -> the fixed columns of its row (counters are handled apart);
    ``seen``: the histograms seen so far (:func:`_buckets`)."""
    bench = record.get("bench") or {}
    rusage = bench.get("rusage") or {}
    buffers = bench.get("buffers") or {}
    cpus = bench.get("cpus") or {}
    offcpu = bench.get("offcpu_ns") or {}
    busy = record.get("busy") or {}
    error = record.get("error")
    row = {
        "ipc": _name(record["ipc"]), "actors": _name(record.get("actors")),
        "placement": _name(record.get("placement")),
        "buffer_size": _number(record["buffer_size"]), "total_size": _number(record.get("total_size")),
        "run": _number(record.get("run")), "warmup": record.get("warmup", False),
        "variant": _name(record["variant"]), "backend": _name(record.get("backend")),
        "scope": _name(record.get("scope")),
        "process": _number(record.get("process")), "iteration": _number(record.get("iteration")),
        "seq": _number(record.get("seq")), "started": record.get("started"),
        "ok": record.get("ok", error is None), "error": error,
        "loop_ns": _number(bench.get("loop_ns")), "bandwidth": _number(bench.get("bandwidth")),
        "writes": _number(bench.get("writes")), "reads": _number(bench.get("reads")),
        **{key: _number(rusage.get(key)) for key in ("minflt", "majflt", "nvcsw", "nivcsw", "utime_ns", "stime_ns")},
        "offcpu_writer_ns": _number(offcpu.get("writer")), "offcpu_reader_ns": _number(offcpu.get("reader")),
        "sndbuf": _number(buffers.get("sndbuf")), "rcvbuf": _number(buffers.get("rcvbuf")),
        "pipe_size": _number(buffers.get("pipe_size")),
        "cpu_writer": _number(_first_cpu(cpus.get("writer"))), "cpu_reader": _number(_first_cpu(cpus.get("reader"))),
        "other_cpu_frac": _number(busy.get("other_cpu_frac")),
        "runnable_others": _number(busy.get("runnable_others")), "shared_cpu": shared_cpu(busy),
        "write_sizes": _buckets(bench.get("write_sizes"), seen), "read_sizes": _buckets(bench.get("read_sizes"), seen),
        **_profile_columns(record.get("profile")),
    }
    for flag in ("warmup", "ok"):
        if not isinstance(row[flag], bool):
            raise ValueError(f"'{flag}' is {row[flag]!r}, not true/false")
    return row


def _profile_columns(profile) -> dict:
    """A run's profile -> ``profile_period_ns`` (the sampling period in ns: a period in cycles has no
    ns value here, NaN) and ``profile_lost`` (samples lost to full buffers, both actors)."""
    profile = profile or {}
    lost = profile.get("lost")
    return {"profile_period_ns": _number(profile.get("period")) if profile.get("unit") == "ns" else None,
            "profile_lost": sum(_number(n) for n in lost.values()) if isinstance(lost, dict) else None}


def _empty_table() -> pd.DataFrame:
    return _typed(pd.DataFrame({name: [] for name in FIXED_COLUMNS}), [])


def _typed(df: pd.DataFrame, counters: list[str]) -> pd.DataFrame:
    """Apply the result-table dtypes (ints that may be missing are Int64)."""
    for name, dtype in FIXED_COLUMNS.items():
        if name == "started":
            # whatever the text's precision
            df[name] = pd.to_datetime(df[name], utc=True, format="ISO8601").dt.as_unit("ns")
        elif dtype == "Int64":
            df[name] = pd.to_numeric(df[name]).astype("Int64")
        elif dtype is float:
            df[name] = pd.to_numeric(df[name]).astype(float)
        elif dtype is bool:
            df[name] = df[name].astype(bool)
        else:
            df[name] = df[name].astype(object).where(df[name].notna(), None)
    return _typed_counters(df, counters)


def _typed_counters(df: pd.DataFrame, counters: list[str]) -> pd.DataFrame:
    """Counter values as floats, their statuses as objects with None where a run did not count them."""
    for counter in counters:
        df[counter] = df[counter].astype(float)
        status = df[f"{counter}_status"].astype(object)
        df[f"{counter}_status"] = status.where(status.notna(), None)
    return df


def load(directory, strict: bool = False, cache: bool = True) -> pd.DataFrame:
    """Read a result directory into the result table (one row per stored run, failed runs included).

    Corrupt runs.jsonl lines are skipped and listed in ``df.attrs["skipped_lines"]`` (``strict=True``
    makes a corrupt middle line an error instead). An empty runs.jsonl gives an empty table with
    all the fixed columns; use :func:`require_runs` where data is needed.

    ``cache``: use and refresh the columnar cache beside runs.jsonl (:mod:`pmcsuite.results.cache`), so
    that only the lines appended since the last load are parsed; ``False`` parses the whole journal
    and leaves the cache alone. Either way the table is the same.
    """
    store = ResultStore(directory)
    metadata = store.read_metadata()
    cached = table_cache.read(store.dir) if cache else None
    if cached is not None:
        try:
            cached.table = _typed(cached.table, cached.counters)      # Parquet's strings -> objects, as parsed
        except (ValueError, TypeError, OverflowError):                # a damaged cache: the journal decides
            cached = None
    if cached is None:
        cached = table_cache.CachedTable(_empty_table(), covered=0, lines=0)
    parts, counters = [cached.table], dict.fromkeys(cached.counters)
    warnings, multiplexed = list(cached.warnings), list(cached.multiplexed)
    runs = store.iter_runs(start=cached.covered, first_line=cached.lines + 1, strict=strict)
    index, collecting, seen = len(cached.table), gc.isenabled(), {}
    gc.disable()       # the parse makes millions of small objects that live on: the collector only slows it
    try:
        while chunk := list(itertools.islice(runs, _CHUNK)):
            parts.append(_chunk_table(store, chunk, index, counters, warnings, multiplexed, seen))
            index += len(chunk)
    finally:
        if collecting:
            gc.enable()
    counter_ids = list(counters)
    clash = [cid for cid in counter_ids if reserved_id(cid)]
    if clash:
        raise PmcsuiteError(f"counter id {clash[0]!r} clashes with a result-table column; rename it in the catalogue")
    columns = list(FIXED_COLUMNS) + counter_ids + [f"{cid}_status" for cid in counter_ids]
    cached_rows = len(cached.table)          # counted before _concat empties the parts
    new_rows = index - cached_rows
    # one part: the cache (its columns checked to be these) or the empty table (no counters)
    df = parts[0] if len(parts) == 1 else _typed_counters(_concat([p for p in parts if len(p)] or parts[:1], columns),
                                                          counter_ids)
    if cache and new_rows and not store.skipped and new_rows >= min(_REWRITE, cached_rows // 20 + 1):
        table_cache.write(store.dir, table_cache.CachedTable(
            df, store.covered, store.covered_lines, counter_ids, warnings, multiplexed))
    _refuse_duplicates(df, store.runs_path)
    df.attrs.update(metadata=SharedDict(metadata), counters=SharedList(counter_ids),
                    skipped_lines=SharedList(store.skipped), warnings=SharedList(warnings),
                    multiplexed=SharedList(multiplexed), directory=str(store.dir))
    return df


#: what identifies one measured run: its cell, its process and iteration there, and its run number
RUN_IDENTITY = ["ipc", "actors", "placement", "buffer_size", "total_size", "variant", "process", "iteration", "run"]


def _refuse_duplicates(df: pd.DataFrame, runs_path) -> None:
    """Refuse a journal that holds one successful run twice (it would be counted twice), naming the run
    and the two records."""
    ok = df[df["ok"].fillna(False).astype(bool)]
    keys = pd.util.hash_pandas_object(ok[RUN_IDENTITY], index=False)
    twice = keys.duplicated()
    if not twice.any():
        return
    again = twice.idxmax()
    first = keys.index[keys == keys[again]][0]
    run = ok.loc[first]
    raise PmcsuiteError(f"{runs_path} holds the run ipc {run['ipc']}, size {run['buffer_size']}, variant "
                        f"{run['variant']}, process {run['process']}, iteration {run['iteration']} twice (run "
                        f"records {first + 1} and {again + 1}); it would be counted twice: remove one of the two "
                        "lines")


def _concat(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """``pd.concat(parts)`` one column at a time, each part's column dropped once copied, so that a
    long table is never held twice (a counter that a part lacks is missing there: NaN/None)."""
    out = {}
    for column in columns:
        pieces = [p.pop(column) if column in p.columns else pd.Series(None, index=p.index, dtype=object)
                  for p in parts]
        out[column] = pd.concat(pieces, ignore_index=True)
    return pd.DataFrame(out, copy=False)


#: the cache is written again once this many runs (or 5 % of those it holds, if fewer) were appended
#: since: a collection that appends while someone reports does not rewrite it on every load
_REWRITE = 2_000
#: runs parsed into one DataFrame at a time, so that a long journal never lives as dicts all at once
_CHUNK = 10_000


def _chunk_table(store, chunk, index, counters, warnings, multiplexed, seen) -> pd.DataFrame:
    """``[(line number, record)]`` -> their rows of the result table (``index``: the first row's);
    new counter ids are added to ``counters``, warnings and multiplexed values to their lists."""
    rows, values = [], []
    for row_index, (number, raw) in enumerate(chunk, index):
        try:
            record = RunRecord.from_json(raw).to_json()
            row = _flatten(record, seen)
            value, status = _counters(record.get("counters") or {}, row_index, warnings, multiplexed)
            value.update({f"{cid}_status": s for cid, s in status.items()})
        except (ValueError, TypeError, AttributeError) as exc:
            raise PmcsuiteError(f"{store.runs_path}:{number}: run record {row_index + 1} is malformed ({exc}); "
                                "fix or remove that line") from None
        counters.update(dict.fromkeys(status))
        warnings.extend({"row": row_index, "warning": str(text)} for text in record.get("warnings") or [])
        rows.append(row)
        values.append(value)
    counter_ids = list(counters)
    fixed = pd.DataFrame(rows, columns=list(FIXED_COLUMNS), index=range(index, index + len(rows)))
    extra = pd.DataFrame(values, columns=counter_ids + [f"{cid}_status" for cid in counter_ids], index=fixed.index)
    try:
        return _typed(pd.concat([fixed, extra], axis=1), counter_ids)
    except (ValueError, TypeError, OverflowError) as exc:     # OverflowError: an integer beyond 64 bits
        raise PmcsuiteError(f"{store.runs_path} holds a value of the wrong type ({exc}); "
                            "check the records against docs/DESIGN.md") from None


def _counters(entries: dict, index: int, warnings: list, multiplexed: list) -> tuple[dict, dict]:
    """A record's "counters" object -> ({id: value or NaN}, {id: status})."""
    if not isinstance(entries, dict):
        raise ValueError("'counters' is not an object")
    values, status = {}, {}
    for cid, entry in entries.items():
        state = entry.get("status") or "error"
        value = _number(entry.get("value"))
        if state == "ok" and value is None:
            warnings.append({"row": index, "warning": f"counter {cid} has status ok but no value"})
        values[cid] = float(value) if state == "ok" and value is not None else np.nan
        status[cid] = _name(state)
        running = entry.get("pcnt_running")
        if state == "ok" and (entry.get("multiplexed") or (running is not None and running < 100)):
            multiplexed.append({"row": index, "counter": cid, "pcnt_running": running})
    return values, status


def require_runs(df: pd.DataFrame) -> pd.DataFrame:
    """Raise a clear error when a command that needs data gets an empty result table."""
    if df.empty:
        where = df.attrs.get("directory", "the result directory")
        raise PmcsuiteError(f"{where} holds no runs yet: collect some (pmcsuite collect --resume {where}) first")
    return df


def require_measured(df: pd.DataFrame) -> pd.DataFrame:
    """Raise a one-line error when no run is measured (every stored run a warm-up or failed): a
    summary of nothing is not a result."""
    if measured(require_runs(df)).empty:
        where = df.attrs.get("directory", "the result directory")
        raise PmcsuiteError(f"{where} holds no measured runs ({int(df['warmup'].sum())} warm-ups, "
                            f"{int((~df['ok'].astype(bool)).sum())} failed of {len(df)}): nothing to summarise; "
                            f"collect more runs (pmcsuite collect --resume {where}, or a sweep with more --runs "
                            "than --warmup)")
    return df


def measured(df: pd.DataFrame) -> pd.DataFrame:
    """The runs analysis uses: successful and not warm-ups."""
    return df[df["ok"].fillna(False).astype(bool) & ~df["warmup"].fillna(False).astype(bool)]


def _metrics(df: pd.DataFrame, value) -> list[str]:
    counters = df.attrs.get("counters", [])
    if value == "all":
        return MEASURES + list(counters)
    names = [value] if isinstance(value, str) else list(value)
    unknown = [name for name in names if name not in df.columns or name not in MEASURES + list(counters)]
    if unknown:
        raise PmcsuiteError(f"cannot summarise {unknown[0]!r}: choose 'all', a counter id "
                            f"({', '.join(counters) or 'none stored'}) or one of {', '.join(MEASURES)}")
    return names


def summarise(df: pd.DataFrame, value="bandwidth") -> pd.DataFrame:
    """Per-cell statistics, long form: one row per (ipc, actors, placement, buffer_size, variant, metric).

    ``value`` is a column name, a list of them, or ``"all"`` (the bench measures and every counter).
    Warm-ups and failed runs are excluded. Columns: the keys, ``metric``, ``n`` (runs with a value),
    ``median``, ``q25``, ``q75``, ``min``, ``max``, ``mean``, ``std``, ``cv`` (= std / mean) and
    ``status`` (counters only: the statuses seen, e.g. ``"not_supported"``, so a cell of an
    unsupported counter shows n = 0 and NaN statistics, never 0). Cells where a counter was not
    measured at all (e.g. the baseline variant) are left out.
    """
    metrics = _metrics(df, value)
    columns = GROUP_KEYS + ["metric", "n", "median", "q25", "q75", "min", "max", "mean", "std", "cv", "status"]
    runs = measured(df)
    if runs.empty:
        return pd.DataFrame(columns=columns)
    counters = set(df.attrs.get("counters", []))
    parts = []
    for metric in metrics:
        part = runs[GROUP_KEYS].assign(metric=metric, value=runs[metric].astype(float),
                                       status=runs[f"{metric}_status"] if metric in counters else None)
        parts.append(part[part["value"].notna() | part["status"].notna()])
    long = pd.concat(parts, ignore_index=True)
    keys = GROUP_KEYS + ["metric"]
    # A missing key (placement None in imported data) must stay a cell of its own *and* keep its
    # quartiles: pandas' groupby(dropna=False).quantile() gives NaN group keys that do not align
    # with the other statistics, which blanked q25/q75 (and the figures' error bars) of imports.
    text_keys = [k for k in keys if k != "buffer_size"]
    missing = {k: long[k].isna() for k in text_keys}
    for k in text_keys:
        if missing[k].any():
            long[k] = long[k].astype(object).where(~missing[k], _NO_KEY)
    groups = long.groupby(keys, sort=False)
    stats = groups["value"].agg(n="count", median="median", min="min", max="max", mean="mean", std="std")
    quartiles = groups["value"].quantile([0.25, 0.75]).unstack()
    stats["q25"], stats["q75"] = quartiles[0.25], quartiles[0.75]
    stats["cv"] = stats["std"] / stats["mean"]
    stats["status"] = groups["status"].agg(lambda s: ",".join(sorted(set(s.dropna()))) or None).astype(object)
    out = stats.reset_index()
    for k in text_keys:
        if missing[k].any():
            out[k] = out[k].astype(object).where(out[k] != _NO_KEY, None)
    out["metric"] = pd.Categorical(out["metric"], categories=metrics, ordered=True)
    out = out.sort_values(["metric"] + GROUP_KEYS, kind="stable").reset_index(drop=True)
    out["metric"] = out["metric"].astype(object)
    out["n"] = out["n"].astype("Int64")
    return out[columns]


def counter_table(df: pd.DataFrame) -> pd.DataFrame:
    """Tidy long form of the counters: one row per run x counter the run measured.

    Columns: ipc, actors, placement, buffer_size, total_size, variant, run, warmup, ok, seq,
    row (the run's index in the result table), counter, value (NaN unless status ok), status,
    multiplexed (bool).
    """
    counters = df.attrs.get("counters", [])
    ids = ["ipc", "actors", "placement", "buffer_size", "total_size", "variant", "run", "warmup", "ok", "seq"]
    columns = ids + ["row", "counter", "value", "status", "multiplexed"]
    if not counters or df.empty:
        return pd.DataFrame(columns=columns)
    base = df[ids].rename_axis("row").reset_index()
    values = df[counters].rename_axis("row").reset_index().melt(id_vars="row", var_name="counter", value_name="value")
    status = df[[f"{c}_status" for c in counters]].set_axis(counters, axis=1).rename_axis("row").reset_index() \
        .melt(id_vars="row", var_name="counter", value_name="status")
    long = values.merge(status, on=["row", "counter"])
    long = long[long["status"].notna()]
    scaled = {(m["row"], m["counter"]) for m in df.attrs.get("multiplexed", [])}
    long["multiplexed"] = [(r, c) in scaled for r, c in zip(long["row"], long["counter"])]
    out = base.merge(long, on="row")
    order = {c: i for i, c in enumerate(counters)}
    out = out.sort_values(["row", "counter"], key=lambda s: s.map(order) if s.name == "counter" else s)
    return out[columns].reset_index(drop=True)


def _silent_zero(values: pd.Series, counter) -> bool:
    """A counter the loop must produce that read 0 in every run that measured it (a PMU that does not
    implement the event: results stored before it was flagged ``silent_zero``)."""
    from ..collect.backends.base import must_produce
    measured_values = values.dropna()
    return must_produce(counter) and not measured_values.empty and bool((measured_values == 0).all())


def derived_metrics(df: pd.DataFrame, cat=None) -> pd.DataFrame:
    """The catalogue's derived metrics (``derived:`` in counters.yaml, e.g. ``cpi = cycles / instructions``)
    per cell, long form: one row per (ipc, actors, placement, buffer_size, metric) with ``value``, the
    metric's ``unit`` and ``description``, and ``inputs`` (each counter used, with the number of runs its
    median comes from, e.g. ``"cycles (n=8), instructions (n=8)"``).

    Each counter is first reduced to its median per cell over the successful non-warm-up runs that
    measured it, whatever their pass; the formula is then evaluated on those medians. Counters of
    different passes come from different runs, so a derived value is a ratio (or sum) of medians,
    never a median of per-run ratios. A metric is left out of a cell when one of its inputs has no
    value there (not measured, or not counted: never taken as 0) or when its denominator is 0, and
    no metric is built on a silent zero: a counter the loop must produce (``backends.base.must_produce``)
    that reads 0 in every run is left out. ``cat``: the catalogue (default: the one the results were collected with,
    :func:`pmcsuite.catalogue.result_catalogue`).
    """
    from ..catalogue import result_catalogue

    cat = result_catalogue(df.attrs.get("metadata")) if cat is None else cat
    if cat is None:
        raise PmcsuiteError("the counter catalogue could not be loaded: pass cat=load_catalogue(...)")
    keys = ["ipc", "actors", "placement", "buffer_size"]
    columns = keys + ["metric", "value", "unit", "description", "inputs"]
    runs = measured(df)
    counters = [c for c in df.attrs.get("counters", []) if c in runs.columns and runs[c].notna().any()
                and not _silent_zero(runs[c], cat.counters.get(c))]
    if runs.empty or not counters:
        return pd.DataFrame(columns=columns)
    cells = runs[keys].astype(object).where(runs[keys].notna(), "")     # None placement (imports) is a key too
    groups = runs[counters].astype(float).groupby([cells[k] for k in keys], sort=True)
    medians, counts = groups.median(), groups.count()
    parts = []
    for name, metric in cat.derived.items():
        if not set(metric.names) <= set(counters):
            continue
        value = pd.Series(metric.evaluate(medians), index=medians.index, dtype=float)
        keep = medians[metric.names].notna().all(axis=1) & np.isfinite(value)
        if not keep.any():
            continue
        inputs = [", ".join(f"{c} (n={int(counts.at[cell, c])})" for c in metric.names) for cell in value.index[keep]]
        parts.append(value[keep].rename("value").reset_index().assign(
            metric=name, unit=metric.unit, description=metric.description, inputs=inputs))
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    out[["ipc", "actors", "placement"]] = out[["ipc", "actors", "placement"]].astype(object).replace("", None)
    text = ["metric", "unit", "description", "inputs"]
    out[text] = out[text].astype(object)
    out["buffer_size"] = out["buffer_size"].astype("Int64")
    return out[columns]
