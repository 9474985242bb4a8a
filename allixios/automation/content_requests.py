"""Content requests and their ExecutionPlan (the seed's Content Orchestrator `createExecutionPlan`).

A request asks for articles on given topics in one niche. The plan says, per topic, which day x
niche partition will draft it and with which model (the selector's choice for the writer task),
what it is expected to cost (catalogue price x expected tokens) and when it will run:

* **quota** - the niche writes at most `daily_quota` articles a day; content requests take the
  first days with room (`content_allocations`, shared with the daily backlog's selected topics);
* **budget** - if the tenant's daily AI budget cannot cover the day's share, that share moves on;
* **pool** - when the `llm` pool is busy, today's start is delayed by the queue ahead of it.

`build_plan` is pure (unit-tested with known prices and history); `create_request` gathers its
inputs from the database, records the request, its backlog topics (priority above the daily
backlog) and the day allocations in one transaction. Runs are launched later by the API's
dispatcher (one run per partition, coalesced), never here.
"""

from __future__ import annotations

import functools
import statistics
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from allixios.ai.catalogue import Catalogue
from allixios.ai.selection import NoModelAvailableError, rank
from allixios.content.drafting import DraftBrief, build_draft_messages
from allixios.content.topics import TopicInput, add_topics, validate_topic
from allixios.editorial.audit import record_audit
from allixios.errors import BudgetExceededError, ValidationError
from allixios.tenants import Niche, Tenant

MAX_TOPICS = 50
MAX_DAYS_AHEAD = 60
DEFAULT_OUTPUT_TOKENS = 1500
DEFAULT_RUN_SECONDS = 120.0  # no run history yet: a content run of a few topics
JOB_NAME = "content_job"


@dataclass(frozen=True)
class TopicRequest:
    title: str
    keyphrase: str | None = None
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlanInputs:
    """Everything the plan depends on, gathered once (so the plan itself is a pure function)."""

    now: datetime
    niche: Niche
    niche_label: str
    quota_used: dict[date, int]  # day -> topics already selected or promised in the niche
    history: dict[str, tuple[int, float]]  # deployment -> (articles, mean quality)
    unavailable: dict[str, str]  # deployment -> why (open circuits)
    expected_output_tokens: int
    run_seconds: list[float]  # recent content run durations
    per_topic_seconds: float | None  # from history, else from the model's typical latency
    queue_ahead: int  # content runs queued or running now
    pool_limit: int
    budget_left_today: float | None  # USD; None = no daily budget
    budget_daily_limit: float | None


@dataclass
class ExecutionPlan:
    id: UUID
    niche: str
    priority: int
    assignments: list[dict]
    estimated_cost_usd: float
    estimated_duration_s: float
    scheduled_at: datetime
    schedule_reasons: list[str]
    model_selection: dict
    constraints: dict = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id), "niche": self.niche, "priority": self.priority,
            "estimated_cost_usd": round(self.estimated_cost_usd, 8),
            "estimated_duration_s": round(self.estimated_duration_s, 1),
            "scheduled_at": self.scheduled_at.isoformat(),
            "schedule_reason": "; ".join(self.schedule_reasons) or "now: quota, budget and pool allow it",
            "schedule_reasons": self.schedule_reasons,
            "assignments": self.assignments, "model_selection": self.model_selection, "constraints": self.constraints,
        }


def _messages(topic: TopicRequest, niche_label: str) -> list[dict]:
    brief = DraftBrief(title=topic.title, keyphrase=topic.keyphrase or topic.title.lower(),
                       keywords=tuple(topic.keywords), niche=niche_label)
    return build_draft_messages(brief)[0]


