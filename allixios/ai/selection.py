"""Model selection (the seed's selectOptimalModel): best expected quality per cost under constraints.

Expected quality of a deployment = mean content_quality_score of the scored articles it wrote in
the niche (articles.ai_model_used = deployment id or litellm model) once at least
``min_history_articles`` exist, else the catalogue's quality prior. Expected cost = `estimate_cost`
for this prompt. Deployments over ``max_cost_usd`` or ``max_latency_ms`` or under ``min_quality``
are excluded; the rest are ranked by quality / cost (ties: higher quality). The ranking is the
failover order. Every choice is recorded in model_selections with the seed's fields.

On top of that ranking (issue 17):
- **Load balancing.** Deployments whose quality per cost is within ``balance_within`` (default 10 %)
  of the best share the traffic: they are put in a weighted random order, litellm's simple-shuffle
  (``random.choices`` by ``weight``) with each weight divided by 1 + the deployment's calls in flight
  across all processes (least-busy). Rate limits still apply per deployment at admission.
- **Language / content type.** A deployment declaring ``languages`` or ``content_types`` is
  excluded for a request outside them.
- **Remaining budget.** A candidate whose worst case does not fit what is left of the tenant's
  budget goes after those that fit (the reasoning says so); a refusal at admission then tries them.
- **Stored overrides** (``ai_routing_overrides``, `allixios ai switch` / `allixios ai failover`):
  a drained deployment is excluded and its target moved first; a stored failover order replaces
  the ranking of its alias (no balancing).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from uuid import UUID

import psycopg

from allixios.ai.catalogue import Catalogue, Deployment
from allixios.ai.costs import CostEstimate, estimate_cost
from allixios.errors import AllixiosError


class NoModelAvailableError(AllixiosError):
    """No deployment of the alias can serve the request under its constraints."""


@dataclass(frozen=True)
class Candidate:
    deployment: Deployment
    estimate: CostEstimate
    quality: float
    quality_source: str  # "prior" or "history (n=12)"

    @property
    def value(self) -> float:
        return self.quality / max(self.estimate.expected_usd, 1e-9)


@dataclass(frozen=True)
class ModelSelection:
    chosen: Candidate
    fallbacks: tuple[Candidate, ...]
    reasoning: str
    excluded: dict[str, str] = field(default_factory=dict)  # deployment id -> why
    record_id: int | None = None  # its model_selections row

    @property
    def ranked(self) -> tuple[Candidate, ...]:
        return (self.chosen, *self.fallbacks)

    def as_record(self) -> dict:
        """The seed's AIModelSelection."""
        c = self.chosen
        return {
            "modelId": c.deployment.id,
            "provider": c.deployment.provider,
            "estimatedCost": c.estimate.expected_usd,
            "estimatedQuality": round(c.quality, 2),
            "reasoning": self.reasoning,
        }


def quality_history(conn: psycopg.Connection, deployments: tuple[Deployment, ...], tenant_id: UUID | None,
                    niche_id: UUID | None) -> dict[str, tuple[int, float]]:
    """deployment id -> (scored articles, mean quality) in the niche (or tenant when no niche)."""
    names = {d.id: d.id for d in deployments} | {d.model: d.id for d in deployments}
    rows = conn.execute(
        """SELECT ai_model_used, count(*), avg(content_quality_score) FROM articles
           WHERE ai_model_used = ANY(%s) AND content_quality_score > 0 AND deleted_at IS NULL
             AND (%s::uuid IS NULL OR niche_id = %s) AND (%s::uuid IS NULL OR tenant_id = %s)
           GROUP BY ai_model_used""",
        (list(names), niche_id, niche_id, tenant_id, tenant_id),
    ).fetchall()
    merged: dict[str, tuple[int, float]] = {}
    for name, n, avg in rows:
        dep = names[name]
        old_n, old_avg = merged.get(dep, (0, 0.0))
        total = old_n + n
        merged[dep] = (total, (old_n * old_avg + n * float(avg)) / total)
    return merged


@dataclass(frozen=True)
class Overrides:
    """Stored routing overrides: failover order per alias, drains per deployment."""

    order: dict[str, tuple[str, ...]] = field(default_factory=dict)  # alias -> deployment ids
    drains: dict[str, str] = field(default_factory=dict)  # drained deployment -> target
    actors: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, subject) -> actor


