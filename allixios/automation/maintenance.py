"""Weekly maintenance: internal link validation, refresh candidates, purge of soft-deleted rows.

Links are read with the one CommonMark parse (``allixios.content.site_links``): inline,
reference-style, autolinks, raw ``<a href>`` and absolute links to the tenant's own site count; text
in code spans and code blocks is not a link. The judging of targets is set-based SQL over the
extracted (article, target) pairs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg

from allixios.content.site_links import internal_targets
from allixios.db.engine import fetch_dicts

DEFAULT_RETENTION_DAYS = 30


def published_links(conn: psycopg.Connection) -> dict[str, list]:
    """(article id, tenant id, target slug) of every internal link of every live article, as
    columns for ``unnest``. Bodies are streamed (a server-side cursor), links kept."""
    from allixios.publishing.config import site_host
    from allixios.tenants import tenant_by_id

    hosts = {tid: site_host(conn, tenant_by_id(conn, tid)) for (tid,) in conn.execute(
        "SELECT DISTINCT tenant_id FROM articles WHERE status = 'published' AND deleted_at IS NULL").fetchall()}
    cols: dict[str, list] = {"ids": [], "tenants": [], "targets": []}
    for article_id, tenant_id, content in _live_bodies(conn):
        for target in internal_targets(content, hosts.get(tenant_id, "")):
            cols["ids"].append(article_id)
            cols["tenants"].append(tenant_id)
            cols["targets"].append(target)
    return cols


def _live_bodies(conn: psycopg.Connection) -> Iterator[tuple]:
    with conn.cursor(name="link_audit_bodies") as cur:
        cur.itersize = 500
        cur.execute("SELECT id, tenant_id, content FROM articles WHERE status = 'published' AND deleted_at IS NULL "
                    "AND content IS NOT NULL ORDER BY id")
        yield from cur


# the extracted links as a relation: (id, tenant_id, target)
LINKS_SQL = "SELECT * FROM unnest(%(ids)s::uuid[], %(tenants)s::uuid[], %(targets)s::text[]) AS l(id, tenant_id, target)"


def validate_internal_links(conn: psycopg.Connection) -> dict[str, Any]:
    """Record broken internal links of every published article in workflow_state.broken_links."""
    rows = fetch_dicts(
        conn,
        f"""
        WITH links AS ({LINKS_SQL}
        ), broken AS (
            SELECT l.id, array_agg(DISTINCT l.target ORDER BY l.target) AS targets
            FROM links l
            LEFT JOIN articles t ON t.tenant_id = l.tenant_id AND t.slug = l.target
                                 AND t.status = 'published' AND t.deleted_at IS NULL
            WHERE t.id IS NULL
              AND NOT EXISTS (SELECT 1 FROM niches n WHERE n.tenant_id = l.tenant_id  -- a niche page: /<niche>/
                              AND replace(n.slug, '_', '-') = l.target)
            GROUP BY l.id
        ), updated AS (
            UPDATE articles a
            SET workflow_state = jsonb_set(a.workflow_state, '{{broken_links}}', to_jsonb(coalesce(b.targets, '{{}}'::text[])))
            FROM articles a2 LEFT JOIN broken b ON b.id = a2.id
            WHERE a.id = a2.id AND a2.status = 'published' AND a2.deleted_at IS NULL
            RETURNING a.id, b.targets
        )
        SELECT count(*) AS checked,
               count(*) FILTER (WHERE targets IS NOT NULL) AS with_broken_links,
               coalesce(sum(cardinality(targets)), 0) AS broken_links
        FROM updated
        """,
        published_links(conn),
    )
    return rows[0]


def refresh_candidates(conn: psycopg.Connection, min_age_days: int = 30, limit: int = 50) -> list[dict[str, Any]]:
    """Published articles most in need of a refresh: old and weakest on quality + SEO."""
    return fetch_dicts(
        conn,
        """SELECT a.id, t.slug AS tenant, a.slug, a.content_quality_score AS quality, a.seo_score AS seo,
                  (now()::date - a.published_at::date) AS age_days
           FROM articles a JOIN tenants t ON t.id = a.tenant_id
           WHERE a.status = 'published' AND a.deleted_at IS NULL
             AND a.published_at < now() - make_interval(days => %s)
             AND NOT EXISTS (SELECT 1 FROM edit_locks l WHERE l.article_id = a.id AND l.expires_at > now())
           ORDER BY a.content_quality_score + a.seo_score, a.published_at
           LIMIT %s""",
        (min_age_days, limit),
    )


def purge_soft_deleted(conn: psycopg.Connection, retention_days: int = DEFAULT_RETENTION_DAYS) -> int:
    """Delete articles soft-deleted longer than the retention (versions and vectors go with them)."""
    rows = conn.execute(
        """WITH gone AS (
               DELETE FROM articles WHERE deleted_at < now() - make_interval(days => %s)
               RETURNING id, tenant_id, version_number)
           INSERT INTO audit_log (tenant_id, actor, action, entity_type, entity_id, before_version, details)
           SELECT tenant_id, 'maintenance_job', 'purge', 'article', id::text, version_number,
                  jsonb_build_object('retention_days', %s)
           FROM gone RETURNING 1""",
        (retention_days, retention_days),
    ).fetchall()
    return len(rows)
