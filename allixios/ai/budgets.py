"""Per-tenant AI budgets (daily and monthly, UTC) enforced before a call.

Spent = cost in the ai_usage ledger for the period + reservations still open. `reserve` takes a
transaction-scoped advisory lock per tenant, so concurrent reservations from any number of
processes are serialised and cannot together pass the limit; the reservation is settled in the
same transaction that writes the attempt's ledger row, so spending is never counted twice or lost.
A reservation left open by a crashed process stops counting after RESERVATION_TTL.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

import psycopg

from allixios.errors import ValidationError

PERIODS = ("daily", "monthly")
RESERVATION_TTL = "30 minutes"
_PERIOD_START = {"daily": "date_trunc('day', now(), 'UTC')", "monthly": "date_trunc('month', now(), 'UTC')"}


@dataclass(frozen=True)
class Reservation:
    id: int | None  # None: the tenant has no budget, nothing was held
    granted: bool
    amount_usd: float
    reason: str | None = None  # why it was refused


@dataclass(frozen=True)
class BudgetStatus:
    tenant_id: UUID
    period: str
    limit_usd: float
    spent_usd: float
    reserved_usd: float

    @property
    def remaining_usd(self) -> float:
        return max(0.0, self.limit_usd - self.spent_usd - self.reserved_usd)


def set_budget(conn: psycopg.Connection, tenant_id: UUID, daily_usd: float | None = None,
               monthly_usd: float | None = None) -> None:
    """Set (or change) limits; a period left as None keeps its current value."""
    if daily_usd is None and monthly_usd is None:
        raise ValidationError("no budget given", fix="pass --daily and/or --monthly in USD")
    for period, value in (("daily", daily_usd), ("monthly", monthly_usd)):
        if value is None:
            continue
        if value < 0:
            raise ValidationError(f"{period} budget {value} is negative", fix="use 0 or a positive amount in USD")
        conn.execute(
            """INSERT INTO ai_budgets (tenant_id, period, limit_usd) VALUES (%s, %s, %s)
               ON CONFLICT (tenant_id, period) DO UPDATE SET limit_usd = EXCLUDED.limit_usd, updated_at = now()""",
            (tenant_id, period, Decimal(str(value))),
        )


def clear_budget(conn: psycopg.Connection, tenant_id: UUID, period: str | None = None) -> None:
    conn.execute("DELETE FROM ai_budgets WHERE tenant_id = %s AND (%s::text IS NULL OR period = %s)",
                 (tenant_id, period, period))


def _spent(conn: psycopg.Connection, tenant_id: UUID, period: str) -> tuple[float, float]:
    start = _PERIOD_START[period]
    row = conn.execute(
        f"""SELECT (SELECT coalesce(sum(cost_usd), 0) FROM ai_usage
                     WHERE tenant_id = %s AND created_at >= {start}),
                   (SELECT coalesce(sum(reserved_usd), 0) FROM ai_budget_reservations
                     WHERE tenant_id = %s AND status = 'reserved' AND created_at >= {start}
                       AND created_at > now() - interval '{RESERVATION_TTL}')""",
        (tenant_id, tenant_id),
    ).fetchone()
    return float(row[0]), float(row[1])


def budget_status(conn: psycopg.Connection, tenant_id: UUID) -> list[BudgetStatus]:
    limits = conn.execute("SELECT period, limit_usd FROM ai_budgets WHERE tenant_id = %s ORDER BY period", (tenant_id,)).fetchall()
    out = []
    for period, limit in limits:
        spent, reserved = _spent(conn, tenant_id, period)
        out.append(BudgetStatus(tenant_id, period, float(limit), spent, reserved))
    return out


def reserve(conn: psycopg.Connection, tenant_id: UUID, request_id: str, amount_usd: float) -> Reservation:
    """Hold ``amount_usd`` for a call, or refuse because a daily/monthly limit would be passed.

    Commit right after (the advisory lock is held until the end of the transaction).
    """
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('allixios.ai_budget:' || %s::text, 0))", (tenant_id,))
    limits = conn.execute("SELECT period, limit_usd FROM ai_budgets WHERE tenant_id = %s", (tenant_id,)).fetchall()
    if not limits:
        return Reservation(None, True, amount_usd)
    for period, limit in sorted(limits):
        spent, reserved = _spent(conn, tenant_id, period)
        if spent + reserved + amount_usd > float(limit) + 1e-12:
            left = max(0.0, float(limit) - spent - reserved)
            return Reservation(None, False, amount_usd,
                               f"{period} budget: estimate ${amount_usd:.6f} > ${left:.6f} left of ${float(limit):.4f}")
    rid = conn.execute(
        "INSERT INTO ai_budget_reservations (tenant_id, request_id, reserved_usd) VALUES (%s, %s, %s) RETURNING id",
        (tenant_id, request_id, amount_usd),
    ).fetchone()[0]
    return Reservation(rid, True, amount_usd)


def settle(conn: psycopg.Connection, reservation: Reservation | None, actual_usd: float) -> None:
    """Close a reservation with the actual cost (its ledger row is written in the same transaction)."""
    if reservation is None or reservation.id is None:
        return
    conn.execute(
        """UPDATE ai_budget_reservations SET status = CASE WHEN %s > 0 THEN 'settled' ELSE 'released' END,
                  actual_usd = %s, settled_at = now() WHERE id = %s AND status = 'reserved'""",
        (actual_usd, actual_usd, reservation.id),
    )
