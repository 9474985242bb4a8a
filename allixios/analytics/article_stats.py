"""The seed's per-article analytics columns on ``articles``, kept in step with the marts.

``view_count``, ``unique_views``, ``time_on_page``, ``bounce_rate``, ``social_shares`` and
``engagement_score`` are lifetime figures derived from the marts after each analytics run
(``sync_article_stats``, called by the ``article_analytics_columns`` asset after the dbt build):

| column | from the marts |
|---|---|
| view_count | sum of ``fct_article_daily_performance.views`` |
| unique_views | sum of its daily ``unique_visitors`` (visitor-days: the visitor id rotates daily, so lifetime distinct readers are not knowable, by design) |
| time_on_page | views-weighted average of ``avg_time_on_page_s``, whole seconds |
| bounce_rate | sessions-weighted average of the daily ``bounce_rate`` (0-1, 3 decimals) |
| social_shares | views referred by social networks (``fct_article_channel_daily``, channel ``social``): the nearest signal measured, since no share events are collected |
| engagement_score | views-weighted average of the daily ``engagement_score`` (0-100, 1 decimal) |

Recomputed from all of the article's mart rows each time, so re-running is idempotent and a
rebuilt day is reflected; an article without mart rows goes back to 0. Scoped to one tenant per
call (the caller loops), and only rows whose figures changed are written.
"""

from __future__ import annotations

import psycopg

PERFORMANCE = "marts.fct_article_daily_performance"
CHANNELS = "marts.fct_article_channel_daily"
STAT_COLUMNS = ("view_count", "unique_views", "time_on_page", "bounce_rate", "social_shares", "engagement_score")

_TOTALS = f"""
    SELECT p.article_id,
           sum(p.views)::bigint AS view_count,
           sum(p.unique_visitors)::bigint AS unique_views,
           coalesce(round(sum(p.avg_time_on_page_s * p.views) / nullif(sum(p.views) FILTER (
               WHERE p.avg_time_on_page_s IS NOT NULL), 0)), 0)::int AS time_on_page,
           coalesce(round(sum(p.bounce_rate * p.sessions) / nullif(sum(p.sessions) FILTER (
               WHERE p.bounce_rate IS NOT NULL), 0), 3), 0) AS bounce_rate,
           coalesce(round(sum(p.engagement_score * p.views) / nullif(sum(p.views) FILTER (
               WHERE p.engagement_score IS NOT NULL), 0), 1), 0) AS engagement_score
    FROM {PERFORMANCE} p
    WHERE p.tenant_id = %(tenant)s
    GROUP BY p.article_id
"""


def marts_ready(conn: psycopg.Connection) -> bool:
    return all(conn.execute("SELECT to_regclass(%s)", (t,)).fetchone()[0] for t in (PERFORMANCE, CHANNELS))


def tenants_in_marts(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute(f"SELECT DISTINCT tenant_id::text FROM {PERFORMANCE} ORDER BY 1").fetchall()]


def sync_article_stats(conn: psycopg.Connection, tenant_id: str) -> int:
    """Write the tenant's articles' analytics columns from the marts; returns the rows changed."""
    return conn.execute(
        f"""
        WITH totals AS ({_TOTALS}),
        social AS (
            SELECT article_id, sum(views)::bigint AS social_shares
            FROM {CHANNELS} WHERE tenant_id = %(tenant)s AND channel = 'social'
            GROUP BY article_id
        ),
        wanted AS (
            SELECT a.id,
                   coalesce(t.view_count, 0) AS view_count, coalesce(t.unique_views, 0) AS unique_views,
                   coalesce(t.time_on_page, 0) AS time_on_page, coalesce(t.bounce_rate, 0) AS bounce_rate,
                   coalesce(s.social_shares, 0) AS social_shares, coalesce(t.engagement_score, 0) AS engagement_score
            FROM articles a
            LEFT JOIN totals t ON t.article_id = a.id
            LEFT JOIN social s ON s.article_id = a.id
            WHERE a.tenant_id = %(tenant)s
        )
        UPDATE articles a SET
            view_count = w.view_count, unique_views = w.unique_views, time_on_page = w.time_on_page,
            bounce_rate = w.bounce_rate, social_shares = w.social_shares, engagement_score = w.engagement_score
        FROM wanted w
        WHERE a.id = w.id AND a.tenant_id = %(tenant)s
          AND (a.view_count, a.unique_views, a.time_on_page, a.bounce_rate, a.social_shares, a.engagement_score)
              IS DISTINCT FROM (w.view_count, w.unique_views, w.time_on_page, w.bounce_rate, w.social_shares,
                                w.engagement_score)
        """,
        {"tenant": tenant_id},
    ).rowcount


def mismatches(conn: psycopg.Connection, tenant_id: str) -> list[dict]:
    """Articles whose columns differ from the marts (empty when in step): the asset's check."""
    from allixios.db.engine import fetch_dicts

    return fetch_dicts(
        conn,
        f"""
        WITH totals AS ({_TOTALS})
        SELECT a.id AS article_id, a.view_count, coalesce(t.view_count, 0) AS mart_views,
               a.unique_views, coalesce(t.unique_views, 0) AS mart_unique_views
        FROM articles a LEFT JOIN totals t ON t.article_id = a.id
        WHERE a.tenant_id = %(tenant)s
          AND (a.view_count <> coalesce(t.view_count, 0) OR a.unique_views <> coalesce(t.unique_views, 0)
               OR a.engagement_score <> coalesce(t.engagement_score, 0))
        ORDER BY a.id
        """,
        {"tenant": tenant_id},
    )
