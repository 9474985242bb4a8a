"""`make dev`: the local servers, started and stopped together.

``dev_processes()`` is the list of servers `allixios dev` runs, one ``DevProcess`` each; another
server (the Allixios API, the tenant sites) is one more entry there. ``supervise()`` starts them
all, relays nothing (each writes to the terminal itself) and stops every one of them when any
exits or the operator presses Ctrl-C (or the command gets SIGTERM), so nothing is left running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from allixios import settings

HOST = "127.0.0.1"
STOP_GRACE_S = 30.0


@dataclass(frozen=True)
class DevProcess:
    name: str
    argv: list[str]
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    url: str | None = None  # printed once started
    # run once it has stopped (a command, so this module needs no import of what it supervises)
    after_stop: list[str] | None = None


def venv_executable(name: str) -> str:
    """A console script next to this Python (the venv), else the one on PATH."""
    import shutil

    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        from allixios.errors import ConfigError

        raise ConfigError(f"the `{name}` command is not installed", fix="run `make install` (then `make dev`)")
    return found


def dagster_home() -> Path:
    """The instance folder in use: $DAGSTER_HOME (set by ``prepare_dagster_home``), else Allixios' own."""
    configured = os.environ.get("DAGSTER_HOME")
    return Path(configured) if configured else settings.dagster_home()


def dev_processes(port: int | None = None) -> list[DevProcess]:
    """What `make dev` serves on 127.0.0.1, all on the same database.

    The Dagster UI and daemon come from `dg dev` (what Dagster 1.13 recommends over `dagster dev`),
    given the workspace file; it runs in $DAGSTER_HOME so the dagster.yaml there is the one in
    use (from the checkout, dagster warns that the repository's copy is not).
    """
    port = port or settings.ui_port()
    workspace = settings.repo_path("workspace.yaml")
    return [
        DevProcess(
            "dagster",
            [venv_executable("dg"), "dev", "-w", str(workspace), "--host", HOST, "--port", str(port)],
            cwd=dagster_home(),
            url=f"http://{HOST}:{port}",
            # a stopped daemon's fresh heartbeat would make the next CLI launch queue its run for nobody
            after_stop=[sys.executable, "-m", "allixios_assets.launcher", "forget-daemon"],
        ),
        # the Allixios API on the same database (plans content requests, launches runs through the code location)
        DevProcess(
            "api",
            [sys.executable, "-m", "allixios.cli", "serve", "--host", HOST, "--port", str(settings.api_port())],
            url=f"http://{HOST}:{settings.api_port()}/docs",
        ),
        # the tenant's published site (`allixios site serve`), as built by `make run` or `allixios site build`
        DevProcess(
            "site",
            [sys.executable, "-m", "allixios.cli", "site", "serve", "--tenant",
             os.environ.get("ALLIXIOS_SITE_TENANT", "sample"), "--port", str(settings.site_port())],
            url=f"http://{HOST}:{settings.site_port()}/",
        ),
        # further servers of `make dev` are one DevProcess each, here
    ]


def supervise(processes: Sequence[DevProcess], echo: Callable[[str], None] = print, poll_s: float = 0.5) -> int:
    """Run ``processes`` until one exits or we are interrupted; then stop all. Returns an exit code."""
    running: list[tuple[DevProcess, subprocess.Popen]] = []
    stopping = False

    def _interrupt(signum, _frame):
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    try:
        for proc in processes:
            # its own session: Ctrl-C reaches it once, from us, so it can shut down cleanly
            child = subprocess.Popen(
                proc.argv, cwd=proc.cwd, env={**os.environ, **proc.env}, start_new_session=True
            )
            running.append((proc, child))
            echo(f"dev: started {proc.name} (pid {child.pid})" + (f" on {proc.url}" if proc.url else ""))
        while not stopping:
            for proc, child in running:
                if child.poll() is not None:
                    echo(f"error: {proc.name} exited with code {child.returncode} — fix: see its output above")
                    code = child.returncode or 1
                    stopping = True
                    break
            else:
                time.sleep(poll_s)
    finally:
        _stop_all(running, echo)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code


def _stop_all(running: list[tuple[DevProcess, subprocess.Popen]], echo: Callable[[str], None]) -> None:
    alive = [(p, c) for p, c in running if c.poll() is None]
    for _proc, child in alive:
        _signal_group(child, signal.SIGINT)  # what Ctrl-C sends: dagster shuts its services down
    deadline = time.monotonic() + STOP_GRACE_S
    for proc, child in alive:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            echo(f"dev: {proc.name} did not stop within {STOP_GRACE_S:.0f} s; killing it")
            _signal_group(child, signal.SIGKILL)
            child.wait()
    if alive:
        echo("dev: stopped " + ", ".join(p.name for p, _ in alive))
    for proc, _child in running:
        if proc.after_stop:
            done = subprocess.run(proc.after_stop, capture_output=True, text=True)
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                echo(f"dev: after stopping {proc.name}, `{' '.join(proc.after_stop[1:])}` failed: {last}")


def _signal_group(child: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(child.pid, sig)
    except ProcessLookupError:
        pass
