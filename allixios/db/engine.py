"""Engines and connections, one pool per URL per process."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DisconnectionError

from allixios.db import server

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _register_vector(dbapi_connection, _record) -> None:
    """Let psycopg send and receive numpy arrays / lists as pgvector values."""
    from pgvector.psycopg import register_vector

    try:
        register_vector(dbapi_connection)
    except psycopg.ProgrammingError:
        dbapi_connection.rollback()  # extension not created yet (before the first migration)


# A connection back in the pool for less than this is handed out without a ping: under load (an API
# request checks one out per request) the ping was a round trip per request for a connection that
# was working a moment ago. One idle longer (or never used) is pinged, as pool_pre_ping did.
PING_AFTER_IDLE_S = 1.0

# Connections a pool keeps, and opens on top while every kept one is busy. An overflow connection is
# closed when it comes back while `pool_size` are idle, so a process whose bursts need more than it
# keeps opens them again at the start of every burst (a backend start and the vector type look-ups:
# 15 % of an article read's samples in the api_load profile, at each phase's start). The API keeps
# more (allixios.api.app); set before the process makes its first engine.
_pool = {"pool_size": 5, "max_overflow": 10}


def size_pools(pool_size: int, max_overflow: int) -> None:
    """The size of the pools this process makes from now on (engines already made keep theirs)."""
    with _lock:
        _pool.update(pool_size=pool_size, max_overflow=max_overflow)


def _stamp_checkin(_dbapi_connection, record) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    """Pessimistic disconnect handling (SQLAlchemy's documented checkout hook): a connection that is
    closed, broken (a statement saw the server go away) or fails the ping is replaced by a new one."""
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("the pooled connection is closed")
    last = record.info.get("checked_in_at")
    if last is not None and time.monotonic() - last < PING_AFTER_IDLE_S:
        return
    try:
        dbapi_connection.execute("SELECT 1")
        dbapi_connection.rollback()
    except psycopg.Error as exc:
        raise DisconnectionError(str(exc)) from exc


def get_engine(url: URL | None = None) -> Engine:
    url = url or server.app_url()
    key = url.render_as_string(hide_password=False)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = create_engine(url, **_pool)
            event.listen(engine, "connect", _register_vector)
            event.listen(engine, "checkin", _stamp_checkin)
            event.listen(engine, "checkout", _ping_if_idle)
            _engines[key] = engine
        return engine


@contextmanager
def connect(url: URL | None = None) -> Iterator[psycopg.Connection]:
    """A pooled psycopg 3 connection in a transaction (committed on success, rolled back on error).

    Domain code talks SQL through psycopg directly: COPY, server-side parameters, and no ORM layer
    between set-based queries and the database.
    """
    engine = get_engine(url)
    raw = engine.raw_connection()
    conn: psycopg.Connection = raw.driver_connection  # type: ignore[assignment]
    try:
        yield conn
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        raw.close()


def dispose_all() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def fetch_dicts(conn: psycopg.Connection, sql: str, params=None) -> list[dict]:
    """Run a query and return its rows as dicts."""
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()