def build_plan(plan_id: UUID, topics: list[TopicRequest], inputs: PlanInputs, catalogue: Catalogue, *,
               priority: int = 90, max_cost_usd: float | None = None, max_duration_s: float | None = None,
               deadline: datetime | None = None) -> ExecutionPlan:
    if not topics:
        raise ValidationError("the request has no topics", fix="send 1-50 topics")
    if len(topics) > MAX_TOPICS:
        raise ValidationError(f"the request has {len(topics)} topics", fix=f"send at most {MAX_TOPICS} per request")
    per_topic_cap = max_cost_usd / len(topics) if max_cost_usd is not None else None
    today = inputs.now.date()
    selections = []
    for t in topics:
        messages = _messages(t, inputs.niche_label)
        try:
            selections.append(rank(catalogue, "writer", messages, expected_output_tokens=inputs.expected_output_tokens,
                                   history=inputs.history, max_cost_usd=per_topic_cap, unavailable=inputs.unavailable))
        except NoModelAvailableError:
            if per_topic_cap is None:
                raise
            cheapest = min(c.estimate.expected_usd for c in rank(
                catalogue, "writer", messages, expected_output_tokens=inputs.expected_output_tokens,
                history=inputs.history, unavailable=inputs.unavailable).ranked)
            raise ValidationError(f"the cheapest model's estimate ${cheapest:.6f} per article is over max_cost_usd "
                                  f"${max_cost_usd:.6f} / {len(topics)} topics",
                                  fix="raise max_cost_usd or send fewer topics") from None
    costs = [s.chosen.estimate.expected_usd for s in selections]
    total = sum(costs)
    reasons: list[str] = []
    # ---- days: the niche's quota, then the budget
    quota = inputs.niche.daily_quota
    if quota <= 0:
        raise ValidationError(f"niche {inputs.niche.slug!r} has a daily quota of 0",
                              fix="raise it with `allixios niches add ... --daily-quota N`")
    used = dict(inputs.quota_used)
    days: list[date] = []
    budget_left = inputs.budget_left_today
    if inputs.budget_daily_limit is not None and max(costs) > inputs.budget_daily_limit:
        raise BudgetExceededError(f"one article is estimated at ${max(costs):.4f}, over the daily AI budget of "
                                  f"${inputs.budget_daily_limit:.4f}", fix="raise the budget with `allixios ai budget`")
    day = today
    for cost in costs:
        while True:
            if (day - today).days > MAX_DAYS_AHEAD:
                raise ValidationError(f"the niche's quota is promised for the next {MAX_DAYS_AHEAD} days",
                                      fix="raise the niche's daily quota or send fewer topics")
            if used.get(day, 0) >= quota:
                if day == today and "quota" not in " ".join(reasons):
                    reasons.append(f"quota: {inputs.niche.slug} has used {used.get(day, 0)} of {quota} articles "
                                   f"on {day.isoformat()}")
                day += timedelta(days=1)
                continue
            if day == today and budget_left is not None and cost > budget_left:
                reasons.append(f"budget: ${budget_left:.4f} of today's AI budget left, the next article needs "
                               f"${cost:.4f}")
                day += timedelta(days=1)
                continue
            break
        used[day] = used.get(day, 0) + 1
        if day == today and budget_left is not None:
            budget_left -= cost
        days.append(day)
    # ---- time: history of run durations, the queue ahead and the pool
    run_s = statistics.median(inputs.run_seconds) if inputs.run_seconds else DEFAULT_RUN_SECONDS
    per_topic = inputs.per_topic_seconds or selections[0].chosen.deployment.typical_latency_ms / 1000
    pool = max(1, inputs.pool_limit)
    wait_s = (inputs.queue_ahead / pool) * run_s if inputs.queue_ahead else 0.0
    if inputs.queue_ahead >= pool:
        reasons.append(f"pool: {inputs.queue_ahead} content run(s) ahead for {pool} llm slot(s), "
                       f"about {wait_s:.0f} s of waiting")
    first_day = min(days)
    start = inputs.now + timedelta(seconds=wait_s) if first_day == today else datetime.combine(
        first_day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)  # the daily schedule's hour
    per_day = {d: days.count(d) for d in set(days)}
    work_s = max(run_s, per_topic * max(per_day.values()))
    last_day = max(days)
    finish = (start if last_day == first_day else datetime.combine(
        last_day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)) + timedelta(seconds=work_s)
    duration = (finish - inputs.now).total_seconds()
    if max_cost_usd is not None and total > max_cost_usd:
        raise ValidationError(f"estimated cost ${total:.4f} is over max_cost_usd ${max_cost_usd:.4f}",
                              fix="raise max_cost_usd or send fewer topics")
    if max_duration_s is not None and duration > max_duration_s:
        raise ValidationError(f"estimated duration {duration:.0f} s is over max_duration_s {max_duration_s:.0f} "
                              f"({'; '.join(reasons) or 'run time'})", fix="raise max_duration_s or send fewer topics")
    if deadline is not None and finish > deadline:
        raise ValidationError(f"the plan finishes at {finish.isoformat()}, after the deadline "
                              f"({'; '.join(reasons) or 'run time'})", fix="move the deadline or send fewer topics")
    assignments = []
    for t, sel, d, cost in zip(topics, selections, days, costs, strict=True):
        dep = sel.chosen.deployment
        assignments.append({
            "title": t.title, "keyphrase": t.keyphrase, "date": d.isoformat(), "niche": inputs.niche.slug,
            "partition_key": f"{d.isoformat()}|{inputs.niche.partition_key}", "model": dep.id,
            "provider": dep.provider, "stand_in": dep.stand_in, "tokens_in": sel.chosen.estimate.tokens_in,
            "tokens_out": sel.chosen.estimate.expected_tokens_out, "estimated_cost_usd": round(cost, 8),
        })
    return ExecutionPlan(plan_id, inputs.niche.slug, priority, assignments, total, duration, max(start, inputs.now),
                         reasons, selections[0].as_record(),
                         {"max_cost_usd": max_cost_usd, "max_duration_s": max_duration_s,
                          "deadline": deadline.isoformat() if deadline else None})


