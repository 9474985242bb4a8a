"""Content requests and their ExecutionPlan (the seed's Content Orchestrator `createExecutionPlan`).

A request asks for articles on given topics in one niche. The plan says, per topic, which day x
niche partition will draft it and with which model (the selector's choice for the writer task),
what it is expected to cost (catalogue price x expected tokens) and when it will run:

* **quota** - the niche writes at most `daily_quota` articles a day; content requests take the
  first days with room (`content_allocations`, shared with the daily backlog's selected topics);
* **budget** - if the tenant's daily AI budget cannot cover the day's share, that share moves on;
* **pool** - when the `llm` pool is busy, today's start is delayed by the queue ahead of it.

`build_plan` is pure (unit-tested with known prices and history); `create_request` gathers its
inputs from the database (history aggregates optionally from a `PlanInputsCache`; the quota always
fresh under the niche's plan lock), records the request, its backlog topics (priority above the
daily backlog) and the day allocations in one transaction. Runs are launched later by the API's
dispatcher (one run per partition, coalesced), never here.
"""

from __future__ import annotations

import functools
import statistics
import threading
import time
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
               deadline: datetime | None = None, selections: list | None = None) -> ExecutionPlan:
    """The plan. `selections`: `select_models(topics, inputs, catalogue, max_cost_usd)` computed
    earlier (outside the niche's plan lock: it depends on history, not on the quota)."""
    if selections is None:
        selections = select_models(topics, inputs, catalogue, max_cost_usd)
    costs = [s.chosen.estimate.expected_usd for s in selections]
    today = inputs.now.date()
    return _plan_days(topics, inputs, selections, costs, today, priority, max_cost_usd, max_duration_s, deadline,
                      plan_id)


def select_models(topics: list[TopicRequest], inputs: PlanInputs, catalogue: Catalogue,
                  max_cost_usd: float | None = None) -> list:
    """The writer model of each topic (ranked on its real prompt's token count), checked against max_cost_usd."""
    if not topics:
        raise ValidationError("the request has no topics", fix="send 1-50 topics")
    if len(topics) > MAX_TOPICS:
        raise ValidationError(f"the request has {len(topics)} topics", fix=f"send at most {MAX_TOPICS} per request")
    per_topic_cap = max_cost_usd / len(topics) if max_cost_usd is not None else None
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
    return selections


def _plan_days(topics, inputs, selections, costs, today, priority, max_cost_usd, max_duration_s, deadline, plan_id):
    """Days (quota, then budget), start and duration (run history, the pool's queue), constraint checks."""
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


@dataclass(frozen=True)
class HistoryInputs:
    """The plan inputs that are aggregates over history (quality per model, token and run statistics,
    open circuits, the pool's queue, the day's AI spend): the part `PlanInputsCache` may reuse."""

    history: dict[str, tuple[int, float]]
    unavailable: dict[str, str]
    expected_output_tokens: int
    run_seconds: list[float]
    per_topic_seconds: float | None
    queue_ahead: int
    budget_left_today: float | None
    budget_daily_limit: float | None


def read_history_inputs(conn: psycopg.Connection, tenant: Tenant, niche: Niche, catalogue: Catalogue) -> HistoryInputs:
    from allixios.ai import budgets, circuit
    from allixios.ai.selection import quality_history

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
    return HistoryInputs(history, unavailable, expected_out, runs, per_topic, int(queue), left, limit)


class PlanInputsCache:
    """History inputs reused for `ttl_s` per (tenant, niche, catalogue) in this process.

    They are aggregates over history that move slowly: one second of staleness changes a plan's
    model ranking or start estimate by at most that second's new rows, and none of them is where a
    limit is enforced. The quota is not cached: `create_request` reads the niche's promised days
    under the niche's plan lock on every request, and the AI budget is enforced where money is spent
    (`allixios.ai.budgets.reserve`, per call). The key holds the tenant, so a tenant never plans with
    another tenant's history."""

    def __init__(self, ttl_s: float = 1.0, clock=time.monotonic):
        self.ttl_s, self.clock = ttl_s, clock
        self._entries: dict[tuple, tuple[float, Catalogue, HistoryInputs]] = {}
        self._lock = threading.Lock()

    def get(self, conn: psycopg.Connection, tenant: Tenant, niche: Niche, catalogue: Catalogue) -> HistoryInputs:
        if niche.tenant_id != tenant.id:
            raise ValidationError(f"niche {niche.slug!r} is not a niche of tenant {tenant.slug!r}")
        key = (tenant.id, niche.id)
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[1] is catalogue and now - entry[0] < self.ttl_s:
            return entry[2]
        inputs = read_history_inputs(conn, tenant, niche, catalogue)
        with self._lock:
            if len(self._entries) > 10_000:  # many tenants x niches: start over rather than grow
                self._entries.clear()
            self._entries[key] = (now, catalogue, inputs)
        return inputs

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def read_quota_used(conn: psycopg.Connection, niche: Niche, today: date) -> dict[date, int]:
    """Day -> topics promised (allocations) or already selected/drafted in the niche, from today on.
    Read fresh under the niche's plan lock: this is what keeps two plans from sharing a slot."""
    rows = conn.execute(
        """SELECT day, max(n)::int FROM (
               SELECT day, topics AS n FROM content_allocations WHERE niche_id = %(n)s AND day >= %(d)s
               UNION ALL
               SELECT partition_date, count(*) FROM topics WHERE niche_id = %(n)s AND partition_date >= %(d)s
                 AND status IN ('selected', 'drafted') GROUP BY 1) u GROUP BY day""",
        {"n": niche.id, "d": today})
    # allocations already count the request topics that were selected: the larger of the two, not the sum
    return dict(rows.fetchall())


