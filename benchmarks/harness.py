"""The benchmark harness: a fresh database per benchmark, timing, peak memory, reports and results.json.

Every benchmark runs in its own child process (see `benchmarks.__main__`), so the parent can read
that child's peak resident memory from `os.wait4` (the kernel's figure for the child and everything
it waited for: dbt, Dagster run workers, ...). The PostgreSQL side is measured separately by a
sampler thread that reads the private memory of the backends serving the benchmark's database.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import URL

RESULTS_PATH = Path(__file__).resolve().parent / "results.json"
QUICK_RESULTS_PATH = RESULTS_PATH.with_name("results-quick.json")
DATABASE_PREFIX = "allixios_bench_"


# ---------------------------------------------------------------------------------------------
# Reports


@dataclass
class Goal:
    """One line of the issue's goal column, checked against a measured figure."""

    label: str
    value: float | None
    op: str  # ">=" or "<="
    target: float
    unit: str = ""
    met: bool = False

    def __post_init__(self) -> None:
        if self.op not in (">=", "<="):
            raise ValueError(f"goal operator must be >= or <=, not {self.op!r}")
        if self.value is None or (isinstance(self.value, float) and math.isnan(self.value)):
            self.met = False
        else:
            self.met = self.value >= self.target if self.op == ">=" else self.value <= self.target


@dataclass
class Report:
    """What one benchmark measured. Benchmarks fill it; the harness adds memory and timing."""

    name: str
    size: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    ratios: dict[str, dict[str, Any]] = field(default_factory=dict)
    goals: list[Goal] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    status: str = "ok"
    error: str | None = None
    elapsed_s: float | None = None
    peak_rss_mb: float | None = None
    pg: dict[str, Any] = field(default_factory=dict)
    # 1-minute load average when the benchmark started and ended: other work on the machine skews figures
    load: dict[str, float] = field(default_factory=dict)

    def metric(self, key: str, value: float | int | str | None, unit: str = "", note: str = "") -> Any:
        self.metrics[key] = {"value": _clean(value), "unit": unit, **({"note": note} if note else {})}
        return value

    def ratio(self, key: str, measured: float, baseline: float, note: str) -> float:
        """measured / baseline, both measured in this run (the note says which is which)."""
        value = measured / baseline if baseline else float("nan")
        self.ratios[key] = {"value": _clean(value), "measured": _clean(measured), "baseline": _clean(baseline), "note": note}
        return value

    def goal(self, label: str, value: float | None, op: str, target: float, unit: str = "") -> Goal:
        goal = Goal(label, _clean(value), op, target, unit)
        self.goals.append(goal)
        return goal

    def table(self, title: str, headers: list[str], rows: list[list[Any]]) -> None:
        self.tables.append({"title": title, "headers": headers, "rows": [[_clean(c) for c in r] for r in rows]})

    def note(self, text: str) -> None:
        self.notes.append(text)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["goals"] = [asdict(g) for g in self.goals]
        return data


def _clean(value: Any) -> Any:
    """JSON-safe numbers: NaN/inf become None, floats are rounded to 4 significant decimals."""
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return float(f"{value:.6g}")
    return value


# ---------------------------------------------------------------------------------------------
# Measuring


class Stopwatch:
    """`with Stopwatch() as sw: ...` then `sw.seconds`."""

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._start


def percentile(values: list[float], pct: float) -> float:
    """Linear-interpolated percentile (the same as numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000.0 for s in seconds]
    return {
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "mean_ms": statistics.fmean(ms) if ms else float("nan"),
        "max_ms": max(ms) if ms else float("nan"),
    }


def log(message: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", flush=True)


class PostgresMemorySampler:
    """Samples the memory of the PostgreSQL processes serving one database (backends and parallel workers).

    Reports the peak of the summed private memory (RssAnon: work_mem, maintenance_work_mem, caches;
    shared buffers excluded so they are not counted once per backend) and the highest single-process
    high-water mark (VmHWM, shared pages touched included). Works when the server runs on this machine
    and /proc of its processes is readable; otherwise reports nothing.
    """

    def __init__(self, url: URL, interval_s: float = 0.2):
        self.url, self.interval_s = url, interval_s
        self.peak_private_kb = 0
        self.peak_hwm_kb = 0
        self.processes_seen: set[int] = set()
        self.readable = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PostgresMemorySampler:
        self._thread = threading.Thread(target=self._run, name="pg-memory-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No sampling connection to the database meanwhile (copying it as a template needs none)."""
        self.__exit__()
        try:
            yield
        finally:
            self._stop = threading.Event()
            self.__enter__()

    def _run(self) -> None:
        from allixios.db.server import libpq_conninfo

        try:
            conn = psycopg.connect(libpq_conninfo(self.url), autocommit=True)
        except psycopg.Error:
            return
        with conn:
            own = conn.info.backend_pid
            while not self._stop.is_set():
                try:
                    pids = [r[0] for r in conn.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> %s", (own,)
                    )]
                except psycopg.Error:
                    return
                private = 0
                for pid in pids:
                    status = _proc_status(pid)
                    if status is None:
                        continue
                    self.readable = True
                    self.processes_seen.add(pid)
                    private += status.get("RssAnon", 0)
                    self.peak_hwm_kb = max(self.peak_hwm_kb, status.get("VmHWM", 0))
                self.peak_private_kb = max(self.peak_private_kb, private)
                self._stop.wait(self.interval_s)

    def summary(self) -> dict[str, Any]:
        if not self.readable:
            return {"note": "server processes not readable from here (remote server?); PostgreSQL memory not measured"}
        return {
            "peak_private_mb": round(self.peak_private_kb / 1024, 1),
            "peak_backend_hwm_mb": round(self.peak_hwm_kb / 1024, 1),
            "processes_seen": len(self.processes_seen),
        }


