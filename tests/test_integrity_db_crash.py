"""Issue 11: `kill -9` of the embedded PostgreSQL. A separate server in its own short ALLIXIOS_HOME
under /tmp (the suite's server is never touched): while it replays its log, `allixios db status`
says "recovering", a command that needs the database waits instead of failing, nothing prints a
traceback or suggests deleting the data folder, and committed rows survive."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from allixios import settings

pytestmark = pytest.mark.slow

WRITE = textwrap.dedent("""
    import psycopg
    from allixios.db import server
    url = server.app_url()
    with psycopg.connect(server.libpq_conninfo(url.set(database="postgres")), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (note text)")
        conn.execute("INSERT INTO kept VALUES ('committed before the crash')")
        conn.execute("CHECKPOINT")
        # committed after the last checkpoint: replayed from the log on restart (slow enough to watch)
        conn.execute("CREATE TABLE big AS SELECT g, repeat(md5(g::text), 12) AS pad FROM generate_series(1, 400000) g")
    print("written", flush=True)
""")
READ = textwrap.dedent("""
    import psycopg
    from allixios.db import server
    url = server.app_url()
    with psycopg.connect(server.libpq_conninfo(url.set(database="postgres"))) as conn:
        print(conn.execute("SELECT note FROM kept").fetchone()[0], conn.execute("SELECT count(*) FROM big").fetchone()[0])
""")
MORE_WAL = textwrap.dedent("""
    import psycopg
    from allixios.db import server
    with psycopg.connect(server.libpq_conninfo(server.app_url().set(database="postgres")), autocommit=True) as conn:
        conn.execute("INSERT INTO big SELECT g, repeat(md5(g::text), 12) FROM generate_series(1, 400000) g")
        conn.execute("DELETE FROM big WHERE g > 400000")
""")
BAD_ADVICE = ("remove the folder", "delete", "rm -rf", "start afresh")


def _env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in (settings.DATABASE_URL_ENV, settings.DAGSTER_DATABASE_URL_ENV)}
    return {**env, settings.HOME_ENV: str(home)}


def _cli(env: dict, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "allixios.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300, **kw)


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _children(pid: int) -> list[tuple[int, str]]:
    try:  # cheap where the kernel lists children; else scan /proc
        kids = [int(k) for k in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        out = []
        for kid in kids:
            try:
                out.append((kid, Path(f"/proc/{kid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")))
            except OSError:
                pass
        return out
    except (OSError, ValueError):
        pass
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            out.append((int(entry.name), cmd))
    return out


def _catch_startup(pgdata: Path, waiting: subprocess.Popen) -> int | None:
    """The restarted server's startup (WAL replay) process, stopped with SIGSTOP; None if missed."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and waiting.poll() is None:
        pid = _postmaster_pid(pgdata)
        if pid:
            found = [c for c in _children(pid) if "startup" in c[1]]
            if found:
                os.kill(found[0][0], signal.SIGSTOP)  # hold the replay so every observer sees it in progress
                return found[0][0]
        time.sleep(0.002)
    return None


def _assert_clean(proc: subprocess.CompletedProcess) -> None:
    text = (proc.stdout + proc.stderr).lower()
    assert "traceback" not in text, proc.stderr[-3000:]
    for advice in BAD_ADVICE:
        assert advice not in text, proc.stderr


def test_kill_9_of_the_embedded_database_recovers_without_bad_advice():
    home = Path(tempfile.mkdtemp(prefix="axk", dir="/tmp"))  # short: the socket lives in the data folder
    env = _env(home)
    pgdata = home / "pg"
    try:
        started = _cli(env, "db", "start")
        assert started.returncode == 0, started.stderr[-2000:]
        written = subprocess.run([sys.executable, "-c", WRITE], env=env, capture_output=True, text=True, timeout=300)
        assert "written" in written.stdout, written.stderr[-2000:]
        for _ in range(3):  # the replay can be quicker than this watcher: crash it again until caught
            os.kill(_postmaster_pid(pgdata), signal.SIGKILL)
            # a command needing the database starts the server again and must wait for its recovery
            waiting = subprocess.Popen([sys.executable, "-m", "allixios.cli", "db", "start"], env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            startup = _catch_startup(pgdata, waiting)
            if startup is not None:
                break
            out, err = waiting.communicate(timeout=300)
            assert waiting.returncode == 0, err[-3000:]
            _assert_clean(subprocess.CompletedProcess(waiting.args, 0, out, err))
            more = subprocess.run([sys.executable, "-c", MORE_WAL], env=env, capture_output=True, text=True, timeout=300)
            assert more.returncode == 0, more.stderr[-2000:]
        assert startup is not None, "the restarted server never ran a startup (recovery) process"
        try:
            time.sleep(0.5)
            status = _cli(env, "db", "status")
            assert "embedded: recovering" in status.stdout, status.stdout + status.stderr
            _assert_clean(status)
            assert waiting.poll() is None  # still waiting, not failed
        finally:
            os.kill(startup, signal.SIGCONT)
        out, err = waiting.communicate(timeout=300)
        done = subprocess.CompletedProcess(waiting.args, waiting.returncode, out, err)
        assert done.returncode == 0, err[-3000:]
        _assert_clean(done)
        assert "crash recovery" in err or "recovering after a crash" in err
        final = _cli(env, "db", "status")
        assert final.returncode == 0 and "running" in final.stdout
        read = subprocess.run([sys.executable, "-c", READ], env=env, capture_output=True, text=True, timeout=120)
        assert read.stdout.split() == ["committed", "before", "the", "crash", "400000"], read.stderr[-2000:]
    finally:
        subprocess.run([sys.executable, "-m", "allixios.cli", "db", "stop"], env=env, capture_output=True, timeout=120)
        from allixios.db.server import _processes_in

        for pid in _processes_in(pgdata):  # this test's server only (its processes work in its folder)
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize(("log", "state", "recovering"), [
    ("starting PostgreSQL 18\n", 6, True),  # the startup process has not logged yet: pg_control says "in production"
    ("starting PostgreSQL 18\n", 1, False),  # a clean shutdown before this start
    ("starting PostgreSQL 18\ndatabase system was shut down at 2026-12-01\n", 6, False),  # clean start, near its end
    ("starting PostgreSQL 18\ndatabase system was not properly shut down; automatic recovery in progress\n", 4, True),
])
def test_a_start_is_a_recovery_when_the_log_or_pg_control_says_so(tmp_path, log, state, recovering):
    """The CI run that held the startup process before its first log line saw "starting": pg_control's
    state (what the crash left) tells it before the log does."""
    from allixios.db.server import _start_is_recovery

    (tmp_path / "global").mkdir()
    (tmp_path / "global" / "pg_control").write_bytes(bytes(16) + state.to_bytes(4, sys.byteorder) + bytes(100))
    (tmp_path / "log").write_text("database system was shut down at 2026-11-30\n" + log)
    assert _start_is_recovery(tmp_path) is recovering
