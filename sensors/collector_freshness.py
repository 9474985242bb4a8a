"""Near-real-time mode: the marts follow the collector (allixios/collector/freshness.py decides)."""

import os
from datetime import UTC, datetime

import dagster as dg

from allixios.collector import freshness
from resources.warehouse import WarehouseResource

TRIGGER = "near_real_time"
# a mode: off unless asked for (ALLIXIOS_NEAR_REAL_TIME=1 when the code location loads, or start it in the UI)
MODE_ENV = "ALLIXIOS_NEAR_REAL_TIME"


@dg.sensor(
    name="collector_freshness_sensor",
    job_name="analytics_job",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING if os.environ.get(MODE_ENV) == "1" else dg.DefaultSensorStatus.STOPPED,
    description="Near-real-time mode: when the collector landed new page views today, run today's analytics "
    "partition (load, dbt build of the day's window, KPIs), at most every $ALLIXIOS_NEAR_REAL_TIME_MINUTES "
    "(default 2) minutes and never while one is still queued or running.",
)
def collector_freshness_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    day = freshness.today()
    with warehouse.connection() as conn:
        landed_at = freshness.last_landed(conn, day)
    cursor = context.cursor or ""
    last_day, _, last_at = cursor.partition("|")
    last_run_at = datetime.fromisoformat(last_at) if last_day == day.isoformat() and last_at else None
    busy = bool(context.instance.get_run_records(
        dg.RunsFilter(job_name="analytics_job", tags={"allixios/trigger": TRIGGER}, statuses=[
            dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
            dg.DagsterRunStatus.STARTED]), limit=1))
    now = datetime.now(UTC)
    decision = freshness.decide(landed_at, last_run_at, busy, now, day)
    if not decision.run:
        return dg.SkipReason(decision.reason)
    context.update_cursor(f"{day.isoformat()}|{now.isoformat()}")
    return dg.RunRequest(run_key=decision.run_key, partition_key=day.isoformat(),
                         tags={"allixios/trigger": TRIGGER})
