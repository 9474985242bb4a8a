"""Test fixtures: every test session gets its own fresh database on a real PostgreSQL.

The server is the embedded one (or the server of ALLIXIOS_DATABASE_URL when set); the fixture
creates `allixios_test_<random>` and its `_dagster` sibling, migrates, points ALLIXIOS_DATABASE_URL
at them for the session (so CLI sub-processes, dbt and Dagster use them too) and drops them at the end.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import URL

from allixios import settings
from allixios.db import migrate, server
from allixios.db.engine import connect, dispose_all
from tests.db_support import APP_TABLES_TO_KEEP, empty_app_tables  # noqa: F401 (test_dbt_catalog imports it from here)

# the tests use fixed days from November 2026: their partitions must exist whatever today is
# (before any test imports the Dagster definitions; sub-processes inherit it)
os.environ.setdefault("ALLIXIOS_PARTITIONS_START", "2026-11-01")


# Dagster's in-process execution leaves SIGTERM mapped to SIGINT's handler when it restores its
# interrupt handlers (dagster._utils.interrupts.setup_interrupt_handlers; checked: SIG_DFL before a
# materialize, default_int_handler after). Where SIGINT is ignored at that moment (a worker started in
# the background), SIGTERM becomes SIG_IGN for the rest of the worker, and every server a later test
# starts with Popen inherits it: terminate() does nothing and the fixtures' wait(timeout=10) fails
# (site serve and the collector in one CI run). Each test starts with the worker's own SIGTERM.
_SIGTERM_AT_START = signal.getsignal(signal.SIGTERM)


@pytest.fixture(autouse=True)
def _sigterm_as_the_worker_had_it() -> Iterator[None]:
    yield
    if (_SIGTERM_AT_START is not None and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) != _SIGTERM_AT_START):
        signal.signal(signal.SIGTERM, _SIGTERM_AT_START)


def _drop(url: URL) -> None:
    with psycopg.connect(server.libpq_conninfo(url.set(database="postgres")), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[URL]:
    saved = {k: os.environ.get(k) for k in (settings.DATABASE_URL_ENV, settings.DAGSTER_DATABASE_URL_ENV, settings.HOME_ENV)}
    base = server.app_url()  # embedded server (started if needed) or the configured one
    name = f"allixios_test_{uuid.uuid4().hex[:8]}"
    url = base.set(database=name)
    dagster_url = base.set(database=f"{name}_dagster")
    os.environ[settings.DATABASE_URL_ENV] = url.set(drivername="postgresql").render_as_string(hide_password=False)
    os.environ[settings.DAGSTER_DATABASE_URL_ENV] = dagster_url.set(drivername="postgresql").render_as_string(
        hide_password=False
    )
    # landing folders and the Dagster home of the session live in a temp folder
    os.environ[settings.HOME_ENV] = str(tmp_path_factory.mktemp("allixios_home"))
    migrate.upgrade(url)
    server.ensure_database(dagster_url, require_pgvector=False)
    # commits of the throw-away session databases need not wait for the disk (~1-4 ms each, and
    # Dagster's run storage commits every event); the crash tests use their own server
    with psycopg.connect(server.libpq_conninfo(base.set(database="postgres")), autocommit=True) as admin:
        for name in (url.database, dagster_url.database):
            admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    dispose_all()  # pooled connections opened by the migration pick the setting up when reopened
    try:
        yield url
    finally:
        dispose_all()
        _drop(url)
        _drop(dagster_url)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def db(database_url) -> Iterator[URL]:
    """The session database, emptied of rows before the test (schema kept)."""
    empty_app_tables(database_url)
    yield database_url


@pytest.fixture
def conn(db) -> Iterator[psycopg.Connection]:
    """A connection in a transaction that commits at the end of the test."""
    with connect(db) as c:
        yield c


@pytest.fixture
def sample_tenant(db):
    from allixios.sample import seed_sample

    with connect(db) as c:
        return seed_sample(c)


# The longest modules (by `--durations`) go first when pytest-xdist spreads modules over workers, so
# no worker is left running one of them alone at the end. One process (`-n 0`) keeps the usual order.
LONGEST_FIRST = ("test_benchmarks_smoke.py", "test_automation_daemon.py", "test_api_schemathesis.py",
                 "test_automation_refresh.py", "test_analytics_dagster.py", "test_api_dispatch.py")


def pytest_collection_modifyitems(config, items) -> None:
    if not getattr(config.option, "numprocesses", None) and "PYTEST_XDIST_WORKER" not in os.environ:
        return
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order
