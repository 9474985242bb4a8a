"""Raw events archived per day as Parquet in an object-storage layout, queryable with duckdb.

Layout (hive partitioning, as on S3/GCS under a bucket prefix)::

    $ALLIXIOS_HOME/archive/page_events/tenant=<slug>/day=<YYYY-MM-DD>/part-0.parquet
    $ALLIXIOS_HOME/archive/revenue_events/tenant=<slug>/day=<YYYY-MM-DD>/part-0.parquet

``archive_day`` writes the day's loaded rows (``raw.page_events`` / ``raw.revenue_events``) of
every tenant, each file written aside and renamed into place, so re-running replaces a partition
whole (idempotent) and a reader never sees half a file; a tenant whose day has no rows any more
loses that partition. ``query_archive`` runs an analyst's SQL in duckdb over one tenant's
partitions only: the views ``page_events`` and ``revenue_events`` read that tenant's prefix, and
duckdb is then locked to it (external access limited to the tenant's folders, configuration
locked), so ``read_parquet('…/tenant=other/…')`` fails. On object storage the same isolation is a
credential scoped to the tenant's prefix.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg

from allixios import settings
from allixios.errors import NotFoundError, ValidationError
from allixios.files import write_atomic

TABLES = {
    "page_events": ("event_id", "event_ts", "event_date", "tenant_id", "article_id", "url", "session_id",
                    "visitor_hash", "referrer", "device", "country", "time_on_page_s", "scroll_depth", "source_file",
                    "loaded_at"),
    "revenue_events": ("event_id", "event_ts", "event_date", "tenant_id", "article_id", "source", "amount", "currency",
                       "amount_usd", "source_file", "loaded_at"),
}
PART = "part-0.parquet"


def archive_root() -> Path:
    return settings.home() / "archive"


def partition_dir(table: str, tenant_slug: str, day: date, root: Path | None = None) -> Path:
    return (root or archive_root()) / table / f"tenant={tenant_slug}" / f"day={day.isoformat()}"


@dataclass(frozen=True)
class ArchivedPartition:
    table: str
    tenant: str
    day: str
    rows: int
    path: str


def archive_day(conn: psycopg.Connection, day: date, root: Path | None = None) -> list[ArchivedPartition]:
    """Write (or replace) the day's Parquet partitions of every tenant; returns what was written."""
    import polars as pl

    root = root or archive_root()
    tenants = dict(conn.execute("SELECT id::text, slug FROM tenants").fetchall())
    written: list[ArchivedPartition] = []
    for table, columns in TABLES.items():
        cur = conn.execute(
            f"SELECT {', '.join(_expression(c) for c in columns)} FROM raw.{table} WHERE event_date = %s "
            "ORDER BY tenant_id, event_id", (day,)
        )
        rows = cur.fetchall()
        frame = pl.DataFrame(rows, schema=list(columns), orient="row", infer_schema_length=None) if rows else None
        present: set[str] = set()
        if frame is not None:
            for (tenant_id,), part in frame.group_by(["tenant_id"], maintain_order=True):
                slug = tenants.get(tenant_id)
                if slug is None:
                    continue
                present.add(slug)
                folder = partition_dir(table, slug, day, root)
                write_atomic(folder / PART, lambda tmp, part=part: part.write_parquet(tmp, compression="zstd",
                                                                                       statistics=True))
                written.append(ArchivedPartition(table, slug, day.isoformat(), part.height, str(folder / PART)))
        # partitions of tenants with no rows that day any more: gone, as in the raw table
        for stale in (root / table).glob(f"tenant=*/day={day.isoformat()}"):
            if stale.parent.name.removeprefix("tenant=") not in present:
                shutil.rmtree(stale, ignore_errors=True)
    return written


def _expression(column: str) -> str:
    """Ids as text and amounts as double in the archive (the exact numerics stay in PostgreSQL)."""
    if column in ("tenant_id", "article_id"):
        return f"{column}::text AS {column}"
    if column in ("amount", "amount_usd"):
        return f"{column}::float8 AS {column}"
    return column


def _tenant_folder(table: str, tenant_slug: str, root: Path) -> Path:
    return root / table / f"tenant={tenant_slug}"


def query_archive(sql: str, tenant_slug: str, root: Path | None = None, limit: int | None = None) -> tuple[list[str], list[tuple]]:
    """Run ``sql`` in duckdb over the tenant's archive; returns (column names, rows).

    Views: ``page_events`` and ``revenue_events`` (the raw columns plus ``tenant`` and ``day``
    from the partition path). Nothing else on disk is readable from the query.
    """
    import duckdb

    root = (root or archive_root()).resolve()
    if not tenant_slug or "/" in tenant_slug or tenant_slug.startswith("."):
        raise ValidationError(f"tenant {tenant_slug!r} is not a tenant slug", fix="pass --tenant <slug>")
    folders = {t: _tenant_folder(t, tenant_slug, root) for t in TABLES}
    if not any(f.is_dir() for f in folders.values()):
        raise NotFoundError(f"no archive for tenant {tenant_slug!r} under {root}",
                            fix="run the analytics job for a day (it archives the day), or check --tenant")
    con = duckdb.connect(":memory:")
    try:
        for table, folder in folders.items():
            files = sorted(folder.glob(f"day=*/{PART}"))
            if files:
                pattern = str(folder / "day=*" / PART).replace("'", "''")
                # tenant and day come from the path (hive partitioning): the tenant's own folder
                con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{pattern}', "
                            "hive_partitioning = true, hive_types = {'tenant': VARCHAR, 'day': DATE})")
            else:
                cols = ", ".join(f"NULL::VARCHAR AS {c}" for c in TABLES[table])
                con.execute(f"CREATE VIEW {table} AS SELECT NULL::VARCHAR AS tenant, {cols}, NULL::DATE AS day WHERE false")
        # from here on the query can read only this tenant's folders, and cannot undo that
        allowed = [str(f) + "/" for f in folders.values()]
        con.execute("SET allowed_directories = " + "[" + ", ".join("'" + a.replace("'", "''") + "'" for a in allowed) + "]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        try:
            cur = con.execute(sql)
        except duckdb.Error as exc:
            raise ValidationError(f"archive query failed: {str(exc).splitlines()[0]}",
                                  fix="query the views page_events and revenue_events (duckdb SQL)") from None
        if cur.description is None:
            return [], []
        names = [d[0] for d in cur.description]
        rows = cur.fetchmany(limit) if limit else cur.fetchall()
        return names, rows
    finally:
        con.close()
