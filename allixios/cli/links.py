"""`allixios links`: internal-link suggestions, accepting them, automatic links within the cap."""

from __future__ import annotations

import typer

from allixios.cli._common import JsonOption, TenantOption, print_json, print_table

app = typer.Typer(help="Internal-link suggestions: list, accept (a new version), apply automatically.",
                  no_args_is_help=True)


def _user(user: str | None) -> str:
    from allixios.editorial.articles import default_actor

    return (user or default_actor()).strip()


@app.command("suggestions")
def suggestions(niche: str = typer.Option(None, help="Only this niche (slug)."), tenant: str = TenantOption,
                per_article: int = typer.Option(3, min=1, max=20, help="Suggestions per source article."),
                as_json: bool = JsonOption) -> None:
    """Links worth adding (source, target, anchor from the source's words, reason), best first per source."""
    from allixios.content.internal_links import link_report
    from allixios.db.engine import connect
    from allixios.errors import NotFoundError
    from allixios.publishing.config import site_host
    from allixios.tenants import get_tenant, list_niches

    with connect() as conn:
        t = get_tenant(conn, tenant)
        niches = [n for n in list_niches(conn, t) if niche is None or n.slug == niche]
        if niche and not niches:
            raise NotFoundError(f"niche {niche!r} not found for tenant {t.slug!r}", fix="see `allixios niches list`")
        rows = [s | {"niche": n.slug} for n in niches
                for s in link_report(conn, t.id, n.id, per_article=per_article, site_host=site_host(conn, t))["link_suggestions"]]
    if as_json:
        print_json(rows)
    else:
        print_table(rows, ["niche", "source", "target", "anchor", "score", "reason"])


@app.command("accept")
def accept(source: str = typer.Argument(..., help="Source article (id or slug): where the link goes."),
           target: str = typer.Argument(..., help="Target article (id or slug): where the link points."),
           anchor: str = typer.Option(None, help="Anchor text (words of the source); default: the suggestion's."),
           user: str = typer.Option(None, "--user", "-u", help="Who accepts (default: $ALLIXIOS_USER or the OS user)."),
           tenant: str = TenantOption, as_json: bool = JsonOption) -> None:
    """Insert the link into the source as a new version (audited, refused while someone else holds the lock)."""
    from allixios.content.link_apply import apply_link
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    with connect() as conn:
        res = apply_link(conn, get_tenant(conn, tenant), source, target, actor=_user(user), anchor=anchor)
    if as_json:
        print_json(res)
    elif res["changed"]:
        typer.echo(f"{res['source']} now links to /{res['target']} as [{res['anchor']}] (version {res['version']}"
                   f"{', published' if res['published'] else ''})")
    else:
        typer.echo(f"{res['source']} already links to /{res['target']}: nothing changed")


@app.command("auto")
def auto(tenant: str = TenantOption, as_json: bool = JsonOption) -> None:
    """Apply the best suggestions now, within the tenant's per-article cap (setting auto_link_cap; 0 = off)."""
    from allixios.content.link_apply import auto_apply_links
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    with connect() as conn:
        res = auto_apply_links(conn, get_tenant(conn, tenant))
    if as_json:
        print_json(res)
        return
    print_table(res["applied"], ["niche", "source", "target", "anchor", "version", "why"])
    for s in res["skipped"]:
        typer.echo(f"skipped {s['source']} -> {s['target']}: {s['reason']}")


@app.command("cap")
def cap(value: int = typer.Argument(..., help="Automatic links per article over its life (0 = off; -1 with --niche: "
                                    "use the tenant's cap)."),
        niche: str = typer.Option(None, help="Set this niche's override instead of the tenant's cap."),
        tenant: str = TenantOption) -> None:
    """Set how many links Allixios may add to one article on its own (tenant-wide or per niche)."""
    from allixios.content.link_apply import set_auto_link_cap
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    with connect() as conn:
        t = set_auto_link_cap(conn, get_tenant(conn, tenant), None if (niche and value == -1) else value, niche)
    typer.echo(f"automatic links: tenant cap {t.setting('auto_link_cap')}, per niche "
               f"{t.setting('auto_link_cap_by_niche') or 'none'}")


@app.command("applied")
def applied(tenant: str = TenantOption, limit: int = typer.Option(50, min=1, max=1000),
            as_json: bool = JsonOption) -> None:
    """Links Allixios inserted (accepted or automatic), newest first."""
    from allixios.content.link_apply import applied_links
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    with connect() as conn:
        rows = applied_links(conn, get_tenant(conn, tenant), limit)
    if as_json:
        print_json(rows)
    else:
        print_table(rows, ["source", "target", "anchor", "mode", "actor", "version", "applied_at"])
