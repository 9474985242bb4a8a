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
    content_request_id: UUID | None = None
    rate_wait_ms: int = 0  # waited for the deployment's rate-limit window before this attempt
    rate_limited_on: list[str] | None = None  # deployments passed over because their windows were full


def record_attempt(conn: psycopg.Connection, a: Attempt) -> int:
    """Insert the attempt with the next attempt number of its request; returns that number."""
    for _ in range(5):  # another process may take the same number at the same moment
        row = conn.execute(
            """INSERT INTO ai_usage (tenant_id, article_id, topic_id, run_id, task, model, deployment_id, provider,
                                     attempt, request_id, tokens_in, tokens_out, cost_usd, latency_ms, status,
                                     error_class, error_message, response_text, content_request_id, rate_wait_ms,
                                     rate_limited_on)
               SELECT %s, %s, %s, %s, %s, %s, %s, %s,
                      coalesce((SELECT max(attempt) FROM ai_usage WHERE request_id = %s), 0) + 1,
                      %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s
               ON CONFLICT (request_id, deployment_id, attempt) DO NOTHING
               RETURNING attempt""",
            (a.tenant_id, a.article_id, a.topic_id, a.run_id, a.task, a.model, a.deployment_id, a.provider,
             a.request_id, a.request_id, a.tokens_in, a.tokens_out, a.cost_usd, a.latency_ms, a.status,
             a.error_class, a.error_message, a.response_text if a.status == "success" else None,
             a.content_request_id, a.rate_wait_ms, a.rate_limited_on),
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


# -- pending attempts: the claim on a request, written before the paid HTTP call ------------------

INTERRUPTED_MESSAGE = ("the process making this call ended before its answer was recorded; "
                       "counted as possibly paid at its reserved worst case")
INTERRUPTED_IN_PROCESS_MESSAGE = ("this call was interrupted in its process (cancelled or stopped) before its answer "
                                  "was recorded; counted as possibly paid at its reserved worst case")


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a request: a pending row of ours, or the owner already in flight."""

    pending_id: int | None
    busy_owner: str | None = None  # another live process is making this request's call now

    @property
    def granted(self) -> bool:
        return self.pending_id is not None


def claim(conn: psycopg.Connection, a: Attempt, reserved_usd: float, reservation_id: int | None,
          owner: str) -> Claim:
    """Write the attempt as 'pending' (before its HTTP call), unless the request is already in flight.

    The partial unique index ai_usage_one_pending_idx allows one pending row per request_id, so of
    two processes calling with the same request id exactly one gets the claim; the other waits for
    it and replays its answer. A pending row whose owner died is counted as interrupted first.
    """
    from allixios.ai import owners

    for _ in range(5):
        row = conn.execute(
            """INSERT INTO ai_usage (tenant_id, article_id, topic_id, run_id, task, model, deployment_id, provider,
                                     attempt, request_id, status, reserved_usd, reservation_id, owner,
                                     content_request_id)
               SELECT %s, %s, %s, %s, %s, %s, %s, %s,
                      coalesce((SELECT max(attempt) FROM ai_usage WHERE request_id = %s), 0) + 1,
                      %s, 'pending', %s, %s, %s, %s
               ON CONFLICT DO NOTHING
               RETURNING id""",
            (a.tenant_id, a.article_id, a.topic_id, a.run_id, a.task, a.model, a.deployment_id, a.provider,
             a.request_id, a.request_id, reserved_usd, reservation_id, owner, a.content_request_id),
        ).fetchone()
        if row:
            return Claim(row[0])
        holder = conn.execute(
            "SELECT id, owner FROM ai_usage WHERE request_id = %s AND status = 'pending'", (a.request_id,)
        ).fetchone()
        if holder is None:
            continue  # the conflict was on the attempt number: another attempt was numbered meanwhile
        if owners.is_alive(holder[1]):
            return Claim(None, holder[1])
        recover_interrupted(conn, request_id=a.request_id)
    raise RuntimeError(f"could not claim request {a.request_id!r}")


def in_flight_owners(conn: psycopg.Connection, request_ids: list[str]) -> dict[str, str]:
    """`in_flight_owner` of many requests in one query: request_id -> live owner (only those in flight).
    A pending row whose owner is gone is counted as interrupted first, as one at a time."""
    from allixios.ai import owners

    if not request_ids:
        return {}
    rows = conn.execute("SELECT request_id, owner FROM ai_usage WHERE request_id = ANY(%s) AND status = 'pending'",
                        (list(request_ids),)).fetchall()
    busy: dict[str, str] = {}
    for request_id, owner in rows:
        if owners.is_alive(owner):
            busy[request_id] = owner or "unknown"
        else:
            recover_interrupted(conn, request_id=request_id)
    return busy


def claim_many(conn: psycopg.Connection, asks: list[tuple[Attempt, float]], owner: str) -> list[Claim]:
    """`claim` of many requests (distinct request ids) in one INSERT, in request_id order (two
    processes claiming overlapping batches take the one-pending-row index entries in the same order).
    A request whose row was not inserted (in flight elsewhere, or its attempt number taken meanwhile)
    goes through `claim` alone, which tells the two apart."""
    if not asks:
        return []
    cols = list(zip(*[(a.tenant_id, a.article_id, a.topic_id, a.run_id, a.task, a.model, a.deployment_id,
                       a.provider, a.request_id, reserved, a.content_request_id) for a, reserved in asks], strict=True))
    rows = conn.execute(
        """INSERT INTO ai_usage (tenant_id, article_id, topic_id, run_id, task, model, deployment_id, provider,
                                 attempt, request_id, status, reserved_usd, owner, content_request_id)
           SELECT v.tenant_id, v.article_id, v.topic_id, v.run_id, v.task, v.model, v.deployment_id, v.provider,
                  coalesce((SELECT max(u.attempt) FROM ai_usage u WHERE u.request_id = v.request_id), 0) + 1,
                  v.request_id, 'pending', v.reserved_usd, %s, v.content_request_id
           FROM unnest(%s::uuid[], %s::uuid[], %s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[],
                       %s::text[], %s::text[], %s::numeric[], %s::uuid[])
                AS v(tenant_id, article_id, topic_id, run_id, task, model, deployment_id, provider, request_id,
                     reserved_usd, content_request_id)
           ORDER BY v.request_id
           ON CONFLICT DO NOTHING
           RETURNING id, request_id""",
        (owner, *[list(c) for c in cols]),
    ).fetchall()
    got = {request_id: pid for pid, request_id in rows}
    return [Claim(got[a.request_id]) if a.request_id in got else claim(conn, a, reserved, None, owner)
            for a, reserved in asks]


def succeeded_among(conn: psycopg.Connection, request_ids: list[str]) -> set[str]:
    """Which of these requests have a successful attempt (one query; `recorded_success` reads the answer)."""
    if not request_ids:
        return set()
    rows = conn.execute("SELECT DISTINCT request_id FROM ai_usage WHERE request_id = ANY(%s) AND status = 'success'",
                        (list(request_ids),)).fetchall()
    return {r[0] for r in rows}


def attach_reservations(conn: psycopg.Connection, links: list[tuple[int, object]]) -> None:
    """`attach_reservation` of many pending attempts in one UPDATE: (pending_id, Reservation)."""
    if not links:
        return
    conn.execute(
        """UPDATE ai_usage u SET reserved_usd = v.amount, reservation_id = v.rid
           FROM unnest(%s::bigint[], %s::numeric[], %s::bigint[]) AS v(id, amount, rid) WHERE u.id = v.id""",
        ([p for p, _ in links], [r.amount_usd for _, r in links], [r.id for _, r in links]),
    )


def drop_claim(conn: psycopg.Connection, pending_id: int) -> None:
    """Withdraw a claim whose call is not made (circuit open, budget refused)."""
    conn.execute("DELETE FROM ai_usage WHERE id = %s AND status = 'pending'", (pending_id,))


def attach_reservation(conn: psycopg.Connection, pending_id: int, reservation) -> None:
    """Link a pending attempt to its budget reservation (what it may cost is then known)."""
    conn.execute("UPDATE ai_usage SET reserved_usd = %s, reservation_id = %s WHERE id = %s",
                 (reservation.amount_usd, reservation.id, pending_id))


def finish(conn: psycopg.Connection, pending_id: int, a: Attempt) -> None:
    """Complete a pending attempt with what the call really did (status, tokens, cost, answer)."""
    row = conn.execute(
        "SELECT status, cost_usd FROM ai_usage WHERE id = %s FOR UPDATE", (pending_id,)
    ).fetchone()
    if row is None:
        record_attempt(conn, a)  # the pending row was removed (database restored): keep the call anyway
        return
    counted = float(row[1]) if row[0] == "interrupted" else 0.0  # taken for dead, already counted
    conn.execute(
        """UPDATE ai_usage SET status = %s, tokens_in = %s, tokens_out = %s, cost_usd = %s, latency_ms = %s,
                               error_class = %s, error_message = %s, response_text = %s, owner = NULL,
                               finished_at = now(), rate_wait_ms = %s, rate_limited_on = %s
           WHERE id = %s""",
        (a.status, a.tokens_in, a.tokens_out, a.cost_usd, a.latency_ms, a.error_class, a.error_message,
         a.response_text if a.status == "success" else None, a.rate_wait_ms, a.rate_limited_on, pending_id),
    )
    from allixios.ai.budgets import add_spend

    add_spend(conn, a.tenant_id, a.cost_usd - counted)


def in_flight_owner(conn: psycopg.Connection, request_id: str) -> str | None:
    """The owner of the request's pending attempt when that process is still alive, else None."""
    from allixios.ai import owners

    row = conn.execute("SELECT owner FROM ai_usage WHERE request_id = %s AND status = 'pending'", (request_id,)).fetchone()
    if row is None:
        return None
    if owners.is_alive(row[0]):
        return row[0] or "unknown"
    recover_interrupted(conn, request_id=request_id)
    return None


def recover_interrupted(conn: psycopg.Connection, tenant_id=None, request_id: str | None = None,
                        ttl: str = "30 minutes") -> int:
    """Pending attempts whose process is gone become 'interrupted' and count as possibly paid.

    Their cost is the reserved worst case, added to ai_spend; their budget reservation is closed
    (settled at that amount). An owner on another host counts as gone after ``ttl``.
    Returns how many attempts were recovered.
    """
    from allixios.ai import owners

    rows = conn.execute(
        f"""SELECT id, tenant_id, owner, reserved_usd, reservation_id, created_at < now() - interval '{ttl}'
            FROM ai_usage WHERE status = 'pending'
              AND (%(t)s::uuid IS NULL OR tenant_id = %(t)s) AND (%(r)s::text IS NULL OR request_id = %(r)s)
            ORDER BY id FOR UPDATE SKIP LOCKED""",
        {"t": tenant_id, "r": request_id},
    ).fetchall()
    recovered = 0
    for pid_, tenant, owner, reserved, reservation_id, expired in rows:
        if owners.is_alive(owner) and not expired:
            continue
        _count_interrupted(conn, pid_, tenant, reserved, reservation_id, INTERRUPTED_MESSAGE)
        recovered += 1
    return recovered


def interrupt(conn: psycopg.Connection, pending_id: int) -> bool:
    """The caller's own pending attempt, cut off in this process (a cancelled task, an interrupt
    raised into the step) after its request may have reached the provider: counted as possibly paid
    at once, as `recover_interrupted` counts a dead process's, instead of staying 'pending' under
    an owner that is still alive (which would hold its budget and block a retry of the same request
    until the process ends). False when the row is no longer pending."""
    row = conn.execute(
        "SELECT tenant_id, reserved_usd, reservation_id FROM ai_usage WHERE id = %s AND status = 'pending' FOR UPDATE",
        (pending_id,),
    ).fetchone()
    if row is None:
        return False
    _count_interrupted(conn, pending_id, row[0], row[1], row[2], INTERRUPTED_IN_PROCESS_MESSAGE)
    return True


def _count_interrupted(conn: psycopg.Connection, pending_id: int, tenant_id, reserved, reservation_id,
                       message: str) -> None:
    from allixios.ai import budgets

    conn.execute(
        """UPDATE ai_usage SET status = 'interrupted', cost_usd = reserved_usd, error_class = 'Interrupted',
                               error_message = %s, finished_at = now() WHERE id = %s""",
        (message, pending_id),
    )
    budgets.add_spend(conn, tenant_id, float(reserved))
    if reservation_id is not None:
        budgets.close_reservation(conn, reservation_id, "settled", float(reserved))
