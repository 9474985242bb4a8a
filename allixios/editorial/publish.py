"""`allixios articles publish` / `unpublish`: an editor decides what is live.

The LIVE version of an article is the `article_versions` row at ``articles.published_version_number``
(status 'published', not deleted). An edit appends a version but leaves that pointer alone, so the
site and every target keep showing the old text until the article is published again.

``publish`` makes the article's latest version live: it must pass the tenant's bars (body length,
quality, SEO) — if not, nothing changes and the error names what misses. It appends a version with
reason 'published' through the one version writer (`content.versions.append_version`) and moves the
pointer to it. ``unpublish`` takes the article down (status 'archived'; the pointer keeps the last
live version for history): the site answers 410 for it and targets take their copies down.
"""

from __future__ import annotations

from psycopg import Connection
from psycopg.types.json import Jsonb

from allixios.content.partition import Bars
from allixios.content.versions import append_version
from allixios.editorial.articles import ChangeResult, resolve_article, stale_version_error
from allixios.editorial.audit import record_audit
from allixios.editorial.locks import ensure_not_locked_by_other
from allixios.errors import ValidationError
from allixios.tenants import Tenant


def publish_article(conn: Connection, tenant: Tenant, ref: str, *, actor: str,
                    expected_version: int | None = None) -> ChangeResult:
    """Make the latest version live (refused, with the reasons, when it misses the tenant's bars)."""
    article = resolve_article(conn, tenant, ref, for_update=True)
    if article.deleted_at is not None:
        raise ValidationError(f"article {article.slug!r} is deleted",
                              fix=f"restore it first: `allixios articles restore {article.id}`")
    ensure_not_locked_by_other(conn, article.id, actor)
    if expected_version is not None and expected_version != article.version_number:
        raise stale_version_error(article, expected_version)
    if article.status == "published" and article.published_version_number == article.version_number:
        return ChangeResult(article.id, "publish", article.version_number, article.version_number, False,
                            {"live_version": article.version_number})
    row = conn.execute(
        """SELECT length(coalesce(content, '')), content_quality_score, seo_score, ai_model_used, prompt_version,
                  assessments FROM articles WHERE id = %s""",
        (article.id,),
    ).fetchone()
    body_chars, quality, seo, model, prompt_version, assessments = row
    failed = Bars.of(tenant).failures(body_chars, quality, seo)
    if failed:
        live = (f"; version {article.published_version_number} stays live"
                if article.status == "published" else "")
        raise ValidationError(
            f"article {article.slug!r} version {article.version_number} was not published: it misses the tenant's "
            f"bars ({'; '.join(failed)}){live}",
            fix="revise it with `allixios articles edit` (see `allixios articles analyze`) and publish again",
        )
    before_live = article.published_version_number if article.status == "published" else None
    version = append_version(
        conn, article.id, reason="published", fields={}, expected_version=article.version_number, actor=actor,
        model=model, prompt_version=prompt_version, quality=quality, seo=seo, assessments=assessments,
    )
    conn.execute(
        """UPDATE articles SET status = 'published', published_at = coalesce(published_at, now()),
                  published_version_number = %s, workflow_state = workflow_state || %s WHERE id = %s""",
        (version, Jsonb({"stage": "published", "published_by": actor}), article.id),
    )
    return ChangeResult(article.id, "publish", article.version_number, version, True,
                        {"live_version": version, "previous_live_version": before_live})


def unpublish_article(conn: Connection, tenant: Tenant, ref: str, *, actor: str) -> ChangeResult:
    """Take the article down (idempotent): status archived, the site answers 410, targets remove it."""
    article = resolve_article(conn, tenant, ref, for_update=True)
    if article.status != "published":
        return ChangeResult(article.id, "unpublish", article.version_number, article.version_number, False)
    ensure_not_locked_by_other(conn, article.id, actor)
    conn.execute(
        """UPDATE articles SET status = 'archived', updated_at = now(), updated_by = %s,
                  workflow_state = workflow_state || %s WHERE id = %s""",
        (actor, Jsonb({"stage": "unpublished", "unpublished_by": actor}), article.id),
    )
    record_audit(conn, tenant_id=tenant.id, actor=actor, action="article.unpublish", entity_id=article.id,
                 before_version=article.version_number, after_version=article.version_number,
                 details={"slug": article.slug, "live_version": article.published_version_number})
    return ChangeResult(article.id, "unpublish", article.version_number, article.version_number, True,
                        {"last_live_version": article.published_version_number})
