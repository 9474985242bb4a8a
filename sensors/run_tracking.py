"""Run tracking (workflow_executions in step with Dagster runs) and run-failure alerts."""

from datetime import UTC, datetime

import dagster as dg

from allixios.automation.alerts import failure_message, send_alert
from allixios.automation.executions import RunRecord, record_run
from resources.warehouse import WarehouseResource

_STATUS = {
    dg.DagsterRunStatus.QUEUED: "queued",
    dg.DagsterRunStatus.NOT_STARTED: "queued",
    dg.DagsterRunStatus.STARTING: "running",
    dg.DagsterRunStatus.STARTED: "running",
    dg.DagsterRunStatus.CANCELING: "running",
    dg.DagsterRunStatus.SUCCESS: "completed",
    dg.DagsterRunStatus.FAILURE: "failed",
    dg.DagsterRunStatus.CANCELED: "cancelled",
}
BATCH = 200


def _ts(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value else None


def run_record(instance: dg.DagsterInstance, record) -> RunRecord:
    run = record.dagster_run
    status = _STATUS.get(run.status, "queued")
    progress = 100 if status == "completed" else 0
    error = None
    if status in ("running", "failed"):
        stats = instance.get_run_stats(run.run_id)
        done, failed = stats.steps_succeeded, stats.steps_failed
        planned = len(run.step_keys_to_execute or []) or (done + failed) or 1
        progress = min(99, int(100 * done / planned)) if status == "running" else int(100 * done / planned)
    if status == "failed":
        error = failure_details(instance, run.run_id)
    tags = dict(run.tags)
    return RunRecord(
        run_id=run.run_id,
        job_name=run.job_name,
        status=status,
        tags=tags,
        started_at=_ts(record.start_time),
        completed_at=_ts(record.end_time) if status in ("completed", "failed", "cancelled") else None,
        progress=progress,
        error=error,
        # a re-execution's parent, else the run whose output a sensor acted on (allixios/parent_run_id)
        parent_run_id=tags.get("dagster/parent_run_id") or tags.get("allixios/parent_run_id"),
        tenant_slug=tags.get("allixios/tenant") or (tags.get("dagster/partition/niche", "").split(".")[0] or None),
    )


def root_cause(error) -> tuple[str, str]:
    """(class, message) of the innermost cause of a serialized error: the exception that started
    it, not the framework's wrappers (step execution error, retry requested, max retries exceeded)."""
    while error.cause is not None:
        error = error.cause
    return error.cls_name or "Error", " ".join((error.message or "").split())


def failure_details(instance: dg.DagsterInstance, run_id: str) -> dict:
    """error_details of a failed run: per failed step its root cause (a Failure's own description,
    which carries the fix, when there is one) and how often it was retried; plus the run's own
    failure message (e.g. run monitoring: the worker process is gone)."""
    retries: dict[str, int] = {}
    for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY):
        retries[e.step_key] = retries.get(e.step_key, 0) + 1
    steps = []
    for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)[:5]:
        data = e.dagster_event.step_failure_data if e.dagster_event else None
        if data is None or data.error is None:
            continue
        cls, message = root_cause(data.error)
        described = data.user_failure_data.description if data.user_failure_data else None
        steps.append({"step": e.step_key, "error_class": cls, "error": (described or f"{cls}: {message}")[:500],
                      "retries": retries.get(e.step_key, 0)})
    run_failure = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    details: dict = {"steps": steps}
    if run_failure and run_failure[-1].message:
        details["run"] = " ".join(run_failure[-1].message.split())[:500]
    return details


@dg.sensor(
    name="workflow_executions_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Mirrors every Dagster run into workflow_executions (status, progress, tokens, cost, duration, errors).",
)
def workflow_executions_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    since = float(context.cursor) if context.cursor else 0.0
    records = context.instance.get_run_records(
        filters=dg.RunsFilter(updated_after=datetime.fromtimestamp(since, UTC)) if since else None,
        limit=BATCH,
        order_by="update_timestamp",
        ascending=True,
    )
    if not records:
        return dg.SkipReason("no run changed since the last tick")
    with warehouse.connection() as conn:
        for record in records:
            record_run(conn, run_record(context.instance, record))
    newest = max(r.update_timestamp.timestamp() for r in records)
    context.update_cursor(str(newest))
    return dg.SkipReason(f"recorded {len(records)} run(s)")


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=True,
    description="Logs every failed run and posts it to ALLIXIOS_ALERT_WEBHOOK_URL (Slack-compatible) when set.",
)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, warehouse: WarehouseResource):
    run = context.dagster_run
    message = failure_message(run.job_name, run.run_id, context.failure_event.message)
    with warehouse.connection() as conn:
        send_alert(conn, run.run_id, run.job_name, message)
