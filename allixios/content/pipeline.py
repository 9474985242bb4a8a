"""The content pipeline's entry points, one per asset, and the per-partition summary.

Step modules: ``topic_selection`` (topics), ``article_drafts`` (article_drafts),
``article_scores`` (scored_articles + quality gates), ``article_embeddings`` (article_embeddings),
``publishing`` (published_articles), ``seo_reports`` (seo_reports). The Dagster assets in
``allixios_assets/content`` are thin wrappers over these functions.
"""

from __future__ import annotations

from datetime import date

import psycopg

from allixios.content.article_drafts import (
    already_drafted,
    draft_articles,
    pending_drafts,
    request_and_store_drafts,
    request_drafts,
    store_drafts,
)
from allixios.content.article_embeddings import embed_partition
from allixios.content.article_scores import gate_report, score_partition
from allixios.content.partition import PartitionRef, as_date, resolve_partition
from allixios.content.publishing import publish_partition
from allixios.content.seo_reports import build_seo_report, report_markdown
from allixios.content.topic_selection import select_topics
from allixios.db.engine import fetch_dicts

__all__ = [
    "PartitionRef", "resolve_partition", "select_topics", "already_drafted", "draft_articles", "pending_drafts", "request_drafts",
    "request_and_store_drafts",
    "store_drafts", "score_partition", "gate_report", "embed_partition", "publish_partition", "build_seo_report",
    "report_markdown", "partition_summary", "earlier_articles", "earlier_topics",
]


def earlier_articles(conn: psycopg.Connection, part: PartitionRef) -> list[dict]:
    """The partition's articles as earlier runs left them (what a no-op re-run shows in the UI)."""
    return fetch_dicts(
        conn,
        """SELECT slug, title, status::text AS status, content_quality_score AS quality, seo_score AS seo,
                  ai_model_used AS model, version_number AS version
           FROM articles WHERE niche_id = %s AND partition_date = %s AND deleted_at IS NULL ORDER BY slug""",
        (part.niche.id, part.day),
    )


def earlier_topics(conn: psycopg.Connection, part: PartitionRef) -> list[dict]:
    """The topics decided for the partition by earlier runs, with their reasons."""
    return fetch_dicts(
        conn,
        """SELECT title, target_keyphrase AS keyphrase, priority, status,
                  coalesce(rejection_reason, failure_reason) AS reason
           FROM topics WHERE niche_id = %s AND partition_date = %s ORDER BY status, priority DESC, title""",
        (part.niche.id, part.day),
    )


def partition_summary(conn: psycopg.Connection, day: date | str, niche_partition_key: str) -> dict:
    """What one content partition produced, for `make run` and the UI.

    topics_accepted/rejected: the day's topic decisions; drafts: articles drafted for the day;
    drafts_failed: topics whose generation failed; articles_meeting_bars/articles_under_bars:
    scored articles that meet / miss the tenant's bars (articles, not checks); published;
    needs_revision; avg_quality/avg_seo of the drafts;
    cost_usd: every ai_usage row of the partition (research, drafts incl. failed attempts, embeddings).
    """
    part = resolve_partition(conn, day, niche_partition_key)
    niche_id, d = part.niche.id, as_date(day)
    bars = part.bars
    row = conn.execute(
        """WITH t AS (SELECT * FROM topics WHERE niche_id = %(niche)s AND partition_date = %(day)s),
                a AS (SELECT * FROM articles WHERE niche_id = %(niche)s AND partition_date = %(day)s AND deleted_at IS NULL)
           SELECT (SELECT count(*) FROM t WHERE status IN ('selected', 'drafted', 'failed')),
                  (SELECT count(*) FROM t WHERE status = 'rejected'),
                  (SELECT count(*) FROM a),
                  (SELECT count(*) FROM t WHERE status = 'failed'),
                  (SELECT count(*) FROM a WHERE status <> 'draft' AND length(coalesce(content, '')) >= %(body)s
                       AND content_quality_score > %(quality)s AND seo_score > %(seo)s),
                  (SELECT count(*) FROM a WHERE status <> 'draft' AND NOT (length(coalesce(content, '')) >= %(body)s
                       AND content_quality_score > %(quality)s AND seo_score > %(seo)s)),
                  (SELECT count(*) FROM a WHERE status = 'published'),
                  (SELECT count(*) FROM a WHERE status = 'needs_revision'),
                  (SELECT round(avg(content_quality_score), 1) FROM a WHERE status <> 'draft'),
                  (SELECT round(avg(seo_score), 1) FROM a WHERE status <> 'draft'),
                  (SELECT coalesce(sum(u.cost_usd), 0) FROM ai_usage u
                    WHERE u.topic_id IN (SELECT id FROM t)
                       OR u.request_id IN (SELECT 'draft:' || id FROM t)
                       OR u.request_id = 'research:' || %(niche)s || ':' || %(day)s
                       OR u.request_id LIKE 'topic-embed:' || %(niche)s || ':' || %(day)s || ':%%'
                       OR u.request_id LIKE 'embed:' || %(niche)s || ':' || %(day)s || ':%%')""",
        {"niche": niche_id, "day": d, "body": bars.min_body_chars, "quality": bars.min_quality, "seo": bars.min_seo},
    ).fetchone()
    keys = ["topics_accepted", "topics_rejected", "drafts", "drafts_failed", "articles_meeting_bars", "articles_under_bars",
            "published", "needs_revision", "avg_quality", "avg_seo", "cost_usd"]
    out = dict(zip(keys, row, strict=True))
    for k in ("avg_quality", "avg_seo", "cost_usd"):
        out[k] = float(out[k]) if out[k] is not None else None
    return out
