"""Per-tenant AI budgets (daily and monthly, UTC) enforced before a call.

Running totals live in ``ai_spend`` (one row per tenant, period and period start): ``spent_usd``
grows with every ledger row's cost (`add_spend`, called by the ledger in the same transaction as
the row), ``reserved_usd`` holds open reservations. `reserve` locks the tenant's two current rows
(SELECT ... FOR UPDATE, always daily then monthly), so concurrent reservations from any number of
processes are serialised and cannot together pass a limit, and the check costs two row reads
however long the ledger is. `settle` runs in the transaction that writes the attempt's ledger row,
so spending is never counted twice or lost. Every reservation records its owner (host:pid:start,
see `owners`): the next reservation of its tenant releases those whose process is gone at once, and
those of owners it cannot check (another host) after RESERVATION_TTL. A reservation held by a call
that was in flight when its process died is not released but settled at its full amount, through
`ledger.recover_interrupted`: that call may have been paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

import psycopg

from allixios.errors import ValidationError

PERIODS = ("daily", "monthly")
RESERVATION_TTL = "30 minutes"
# the period rows a timestamp belongs to (UTC day, UTC month)
_STARTS_SQL = """SELECT 'daily'::text, (%(at)s AT TIME ZONE 'UTC')::date
                 UNION ALL SELECT 'monthly', date_trunc('month', %(at)s AT TIME ZONE 'UTC')::date"""
_NOW_STARTS_SQL = _STARTS_SQL.replace("%(at)s", "now()")


@dataclass(frozen=True)
class Reservation:
    id: int | None  # None: nothing was held (no budget, or refused)
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


def add_spend(conn: psycopg.Connection, tenant_id: UUID | None, cost_usd: float) -> None:
    """Count a ledger row's cost in the tenant's current day and month (same transaction as the row)."""
    if tenant_id is None or cost_usd <= 0:
        return
    conn.execute(
        f"""INSERT INTO ai_spend (tenant_id, period, period_start, spent_usd)
            SELECT %(t)s, p.period, p.start, %(cost)s FROM ({_NOW_STARTS_SQL}) AS p(period, start) ORDER BY p.period
            ON CONFLICT (tenant_id, period, period_start) DO UPDATE SET spent_usd = ai_spend.spent_usd + EXCLUDED.spent_usd""",
        {"t": tenant_id, "cost": cost_usd},
    )


def _current_rows(conn: psycopg.Connection, tenant_id: UUID, lock: bool) -> dict[str, tuple[float, float]]:
    now_starts = _NOW_STARTS_SQL
    if lock:
        conn.execute(
            f"""INSERT INTO ai_spend (tenant_id, period, period_start)
                SELECT %(t)s, p.period, p.start FROM ({now_starts}) AS p(period, start) ORDER BY p.period
                ON CONFLICT DO NOTHING""",
            {"t": tenant_id},
        )
    rows = conn.execute(
        f"""SELECT s.period, s.spent_usd, s.reserved_usd FROM ai_spend s
            JOIN ({now_starts}) AS p(period, start) ON p.period = s.period AND p.start = s.period_start
            WHERE s.tenant_id = %(t)s ORDER BY s.period {'FOR UPDATE OF s' if lock else ''}""",
        {"t": tenant_id},
    ).fetchall()
    return {r[0]: (float(r[1]), float(r[2])) for r in rows}


def _release(conn: psycopg.Connection, reservation_id: int, status: str, actual_usd: float) -> None:
    """Close a reservation and take its amount out of the reserved totals of the periods it was made in."""
    row = conn.execute(
        """UPDATE ai_budget_reservations SET status = %s, actual_usd = %s, settled_at = now()
           WHERE id = %s AND status = 'reserved' RETURNING tenant_id, reserved_usd, created_at""",
        (status, actual_usd, reservation_id),
    ).fetchone()
    if row is None:
        return  # already closed (e.g. released as stale)
    tenant_id, amount, created_at = row
    params = {"t": tenant_id, "amount": amount, "at": created_at}
    # lock in the same order as reserve (daily, then monthly) so the two never deadlock
    conn.execute(
        f"""SELECT 1 FROM ai_spend s JOIN ({_STARTS_SQL}) AS p(period, start)
              ON s.period = p.period AND s.period_start = p.start
            WHERE s.tenant_id = %(t)s ORDER BY s.period FOR UPDATE OF s""",
        params,
    )
    conn.execute(
        f"""UPDATE ai_spend s SET reserved_usd = greatest(0, s.reserved_usd - %(amount)s)
            FROM ({_STARTS_SQL}) AS p(period, start)
            WHERE s.tenant_id = %(t)s AND s.period = p.period AND s.period_start = p.start""",
        params,
    )


def close_reservation(conn: psycopg.Connection, reservation_id: int, status: str, actual_usd: float) -> None:
    _release(conn, reservation_id, status, actual_usd)


def _release_stale(conn: psycopg.Connection, tenant_id: UUID) -> None:
    """Release reservations whose owner is gone (now) or cannot be checked and is past the TTL."""
    from allixios.ai import ledger, owners

    ledger.recover_interrupted(conn, tenant_id=tenant_id, ttl=RESERVATION_TTL)  # in-flight calls: counted as paid
    rows = conn.execute(
        f"""SELECT id, owner, created_at < now() - interval '{RESERVATION_TTL}' FROM ai_budget_reservations
            WHERE tenant_id = %s AND status = 'reserved' ORDER BY id""",
        (tenant_id,),
    ).fetchall()
    for rid, owner, expired in rows:
        if expired or not owners.is_alive(owner):
            _release(conn, rid, "released", 0)


def budget_status(conn: psycopg.Connection, tenant_id: UUID) -> list[BudgetStatus]:
    limits = conn.execute("SELECT period, limit_usd FROM ai_budgets WHERE tenant_id = %s ORDER BY period", (tenant_id,)).fetchall()
    current = _current_rows(conn, tenant_id, lock=False)
    return [BudgetStatus(tenant_id, period, float(limit), *current.get(period, (0.0, 0.0))) for period, limit in limits]


def reserve(conn: psycopg.Connection, tenant_id: UUID, request_id: str, amount_usd: float,
            owner: str | None = None, run_id: str | None = None) -> Reservation:
    """Hold ``amount_usd`` for a call, or refuse because a daily/monthly limit would be passed.
    Commit right after: the tenant's period rows stay locked until the transaction ends.
    """
    held = TenantReservations(conn, tenant_id, owner=owner)
    refused = held.ask(request_id, amount_usd, run_id=run_id)
    return refused if refused is not None else held.commit()[0]


class TenantReservations:
    """Reservations of one tenant decided in one transaction (a step's admissions, issue 19).

    Opening locks the tenant's current period rows once (SELECT ... FOR UPDATE, daily then monthly,
    which serialises it with every other process's reservations) and releases stale holds; `ask`
    then decides each call in order against limit - spent - reserved - what this batch already
    holds, exactly as one `reserve` after another would; `commit` adds the sum to the reserved
    totals in one UPDATE and writes the granted reservations in one INSERT. A call that does not
    fit gets the refusal `reserve` gives; smaller ones after it may still fit.
    """

    def __init__(self, conn: psycopg.Connection, tenant_id: UUID | None, owner: str | None = None):
        self.conn, self.tenant_id = conn, tenant_id
        if owner is None:
            from allixios.ai.owners import current_owner
            owner = current_owner()
        self.owner = owner
        self.asks: list[tuple[str, float, str | None]] = []
        self.held = 0.0
        self.limits = {} if tenant_id is None else {p: float(v) for p, v in conn.execute(
            "SELECT period, limit_usd FROM ai_budgets WHERE tenant_id = %s", (tenant_id,)).fetchall()}
        self.current: dict[str, tuple[float, float]] = {}
        if self.limits:
            _current_rows(conn, tenant_id, lock=True)  # serialises this tenant's reservations
            _release_stale(conn, tenant_id)
            self.current = _current_rows(conn, tenant_id, lock=False)  # after stale releases; still locked by us

    def ask(self, request_id: str, amount_usd: float, run_id: str | None = None) -> Reservation | None:
        """None: held (written by `commit`); else the refusal."""
        for period in PERIODS:
            if period not in self.limits:
                continue
            limit = self.limits[period]
            spent, reserved = self.current.get(period, (0.0, 0.0))
            if spent + reserved + self.held + amount_usd > limit + 1e-12:
                left = max(0.0, limit - spent - reserved - self.held)
                return Reservation(None, False, amount_usd,
                                   f"{period} budget: estimate ${amount_usd:.6f} > ${left:.6f} left of ${limit:.4f}")
        self.asks.append((request_id, amount_usd, run_id))
        if self.limits:
            self.held += amount_usd
        return None

    def commit(self) -> list[Reservation]:
        """The granted reservations, in the order they were asked for."""
        if not self.limits or not self.asks:
            return [Reservation(None, True, amount) for _, amount, _ in self.asks]
        self.conn.execute(
            f"""UPDATE ai_spend s SET reserved_usd = s.reserved_usd + %(amount)s
                FROM ({_NOW_STARTS_SQL}) AS p(period, start)
                WHERE s.tenant_id = %(t)s AND s.period = p.period AND s.period_start = p.start""",
            {"t": self.tenant_id, "amount": self.held},
        )
        # ids come from one sequence in insertion order, which ORDER BY ord fixes
        ids = sorted(r[0] for r in self.conn.execute(
            """INSERT INTO ai_budget_reservations (tenant_id, request_id, reserved_usd, owner, run_id)
               SELECT %s, v.request_id, v.amount, %s, v.run_id
               FROM unnest(%s::text[], %s::numeric[], %s::text[]) WITH ORDINALITY AS v(request_id, amount, run_id, ord)
               ORDER BY v.ord RETURNING id""",
            (self.tenant_id, self.owner, [a[0] for a in self.asks], [a[1] for a in self.asks],
             [a[2] for a in self.asks]),
        ).fetchall())
        return [Reservation(rid, True, amount) for rid, (_, amount, _) in zip(ids, self.asks, strict=True)]


def settle(conn: psycopg.Connection, reservation: Reservation | None, actual_usd: float) -> None:
    """Close a reservation with the actual cost (the ledger row adds that cost to ai_spend)."""
    if reservation is None or reservation.id is None:
        return
    _release(conn, reservation.id, "settled" if actual_usd > 0 else "released", actual_usd)
