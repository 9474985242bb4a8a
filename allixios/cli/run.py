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
    """Set-up (run by `make install`): database migrated, folders created, Dagster home written, dbt manifest built."""
    from allixios import settings

    migrations.upgrade()
    folders = settings.ensure_state_folders()
    from allixios_assets.instance import prepare_dagster_home

    home = prepare_dagster_home()
    from resources.dbt import prepare_manifest, prepare_parse_state

    manifest = prepare_manifest()
    prepare_parse_state()  # the day builds on this database start from it (no full re-parse)
    typer.echo(f"schema migrated; folders {', '.join(str(f) for f in folders)}; Dagster home {home}; dbt manifest {manifest}")


def dev() -> None:
    """Serve the Dagster UI and daemon (`dg dev`), the Allixios API and the tenant site on 127.0.0.1, supervised together.

    Every server `make dev` runs is listed in `allixios.devserver.dev_processes()`; Ctrl-C stops them all.
    """
    from allixios import devserver, settings
    from allixios_assets.instance import prepare_dagster_home

    migrations.upgrade()
    settings.ensure_state_folders()
    prepare_dagster_home()
    from allixios.partition_start import pin_to_first_day_of_data

    with connect() as conn:
        start = pin_to_first_day_of_data(conn)  # inherited by the code server
    typer.echo(f"dev: daily partitions start {start} (first day of data; ALLIXIOS_PARTITIONS_START overrides)")
    code = devserver.supervise(devserver.dev_processes(settings.ui_port()), echo=typer.echo)
    if code:
        raise typer.Exit(code)
