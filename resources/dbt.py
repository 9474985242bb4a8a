"""dbt wiring: the project, its manifest, the CLI resource and the connection env its profile reads.

``dbt_project/profiles.yml`` reads ``ALLIXIOS_DBT_HOST/PORT/USER/PASSWORD/DBNAME`` (for the embedded
server the host is its unix-socket folder). They are derived from Allixios' database URL when dbt
is about to run (never at import): ``AllixiosDbtResource.cli`` exports them, and
``dbt_environment()`` returns them for a subprocess.

The manifest is built at install/dev time (``allixios prepare``, run by ``make install``), not
parsed at every import of the code location.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from dagster_dbt import DbtCliResource, DbtProject
from sqlalchemy.engine import URL

from allixios import settings
from allixios.errors import ConfigError

ENV_PREFIX = "ALLIXIOS_DBT_"
MANIFEST_ENV = "ALLIXIOS_DBT_MANIFEST"  # a manifest built elsewhere (e.g. in a deploy image step)
MANIFEST_FIX = "run `make install` (or `allixios prepare`) to build dbt_project/target/manifest.json"


def project_dir() -> Path:
    return settings.repo_path("dbt_project")


def dbt_executable() -> str:
    """The dbt next to this Python (the venv), else the one on PATH."""
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else (shutil.which("dbt") or "dbt")


def dbt_project() -> DbtProject:
    return DbtProject(project_dir=project_dir(), profiles_dir=project_dir())


def manifest_path() -> Path:
    configured = os.environ.get(MANIFEST_ENV)
    return Path(configured) if configured else project_dir() / "target" / "manifest.json"


def connection_env(url: URL | None = None) -> dict[str, str]:
    """The ALLIXIOS_DBT_* variables for the application database (or ``url``)."""
    from allixios.db import server

    params = server.connection_params(url or server.app_url())
    return {f"{ENV_PREFIX}{key.upper()}": str(value) for key, value in params.items()}


# dbt waits at most this long for a table lock (an analyst's open transaction on a mart, another
# build) and fails the model instead of hanging; profiles.yml retries connections, the run's retry
# re-runs the step. libpq reads PGOPTIONS, so only dbt's own connections get it.
LOCK_TIMEOUT_ENV, LOCK_TIMEOUT = "ALLIXIOS_DBT_LOCK_TIMEOUT", "60s"


def dbt_pgoptions() -> str:
    timeout = os.environ.get(LOCK_TIMEOUT_ENV, LOCK_TIMEOUT)
    return " ".join(filter(None, [os.environ.get("PGOPTIONS", ""), f"-c lock_timeout={timeout}"]))


def dbt_environment(url: URL | None = None) -> dict[str, str]:
    """A full environment for running ``dbt`` as a subprocess against Allixios' database."""
    return {**os.environ, **connection_env(url), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "PGOPTIONS": dbt_pgoptions()}


def export_dbt_environment(url: URL | None = None) -> None:
    os.environ.update(connection_env(url))


def _on_database(manifest: dict[str, Any], database: str) -> dict[str, Any]:
    """The manifest with every model and source in ``database``.

    The manifest is parsed once (at install time) with the profile's default database name; the
    database a run builds in is Allixios' own, which ALLIXIOS_DATABASE_URL may name differently.
    dagster-dbt reads column types and row counts from the relations the manifest names.
    """
    def move(node: dict[str, Any]) -> dict[str, Any]:
        if "database" not in node:
            return node
        relation = node.get("relation_name") or ""
        old = f'"{node["database"]}".'
        if relation.startswith(old):  # "db"."schema"."name", as the row counts query it
            relation = f'"{database}".' + relation[len(old):]
        return {**node, "database": database, **({"relation_name": relation} if relation else {})}

    def moved(nodes: dict[str, Any]) -> dict[str, Any]:
        return {uid: move(node) for uid, node in nodes.items()}

    return {**manifest, "nodes": moved(manifest.get("nodes", {})), "sources": moved(manifest.get("sources", {}))}


# The build window of one invocation, read by macros/window.sql when dbt executes (not when it
# parses), so a daily build needs no --vars and dbt's partial parsing holds.
WINDOW_ENV = {"start_date": f"{ENV_PREFIX}START_DATE", "end_date": f"{ENV_PREFIX}END_DATE"}


def parse_state_path(database: str) -> Path:
    """dbt's partial_parse.msgpack for builds on ``database``.

    One per database: the parse state holds every node's database (the profile's dbname), so a
    state parsed for one database must not serve a build on another. dbt itself re-parses what
    changed (files, dbt version, vars, the connection's host/port/user/database, dbt_project.yml)
    and skips the rest; a state dbt cannot use only costs the full parse it replaces.
    """
    return project_dir() / "target" / "parse_state" / f"{database}.msgpack"


