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
    """Launches through `allixios_assets.launcher` (the code location, its run queue and pools)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def _module(self):
        from allixios_assets import launcher

        return launcher

    def launch(self, job_name, *, partition_key=None, tags=None, run_config=None) -> str:
        with self._lock:  # one code server per process; launches are rare (coalesced per partition)
            return self._module().launch(job_name, partition_key=partition_key, tags=dict(tags or {}),
                                         run_config=dict(run_config or {}))

    def cancel(self, run_id: str) -> None:
        self._module().cancel(run_id)

    def status(self, run_id: str) -> str | None:
        from allixios_assets.instance import get_instance

        run = get_instance().get_run_by_id(run_id)
        return run.status.value if run is not None else None


def default_launcher() -> RunLauncher:
    return DagsterLauncher()