def _proc_status(pid: int) -> dict[str, int] | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    if "postgres" not in text.split("\n", 1)[0]:
        return None
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("RssAnon", "VmHWM", "VmRSS"):
            values[key] = int(rest.split()[0])
    return values


# ---------------------------------------------------------------------------------------------
# Databases


def new_database_name(benchmark: str) -> str:
    return f"{DATABASE_PREFIX}{benchmark}_{uuid.uuid4().hex[:6]}"


def database_url(name: str) -> URL:
    from allixios.db import server

    return server.app_url().set(database=name)


def create_database(url: URL) -> None:
    """Create and migrate a fresh application database (the same Alembic revision the product uses)."""
    from allixios.db import migrate

    migrate.upgrade(url)


def drop_database(url: URL) -> None:
    from allixios.db.server import libpq_conninfo

    with psycopg.connect(libpq_conninfo(url.set(database="postgres")), autocommit=True) as admin:
        for name in (url.database, f"{url.database}_dagster"):
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def point_environment_at(url: URL, home: Path) -> None:
    """Make sub-processes (dbt, Dagster, the CLI) and pooled engines use the benchmark database."""
    from allixios import settings

    os.environ[settings.DATABASE_URL_ENV] = url.set(drivername="postgresql").render_as_string(hide_password=False)
    os.environ[settings.DAGSTER_DATABASE_URL_ENV] = (
        url.set(drivername="postgresql", database=f"{url.database}_dagster").render_as_string(hide_password=False)
    )
    os.environ[settings.HOME_ENV] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")  # a throw-away Dagster instance per benchmark
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


