"""`allixios db`: the embedded server and schema migrations."""

from __future__ import annotations

import typer

app = typer.Typer(help="Start, stop and migrate the database.", no_args_is_help=True)


@app.command()
def start() -> None:
    """Start the embedded PostgreSQL (or check ALLIXIOS_DATABASE_URL) and create the databases."""
    from allixios.db import server

    url = server.app_url()
    server.ensure_database(url)
    server.ensure_database(server.dagster_url(), require_pgvector=False)
    state = server.status()
    kind = "embedded" if state.embedded else "external"
    typer.echo(f"database ready ({kind}): {url.render_as_string(hide_password=True)}")


@app.command()
def stop() -> None:
    """Stop the embedded PostgreSQL (no-op for an external server)."""
    from allixios.db import server

    if not server.status().embedded:
        typer.echo("ALLIXIOS_DATABASE_URL is set: the external server is not managed by Allixios")
        return
    typer.echo("stopped" if server.stop_embedded() else "not running")


@app.command()
def status() -> None:
    """Show whether the database is up, where it is and the schema revision."""
    from allixios.db import migrate as migrations
    from allixios.db import server

    state = server.status()
    kind = "embedded" if state.embedded else "external"
    if state.state in ("recovering", "starting", "stopping"):
        note = {"recovering": "replaying its log after a crash; commands wait for it; keep the data folder",
                "starting": "commands wait for it", "stopping": "shutting down"}[state.state]
        typer.echo(f"{kind}: {state.state} pid {state.pid} ({note})" + (f"\ndata: {state.pgdata}" if state.pgdata else ""))
        raise typer.Exit(3)
    if not state.running:
        typer.echo(f"{kind}: not running" + (f" (data in {state.pgdata})" if state.pgdata else ""))
        raise typer.Exit(1)
    revision = migrations.current_revision(server.app_url()) if state.running else None
    typer.echo(f"{kind}: running" + (f" pid {state.pid}" if state.pid else ""))
    typer.echo(f"url: {state.url}")
    if state.pgdata:
        typer.echo(f"data: {state.pgdata}")
    typer.echo(f"schema revision: {revision or 'none (run `allixios db migrate`)'}")


@app.command()
def url(
    dagster: bool = typer.Option(False, "--dagster", help="Print the Dagster storage database URL instead."),
    sqlalchemy: bool = typer.Option(
        False, "--sqlalchemy", help="Print the SQLAlchemy form (postgresql+psycopg://...) instead of the libpq URL."
    ),
) -> None:
    """Print the database URL for psql, psycopg and BI tools (starting the embedded server if needed).

    The default is a plain libpq URL: `psql "$(allixios db url)"` and `psycopg.connect(...)` accept it.
    """
    from allixios.db import server

    target = server.dagster_url() if dagster else server.app_url()
    if sqlalchemy:
        typer.echo(target.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    else:
        typer.echo(server.libpq_conninfo(target))


@app.command()
def migrate(
    revision: str = typer.Argument("head", help="Target revision."),
    down: bool = typer.Option(False, "--down", help="Downgrade to REVISION (e.g. base) instead."),
) -> None:
    """Apply (or revert) schema migrations."""
    from allixios.db import migrate as migrations
    from allixios.db import server

    if down:
        migrations.downgrade(revision=revision)
    else:
        migrations.upgrade(revision=revision)
        server.ensure_database(server.dagster_url(), require_pgvector=False)
    typer.echo(f"schema at {migrations.current_revision() or 'base'}")
