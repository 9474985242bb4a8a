"""`allixios collector site|land|status`: the beacon's site key and origins, landing the log."""

from __future__ import annotations

import json

import typer

from allixios.cli._common import TenantOption

app = typer.Typer(no_args_is_help=True, help="The first-party beacon's collector: site key, origins, landing.")


@app.command("site")
def site(origin: list[str] = typer.Option(..., "--origin", help="An origin the site's pages are served from (repeat)."),
         collect_url: str = typer.Option(..., help="The API's public address the beacon posts to (…/v1/collect)."),
         allow_headless: bool = typer.Option(False, help="Accept headless browsers (browser tests only)."),
         rotate: bool = typer.Option(False, help="Issue a new site key (rebuild the site afterwards)."),
         tenant: str = TenantOption) -> None:
    """Create or update the tenant's collecting site; prints its public site key."""
    from allixios.collector.sites import configure
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    with connect() as conn:
        s = configure(conn, get_tenant(conn, tenant), origin, collect_url, allow_headless, rotate)
    print(json.dumps({"site_key": s.site_key, "origins": list(s.allowed_origins), "collect_url": s.collect_url,
                      "allow_headless": s.allow_headless}))
    print("rebuild the site (`allixios site build`) so its pages carry the beacon", flush=True)


@app.command("land")
def land() -> None:
    """Land the write-ahead log now (the API does it every few seconds)."""
    from allixios.collector.lander import land_once

    print(json.dumps(land_once(), indent=2, default=str))


@app.command("status")
def status(tenant: str = TenantOption) -> None:
    """Refusals of today and recent days, by reason."""
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    with connect() as conn:
        t = get_tenant(conn, tenant)
        rows = conn.execute("""SELECT day::text, reason, hits FROM collector_refusals WHERE tenant_id = %s OR tenant_id IS NULL
                               ORDER BY day DESC, hits DESC LIMIT 50""", (t.id,)).fetchall()
    for day, reason, hits in rows:
        print(f"{day}  {hits:>8}  {reason}")
