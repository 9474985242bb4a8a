"""`allixios niches`: the niche catalogue (each active niche is a content partition key)."""

from __future__ import annotations

import typer

from allixios.cli._common import JsonOption, TenantOption, print_json, print_table
from allixios.db.engine import connect
from allixios.tenants import add_niche, ensure_tenant, get_tenant, list_niches, remove_niche

app = typer.Typer(help="Add, list and remove niches.", no_args_is_help=True)


@app.command("add")
def add(
    slug: str = typer.Argument(..., help="Niche slug, e.g. personal_finance."),
    name: str = typer.Option(None, help="Display name."),
    keyword: list[str] = typer.Option([], "--keyword", "-k", help="Seed keyword for topic research (repeatable)."),
    quota: int = typer.Option(5, help="Topics drafted per day at most."),
    tenant: str = TenantOption,
    create_tenant: bool = typer.Option(False, "--create-tenant", help="Create the tenant if it does not exist."),
    locale: list[str] = typer.Option([], "--locale", "-l",
                                     help="Target locale its articles are translated into (repeatable; one of the tenant's)."),
) -> None:
    """Add a niche; it becomes a partition key of the content assets at the next sensor tick."""
    with connect() as conn:
        t = ensure_tenant(conn, tenant) if create_tenant else get_tenant(conn, tenant)
        niche = add_niche(conn, t, slug, name, keyword, quota)
        targets = _set_locales(conn, t, niche.slug, locale) if locale else []
    extra = f"; translated into {', '.join(targets)}" if targets else ""
    typer.echo(f"niche {niche.slug} ready (partition key {niche.partition_key}){extra}")


def _set_locales(conn, tenant, slug: str, locales: list[str]) -> list[str]:
    from allixios.content.locales.config import set_niche_locales

    return set_niche_locales(conn, tenant, slug, locales)


@app.command("locales")
def locales(
    slug: str = typer.Argument(..., help="Niche slug."),
    set_: str = typer.Option(None, "--set", help="Comma-separated target locales (each one of the tenant's); '' for none."),
    tenant: str = TenantOption,
) -> None:
    """Show or set the locales a niche's published articles are translated into."""
    from allixios.content.locales.config import get_niche_locales

    with connect() as conn:
        t = get_tenant(conn, tenant)
        if set_ is not None:
            targets = _set_locales(conn, t, slug, [set_])
        else:
            niche = next((n for n in list_niches(conn, t) if n.slug == slug), None)
            if niche is None:
                from allixios.errors import NotFoundError

                raise NotFoundError(f"niche {slug!r} not found for tenant {t.slug!r}", fix="see `allixios niches list`")
            targets = get_niche_locales(conn, niche)
    typer.echo(f"niche {slug}: target locales {', '.join(targets) or 'none'}")


@app.command("remove")
def remove(slug: str, tenant: str = TenantOption) -> None:
    """Stop scheduling a niche; its articles and history stay."""
    with connect() as conn:
        niche = remove_niche(conn, get_tenant(conn, tenant), slug)
    typer.echo(f"niche {niche.slug} removed from scheduling (history kept)")


@app.command("list")
def list_(tenant: str = typer.Option(None, "--tenant", "-t", help="Only this tenant."), as_json: bool = JsonOption) -> None:
    """List active niches with their partition keys."""
    with connect() as conn:
        niches = list_niches(conn, get_tenant(conn, tenant) if tenant else None)
    rows = [
        {"partition_key": n.partition_key, "name": n.name, "daily_quota": n.daily_quota, "seed_keywords": n.seed_keywords}
        for n in niches
    ]
    print_json(rows) if as_json else print_table(rows)
