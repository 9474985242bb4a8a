"""Launch Dagster runs through the code location, as the webserver and the daemon do.

Every run the CLI (`make run`, `allixios run`) or the API starts goes through here, never through
``execute_in_process``: the run is created from the *remote* job (the code location loaded from
``workspace.yaml`` in its own code-server process), so it carries a job origin, appears in the
UI's timeline and the job's run list, and re-executes from the UI like any daemon-launched run.

Who dequeues (``dagster.yaml`` uses the QueuedRunCoordinator):

* a ``dagster-daemon`` is running (``make dev``; detected by its queue heartbeat): the run is
  *submitted* to the queue and the daemon launches it under the run-level limits
  (``max_concurrent_runs``, ``tag_concurrency_limits``);
* no daemon (a plain ``make run``): a queued run would wait for ever, so the launcher hands the run
  straight to the instance's run launcher (``instance.launch_run``), bypassing the run queue only.
  Pool limits (``pool="llm"``) still hold: the run worker claims pool slots per step from the
  instance's storage whoever launched it. The CLI starts its runs one at a time.

A run still QUEUED when ``wait`` looks at it and no daemon is alive any more is launched the same
way, so a daemon that stops does not strand CLI runs.

API (stable)::

    run_id = launch("content_job", partition_key=key, tags={...})
    status = wait(run_id, timeout=600)        # -> DagsterRunStatus (terminal, or current on timeout)
    cancel(run_id)

The module-level functions share one process-wide :class:`Launcher` (one code server, started on
first use, stopped at interpreter exit); use ``with Launcher() as l:`` to control its lifetime.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dagster as dg

from allixios.errors import ConfigError, NotFoundError, ValidationError

LOCATION_NAME = "allixios"
POLL_SECONDS = 0.5
HEALTH_CHECK_SECONDS = 10.0
CLOSE_WAIT_SECONDS = 30.0
QUEUE_DAEMON = "QUEUED_RUN_COORDINATOR"
DAEMON_HEARTBEAT_TOLERANCE_S = 60  # beyond the 30 s heartbeat interval


def daemon_dequeues(instance: dg.DagsterInstance) -> bool:
    """True when a live dagster-daemon is dequeuing runs (a recent queue-coordinator heartbeat)."""
    from dagster._daemon.controller import get_daemon_statuses

    # Dagster's own tolerance is 30 minutes (for the UI's health page): far too long to decide who
    # launches a run — a daemon stopped 5 minutes ago would leave the run queued for ever
    status = get_daemon_statuses(instance, [QUEUE_DAEMON], ignore_errors=True,
                                 heartbeat_tolerance_seconds=DAEMON_HEARTBEAT_TOLERANCE_S).get(QUEUE_DAEMON)
    return bool(status and status.required and status.healthy)


def forget_stopped_daemon() -> None:
    """Wipe the daemon heartbeats a daemon that has just stopped left behind (`make dev` calls this).

    Otherwise, for up to a minute, a CLI launch would take the heartbeat for a live daemon and queue
    its run for nobody; with them gone, the launcher launches directly at once."""
    from allixios_assets.instance import get_instance

    get_instance().wipe_daemon_heartbeats()


@contextlib.contextmanager
def _child_output(path):
    """Processes spawned inside inherit ``path`` as stdout/stderr (the code server starts here, and
    its run workers inherit from it); this process's own streams are restored on exit."""
    if path is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab") as out:
        try:
            os.dup2(out.fileno(), 1)
            os.dup2(out.fileno(), 2)
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