def load_overrides(conn: psycopg.Connection, tenant_id: UUID | None = None) -> Overrides:
    """The global overrides, with the tenant's own ones winning over them."""
    rows = conn.execute(
        """SELECT kind, subject, deployment_ids, target_id, actor FROM ai_routing_overrides
           WHERE tenant_id IS NULL OR tenant_id = %s ORDER BY tenant_id NULLS FIRST, id""", (tenant_id,)).fetchall()
    return Overrides(
        order={r[1]: tuple(r[2]) for r in rows if r[0] == "order"},
        drains={r[1]: r[3] for r in rows if r[0] == "drain"},
        actors={(r[0], r[1]): r[4] for r in rows},
    )


def in_flight(conn: psycopg.Connection, deployment_ids: list[str]) -> dict[str, int]:
    """Calls in flight now per deployment, across every process (pending ledger rows)."""
    rows = conn.execute("""SELECT deployment_id, count(*) FROM ai_usage WHERE status = 'pending'
                           AND deployment_id = ANY(%s) GROUP BY deployment_id""", (deployment_ids,)).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def _weighted_order(items: list[Candidate], weights: list[float], rng: random.Random) -> list[Candidate]:
    """A random order where each next item is drawn with probability proportional to its weight."""
    items, weights, out = list(items), list(weights), []
    while items:
        i = rng.choices(range(len(items)), weights=weights)[0]
        out.append(items.pop(i))
        weights.pop(i)
    return out


def rank(catalogue: Catalogue, task: str, messages: list[dict], *, expected_output_tokens: int = 1500,
         max_output_tokens: int | None = None, history: dict[str, tuple[int, float]] | None = None,
         max_cost_usd: float | None = None, max_latency_ms: int | None = None, min_quality: float | None = None,
         unavailable: dict[str, str] | None = None, language: str | None = None, content_type: str | None = None,
         remaining_budget_usd: float | None = None, busy: dict[str, int] | None = None,
         overrides: Overrides | None = None, rng: random.Random | None = None,
         bandit: dict[str, tuple[float, str]] | None = None, bandit_note: str | None = None) -> ModelSelection:
    """Pure ranking (no database): candidates ordered by expected quality per cost.

    ``bandit``: deployment id -> (sampled value, evidence) from learned routing; when given it
    replaces quality per cost as the ranking key (see `allixios.ai.learned_routing`)."""
    history = history or {}
    overrides = overrides or Overrides()
    lang = (language or "").split("-")[0].lower() or None
    excluded: dict[str, str] = {}
    for d in catalogue.deployments(task):
        if d not in catalogue.usable(task):
            excluded[d.id] = f"key {d.api_key_env} not set" if not d.available else "offline stand-in not needed"
    excluded.update(unavailable or {})
    for drained, target in overrides.drains.items():
        if drained not in excluded and any(d.id == drained for d in catalogue.deployments(task)):
            excluded[drained] = f"drained to {target} by {overrides.actors.get(('drain', drained), '?')}"
    prompt_tokens = None
    candidates: list[Candidate] = []
    for d in catalogue.usable(task):
        if d.id in excluded:
            continue
        est = estimate_cost(d, messages, expected_output_tokens, max_output_tokens, prompt_tokens=prompt_tokens)
        n, avg = history.get(d.id, (0, 0.0))
        if n >= catalogue.policy.min_history_articles:
            quality, source = avg, f"history (n={n})"
        else:
            quality, source = d.quality_prior, "prior"
        if lang and d.languages and lang not in d.languages:
            excluded[d.id] = f"language {lang} not in {', '.join(d.languages)}"
        elif content_type and d.content_types and content_type.lower() not in d.content_types:
            excluded[d.id] = f"content type {content_type} not in {', '.join(d.content_types)}"
        elif max_cost_usd is not None and est.expected_usd > max_cost_usd:
            excluded[d.id] = f"estimated ${est.expected_usd:.6g} > max ${max_cost_usd:.6g}"
        elif max_latency_ms is not None and d.typical_latency_ms > max_latency_ms:
            excluded[d.id] = f"typical latency {d.typical_latency_ms} ms > max {max_latency_ms} ms"
        elif min_quality is not None and quality < min_quality:
            excluded[d.id] = f"expected quality {quality:.1f} < min {min_quality}"
        else:
            candidates.append(Candidate(d, est, quality, source))
    if not candidates:
        why = "; ".join(f"{k}: {v}" for k, v in excluded.items()) or "no deployments"
        raise NoModelAvailableError(
            f"no deployment of {task!r} can serve this request ({why})",
            fix="set a provider key, relax max cost/latency, or add a deployment in config/models.yaml",
        )
    notes: list[str] = []
    if bandit:
        candidates.sort(key=lambda c: (-bandit.get(c.deployment.id, (0.0, ""))[0], -c.value, c.deployment.id))
        notes.append("learned routing (Thompson sampling on net revenue per article): "
                     + "; ".join(f"{c.deployment.id} {bandit[c.deployment.id][1]}"
                                 for c in candidates if c.deployment.id in bandit)
                     + (f" ({bandit_note})" if bandit_note else ""))
    else:
        candidates.sort(key=lambda c: (-c.value, -c.quality, c.deployment.id))
    order = overrides.order.get(task)
    if order:
        pos = {dep: i for i, dep in enumerate(order)}
        candidates.sort(key=lambda c: pos.get(c.deployment.id, len(pos)))
        notes.append(f"failover order {', '.join(order)} stored by {overrides.actors.get(('order', task), '?')}")
    elif not bandit and catalogue.policy.balance_within > 0 and len(candidates) > 1:
        floor = candidates[0].value * (1 - catalogue.policy.balance_within)
        group = [c for c in candidates if c.value >= floor and c.deployment.stand_in == candidates[0].deployment.stand_in]
        if len(group) > 1:
            busy = busy or {}
            weights = [c.deployment.weight / (1 + busy.get(c.deployment.id, 0)) for c in group]
            shuffled = _weighted_order(group, weights, rng or random)
            candidates = shuffled + [c for c in candidates if c not in group]
            notes.append("balanced among " + ", ".join(
                f"{c.deployment.id} (weight {c.deployment.weight:g}, {busy.get(c.deployment.id, 0)} in flight)"
                for c in group) + f": value within {catalogue.policy.balance_within:.0%} of the best")
    for drained, target in overrides.drains.items():
        moved = [c for c in candidates if c.deployment.id == target]
        if moved and drained in excluded:
            candidates = moved + [c for c in candidates if c is not moved[0]]
            notes.append(f"{drained} drained: its traffic goes to {target}")
    if remaining_budget_usd is not None:
        fits = [c for c in candidates if c.deployment.runs_locally or c.estimate.reserve_usd <= remaining_budget_usd + 1e-12]
        if fits and fits[0] is not candidates[0]:
            too_dear = [c for c in candidates if c not in fits]
            notes.append(", ".join(f"{c.deployment.id} (worst case ${c.estimate.reserve_usd:.6f})" for c in too_dear)
                         + f" does not fit the ${remaining_budget_usd:.6f} left of the budget: cheaper "
                         f"{fits[0].deployment.id} (${fits[0].estimate.reserve_usd:.6f}) chosen")
            candidates = fits + too_dear
    best = candidates[0]
    reasoning = (
        f"{best.deployment.id} ({best.deployment.model}): expected quality {best.quality:.1f} ({best.quality_source}) "
        f"at ${best.estimate.expected_usd:.6f} = {best.value:,.0f} quality/USD, best of {len(candidates)}"
    )
    if notes:
        reasoning += "; " + "; ".join(notes)
    if len(candidates) > 1:
        reasoning += "; fallbacks " + ", ".join(c.deployment.id for c in candidates[1:])
    if excluded:
        reasoning += "; excluded " + ", ".join(f"{k} ({v})" for k, v in excluded.items())
    return ModelSelection(best, tuple(candidates[1:]), reasoning, excluded)


