"""`pmcsuite collect` end to end on this machine: real ipcbench, real perf (software events and
tracepoints), real result directories; plus the failure paths (crash, interrupt, resume)."""
import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from needs import needs, require_perf, require_tracepoints

import pmcsuite
from pmcsuite.analysis.precision import precision
from pmcsuite import api
from pmcsuite.catalogue import builtin_catalogue, load_catalogue
from pmcsuite.collect import sweep as collect_sweep
from pmcsuite.collect.benchmark import build
from pmcsuite.errors import PmcsuiteError
from pmcsuite.plan import make_jobs
from pmcsuite.results.store import ResultStore

pytestmark = pytest.mark.e2e


# in-process counting (the default): 2 processes per point and variant, each 1 warm-up + 1 measured
SMALL = dict(ipcs=["pipe", "local"], sizes="64K,1M", runs=4, warmup=1, processes=2, total="4M", progress=False)
# perf stat around every run: one process per run
SMALL_PERF = dict(SMALL, runs=2, processes=None, backend="perf")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """One small real collection with the software counter groups, counted in the benchmark."""
    require_tracepoints()
    out = tmp_path_factory.mktemp("sweep") / "res"
    pmcsuite.collect(out=out, counters="syscalls,faults", command_line=["pmcsuite", "collect", "test"], **SMALL)
    return out


@pytest.fixture(scope="module")
def perf_sweep(tmp_path_factory):
    """The same with --backend perf (perf stat around every run, loop-only control)."""
    require_perf()
    require_tracepoints()
    out = tmp_path_factory.mktemp("perf-sweep") / "res"
    pmcsuite.collect(out=out, counters="syscalls,faults", **SMALL_PERF)
    return out


def test_metadata_says_what_is_needed_to_trust_the_results(sweep, perf_sweep):
    meta = json.loads((sweep / "metadata.json").read_text())
    host = meta["host"]
    for key in ("hostname", "os", "kernel", "machine", "cpu_model", "cpus", "perf_event_paranoid"):
        assert host[key] is not None, key
    assert meta["backend"] == "inproc" and "perf" not in meta["tools"]    # no tool ran: ipcbench counted
    assert meta["tools"]["ipcbench"]["source_sha256"]
    assert meta["catalogue"]["version"] == 1 and len(meta["catalogue"]["sha256"]) == 64
    assert meta["command_line"] == ["pmcsuite", "collect", "test"] and meta["seed"] == 1
    assert meta["created"].startswith("20") and meta["platform"][-1] == "software"
    plan = meta["plan"]
    assert plan["sizes"] == [65536, 1 << 20] and plan["runs"] == 4 and plan["total_size"] == 4 << 20
    assert plan["processes"] == 2
    assert [p["name"] for p in plan["passes"]] == ["syscalls", "faults"]   # tracepoints apart from software events
    perf_meta = json.loads((perf_sweep / "metadata.json").read_text())
    assert perf_meta["tools"]["perf"].startswith("perf version") and perf_meta["plan"]["processes"] is None


