"""Dagster's PostgreSQL storages with a small connection pool (dagster.yaml names these classes).

dagster-postgres builds its engines with a ``NullPool``, so every run-, event-log- and schedule-storage
call opens (and authenticates) a new PostgreSQL connection: about three per Dagster event, most of a
run's Dagster overhead (BENCHMARKS.md, pipeline_overhead). These subclasses swap in a ``QueuePool``
after the base class has checked its tables. Every process that builds the instance from dagster.yaml
gets them: ``allixios run``, the run worker processes the launcher starts, the daemon, the code server,
the test instance; the webserver replaces the engines with its own pool (``optimize_for_webserver``).

The pool stays small (``pool_size`` kept open, ``max_overflow`` more under concurrency, closed when
returned): at most 10 connections per process, 4 when idle, against the embedded server's
``max_connections = 100`` shared by the daemon, code server, run workers and the application.
``pool_pre_ping`` checks a connection before handing it out, so a restarted server costs a reconnect,
not a failed storage call; ``dispose`` (``DagsterInstance.dispose``) closes the pooled connections.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
import sqlalchemy.pool as db_pool
from dagster._core.storage.config import pg_config
from dagster._serdes import ConfigurableClassData
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config

# connections kept open per storage: the event-log storage nests a second connection while it stores
# a materialization (asset index rows), which a pool of one would open and close each time
RUN_POOL_SIZE = SCHEDULE_POOL_SIZE = 1
EVENT_LOG_POOL_SIZE = 2
MAX_OVERFLOW = 2
# a pooled connection is replaced after an hour (server-side idle limits, memory held by a backend)
POOL_RECYCLE_SECONDS = 3600


def _config_type(pool_size: int) -> dict:
    return {
        **pg_config(),
        "pool_size": dg.Field(dg.IntSource, is_required=False, default_value=pool_size),
        "max_overflow": dg.Field(dg.IntSource, is_required=False, default_value=MAX_OVERFLOW),
    }


def _kwargs(config_value: Mapping[str, Any], pool_size: int) -> dict:
    return {
        "postgres_url": pg_url_from_config(config_value),
        "should_autocreate_tables": config_value.get("should_autocreate_tables", True),
        "token_provider": get_token_provider_from_config(config_value),
        "pool_size": config_value.get("pool_size", pool_size),
        "max_overflow": config_value.get("max_overflow", MAX_OVERFLOW),
    }


class _Pooled:
    """Mixin: replace the base storage's NullPool engine with a small QueuePool one (``POOL_SIZE``
    connections kept open unless dagster.yaml sets ``pool_size``)."""

    POOL_SIZE: int
    _engine: Any
    postgres_url: str
    _token_provider: Any

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True,
                 inst_data: ConfigurableClassData | None = None, token_provider=None,
                 pool_size: int | None = None, max_overflow: int = MAX_OVERFLOW):
        super().__init__(postgres_url, should_autocreate_tables, inst_data=inst_data,  # type: ignore[call-arg]
                         token_provider=token_provider)
        null_engine = self._engine
        self._engine = create_pg_engine(
            self.postgres_url, self._token_provider, isolation_level="AUTOCOMMIT", poolclass=db_pool.QueuePool,
            pool_size=pool_size or self.POOL_SIZE, max_overflow=max_overflow, pool_recycle=POOL_RECYCLE_SECONDS,
            pool_pre_ping=True)
        null_engine.dispose()

    @classmethod
    def config_type(cls):
        return _config_type(cls.POOL_SIZE)

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]):
        return cls(inst_data=inst_data, **_kwargs(config_value, cls.POOL_SIZE))

    def dispose(self) -> None:
        super().dispose()  # type: ignore[misc]
        self._engine.dispose()  # after the base's dispose: the event log stops its polling watcher first


class PooledPostgresRunStorage(_Pooled, PostgresRunStorage):
    POOL_SIZE = RUN_POOL_SIZE


class PooledPostgresEventLogStorage(_Pooled, PostgresEventLogStorage):
    POOL_SIZE = EVENT_LOG_POOL_SIZE

    def __init__(self, *args, **kwargs):
        self._tables_seen: set[str] = set()  # the base class asks has_table while it starts
        super().__init__(*args, **kwargs)

    def has_table(self, table_name: str) -> bool:
        # Dagster asks the catalog before most partition and tag queries (twice per step's partition
        # lookup); a table, once there, stays (migrations only add them), so only "yes" is remembered
        if table_name not in self._tables_seen:
            if not super().has_table(table_name):
                return False
            self._tables_seen.add(table_name)
        return True


class PooledPostgresScheduleStorage(_Pooled, PostgresScheduleStorage):
    POOL_SIZE = SCHEDULE_POOL_SIZE