def record_selection(conn: psycopg.Connection, selection: ModelSelection, task: str, tenant_id: UUID | None,
                     niche_id: UUID | None = None, run_id: str | None = None) -> int:
    rec = selection.as_record()
    return conn.execute(
        """INSERT INTO model_selections (tenant_id, niche_id, run_id, task, model_id, provider, estimated_cost,
                                         estimated_quality, reasoning) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
           RETURNING id""",
        (tenant_id, niche_id, run_id, task, rec["modelId"], rec["provider"], rec["estimatedCost"],
         rec["estimatedQuality"], rec["reasoning"][:2000]),
    ).fetchone()[0]


def record_selections(conn: psycopg.Connection, rows: list[tuple[ModelSelection, str, UUID | None, UUID | None,
                                                                 str | None]]) -> list[int]:
    """`record_selection` for many (selection, task, tenant, niche, run) in one INSERT (issue 19: the
    selections prepared together are written with one statement); the ids in the order given. The
    rows are inserted in that order, so the bigserial ids they draw from the sequence rise with it
    (other sessions may draw ids in between, never out of order within one statement)."""
    if not rows:
        return []
    recs = [(sel.as_record(), task, tenant, niche, run) for sel, task, tenant, niche, run in rows]
    ids = [r[0] for r in conn.execute(
        """INSERT INTO model_selections (tenant_id, niche_id, run_id, task, model_id, provider, estimated_cost,
                                         estimated_quality, reasoning)
           SELECT tenant_id, niche_id, run_id, task, model_id, provider, estimated_cost, estimated_quality, reasoning
           FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[], %s::float8[],
                       %s::float8[], %s::text[]) WITH ORDINALITY
                AS r(tenant_id, niche_id, run_id, task, model_id, provider, estimated_cost, estimated_quality,
                     reasoning, n)
           ORDER BY n
           RETURNING id""",
        ([t for _, _, t, _, _ in recs], [n for _, _, _, n, _ in recs], [r for *_, r in recs],
         [task for _, task, *_ in recs], [rec["modelId"] for rec, *_ in recs], [rec["provider"] for rec, *_ in recs],
         [rec["estimatedCost"] for rec, *_ in recs], [rec["estimatedQuality"] for rec, *_ in recs],
         [rec["reasoning"][:2000] for rec, *_ in recs]),
    ).fetchall()]
    return sorted(ids)


