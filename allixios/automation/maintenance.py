"""Weekly maintenance: internal link validation, refresh candidates, purge of soft-deleted rows.

All set-based SQL: the work scales with the number of published articles without Python loops.
"""

from __future__ import annotations

from typing import Any

import psycopg

from allixios.db.engine import fetch_dicts

# Markdown links to a site-relative path: [text](/some-slug) or [text](/some-slug#part)
INTERNAL_LINK_PATTERN = r"\]\(/([a-z0-9][a-z0-9-]*)[^)]*\)"
DEFAULT_RETENTION_DAYS = 30


def validate_internal_links(conn: psycopg.Connection) -> dict[str, Any]:
    """Record broken internal links of every published article in workflow_state.broken_links."""
    rows = fetch_dicts(
        conn,
        """
        WITH links AS (
            SELECT a.id, a.tenant_id, m[1] AS target
            FROM articles a, regexp_matches(a.content, %s, 'g') AS m
            WHERE a.status = 'published' AND a.deleted_at IS NULL
        ), broken AS (
            SELECT l.id, array_agg(DISTINCT l.target ORDER BY l.target) AS targets
            FROM links l
            LEFT JOIN articles t ON t.tenant_id = l.tenant_id AND t.slug = l.target
                                 AND t.status = 'published' AND t.deleted_at IS NULL
            WHERE t.id IS NULL
            GROUP BY l.id
        ), updated AS (
            UPDATE articles a
            SET workflow_state = jsonb_set(a.workflow_state, '{broken_links}', to_jsonb(coalesce(b.targets, '{}'::text[])))
            FROM articles a2 LEFT JOIN broken b ON b.id = a2.id
            WHERE a.id = a2.id AND a2.status = 'published' AND a2.deleted_at IS NULL
            RETURNING a.id, b.targets
        )
        SELECT count(*) AS checked,
               count(*) FILTER (WHERE targets IS NOT NULL) AS with_broken_links,
               coalesce(sum(cardinality(targets)), 0) AS broken_links
        FROM updated
        """,
        (INTERNAL_LINK_PATTERN,),
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
