"""The ai_usage ledger: one row per attempt (success, error, skipped_budget, circuit_open).

Attempts of one logical request share its request_id and are numbered 1, 2, ... across
deployments and across re-runs, so UNIQUE (request_id, deployment_id, attempt) never collides and a
re-run adds rows only for attempts it really makes. Only a successful attempt keeps its response
text, so a repeated request can be answered from the ledger without a new paid call; malformed
or failed responses are never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import psycopg


@dataclass
class Attempt:
    tenant_id: UUID | None
    request_id: str
    task: str
    model: str
    deployment_id: str
    provider: str
    status: str
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_ms: int = 0
    error_class: str | None = None
    error_message: str | None = None
    response_text: str | None = None
    run_id: str | None = None
    article_id: UUID | None = None
    topic_id: UUID | None = None


def record_attempt(conn: psycopg.Connection, a: Attempt) -> int:
    """Insert the attempt with the next attempt number of its request; returns that number."""
    for _ in range(5):  # another process may take the same number at the same moment
        row = conn.execute(
            """INSERT INTO ai_usage (tenant_id, article_id, topic_id, run_id, task, model, deployment_id, provider,
                                     attempt, request_id, tokens_in, tokens_out, cost_usd, latency_ms, status,
                                     error_class, error_message, response_text)
               SELECT %s, %s, %s, %s, %s, %s, %s, %s,
                      coalesce((SELECT max(attempt) FROM ai_usage WHERE request_id = %s), 0) + 1,
                      %s, %s, %s, %s, %s, %s, %s, %s, %s
               ON CONFLICT (request_id, deployment_id, attempt) DO NOTHING
               RETURNING attempt""",
            (a.tenant_id, a.article_id, a.topic_id, a.run_id, a.task, a.model, a.deployment_id, a.provider,
             a.request_id, a.request_id, a.tokens_in, a.tokens_out, a.cost_usd, a.latency_ms, a.status,
             a.error_class, a.error_message, a.response_text if a.status == "success" else None),
        ).fetchone()
        if row:
            from allixios.ai.budgets import add_spend

            add_spend(conn, a.tenant_id, a.cost_usd)
            return row[0]
    raise RuntimeError(f"could not number an attempt of request {a.request_id!r}")


def recorded_success(conn: psycopg.Connection, request_id: str) -> dict | None:
    """The successful attempt of a request, if one exists (its text, tokens and cost)."""
    from allixios.db.engine import fetch_dicts

    rows = fetch_dicts(
        conn,
        """SELECT model, deployment_id, provider, tokens_in, tokens_out, cost_usd, latency_ms, response_text
           FROM ai_usage WHERE request_id = %s AND status = 'success' ORDER BY attempt DESC LIMIT 1""",
        (request_id,),
    )
    return rows[0] if rows else None
