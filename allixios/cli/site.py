"""`allixios site`: build, serve, inspect and roll back a tenant's static site."""

from __future__ import annotations

import typer

from allixios.cli._common import JsonOption, TenantOption, print_json, print_table

app = typer.Typer(help="Build, serve, inspect and roll back the tenant's static site.", no_args_is_help=True)


@app.command("build")
def build(
    tenant: str = TenantOption,
    full: bool = typer.Option(False, "--full", help="Render every page again (ignore the previous release)."),
    base_url: str = typer.Option(None, "--base-url", help="Canonical base URL for this build (default: tenant's)."),
    no_media: bool = typer.Option(False, "--no-media", help="Do not import or generate images first."),
    as_json: bool = JsonOption,
) -> None:
    """Build a new release from the live article versions and switch it live in one step."""
    from allixios.db import migrate
    from allixios.db.engine import connect
    from allixios.publishing.site import build_site
    from allixios.tenants import get_tenant

    migrate.upgrade()
    with connect() as conn:
        result = build_site(conn, get_tenant(conn, tenant), base_url=base_url, full=full, with_media=not no_media)
    if as_json:
        print_json(result.summary() | {"changed_urls": result.changed_urls, "removed_urls": result.removed_urls,
                                       "warnings": result.warnings})
        return
    typer.echo(f"site {result.tenant}: release {result.release} is live ({result.base_url})")
    typer.echo(f"  articles {result.pages} (rendered {result.rendered}, reused {result.reused}), other pages "
               f"{result.other_pages}, removed {result.removed}, redirects {result.redirects}, gone {result.gone}, "
               f"changed URLs {len(result.changed_urls)}, {result.seconds:.2f}s")
    if result.media:
        typer.echo("  media: " + ", ".join(f"{k} {v}" for k, v in result.media.items()))
    for w in result.warnings[:20]:
        typer.echo(f"  warning: {w}")
    if len(result.warnings) > 20:
        typer.echo(f"  … and {len(result.warnings) - 20} more warnings (see --json)")


@app.command("serve")
def serve(
    tenant: str = TenantOption,
    port: int = typer.Option(4500, "--port", "-p", help="Port on 127.0.0.1."),
    verbose: bool = typer.Option(False, "--verbose", help="Log every request."),
) -> None:
    """Serve the live release on 127.0.0.1 (301/410 from the redirect map, caching headers)."""
    from allixios.publishing import releases
    from allixios.publishing.serve import make_server

    server = make_server(tenant, "127.0.0.1", port)
    server.verbose = verbose
    live = releases.live_release(tenant)
    note = f"live release {live.name}" if live else "no release yet: run `allixios site build`"
    typer.echo(f"serving the site of {tenant} at http://127.0.0.1:{server.server_address[1]}/ ({note})")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@app.command("status")
def status(tenant: str = TenantOption, as_json: bool = JsonOption) -> None:
    """The live release, the kept releases and what each build did."""
    from allixios.db.engine import connect
    from allixios.publishing.site import site_status
    from allixios.tenants import get_tenant

    with connect() as conn:
        data = site_status(conn, get_tenant(conn, tenant))
    if as_json:
        print_json(data)
        return
    typer.echo(f"site {data['tenant']}: live release {data['live_release'] or 'none'}; "
               f"{data['live_articles']} live articles; folder {data['folder']}")
    print_table(data["releases"], ["release", "status", "kept", "pages", "rendered", "reused", "removed",
                                   "redirects", "gone", "warnings", "finished_at"])


@app.command("rollback")
def rollback(
    tenant: str = TenantOption,
    to: str = typer.Option(None, "--to", help="Release name (default: the one before the live release)."),
) -> None:
    """Make an earlier kept release live again, in one step."""
    from allixios.db.engine import connect
    from allixios.publishing import releases
    from allixios.tenants import get_tenant

    with connect() as conn:
        t = get_tenant(conn, tenant)
        before, after = releases.rollback(conn, t.id, t.slug, to)
    typer.echo(f"site {tenant}: release {after} is live again (was {before})")