class Launcher:
    """A loaded workspace (the code location in its code server) plus the instance to launch on."""

    def __init__(self, instance: dg.DagsterInstance | None = None, workspace_file: str | None = None,
                 location_name: str = LOCATION_NAME, output_file: str | os.PathLike | None = None):
        """``output_file``: where the code server and the run workers it starts write their stdout and
        stderr (framework logs, dbt's lines); default: this process's own."""
        self._instance = instance
        self._output_file = output_file
        self._workspace_file = workspace_file
        self._location_name = location_name
        self._context = None
        self._code_servers: list = []
        self._lock = threading.Lock()

    # -- lifetime -----------------------------------------------------------------------------------
    def __enter__(self) -> Launcher:
        self._ensure_context()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self, wait_s: float = CLOSE_WAIT_SECONDS) -> None:
        """Stop the code server; wait up to ``wait_s`` for it to exit (it first lets the run workers
        it started finish, so a caller that waited for its runs leaves no process behind)."""
        with self._lock:
            if self._context is not None:
                self._context.__exit__(None, None, None)
                self._context = None
                import psutil

                alive = [p for p in self._code_servers if p.is_running()]
                if alive and wait_s > 0:
                    psutil.wait_procs(alive, timeout=wait_s)
                self._code_servers = []

    @property
    def instance(self) -> dg.DagsterInstance:
        if self._instance is None:
            from allixios_assets.instance import get_instance

            self._instance = get_instance()
        return self._instance

    def _ensure_context(self):
        from dagster._core.workspace.context import WorkspaceProcessContext
        from dagster._core.workspace.load_target import WorkspaceFileTarget

        with self._lock:
            if self._context is None:
                from allixios import settings

                path = self._workspace_file or str(settings.repo_path("workspace.yaml"))
                import psutil

                before = {p.pid for p in psutil.Process().children()}
                with _child_output(self._output_file):
                    # the code server's own INFO lines would interleave with the CLI's output
                    context = WorkspaceProcessContext(self.instance, WorkspaceFileTarget(paths=[path]),
                                                      code_server_log_level="WARNING")
                    context.__enter__()
                self._code_servers = [p for p in psutil.Process().children() if p.pid not in before]
                self._context = context
            return self._context

    def request_context(self):
        """A fresh workspace request context (what the webserver hands GraphQL resolvers)."""
        return self._ensure_context().create_request_context()

    def _code_location(self):
        request = self.request_context()
        entry = request.get_location_entry(self._location_name)
        if entry is None:
            raise ConfigError(f"code location {self._location_name!r} is not in the workspace",
                              fix="check workspace.yaml (location_name)")
        if entry.load_error is not None:
            # the code location failed to import: surface its own one-line message
            raise ConfigError(f"the code location {self._location_name!r} failed to load: "
                              f"{entry.load_error.message.strip().splitlines()[-1]}",
                              fix="run `allixios prepare`, then fix the error shown")
        return request, request.get_code_location(self._location_name)

    # -- API ----------------------------------------------------------------------------------------
    def launch(self, job_name: str, *, partition_key: str | None = None, tags: Mapping[str, str] | None = None,
               run_config: Mapping[str, Any] | None = None,
               asset_selection: Sequence[dg.AssetKey | str] | None = None) -> str:
        """Create a run of ``job_name`` from the code location and start it; returns the run id."""
        from dagster._core.definitions.selector import JobSubsetSelector

        instance = self.instance
        request, location = self._code_location()
        repo = next(iter(location.get_repositories().values()))
        if not repo.has_job(job_name):
            raise NotFoundError(f"no job named {job_name!r} in the code location",
                                fix=f"use one of: {', '.join(sorted(j.name for j in repo.get_all_jobs()))}")
        keys = frozenset(dg.AssetKey.from_user_string(k) if isinstance(k, str) else k
                         for k in asset_selection) if asset_selection else None
        selector = JobSubsetSelector(location_name=location.name, repository_name=repo.name, job_name=job_name,
                                     op_selection=None, asset_selection=keys)
        remote_job = location.get_job(selector)
        config = dict(run_config or {})
        plan = location.get_execution_plan(remote_job, config, step_keys_to_execute=None, known_state=None,
                                           instance=instance).execution_plan_snapshot
        run_tags = {**remote_job.tags, **(tags or {})}
        if partition_key is not None:
            run_tags.update(self._partition_tags(repo, job_name, str(partition_key)))
        run = instance.create_run(
            job_name=remote_job.name, run_id=None, run_config=config, status=dg.DagsterRunStatus.NOT_STARTED,
            tags=run_tags, root_run_id=None, parent_run_id=None, step_keys_to_execute=None,
            execution_plan_snapshot=plan, job_snapshot=remote_job.job_snapshot,
            parent_job_snapshot=remote_job.parent_job_snapshot, asset_selection=keys, asset_check_selection=None,
            resolved_op_selection=None, op_selection=None, remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(), asset_graph=repo.asset_graph,
        )
        if daemon_dequeues(instance):
            instance.submit_run(run.run_id, request)
        else:
            instance.launch_run(run.run_id, request)
        return run.run_id

    def _partition_tags(self, repo, job_name: str, partition_key: str) -> dict[str, str]:
        from dagster._core.definitions.assets.graph.remote_asset_graph import partitions_def_for_remote_job
        from dagster._core.definitions.partitions.context import partition_loading_context

        partitions_def = partitions_def_for_remote_job(repo, job_name)
        if partitions_def is None:
            raise ValidationError(f"partition key {partition_key!r} given for {job_name}, which is not partitioned",
                                  fix="leave out the partition key")
        with partition_loading_context(dynamic_partitions_store=self.instance):
            known = partitions_def.has_partition_key(partition_key)
        if not known:
            raise NotFoundError(f"no partition {partition_key!r} in {job_name}'s partitions",
                                fix="check the key (content: `<day>|<tenant>.<niche>`; niche keys follow "
                                "`allixios niches list`, synced by `allixios run` or the niche_partitions_sensor)")
        return dict(partitions_def.get_tags_for_partition_key(partition_key))

    def wait(self, run_id: str, timeout: float | None = None,
             on_poll: Callable[[dg.DagsterRun], None] | None = None) -> dg.DagsterRunStatus:
        """Block until the run finishes (or ``timeout`` seconds pass); returns its status then."""
        from allixios_assets.recovery import free_finished_slots
        from allixios_assets.run_launcher import WorkerStatus, check_worker

        instance = self.instance
        deadline = None if timeout is None else time.monotonic() + timeout
        next_health_check = time.monotonic() + HEALTH_CHECK_SECONDS
        while True:
            run = instance.get_run_by_id(run_id)
            if run is None:
                raise NotFoundError(f"no run {run_id}", fix="check the run id (`dagster run list`)")
            if on_poll is not None:
                on_poll(run)
            if run.is_finished:
                free_finished_slots(instance, {run_id})  # a crashed worker's pool slots go at once
                return run.status
            if run.status == dg.DagsterRunStatus.QUEUED and not daemon_dequeues(instance):
                request, _ = self._code_location()  # the daemon went away: launch it ourselves
                instance.launch_run(run_id, request)
            if run.status == dg.DagsterRunStatus.STARTED and time.monotonic() >= next_health_check:
                next_health_check = time.monotonic() + HEALTH_CHECK_SECONDS
                if _ended_past_max_runtime(instance, run_id):
                    continue
                health = check_worker(instance, run)
                if health.status == WorkerStatus.FAILED:  # nobody else will notice without a daemon
                    instance.report_run_failed(run, health.msg)
                    continue
            if deadline is not None and time.monotonic() >= deadline:
                return run.status
            time.sleep(POLL_SECONDS)

    def cancel(self, run_id: str) -> None:
        """Cancel a queued run, or terminate a running one (its worker process is stopped)."""
        instance = self.instance
        run = instance.get_run_by_id(run_id)
        if run is None:
            raise NotFoundError(f"no run {run_id}", fix="check the run id (`dagster run list`)")
        if run.is_finished:
            return
        if run.status in (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED):
            instance.report_run_canceled(run, message="cancelled before it started")
            return
        self._ensure_context()
        instance.run_coordinator.cancel_run(run_id)


