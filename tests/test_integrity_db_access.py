"""Issue 11, database access on the embedded server: passwords required (scram-sha-256) for every
role including the superuser, analysts' sessions bounded by timeouts, dbt bounded by lock_timeout."""

from __future__ import annotations

import os
import time
import uuid

import psycopg
import pytest

from allixios import settings
from allixios.analytics.access import grant_analyst, revoke_analyst
from allixios.db import server
from allixios.db.engine import connect
from resources.dbt import dbt_environment


@pytest.fixture
def embedded(database_url):
    host = database_url.query.get("host")
    if not host or not str(host).startswith("/"):
        pytest.skip("the suite runs on an external server (ALLIXIOS_DATABASE_URL): pg_hba is not ours")
    return database_url


@pytest.fixture
def analyst(sample_tenant):
    role = f"analyst_acc_{uuid.uuid4().hex[:8]}"
    with connect() as conn:
        grant = grant_analyst(conn, sample_tenant.slug, role, password="right-password-1")
    yield grant
    with connect() as conn:
        revoke_analyst(conn, role)


def _connect(url, **kw) -> psycopg.Connection:
    return psycopg.connect(server.libpq_conninfo(url), connect_timeout=10, autocommit=True, **kw)


def test_passwords_are_required_for_every_role(embedded, analyst):
    host = embedded.query["host"]
    with _connect(analyst.url(embedded)) as conn:  # the right password works
        assert conn.execute("SELECT current_user").fetchone()[0] == analyst.role
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(host=host, dbname=embedded.database, user=analyst.role, password="wrong-password")
    # an analyst's URL cannot be turned into superuser access: postgres needs its own password
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(host=host, dbname=embedded.database, user="postgres", password=analyst.password)
    with pytest.raises(psycopg.OperationalError, match="no password supplied|password authentication failed"):
        psycopg.connect(host=host, dbname=embedded.database, user="postgres", passfile="/nonexistent")
    with connect() as conn:
        rules = conn.execute("SELECT DISTINCT auth_method FROM pg_hba_file_rules WHERE error IS NULL").fetchall()
    assert rules == [("scram-sha-256",)]
    passfile = embedded.query.get("passfile")
    assert passfile and oct(os.stat(passfile).st_mode & 0o777) == "0o600"  # the app's superuser: 0600 passfile


def test_analyst_sessions_are_bounded(embedded, analyst):
    with _connect(analyst.url(embedded)) as conn:
        values = {name: conn.execute(f"SHOW {name}").fetchone()[0]
                  for name in ("statement_timeout", "idle_in_transaction_session_timeout", "default_transaction_read_only")}
    assert values == {"statement_timeout": "5min", "idle_in_transaction_session_timeout": "1min",
                      "default_transaction_read_only": "on"}


def test_an_idle_analyst_transaction_is_ended_by_the_server(embedded, analyst):
    with connect() as conn:  # a short timeout for this role, the mechanism is the same
        conn.execute(f'ALTER ROLE "{analyst.role}" SET idle_in_transaction_session_timeout = \'1s\'')
    conn = _connect(analyst.url(embedded))
    conn.autocommit = False
    conn.execute("SELECT 1")  # opens a transaction and leaves it idle
    time.sleep(2.5)
    with pytest.raises(psycopg.Error, match="idle-in-transaction"):
        conn.execute("SELECT 1")
    conn.close()


def test_dbt_gets_a_lock_timeout_and_connection_retries(embedded):
    env = dbt_environment()
    assert "lock_timeout=" in env["PGOPTIONS"]
    # what dbt's psycopg2 connections will run with: a real session with those options
    with psycopg.connect(server.libpq_conninfo(embedded), options=env["PGOPTIONS"].strip()) as conn:
        assert conn.execute("SHOW lock_timeout").fetchone()[0] == "1min"
    assert "PGOPTIONS" not in os.environ or "lock_timeout" not in os.environ.get("PGOPTIONS", "")
    profile = (settings.repo_path("dbt_project") / "profiles.yml").read_text()
    assert "retries:" in profile


@pytest.mark.slow
def test_dbt_fails_fast_on_a_lock_held_by_an_open_transaction(embedded, tmp_path, monkeypatch):
    """A reader's open transaction on a relation dbt rebuilds: dbt stops at its lock_timeout instead
    of waiting for ever, and succeeds once the reader is gone."""
    import subprocess

    from resources.dbt import dbt_executable, project_dir

    def dbt_run() -> subprocess.CompletedProcess:
        target = tmp_path / f"t{uuid.uuid4().hex[:6]}"
        return subprocess.run(
            [dbt_executable(), "run", "--select", "stg_ai_usage", "--project-dir", str(project_dir()),
             "--profiles-dir", str(project_dir()), "--target-path", str(target), "--log-path", str(target)],
            env=dbt_environment(), capture_output=True, text=True, timeout=300,
        )

    monkeypatch.setenv("ALLIXIOS_DBT_LOCK_TIMEOUT", "2s")
    first = dbt_run()
    assert first.returncode == 0, first.stdout[-3000:]
    with connect() as conn:
        schema = conn.execute("SELECT schemaname FROM pg_views WHERE viewname = 'stg_ai_usage'").fetchone()[0]
    reader = _connect(embedded)
    reader.autocommit = False
    reader.execute(f'SELECT * FROM "{schema}".stg_ai_usage LIMIT 1')  # holds its lock until it ends
    try:
        blocked = dbt_run()  # would wait as long as the reader without a lock_timeout (TimeoutExpired)
    finally:
        reader.rollback()
        reader.close()
    assert blocked.returncode != 0 and "lock timeout" in blocked.stdout.lower(), blocked.stdout[-3000:]
    again = dbt_run()
    assert again.returncode == 0, again.stdout[-3000:]
