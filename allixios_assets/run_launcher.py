"""The instance's run launcher: Dagster's DefaultRunLauncher plus a run-worker health check.

Why: DefaultRunLauncher starts each run worker as a process of the code server but cannot tell
run monitoring whether that process still lives, so a run whose worker was killed (``kill -9``,
OOM, a crashed host process) stayed STARTED for ever and kept its ``llm`` pool slots — every later
content run then waited on "Step still blocked by limit for pool llm". With this launcher
(``dagster.yaml``: ``run_launcher``) the daemon's run monitoring asks each STARTED run's worker
whether it is alive: the worker's pid (from the run's RUN_START event) must exist, not be a
zombie, and have started before that event (so a recycled pid does not count). A dead worker's run
is marked failed, and ``run_monitoring.free_slots_after_run_end_seconds`` then frees its slots.
Without a daemon, ``allixios runs recover`` does the same at once (allixios_assets.recovery).

The check applies when the code server runs on this host (a workspace ``python_module``/
``python_file`` location started by the webserver, the daemon or the CLI — what Allixios ships).
A run whose code server is elsewhere reports UNKNOWN and is left alone; deployments across hosts
use the docker/k8s/ECS launchers, which have their own health checks.

Maximum run time: every run this launcher starts carries Dagster's ``dagster/max_runtime`` tag
(unless it was launched with one): the per-job value of ``max_runtime_seconds`` in ``dagster.yaml``
(``jobs``), else its ``default``. The daemon's run monitoring ends a run that passes it (cancel,
then failure "Exceeded maximum runtime of N seconds"); run tracking records that as the seed's
``WORKFLOW_TIMEOUT`` (sensors/run_tracking.py) and ``free_slots_after_run_end_seconds`` frees the
pool slots the run held. The tag is set at launch, not on the job definitions, so it covers every
job — schedules', sensors', the UI's, the CLI's and the API's runs alike — from one place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster import DefaultRunLauncher, Field, IntSource, Map
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, WorkerStatus
from dagster._core.storage.tags import MAX_RUNTIME_SECONDS_TAG

__all__ = ["AllixiosRunLauncher", "CheckRunHealthResult", "WorkerStatus", "check_worker", "max_runtime_for",
           "process_alive", "worker_of"]

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", ""}
PID_START_SLACK_S = 2.0  # the worker's start time vs its RUN_START event (clock resolution)
DEFAULT_MAX_RUNTIME_S = 7200  # a job dagster.yaml does not name; 0 = no limit


def worker_of(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """(pid, timestamp) of the run's latest RUN_START event: the process executing it."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_START, limit=1,
                                           ascending=False).records
    if not records:
        return None
    entry = records[0].event_log_entry
    pid = entry.dagster_event.pid if entry.dagster_event else None
    return (int(pid), entry.timestamp) if pid else None


def process_alive(pid: int, started_by: float) -> bool:
    """True when ``pid`` is a live (non-zombie) process that existed by ``started_by``."""
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return process.create_time() <= started_by + PID_START_SLACK_S
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _code_server_is_local(run: dg.DagsterRun) -> bool:
    info = run.tags.get(".dagster/grpc_info")
    if not info:
        return True  # a location the launcher started itself
    try:
        return str(json.loads(info).get("host", "")) in LOCAL_HOSTS
    except (ValueError, AttributeError):
        return False


def check_worker(instance: dg.DagsterInstance, run: dg.DagsterRun) -> CheckRunHealthResult:
    if not _code_server_is_local(run):
        return CheckRunHealthResult(WorkerStatus.UNKNOWN, "the run's code server is on another host")
    worker = worker_of(instance, run.run_id)
    if worker is None:
        return CheckRunHealthResult(WorkerStatus.UNKNOWN, "no run worker has reported its start yet")
    pid, started = worker
    if process_alive(pid, started):
        return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker process {pid} is alive", run_worker_id=str(pid))
    return CheckRunHealthResult(
        WorkerStatus.FAILED,
        f"run worker process {pid} is gone (killed or crashed); its steps will not finish",
        run_worker_id=str(pid),
    )


def max_runtime_for(job_name: str, limits: Mapping[str, Any] | None) -> int:
    """Seconds a run of ``job_name`` may take (``max_runtime_seconds`` config: jobs, then default)."""
    limits = limits or {}
    jobs = limits.get("jobs") or {}
    return int(jobs.get(job_name, limits.get("default", DEFAULT_MAX_RUNTIME_S)))


class AllixiosRunLauncher(DefaultRunLauncher):
    """DefaultRunLauncher whose run workers run monitoring can check and whose runs carry a
    maximum run time (see the module docstring)."""

    def __init__(self, inst_data=None, max_runtime_seconds: Mapping[str, Any] | None = None):
        super().__init__(inst_data=inst_data)
        self.max_runtime_seconds = dict(max_runtime_seconds or {})

    @classmethod
    def config_type(cls):
        return {
            "max_runtime_seconds": Field(
                {"default": Field(IntSource, is_required=False, default_value=DEFAULT_MAX_RUNTIME_S),
                 "jobs": Field(Map(str, int), is_required=False, default_value={})},
                is_required=False,
                description="dagster/max_runtime of each run: per job name, else the default (0 = no limit).",
            )
        }

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, max_runtime_seconds=config_value.get("max_runtime_seconds"))

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        seconds = max_runtime_for(run.job_name, self.max_runtime_seconds)
        if seconds > 0 and MAX_RUNTIME_SECONDS_TAG not in run.tags:
            self._instance.add_run_tags(run.run_id, {MAX_RUNTIME_SECONDS_TAG: str(seconds)})
            context = LaunchRunContext(dagster_run=self._instance.get_run_by_id(run.run_id),
                                       workspace=context.workspace)
        super().launch_run(context)

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        return check_worker(self._instance, run)
