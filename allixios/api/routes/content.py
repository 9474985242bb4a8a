"""The orchestrator interface: content requests with their ExecutionPlan, executions, cancel."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import Field, field_validator

from allixios.api import idempotency
from allixios.api.auth import Principal, authenticated, need
from allixios.api.problems import ApiProblem, problem_doc
from allixios.api.routes._models import Strict
from allixios.api.web import cached_json, json_response
from allixios.automation.content_requests import MAX_TOPICS, PlanInputsCache, TopicRequest, create_request
from allixios.db.engine import connect

router = APIRouter(tags=["orchestrator"])


class TopicIn(Strict):
    title: str = Field(min_length=1, max_length=300)
    keyphrase: str | None = Field(None, max_length=200)
    keywords: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("keywords")
    @classmethod
    def _short(cls, v: list[str]) -> list[str]:
        if any(len(k) > 100 for k in v):
            raise ValueError("each keyword must be at most 100 characters")
        return v


class Constraints(Strict):
    max_cost_usd: float | None = Field(None, gt=0, le=10_000)
    max_duration_s: int | None = Field(None, gt=0, le=90 * 86400)
    deadline: datetime | None = None

    @field_validator("deadline")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("deadline needs a time zone (e.g. 2026-12-24T12:00:00Z)")
        return v


class Callback(Strict):
    url: str = Field(min_length=8, max_length=2000)
    secret: str = Field(min_length=16, max_length=200, description="HMAC-SHA256 key for the Allixios-Signature header")


class ContentRequestIn(Strict):
    topics: list[TopicIn] = Field(min_length=1, max_length=MAX_TOPICS)
    niche: str = Field(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9_]*$")
    priority: int = Field(90, ge=0, le=100, description="backlog priority; the daily backlog uses 50")
    constraints: Constraints = Field(default_factory=Constraints)
    callback: Callback | None = None


_catalogue_cache: dict = {}
# history inputs of plans, read at most once a second per niche in this worker (see PlanInputsCache)
plan_inputs = PlanInputsCache(ttl_s=1.0)


def _catalogue():
    """The model catalogue, re-read only when its file changes (not parsed on every request)."""
    from allixios.ai.catalogue import catalogue_path, load_catalogue

    path = catalogue_path()
    try:
        stamp = (str(path), path.stat().st_mtime_ns)
    except OSError:
        return load_catalogue()  # says what is wrong with the path
    cached = _catalogue_cache.get("entry")
    if cached is None or cached[0] != stamp:
        cached = (stamp, load_catalogue(path))
        _catalogue_cache["entry"] = cached
    return cached[1]


@router.post("/content-requests", status_code=202, summary="Plan articles for topics; answers the ExecutionPlan",
             responses=problem_doc(401, 403, 409, 413, 422, 429, 503))
def create_content_request(request: Request, body: ContentRequestIn):
    from allixios.api.callbacks import check_callback_url
    from allixios.identity import pii
    from allixios.tenants import list_niches

    # authentication and the plan on one connection; the plan's transaction commits (synchronously)
    # when the block ends, so the 202 is only sent for a request that survived the commit
    with authenticated(request, "content:request") as (conn, principal):
        key = idempotency.key_of(request)
        digest = idempotency.request_hash(request, body.model_dump(mode="json"))
        replay = idempotency.begin(conn, principal, request, key, digest)
        if replay is not None:
            return replay
        niche = next((n for n in list_niches(conn, principal.tenant) if n.slug == body.niche), None)
        if niche is None:
            raise ApiProblem("VALIDATION_ERROR", f"niche {body.niche!r} is not an active niche of this tenant",
                             fix="use a niche from `allixios niches list` (or add it)")
        callback_url = secret_enc = None
        plan_id_for_secret = None
        if body.callback is not None:
            callback_url = check_callback_url(principal.tenant, body.callback.url)
        plan = create_request(
            conn, principal.tenant, niche,
            [TopicRequest(t.title, t.keyphrase, tuple(t.keywords)) for t in body.topics],
            catalogue=_catalogue(), priority=body.priority, actor=principal.actor,
            max_cost_usd=body.constraints.max_cost_usd, max_duration_s=body.constraints.max_duration_s,
            deadline=body.constraints.deadline, callback_url=callback_url, callback_secret_enc=None,
            inputs_cache=plan_inputs)
        if body.callback is not None:
            plan_id_for_secret = str(plan.id).encode()
            secret_enc = pii.encrypt(body.callback.secret, plan_id_for_secret)
            conn.execute("UPDATE content_requests SET callback_secret_enc = %s WHERE id = %s", (secret_enc, plan.id))
        response = json_response({"execution_plan": plan.as_json(), "execution_url": f"/v1/executions/{plan.id}"},
                                 202, headers={"Location": f"/v1/executions/{plan.id}"})
        return idempotency.finish(conn, principal, key, response)


def _request_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ApiProblem("RESOURCE_NOT_FOUND", f"no execution {value[:60]!r}",
                         fix="use the id returned by POST /v1/content-requests") from None


def _run_statuses(request: Request, conn, rid: uuid.UUID, tenant_id) -> dict:
    row = conn.execute("SELECT runs FROM content_requests WHERE id = %s AND tenant_id = %s", (rid, tenant_id)).fetchone()
    if not row or not row[0]:
        return {}
    launcher = request.app.state.launcher
    out = {}
    for run_id in set(row[0].values()):
        try:
            out[run_id] = launcher.status(run_id)
        except Exception:  # Dagster unreachable: the table's view is still answered
            out[run_id] = None
    return out


@router.get("/executions/{execution_id}", summary="Status, progress, tokens, cost, duration and errors",
            responses=problem_doc(401, 403, 404, 429))
def get_execution(request: Request, execution_id: str, principal: Principal = Depends(need("executions:read"))):
    from allixios.automation.request_status import execution_state

    rid = _request_id(execution_id)
    with connect() as conn:
        statuses = _run_statuses(request, conn, rid, principal.tenant.id)
        state = execution_state(conn, principal.tenant.id, rid, statuses)
    return cached_json(request, state)


@router.post("/executions/{execution_id}/cancel", summary="Cancel: terminate its runs, return unstarted topics",
             responses=problem_doc(401, 403, 404, 409, 429))
def cancel_execution(request: Request, execution_id: str, principal: Principal = Depends(need("executions:cancel"))):
    from allixios.automation.request_status import execution_state
    from allixios.editorial.audit import record_audit

    rid = _request_id(execution_id)
    with connect() as conn:
        row = conn.execute("SELECT status, runs, topic_ids, plan FROM content_requests WHERE id = %s AND tenant_id = %s "
                           "FOR UPDATE", (rid, principal.tenant.id)).fetchone()
        if row is None:
            raise ApiProblem("RESOURCE_NOT_FOUND", f"no execution {rid}", fix="check the id")
        status, runs, topic_ids, plan = row
        if status in ("completed", "failed"):
            raise ApiProblem("CONFLICT", f"the execution is already {status}", fix="nothing to cancel")
        terminated = []
        if status != "cancelled":
            # unstarted topics go back to the backlog at its normal priority; allocations are freed
            returned = conn.execute(
                """UPDATE topics SET priority = 50, updated_at = now() WHERE id = ANY(%s) AND status = 'pending'
                   RETURNING id""", (topic_ids,)).fetchall()
            for a in plan.get("assignments", []):
                conn.execute("UPDATE content_allocations SET topics = greatest(topics - 1, 0) WHERE niche_id = "
                             "(SELECT niche_id FROM content_requests WHERE id = %s) AND day = %s", (rid, a["date"]))
            for run_id in sorted(set((runs or {}).values())):
                shared = conn.execute("""SELECT 1 FROM content_requests WHERE id <> %s AND status = 'launched'
                                         AND %s = ANY(run_ids) LIMIT 1""", (rid, run_id)).fetchone()
                if shared is None:
                    request.app.state.launcher.cancel(run_id)
                    terminated.append(run_id)
            conn.execute("UPDATE content_requests SET status = 'cancelled', updated_at = now() WHERE id = %s", (rid,))
            record_audit(conn, tenant_id=principal.tenant.id, actor=principal.actor, action="content_request.cancel",
                         entity_type="content_request", entity_id=rid,
                         details={"terminated_runs": terminated, "topics_returned": len(returned)})
        state = execution_state(conn, principal.tenant.id, rid)
    return json_response({**state, "terminated_runs": terminated})
