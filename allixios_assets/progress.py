"""Progress of launched runs as work happens, for the CLI.

On a terminal one status line is rewritten in place (the step or dbt model being worked on) and
each finished run leaves a permanent line; piped or in CI every finished step and dbt model is a
plain line of its own, so logs show where time went.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import dagster as dg

WATCHED = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.STEP_UP_FOR_RETRY,
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
}


class Progress:
    def __init__(self, echo: Callable[[str], None] = print, tty: bool | None = None, stream=None):
        self._echo = echo
        self._stream = stream or sys.stdout
        self.tty = self._stream.isatty() if tty is None else tty
        self._status_shown = False

    def line(self, text: str) -> None:
        """A permanent line (clears the status line first on a terminal)."""
        self._clear()
        self._echo(text)

    def status(self, text: str) -> None:
        """Transient on a terminal; a plain line otherwise."""
        if not self.tty:
            self._echo(text)
            return
        width = 100
        self._stream.write("\r\033[K" + text[:width])
        self._stream.flush()
        self._status_shown = True

    def _clear(self) -> None:
        if self._status_shown:
            self._stream.write("\r\033[K")
            self._stream.flush()
            self._status_shown = False


class RunWatcher:
    """Follows one run's event log and reports its steps, dbt models and check results."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str, label: str, progress: Progress):
        self._instance = instance
        self._run_id = run_id
        self._label = label
        self._progress = progress
        self._cursor: str | None = None
        self._started = time.monotonic()
        self.models_built = 0
        self.failed_checks: list[str] = []

    def __call__(self, run: dg.DagsterRun) -> None:
        conn = self._instance.get_records_for_run(self._run_id, cursor=self._cursor, of_type=WATCHED)
        self._cursor = conn.cursor
        for record in conn.records:
            self._report(record.event_log_entry)
        if not conn.records and run.status in (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING,
                                               dg.DagsterRunStatus.NOT_STARTED) and self._progress.tty:
            self._progress.status(f"  {self._label}: {run.status.value.lower()} …")

    def _report(self, entry) -> None:
        event = entry.dagster_event
        if event is None:
            return
        elapsed = f"{time.monotonic() - self._started:4.0f}s"
        step = event.step_key or ""
        kind = event.event_type
        if kind == dg.DagsterEventType.STEP_START:
            if self._progress.tty:
                self._progress.status(f"  {self._label}: {step} … ({elapsed})")
        elif kind == dg.DagsterEventType.STEP_SUCCESS:
            if not self._progress.tty:
                self._progress.status(f"  {self._label}: {step} done ({elapsed})")
        elif kind == dg.DagsterEventType.STEP_UP_FOR_RETRY:
            self._progress.line(f"  {self._label}: {step} failed, retrying ({elapsed})")
        elif kind == dg.DagsterEventType.STEP_FAILURE:
            message = ""
            data = event.step_failure_data
            if data and data.error:
                message = ": " + (data.error.message or "").strip().splitlines()[0][:200]
            self._progress.line(f"  {self._label}: {step} FAILED{message}")
        elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
            key = event.asset_key
            if key is not None and len(key.path) > 1:  # dbt models are [schema, model]
                self.models_built += 1
                self._progress.status(f"  {self._label}: dbt {key.to_user_string()} built ({elapsed})")
        elif kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if evaluation is not None and not evaluation.passed:
                name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
                self.failed_checks.append(name)
                severity = getattr(evaluation.severity, "value", "")
                self._progress.status(f"  {self._label}: check {name} failed ({severity})")