def _keep_parse_state(source: Path, database: str) -> None:
    if not source.exists():
        return
    destination = parse_state_path(database)
    destination.parent.mkdir(parents=True, exist_ok=True)
    scratch = destination.with_name(f".{destination.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}")
    shutil.copyfile(source, scratch)
    os.replace(scratch, destination)  # atomic: a concurrent build copies the old state or the new


def keep_parse_state(invocation) -> None:
    """After an invocation: its parse state serves the next build on the same database."""
    _keep_parse_state(invocation.target_path / "partial_parse.msgpack", os.environ[f"{ENV_PREFIX}DBNAME"])


class AllixiosDbtResource(DbtCliResource):
    """``DbtCliResource`` that points dbt's profile at Allixios' database before each command.

    ``window`` ({"start_date": D, "end_date": D}) goes to dbt as environment variables, not
    ``--vars``; the invocation starts from the database's kept parse state (``parse_state_path``).
    """

    def cli(self, args, *, window: dict[str, str] | None = None, **kwargs):  # type: ignore[override]
        export_dbt_environment()
        database = os.environ[f"{ENV_PREFIX}DBNAME"]
        if "target_path" not in kwargs:
            target = project_dir() / "target" / f"dbt-{uuid.uuid4().hex[:12]}"
            state = parse_state_path(database)
            if state.exists():
                target.mkdir(parents=True)
                shutil.copyfile(state, target / "partial_parse.msgpack")
            kwargs["target_path"] = target
        # captured by the dbt subprocess's environment only (dagster-dbt copies os.environ)
        scoped = {"PGOPTIONS": dbt_pgoptions(), **{WINDOW_ENV[k]: v for k, v in (window or {}).items()}}
        saved = {name: os.environ.get(name) for name in scoped}
        os.environ.update(scoped)
        try:
            invocation = super().cli(args, **kwargs)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        nodes = invocation.manifest.get("nodes", {})
        if any(node.get("database") not in (None, database) for node in nodes.values()):
            invocation.manifest = _on_database(dict(invocation.manifest), database)
        return invocation


def resource_defs() -> dict[str, Any]:
    folder = str(project_dir())
    return {"dbt": AllixiosDbtResource(project_dir=folder, profiles_dir=folder, dbt_executable=dbt_executable())}


def _sources_newer_than(path: Path) -> bool:
    built = path.stat().st_mtime
    root = project_dir()
    candidates = [root / "dbt_project.yml", root / "profiles.yml"]
    for folder in ("models", "macros", "tests"):
        candidates += [p for p in (root / folder).rglob("*") if p.is_file()]
    return any(p.stat().st_mtime > built for p in candidates if p.exists())


def manifest_is_current() -> bool:
    path = manifest_path()
    return path.exists() and not _sources_newer_than(path)


def prepare_manifest(force: bool = False) -> Path:
    """Run ``dbt parse`` and put the manifest in place atomically (concurrent callers are safe).

    Skipped when the manifest is newer than every file of the project, unless ``force``.
    """
    target = manifest_path()
    if not force and manifest_is_current():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="parse-", dir=target.parent))
    try:
        done = subprocess.run(
            [dbt_executable(), "parse", "--quiet", "--project-dir", str(project_dir()),
             "--profiles-dir", str(project_dir()), "--target-path", str(scratch), "--log-path", str(scratch)],
            env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
            capture_output=True, text=True, timeout=300,
        )
        if done.returncode != 0 or not (scratch / "manifest.json").exists():
            tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
            raise ConfigError(f"dbt parse failed: {' | '.join(tail)}", fix="fix the dbt project under dbt_project/")
        os.replace(scratch / "manifest.json", target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def prepare_parse_state(url: URL | None = None) -> Path:
    """``dbt parse`` for builds on the application database (or ``url``): its parse state, as the
    first build there would leave it (`allixios prepare`; the benchmark's untimed set-up). Parsed
    with the connection's profile: dbt discards a state parsed for another host or database."""
    scratch = Path(tempfile.mkdtemp(prefix="parse-", dir=manifest_path().parent))
    try:
        env = {**dbt_environment(url), "DBT_TARGET_PATH": str(scratch), "DBT_LOG_PATH": str(scratch)}
        done = subprocess.run([dbt_executable(), "parse", "--quiet", "--project-dir", str(project_dir()),
                               "--profiles-dir", str(project_dir())], env=env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
            raise ConfigError(f"dbt parse failed: {' | '.join(tail)}", fix="fix the dbt project under dbt_project/")
        database = env[f"{ENV_PREFIX}DBNAME"]
        _keep_parse_state(scratch / "partial_parse.msgpack", database)
        return parse_state_path(database)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def require_manifest() -> Path:
    """The manifest path, building it first under `dagster dev`; a clear error when it is missing."""
    if os.environ.get("DAGSTER_IS_DEV_CLI"):
        prepare_manifest()  # development: pick up model changes (like DbtProject.prepare_if_dev)
    path = manifest_path()
    if not path.exists():
        raise ConfigError(f"the dbt manifest {path} is missing", fix=MANIFEST_FIX)
    return path
