"""Per-request cost caps, enforced at call time like a budget.

A content request's ``max_cost_usd`` (all calls made for it, whatever run or process makes them)
and a per-topic cap (all calls made for one topic) are checked in the admission transaction,
after the request's pending ledger row is written and before the paid call: spent = the cost of
the scope's finished ledger rows + the reserved worst case of its pending ones (our own excluded),
and a call whose worst case would pass the cap is not made (status ``skipped_budget``,
``error_class = 'CostCapExceeded'``, the reason in ``error_message``). Reading the ledger keeps
the caps exact across crashes: a pending row of a dead process becomes ``interrupted`` at its
reserved cost, so it still counts. Concurrent admissions of one scope are serialised by a
transaction-level advisory lock on the scope, held until the pending row's reservation commits.
"""

from __future__ import annotations

from uuid import UUID

import psycopg

_SCOPES = (("content request", "content_request_id"), ("topic", "topic_id"))


def lock_keys(*, content_request_id: UUID | None, request_cap_usd: float | None, topic_id: UUID | None,
              topic_cap_usd: float | None) -> list[str]:
    """The advisory-lock keys of the scopes whose caps a call is checked against."""
    return [f"cap:{column}:{key}" for (_, column), key, cap in zip(
        _SCOPES, (content_request_id, topic_id), (request_cap_usd, topic_cap_usd), strict=True)
        if key is not None and cap is not None]


def lock(conn: psycopg.Connection, key: str) -> None:
    """Serialise a scope's admissions until the transaction ends (taking it again later is a no-op)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 17))", (key,))


def check(conn: psycopg.Connection, *, content_request_id: UUID | None, request_cap_usd: float | None,
          topic_id: UUID | None, topic_cap_usd: float | None, amount_usd: float, own_pending_id: int | None,
          other_ids: list[int] | None = None) -> str | None:
    """None when the call fits every cap, else the reason it is not made. ``other_ids``: pending rows
    of the same admission batch still to be decided after this call, not counted (see LLMClient._admit_many)."""
    for (label, column), key, cap in zip(_SCOPES, (content_request_id, topic_id), (request_cap_usd, topic_cap_usd),
                                         strict=True):
        if key is None or cap is None:
            continue
        lock(conn, f"cap:{column}:{key}")
        spent = float(conn.execute(
            f"""SELECT coalesce(sum(CASE WHEN status = 'pending' THEN reserved_usd ELSE cost_usd END), 0)
                FROM ai_usage WHERE {column} = %s AND id <> coalesce(%s, -1) AND id <> ALL(%s::bigint[])""",
            (key, own_pending_id, list(other_ids or ()))).fetchone()[0])
        if spent + amount_usd > cap + 1e-12:
            return (f"{label} cost cap: worst case ${amount_usd:.6f} + ${spent:.6f} already spent or held "
                    f"> cap ${cap:.6f} for {label} {key}")
    return None
