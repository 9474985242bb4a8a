"""Near-real-time mode: when the collector landed new rows for today, the analytics run of today follows.

The decision is plain Python (the sensor in sensors/collector_freshness.py only asks it): run
today's partition of ``analytics_job`` when the collector landed something after the last
near-real-time run started, and at most every ``ALLIXIOS_NEAR_REAL_TIME_MINUTES`` (default 2)
minutes, never while one is still queued or running. dbt stays on the one daily partition: a run
rebuilds today's window, exactly as the nightly run does for yesterday.

Freshness bound (page view -> row in the marts): the landing (every 2 s) + the sensor's tick (30 s)
+ the spacing (2 min) + one analytics run. With the defaults that is under 5 minutes as long as a
run of today's window takes under ~2 minutes (BENCHMARKS.md: collector freshness).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime

MINUTES_ENV = "ALLIXIOS_NEAR_REAL_TIME_MINUTES"
DEFAULT_MINUTES = 2.0


def spacing_s() -> float:
    return 60.0 * float(os.environ.get(MINUTES_ENV) or DEFAULT_MINUTES)


def last_landed(conn, day: date) -> datetime | None:
    """When the collector last landed rows of ``day`` (any tenant)."""
    return conn.execute("SELECT max(landed_at) FROM collector_landing WHERE day = %s", (day,)).fetchone()[0]


@dataclass(frozen=True)
class Decision:
    run: bool
    reason: str
    run_key: str | None = None


def decide(landed_at: datetime | None, last_run_at: datetime | None, busy: bool, now: datetime,
           day: date) -> Decision:
    """Whether to start today's analytics run now."""
    if landed_at is None:
        return Decision(False, f"the collector landed nothing for {day} yet")
    if last_run_at is not None and landed_at <= last_run_at:
        return Decision(False, f"no collector rows landed since the last run ({last_run_at:%H:%M:%S} UTC)")
    if busy:
        return Decision(False, f"the analytics run of {day} is still queued or running")
    if last_run_at is not None and (now - last_run_at).total_seconds() < spacing_s():
        return Decision(False, f"at most one near-real-time run every {spacing_s() / 60:g} min")
    return Decision(True, f"rows landed at {landed_at:%H:%M:%S} UTC", f"nrt:{day}:{landed_at.isoformat()}")


def today() -> date:
    return datetime.now(UTC).date()
