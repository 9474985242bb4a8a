"""Where the daily partitions begin: a configured day, else the first day of data.

The Dagster partitions are defined when the code location loads, which must not query the
database. So the start is read from ``ALLIXIOS_PARTITIONS_START`` (YYYY-MM-DD); the commands that
serve Dagster (`allixios dev`) set it, when unset, to the first day the database has data for
(``pin_to_first_day_of_data``), and the processes they start inherit it. With neither, the
partitions begin ``DEFAULT_LOOKBACK_DAYS`` before today (UTC): a fresh clone sees a week, not a
constant date months back with every partition "missing".
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

from allixios.errors import ConfigError

START_ENV = "ALLIXIOS_PARTITIONS_START"
RUN_DATE_ENV = "ALLIXIOS_RUN_DATE"  # the day `make run` materializes (README)
DEFAULT_LOOKBACK_DAYS = 7


def configured_start() -> date | None:
    raw = os.environ.get(START_ENV, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"{START_ENV} is not a day ({raw!r})", fix=f"set {START_ENV}=YYYY-MM-DD, or unset it") from None


def partitions_start(today: date | None = None) -> date:
    """The first partition day: ALLIXIOS_PARTITIONS_START, else a week before today (UTC) or
    before ALLIXIOS_RUN_DATE when that is earlier (so `make run` for a past day has its days)."""
    configured = configured_start()
    if configured:
        return configured
    today = today or datetime.now(UTC).date()
    run_date = os.environ.get(RUN_DATE_ENV, "").strip()
    if run_date:
        try:
            today = min(today, date.fromisoformat(run_date))
        except ValueError:
            pass  # the runner reports a bad ALLIXIOS_RUN_DATE itself
    return today - timedelta(days=DEFAULT_LOOKBACK_DAYS)


def first_day_of_data(conn) -> date | None:
    """The earliest day any tenant has data for: events, articles or topics (None when empty)."""
    row = conn.execute(
        """SELECT least(
               (SELECT min(event_date) FROM raw.page_events),
               (SELECT min(event_date) FROM raw.revenue_events),
               (SELECT min((created_at AT TIME ZONE 'UTC')::date) FROM articles),
               (SELECT min((created_at AT TIME ZONE 'UTC')::date) FROM topics))"""
    ).fetchone()
    return row[0] if row else None


def pin_to_first_day_of_data(conn) -> date:
    """Set ALLIXIOS_PARTITIONS_START (if unset) to the first day of data, for this process and the
    ones it starts; returns the start in force."""
    configured = configured_start()
    if configured:
        return configured
    start = first_day_of_data(conn) or partitions_start()
    os.environ[START_ENV] = start.isoformat()
    return start
