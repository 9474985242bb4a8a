"""Foundation: schema migrations, the embedded server, the CLI's error lines, the code location."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from allixios.db import migrate, server
from allixios.db.engine import connect
from resources.warehouse import WarehouseResource

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def short_home():
    """An ALLIXIOS_HOME the embedded server's system user can reach, with a short socket path.

    pytest's tmp_path lives under a root-only folder (the server runs as user `pgserver` when
    started by root) and can exceed the unix-socket path limit.
    """
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="axh"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "allixios.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.fixture
def fresh_pool_after():
    """A round trip re-creates enum types; pooled connections keep prepared statements naming the
    old ones ("cache lookup failed for type"), so later tests start with new connections."""
    yield
    from allixios.db.engine import dispose_all

    dispose_all()


@pytest.mark.usefixtures("fresh_pool_after")
def test_migrations_round_trip(db):
    migrate.downgrade(db, "base")
    with connect(db) as conn:
        assert conn.execute("SELECT to_regclass('public.articles')").fetchone()[0] is None
        assert conn.execute("SELECT to_regnamespace('raw')").fetchone()[0] is None
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.head_revision()
    with connect(db) as conn:
        for table in ("tenants", "niches", "authors", "users", "topics", "articles", "article_versions",
                      "embeddings", "workflow_executions", "ai_usage", "audit_log", "raw.page_events"):
            assert conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is not None, table
        hnsw = conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'embeddings' AND indexdef ILIKE '%hnsw%'").fetchall()
        assert hnsw, "embeddings needs an HNSW index"


@pytest.mark.usefixtures("fresh_pool_after")
def test_failed_migration_leaves_schema_unchanged(db, monkeypatch):
    import allixios.db.sqlfiles as sqlfiles

    migrate.downgrade(db, "base")
    original = sqlfiles.read_sql

    def broken(name: str) -> str:
        return original(name) + ("\nSELECT no_such_function();" if name == "003_ai.sql" else "")

    monkeypatch.setattr(sqlfiles, "read_sql", broken)
    import sqlalchemy.exc

    with pytest.raises(sqlalchemy.exc.ProgrammingError, match="no_such_function"):
        migrate.upgrade(db)
    with connect(db) as conn:
        # tables created before the failing statement were rolled back with it
        assert conn.execute("SELECT to_regclass('public.tenants')").fetchone()[0] is None
    monkeypatch.undo()
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.head_revision()


def test_article_versions_are_append_only(conn, sample_tenant):
    niche = conn.execute("SELECT id FROM niches LIMIT 1").fetchone()[0]
    article = conn.execute(
        "INSERT INTO articles (tenant_id, niche_id, title, slug, content) VALUES (%s, %s, 't', 't', 'body') RETURNING id",
        (sample_tenant.id, niche),
    ).fetchone()[0]
    conn.execute(
        """INSERT INTO article_versions (article_id, tenant_id, version_number, reason, title, slug, content_hash)
           VALUES (%s, %s, 1, 'generated', 't', 't', 'h')""",
        (article, sample_tenant.id),
    )
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute("UPDATE article_versions SET title = 'x'")
    conn.rollback()


def test_search_vector_is_generated(conn, sample_tenant):
    niche = conn.execute("SELECT id FROM niches LIMIT 1").fetchone()[0]
    conn.execute(
        "INSERT INTO articles (tenant_id, niche_id, title, slug, content) VALUES (%s, %s, 'Composting guide', 'c', 'worms and leaves')",
        (sample_tenant.id, niche),
    )
    hit = conn.execute("SELECT slug FROM articles WHERE search_vector @@ websearch_to_tsquery('english', 'worm')").fetchall()
    assert hit == [("c",)]


def test_seed_is_idempotent(db):
    first = cli("seed")
    second = cli("seed")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert first.stdout == second.stdout
    assert "3 niches, 11 topics" in second.stdout


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "ALLIXIOS_DATABASE_URL is not a database URL"),
        ("mysql://u@h/db", "needs PostgreSQL"),
        ("postgresql://nobody@127.0.0.1:1/allixios", "cannot connect"),
    ],
)
def test_bad_database_url_gives_one_line(url, expected):
    result = cli("db", "migrate", env={"ALLIXIOS_DATABASE_URL": url})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0] and "fix:" in lines[0]


def test_server_without_pgvector_is_refused(db):
    # a database where the extension is hidden: point at a template-less DB and drop it
    url = db.set(database=f"{db.database}_novector")
    with psycopg.connect(server.libpq_conninfo(db.set(database="postgres")), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{url.database}"')
        admin.execute(f'CREATE DATABASE "{url.database}"')
    try:
        with psycopg.connect(server.libpq_conninfo(url), autocommit=True) as c:
            # simulate a server whose pg_available_extensions lacks pgvector
            c.execute("CREATE SCHEMA shadow")
            c.execute("CREATE VIEW shadow.pg_available_extensions AS SELECT * FROM pg_catalog.pg_available_extensions WHERE name <> 'vector'")
            c.execute(f'ALTER DATABASE "{url.database}" SET search_path = shadow, pg_catalog, public')
        from allixios.errors import DatabaseError

        with pytest.raises(DatabaseError, match="no pgvector"):
            server.ensure_database(url)
    finally:
        with psycopg.connect(server.libpq_conninfo(db.set(database="postgres")), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


def test_data_folder_of_another_user_is_refused(tmp_path):
    home = tmp_path / "home"
    (home / "pg").mkdir(parents=True)
    os.chown(home / "pg", 54321, 54321) if os.geteuid() == 0 else pytest.skip("needs root to chown")
    result = cli("db", "status", env={"ALLIXIOS_DATABASE_URL": "", "ALLIXIOS_HOME": str(home)})
    start = cli("db", "start", env={"ALLIXIOS_DATABASE_URL": "", "ALLIXIOS_HOME": str(home)})
    assert "not running" in result.stdout
    assert start.returncode == 2
    assert "belongs to another user" in start.stderr and "fix:" in start.stderr


def test_embedded_server_restarts_after_a_killed_one(short_home):
    """A server killed with SIGKILL leaves postmaster.pid behind; the next start recovers."""
    env = {"ALLIXIOS_DATABASE_URL": "", "ALLIXIOS_HOME": str(short_home / "h")}
    first = cli("db", "start", env=env)
    assert first.returncode == 0, first.stderr
    status = cli("db", "status", env=env)
    pid = int(status.stdout.split("pid ")[1].split()[0])
    os.kill(pid, 9)
    import time

    for _ in range(50):
        try:
            os.kill(pid, 0)
            time.sleep(0.1)
        except ProcessLookupError:
            break
    assert (short_home / "h" / "pg" / "postmaster.pid").exists()
    again = cli("db", "start", env=env)
    assert again.returncode == 0, again.stderr
    assert "database ready" in again.stdout
    stop = cli("db", "stop", env=env)
    assert stop.stdout.strip() == "stopped"


def test_concurrent_starts_share_one_server(short_home):
    env = {**os.environ, "ALLIXIOS_DATABASE_URL": "", "ALLIXIOS_HOME": str(short_home / "h")}
    procs = [
        subprocess.Popen([sys.executable, "-m", "allixios.cli", "db", "start"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    urls = {out.strip().splitlines()[-1] for out, _ in outs}
    assert len(urls) == 1, urls  # every process got the same server
    cli("db", "stop", env={"ALLIXIOS_DATABASE_URL": "", "ALLIXIOS_HOME": str(short_home / "h")})


def test_definitions_load_and_resolve():
    from allixios_assets.definitions import defs

    repo = defs.get_repository_def()
    repo.load_all_definitions()
    assert repo.get_sensor_def("niche_partitions_sensor")
    for job in repo.get_all_jobs():
        assert job.name


def test_materialize_on_postgres_instance(db, tmp_path):
    """A real DagsterInstance with PostgreSQL storage records a materialization."""
    from allixios_assets.instance import prepare_dagster_home

    prepare_dagster_home(tmp_path / "dagster_home")

    @dg.asset
    def warehouse_ping(warehouse: WarehouseResource) -> dg.MaterializeResult:
        with warehouse.connection() as c:
            tenants = c.execute("SELECT count(*) FROM tenants").fetchone()[0]
        return dg.MaterializeResult(metadata={"tenants": tenants})

    with dg.DagsterInstance.get() as instance:
        from dagster_postgres import PostgresRunStorage

        assert isinstance(instance.run_storage, PostgresRunStorage)  # the pooled subclass (allixios_assets/storage.py)
        result = dg.materialize([warehouse_ping], instance=instance, resources={"warehouse": WarehouseResource()})
        assert result.success
        event = instance.get_latest_materialization_event(dg.AssetKey("warehouse_ping"))
        assert event.asset_materialization.metadata["tenants"].value == 0


def test_niche_partition_sensor_follows_the_table(db, sample_tenant, tmp_path):
    from allixios.tenants import get_tenant, remove_niche
    from resources.warehouse import WarehouseResource
    from sensors.niche_partitions import niche_partitions_sensor

    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources={"warehouse": WarehouseResource()})
        result = niche_partitions_sensor(ctx)
        added = result.dynamic_partitions_requests[0].partition_keys
        assert sorted(added) == ["sample.home_gardening", "sample.personal_finance", "sample.remote_work"]
        instance.add_dynamic_partitions("niche", added)
        with connect(db) as c:
            remove_niche(c, get_tenant(c, "sample"), "remote_work")
        result = niche_partitions_sensor(dg.build_sensor_context(instance=instance, resources={"warehouse": WarehouseResource()}))
        assert result.dynamic_partitions_requests[0].partition_keys == ["sample.remote_work"]
