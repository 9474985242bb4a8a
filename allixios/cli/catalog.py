"""`allixios authors` and `allixios categories`: the personas and categories of a tenant's niches."""

from __future__ import annotations

import typer

from allixios.cli._common import JsonOption, TenantOption, print_json, print_table

authors_app = typer.Typer(help="Author personas per niche: shown as bylines, author pages and JSON-LD.",
                          no_args_is_help=True)
categories_app = typer.Typer(help="Categories per niche: shown as category links, pages and JSON-LD articleSection.",
                             no_args_is_help=True)


@authors_app.command("add")
def author_add(
    name: str = typer.Argument(..., help="The persona's display name (the byline)."),
    niche: str = typer.Option(None, "--niche", "-n", help="Niche slug; without it the persona writes for any niche."),
    job_title: str = typer.Option(None, "--title", help="Job title, e.g. 'Personal finance editor'."),
    bio: str = typer.Option(None, help="One or two sentences shown on the author page."),
    slug: str = typer.Option(None, help="Page address /authors/<slug>/ (default: from the name)."),
    tenant: str = TenantOption,
) -> None:
    """Add (or update) an author persona; new drafts of its niche are assigned among the niche's personas."""
    from allixios.catalog import add_author
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    with connect() as conn:
        a = add_author(conn, get_tenant(conn, tenant), name, niche=niche, job_title=job_title, bio=bio, slug=slug)
    typer.echo(f"author {a.name} ready (/authors/{a.slug}/, niche {a.niche or 'any'})")


@authors_app.command("list")
def author_list(tenant: str = TenantOption, all_: bool = typer.Option(False, "--all", help="Include removed."),
                as_json: bool = JsonOption) -> None:
    """List the tenant's author personas."""
    from allixios.catalog import list_authors
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    with connect() as conn:
        rows = [{"slug": a.slug, "name": a.name, "niche": a.niche or "(any)", "title": a.job_title, "active": a.active}
                for a in list_authors(conn, get_tenant(conn, tenant), active_only=not all_)]
    print_json(rows) if as_json else print_table(rows)


@authors_app.command("remove")
def author_remove(ref: str = typer.Argument(..., help="Slug or name."), tenant: str = TenantOption) -> None:
    """Stop assigning a persona to new articles; its articles keep their byline."""
    from allixios.catalog import remove_author
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    with connect() as conn:
        a = remove_author(conn, get_tenant(conn, tenant), ref)
    typer.echo(f"author {a.name} no longer assigned (its articles keep the byline)")


@authors_app.command("assign")
def author_assign(tenant: str = TenantOption) -> None:
    """Give every article of the tenant that has none a persona and a category (after adding them)."""
    from allixios.catalog import assign_missing
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    with connect() as conn:
        n = assign_missing(conn, get_tenant(conn, tenant))
    typer.echo(f"{n} articles given a persona and/or category; rebuild the site with `allixios site build`")


@categories_app.command("add")
def category_add(
    name: str = typer.Argument(..., help="Display name."),
    niche: str = typer.Option(None, "--niche", "-n", help="Niche slug; without it the category is tenant-wide."),
    keyword: list[str] = typer.Option([], "--keyword", "-k",
                                      help="A word or phrase that puts an article in this category (repeatable)."),
    description: str = typer.Option(None, help="One line shown on the category page."),
    slug: str = typer.Option(None, help="Page address /categories/<slug>/ (default: from the name)."),
    tenant: str = TenantOption,
) -> None:
    """Add (or update, same slug) a category; new drafts go to the niche's best-matching category."""
    from allixios.catalog import add_category
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    with connect() as conn:
        c = add_category(conn, get_tenant(conn, tenant), name, niche=niche, keywords=keyword, description=description,
                         slug=slug)
    typer.echo(f"category {c.name} ready (/categories/{c.slug}/, niche {c.niche or 'any'})")


@categories_app.command("list")
def category_list(tenant: str = TenantOption, as_json: bool = JsonOption) -> None:
    """List the tenant's categories and their keywords."""
    from allixios.catalog import list_categories
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    with connect() as conn:
        rows = [{"slug": c.slug, "name": c.name, "niche": c.niche or "(any)", "keywords": c.keywords}
                for c in list_categories(conn, get_tenant(conn, tenant))]
    print_json(rows) if as_json else print_table(rows)