def amend_selection(conn: psycopg.Connection, record_id: int | None, note: str, deployment: Deployment | None = None) -> None:
    """Add what happened at admission (e.g. a budget refusal moved to a cheaper model) to the record."""
    if record_id is None:
        return
    conn.execute("""UPDATE model_selections SET reasoning = left(reasoning || '; ' || %s, 4000),
                           model_id = coalesce(%s, model_id), provider = coalesce(%s, provider) WHERE id = %s""",
                 (note, deployment.id if deployment else None, deployment.provider if deployment else None, record_id))


@dataclass(frozen=True)
class SelectionInputs:
    """What selection reads besides the request: open circuits, the tenant's remaining budget, calls
    in flight per deployment, stored overrides. A client may reuse the first three for a second
    (`LLMClient`): they are only preferences here, and admission re-checks circuits, budgets and
    rate windows under locks before a paid call. Overrides it reads on every call."""

    blocked: dict[str, str]
    remaining_budget_usd: float | None
    busy: dict[str, int]
    overrides: Overrides


def selection_inputs(conn: psycopg.Connection, catalogue: Catalogue, task: str,
                     tenant_id: UUID | None) -> SelectionInputs:
    from allixios.ai import budgets, circuit

    deployments = catalogue.deployments(task)
    return SelectionInputs(
        blocked=circuit.blocked(conn, catalogue.policy.circuit_cooldown_s),
        remaining_budget_usd=_remaining(budgets.budget_status(conn, tenant_id)) if tenant_id else None,
        busy=in_flight(conn, [d.id for d in deployments]),
        overrides=load_overrides(conn, tenant_id),
    )


def select_model(conn: psycopg.Connection, catalogue: Catalogue, task: str, messages: list[dict], *,
                 tenant_id: UUID | None = None, niche_id: UUID | None = None, run_id: str | None = None,
                 expected_output_tokens: int = 1500, max_output_tokens: int | None = None,
                 max_cost_usd: float | None = None, max_latency_ms: int | None = None,
                 min_quality: float | None = None, record: bool = True,
                 history: dict[str, tuple[int, float]] | None = None, language: str | None = None,
                 content_type: str | None = None, bandit: dict[str, tuple[float, str]] | None = None,
                 bandit_note: str | None = None, inputs: SelectionInputs | None = None) -> ModelSelection:
    """Choose a deployment for ``task`` with history from the database, skipping open circuits; recorded.

    ``inputs``: the circuits, budget, in-flight counts and overrides when the caller already read them
    (`selection_inputs`)."""
    import dataclasses

    deployments = catalogue.deployments(task)
    if history is None:
        history = quality_history(conn, deployments, tenant_id, niche_id)
    if inputs is None:
        inputs = selection_inputs(conn, catalogue, task, tenant_id)
    blocked = inputs.blocked
    unavailable = {d.id: f"circuit {blocked[d.id].replace('_', '-')}" for d in deployments if d.id in blocked}
    selection = rank(catalogue, task, messages, expected_output_tokens=expected_output_tokens,
                     max_output_tokens=max_output_tokens, history=history,
                     max_cost_usd=max_cost_usd, max_latency_ms=max_latency_ms, min_quality=min_quality,
                     unavailable=unavailable, language=language, content_type=content_type,
                     remaining_budget_usd=inputs.remaining_budget_usd, busy=inputs.busy, overrides=inputs.overrides,
                     bandit=bandit, bandit_note=bandit_note)
    if record:
        selection = dataclasses.replace(selection, record_id=record_selection(conn, selection, task, tenant_id, niche_id, run_id))
    return selection


def _remaining(statuses) -> float | None:
    return min((s.remaining_usd for s in statuses), default=None)
