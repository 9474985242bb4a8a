"""`allixios seed` and `allixios run`: the sample tenant and the main job."""

from __future__ import annotations

import typer

from allixios.db import migrate as migrations
from allixios.db.engine import connect
from allixios.sample import seed_sample


def seed(tenant: str = typer.Option("sample", "--tenant", "-t", help="Tenant slug to create.")) -> None:
    """Migrate the schema and create the sample tenant with niches and a topic backlog (idempotent)."""
    migrations.upgrade()
    with connect() as conn:
        t = seed_sample(conn, tenant)
        niches = conn.execute("SELECT count(*) FROM niches WHERE tenant_id = %s AND active", (t.id,)).fetchone()[0]
        topics = conn.execute("SELECT count(*) FROM topics WHERE tenant_id = %s", (t.id,)).fetchone()[0]
    typer.echo(f"tenant {t.slug}: {niches} niches, {topics} topics in the backlog")


def run() -> None:
    """Seed, then materialize the main job (content graph + analytics) for today on a real Dagster instance."""
    from allixios_assets.runner import run_main_job

    if not run_main_job(echo=typer.echo):
        raise typer.Exit(1)


def prepare() -> None:
    """Build-time set-up (run by `make install`): database migrated, Dagster home written, dbt manifest built."""
    migrations.upgrade()
    from allixios_assets.instance import prepare_dagster_home

    home = prepare_dagster_home()
    from resources.dbt import prepare_manifest

    manifest = prepare_manifest()
    typer.echo(f"schema migrated; Dagster home {home}; dbt manifest {manifest}")


def dev() -> None:
    """Serve the Dagster UI and daemon (`dagster dev`) on the Allixios code location and PostgreSQL storage."""
    import os
    import shutil

    from allixios import settings
    from allixios_assets.instance import prepare_dagster_home

    migrations.upgrade()
    prepare_dagster_home()
    dagster = shutil.which("dagster")
    if not dagster:
        from allixios.errors import ConfigError

        raise ConfigError("the `dagster` command is not on PATH", fix="run `make dev` (it puts .venv/bin first)")
    os.chdir(settings.project_root())
    _start_site_server()
    os.execv(dagster, [dagster, "dev", "-w", "workspace.yaml", "--host", "127.0.0.1", "--port", os.environ.get("ALLIXIOS_UI_PORT", "3000")])


def _start_site_server() -> None:
    """`allixios site serve` beside the Dagster UI (issue 13); it dies with `dev` (PR_SET_PDEATHSIG)."""
    import os
    import subprocess
    import sys

    def die_with_parent() -> None:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    port = os.environ.get("ALLIXIOS_SITE_PORT", "4500")
    tenant = os.environ.get("ALLIXIOS_SITE_TENANT", "sample")
    subprocess.Popen([sys.executable, "-m", "allixios.cli", "site", "serve", "--tenant", tenant, "--port", port],
                     preexec_fn=die_with_parent)
    typer.echo(f"site of {tenant}: http://127.0.0.1:{port}/ (build it with `allixios site build` or `make run`)")
