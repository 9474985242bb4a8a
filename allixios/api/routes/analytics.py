"""The analytics interface: KPIs and per-article performance from the dbt marts, caller's tenant only."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg
from fastapi import APIRouter, Depends, Query, Request

from allixios.api.auth import Principal, need
from allixios.api.problems import ApiProblem, problem_doc
from allixios.api.web import cached_json
from allixios.db.engine import connect, fetch_dicts

router = APIRouter(tags=["analytics"])


def _marts_missing() -> ApiProblem:
    return ApiProblem("RESOURCE_NOT_FOUND", "the analytics marts are not built yet",
                      fix="an operator builds them (the analytics job, `make run`)")


@router.get("/analytics/kpis", summary="Revenue KPIs for a day: totals, trend, top/bottom articles, ROI, drops",
            responses=problem_doc(401, 403, 404, 422, 429))
def kpis(request: Request, day: date | None = Query(None), principal: Principal = Depends(need("analytics:read"))):
    from allixios.analytics.kpis import revenue_kpis

    day = day or datetime.now(UTC).date()
    if not date(2000, 1, 1) <= day <= date(2100, 1, 1):
        raise ApiProblem("VALIDATION_ERROR", f"day {day} is out of range", fix="use a day between 2000 and 2100")
    try:
        with connect() as conn:
            data = revenue_kpis(conn, day, principal.tenant.id)
    except psycopg.errors.UndefinedTable:
        raise _marts_missing() from None
    return cached_json(request, data)


@router.get("/analytics/articles/{article_id}/performance", summary="Daily views, engagement and revenue of one article",
            responses=problem_doc(401, 403, 404, 422, 429))
def article_performance(request: Request, article_id: str, days: int = Query(30, ge=1, le=365),
                        principal: Principal = Depends(need("analytics:read"))):
    from allixios.editorial.articles import resolve_article

    try:
        uuid.UUID(article_id)
    except ValueError:
        raise ApiProblem("RESOURCE_NOT_FOUND", f"no article {article_id[:60]!r}", fix="use the article's id") from None
    start = datetime.now(UTC).date() - timedelta(days=days - 1)
    try:
        with connect() as conn:
            article = resolve_article(conn, principal.tenant, article_id)
            rows = fetch_dicts(conn, """SELECT * FROM marts.fct_article_daily_performance
                                        WHERE tenant_id = %s AND article_id = %s AND day >= %s ORDER BY day""",
                               (principal.tenant.id, article.id, start))
    except psycopg.errors.UndefinedTable:
        raise _marts_missing() from None
    for r in rows:
        r.pop("tenant_id", None)
    return cached_json(request, {"article_id": str(article.id), "slug": article.slug, "days": rows})
