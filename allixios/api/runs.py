"""How the API starts work: Dagster runs launched through the code location, behind a small interface.

The API never generates anything itself. `DagsterLauncher` imports `allixios_assets.launcher` (and
so Dagster) on first use only; tests and tools may inject another `RunLauncher` at app start.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol


class RunLauncher(Protocol):
    def launch(self, job_name: str, *, partition_key: str | None = None, tags: Mapping[str, str] | None = None,
               run_config: Mapping[str, Any] | None = None) -> str: ...

    def cancel(self, run_id: str) -> None: ...

    def status(self, run_id: str) -> str | None:
        """Dagster's run status name (QUEUED, STARTED, SUCCESS, FAILURE, CANCELED, ...), None if unknown."""
        ...


class DagsterLauncher:
    """Launches through `allixios_assets.launcher` (the code location, its run queue and pools).

    `launcher` is an `allixios_assets.launcher.Launcher` (tests pass one bound to their instance);
    by default the process-wide one, created on first use.
    """

    def __init__(self, launcher: Any = None) -> None:
        self._launcher = launcher
        self._lock = threading.Lock()

    def _target(self):
        if self._launcher is None:
            from allixios_assets import launcher

            self._launcher = launcher.shared()
        return self._launcher

    def launch(self, job_name, *, partition_key=None, tags=None, run_config=None) -> str:
        with self._lock:  # one code server per process; launches are rare (coalesced per partition)
            return self._target().launch(job_name, partition_key=partition_key, tags=dict(tags or {}),
                                         run_config=dict(run_config or {}))

    def cancel(self, run_id: str) -> None:
        self._target().cancel(run_id)

    def status(self, run_id: str) -> str | None:
        run = self._target().instance.get_run_by_id(run_id)
        return run.status.value if run is not None else None


def default_launcher() -> RunLauncher:
    return DagsterLauncher()
