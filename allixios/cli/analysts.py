"""`allixios analysts`: read-only, tenant-isolated database logins for the marts."""

from __future__ import annotations

import typer

from allixios.cli._common import JsonOption, print_json, print_table

app = typer.Typer(help="Analyst logins that read one tenant's marts (Row-Level Security).", no_args_is_help=True)


@app.command("grant")
def grant(
    tenant: str = typer.Option(..., "--tenant", "-t", help="Tenant whose marts rows the analyst reads."),
    user: str = typer.Option(..., "--user", "-u", help="Database login to create (lower-case)."),
    password: str = typer.Option(None, "--password", help="Password (default: a random one, printed once)."),
) -> None:
    """Create or update an analyst login: SELECT on schema marts only, rows of one tenant only."""
    from allixios.analytics.access import grant_analyst
    from allixios.db import server
    from allixios.db.engine import connect

    url = server.app_url()
    with connect(url) as conn:
        granted = grant_analyst(conn, tenant, user, password)
    analyst_url = granted.url(url.set(drivername="postgresql"))
    typer.echo(f"analyst {granted.role} reads tenant {granted.tenant_slug!r} in schema marts (read-only)")
    typer.echo(f"  connection: {analyst_url.render_as_string(hide_password=False)}")
    if not password:
        typer.echo("  the password is shown once; run grant again to set a new one")


@app.command("revoke")
def revoke(user: str = typer.Option(..., "--user", "-u")) -> None:
    """Drop an analyst login and its tenant mapping."""
    from allixios.analytics.access import revoke_analyst
    from allixios.db.engine import connect

    with connect() as conn:
        revoke_analyst(conn, user)
    typer.echo(f"analyst {user} removed")


@app.command("list")
def list_(as_json: bool = JsonOption) -> None:
    """Analyst logins and the tenant each one reads."""
    from allixios.analytics.access import list_analysts
    from allixios.db.engine import connect

    with connect() as conn:
        rows = list_analysts(conn)
    print_json(rows) if as_json else print_table(rows, ["user", "tenant", "can_login", "created_at"])


@app.command("archive-query")
def archive_query(
    sql: str = typer.Argument(..., help="duckdb SQL over the views page_events and revenue_events."),
    tenant: str = typer.Option(..., "--tenant", "-t", help="Tenant whose archive partitions the query reads."),
    limit: int = typer.Option(1000, "--limit", help="Print at most this many rows."),
    as_json: bool = JsonOption,
) -> None:
    """Query the tenant's Parquet archive of raw events with duckdb (no PostgreSQL needed).

    The archive ($ALLIXIOS_HOME/archive/<table>/tenant=<slug>/day=<YYYY-MM-DD>/part-0.parquet) is
    written after each analytics day; the query sees that tenant's partitions only.
    """
    from allixios.analytics.archive import query_archive

    names, rows = query_archive(sql, tenant, limit=limit)
    records = [dict(zip(names, row, strict=True)) for row in rows]
    print_json(records) if as_json else print_table(records, names)
