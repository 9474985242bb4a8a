"""Circuit breakers per deployment, shared by every process through the circuit_breakers table.

closed    calls go through; each provider failure (5xx, timeout, connection, unreadable body) adds
          one to consecutive_failures, a success resets it; at the threshold the circuit opens.
open      calls skip the deployment (ai_usage status circuit_open) until the cooldown has passed.
half_open exactly one caller (the one whose UPDATE wins) probes; success closes the circuit,
          failure re-opens it for another cooldown. A probe that never reports back (crashed
          process) is taken over after another cooldown.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass(frozen=True)
class Permit:
    allowed: bool
    probe: bool = False  # this caller is the half-open probe
    state: str = CLOSED


def acquire(conn: psycopg.Connection, deployment_id: str, cooldown_s: float) -> Permit:
    row = conn.execute("SELECT state FROM circuit_breakers WHERE deployment_id = %s", (deployment_id,)).fetchone()
    if row is None or row[0] == CLOSED:
        return Permit(True)
    # open past its cooldown, or a half-open probe that went silent: one caller wins the probe
    won = conn.execute(
        """UPDATE circuit_breakers SET state = 'half_open', updated_at = clock_timestamp()
           WHERE deployment_id = %s AND (
                 (state = 'open' AND opened_at <= clock_timestamp() - make_interval(secs => %s))
              OR (state = 'half_open' AND updated_at <= clock_timestamp() - make_interval(secs => %s)))
           RETURNING 1""",
        (deployment_id, cooldown_s, cooldown_s),
    ).fetchone()
    if won:
        return Permit(True, probe=True, state=HALF_OPEN)
    return Permit(False, state=row[0])


def record_success(conn: psycopg.Connection, deployment_id: str) -> None:
    conn.execute(
        """INSERT INTO circuit_breakers (deployment_id, state, consecutive_failures) VALUES (%s, 'closed', 0)
           ON CONFLICT (deployment_id) DO UPDATE SET state = 'closed', consecutive_failures = 0, opened_at = NULL,
                  updated_at = clock_timestamp()
           WHERE circuit_breakers.state <> 'closed' OR circuit_breakers.consecutive_failures <> 0""",
        (deployment_id,),
    )


def record_failure(conn: psycopg.Connection, deployment_id: str, error_class: str, threshold: int) -> str:
    """Count a provider failure; returns the circuit's state afterwards."""
    row = conn.execute(
        """INSERT INTO circuit_breakers AS cb (deployment_id, state, consecutive_failures, opened_at, last_error_class)
           VALUES (%(id)s, CASE WHEN 1 >= %(n)s THEN 'open' ELSE 'closed' END, 1,
                   CASE WHEN 1 >= %(n)s THEN clock_timestamp() END, %(err)s)
           ON CONFLICT (deployment_id) DO UPDATE SET
               consecutive_failures = cb.consecutive_failures + 1,
               last_error_class = %(err)s,
               updated_at = clock_timestamp(),
               state = CASE WHEN cb.state = 'half_open' OR cb.consecutive_failures + 1 >= %(n)s THEN 'open' ELSE cb.state END,
               opened_at = CASE WHEN cb.state <> 'open' AND (cb.state = 'half_open' OR cb.consecutive_failures + 1 >= %(n)s)
                                THEN clock_timestamp() ELSE cb.opened_at END
           RETURNING state""",
        {"id": deployment_id, "n": threshold, "err": error_class},
    ).fetchone()
    return row[0]


def blocked(conn: psycopg.Connection, cooldown_s: float) -> dict[str, str]:
    """Deployments no caller may use right now: open within the cooldown, or half-open with a live probe."""
    rows = conn.execute(
        """SELECT deployment_id, state FROM circuit_breakers
           WHERE (state = 'open' AND opened_at > clock_timestamp() - make_interval(secs => %s))
              OR (state = 'half_open' AND updated_at > clock_timestamp() - make_interval(secs => %s))""",
        (cooldown_s, cooldown_s),
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def states(conn: psycopg.Connection) -> dict[str, dict]:
    from allixios.db.engine import fetch_dicts

    rows = fetch_dicts(conn, "SELECT deployment_id, state, consecutive_failures, opened_at, last_error_class FROM circuit_breakers")
    return {r["deployment_id"]: r for r in rows}


def reset(conn: psycopg.Connection, deployment_id: str | None = None) -> None:
    conn.execute("DELETE FROM circuit_breakers WHERE %s::text IS NULL OR deployment_id = %s", (deployment_id, deployment_id))