# ---- gathering inputs ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _pool_limits() -> tuple[int, int]:
    """(llm pool slots, max concurrent runs) from dagster.yaml (read once per process); defaults when unreadable."""
    import yaml

    from allixios.settings import repo_path

    try:
        data = yaml.safe_load(repo_path("dagster.yaml").read_text()) or {}
        c = data.get("concurrency") or {}
        return int((c.get("pools") or {}).get("default_limit") or 2), int((c.get("runs") or {}).get("max_concurrent_runs") or 4)
    except (OSError, ValueError, yaml.YAMLError):
        return 2, 4


def gather_inputs(conn: psycopg.Connection, tenant: Tenant, niche: Niche, catalogue: Catalogue,
                  now: datetime | None = None) -> PlanInputs:
    from allixios.ai import budgets, circuit
    from allixios.ai.selection import quality_history

    now = now or datetime.now(UTC)
    today = now.date()
    used: dict[date, int] = {}
    for day, n in conn.execute("SELECT day, topics FROM content_allocations WHERE niche_id = %s AND day >= %s",
                               (niche.id, today)):
        used[day] = n
    for day, n in conn.execute("""SELECT partition_date, count(*) FROM topics WHERE niche_id = %s AND partition_date >= %s
                                  AND status IN ('selected', 'drafted') GROUP BY 1""", (niche.id, today)):
        used[day] = max(used.get(day, 0), n)  # allocations already count the request topics that were selected
    deployments = catalogue.deployments("writer")
    history = quality_history(conn, deployments, tenant.id, niche.id)
    blocked = circuit.blocked(conn, catalogue.policy.circuit_cooldown_s)
    unavailable = {d.id: f"circuit {blocked[d.id]}" for d in deployments if d.id in blocked}
    out_row = conn.execute("""SELECT count(*), avg(tokens_out), avg(latency_ms) FROM (
                                SELECT tokens_out, latency_ms FROM ai_usage WHERE tenant_id = %s AND task = 'writer'
                                AND status = 'success' ORDER BY id DESC LIMIT 200) s""", (tenant.id,)).fetchone()
    expected_out = int(out_row[1]) if out_row[0] >= 5 else DEFAULT_OUTPUT_TOKENS
    per_topic = float(out_row[2]) / 1000 if out_row[0] >= 5 else None
    runs = [r[0] / 1000 for r in conn.execute(
        """SELECT duration_ms FROM workflow_executions WHERE workflow_type = 'content_generation'
           AND status = 'completed' AND duration_ms IS NOT NULL AND tenant_id = %s
           ORDER BY completed_at DESC LIMIT 50""", (tenant.id,))]
    queue = conn.execute("""SELECT count(*) FROM workflow_executions WHERE workflow_type = 'content_generation'
                            AND status IN ('queued', 'running')""").fetchone()[0]
    left = limit = None
    for b in budgets.budget_status(conn, tenant.id):
        if b.period == "daily":
            limit = b.limit_usd
            left = max(0.0, b.limit_usd - b.spent_usd - b.reserved_usd)
    pool, _ = _pool_limits()
    return PlanInputs(now, niche, niche.name, used, history, unavailable, expected_out, runs, per_topic, int(queue),
                      pool, left, limit)


