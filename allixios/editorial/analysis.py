"""SEO and readability analysis of any stored version of an article (the content area's scorer)."""

from __future__ import annotations

from typing import Any

import psycopg

from allixios.content.scoring import ArticleDoc, ScoreReport, score_article
from allixios.publishing.config import site_host
from allixios.tenants import Tenant


def score_fields(fields: dict[str, Any], host: str = "") -> ScoreReport:
    """Score article fields (column names) with the content area's documented assessments.

    ``host`` is the tenant's site host (``allixios.publishing.config.site_host``): absolute
    links to it are internal, as in the pipeline's scoring."""
    return score_article(
        ArticleDoc(
            title=fields.get("title") or "",
            meta_title=fields.get("meta_title") or "",
            meta_description=fields.get("meta_description") or "",
            slug=fields.get("slug") or "",
            body=fields.get("content") or "",
            keyphrase=fields.get("primary_keyphrase") or "",
            site_host=host,
        )
    )


def analyze_article(
    conn: psycopg.Connection, tenant: Tenant, ref: str, version: int | None = None
) -> dict[str, Any]:
    """Assessments and suggestions for the current text, or for stored version `version`."""
    # imported here: articles.py scores edits with score_fields above
    from allixios.editorial.articles import current_fields, resolve_article
    from allixios.editorial.history import get_version

    article = resolve_article(conn, tenant, ref)
    if version is None:
        fields, analysed = current_fields(conn, article.id), article.version_number
    else:
        fields, analysed = get_version(conn, tenant, ref, version), version
    report = score_fields(fields, site_host(conn, tenant))
    return {
        "article_id": article.id,
        "slug": article.slug,
        "version": analysed,
        "current_version": article.version_number,
        "quality": report.quality,
        "seo": report.seo,
        "word_count": report.word_count,
        "body_chars": report.body_chars,
        "assessments": report.assessments_json(),
        "suggestions": list(report.suggestions),
    }
