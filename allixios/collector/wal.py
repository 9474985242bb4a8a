"""The collector's write-ahead log: an accepted event is on disk (fdatasync) before the collector answers.

One append-only file per process and UTC day and tenant, under
``$ALLIXIOS_HOME/collector/wal/<day>/<tenant slug>/<pid>-<start>.wal``, one JSON object per line. A
line cut short by a crash has no newline and was never acknowledged (the lander skips it).

Group commit: requests do not write or sync themselves. They hand their lines to one committer
thread and wait; the committer takes everything queued since its last round, writes it with one
``os.write`` per file and one ``fdatasync`` per file, and only then releases every request of that
round. N concurrent requests therefore share one write and one sync, and each request is still
answered only after its own lines are on disk.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from concurrent.futures import Future
from pathlib import Path

from allixios import settings


def wal_root() -> Path:
    return settings.home() / "collector" / "wal"


def encode(records: list[dict]) -> bytes:
    return "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in records).encode()


class WriteAhead:
    def __init__(self, root: Path | None = None):
        self.root = root or wal_root()
        self._name = f"{os.getpid()}-{time.time_ns()}.wal"
        self._fds: dict[tuple[str, str], int] = {}
        self._queue: list[tuple[str, str, bytes, Future | None, tuple | None]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._commit_loop, name="collector-wal", daemon=True)
        self._thread.start()

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

    def _submit(self, day: str, tenant: str, data: bytes, future: Future | None, waker: tuple | None) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("the write-ahead log is closed")
            self._queue.append((day, tenant, data, future, waker))
            self._cond.notify()

    def append(self, day: str, tenant: str, records: list[dict]) -> None:
        """Write the records and return once they are durable (blocking callers)."""
        future: Future = Future()
        self._submit(day, tenant, encode(records), future, None)
        future.result()

    async def append_async(self, day: str, tenant: str, records: list[dict]) -> None:
        """The same for the event loop: the request waits without holding a thread."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._submit(day, tenant, encode(records), None, (loop, done))
        await done

    def _commit_loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue and self._closed:
                    return
                batch, self._queue = self._queue, []
            error: BaseException | None = None
            try:
                grouped: dict[tuple[str, str], list[bytes]] = {}
                for day, tenant, data, _f, _w in batch:
                    grouped.setdefault((day, tenant), []).append(data)
                fds = []
                for (day, tenant), parts in grouped.items():
                    fd = self._fd(day, tenant)
                    data = b"".join(parts)
                    while data:  # O_APPEND: one write normally takes it all
                        data = data[os.write(fd, data):]
                    fds.append(fd)
                for fd in fds:
                    os.fdatasync(fd)
            except BaseException as exc:  # noqa: BLE001 - every waiter of the round must hear of it
                error = exc
            for _d, _t, _data, future, waker in batch:
                if future is not None:
                    future.set_exception(error) if error else future.set_result(None)
                else:
                    loop, done = waker
                    loop.call_soon_threadsafe(_settle, done, error)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=30)
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


def _settle(done: asyncio.Future, error: BaseException | None) -> None:
    if done.cancelled():
        return
    done.set_exception(OSError(f"write-ahead log: {error}")) if error else done.set_result(None)


_wal: WriteAhead | None = None
_wal_key: tuple | None = None
_wal_lock = threading.Lock()


def shared() -> WriteAhead:
    """This process's log (created on first use; a forked worker gets its own file)."""
    global _wal, _wal_key
    key = (os.getpid(), os.environ.get(settings.HOME_ENV))  # resolving the home folder per request costs
    if _wal is not None and _wal_key == key:
        return _wal
    with _wal_lock:
        if _wal is None or _wal_key != key:
            old, _wal, _wal_key = _wal, WriteAhead(wal_root()), key
            if old is not None and old._name.startswith(f"{os.getpid()}-"):
                old.close()  # another home (tests): its queue is drained first
        return _wal


def read_from(path: Path, offset: int) -> tuple[list[bytes], int]:
    """The file's whole lines after ``offset`` (a torn last line is left for later) and the new offset."""
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    end = data.rfind(b"\n") + 1
    return data[:end].splitlines(), offset + end


def complete_lines(path: Path) -> tuple[list[bytes], int]:
    """The file's whole lines (a torn last line is left out) and the size read."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    return data[:end].splitlines(), len(data)
