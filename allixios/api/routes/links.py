"""Internal links over HTTP: the suggestions of a niche and accepting one (a new version of the source).

The tenant is the credential's: both articles are resolved through it, so an article of another
tenant answers 404 exactly like an unknown one. Accepting is an edit of the source, hence
`articles:write`; it is lock-aware and idempotent (see `allixios.content.link_apply`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from allixios.api.auth import Principal, need
from allixios.api.problems import ApiProblem, problem_doc
from allixios.api.routes._models import Strict
from allixios.api.web import cached_json, json_response
from allixios.db.engine import connect

router = APIRouter(tags=["articles"])


@router.get("/links/suggestions", summary="Internal-link suggestions of the tenant's niches (anchor, reason)",
            responses=problem_doc(401, 403, 404, 422, 429))
def suggestions(request: Request, niche: str | None = Query(None, max_length=63),
                per_article: int = Query(3, ge=1, le=20), principal: Principal = Depends(need("articles:read"))):
    from allixios.content.internal_links import link_report
    from allixios.publishing.config import site_host
    from allixios.tenants import list_niches

    with connect() as conn:
        niches = [n for n in list_niches(conn, principal.tenant) if niche is None or n.slug == niche]
        if niche and not niches:
            raise ApiProblem("RESOURCE_NOT_FOUND", f"no niche {niche!r}", fix="use a niche of this tenant")
        items = [s | {"niche": n.slug} for n in niches
                 for s in link_report(conn, principal.tenant.id, n.id, per_article=per_article,
                                         site_host=site_host(conn, principal.tenant))["link_suggestions"]]
    return cached_json(request, {"items": items})


class AcceptIn(Strict):
    source: str = Field(min_length=1, max_length=300, description="source article id or slug (gets the link)")
    target: str = Field(min_length=1, max_length=300, description="target article id or slug (the link points here)")
    anchor: str | None = Field(None, min_length=1, max_length=200, description="words of the source; default: "
                               "the suggestion's anchor")


@router.post("/links/accept", summary="Accept a suggestion: the link goes into the source as a new version",
             responses=problem_doc(401, 403, 404, 409, 422, 429))
def accept(body: AcceptIn, principal: Principal = Depends(need("articles:write"))):
    from allixios.content.link_apply import apply_link

    with connect() as conn:
        res = apply_link(conn, principal.tenant, body.source, body.target, actor=principal.actor, anchor=body.anchor)
    return json_response(res)
