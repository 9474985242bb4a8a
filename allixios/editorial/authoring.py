"""Human-written articles: created by an editor (API or CLI), sanitised, scored and versioned, not AI."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from allixios.content.markup import plain_line, sanitize_markdown
from allixios.content.slugs import slugify, unique_slug
from allixios.content.versions import record_first_version
from allixios.editorial.analysis import score_fields
from allixios.editorial.audit import record_audit
from allixios.errors import ValidationError
from allixios.publishing.config import site_host
from allixios.tenants import Niche, Tenant

MAX_BODY_CHARS = 200_000


def create_article(conn: psycopg.Connection, tenant: Tenant, niche: Niche | None, fields: dict[str, Any], *,
                   actor: str) -> UUID:
    """Insert a human-written article (status `draft`, ai_generated false) with version 1 and its scores."""
    title = plain_line(fields.get("title") or "")
    if not title:
        raise ValidationError("the article has no title", fix="give it a title")
    body = sanitize_markdown(fields.get("content") or "")
    if len(body) > MAX_BODY_CHARS:
        raise ValidationError(f"the body is {len(body)} characters", fix=f"keep it under {MAX_BODY_CHARS}")
    wanted = slugify(fields.get("slug") or title)
    if not wanted:
        raise ValidationError("no slug can be made from the title", fix="pass a slug of letters, digits and hyphens")
    slug = unique_slug(conn, tenant.id, wanted)
    row = {
        "title": title, "content": body, "slug": slug,
        "meta_title": plain_line(fields.get("meta_title") or "") or None,
        "meta_description": plain_line(fields.get("meta_description") or "") or None,
        "excerpt": plain_line(fields.get("excerpt") or "") or None,
        "tags": [plain_line(t) for t in fields.get("tags") or [] if plain_line(t)],
        "primary_keyphrase": plain_line(fields.get("primary_keyphrase") or "").lower() or None,
    }
    report = score_fields(row, site_host(conn, tenant))
    article_id = conn.execute(
        """INSERT INTO articles (tenant_id, niche_id, title, content, slug, meta_title, meta_description, excerpt,
                                 tags, primary_keyphrase, status, ai_generated, content_quality_score, seo_score,
                                 assessments, optimization_suggestions, created_by, updated_by)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'draft', false, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (tenant.id, niche.id if niche else None, row["title"], row["content"], row["slug"], row["meta_title"],
         row["meta_description"], row["excerpt"], row["tags"], row["primary_keyphrase"], report.quality, report.seo,
         Jsonb(report.assessments_json()), Jsonb(list(report.suggestions)), actor, actor),
    ).fetchone()[0]
    record_first_version(conn, article_id, reason="edit", actor=actor)
    record_audit(conn, tenant_id=tenant.id, actor=actor, action="article.create", entity_id=article_id,
                 after_version=1, details={"slug": slug, "ai_generated": False})
    return article_id
