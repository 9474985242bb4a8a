"""Run tracking (workflow_executions in step with Dagster runs) and run-failure alerts."""

import re
from datetime import UTC, datetime

import dagster as dg

from allixios.automation.alerts import failure_message, send_alert
from allixios.automation.executions import (
    WORKFLOW_FAILED,
    WORKFLOW_TIMEOUT,
    RunRecord,
    record_run,
    scrub_for_record,
)
from allixios_assets.run_meter import PEAK_RSS_KEY
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
MAX_NUMBERS_PER_ASSET = 12
# run monitoring's own words when a run passes its dagster/max_runtime (dagster/_daemon/monitoring/run_monitoring.py)
_TIMEOUT = re.compile(r"exceed(?:ed|ing) maximum runtime of (\d+) seconds", re.IGNORECASE)


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
    if status in ("failed", "cancelled"):
        error = failure_details(instance, run.run_id)
        if error["code"] == WORKFLOW_TIMEOUT:
            status = "failed"  # ended by run monitoring for its max runtime (it may land as canceled)
        elif status == "cancelled":
            error = None
    output, memory = (run_output(instance, run.run_id) if status in ("completed", "failed", "cancelled")
                      else (None, 0))
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
        output=output,
        memory_mb=memory,
    )


def run_output(instance: dg.DagsterInstance, run_id: str) -> tuple[dict, int]:
    """(output_data, peak memory MB) of a finished run, from its event log.

    output_data is a small summary of what the run produced: per asset its materializations and
    the sums of its numeric metadata (counts, scores, costs: numbers only, so no text of any row,
    prompt or secret can reach the record); asset checks passed/failed; steps succeeded/failed."""
    kinds = {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION,
             dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.ENGINE_EVENT}
    assets: dict[str, dict] = {}
    checks = {"passed": 0, "failed": 0}
    steps = {"succeeded": 0, "failed": 0}
    peak = 0
    for record in instance.get_records_for_run(run_id, of_type=kinds).records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        kind = event.event_type
        if kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            entry = assets.setdefault(materialization.asset_key.to_user_string(), {"materializations": 0})
            entry["materializations"] += 1
            if materialization.partition:
                entry.setdefault("partitions", set()).add(materialization.partition)
            numbers = entry.setdefault("metadata", {})
            for key, value in (materialization.metadata or {}).items():
                number = getattr(value, "value", None)
                if isinstance(number, bool) or not isinstance(number, int | float):
                    continue
                if key in numbers or len(numbers) < MAX_NUMBERS_PER_ASSET:
                    numbers[key] = round(numbers.get(key, 0) + number, 4)
        elif kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            checks["passed" if event.event_specific_data.passed else "failed"] += 1
        elif kind == dg.DagsterEventType.STEP_SUCCESS:
            steps["succeeded"] += 1
        elif kind == dg.DagsterEventType.STEP_FAILURE:
            steps["failed"] += 1
        elif kind == dg.DagsterEventType.ENGINE_EVENT and event.event_specific_data is not None:
            value = (getattr(event.event_specific_data, "metadata", None) or {}).get(PEAK_RSS_KEY)
            if value is not None and isinstance(getattr(value, "value", None), int | float):
                peak = max(peak, int(value.value))
    for entry in assets.values():
        if "partitions" in entry:
            entry["partitions"] = len(entry["partitions"])
        if not entry.get("metadata"):
            entry.pop("metadata", None)
    return {"assets": assets, "asset_checks": checks, "steps": steps}, peak


def root_cause(error) -> tuple[str, str]:
    """(class, message) of the innermost cause of a serialized error: the exception that started
    it, not the framework's wrappers (step execution error, retry requested, max retries exceeded).
    The message is scrubbed of secrets (it is stored and shown)."""
    while error.cause is not None or error.context is not None:
        error = error.cause if error.cause is not None else error.context
    message = (error.message or "").strip()
    prefix = f"{error.cls_name}: "  # serialized messages repeat the class name
    message = message.removeprefix(prefix) if error.cls_name else message
    return error.cls_name or "Error", scrub_for_record(message) or ""


def failure_details(instance: dg.DagsterInstance, run_id: str) -> dict:
    """error_details of a failed run: per failed step its root cause (a Failure's own description,
    which carries the fix, when there is one) and how often it was retried; plus the run's own
    failure message (e.g. run monitoring: the worker process is gone)."""
    retries: dict[str, int] = {}
    for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY):
        retries[e.step_key] = retries.get(e.step_key, 0) + 1
    steps = []
    root: dict | None = None
    for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)[:5]:
        data = e.dagster_event.step_failure_data if e.dagster_event else None
        if data is None or data.error is None:
            continue
        cls, message = root_cause(data.error)
        described = data.user_failure_data.description if data.user_failure_data else None
        steps.append({"step": e.step_key, "error_class": cls,
                      "error": scrub_for_record(described or f"{cls}: {message}"),
                      "retries": retries.get(e.step_key, 0)})
        root = root or {"step": e.step_key, "type": cls, "message": message}
    details: dict = {"code": WORKFLOW_FAILED, "steps": steps}
    run_failure = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    if run_failure and run_failure[-1].message:
        details["run"] = scrub_for_record(run_failure[-1].message)
    # ended by run monitoring for passing dagster/max_runtime: the seed's WORKFLOW_TIMEOUT (the
    # cancel and failure messages say so; the failure may be the "forcibly marked" one)
    ended = instance.all_logs(run_id, of_type={dg.DagsterEventType.RUN_CANCELING, dg.DagsterEventType.RUN_FAILURE})
    timeout = next((m for m in (_TIMEOUT.search(e.message or "") for e in ended) if m), None)
    if timeout:
        details["code"] = WORKFLOW_TIMEOUT
        details["max_runtime_seconds"] = int(timeout.group(1))
        root = {"step": root["step"] if root else None, "type": WORKFLOW_TIMEOUT,  # the step it hung in
                "message": f"the run passed its maximum run time of {timeout.group(1)} s (dagster/max_runtime) "
                           "and was ended by run monitoring"}
    if root is None and "run" in details:
        root = {"step": None, "type": "RunFailure", "message": details["run"]}
    details["root_cause"] = root
    return details


@dg.sensor(
    name="workflow_executions_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Mirrors every Dagster run into workflow_executions (status, progress, tokens, cost, duration, "
                "peak memory, output summary, errors with their root cause).",
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
