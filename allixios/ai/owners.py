"""Who holds a claim: this process as ``host:pid:start``, and whether such an owner is still alive.

Pending ledger rows and budget reservations record their owner, so the next caller can tell a call
in flight from one whose process was killed (kill -9, OOM, a lost container) and free or count
what it held at once instead of after a timeout. The process start time guards against a reused
pid. An owner on another host cannot be checked from here: it counts as alive until the TTL.
"""

from __future__ import annotations

import functools
import os
import socket


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot, or None if it is gone (or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):  # killed but not yet reaped by its parent: it makes no more calls
        return None
    return fields[19]


@functools.lru_cache(maxsize=1)
def _host() -> str:
    return socket.gethostname()


def current_owner() -> str:
    pid = os.getpid()
    return f"{_host()}:{pid}:{_start_ticks(pid) or '?'}"


def is_alive(owner: str | None) -> bool:
    """False only when the owner certainly ended (same host, pid gone or reused)."""
    if not owner:
        return True
    try:
        host, pid_text, start = owner.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return True
    if host != _host():
        return True
    if os.path.isdir("/proc"):
        now = _start_ticks(pid)
        if now is None:
            return False
        return start == "?" or now == start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
