"""`allixios tenants`: a tenant's plan, limits (with today's use) and feature flags."""

from __future__ import annotations

import typer

from allixios.cli._common import JsonOption, TenantOption, print_json, print_table

app = typer.Typer(help="A tenant's plan, limits and feature flags.", no_args_is_help=True)


def _show(tenant_slug: str, as_json: bool) -> None:
    from allixios import plans
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    with connect() as conn:
        info = plans.describe(conn, get_tenant(conn, tenant_slug).id)
    if as_json:
        print_json(info)
        return
    typer.echo(f"plan: {info['plan']}")
    print_table([{**r, "value": "no limit" if r["value"] is None else r["value"]} for r in info["limits"]])
    print_table([{**r, "value": "default" if r["value"] is None else ("on" if r["value"] else "off")}
                 for r in info["flags"]])


@app.command("show")
def show(tenant: str = TenantOption, as_json: bool = JsonOption) -> None:
    """Plan, effective limits with today's use, and feature flags."""
    _show(tenant, as_json)


@app.command("plan")
def plan(name: str = typer.Argument(None, help="self_hosted, free, pro or enterprise; omit to show."),
         tenant: str = TenantOption) -> None:
    """Show or set the plan (it gives the defaults of limits and flags)."""
    from allixios import plans
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    if name:
        with connect() as conn:
            plans.set_plan(conn, get_tenant(conn, tenant).id, name)
    _show(tenant, False)


@app.command("limits")
def limits(
    set_: list[str] = typer.Option([], "--set", help="KEY=N or KEY=none (repeatable), e.g. articles_per_day=20."),
    unset: list[str] = typer.Option([], "--unset", help="Back to the plan's value (repeatable)."),
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """Show or override limits: articles_per_day, seats, api_keys, api_calls_per_day, api_requests_per_minute."""
    from allixios import plans
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    if set_ or unset:
        with connect() as conn:
            plans.set_limits(conn, get_tenant(conn, tenant).id, set_, unset)
    _show(tenant, as_json)


@app.command("flags")
def flags(
    enable: list[str] = typer.Option([], "--enable", help="Switch a feature on (repeatable)."),
    disable: list[str] = typer.Option([], "--disable", help="Switch a feature off (repeatable)."),
    unset: list[str] = typer.Option([], "--unset", help="Back to the plan's or the feature's default (repeatable)."),
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """Show or switch feature flags: learned_routing, translation."""
    from allixios import plans
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    if enable or disable or unset:
        with connect() as conn:
            plans.set_flags(conn, get_tenant(conn, tenant).id, enable, disable, unset)
    _show(tenant, as_json)
