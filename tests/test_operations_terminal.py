"""The terminal side of operating Allixios: `allixios db url`, `--help`, UI links, set-up folders, `make dev`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import create_engine, text

from allixios import devserver, settings
from allixios.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("dagster", "dagster_dbt", "litellm", "polars", "duckdb", "pyarrow", "sqlalchemy", "alembic", "psycopg", "rich")


def cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "allixios.cli", *args], capture_output=True, text=True, env=env or os.environ.copy(),
        cwd=ROOT, timeout=timeout,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- allixios db url --------------------------------------------------------------------------

def test_db_url_is_a_plain_libpq_url_psql_and_psycopg_accept(db):
    done = cli("db", "url")
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    assert url.startswith("postgresql://") and "+psycopg" not in url
    with psycopg.connect(url) as conn:
        assert conn.execute("select current_database()").fetchone()[0] == db.database
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed (apt-get install postgresql-client)")
    psql = subprocess.run(["psql", url, "-tAc", "select 1"], capture_output=True, text=True, timeout=60)
    assert psql.returncode == 0, psql.stderr
    assert psql.stdout.strip() == "1"


def test_db_url_sqlalchemy_form_behind_a_flag(db):
    done = cli("db", "url", "--sqlalchemy")
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    assert url.startswith("postgresql+psycopg://")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("select 1")).scalar() == 1
    finally:
        engine.dispose()
    dagster = cli("db", "url", "--dagster").stdout.strip()
    assert dagster.startswith("postgresql://") and dagster.split("?")[0].endswith("_dagster")


# --- allixios --help ---------------------------------------------------------------------------

def test_help_is_plain_and_lists_every_command():
    from allixios.cli import _LAZY

    done = cli("--help", timeout=60)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "<bool>" not in out and "╭" not in out and "│" not in out
    assert "--install-completion" not in out
    for name in _LAZY:
        assert f"\n  {name} " in out, name


def test_importing_the_cli_loads_no_heavy_library():
    code = (
        "import sys, allixios.cli; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"imported at `import allixios.cli`: {done.stdout.strip()}"


def test_help_lines_match_the_commands_and_every_help_is_clean(capsys):
    from allixios.cli import _LAZY, _load, main

    for name, (_target, line) in _LAZY.items():
        assert _load(name).get_short_help_str(10_000) == line, f"update the help line of {name!r} in allixios/cli"
        assert main([name, "--help"]) == 0
        out = capsys.readouterr().out
        assert "<bool>" not in out and "╭" not in out and "--install-completion" not in out, (name, out)


def test_no_arguments_print_the_help_and_unknown_commands_one_line(capsys):
    from allixios.cli import main

    assert main([]) == 2
    assert "Commands:" in capsys.readouterr().out
    assert main(["nonsense"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "fix: see `allixios --help`" in err and "\n" not in err


# --- ALLIXIOS_UI_PORT / ALLIXIOS_UI_URL ---------------------------------------------------------

def test_ui_port_is_honoured_by_links_and_make_dev(monkeypatch):
    from allixios.automation.alerts import failure_message, run_link

    monkeypatch.delenv(settings.UI_URL_ENV, raising=False)
    monkeypatch.setenv(settings.UI_PORT_ENV, "4567")
    assert settings.ui_url() == "http://127.0.0.1:4567"
    assert run_link("abc") == "http://127.0.0.1:4567/runs/abc"
    assert "http://127.0.0.1:4567/runs/r1" in failure_message("content_job", "r1", "boom")
    dagster = devserver.dev_processes()[0]
    assert dagster.argv[dagster.argv.index("--port") + 1] == "4567"
    assert dagster.argv[dagster.argv.index("--host") + 1] == "127.0.0.1"
    assert Path(dagster.argv[0]).name == "dg" and dagster.argv[1] == "dev"
    assert dagster.cwd == devserver.dagster_home()  # no "dagster.yaml will not be used" warning
    monkeypatch.setenv("DAGSTER_HOME", "/srv/dagster")
    assert devserver.dev_processes()[0].cwd == Path("/srv/dagster")

    monkeypatch.setenv(settings.UI_URL_ENV, "https://dagster.example.com/")
    assert run_link("abc") == "https://dagster.example.com/runs/abc"

    monkeypatch.setenv(settings.UI_PORT_ENV, "http")
    with pytest.raises(ConfigError, match="ALLIXIOS_UI_PORT"):
        settings.ui_port()


# --- set-up ------------------------------------------------------------------------------------

def test_prepare_creates_every_folder_the_readme_names(db, tmp_path):
    readme = (ROOT / "README.md").read_text()
    home = tmp_path / "home"
    env = {**os.environ, settings.HOME_ENV: str(home)}
    env.pop("DAGSTER_HOME", None)
    done = cli("prepare", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    for kind in settings.LANDING_KINDS:
        assert f"landing/{kind}" in readme
        assert (home / "landing" / kind).is_dir(), kind
    assert (home / "dagster" / "dagster.yaml").is_file()


# --- make dev ----------------------------------------------------------------------------------

def test_supervisor_stops_every_process_when_one_exits():
    sleeper = devserver.DevProcess("sleeper", [sys.executable, "-c", "import time; time.sleep(120)"])
    failing = devserver.DevProcess("failing", [sys.executable, "-c", "import time; time.sleep(0.5); raise SystemExit(3)"])
    lines: list[str] = []
    started = time.monotonic()
    assert devserver.supervise([sleeper, failing], echo=lines.append, poll_s=0.1) == 3
    assert time.monotonic() - started < 100  # the sleeper was stopped, not waited for
    assert any("failing exited with code 3" in line for line in lines)
    assert lines[-1] == "dev: stopped sleeper"


def test_supervisor_runs_each_after_stop_command_once_everything_stopped(tmp_path):
    mark = tmp_path / "after"
    sleeper = devserver.DevProcess("sleeper", [sys.executable, "-c", "import time; time.sleep(120)"],
                                   after_stop=[sys.executable, "-c", f"open({str(mark)!r}, 'a').write('x')"])
    failing = devserver.DevProcess("failing", [sys.executable, "-c", "raise SystemExit(3)"],
                                   after_stop=[sys.executable, "-c", "raise SystemExit('cannot reach storage')"])
    lines: list[str] = []
    assert devserver.supervise([sleeper, failing], echo=lines.append, poll_s=0.1) == 3
    assert mark.read_text() == "x"
    assert any("after stopping failing" in line and "cannot reach storage" in line for line in lines)


@pytest.mark.slow
def test_make_dev_serves_the_ui_on_the_configured_port_without_warnings(db, tmp_path):
    port = free_port()
    env = {**os.environ, settings.HOME_ENV: str(tmp_path / "home"), settings.UI_PORT_ENV: str(port),
           "DAGSTER_DISABLE_TELEMETRY": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    env.pop("DAGSTER_HOME", None)
    log = tmp_path / "dev.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "allixios.cli", "dev"], stdout=out, stderr=subprocess.STDOUT,
                                env=env, cwd=ROOT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        up = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                up = httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200
            except httpx.HTTPError:
                up = False
            if up:
                break
            time.sleep(1)
        assert up, log.read_text()[-3000:]
        # the daemon is up too: it ticks the sensors
        while time.monotonic() < deadline and "SensorDaemon" not in log.read_text():
            time.sleep(1)
    finally:
        os.killpg(proc.pid, 15) if proc.poll() is None else None
        code = proc.wait(timeout=90)
    output = log.read_text()
    assert "SensorDaemon" in output, output[-3000:]
    for warning in ("superseded", "dg dev' instead", "will not be used", "Warning", "WARNING"):
        assert warning not in output, output[-3000:]
    assert "dev: stopped dagster" in output
    assert code == 0
    # the stopped daemon's heartbeats are gone: a CLI launch now launches directly instead of queueing
    beats = subprocess.run([sys.executable, "-c", "from allixios_assets.instance import get_instance; "
                            "print(len(get_instance().get_daemon_heartbeats()))"],
                           env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert beats.stdout.strip() == "0", beats.stdout + beats.stderr
    assert "after stopping" not in output
    with socket.socket() as s:  # the port is free again: nothing left running
        s.bind(("127.0.0.1", port))


# --- where the daily partitions start ------------------------------------------------------------

def test_partitions_start_is_configured_or_the_first_day_of_data(conn, sample_tenant, monkeypatch):
    from datetime import UTC, date, datetime, timedelta

    from allixios import partition_start

    monkeypatch.setenv(partition_start.START_ENV, "2026-10-15")
    assert partition_start.partitions_start() == date(2026, 10, 15)
    assert partition_start.pin_to_first_day_of_data(conn) == date(2026, 10, 15)  # configured wins

    monkeypatch.setenv(partition_start.START_ENV, "15/10/2026")
    with pytest.raises(ConfigError, match="ALLIXIOS_PARTITIONS_START"):
        partition_start.partitions_start()

    monkeypatch.delenv(partition_start.START_ENV)
    monkeypatch.delenv(partition_start.RUN_DATE_ENV, raising=False)
    today = datetime.now(UTC).date()
    assert partition_start.partitions_start(today) == today - timedelta(days=partition_start.DEFAULT_LOOKBACK_DAYS)
    monkeypatch.setenv(partition_start.RUN_DATE_ENV, "2026-11-10")  # `make run` for a past day
    assert partition_start.partitions_start(date(2026, 12, 1)) == date(2026, 11, 3)
    monkeypatch.delenv(partition_start.RUN_DATE_ENV)
    # the sample tenant's backlog was created today: that is its first day of data
    assert partition_start.first_day_of_data(conn) == today
    assert partition_start.pin_to_first_day_of_data(conn) == today
    assert os.environ[partition_start.START_ENV] == today.isoformat()


# --- resources bound with EnvVar ----------------------------------------------------------------

def test_resources_bind_the_database_url_as_an_env_var(db, monkeypatch):
    import dagster as dg

    from resources import resource_defs

    bound = resource_defs()
    for name in ("warehouse", "llm", "embeddings"):
        assert isinstance(bound[name].database_url, dg.EnvVar), name
        assert bound[name].database_url == settings.DATABASE_URL_ENV  # the name, never the URL

    @dg.asset(required_resource_keys={"warehouse"})
    def probe(context) -> str:
        with context.resources.warehouse.connection() as conn:
            return conn.execute("select current_database()").fetchone()[0]

    result = dg.materialize([probe], resources={"warehouse": bound["warehouse"]})
    assert result.output_for_node("probe") == db.database

    monkeypatch.delenv(settings.DATABASE_URL_ENV)
    assert resource_defs()["warehouse"].database_url == ""  # unset: the embedded default
