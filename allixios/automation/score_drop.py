"""Score-drop detection over the content-health mart: which published articles are due for refresh.

One set-based query over the newest day of ``marts.mart_content_health`` (indexed on day): for
each article it compares today's composite score with the composite of its trailing baseline.

    composite  = (we*engagement + wq*quality + ws*seo + wr*revenue_index) / (we+wq+ws+wr)
    baseline   = (we*baseline_engagement + wq*quality + ws*seo + wr*100) / (...)
    revenue_index = 100 * min(1, revenue_usd / baseline_revenue_usd)   (100 when there is no baseline)

An article is due when composite < floor, or when it fell by at least drop_pct against the
baseline. Locked, deleted, unpublished articles, articles refreshed within the cooldown and
tenants whose AI budget is exhausted are left out, all in SQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg

from allixios.automation.refresh_rules import refresh_allowed
from allixios.db.engine import fetch_dicts

MART = "marts.mart_content_health"


@dataclass(frozen=True)
class DropPolicy:
    weight_engagement: float = 0.4
    weight_quality: float = 0.2
    weight_seo: float = 0.2
    weight_revenue: float = 0.2
    floor: float = 35.0
    drop_pct: float = 25.0
    cooldown_days: int = 7
    min_baseline_days: int = 3  # a baseline of fewer days is noise: only the floor applies
    max_articles: int = 500


def latest_mart_day(conn: psycopg.Connection) -> date | None:
    if conn.execute("SELECT to_regclass(%s)", (MART,)).fetchone()[0] is None:
        return None
    return conn.execute(f"SELECT max(day) FROM {MART}").fetchone()[0]


def _composite_sql(row: str, quality: str, seo: str) -> tuple[str, str]:
    """(composite, baseline composite) of ``row`` with the given quality and SEO score columns."""
    total = "(%(we)s + %(wq)s + %(ws)s + %(wr)s)"
    composite = (f"(%(we)s * {row}.engagement_score + %(wq)s * {quality} + %(ws)s * {seo} + %(wr)s * {row}.revenue_index)"
                 f" / {total}")
    baseline = (f"(%(we)s * coalesce({row}.baseline_engagement, {row}.engagement_score) + %(wq)s * {quality}"
                f" + %(ws)s * {seo} + %(wr)s * 100) / {total}")
    return composite, baseline


def _is_due_sql(composite: str, baseline: str, row: str) -> str:
    """The rule: below the floor, or fell by drop_pct against a real baseline."""
    return (f"({composite} < %(floor)s OR {row}.baseline_engagement IS NOT NULL AND {baseline} > 0"
            f" AND 100 * ({baseline} - {composite}) / {baseline} >= %(drop)s)")


# A statement that sorts or hashes a day of a large mart spills to disk at the default 4MB; 64MB
# keeps it in memory (SET LOCAL: this statement's transaction only).
SENSOR_WORK_MEM = "64MB"


def due_for_refresh(conn: psycopg.Connection, day: date, policy: DropPolicy = DropPolicy()) -> list[dict[str, Any]]:
    """Articles due for refresh on ``day``, with the reason (which score dropped, from what to what).

    The day's mart rows are first filtered on the mart's own composite (the mart carries the
    quality and SEO scores of its build), so only those few candidates are looked up in
    ``articles`` by primary key, and judged again on the article's current scores. An article
    whose scores fell after the build, and only then qualify, is found at the next build of the
    day's marts (every build copies the current scores). Scanning the day and hash-joining every
    article instead was the sensor's cost (BENCHMARKS.md, score_drop_sensor).
    """
    mart_composite, mart_baseline = _composite_sql("h", "h.quality_score", "h.seo_score")
    composite, baseline = _composite_sql("s", "s.quality", "s.seo")
    params = {
        "day": day,
        "we": policy.weight_engagement,
        "wq": policy.weight_quality,
        "ws": policy.weight_seo,
        "wr": policy.weight_revenue,
        "floor": policy.floor,
        "drop": policy.drop_pct,
        "cooldown": policy.cooldown_days,
        "min_days": policy.min_baseline_days,
        "limit": policy.max_articles,
    }
    with conn.transaction():
        conn.execute(f"SET LOCAL work_mem = '{SENSOR_WORK_MEM}'")
        return fetch_dicts(
            conn,
            f"""
            WITH day_rows AS (
                SELECT h.tenant_id, h.niche_id, h.article_id, h.day, h.engagement_score, h.revenue_usd,
                       h.quality_score, h.seo_score,
                       CASE WHEN h.baseline_days >= %(min_days)s THEN h.baseline_engagement END AS baseline_engagement,
                       CASE WHEN h.baseline_days >= %(min_days)s THEN h.baseline_revenue_usd END AS baseline_revenue_usd,
                       CASE WHEN coalesce(h.baseline_revenue_usd, 0) > 0
                            THEN 100 * least(1, h.revenue_usd / h.baseline_revenue_usd) ELSE 100 END AS revenue_index
                FROM {MART} h
                WHERE h.day = %(day)s
            ), candidates AS MATERIALIZED (
                -- the rule on the mart's own scores: a few rows of the day, before any join
                SELECT h.* FROM day_rows h WHERE {_is_due_sql(mart_composite, mart_baseline, "h")}
            ), scored AS (
                SELECT h.tenant_id, h.niche_id, h.article_id, h.day, h.engagement_score, h.revenue_usd,
                       h.baseline_engagement, h.baseline_revenue_usd, h.revenue_index,
                       a.content_quality_score AS quality, a.seo_score AS seo
                FROM candidates h
                JOIN articles a ON a.id = h.article_id
                WHERE a.status = 'published' AND a.deleted_at IS NULL
            ), composite AS (
                SELECT s.*, {composite} AS composite, {baseline} AS baseline_composite
                FROM scored s
                WHERE {_is_due_sql(composite, baseline, "s")}
            )
            SELECT c.tenant_id, t.slug AS tenant, c.niche_id, n.partition_key AS niche_key, c.article_id, c.day,
                   round(c.composite::numeric, 1)::float AS composite,
                   round(c.baseline_composite::numeric, 1)::float AS baseline_composite,
                   round((100 * (c.baseline_composite - c.composite) / nullif(c.baseline_composite, 0))::numeric, 1)::float
                       AS drop_pct,
                   round(c.engagement_score::numeric, 1)::float AS engagement,
                   round(c.baseline_engagement::numeric, 1)::float AS baseline_engagement,
                   round(c.revenue_usd::numeric, 4)::float AS revenue_usd,
                   round(c.baseline_revenue_usd::numeric, 4)::float AS baseline_revenue_usd,
                   c.quality, c.seo
            FROM composite c
            JOIN tenants t ON t.id = c.tenant_id AND t.deleted_at IS NULL
            JOIN niches n ON n.id = c.niche_id
            WHERE {refresh_allowed('c')}
            ORDER BY c.tenant_id, c.niche_id, c.composite
            LIMIT %(limit)s
            """,
            params,
        )


def describe_drop(row: dict[str, Any]) -> str:
    """Which score dropped, from what to what: the reason that travels in run tags."""
    parts = [f"composite {row['baseline_composite']} -> {row['composite']} (-{row['drop_pct']}%)"]
    if row.get("baseline_engagement") is not None and row["engagement"] < row["baseline_engagement"]:
        parts.append(f"engagement {row['baseline_engagement']} -> {row['engagement']}")
    if row.get("baseline_revenue_usd") and row["revenue_usd"] < row["baseline_revenue_usd"]:
        parts.append(f"revenue ${row['baseline_revenue_usd']} -> ${row['revenue_usd']}")
    return "; ".join(parts)


def record_requests(conn: psycopg.Connection, requests: list[tuple[str, dict[str, Any]]]) -> int:
    """Remember each (run key, article row) request (cooldown); the same run key and article is stored once.

    One statement for a whole tick, its rows one JSON document unpacked server-side: an
    ``executemany`` per batch cost a round trip per row, and array parameters are escaped element by
    element in Python (psycopg's text-array dumper); both were most of the tick beyond its SQL
    (BENCHMARKS.md, score_drop_sensor)."""
    if not requests:
        return 0
    # the reason is the row as it was judged: non-JSON values (UUIDs, dates) as their text
    document = json.dumps([{"tenant_id": row["tenant_id"], "article_id": row["article_id"], "run_key": run_key,
                            "reason": row} for run_key, row in requests], default=str)
    conn.execute(
        """INSERT INTO refresh_requests (tenant_id, article_id, run_key, reason)
           SELECT (e ->> 'tenant_id')::uuid, (e ->> 'article_id')::uuid, e ->> 'run_key', e -> 'reason'
           FROM jsonb_array_elements(%s::jsonb) AS e
           ON CONFLICT (run_key, article_id) DO NOTHING""",
        (document,),
    )
    return len(requests)
