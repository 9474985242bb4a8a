"""Shared set-up for the analytics tests: published articles to send traffic to, event files to land."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import psycopg

from allixios.tenants import Tenant, add_niche, ensure_tenant


def publish_articles(
    conn: psycopg.Connection, tenant: Tenant, count: int, published: date, prefix: str = "article"
) -> list[dict]:
    """Insert ``count`` published articles spread over the tenant's niches (creating two if none)."""
    niches = conn.execute("SELECT id FROM niches WHERE tenant_id = %s ORDER BY slug", (tenant.id,)).fetchall()
    if not niches:
        niches = [(add_niche(conn, tenant, f"{prefix}_niche_{i}").id,) for i in range(2)]
    rows = conn.execute(
        """INSERT INTO articles (tenant_id, niche_id, title, slug, content, status, published_at,
                                content_quality_score, seo_score, ai_generated, ai_model_used, generation_cost)
           SELECT %(tenant)s, (%(niches)s::uuid[])[1 + (i %% cardinality(%(niches)s::uuid[]))],
                  'Article ' || i, %(prefix)s || '-' || i, 'body', 'published',
                  %(published)s::timestamptz + (i || ' minutes')::interval,
                  70 + (i %% 30), 60 + (i %% 40), true,
                  CASE WHEN i %% 2 = 0 THEN 'offline/writer-large' ELSE 'offline/writer-small' END,
                  0.01 * (1 + i %% 5)
           FROM generate_series(1, %(count)s) AS i
           RETURNING id, slug, niche_id""",
        {"tenant": tenant.id, "niches": [n[0] for n in niches], "prefix": prefix,
         "published": datetime(published.year, published.month, published.day, 6, tzinfo=UTC), "count": count},
    ).fetchall()
    return [{"id": r[0], "slug": r[1], "niche_id": r[2]} for r in rows]


def tenant_with_articles(conn: psycopg.Connection, slug: str, count: int, published: date) -> tuple[Tenant, list[dict]]:
    tenant = ensure_tenant(conn, slug)
    return tenant, publish_articles(conn, tenant, count, published, prefix=slug)


def ts(day: date, hour: int = 12, minute: int = 0) -> str:
    return (datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hour, minutes=minute)).isoformat()


def write_jsonl(path: Path, records: list[dict], extra_lines: list[str] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r) for r in records] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n")
    return path


def write_csv(path: Path, records: list[dict], extra_lines: list[str] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = pl.DataFrame(records).write_csv()
    path.write_text(text + "".join(line + "\n" for line in extra_lines))
    return path


def write_parquet(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(records).write_parquet(path)
    return path


# tables in `marts` that a migration creates (not dbt): a test's clean slate keeps them
MIGRATION_OWNED_MARTS = ("mart_article_forecast",)


def drop_dbt_relations(conn: psycopg.Connection) -> None:
    """Remove what dbt built (marts tables/views, staging, intermediate) so a test starts clean;
    the migration's own objects in `marts` (the analyst function, the forecast table) stay."""
    relations = conn.execute(
        """SELECT c.relkind, quote_ident(n.nspname) || '.' || quote_ident(c.relname)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname IN ('marts', 'staging', 'intermediate') AND c.relkind IN ('r', 'v')
             AND (n.nspname, c.relname) NOT IN (SELECT 'marts', unnest(%s::text[]))""",
        (list(MIGRATION_OWNED_MARTS),),
    ).fetchall()
    views = [name for kind, name in relations if kind == "v"]
    tables = [name for kind, name in relations if kind == "r"]
    if views:
        conn.execute(f"DROP VIEW IF EXISTS {', '.join(views)} CASCADE")
    if tables:
        conn.execute(f"DROP TABLE IF EXISTS {', '.join(tables)} CASCADE")


def clean_analytics_slate(url) -> None:
    """A module's analytics world starts from nothing another module left: app rows (raw imports
    included), dbt's relations (an incremental mart keeps other modules' days), the forecast rows and
    the event files of the landing folder (another module's simulated days would be ingested again:
    under two test workers, which module ran before on the same worker is not fixed)."""
    import shutil

    from allixios.db.engine import connect
    from allixios.settings import landing_dir
    from tests.db_support import empty_app_tables

    events = landing_dir("events")
    if events.exists():
        for child in events.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    empty_app_tables(url)
    with connect(url) as conn:
        drop_dbt_relations(conn)
        conn.execute(f"TRUNCATE {', '.join('marts.' + name for name in MIGRATION_OWNED_MARTS)}")
