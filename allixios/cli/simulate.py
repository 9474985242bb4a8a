"""`allixios simulate traffic`: write realistic event files (offline stand-in for real traffic feeds)."""

from __future__ import annotations

import typer

from allixios.cli._common import JsonOption, TenantOption, print_json

app = typer.Typer(help="Offline stand-ins for real feeds: simulated traffic.", no_args_is_help=True)


@app.command("traffic")
def traffic(
    days: int = typer.Option(7, "--days", "-n", help="How many days of traffic (1-366)."),
    events_per_day: int = typer.Option(2000, "--events-per-day", "-e", help="Page views per day (before seasonality)."),
    start: str = typer.Option(None, "--start", help="First day, YYYY-MM-DD (UTC). Default: the window ends today."),
    seed: int = typer.Option(42, "--seed", help="Same seed, same files."),
    bad_share: float = typer.Option(0.01, "--bad-share", help="Share of deliberately bad rows (0-0.5)."),
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """Write page-view and revenue files for the tenant's published articles into the landing folder."""
    from allixios.analytics.simulator import simulate_traffic
    from allixios.cli.ingest import parse_day
    from allixios.db.engine import connect

    first = parse_day(start, "--start") if start else None
    with connect() as conn:
        result = simulate_traffic(conn, days, events_per_day, first, tenant, seed, bad_share=bad_share)
    if as_json:
        print_json(result)
        return
    typer.echo(
        f"{result['simulator']}: {result['page_events']} page views and {result['revenue_events']} revenue events "
        f"for {result['articles']} articles of {tenant!r}, {result['start']} .. {result['end']}"
    )
    typer.echo(
        f"  {result['files']} files in {result['folder']}/<day>/; {result['bad_rows']} deliberately bad rows, "
        f"{result['duplicates']} re-sent duplicates; {len(result['drop_articles'])} articles with an engagement drop"
    )
    typer.echo("  load them with `allixios ingest events --date DAY` or the analytics_job in Dagster")