def test_every_run_stored_with_exact_loop_counts_and_interleaved(sweep):
    df = pmcsuite.load(sweep)
    assert len(df) == 2 * 2 * 3 * 4 and df["ok"].all()
    assert set(df["variant"]) == {"baseline", "syscalls", "faults"}
    cells = df.groupby(["ipc", "buffer_size", "variant"])
    assert (cells["process"].nunique() == 2).all() and (cells["warmup"].sum() == 2).all()
    assert (df[df["warmup"]]["iteration"] == 0).all() and (df[~df["warmup"]]["iteration"] == 1).all()
    assert not df.duplicated(["ipc", "buffer_size", "variant", "run"]).any()
    # interleaved: the execution order is not grouped by variant
    assert df.sort_values("seq")["variant"].tolist() != sorted(df["variant"])
    base = df[df["variant"] == "baseline"]
    assert base["scope"].isna().all() and base["syscalls_write"].isna().all() and (base["backend"] == "none").all()
    tp = df[df["variant"] == "syscalls"]
    assert (tp["scope"] == "actors").all() and (tp["backend"] == "inproc").all()
    assert (tp["writes"] == tp["total_size"] // tp["buffer_size"]).all()
    # each actor counts itself around its own loop: the benchmark's calls, nothing of the harness
    assert (tp["syscalls_write"] == tp["writes"]).all() and (tp["syscalls_read"] == tp["reads"]).all()
    sw = df[df["variant"] == "faults"]
    assert (sw["page_faults"] == sw["minflt"] + sw["majflt"]).all()
    assert (df["bandwidth"] > 0).all() and (df["loop_ns"] > 0).all()
    assert not df.attrs["warnings"]


def test_perf_stat_backend_counts_the_loop_with_its_controller(perf_sweep):
    df = pmcsuite.load(perf_sweep)
    assert len(df) == 2 * 2 * 3 * 2 and df["ok"].all() and (df["iteration"] == 0).all()
    assert (df.groupby(["ipc", "buffer_size", "variant"])["warmup"].sum() == 1).all()
    tp = df[df["variant"] == "syscalls"]
    assert (tp["scope"] == "loop").all() and (tp["backend"] == "perf").all()
    # perf counts over the loop window of the whole process: the benchmark's writes + the
    # controller's 'go' and 'disable' writes, its reads + 0 to 3 reads of perf's acknowledgements
    assert (tp["syscalls_write"] == tp["writes"] + 2).all(), (tp["syscalls_write"] - tp["writes"]).tolist()
    assert (tp["syscalls_read"] - tp["reads"]).between(0, 3).all()
    sw = df[df["variant"] == "faults"]
    assert (sw["page_faults"] == sw["minflt"] + sw["majflt"]).all()


def test_unavailable_counters_stop_before_any_run(tmp_path, cli):
    out = tmp_path / "never"
    proc = cli("collect", "--counters", "l1,axi", "--out", out)
    assert proc.returncode == 3          # the host cannot count them: environment
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "l1d_access" in lines[0] and "axi_read" in lines[0] and "perf_event_open failed" in lines[0]
    assert "groups available on this host: syscalls, faults, sched, time" in lines[0]
    assert not out.exists()


def _run_instead(monkeypatch, exe):
    """The sweep runs ``exe`` (a stand-in) instead of its verified copy of the benchmark."""
    monkeypatch.setattr(api, "verified_copy", lambda *_: contextlib.nullcontext(exe))


def _crashing_bench(tmp_path, real_exe, size):
    """An executable that runs the real benchmark except at buffer ``size``, where it dies of SIGSEGV."""
    script = tmp_path / "crashy-ipcbench"
    script.write_text(f"""#!{sys.executable}
import os, signal, sys
if any(":{size}:" in a or a == "{size}" for a in sys.argv):
    os.kill(os.getpid(), signal.SIGSEGV)
os.execv({str(real_exe)!r}, [{str(real_exe)!r}] + sys.argv[1:])
""")
    script.chmod(0o755)
    return script


def test_crash_keeps_what_was_measured_and_resume_finishes(tmp_path, monkeypatch):
    out = tmp_path / "res"
    real = build()
    _run_instead(monkeypatch, _crashing_bench(tmp_path, real, 1 << 20))
    # a seed whose order runs a 64K job before the first 1M job, so that something is measured first
    seed = next(s for s in range(100) if make_jobs(["pipe"], [65536, 1 << 20], 4, [], s, processes=2)[0].size == 65536)
    options = dict(SMALL, ipcs=["pipe"], backend="none", seed=seed, points_per_process=1)
    with pytest.raises(PmcsuiteError, match=r"baseline process \d+ \(pipe 1M\) failed: .*SIGSEGV.*--resume"):
        pmcsuite.collect(out=out, **options)
    stored = ResultStore(out).read_runs()
    assert len(stored) >= 2 and not stored[-1]["ok"] and stored[-1]["buffer_size"] == 1 << 20
    assert all(r["ok"] and r["buffer_size"] == 65536 for r in stored[:-1])
    _run_instead(monkeypatch, real)
    pmcsuite.collect(resume=out, progress=False)
    df = pmcsuite.load(out)
    good = df[df["ok"]]
    assert len(good) == 2 * 4 and not good.duplicated(["ipc", "buffer_size", "variant", "run"]).any()
    assert len(df) == len(good) + 1          # the failed attempt is kept, marked ok=False
    assert json.loads((out / "metadata.json").read_text())["resumes"][0]["remaining"] >= 1


def test_interrupt_keeps_runs_and_says_how_to_resume(tmp_path, monkeypatch):
    out = tmp_path / "res"
    real_run_batch, calls = collect_sweep.run_batch, []

    def interrupted(batch, runner):
        calls.append(batch)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_run_batch(batch, runner)

    monkeypatch.setattr(collect_sweep, "run_batch", interrupted)
    with pytest.raises(PmcsuiteError, match=r"interrupted.*--resume"):
        pmcsuite.collect(out=out, **dict(SMALL, ipcs=["pipe"], backend="none", points_per_process=1))
    assert len(ResultStore(out).read_runs()) == 2 * 2          # two processes of two iterations
    monkeypatch.setattr(collect_sweep, "run_batch", real_run_batch)
    pmcsuite.collect(resume=out, progress=False)
    assert len(pmcsuite.load(out)) == 8


def test_existing_directory_is_never_overwritten(tmp_path):
    out = tmp_path / "res"
    pmcsuite.collect(out=out, **dict(SMALL, ipcs=["pipe"], sizes="1M", backend="none"))
    before = (out / "runs.jsonl").read_bytes()
    with pytest.raises(PmcsuiteError, match="already holds results"):
        pmcsuite.collect(out=out, **dict(SMALL, ipcs=["pipe"], sizes="1M", backend="none"))
    assert (out / "runs.jsonl").read_bytes() == before


@pytest.mark.parametrize("options, message", [
    (dict(sizes="3000"), "not a multiple of buffer size"),
    (dict(sizes="0"), "sizes must be positive"),
    (dict(sizes="64Q"), "invalid size"),
    (dict(ipcs=["carrier-pigeon"]), "unknown IPC mode carrier-pigeon"),
    (dict(runs=3, warmup=1), r"runs must be at least processes x \(warmup \+ 1\) = 4"),
    (dict(runs=1, warmup=1, processes=None, backend="perf"), "need runs >= 1 and 0 <= warmup < runs"),
    (dict(backend="perf"), "--processes/--points-per-process: backend perf starts a tool around every run"),
    (dict(points_per_process=0), "--points-per-process 0: give a whole number >= 1"),
    (dict(placement="nowhere"), "unknown placement"),
    (dict(counters="l1", backend="none"), "--backend none counts nothing"),
    (dict(backend="ouija"), "ouija"),
])
def test_bad_options_are_one_line_errors(tmp_path, options, message):
    with pytest.raises(PmcsuiteError, match=message) as info:
        pmcsuite.collect(out=tmp_path / "x", **{**SMALL, "backend": "none", **options})
    assert "\n" not in str(info.value)
    assert not (tmp_path / "x").exists()


@needs(os.geteuid() == 0, "SO_SNDBUFFORCE needs root (CI runs as root)")
def test_force_grants_socket_buffers_above_wmem_max(tmp_path):
    wmem_max = int(Path("/proc/sys/net/core/wmem_max").read_text())
    size = 1 << max(20, (2 * wmem_max).bit_length())        # a power of two above what the kernel grants unforced
    common = dict(SMALL, ipcs=["local-s"], sizes=str(size), total=str(size * 2), backend="none")
    plain = pmcsuite.load(pmcsuite.collect(out=tmp_path / "plain", **common))
    forced = pmcsuite.load(pmcsuite.collect(out=tmp_path / "forced", force=True, **common))
    assert (plain["sndbuf"] <= 2 * wmem_max).all()
    assert (forced["sndbuf"] >= size).all() and (forced["rcvbuf"] >= size).all()
    assert json.loads((tmp_path / "forced" / "metadata.json").read_text())["plan"]["force"] is True


def test_freebsd_counts_pmcs_and_the_kernel_view_in_one_collection(tmp_path, monkeypatch):
    """On FreeBSD 'auto' means pmcstat for the PMCs and dtrace for the kernel groups, pass by pass,
    into one table. Run here through the stand-ins of both tools (tests/standins), which print the
    tools' exact output formats around the real benchmark."""
    standins = Path(__file__).resolve().parent / "standins"
    monkeypatch.setenv("PATH", f"{standins}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("PMCSUITE_DTRACE_FAIL", raising=False)
    monkeypatch.setattr("pmcsuite.collect.backends._platform.system", lambda: "FreeBSD")
    out = pmcsuite.collect(out=tmp_path / "bbb", counters="l1,syscalls", platform="cortex-a8,freebsd-kernel",
                           **dict(SMALL, ipcs=["pipe"], sizes="64K", runs=2, processes=None))
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["backend"] == "pmcstat,dtrace"
    assert {p["name"]: p["backend"] for p in meta["plan"]["passes"]} == {"l1": "pmcstat", "syscalls": "dtrace"}
    df = pmcsuite.load(out)
    assert set(df["variant"]) == {"baseline", "l1", "syscalls"} and df["ok"].all()
    l1, sys_ = df[df["variant"] == "l1"], df[df["variant"] == "syscalls"]
    assert (l1["backend"] == "pmcstat").all() and (l1["scope"] == "process").all()
    assert l1["l1d_refill"].notna().all() and l1["syscalls_write"].isna().all()
    assert (sys_["backend"] == "dtrace").all() and sys_["syscalls_write"].notna().all()
    assert sys_["l1d_refill"].isna().all()


@pytest.mark.parametrize("keep", [2, 3])
def test_resume_after_a_run_cut_off_mid_line(tmp_path, keep):
    """A crash can leave half a JSON line, and with it half a process's iterations: resume drops
    both (keep=3: the cut process's first iteration is whole, its second half-written) and runs
    that process again whole, appending on a fresh line."""
    out = tmp_path / "res"
    pmcsuite.collect(out=out, **dict(SMALL, ipcs=["pipe"], backend="none", points_per_process=1))
    lines = (out / "runs.jsonl").read_text().splitlines()
    assert [json.loads(line)["iteration"] for line in lines[:4]] == [0, 1, 0, 1]
    (out / "runs.jsonl").write_text("\n".join(lines[:keep]) + "\n" + lines[keep][:40])
    pmcsuite.collect(resume=out, progress=False)
    df = pmcsuite.load(out)
    assert df.attrs["skipped_lines"] == [] and len(df) == 8 and df["ok"].all()
    assert not df.duplicated(["ipc", "buffer_size", "variant", "run"]).any()
    assert sorted(df["seq"]) == list(range(8))           # seq continues across the resume


def test_resume_may_raise_the_timeout_and_nothing_else(tmp_path, monkeypatch):
    out = tmp_path / "res"
    real = build()
    hang = tmp_path / "hang"
    hang.write_text(f"#!{sys.executable}\nimport sys, time\n"
                    "if any(':1048576:' in a for a in sys.argv): time.sleep(60)\n"
                    f"import os; os.execv({str(real)!r}, [{str(real)!r}] + sys.argv[1:])\n")
    hang.chmod(0o755)
    _run_instead(monkeypatch, hang)
    with pytest.raises(PmcsuiteError, match=r"hung: no result after 0.5 s"):
        pmcsuite.collect(out=out, timeout=0.5, **dict(SMALL, ipcs=["pipe"], backend="none"))
    _run_instead(monkeypatch, real)
    pmcsuite.collect(resume=out, timeout=30, progress=False)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["settings"]["timeout"] == 30 and meta["resumes"][-1]["timeout"] == 30   # kept for later resumes
    assert pmcsuite.load(out)["ok"].sum() == 8
    for bad in (0, float("inf"), float("nan"), -1):
        with pytest.raises(PmcsuiteError, match=f"--timeout {bad}: "):
            pmcsuite.collect(out=tmp_path / "x", timeout=bad, **dict(SMALL, backend="none"))
        assert not (tmp_path / "x").exists()


def test_sanity_checks_flag_missing_bytes_and_writes():
    cat = builtin_catalogue()
    size, total = 65536, 1 << 20
    good = {"bytes_ok": True, "writes": 16, "reads": 20}

    def sanity(bench, counters, scope, catalogue=cat):
        return collect_sweep._sanity(bench, counters, total, size, scope, catalogue)

    assert sanity(good, {}, "loop") == []
    assert sanity(dict(good, bytes_ok=False), {}, "loop") == ["not every byte arrived intact"]
    assert "fewer than total/buffer = 16" in sanity(dict(good, writes=15), {}, None)[0]
    perf = {"syscalls_write": {"status": "ok", "value": 15.0}}
    assert sanity(good, perf, "loop") == ["15 write() calls counted, fewer than total/buffer = 16"]
    unsupported = {"syscalls_write": {"status": "not_supported", "value": None}}
    assert sanity(good, unsupported, "loop") == []
    # perf stat's loop window holds its controller's calls too; in-process counts must be exact
    extra = {"syscalls_write": {"status": "ok", "value": 18.0}, "syscalls_read": {"status": "ok", "value": 20.0}}
    assert sanity(good, extra, "loop") == []
    assert sanity(good, extra, "actors") == ["syscalls_write counted 18 write() calls but the benchmark made 16"]
    assert sanity({"bytes_ok": True}, extra, "actors") == []          # no own count: nothing to compare


def test_sanity_rules_come_from_the_catalogue(tmp_path):
    """min_per_write and crosscheck.exact of any counter, a user file's included."""
    user = tmp_path / "user.yaml"
    user.write_text("counters:\n"
                    "  page_faults: {min_per_write: 2, crosscheck: {own: [minflt, majflt], exact: [loop]}}\n"
                    "  syscalls_write: {crosscheck: {own: [writes]}}\n")
    cat = load_catalogue([user])
    bench = {"bytes_ok": True, "writes": 16, "minflt": 30, "majflt": 1}
    counters = {"page_faults": {"status": "ok", "value": 30.0}, "syscalls_write": {"status": "ok", "value": 18.0}}
    assert collect_sweep._sanity(bench, counters, 1 << 20, 65536, "loop", cat) == [
        "30 page faults counted, fewer than 2 x total/buffer = 32",
        "page_faults counted 30 page faults but the benchmark made 31"]
    assert collect_sweep._sanity(bench, counters, 1 << 20, 65536, "actors", cat) == [
        "30 page faults counted, fewer than 2 x total/buffer = 32"]     # syscalls_write: no exact scope now


def test_plan_sweep_refuses_counters_that_lost_their_event():
    """A resumed sweep whose catalogue no longer spells a counter it did not skip at the start."""
    from pmcsuite.collect.settings import Settings
    settings = Settings(ipcs=["pipe"], sizes=[65536], runs=1, warmup=0, total_size=1 << 20, actors="2thread",
                        placement="any", backend="perf", platforms=["x86-64", "software"], groups=["axi", "l1"],
                        skipped={}, seed=1, timeout=30)
    with pytest.raises(PmcsuiteError, match="counters axi_read, axi_write have no event here any more"):
        collect_sweep.plan_sweep(builtin_catalogue(), settings)
    settings.skipped = {"axi_read": "no memory-bus event", "axi_write": "no memory-bus event"}
    passes, jobs = collect_sweep.plan_sweep(builtin_catalogue(), settings)
    assert [p.name for p in passes] == ["l1"] and len(jobs) == 2          # baseline + l1, one run each


def test_default_groups_not_counted_are_named(tmp_path, capsys):
    """x86-64 has no AXI event by design: the default sweep says it leaves that group out."""
    out = pmcsuite.collect(out=tmp_path / "r", platform="x86-64,software", **dict(SMALL, ipcs=["pipe"], sizes="1M"))
    err = capsys.readouterr().err
    assert "pmcsuite: note: not counting" in err and "axi (no event on this platform)" in err
    assert "axi" not in json.loads((out / "metadata.json").read_text())["plan"]["groups"]


def test_target_ci_adds_runs_until_met_or_at_most(tmp_path, cli):
    """--target-ci: points whose median is not known within the target get more processes, up to
    --max-runs; process and run numbers go on without clashes; summary names the points that did
    not get there."""
    common = dict(SMALL, ipcs=["pipe"], sizes="64K,1M", backend="none", runs=8, processes=2)
    # a point gets more runs exactly when its first 8 (4 processes) missed ±99 % -- whether they do
    # depends on how busy the machine is, so the test checks the decision, not the outcome
    loose = pmcsuite.load(pmcsuite.collect(out=tmp_path / "loose", target_ci=99.0, **dict(common, processes=4)))
    first = precision(loose[loose["run"] < 8]).set_index(["ipc", "buffer_size", "variant"])["half_width_pct"]
    counts = loose.groupby(["ipc", "buffer_size", "variant"])["run"].count()
    for cell, half_width in first.items():
        assert (counts[cell] == 8) == (half_width <= 99.0), (cell, half_width, counts[cell])
    # 2 processes of (1 warm-up + 2 measured): whether that meets ±99 % depends on the noise; what is
    # added is whole processes of the plan's size (3 runs), within --max-runs (3 x runs)
    few = pmcsuite.load(pmcsuite.collect(out=tmp_path / "few", target_ci=99.0, **dict(common, runs=6)))
    counts = few.groupby(["ipc", "buffer_size", "variant"])["run"].count()
    assert ((counts % 3 == 0) & (counts >= 6) & (counts <= 18)).all(), counts
    out = pmcsuite.collect(out=tmp_path / "tight", target_ci=0.001, max_runs=16, **common)
    df = pmcsuite.load(out)
    cells = df.groupby(["ipc", "buffer_size", "variant"])
    assert (cells["run"].count() == 16).all() and (cells["process"].nunique() == 4).all()
    assert not df.duplicated(["ipc", "buffer_size", "variant", "run"]).any()
    assert sorted(df.groupby("process")["seq"].min().index) == list(range(df["process"].nunique()))
    assert (df[df["warmup"]]["iteration"] == 0).all() and df["warmup"].sum() == 2 * 4
    proc = cli("summary", out)
    assert proc.returncode == 0, proc.stderr
    assert "2 point(s) did not reach --target-ci 0.001 % within --max-runs: pipe 64K baseline (±" in proc.stdout
    assert "median_ci95" in proc.stdout


@pytest.mark.parametrize("options, message", [
    (dict(max_runs=20), "--max-runs goes with --target-ci"),
    (dict(target_ci=0), "--target-ci 0: give the half width"),
    (dict(target_ci=2, max_runs=3), r"--max-runs 3: give at least the runs of the plan \(4\)"),
])
def test_target_ci_options_are_checked(tmp_path, options, message):
    with pytest.raises(PmcsuiteError, match=message):
        pmcsuite.collect(out=tmp_path / "x", **{**SMALL, "backend": "none", **options})
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("options, message", [
    (dict(sizes=""), "no buffer sizes given"),
    (dict(ipcs=""), "--ipc is empty"),
    (dict(ipcs="pipe,pipe"), "--ipc lists pipe more than once"),
    (dict(ipcs=["pipe", "pipe"]), "--ipc lists pipe more than once"),
    (dict(ipcs="pipe,,local"), "has an empty item"),
    (dict(counters=","), "--counters is empty"),
    (dict(counters="syscalls,syscalls"), "--counters lists syscalls more than once"),
    (dict(backend=""), "--backend is empty"),
    (dict(backend="pmcstat", processes=None, runs=2), "--backend pmcstat: none of its counters can be counted here"),
])
def test_empty_or_repeated_values_are_refused_not_defaulted(tmp_path, options, message):
    """Before: '' became the default sweep, pipe,pipe doubled a cell, --backend pmcstat on Linux ran a
    sweep with no counters and exited 0."""
    with pytest.raises(PmcsuiteError, match=message):
        pmcsuite.collect(out=tmp_path / "x", **{**SMALL, **options})
    assert not (tmp_path / "x").exists()


def test_python_api_takes_comma_strings_or_lists(tmp_path):
    options = dict(SMALL, ipcs="pipe,local", sizes="64K", backend="none")
    a = pmcsuite.load(pmcsuite.collect(out=tmp_path / "a", **options))
    assert sorted(set(a["ipc"])) == ["local", "pipe"]


def test_second_writer_is_refused_naming_the_holder(tmp_path):
    """Before: a resume while another collect wrote the directory duplicated most of its runs."""
    out = pmcsuite.collect(out=tmp_path / "r", **dict(SMALL, ipcs=["pipe"], sizes="64K", backend="none"))
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time\nfrom pmcsuite.results.store import ResultStore\n"
                               f"ResultStore({str(out)!r}).lock(); print('locked', flush=True); time.sleep(30)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = (out / "runs.jsonl").read_bytes()
        with pytest.raises(PmcsuiteError, match=rf"being written by another pmcsuite \(pid {holder.pid}\)") as info:
            pmcsuite.collect(resume=out, progress=False)
        assert info.value.exit_code == 3 and (out / "runs.jsonl").read_bytes() == before
    finally:
        holder.kill()
        holder.wait()
    pmcsuite.collect(resume=out, progress=False)          # free again once the holder is gone


def test_half_a_result_directory_is_refused(tmp_path):
    """Before: a lost metadata.json made a new collect append to the old runs.jsonl."""
    out = pmcsuite.collect(out=tmp_path / "r", **dict(SMALL, ipcs=["pipe"], sizes="64K", backend="none"))
    runs = (out / "runs.jsonl").read_bytes()
    (out / "metadata.json").rename(tmp_path / "lost.json")
    with pytest.raises(PmcsuiteError, match="holds a runs.jsonl without its metadata.json"):
        pmcsuite.collect(out=out, **dict(SMALL, ipcs=["pipe"], sizes="64K", backend="none"))
    with pytest.raises(PmcsuiteError, match="has a runs.jsonl but no metadata.json"):
        pmcsuite.collect(resume=out, progress=False)
    assert (out / "runs.jsonl").read_bytes() == runs
    (tmp_path / "lost.json").rename(out / "metadata.json")
    (out / "runs.jsonl").unlink()
    with pytest.raises(PmcsuiteError, match="has a metadata.json but no runs.jsonl"):
        pmcsuite.collect(resume=out, progress=False)
    with pytest.raises(PmcsuiteError, match="holds a metadata.json without its runs.jsonl"):
        pmcsuite.collect(out=out, **dict(SMALL, ipcs=["pipe"], sizes="64K", backend="none"))


def test_storage_faults_are_one_line_environment_errors(tmp_path):
    out = pmcsuite.collect(out=tmp_path / "r", **dict(SMALL, ipcs=["pipe"], sizes="64K", backend="none"))
    (out / "runs.jsonl").unlink()
    (out / "runs.jsonl").mkdir()                      # a directory where the journal should be
    with pytest.raises(PmcsuiteError, match="is not a file") as info:
        pmcsuite.collect(resume=out, progress=False)
    assert "\n" not in str(info.value)
    with pytest.raises(PmcsuiteError) as info:
        ResultStore(out).append_runs([{"ipc": "pipe"}])
    assert info.value.exit_code == 3 and "a directory stands where the file should be" in str(info.value)


@pytest.mark.parametrize("key, bad", [("runs", "x"), ("sizes", None), ("ipcs", 5), ("timeout", "inf"),
                                      ("processes", -1), ("force", "yes"), ("unknown_key", 1)])
def test_corrupt_settings_are_refused_on_resume(tmp_path, key, bad):
    """Before: corrupt stored settings ended in 'internal error' (exit 70) or ran on."""
    out = pmcsuite.collect(out=tmp_path / "r", **dict(SMALL, ipcs=["pipe"], sizes="64K", backend="none"))
    meta = json.loads((out / "metadata.json").read_text())
    meta["settings"][key] = bad
    (out / "metadata.json").write_text(json.dumps(meta))
    # refused on read (schema.METADATA_PARTS, naming 'settings.KEY') or by the resume's own check
    with pytest.raises(PmcsuiteError, match=rf"has settings this pmcsuite cannot run|'settings\.{key}' is") as info:
        pmcsuite.collect(resume=out, progress=False)
    assert info.value.exit_code == 2 and "\n" not in str(info.value)


TINY = ["--ipc", "pipe", "--sizes", "64K", "--total", "1M", "--backend", "none", "--no-progress"]


@pytest.mark.parametrize("options, message", [
    (["--warmup", "-1"], "--warmup -1: give a whole number >= 0"),              # was a ZeroDivisionError, exit 70
    (["--runs", "0"], "--runs 0: give a whole number >= 1"),
    (["--timeout", "1e308"], "--timeout 1e+308: give the seconds"),             # was an OverflowError, exit 70
])
def test_counts_and_timeouts_out_of_range_are_one_line(cli, tmp_path, options, message):
    proc = cli("collect", *TINY, *options, "--out", tmp_path / "out")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_stored_huge_timeout_is_refused_on_resume_unless_given_again(cli, tmp_path):
    out = tmp_path / "out"
    assert cli("collect", *TINY, "--runs", "4", "--processes", "2", "--out", out).returncode == 0
    meta = json.loads((out / "metadata.json").read_text())
    meta["settings"]["timeout"] = 1e308
    (out / "metadata.json").write_text(json.dumps(meta))
    proc = cli("collect", "--resume", out)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--timeout 1e+308" in proc.stderr, proc.stderr
    assert cli("collect", "--resume", out, "--timeout", "60").returncode == 0
    assert json.loads((out / "metadata.json").read_text())["settings"]["timeout"] == 60


def test_too_few_runs_for_a_verdict_are_warned_with_the_number_needed(cli, tmp_path):
    """Before: --runs 2 was accepted silently, a sweep no comparison could give a verdict on."""
    proc = cli("collect", *TINY, "--runs", "2", "--out", tmp_path / "few")
    assert proc.returncode == 0
    assert "warning: --runs 2 --warmup 1 gives each point 1 measured process(es): too few for a verdict" \
        in proc.stderr and "use at least --runs 4 --processes 2" in proc.stderr, proc.stderr
    proc = cli("collect", *TINY, "--runs", "4", "--out", tmp_path / "enough")
    assert proc.returncode == 0 and "too few" not in proc.stderr