# ---- recording -------------------------------------------------------------------------------------


def create_request(conn: psycopg.Connection, tenant: Tenant, niche: Niche, topics: list[TopicRequest], *,
                   catalogue: Catalogue, priority: int, actor: str, max_cost_usd: float | None = None,
                   max_duration_s: float | None = None, deadline: datetime | None = None,
                   callback_url: str | None = None, callback_secret_enc: bytes | None = None) -> ExecutionPlan:
    """Plan and record in the caller's transaction (serialised per niche so two plans cannot share a slot)."""
    checked = [validate_topic(TopicInput(t.title, tuple(t.keywords), t.keyphrase, priority)) for t in topics]
    topics = [TopicRequest(c.title, c.target_keyphrase, c.keywords) for c in checked]
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('allixios.plan'), hashtext(%s))", (str(niche.id),))
    inputs = gather_inputs(conn, tenant, niche, catalogue)
    plan = build_plan(uuid.uuid4(), topics, inputs, catalogue, priority=priority, max_cost_usd=max_cost_usd,
                      max_duration_s=max_duration_s, deadline=deadline)
    existing = {r[0].lower(): r[1] for r in conn.execute(
        "SELECT title, status FROM topics WHERE tenant_id = %s AND niche_id = %s AND lower(btrim(title)) = ANY(%s)",
        (tenant.id, niche.id, [t.title.lower() for t in topics]))}
    taken = [t for t, s in existing.items() if s != "pending"]
    if taken:
        raise ValidationError(f"topic(s) already drafted or selected in this niche: {', '.join(taken[:5])}",
                              fix="send new titles (an existing article is refreshed through its own endpoints)")
    add_topics(conn, niche, checked, source="api", source_ref=f"content_request:{plan.id}")
    # topics already pending in the backlog join the request at its priority
    ids = [r[0] for r in conn.execute(
        """UPDATE topics SET priority = greatest(priority, %s), source_ref = coalesce(source_ref, %s), updated_at = now()
           WHERE tenant_id = %s AND niche_id = %s AND lower(btrim(title)) = ANY(%s) RETURNING id""",
        (priority, f"content_request:{plan.id}", tenant.id, niche.id, [t.title.lower() for t in topics]))]
    for a in plan.assignments:
        conn.execute("""INSERT INTO content_allocations AS c (niche_id, day, topics) VALUES (%s, %s, 1)
                        ON CONFLICT (niche_id, day) DO UPDATE SET topics = c.topics + 1""", (niche.id, a["date"]))
    conn.execute(
        """INSERT INTO content_requests (id, tenant_id, niche_id, priority, constraints, topic_ids, plan, callback_url,
                                         callback_secret_enc, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (plan.id, tenant.id, niche.id, priority, Jsonb(plan.constraints), ids, Jsonb(plan.as_json()), callback_url,
         callback_secret_enc, actor),
    )
    record_audit(conn, tenant_id=tenant.id, actor=actor, action="content_request.create", entity_type="content_request",
                 entity_id=plan.id, details={"topics": len(topics), "niche": niche.slug,
                                              "estimated_cost_usd": round(plan.estimated_cost_usd, 6)})
    return plan
