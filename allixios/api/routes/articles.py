"""The content-management interface: articles, versions, diff, revert, locks, delete/restore, SEO,
collaborators. Domain work is done by allixios/editorial; this module maps it onto HTTP.

Publish/unpublish are registered when the publishing area's `allixios/editorial/publish.py` is present.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from allixios.api import idempotency
from allixios.api.auth import Principal, authenticated, need
from allixios.api.problems import ApiProblem, problem_doc
from allixios.api.routes._models import Strict
from allixios.api.web import (
    PRIVATE,
    cached_json,
    decode_cursor,
    encode_cursor,
    json_response,
    version_from_if_match,
)
from allixios.db.engine import connect, fetch_dicts
from allixios.editorial import articles as ed

router = APIRouter(tags=["articles"])
STATUSES = Literal["draft", "scored", "needs_revision", "published", "archived", "failed"]


def _id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ApiProblem("RESOURCE_NOT_FOUND", f"no article {value[:60]!r}", fix="use the article's id") from None


def _etag(version: int, content_hash: str | None) -> str:
    return f'"v{version}-{(content_hash or "")[:16]}"'


@router.get("/articles", summary="Articles of the tenant, newest change first (cursor pagination)",
            responses=problem_doc(401, 403, 422, 429))
def list_articles(request: Request, status: STATUSES | None = None,
                  niche: str | None = Query(None, max_length=63),
                  limit: int = Query(50, ge=1, le=200), cursor: str | None = Query(None, max_length=500),
                  include_deleted: bool = False, principal: Principal = Depends(need("articles:read"))):
    after = decode_cursor(cursor, 2)
    with connect() as conn:
        rows = fetch_dicts(conn, """
            SELECT a.id, a.slug, a.title, n.slug AS niche, a.status::text AS status, a.content_quality_score AS quality,
                   a.seo_score AS seo, a.version_number AS version, a.ai_generated, (a.metadata -> 'stand_in') IS NOT NULL AS stand_in,
                   a.updated_at, a.deleted_at
            FROM articles a LEFT JOIN niches n ON n.id = a.niche_id
            WHERE a.tenant_id = %(t)s AND (%(del)s OR a.deleted_at IS NULL)
              AND (%(status)s::text IS NULL OR a.status::text = %(status)s)
              AND (%(niche)s::text IS NULL OR n.slug = %(niche)s)
              AND (%(after_ts)s::timestamptz IS NULL OR (a.updated_at, a.id) < (%(after_ts)s, %(after_id)s::uuid))
            ORDER BY a.updated_at DESC, a.id DESC LIMIT %(limit)s""",
            {"t": principal.tenant.id, "del": include_deleted, "status": status, "niche": niche, "limit": limit + 1,
             "after_ts": after[0] if after else None, "after_id": after[1] if after else None})
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode_cursor(rows[-1]["updated_at"], rows[-1]["id"]) if more and rows else None
    return cached_json(request, {"items": rows, "next_cursor": nxt})


@router.get("/articles/search", summary="Search: text (full-text), semantic (vectors) or hybrid",
            responses=problem_doc(401, 403, 404, 422, 429))
def search(request: Request, q: str = Query(min_length=1, max_length=500),
           mode: Literal["text", "semantic", "hybrid"] = "hybrid", niche: str | None = Query(None, max_length=63),
           limit: int = Query(10, ge=1, le=50), principal: Principal = Depends(need("articles:read"))):
    from allixios.editorial.search import search_articles

    with connect() as conn:
        hits = search_articles(conn, principal.tenant, q, mode=mode, niche=niche, limit=limit)
    return cached_json(request, {"items": [vars(h) for h in hits], "mode": mode})


def _article_body(conn, principal: Principal, article_id: str) -> tuple[dict, str]:
    from allixios.content import judge

    data = ed.show_article(conn, principal.tenant, article_id, with_body=True)  # one statement
    content_hash = data.pop("content_hash")
    # {"writer": "offline", "model": ..., "version": n} while the text is a stand-in's placeholder, else null
    # (data["stand_in"]); the optional LLM judge's verdict (scores + reasons), or why there is none
    data["judge"] = dict(data["judge"] or judge.not_configured(), line=judge.summary_line(data["judge"]))
    return data, _etag(data["current_version"], content_hash)


@router.get("/articles/{article_id}", summary="One article with body, scores, lock and recent changes",
            responses=problem_doc(401, 403, 404, 429))
def get_article(request: Request, article_id: str):
    with authenticated(request, "articles:read", read_only=True) as (conn, principal):  # one connection, one statement
        data, etag = _article_body(conn, principal, _id(article_id))
    headers = {"ETag": etag, "Cache-Control": PRIVATE, "Vary": "Authorization, X-API-Key"}
    inm = request.headers.get("if-none-match")
    if inm and etag in [t.strip().removeprefix("W/") for t in inm.split(",")]:
        from fastapi.responses import Response

        return Response(status_code=304, headers=headers)
    return json_response(data, cache=PRIVATE, headers=headers)


class ArticleFields(Strict):
    title: str | None = Field(None, min_length=1, max_length=300)
    content: str | None = Field(None, max_length=200_000, description="Markdown body")
    slug: str | None = Field(None, max_length=120, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
    meta_title: str | None = Field(None, max_length=300)
    meta_description: str | None = Field(None, max_length=1000)
    excerpt: str | None = Field(None, max_length=1000)
    tags: list[str] | None = Field(None, max_length=10)
    primary_keyphrase: str | None = Field(None, max_length=200)


class ArticleCreate(ArticleFields):
    title: str = Field(min_length=1, max_length=300)
    content: str = Field(min_length=1, max_length=200_000)
    niche: str | None = Field(None, max_length=63)


@router.post("/articles", status_code=201, summary="Create a human-written article (scored, versioned, not AI)",
             responses=problem_doc(401, 403, 409, 413, 422, 429))
def create(request: Request, body: ArticleCreate, principal: Principal = Depends(need("articles:write"))):
    from allixios.editorial.authoring import create_article
    from allixios.tenants import list_niches

    key = idempotency.key_of(request)
    with connect() as conn:
        replay = idempotency.begin(conn, principal, request, key,
                                   idempotency.request_hash(request, body.model_dump(mode="json")))
        if replay is not None:
            return replay
        niche = None
        if body.niche:
            niche = next((n for n in list_niches(conn, principal.tenant) if n.slug == body.niche), None)
            if niche is None:
                raise ApiProblem("VALIDATION_ERROR", f"niche {body.niche!r} is not an active niche of this tenant",
                                 fix="use a niche from `allixios niches list`, or leave niche out")
        fields = body.model_dump(exclude={"niche"}, exclude_none=True)
        article_id = create_article(conn, principal.tenant, niche, fields, actor=principal.actor)
        data, etag = _article_body(conn, principal, str(article_id))
        response = json_response(data, 201, headers={"Location": f"/v1/articles/{article_id}", "ETag": etag})
        return idempotency.finish(conn, principal, key, response)


def _change(result: ed.ChangeResult) -> dict:
    return {"article_id": str(result.article_id), "action": result.action, "before_version": result.before_version,
            "after_version": result.after_version, "changed": result.changed, "details": result.details}


@router.patch("/articles/{article_id}", summary="Update fields; If-Match (the ETag) makes it compare-and-swap",
              responses=problem_doc(401, 403, 404, 409, 412, 422, 428, 429))
def update(request: Request, article_id: str, body: ArticleFields,
           principal: Principal = Depends(need("articles:write"))):
    from allixios.errors import ConflictError

    aid = _id(article_id)
    fields = body.model_dump(exclude_none=True)
    if not fields:
        raise ApiProblem("VALIDATION_ERROR", "nothing to change", fix="send at least one field")
    if "content" in fields:
        from allixios.content.markup import sanitize_markdown

        fields["content"] = sanitize_markdown(fields["content"])
    with connect() as conn:
        ed.resolve_article(conn, principal.tenant, aid)  # 404 before 428 for ids of other tenants
        expected = version_from_if_match(request)
        content = fields.pop("content", None)
        if content is None:
            content = ed.current_fields(conn, uuid.UUID(aid))["content"]
        try:
            result = ed.edit_article(conn, principal.tenant, aid, ed.EditInput(content, fields),
                                     actor=principal.actor, expected_version=expected)
        except ConflictError as exc:
            if "version" in exc.message:
                raise ApiProblem("PRECONDITION_FAILED", exc.message) from None
            raise
        data, etag = _article_body(conn, principal, aid)
    return json_response({**_change(result), "article": data}, headers={"ETag": etag})


@router.get("/articles/{article_id}/versions", summary="Every version, oldest first",
            responses=problem_doc(401, 403, 404, 429))
def versions(request: Request, article_id: str, principal: Principal = Depends(need("articles:read"))):
    from allixios.editorial.history import list_versions

    with connect() as conn:
        return cached_json(request, {"items": list_versions(conn, principal.tenant, _id(article_id))})


@router.get("/articles/{article_id}/diff", summary="Unified body diff and changed fields between two versions",
            responses=problem_doc(401, 403, 404, 422, 429))
def diff(request: Request, article_id: str, from_version: int = Query(alias="from", ge=1, le=1_000_000),
         to_version: int = Query(alias="to", ge=1, le=1_000_000), principal: Principal = Depends(need("articles:read"))):
    from allixios.editorial.history import diff_versions

    with connect() as conn:
        d = diff_versions(conn, principal.tenant, _id(article_id), from_version, to_version)
    return cached_json(request, {"from": d.from_version, "to": d.to_version, "changed_fields": d.changed_fields,
                                 "body_diff": d.body_diff, "identical": d.identical})


class RevertIn(Strict):
    version: int = Field(ge=1, le=1_000_000)


@router.post("/articles/{article_id}/revert", summary="A new version equal to an old one (If-Match optional)",
             responses=problem_doc(401, 403, 404, 409, 412, 422, 429))
def revert(request: Request, article_id: str, body: RevertIn, principal: Principal = Depends(need("articles:write"))):
    from allixios.editorial.history import revert_article

    aid = _id(article_id)
    with connect() as conn:
        ed.resolve_article(conn, principal.tenant, aid)
        result = revert_article(conn, principal.tenant, aid, body.version, actor=principal.actor,
                                expected_version=version_from_if_match(request, required=False))
    return json_response(_change(result))


class LockIn(Strict):
    ttl_minutes: int = Field(30, ge=1, le=7 * 24 * 60)


class UnlockIn(Strict):
    force: bool = False


@router.post("/articles/{article_id}/lock", summary="Take (or extend) the edit lock",
             responses=problem_doc(401, 403, 404, 409, 422, 429))
def lock(article_id: str, body: LockIn | None = None, principal: Principal = Depends(need("articles:lock"))):
    from allixios.editorial.locks import acquire_lock

    body = body or LockIn()
    with connect() as conn:
        article = ed.resolve_article(conn, principal.tenant, _id(article_id))
        held = acquire_lock(conn, principal.tenant.id, article.id, principal.actor, timedelta(minutes=body.ttl_minutes))
    return json_response({"article_id": str(held.article_id), "locked_by": held.locked_by,
                          "locked_at": held.locked_at, "expires_at": held.expires_at})


@router.post("/articles/{article_id}/unlock", summary="Release the lock (force: owner/admin break another's)",
             responses=problem_doc(401, 403, 404, 409, 422, 429))
def unlock(article_id: str, body: UnlockIn | None = None, principal: Principal = Depends(need("articles:lock"))):
    from allixios.editorial.locks import release_lock

    body = body or UnlockIn()
    if body.force:
        principal.require("articles:force_unlock")
    with connect() as conn:
        article = ed.resolve_article(conn, principal.tenant, _id(article_id))
        released = release_lock(conn, principal.tenant.id, article.id, principal.actor, force=body.force)
    return json_response({"article_id": str(released.article_id), "released_from": released.locked_by})


@router.delete("/articles/{article_id}", summary="Soft delete (history stays; restore undoes it)",
               responses=problem_doc(401, 403, 404, 409, 429))
def delete(article_id: str, principal: Principal = Depends(need("articles:delete"))):
    with connect() as conn:
        return json_response(_change(ed.delete_article(conn, principal.tenant, _id(article_id), actor=principal.actor)))


@router.post("/articles/{article_id}/restore", summary="Undo a soft delete",
             responses=problem_doc(401, 403, 404, 409, 429))
def restore(article_id: str, principal: Principal = Depends(need("articles:delete"))):
    with connect() as conn:
        return json_response(_change(ed.restore_article(conn, principal.tenant, _id(article_id), actor=principal.actor)))


@router.get("/articles/{article_id}/seo", summary="SEO and readability assessments with suggestions",
            responses=problem_doc(401, 403, 404, 422, 429))
def seo(request: Request, article_id: str, version: int | None = Query(None, ge=1, le=1_000_000),
        principal: Principal = Depends(need("articles:read"))):
    from allixios.editorial.analysis import analyze_article

    with connect() as conn:
        return cached_json(request, analyze_article(conn, principal.tenant, _id(article_id), version))


@router.get("/articles/{article_id}/collaborators",
            summary="Who edited, locked, reviewed or published the article (versions, locks, audit log)",
            responses=problem_doc(401, 403, 404, 429))
def collaborators(request: Request, article_id: str, principal: Principal = Depends(need("articles:read"))):
    with connect() as conn:
        article = ed.resolve_article(conn, principal.tenant, _id(article_id))
        rows = fetch_dicts(conn, """
            SELECT actor, array_agg(DISTINCT role ORDER BY role) AS roles, count(*) AS actions,
                   min(at) AS first_at, max(at) AS last_at FROM (
              SELECT created_by AS actor, CASE reason WHEN 'published' THEN 'published' WHEN 'generated' THEN 'generated'
                     ELSE 'edited' END AS role, created_at AS at FROM article_versions WHERE article_id = %(a)s
              UNION ALL
              SELECT actor, CASE WHEN action LIKE 'article.lock%%' OR action = 'article.unlock' THEN 'locked'
                                 WHEN action LIKE '%%review%%' OR action LIKE '%%score%%' THEN 'reviewed'
                                 WHEN action LIKE '%%publish%%' THEN 'published' ELSE 'edited' END, created_at
              FROM audit_log WHERE tenant_id = %(t)s AND entity_type = 'article' AND entity_id = %(s)s
              UNION ALL
              SELECT locked_by, 'locked', locked_at FROM edit_locks WHERE article_id = %(a)s
            ) c WHERE actor IS NOT NULL GROUP BY actor ORDER BY min(at)""",
            {"a": article.id, "t": principal.tenant.id, "s": str(article.id)})
    return cached_json(request, {"article_id": str(article.id), "items": rows})



publishing = APIRouter(tags=["articles"])


@publishing.post("/articles/{article_id}/publish", summary="Make the latest version live (if it meets the bars)",
                 responses=problem_doc(401, 403, 404, 409, 412, 422, 429))
def publish(request: Request, article_id: str, principal: Principal = Depends(need("articles:publish"))):
    from allixios.editorial.publish import publish_article

    aid = _id(article_id)
    with connect() as conn:
        ed.resolve_article(conn, principal.tenant, aid)
        result = publish_article(conn, principal.tenant, aid, actor=principal.actor,
                                 expected_version=version_from_if_match(request, required=False))
    return json_response(_change(result))


@publishing.post("/articles/{article_id}/unpublish", summary="Take the article down (the site answers 410)",
                 responses=problem_doc(401, 403, 404, 409, 429))
def unpublish(article_id: str, principal: Principal = Depends(need("articles:publish"))):
    from allixios.editorial.publish import unpublish_article

    with connect() as conn:
        return json_response(_change(unpublish_article(conn, principal.tenant, _id(article_id), actor=principal.actor)))
