"""`allixios competitors`: the competitor URLs a tenant watches, fetched politely into the gap analysis."""

from __future__ import annotations

import typer

from allixios.cli._common import JsonOption, TenantOption, print_json, print_table

app = typer.Typer(help="Competitors per niche: configure their sitemaps, fetch them (robots.txt, rate limit, cache), "
                  "find the content gaps.", no_args_is_help=True)


@app.command("set")
def set_(niche: str = typer.Argument(..., help="Niche slug."),
         url: list[str] = typer.Argument(None, help="Sitemap or page URLs (none: remove the niche's competitors)."),
         tenant: str = TenantOption) -> None:
    """Replace the competitor URLs of a niche."""
    from allixios.automation.competitor_fetch import set_competitors
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    with connect() as conn:
        config = set_competitors(conn, get_tenant(conn, tenant), niche, list(url or []))
    typer.echo(f"niche {niche}: {len(config.get(niche, []))} competitor URL(s)")


@app.command("list")
def list_(tenant: str = TenantOption, as_json: bool = JsonOption) -> None:
    """The configured competitor URLs, with the last fetch of each."""
    from allixios.db.engine import connect, fetch_dicts
    from allixios.tenants import get_tenant

    with connect() as conn:
        t = get_tenant(conn, tenant)
        config = t.setting("competitor_sitemaps") or {}
        cache = {r["url"]: r for r in fetch_dicts(conn, "SELECT url, status, etag, fetched_at, checked_at, error "
                                                        "FROM competitor_fetch_cache WHERE tenant_id = %s", (t.id,))}
    rows = [{"niche": n, "url": u, **{k: v for k, v in cache.get(u, {}).items() if k != "url"}}
            for n, urls in sorted(config.items()) for u in urls]
    if as_json:
        print_json(rows)
    else:
        print_table(rows, ["niche", "url", "status", "checked_at", "error"])


@app.command("fetch")
def fetch(tenant: str = TenantOption, gaps: bool = typer.Option(True, help="Then turn the gaps into topics."),
          as_json: bool = JsonOption) -> None:
    """Fetch the tenant's competitors (robots.txt honoured, rate limited per host, conditional GET), then find gaps."""
    from dataclasses import asdict

    from allixios.automation.competitor_fetch import fetch_competitors
    from allixios.automation.content_gaps import find_gaps
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    with connect() as conn:
        res = fetch_competitors(conn, get_tenant(conn, tenant))
        found = find_gaps(conn) if gaps else None
    if as_json:
        print_json({"fetch": asdict(res), "gaps": asdict(found) if found else None})
        return
    typer.echo(f"{res.requests} request(s): {res.fetched} fetched, {res.not_modified} not modified (cache), "
               f"{len(res.disallowed)} disallowed by robots.txt; {res.entries} page(s) in {len(res.files)} file(s)")
    for f in res.failures:
        typer.echo(f"failed: {f['url']}: {f['reason']}")
    if found is not None:
        typer.echo(f"gaps: {len(found.added)} topic(s) added, {found.covered} covered, "
                   f"{found.already_in_backlog} already in the backlog")
        print_table(found.added[:20], ["niche", "title", "value", "url"])
