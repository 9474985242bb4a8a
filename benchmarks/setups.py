"""Set-up snapshots: the runs of one benchmark on one commit share its data set-up (issue 19).

A goal is decided on three runs of one commit, and for the largest benchmarks the data set-up is most
of a run (score_drop_sensor: ~15 of ~20 minutes generating 30M mart rows; vector_search: loading 1M
vectors). With `--reuse-setup` the first run keeps a copy of its database as it stood when the set-up
ended (`CREATE DATABASE … TEMPLATE`, a file copy), and the next runs of the same benchmark, size,
parameters and commit (and uncommitted diff) start from a fresh copy of it. What is measured
(queries, ticks, index builds) runs again on every copy; only the data generation is shared, and
every reused run says so in its report ("set-up" metric) with the set-up timings of the run that
built it. A benchmark opts in by calling `ctx.setup(build)` around a set-up whose data does not
depend on the time it was made: what is relative to now (score_drop_sensor's edit locks, cooldowns
and the day's spend) is seeded after it, on every run.

The copies are kept between invocations (`python -m benchmarks --drop-setups` removes them); a new
snapshot of a benchmark replaces its older ones.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

PREFIX = "allixios_benchsetup_"
ROOT = Path(__file__).resolve().parent.parent


def _tree_key() -> str:
    """The commit, plus the uncommitted diff when the tree has one (so a changed generator never reuses)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True,
                              timeout=10).stdout.strip()
        diff = subprocess.run(["git", "diff", "HEAD", "--", ".", ":(exclude)benchmarks/history.jsonl",
                               ":(exclude)benchmarks/results*.json"], cwd=ROOT, capture_output=True, check=True,
                              timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return f"no-git-{time.time()}"  # never reused: which code built it cannot be told
    return head + ("+" + hashlib.sha256(diff).hexdigest() if diff else "")


def template_name(name: str, size: str, params: dict[str, Any]) -> str:
    key = json.dumps([name, size, params, _tree_key()], sort_keys=True, default=str)
    return f"{PREFIX}{name}_{size}_{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _admin(url: URL) -> psycopg.Connection:
    from allixios.db.server import libpq_conninfo

    return psycopg.connect(libpq_conninfo(url.set(database="postgres")), autocommit=True)


def info(url: URL, template: str) -> dict[str, Any] | None:
    """The snapshot's record (when it was built, the set-up's return value), or None if there is none."""
    with _admin(url) as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                           (template,)).fetchone()
    if row is None:
        return None
    try:
        return json.loads(row[0] or "")
    except json.JSONDecodeError:
        return None  # an interrupted snapshot (no record written): not used


def clone(url: URL, template: str) -> None:
    """Create the benchmark's database ``url`` as a copy of ``template``."""
    with _admin(url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
            sql.Identifier(url.database), sql.Identifier(template)))


def snapshot(url: URL, template: str, value: Any) -> None:
    """Keep the database ``url`` as it is now as ``template`` (replacing older snapshots of the benchmark)."""
    from allixios.db.engine import dispose_all

    dispose_all()  # no pooled connection may stay on the source database
    family = template.rsplit("_", 1)[0] + "_"
    record = json.dumps({"built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "value": value}, default=str)
    with _admin(url) as conn:
        for (old,) in conn.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (family,)).fetchall():
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(old)))
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                     (url.database,))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
            sql.Identifier(template), sql.Identifier(url.database)))
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(template), sql.Literal(record)))


def drop_all(url: URL) -> list[str]:
    with _admin(url) as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)",
                                            (PREFIX,)).fetchall()]
        for name in names:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return names
