"""`allixios locales`: the locales a tenant sells in, its glossary, and where each translation stands."""

from __future__ import annotations

from pathlib import Path

import typer

from allixios.cli._common import JsonOption, TenantOption, print_json, print_table

app = typer.Typer(help="Locales of a tenant, its translation glossary and the translations' status.",
                  no_args_is_help=True)
glossary_app = typer.Typer(help="The tenant's glossary: one fixed translation per term and locale.", no_args_is_help=True)
app.add_typer(glossary_app, name="glossary")


@app.command("supported")
def supported(as_json: bool = JsonOption) -> None:
    """Locales Allixios can translate into, with their readability formula and word lists."""
    from allixios.content.locales import LOCALES
    from allixios.content.locales.readability import FORMULAS, TRANSITIONS

    rows = [{"locale": c, "language": i.name, "readability": FORMULAS[i.readability].name if i.readability
             else f"not available for {c}", "transition_words": "yes" if c in TRANSITIONS or c == "en"
             else f"not available for {c}", "passive_voice": "yes" if c == "en" else f"not available for {c}"}
            for c, i in LOCALES.items()]
    print_json(rows) if as_json else print_table(rows)


@app.command("set")
def set_(locales: str = typer.Argument(..., help="Comma-separated locale codes, e.g. en,de,fr."),
         default: str = typer.Option(None, "--default", help="The locale articles are drafted in (default: unchanged)."),
         tenant: str = TenantOption) -> None:
    """Set the locales the tenant publishes in (and its default locale)."""
    from allixios.content.locales.config import set_tenant_locales
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    with connect() as conn:
        got = set_tenant_locales(conn, get_tenant(conn, tenant), locales, default)
    typer.echo(f"tenant {tenant}: locales {', '.join(got.locales)} (default {got.default})")


@app.command("show")
def show(tenant: str = TenantOption, as_json: bool = JsonOption) -> None:
    """The tenant's locales and each niche's target locales."""
    from allixios.content.locales.config import tenant_locales
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    with connect() as conn:
        t = get_tenant(conn, tenant)
        have = tenant_locales(conn, t.id)
        niches = conn.execute("SELECT slug, locales FROM niches WHERE tenant_id = %s AND active ORDER BY slug",
                              (t.id,)).fetchall()
    data = {"tenant": t.slug, "default_locale": have.default, "locales": have.locales,
            "niches": [{"niche": s, "target_locales": list(ls)} for s, ls in niches]}
    if as_json:
        print_json(data)
        return
    typer.echo(f"tenant {t.slug}: locales {', '.join(have.locales)} (default {have.default})")
    print_table(data["niches"])


@app.command("status")
def status(niche: str = typer.Option(None, help="Only this niche."), tenant: str = TenantOption,
           as_json: bool = JsonOption) -> None:
    """Every source article x target locale: current, stale, rejected (with the reason) or withdrawn."""
    from allixios.content.translation import translation_status
    from allixios.db.engine import connect
    from allixios.errors import NotFoundError
    from allixios.tenants import get_tenant

    with connect() as conn:
        t = get_tenant(conn, tenant)
        niche_id = None
        if niche:
            row = conn.execute("SELECT id FROM niches WHERE tenant_id = %s AND slug = %s", (t.id, niche)).fetchone()
            if not row:
                raise NotFoundError(f"niche {niche!r} not found for tenant {t.slug!r}", fix="see `allixios niches list`")
            niche_id = row[0]
        rows = translation_status(conn, t.id, niche_id)
    print_json(rows) if as_json else print_table(rows, ["source_slug", "locale", "status", "slug", "live_version",
                                                        "of_source_version", "rounds", "last_error"])


@app.command("retry")
def retry(source: str = typer.Option(None, help="Only this source article (slug)."),
          locale: str = typer.Option(None, help="Only this locale."), tenant: str = TenantOption) -> None:
    """Give rejected translations fresh rounds; the next translated_articles run tries them again."""
    from allixios.content.translation import retry_rejected
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    with connect() as conn:
        n = retry_rejected(conn, get_tenant(conn, tenant).id, source, locale)
    typer.echo(f"{n} rejected translation(s) will be tried again by the next translated_articles run")


@glossary_app.command("add")
def glossary_add(locale: str, term: str, translation: str,
                 replace: bool = typer.Option(False, "--replace", help="Change the term's existing translation."),
                 tenant: str = TenantOption) -> None:
    """Add one term and its fixed translation."""
    from allixios.content.locales.config import add_glossary_entries
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    with connect() as conn:
        add_glossary_entries(conn, get_tenant(conn, tenant), [(locale, term, translation, "the command line")],
                             replace=replace)
    typer.echo(f"glossary: {term!r} -> {translation!r} ({locale})")


@glossary_app.command("import")
def glossary_import(path: Path = typer.Argument(..., help="CSV with the header locale,term,translation."),
                    replace: bool = typer.Option(False, "--replace", help="Change existing translations."),
                    tenant: str = TenantOption) -> None:
    """Import a CSV glossary; conflicting entries refuse the whole file, naming both lines."""
    from allixios.content.locales.config import add_glossary_entries, read_glossary_file
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    entries = read_glossary_file(path)
    with connect() as conn:
        n = add_glossary_entries(conn, get_tenant(conn, tenant), entries, replace=replace)
    typer.echo(f"glossary: {n} entr{'y' if n == 1 else 'ies'} imported from {path.name}")


@glossary_app.command("list")
def glossary_list(locale: str = typer.Option(None, help="Only this locale."), tenant: str = TenantOption,
                  as_json: bool = JsonOption) -> None:
    """The tenant's glossary."""
    from allixios.content.locales.config import list_glossary
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    with connect() as conn:
        rows = list_glossary(conn, get_tenant(conn, tenant), locale)
    print_json(rows) if as_json else print_table(rows)


@glossary_app.command("remove")
def glossary_remove(locale: str, term: str, tenant: str = TenantOption) -> None:
    """Remove a term."""
    from allixios.content.locales.config import remove_glossary_entry
    from allixios.db.engine import connect
    from allixios.tenants import get_tenant

    with connect() as conn:
        removed = remove_glossary_entry(conn, get_tenant(conn, tenant), locale, term)
    typer.echo(f"glossary: {term!r} ({locale}) " + ("removed" if removed else "was not in the glossary"))
