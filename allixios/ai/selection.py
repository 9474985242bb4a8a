"""Model selection (the seed's selectOptimalModel): best expected quality per cost under constraints.

Expected quality of a deployment = mean content_quality_score of the scored articles it wrote in
the niche (articles.ai_model_used = deployment id or litellm model) once at least
``min_history_articles`` exist, else the catalogue's quality prior. Expected cost = `estimate_cost`
for this prompt. Deployments over ``max_cost_usd`` or ``max_latency_ms`` or under ``min_quality``
are excluded; the rest are ranked by quality / cost (ties: higher quality). The ranking is the
failover order. Every choice is recorded in model_selections with the seed's fields.
"""

from __future__ import annotations

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


def rank(catalogue: Catalogue, task: str, messages: list[dict], *, expected_output_tokens: int = 1500,
         max_output_tokens: int | None = None, history: dict[str, tuple[int, float]] | None = None,
         max_cost_usd: float | None = None, max_latency_ms: int | None = None, min_quality: float | None = None,
         unavailable: dict[str, str] | None = None) -> ModelSelection:
    """Pure ranking (no database): candidates ordered by expected quality per cost."""
    history = history or {}
    excluded: dict[str, str] = {}
    for d in catalogue.deployments(task):
        if d not in catalogue.usable(task):
            excluded[d.id] = f"key {d.api_key_env} not set" if not d.available else "offline stand-in not needed"
    excluded.update(unavailable or {})
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
        if max_cost_usd is not None and est.expected_usd > max_cost_usd:
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
    candidates.sort(key=lambda c: (-c.value, -c.quality, c.deployment.id))
    best = candidates[0]
    reasoning = (
        f"{best.deployment.id} ({best.deployment.model}): expected quality {best.quality:.1f} ({best.quality_source}) "
        f"at ${best.estimate.expected_usd:.6f} = {best.value:,.0f} quality/USD, best of {len(candidates)}"
    )
    if len(candidates) > 1:
        reasoning += "; fallbacks " + ", ".join(c.deployment.id for c in candidates[1:])
    if excluded:
        reasoning += "; excluded " + ", ".join(f"{k} ({v})" for k, v in excluded.items())
    return ModelSelection(best, tuple(candidates[1:]), reasoning, excluded)


def record_selection(conn: psycopg.Connection, selection: ModelSelection, task: str, tenant_id: UUID | None,
                     niche_id: UUID | None = None, run_id: str | None = None) -> None:
    rec = selection.as_record()
    conn.execute(
        """INSERT INTO model_selections (tenant_id, niche_id, run_id, task, model_id, provider, estimated_cost,
                                         estimated_quality, reasoning) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (tenant_id, niche_id, run_id, task, rec["modelId"], rec["provider"], rec["estimatedCost"],
         rec["estimatedQuality"], rec["reasoning"][:2000]),
    )


def select_model(conn: psycopg.Connection, catalogue: Catalogue, task: str, messages: list[dict], *,
                 tenant_id: UUID | None = None, niche_id: UUID | None = None, run_id: str | None = None,
                 expected_output_tokens: int = 1500, max_output_tokens: int | None = None,
                 max_cost_usd: float | None = None, max_latency_ms: int | None = None,
                 min_quality: float | None = None, record: bool = True,
                 history: dict[str, tuple[int, float]] | None = None) -> ModelSelection:
    """Choose a deployment for ``task`` with history from the database, skipping open circuits; recorded."""
    from allixios.ai import circuit

    deployments = catalogue.deployments(task)
    if history is None:
        history = quality_history(conn, deployments, tenant_id, niche_id)
    blocked = circuit.blocked(conn, catalogue.policy.circuit_cooldown_s)
    unavailable = {d.id: f"circuit {blocked[d.id].replace('_', '-')}" for d in deployments if d.id in blocked}
    selection = rank(catalogue, task, messages, expected_output_tokens=expected_output_tokens,
                     max_output_tokens=max_output_tokens, history=history,
                     max_cost_usd=max_cost_usd, max_latency_ms=max_latency_ms, min_quality=min_quality,
                     unavailable=unavailable)
    if record:
        record_selection(conn, selection, task, tenant_id, niche_id, run_id)
    return selection
