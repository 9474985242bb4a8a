"""Recover from runs whose process is gone: fail them, free their pool slots, mirror them.

What the daemon does continuously (run monitoring with AllixiosRunLauncher's worker health check,
then ``free_slots_after_run_end_seconds``), done at once for an operator without a daemon:
``allixios runs recover``. Safe to run at any time: a live run is left alone, a finished run's
slots are only freed once it has ended.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg
from dagster._core.launcher import WorkerStatus

from allixios_assets.run_launcher import check_worker

IN_FLIGHT = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


@dataclass
class Recovery:
    failed_runs: list[dict] = field(default_factory=list)  # {run_id, job, reason}
    freed_slots: list[str] = field(default_factory=list)  # run ids whose slots were freed
    checked: int = 0


def free_finished_slots(instance: dg.DagsterInstance, run_ids: set[str] | None = None) -> list[str]:
    """Free pool slots still held (or waited for) by runs that have finished; returns their ids."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    holders = storage.get_concurrency_run_ids()
    if run_ids is not None:
        holders &= set(run_ids)
    freed = []
    for run_id in sorted(holders):
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            storage.free_concurrency_slots_for_run(run_id)
            freed.append(run_id)
    return freed


def recover(instance: dg.DagsterInstance) -> Recovery:
    out = Recovery()
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=IN_FLIGHT)):
        run = record.dagster_run
        out.checked += 1
        health = check_worker(instance, run)
        if health.status != WorkerStatus.FAILED:
            continue
        reason = f"{health.msg}; marked failed by `allixios runs recover`"
        instance.report_run_failed(run, reason)
        out.failed_runs.append({"run_id": run.run_id, "job": run.job_name, "reason": health.msg})
    out.freed_slots = free_finished_slots(instance)
    mirror_runs(instance, {r["run_id"] for r in out.failed_runs} | set(out.freed_slots))
    return out


def mirror_runs(instance: dg.DagsterInstance, run_ids: set[str]) -> None:
    """workflow_executions rows for these runs now, without waiting for the daemon's
    workflow_executions_sensor (none runs under `make run`)."""
    if not run_ids:
        return
    from allixios.automation.executions import record_run
    from allixios.db.engine import connect
    from sensors.run_tracking import run_record

    with connect() as conn:
        for record in instance.get_run_records(filters=dg.RunsFilter(run_ids=sorted(run_ids))):
            record_run(conn, run_record(instance, record))