@contextmanager
def admin_connection(url: URL) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the benchmark database (bulk loads, index builds, SET)."""
    from pgvector.psycopg import register_vector

    from allixios.db.server import libpq_conninfo

    with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
        register_vector(conn)
        yield conn


# ---------------------------------------------------------------------------------------------
# Machine and results file


def machine_info(url: URL | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "ram_gb": _ram_gb(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }
    if url is not None:
        from allixios.db.server import libpq_conninfo

        try:
            with psycopg.connect(libpq_conninfo(url.set(database="postgres")), autocommit=True) as conn:
                info["postgres"] = conn.execute("SHOW server_version").fetchone()[0]
                info["shared_buffers"] = conn.execute("SHOW shared_buffers").fetchone()[0]
                row = conn.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'").fetchone()
                info["pgvector"] = row[0] if row else None
        except psycopg.Error:
            pass
    return info


def _ram_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


HISTORY_NAME = "history.jsonl"
# A goal is decided on the median of this many runs of the same benchmark, size and commit.
RUNS_TO_DECIDE = 3
# Files a benchmark run itself writes: they do not make the tree "dirty" for provenance.
_OWN_OUTPUTS = ("benchmarks/results.json", "benchmarks/results-quick.json", "benchmarks/history.jsonl", "BENCHMARKS.md")


def _measured(path: str) -> bool:
    """Whether a change to ``path`` can change what a benchmark measures: documentation (Markdown)
    cannot, so editing it beside a run does not make the run "dirty"; any other file can."""
    return path not in _OWN_OUTPUTS and not path.endswith(".md")


def provenance() -> dict[str, Any]:
    """Which code measured a result: the commit (and whether the tree differed from it), when, where."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    info: dict[str, Any] = {"recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": platform.node()}
    try:
        info["commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                        check=True, timeout=10).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, check=True, timeout=10).stdout.splitlines()
        changed = sorted({line[3:].strip().split(" -> ")[-1] for line in status} - set(_OWN_OUTPUTS))
        info["dirty"] = any(_measured(p) for p in changed)
        info["changed_paths"] = changed[:20]  # what differed from the commit (documentation included)
    except (OSError, subprocess.SubprocessError):
        info["commit"], info["dirty"] = None, None  # not a git checkout: said, not guessed
    return info


def history_path(results_path: Path) -> Path:
    return results_path.with_name(HISTORY_NAME)


def merge_results(path: Path, machine: dict[str, Any], reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Append every report to the run history, and keep each benchmark's latest finished run in results.json.

    The history (``history.jsonl`` beside ``results.json``) is append-only: a re-run never replaces
    an earlier run, so a borderline figure keeps all its runs and goals are decided on their median.
    """
    try:
        data = json.loads(path.read_text()) if path.exists() else {}
    except json.JSONDecodeError:
        data = {}
    benchmarks = data.get("benchmarks", {})
    stamp = provenance()
    path.parent.mkdir(parents=True, exist_ok=True)
    with history_path(path).open("a") as history:
        for report in reports:
            report = dict(report)
            report["machine"] = machine
            started = report.pop("started_on", None)  # the code a run measured is the code at its start
            report.update(stamp)
            if started is not None:
                if (started["commit"], started["dirty"]) != (stamp["commit"], stamp["dirty"]):
                    # the checkout moved while it ran: which code it measured cannot be told exactly
                    report["notes"] = [*report.get("notes", []), f"the checkout changed during the run (commit "
                                       f"{started['commit']} at its start, {stamp['commit']} at its end)"]
                    report["dirty"] = True
                report["commit"] = started["commit"]
            history.write(json.dumps(report, default=str, sort_keys=True) + "\n")
            if report.get("status") == "ok" or report["name"] not in benchmarks:
                benchmarks[report["name"]] = report  # a failed or stopped run is history, not the latest figure
    history = read_history(history_path(path))  # once, not once per benchmark
    for name, latest in benchmarks.items():
        latest["decision"] = decide(runs_of(history, name, latest.get("size"), latest.get("commit")))
    data = {"machine": machine, "benchmarks": dict(sorted(benchmarks.items()))}
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return data


def read_history(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    runs = []
    for line in path.read_text().splitlines():
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a crash mid-write costs only that line
    return runs


def runs_of(history: list[dict[str, Any]], name: str, size: str | None, commit: str | None) -> list[dict[str, Any]]:
    """The runs that may decide a goal together: same benchmark, same size, same commit, finished ok,
    and measuring that commit's code (a "dirty" run measured uncommitted code: kept, never deciding)."""
    return [r for r in history
            if r.get("name") == name and r.get("size") == size and r.get("commit") == commit and r.get("status") == "ok"
            and not r.get("dirty")]


def decide(runs: list[dict[str, Any]], needed: int = RUNS_TO_DECIDE) -> dict[str, Any]:
    """Each goal on the median of the newest ``needed`` runs (min and max shown); undecided with fewer runs."""
    recent = runs[-needed:]
    labels: dict[str, dict[str, Any]] = {}
    for run in recent:
        for goal in run.get("goals", []):
            entry = labels.setdefault(goal["label"], {"op": goal["op"], "target": goal["target"],
                                                      "unit": goal.get("unit", ""), "values": []})
            if goal.get("value") is not None:
                entry["values"].append(goal["value"])
    goals = []
    for label, entry in labels.items():
        values = entry["values"]
        median = statistics.median(values) if values else None
        decided = len(values) >= needed
        met = (Goal(label, median, entry["op"], entry["target"]).met if decided else None)
        goals.append({"label": label, "op": entry["op"], "target": entry["target"], "unit": entry["unit"],
                      "runs": len(values), "median": _clean(median), "min": _clean(min(values)) if values else None,
                      "max": _clean(max(values)) if values else None, "met": met})
    return {"runs": len(recent), "needed": needed, "goals": goals}


# ---------------------------------------------------------------------------------------------
# Tables


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "yes" if v else "NO"
        if isinstance(v, float):
            return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    text_rows = [[cell(c) for c in r] for r in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in text_rows)) if text_rows else len(str(h)) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    out = [line([str(h) for h in headers]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in text_rows]
    return "\n".join(out)


def render_report(report: dict[str, Any]) -> str:
    lines = [f"## {report['name']} ({report['size']}) — {report['status']}"]
    if report.get("error"):
        lines.append(f"error: {report['error']}")
    if report.get("params"):
        lines.append("params: " + ", ".join(f"{k}={v}" for k, v in report["params"].items()))
    if report.get("metrics"):
        rows = [[k, m["value"], m.get("unit", "")] for k, m in report["metrics"].items()]
        lines += ["", markdown_table(["metric", "value", "unit"], rows)]
    if report.get("ratios"):
        rows = [[k, r["value"], r["measured"], r["baseline"], r["note"]] for k, r in report["ratios"].items()]
        lines += ["", markdown_table(["ratio", "value", "measured", "baseline", "what"], rows)]
    if report.get("goals"):
        rows = [[g["label"], g["value"], f"{g['op']} {g['target']}{(' ' + g['unit']) if g['unit'] else ''}", g["met"]]
                for g in report["goals"]]
        lines += ["", markdown_table(["goal", "measured", "target", "met"], rows)]
    for table in report.get("tables", []):
        lines += ["", f"{table['title']}:", markdown_table(table["headers"], table["rows"])]
    memory = [f"peak RSS of the benchmark process tree {report.get('peak_rss_mb')} MB"]
    pg = report.get("pg") or {}
    if "peak_private_mb" in pg:
        memory.append(
            f"PostgreSQL backends: peak private {pg['peak_private_mb']} MB (summed), highest single backend "
            f"{pg['peak_backend_hwm_mb']} MB incl. shared buffers touched"
        )
    elif pg.get("note"):
        memory.append(pg["note"])
    lines += ["", "memory: " + "; ".join(memory), f"elapsed: {report.get('elapsed_s')} s"]
    if report.get("load"):
        lines.append(f"machine load average (1 min): {report['load'].get('start')} at start, {report['load'].get('end')} at end "
                     f"on {os.cpu_count()} cores")
    for note in report.get("notes", []):
        lines.append(f"note: {note}")
    if report.get("commit") is not None:
        lines.append(f"commit: {report['commit'][:12]}{' (with uncommitted changes)' if report.get('dirty') else ''}, "
                     f"recorded {report.get('recorded_at')} on {report.get('host')}")
    decision = report.get("decision")
    if decision and decision.get("goals"):
        lines += ["", _decision_table(decision)]
    return "\n".join(lines)


def _decision_table(decision: dict[str, Any]) -> str:
    rows = [[g["label"], g["runs"], g["median"], g["min"], g["max"], f"{g['op']} {g['target']}",
             "undecided" if g["met"] is None else g["met"]] for g in decision["goals"]]
    return (f"goals over the newest {decision['runs']} run(s) of this commit (decided on the median of {decision['needed']}):\n"
            + markdown_table(["goal", "runs", "median", "min", "max", "target", "met"], rows))


def render_decisions(history: list[dict[str, Any]], names: list[str], size: str) -> str:
    """Every benchmark's goals decided over the history of the newest commit it ran on."""
    out = []
    for name in names:
        mine = [r for r in history if r.get("name") == name and r.get("size") == size]
        if not mine:
            out.append(f"## {name} ({size}): no run in the history")
            continue
        commit = mine[-1].get("commit")
        decision = decide(runs_of(history, name, size, commit))
        out.append(f"## {name} ({size}) at {str(commit)[:12]}\n" + (_decision_table(decision) if decision["goals"] else "no goal"))
    return "\n\n".join(out)


def render_summary(reports: list[dict[str, Any]]) -> str:
    rows = []
    for r in reports:
        first_ratio = next(iter(r.get("ratios", {}).items()), None)
        goals = r.get("goals", [])
        decision = r.get("decision") or {}
        decided = [g for g in decision.get("goals", []) if g["met"] is not None]
        rows.append([
            r["name"], r["size"], r["status"],
            f"{first_ratio[0]} = {first_ratio[1]['value']}" if first_ratio else "-",
            f"{sum(g['met'] for g in goals)}/{len(goals)}" if goals else "-",
            (f"{sum(g['met'] for g in decided)}/{len(decided)}" if decided and len(decided) == len(decision["goals"])
             else f"undecided ({decision.get('runs', 0)} of {decision.get('needed', RUNS_TO_DECIDE)} runs)"),
            r.get("peak_rss_mb"), (r.get("pg") or {}).get("peak_private_mb"), r.get("elapsed_s"),
        ])
    return markdown_table(["benchmark", "size", "status", "headline ratio", "goals met (this run)",
                           f"goals met (median of {RUNS_TO_DECIDE})", "peak RSS MB", "PG private MB", "seconds"], rows)
