"""Cross-process mutual exclusion through PostgreSQL advisory locks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy.engine import URL

from allixios.db import server


@contextmanager
def exclusive(url: URL, name: str) -> Iterator[float]:
    """Hold the session-level advisory lock ``name`` for the block; yields the seconds waited.

    Its own autocommit connection, so the lock spans work done elsewhere (e.g. a dbt subprocess)
    and is released even if that work fails; a crashed holder's lock dies with its connection.
    """
    conn = psycopg.connect(server.libpq_conninfo(url), autocommit=True)
    try:
        started = time.monotonic()
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (name,))
        try:
            yield time.monotonic() - started
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (name,))
    finally:
        conn.close()
