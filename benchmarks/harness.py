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


def merge_results(path: Path, machine: dict[str, Any], reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Write reports into results.json, keeping other benchmarks' latest results (runs can be partial)."""
    try:
        data = json.loads(path.read_text()) if path.exists() else {}
    except json.JSONDecodeError:
        data = {}
    benchmarks = data.get("benchmarks", {})
    for report in reports:
        report = dict(report)
        report["machine"] = machine
        report["recorded_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        benchmarks[report["name"]] = report
    data = {"machine": machine, "benchmarks": dict(sorted(benchmarks.items()))}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return data


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
    return "\n".join(lines)


def render_summary(reports: list[dict[str, Any]]) -> str:
    rows = []
    for r in reports:
        first_ratio = next(iter(r.get("ratios", {}).items()), None)
        goals = r.get("goals", [])
        rows.append([
            r["name"], r["size"], r["status"],
            f"{first_ratio[0]} = {first_ratio[1]['value']}" if first_ratio else "-",
            f"{sum(g['met'] for g in goals)}/{len(goals)}" if goals else "-",
            r.get("peak_rss_mb"), (r.get("pg") or {}).get("peak_private_mb"), r.get("elapsed_s"),
        ])
    return markdown_table(["benchmark", "size", "status", "headline ratio", "goals met", "peak RSS MB", "PG private MB", "seconds"], rows)
