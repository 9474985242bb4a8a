"""Waiting for a server process that tests and benchmarks start (`allixios serve` on a free port),
and for any condition they poll."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str, *, interval_s: float = 0.2,
             not_yet: tuple[type[BaseException], ...] = (), detail: Callable[[], str] | None = None) -> Any:
    """Poll ``predicate`` until it returns something truthy, and return that.

    Exceptions in ``not_yet`` count as "not yet" (a server still starting). On timeout raise an
    AssertionError naming ``what``, the last such exception and ``detail()`` (e.g. a daemon's output)."""
    deadline = time.monotonic() + timeout_s
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except not_yet as exc:
            last, value = exc, None
        if value:
            return value
        time.sleep(interval_s)
    extra = f" ({last})" if last is not None else ""
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}{extra}"
                         + (f"\n{detail()}" if detail else ""))


def wait_until_answers(url: str, process: subprocess.Popen, *, timeout_s: float = 120.0, headers: dict | None = None,
                       interval_s: float = 0.5) -> None:
    """Return once ``GET url`` answers 200; raise with the tail of the server's stderr if it exits or
    ``timeout_s`` passes first (the process must have been started with ``stderr=subprocess.PIPE``)."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, headers=headers, timeout=5, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            # read the pipe only from a process that has exited: a live one keeps it open, read() would wait forever
            tail = (process.stderr.read().decode(errors="replace")[-500:]
                    if process.stderr and process.poll() is not None else "")
            state = f"exited with {process.returncode}" if process.poll() is not None else f"no answer in {timeout_s:.0f} s"
            raise RuntimeError(f"the server did not start ({state}): {tail}")
        time.sleep(interval_s)


def stop_process(process: subprocess.Popen, *, timeout_s: float = 20.0) -> None:
    """Terminate a server or daemon a test or benchmark started; kill it if it has not exited in
    ``timeout_s`` (its output pipes are drained, so a chatty process cannot block on a full pipe)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
