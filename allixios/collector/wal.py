"""The collector's write-ahead log: an accepted event is on disk (fsync) before the collector answers.

One append-only file per process and UTC day and tenant, under
``$ALLIXIOS_HOME/collector/wal/<day>/<tenant slug>/<pid>-<start>.wal``, one JSON object per line. Each
line is one ``os.write`` on an O_APPEND descriptor, so lines never interleave; a line cut short by a
crash has no newline and was never acknowledged (the lander skips it).

Group commit: writers append under a lock, then one of them fsyncs for everyone who wrote before
the sync began, so N concurrent requests share one fsync instead of paying N.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from allixios import settings


def wal_root() -> Path:
    return settings.home() / "collector" / "wal"


class WriteAhead:
    def __init__(self, root: Path | None = None):
        self.root = root or wal_root()
        self._name = f"{os.getpid()}-{time.time_ns()}.wal"
        self._fds: dict[tuple[str, str], int] = {}
        self._write_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._written = 0  # sequence of the last write
        self._synced = 0  # every write up to this sequence is on disk
        self._dirty: set[int] = set()

    def _fd(self, day: str, tenant: str) -> int:
        fd = self._fds.get((day, tenant))
        if fd is None:
            folder = self.root / day / tenant
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / self._name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            dir_fd = os.open(folder, os.O_RDONLY)  # the new file's name must survive a crash too
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            self._fds[(day, tenant)] = fd
        return fd

    def append(self, day: str, tenant: str, records: list[dict]) -> None:
        """Write the records and return once they are durable."""
        data = "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in records).encode()
        with self._write_lock:
            fd = self._fd(day, tenant)
            os.write(fd, data)
            self._written += 1
            mine = self._written
            self._dirty.add(fd)
        with self._sync_lock:
            if self._synced >= mine:
                return  # someone else's fsync covered this write
            with self._write_lock:
                target, fds, self._dirty = self._written, self._dirty, set()
            for fd in fds:
                os.fdatasync(fd)
            self._synced = target

    def close(self) -> None:
        with self._write_lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()


_wal: WriteAhead | None = None
_wal_lock = threading.Lock()


def shared() -> WriteAhead:
    """This process's log (created on first use; a forked worker gets its own file)."""
    global _wal
    with _wal_lock:
        if _wal is None or not _wal._name.startswith(f"{os.getpid()}-") or _wal.root != wal_root():
            _wal = WriteAhead()
        return _wal


def complete_lines(path: Path) -> tuple[list[bytes], int]:
    """The file's whole lines (a torn last line is left out) and the size read."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    return data[:end].splitlines(), len(data)