def _inputs(now: datetime, niche: Niche, used: dict[date, int], h: HistoryInputs) -> PlanInputs:
    pool, _ = _pool_limits()
    return PlanInputs(now, niche, niche.name, used, h.history, h.unavailable, h.expected_output_tokens, h.run_seconds,
                      h.per_topic_seconds, h.queue_ahead, pool, h.budget_left_today, h.budget_daily_limit)


def gather_inputs(conn: psycopg.Connection, tenant: Tenant, niche: Niche, catalogue: Catalogue,
                  now: datetime | None = None) -> PlanInputs:
    """Every plan input read now (no cache)."""
    now = now or datetime.now(UTC)
    return _inputs(now, niche, read_quota_used(conn, niche, now.date()),
                   read_history_inputs(conn, tenant, niche, catalogue))


# ---- recording -------------------------------------------------------------------------------------


def create_request(conn: psycopg.Connection, tenant: Tenant, niche: Niche, topics: list[TopicRequest], *,
                   catalogue: Catalogue, priority: int, actor: str, max_cost_usd: float | None = None,
                   max_duration_s: float | None = None, deadline: datetime | None = None,
                   callback_url: str | None = None, callback_secret_enc: bytes | None = None,
                   inputs_cache: PlanInputsCache | None = None) -> ExecutionPlan:
    """Plan and record in the caller's transaction (serialised per niche so two plans cannot share a slot).

    `inputs_cache`: reuse history inputs for a second (the API's; see `PlanInputsCache`)."""
    checked = [validate_topic(TopicInput(t.title, tuple(t.keywords), t.keyphrase, priority)) for t in topics]
    topics = [TopicRequest(c.title, c.target_keyphrase, c.keywords) for c in checked]
    # Before the niche's plan lock (which serialises every plan of the niche until commit): the history
    # inputs, model selection (token counting on each topic's real prompt), the topics and the audit row.
    # None of them depends on the quota; if the plan is refused below, the caller's rollback undoes them.
    history = inputs_cache.get(conn, tenant, niche, catalogue) if inputs_cache is not None else \
        read_history_inputs(conn, tenant, niche, catalogue)
    selections = select_models(topics, _inputs(datetime.now(UTC), niche, {}, history), catalogue, max_cost_usd)
    plan_id = uuid.uuid4()
    source_ref = f"content_request:{plan_id}"
    add_topics(conn, niche, checked, source="api", source_ref=source_ref)
    # the request's topics (new ones and ones already pending in the backlog) at its priority; one that is
    # already selected or drafted refuses the request (only pending rows are updated: a topic a running
    # job holds is reported, not waited for)
    rows = conn.execute(
        """WITH matched AS (SELECT id, title, status::text AS status FROM topics
                            WHERE tenant_id = %(t)s AND niche_id = %(n)s AND lower(btrim(title)) = ANY(%(titles)s)),
                joined AS (UPDATE topics SET priority = greatest(topics.priority, %(p)s),
                                  source_ref = coalesce(topics.source_ref, %(ref)s), updated_at = now()
                           FROM matched WHERE topics.id = matched.id AND matched.status = 'pending')
           SELECT id, title, status FROM matched""",
        {"t": tenant.id, "n": niche.id, "titles": [t.title.lower() for t in topics], "p": priority,
         "ref": source_ref}).fetchall()
    taken = [title for _, title, status in rows if status != "pending"]
    if taken:
        raise ValidationError(f"topic(s) already drafted or selected in this niche: {', '.join(taken[:5])}",
                              fix="send new titles (an existing article is refreshed through its own endpoints)")
    ids = [r[0] for r in rows]
    record_audit(conn, tenant_id=tenant.id, actor=actor, action="content_request.create", entity_type="content_request",
                 entity_id=plan_id, details={"topics": len(topics), "niche": niche.slug, "estimated_cost_usd": round(
                     sum(sel.chosen.estimate.expected_usd for sel in selections), 6)})
    # under the lock: the quota read fresh (a statement after the lock sees every plan committed before
    # it), the plan's days, and its allocations with the request in one statement
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('allixios.plan'), hashtext(%s))", (str(niche.id),))
    now = datetime.now(UTC)
    inputs = _inputs(now, niche, read_quota_used(conn, niche, now.date()), history)
    plan = build_plan(plan_id, topics, inputs, catalogue, priority=priority, max_cost_usd=max_cost_usd,
                      max_duration_s=max_duration_s, deadline=deadline, selections=selections)
    per_day: dict[str, int] = {}
    for a in plan.assignments:
        per_day[a["date"]] = per_day.get(a["date"], 0) + 1
    conn.execute(
        """WITH allocated AS (
               INSERT INTO content_allocations AS c (niche_id, day, topics)
               SELECT %(n)s, d::date, k FROM unnest(%(days)s::text[], %(counts)s::int[]) AS u(d, k)
               ON CONFLICT (niche_id, day) DO UPDATE SET topics = c.topics + excluded.topics)
           INSERT INTO content_requests (id, tenant_id, niche_id, priority, constraints, topic_ids, plan, callback_url,
                                         callback_secret_enc, created_by)
           VALUES (%(id)s, %(t)s, %(n)s, %(p)s, %(c)s, %(ids)s, %(plan)s, %(url)s, %(secret)s, %(actor)s)""",
        {"n": niche.id, "days": list(per_day), "counts": list(per_day.values()), "id": plan.id, "t": tenant.id,
         "p": priority, "c": Jsonb(plan.constraints), "ids": ids, "plan": Jsonb(plan.as_json()), "url": callback_url,
         "secret": callback_secret_enc, "actor": actor},
    )
    return plan
