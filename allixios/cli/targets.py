"""`allixios targets`: where a tenant's live articles go besides its site (WordPress, CDN purge)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import typer

from allixios.cli._common import JsonOption, TenantOption, print_json, print_table

app = typer.Typer(help="Publishing targets of a tenant: WordPress sites and CDN purge APIs.", no_args_is_help=True)


def _config_text(config: dict) -> str:
    # config rows hold names of secret variables, never secrets: safe to show as they are
    return ", ".join(f"{k}={v}" for k, v in sorted(config.items()))


@app.command("add")
def add(
    name: str = typer.Argument(..., help="A name for the target, e.g. blog or cdn."),
    kind: str = typer.Option(..., "--kind", help="wordpress or cdn."),
    url: str = typer.Option(None, "--url", help="WordPress: the site's home URL."),
    user: str = typer.Option(None, "--user", help="WordPress: the login that owns the application password."),
    password_env: str = typer.Option(
        None, "--password-env", help="WordPress: NAME of the environment variable holding the application password."),
    unpublish: str = typer.Option(None, "--unpublish", help="WordPress: what unpublish does to the post: draft or trash."),
    post_status: str = typer.Option(None, "--post-status", help="WordPress: status of published posts (publish)."),
    zone: str = typer.Option(None, "--zone", help="CDN: the zone id (Cloudflare)."),
    token_env: str = typer.Option(None, "--token-env", help="CDN: NAME of the environment variable holding the API token."),
    api_url: str = typer.Option(None, "--api-url", help="CDN: API base (default https://api.cloudflare.com/client/v4)."),
    path: str = typer.Option(None, "--path", help="CDN: purge path, {zone} is filled in (default /zones/{zone}/purge_cache)."),
    field: str = typer.Option(None, "--field", help="CDN: JSON key of the URL list (default files)."),
    auth_header: str = typer.Option(None, "--auth-header", help="CDN: header carrying the token (default Authorization)."),
    auth_scheme: str = typer.Option(None, "--auth-scheme", help="CDN: token prefix (default Bearer; '' for none)."),
    batch_size: int = typer.Option(None, "--batch-size", help="CDN: URLs per purge request (default 30)."),
    timeout: float = typer.Option(None, "--timeout", help="Seconds to wait for the target."),
    alert_after: int = typer.Option(None, "--alert-after", help="Raise an alert after this many failed attempts (3)."),
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """Add (or replace) a target. Secrets stay in the environment: pass the variable's NAME."""
    from allixios.db.engine import connect
    from allixios.errors import ValidationError
    from allixios.publishing.publications import add_target
    from allixios.tenants import get_tenant

    if kind == "wordpress":
        config = {"url": url, "user": user, "password_env": password_env, "unpublish": unpublish,
                  "status": post_status, "timeout": timeout}
        stray = {"--zone": zone, "--token-env": token_env, "--api-url": api_url, "--path": path, "--field": field,
                 "--auth-header": auth_header, "--auth-scheme": auth_scheme, "--batch-size": batch_size}
    elif kind == "cdn":
        config = {"zone": zone, "token_env": token_env, "api_url": api_url, "path": path, "field": field,
                  "auth_header": auth_header, "auth_scheme": auth_scheme, "batch_size": batch_size, "timeout": timeout}
        stray = {"--url": url, "--user": user, "--password-env": password_env, "--unpublish": unpublish,
                 "--post-status": post_status}
    else:
        raise ValidationError(f"unknown target kind {kind!r}", fix="use --kind wordpress or --kind cdn")
    extra = [k for k, v in stray.items() if v is not None]
    if extra:
        raise ValidationError(f"{', '.join(extra)} do(es) not apply to a {kind} target",
                              fix="see `allixios targets add --help`")
    config["alert_after"] = alert_after
    with connect() as conn:
        row = add_target(conn, get_tenant(conn, tenant), name, kind, config)
    if as_json:
        print_json(row)
    else:
        typer.echo(f"target {row['name']} ({row['kind']}) saved for tenant {tenant}: {_config_text(row['config'])}")


