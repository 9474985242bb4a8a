"""Which build of the marts each tenant's day is at (``analytics_builds``, migration 0009).

Every dbt build that rebuilt ``marts.mart_content_health`` ends with the ``on-run-end`` hook
``record_analytics_builds`` (dbt_project/macros/builds.sql): per tenant and day of its window it
fingerprints the day's health rows. A day whose rows changed gets a fresh ``build_seq`` from one
sequence; a rebuild that left them alike keeps its seq (and only counts itself in ``builds``). The
hook is in dbt so that every way of building (analytics_job, `allixios marts build`, plain dbt)
records alike. Readers keep a watermark: ``builds_since(conn, seq)`` lists the tenant-days built
since — a rebuilt day with changed rows comes back, an unchanged one does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg


@dataclass(frozen=True)
class Build:
    tenant_id: str
    day: date
    build_seq: int


def builds_since(conn: psycopg.Connection, after_seq: int, limit: int = 5000) -> list[Build]:
    """Tenant-days whose health rows changed in a build after ``after_seq``, oldest build first."""
    rows = conn.execute(
        """SELECT tenant_id::text, day, build_seq FROM analytics_builds
           WHERE build_seq > %s ORDER BY build_seq LIMIT %s""",
        (after_seq, limit),
    ).fetchall()
    return [Build(*r) for r in rows]


def latest_build_seq(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT coalesce(max(build_seq), 0) FROM analytics_builds").fetchone()[0]
