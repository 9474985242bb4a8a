"""The AI-management interface: models, providers with health and circuits, budget, usage, estimates."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from allixios.api.auth import Principal, need
from allixios.api.problems import ApiProblem, problem_doc
from allixios.api.routes._models import Strict
from allixios.api.routes.content import TopicIn, _catalogue
from allixios.api.web import cached_json, json_response, time_range
from allixios.automation.content_requests import MAX_TOPICS, TopicRequest, build_plan, gather_inputs
from allixios.db.engine import connect, fetch_dicts

router = APIRouter(tags=["ai"])


@router.get("/ai/models", summary="The model catalogue: deployments per task, prices, priors, key status",
            responses=problem_doc(401, 403, 429, 500))
def models(request: Request, principal: Principal = Depends(need("ai:read"))):
    from allixios.ai.costs import price_of
    from allixios.errors import ConfigError

    items = []
    for d in _catalogue().all_deployments():
        try:
            p = price_of(d)
            price = {"input_per_mtok": round(p.input_per_token * 1e6, 6), "output_per_mtok": round(p.output_per_token * 1e6, 6),
                     "source": p.source}
        except ConfigError:
            price = None
        items.append({"id": d.id, "task": d.alias, "model": d.model, "provider": d.provider, "stand_in": d.stand_in,
                      "price": price, "quality_prior": d.quality_prior, "typical_latency_ms": d.typical_latency_ms,
                      "rpm": d.rpm, "tpm": d.tpm, "key": d.key_status()})
    return cached_json(request, {"items": items})


@router.get("/ai/providers", summary="Per deployment: circuit state and the last hour's success rate and latency",
            responses=problem_doc(401, 403, 429))
def providers(request: Request, principal: Principal = Depends(need("ai:read"))):
    from allixios.ai import circuit

    catalogue = _catalogue()
    with connect() as conn:
        circuits = circuit.states(conn)
        stats = {r["deployment_id"]: r for r in fetch_dicts(conn, """
            SELECT deployment_id, count(*) AS calls, count(*) FILTER (WHERE status = 'success') AS ok,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50_ms
            FROM ai_usage WHERE created_at > now() - interval '1 hour' AND tenant_id = %s GROUP BY 1""",
            (principal.tenant.id,))}
    items = []
    for d in catalogue.all_deployments():
        c = circuits.get(d.id) or {}
        s = stats.get(d.id) or {}
        items.append({"deployment": d.id, "provider": d.provider, "stand_in": d.stand_in,
                      "circuit": c.get("state", "closed"), "consecutive_failures": c.get("consecutive_failures", 0),
                      "last_error_class": c.get("last_error_class"), "calls_1h": s.get("calls", 0),
                      "success_rate_1h": round(s["ok"] / s["calls"], 4) if s.get("calls") else None,
                      "latency_p50_ms": s.get("p50_ms"), "available": d.available})
    return cached_json(request, {"items": items})


@router.get("/ai/budget", summary="The tenant's AI budgets: limit, spent, reserved, remaining",
            responses=problem_doc(401, 403, 429))
def budget(request: Request, principal: Principal = Depends(need("ai:read"))):
    from allixios.ai.budgets import budget_status

    with connect() as conn:
        rows = budget_status(conn, principal.tenant.id)
    return cached_json(request, {"items": [{"period": b.period, "limit_usd": b.limit_usd, "spent_usd": b.spent_usd,
                                            "reserved_usd": b.reserved_usd, "remaining_usd": b.remaining_usd}
                                           for b in rows]})


@router.get("/ai/usage", summary="AI calls, tokens and cost by task and deployment over a time range",
            responses=problem_doc(401, 403, 422, 429))
def usage(request: Request, since: datetime | None = Query(None), until: datetime | None = Query(None),
          principal: Principal = Depends(need("ai:read"))):
    since, until = time_range(since, until)
    with connect() as conn:
        rows = fetch_dicts(conn, """
            SELECT task, deployment_id, provider, count(*) AS calls, count(*) FILTER (WHERE status = 'success') AS ok,
                   sum(tokens_in)::bigint AS tokens_in, sum(tokens_out)::bigint AS tokens_out,
                   sum(cost_usd)::float AS cost_usd
            FROM ai_usage WHERE tenant_id = %s AND created_at >= %s AND created_at < %s
            GROUP BY 1, 2, 3 ORDER BY 1, 2""", (principal.tenant.id, since, until))
    return cached_json(request, {"since": since, "until": until, "items": rows})


class EstimateIn(Strict):
    topics: list[TopicIn] = Field(min_length=1, max_length=MAX_TOPICS)
    niche: str = Field(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9_]*$")
    max_cost_usd: float | None = Field(None, gt=0, le=10_000)


@router.post("/ai/estimate", summary="The ExecutionPlan a content request would get, without recording anything",
             responses=problem_doc(401, 403, 422, 429, 503))
def estimate(request: Request, body: EstimateIn, principal: Principal = Depends(need("ai:read"))):
    import uuid

    from allixios.tenants import list_niches

    catalogue = _catalogue()
    with connect() as conn:
        niche = next((n for n in list_niches(conn, principal.tenant) if n.slug == body.niche), None)
        if niche is None:
            raise ApiProblem("VALIDATION_ERROR", f"niche {body.niche!r} is not an active niche of this tenant",
                             fix="use a niche from `allixios niches list`")
        inputs = gather_inputs(conn, principal.tenant, niche, catalogue)
    plan = build_plan(uuid.uuid4(), [TopicRequest(t.title, t.keyphrase, tuple(t.keywords)) for t in body.topics],
                      inputs, catalogue, max_cost_usd=body.max_cost_usd)
    return json_response({"estimate": plan.as_json()})


# -- provider management (issue 17): switches, failover order, circuits ------------------------------
# Overrides written here are the caller's tenant's own (they route only its calls); the operator's
# global ones come from `allixios ai switch` / `allixios ai failover`. Circuits are shared by every
# tenant, so they are readable here and reset only by the operator (`allixios ai circuit reset`).

class SwitchIn(Strict):
    from_deployment: str = Field(min_length=1, max_length=200, alias="from")
    to: str = Field(min_length=1, max_length=200)
    reason: str | None = Field(None, max_length=500)


class FailoverIn(Strict):
    order: list[str] = Field(min_length=1, max_length=50)
    reason: str | None = Field(None, max_length=500)


@router.get("/ai/routing", summary="Stored routing overrides in force for this tenant (drains, failover orders)",
            responses=problem_doc(401, 403, 429))
def routing(request: Request, principal: Principal = Depends(need("ai:read"))):
    from allixios.ai import overrides

    with connect() as conn:
        rows = overrides.list_overrides(conn, principal.tenant.id)
    return cached_json(request, {"items": [{**r, "scope": "tenant" if r["tenant"] else "global"} for r in rows]})


@router.get("/ai/circuits", summary="Circuit breaker of every deployment", responses=problem_doc(401, 403, 429))
def circuits(request: Request, principal: Principal = Depends(need("ai:read"))):
    from allixios.ai import circuit

    with connect() as conn:
        states = circuit.states(conn)
    return cached_json(request, {"items": [
        {"deployment": d.id, "state": states.get(d.id, {}).get("state", "closed"),
         "consecutive_failures": states.get(d.id, {}).get("consecutive_failures", 0),
         "opened_at": states.get(d.id, {}).get("opened_at"), "last_error_class": states.get(d.id, {}).get("last_error_class")}
        for d in _catalogue().all_deployments()]})


@router.post("/ai/switch", summary="switchProvider: drain a deployment to another for this tenant (audited)",
             responses=problem_doc(401, 403, 422, 429))
def switch(body: SwitchIn, principal: Principal = Depends(need("ai:manage"))):
    from allixios.ai import overrides

    with connect() as conn:
        out = overrides.switch(conn, _catalogue(), body.from_deployment, body.to, actor=principal.actor,
                               tenant_id=principal.tenant.id, reason=body.reason)
    return json_response(out)


@router.delete("/ai/switch/{deployment}", summary="Undo a switch: the deployment takes this tenant's traffic again",
               responses=problem_doc(401, 403, 404, 429))
def undo_switch(deployment: str, principal: Principal = Depends(need("ai:manage"))):
    from allixios.ai import overrides

    with connect() as conn:
        if not overrides.undo_switch(conn, deployment, actor=principal.actor, tenant_id=principal.tenant.id):
            raise ApiProblem("RESOURCE_NOT_FOUND", f"{deployment} is not drained for this tenant", fix="see GET /ai/routing")
    return json_response({"deployment": deployment, "drained": False})


@router.put("/ai/failover/{alias}", summary="configureFailover: store the order an alias' deployments are tried in",
            responses=problem_doc(401, 403, 422, 429))
def failover_set(alias: str, body: FailoverIn, principal: Principal = Depends(need("ai:manage"))):
    from allixios.ai import overrides

    with connect() as conn:
        order = overrides.set_failover(conn, _catalogue(), alias, body.order, actor=principal.actor,
                                       tenant_id=principal.tenant.id, reason=body.reason)
    return json_response({"alias": alias, "order": order})


@router.delete("/ai/failover/{alias}", summary="Drop this tenant's stored failover order",
               responses=problem_doc(401, 403, 404, 429))
def failover_clear(alias: str, principal: Principal = Depends(need("ai:manage"))):
    from allixios.ai import overrides

    with connect() as conn:
        if not overrides.clear_failover(conn, alias, actor=principal.actor, tenant_id=principal.tenant.id):
            raise ApiProblem("RESOURCE_NOT_FOUND", f"{alias} has no stored failover order for this tenant", fix="see GET /ai/routing")
    return json_response({"alias": alias, "order": None})
