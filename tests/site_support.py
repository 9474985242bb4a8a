"""Helpers for the site tests: live articles inserted the way the pipeline leaves them."""

from __future__ import annotations

from uuid import UUID

import psycopg

from allixios.content.versions import append_version, record_first_version
from allixios.tenants import Tenant

BODY = """Intro paragraph about {topic} with enough words to read as prose for the test page.

## Why {topic} matters

Plain words, a [link to the sibling](/{link}) and an ![A chart of {topic}](/images/{slug}-1.jpg) picture.

## Getting started

1. First step
2. Second step

Closing thoughts on {topic}.
"""


def live_article(conn: psycopg.Connection, tenant: Tenant, niche_slug: str, slug: str, title: str,
                 body: str | None = None, *, model: str | None = "human", link: str = "missing-page") -> UUID:
    """An article published at version 1 (``model='offline/writer'`` makes it a stand-in)."""
    niche_id = conn.execute("SELECT id FROM niches WHERE tenant_id = %s AND slug = %s",
                            (tenant.id, niche_slug)).fetchone()[0]
    body = body if body is not None else BODY.format(topic=title.lower(), slug=slug, link=link)
    article_id = conn.execute(
        """INSERT INTO articles (tenant_id, niche_id, title, content, slug, meta_title, meta_description, excerpt,
                                 status, ai_model_used, content_quality_score, seo_score, created_by, tags)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'published', %s, 85, 75, 'fixture', %s) RETURNING id""",
        (tenant.id, niche_id, title, body, slug, f"{title} | Guide", f"{title}: a practical guide for readers.",
         f"Everything about {title.lower()}.", model, ["guide", niche_slug]),
    ).fetchone()[0]
    record_first_version(conn, article_id, actor="fixture", model=model)
    conn.execute("UPDATE articles SET published_version_number = 1, published_at = now() WHERE id = %s",
                 (article_id,))
    return article_id


def publish_change(conn: psycopg.Connection, article_id: UUID, **fields) -> int:
    """Apply ``fields`` as a new version and make it the live one."""
    version = append_version(conn, article_id, reason="published", fields=fields, expected_version=None,
                             actor="fixture")
    conn.execute("UPDATE articles SET published_version_number = %s WHERE id = %s", (version, article_id))
    return version


def soft_delete(conn: psycopg.Connection, article_id: UUID) -> None:
    conn.execute("UPDATE articles SET deleted_at = now() WHERE id = %s", (article_id,))