@app.command("list")
def list_(
    removed: bool = typer.Option(False, "--removed", help="Include removed targets."),
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """The tenant's targets and their settings (secrets appear only as the names of their variables)."""
    from allixios.db.engine import connect
    from allixios.publishing.publications import list_targets
    from allixios.tenants import get_tenant

    with connect() as conn:
        rows = list_targets(conn, get_tenant(conn, tenant), include_removed=removed)
    if as_json:
        print_json(rows)
        return
    print_table([{"name": r["name"], "kind": r["kind"], "enabled": r["enabled"], "config": _config_text(r["config"]),
                  "removed": r["deleted_at"]} for r in rows])


@app.command("remove")
def remove(name: str = typer.Argument(..., help="Target name."), tenant: str = TenantOption) -> None:
    """Stop publishing to a target (its history stays; pending publications are superseded)."""
    from allixios.db.engine import connect
    from allixios.publishing.publications import remove_target
    from allixios.tenants import get_tenant

    with connect() as conn:
        row = remove_target(conn, get_tenant(conn, tenant), name)
    typer.echo(f"target {row['name']} ({row['kind']}) removed; remote copies were left as they are")


@app.command("check")
def check(name: str = typer.Argument(..., help="Target name."), tenant: str = TenantOption) -> None:
    """Reach the target with its credentials (nothing is written remotely)."""
    from allixios.db.engine import connect
    from allixios.errors import ConfigError
    from allixios.publishing.publications import check_target
    from allixios.publishing.targets import TargetError
    from allixios.tenants import get_tenant

    with connect() as conn:
        try:
            message = check_target(conn, get_tenant(conn, tenant), name)
        except TargetError as exc:
            raise ConfigError(exc.message, fix=exc.fix) from None
    typer.echo(f"target {name}: {message}")


@app.command("status")
def status(tenant: str = TenantOption, as_json: bool = JsonOption) -> None:
    """Per target: delivered, pending and failing publications, alerts, last error; then what is pending."""
    from allixios.db.engine import connect
    from allixios.publishing.publications import pending_publications, target_status
    from allixios.tenants import get_tenant

    with connect() as conn:
        t = get_tenant(conn, tenant)
        rows, pending = target_status(conn, t), pending_publications(conn, t)
    if as_json:
        print_json({"targets": rows, "pending": pending})
        return
    print_table(rows, ["name", "kind", "done", "pending", "failing", "alerted", "remote_writes", "last_done",
                       "next_attempt", "last_error"])
    if pending:
        typer.echo("\npending:")
        print_table(pending, ["target", "action", "item", "version", "attempts", "next_attempt_at", "last_error"])


@app.command("push")
def push(
    all_pending: bool = typer.Option(False, "--all", help="Also retry publications still waiting out their backoff."),
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """Deliver now what the targets are missing (the `target_publications` asset does this after each run)."""
    from allixios.db.engine import connect
    from allixios.publishing.publications import run_targets
    from allixios.tenants import get_tenant

    with connect() as conn:
        t = get_tenant(conn, tenant)
        now = datetime.now(UTC) + (timedelta(days=3650) if all_pending else timedelta(0))
        report = run_targets(conn, tenant_id=t.id, now=now)
    _print_report(report, as_json)


@app.command("purge")
def purge(urls: list[str] = typer.Argument(..., help="Absolute URLs to purge."), tenant: str = TenantOption,
          as_json: bool = JsonOption) -> None:
    """Purge URLs from every CDN target of the tenant now (failures stay pending and are retried)."""
    from allixios.db.engine import connect
    from allixios.publishing.publications import purge_urls
    from allixios.tenants import get_tenant

    with connect() as conn:
        out = purge_urls(conn, get_tenant(conn, tenant).id, urls)
    if as_json:
        print_json(out)
    else:
        print_table(out) if out else typer.echo("no CDN target configured: nothing purged")


def _print_report(report, as_json: bool) -> None:
    if as_json:
        print_json({"planned": report.planned, "targets": [vars(t) for t in report.targets.values()]})
        return
    if not report.targets:
        typer.echo("nothing to deliver: every target is up to date")
        return
    print_table(report.rows(), ["name", "kind", "published", "unchanged", "unpublished", "purged_urls", "failed",
                                "skipped", "remote_writes", "alerts", "last_error"])
    for t in report.targets.values():
        for w in t.warnings:
            typer.echo(f"warning: {t.name}: {w}")
