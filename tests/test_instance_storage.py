"""The product's Dagster instance (dagster.yaml in DAGSTER_HOME) keeps its storage connections in a
small pool (allixios_assets/storage.py): a run opens a handful of PostgreSQL connections, not three
per event; the pool survives the server dropping its connections; dispose closes them."""

from __future__ import annotations

import dagster as dg
import psycopg
import pytest
from sqlalchemy import event

from allixios.db import server
from allixios_assets.storage import (
    EVENT_LOG_POOL_SIZE,
    MAX_OVERFLOW,
    RUN_POOL_SIZE,
    SCHEDULE_POOL_SIZE,
    PooledPostgresEventLogStorage,
    PooledPostgresRunStorage,
    PooledPostgresScheduleStorage,
)


@dg.asset
def first() -> int:
    return 1


@dg.asset
def second(first: int) -> int:
    return first + 1


@dg.asset
def third(second: int) -> int:
    return second + 1


def _storages(instance: dg.DagsterInstance) -> dict:
    return {"run": instance.run_storage, "event_log": instance.event_log_storage,
            "schedule": instance.schedule_storage}


@pytest.fixture
def instance(db, tmp_path, monkeypatch):
    from allixios_assets.instance import prepare_dagster_home

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    prepare_dagster_home(tmp_path / "dagster_home")
    with dg.DagsterInstance.get() as instance:
        yield instance


def _terminate_dagster_backends() -> int:
    """What a server restart does to a client's open connections."""
    url = server.dagster_url()
    with psycopg.connect(server.libpq_conninfo(url.set(database="postgres")), autocommit=True) as admin:
        return admin.execute("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = %s AND pid <> pg_backend_pid()) t", (url.database,)).fetchone()[0]


def test_the_product_instance_pools_its_storage_connections_and_survives_a_restart(instance):
    storages = _storages(instance)
    assert isinstance(storages["run"], PooledPostgresRunStorage)
    assert isinstance(storages["event_log"], PooledPostgresEventLogStorage)
    assert isinstance(storages["schedule"], PooledPostgresScheduleStorage)
    sizes = {"run": RUN_POOL_SIZE, "event_log": EVENT_LOG_POOL_SIZE, "schedule": SCHEDULE_POOL_SIZE}
    for name, storage in storages.items():
        assert storage._engine.pool.size() == sizes[name]  # noqa: SLF001
        assert storage._engine.pool._max_overflow == MAX_OVERFLOW  # noqa: SLF001
    opened = []
    for name, storage in storages.items():
        event.listen(storage._engine, "connect", lambda *_, n=name: opened.append(n))  # noqa: SLF001

    result = dg.materialize([first, second, third], instance=instance)
    assert result.success
    events = len(instance.all_logs(result.run_id))
    assert events > 20  # three steps: each writes several events, each once a new connection
    # the pools' connections, opened once and reused for every event (unpooled: about three per event)
    assert len(opened) <= RUN_POOL_SIZE + EVENT_LOG_POOL_SIZE + SCHEDULE_POOL_SIZE

    # the server drops every connection (a restart): the pool pings, reconnects, and the run succeeds
    assert _terminate_dagster_backends() >= 1
    assert dg.materialize([first, second, third], instance=instance).success
    assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.SUCCESS

    # the instance's dispose closes what the run and event-log storages hold (Dagster 1.13 does not
    # dispose the schedule storage; its one idle connection closes with the instance)
    instance.dispose()
    assert storages["run"]._engine.pool.checkedin() == 0  # noqa: SLF001
    assert storages["event_log"]._engine.pool.checkedin() == 0  # noqa: SLF001