_shared: Launcher | None = None
_shared_lock = threading.Lock()


def shared() -> Launcher:
    """The process-wide launcher behind the module-level functions."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Launcher()
            atexit.register(_shared.close)
        return _shared


def launch(job_name: str, *, partition_key: str | None = None, tags: Mapping[str, str] | None = None,
           run_config: Mapping[str, Any] | None = None,
           asset_selection: Sequence[dg.AssetKey | str] | None = None) -> str:
    return shared().launch(job_name, partition_key=partition_key, tags=tags, run_config=run_config,
                           asset_selection=asset_selection)


def _ended_past_max_runtime(instance: dg.DagsterInstance, run_id: str) -> bool:
    """End a run past its ``dagster/max_runtime`` when no daemon's run monitoring will (``make run``,
    a CLI launch with the daemon stopped). It is run monitoring's own check (pinned Dagster; private
    module), so the run ends with the same messages and run tracking records WORKFLOW_TIMEOUT."""
    if daemon_dequeues(instance):
        return False  # the daemon's run monitoring covers it
    from dagster._daemon.monitoring.run_monitoring import check_run_timeout

    record = instance.get_run_record_by_id(run_id)
    if record is None:
        return False
    check_run_timeout(instance, record, logging.getLogger(__name__), float(instance.run_monitoring_max_runtime_seconds))
    run = instance.get_run_by_id(run_id)
    return run is not None and run.status != dg.DagsterRunStatus.STARTED


def wait(run_id: str, timeout: float | None = None) -> dg.DagsterRunStatus:
    return shared().wait(run_id, timeout=timeout)


def cancel(run_id: str) -> None:
    shared().cancel(run_id)


if __name__ == "__main__":  # `python -m allixios_assets.launcher forget-daemon`: run by `make dev` on stop
    if sys.argv[1:] == ["forget-daemon"]:
        forget_stopped_daemon()
    else:
        sys.exit("usage: python -m allixios_assets.launcher forget-daemon")
