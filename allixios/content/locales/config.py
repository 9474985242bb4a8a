"""Which locales a tenant sells in and each niche translates into, and the tenant's glossary.

Tenants: ``tenants.locales`` (every locale it publishes in) and ``tenants.default_locale`` (the
language articles are drafted in; it is always one of ``locales``). Niches: ``niches.locales``, the
target locales its published articles are translated into — each must be one of the tenant's.
Every refusal is one line that names the fix (``AllixiosError``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import psycopg

from allixios.content.locales import locale_info, parse_locales
from allixios.errors import NotFoundError, ValidationError
from allixios.tenants import Niche, Tenant

MAX_TERM_CHARS = 200


@dataclass(frozen=True)
class TenantLocales:
    default: str
    locales: list[str]


def tenant_locales(conn: psycopg.Connection, tenant_id: UUID) -> TenantLocales:
    row = conn.execute("SELECT default_locale, locales FROM tenants WHERE id = %s", (tenant_id,)).fetchone()
    if not row:
        raise NotFoundError(f"tenant {tenant_id} not found")
    return TenantLocales(row[0], list(row[1]))


def _set_command(tenant: Tenant, locales: list[str]) -> str:
    return f"`allixios locales set {','.join(locales)} --tenant {tenant.slug}`"


def require_tenant_locale(conn: psycopg.Connection, tenant: Tenant, code: str) -> str:
    """``code`` validated and one of the tenant's locales (the error names the command that adds it)."""
    code = locale_info(code).code
    have = tenant_locales(conn, tenant.id)
    if code not in have.locales:
        raise ValidationError(
            f"tenant {tenant.slug!r} has no locale {code!r} (its locales: {', '.join(have.locales)})",
            fix=f"add it to the tenant first: {_set_command(tenant, [*have.locales, code])}",
        )
    return code


def set_tenant_locales(conn: psycopg.Connection, tenant: Tenant, locales: list[str] | str,
                       default: str | None = None) -> TenantLocales:
    """Replace the tenant's locales (and optionally its default). Refuses to drop a locale a niche uses."""
    codes = parse_locales(locales)
    current = tenant_locales(conn, tenant.id)
    default_code = locale_info(default).code if default else current.default
    if default and default_code not in codes:
        codes.insert(0, default_code)
    if not codes:
        raise ValidationError("a tenant needs at least one locale", fix=f"name its locales, e.g. {_set_command(tenant, ['en'])}")
    if default_code not in codes:
        raise ValidationError(
            f"the tenant's default locale {default_code!r} is not in {', '.join(codes)}",
            fix=f"keep it in the list or choose another default with --default {codes[0]}",
        )
    rows = conn.execute(
        "SELECT slug, locales FROM niches WHERE tenant_id = %s AND active AND NOT (locales <@ %s::text[]) ORDER BY slug",
        (tenant.id, codes),
    ).fetchall()
    if rows:
        slug, used = rows[0][0], [c for c in rows[0][1] if c not in codes]
        raise ValidationError(
            f"niche {slug!r} of tenant {tenant.slug!r} still translates into {', '.join(used)}",
            fix=f"remove it from the niche first: `allixios niches locales {slug} --set <locales> --tenant {tenant.slug}`",
        )
    conn.execute("UPDATE tenants SET locales = %s, default_locale = %s, updated_at = now() WHERE id = %s",
                 (codes, default_code, tenant.id))
    # a default that became a niche's target is the source language now, not a translation target
    conn.execute("UPDATE niches SET locales = array_remove(locales, %s) WHERE tenant_id = %s AND %s = ANY(locales)",
                 (default_code, tenant.id, default_code))
    return tenant_locales(conn, tenant.id)


def niche_locales(niche_row_locales: list[str] | None, default: str) -> list[str]:
    return [c for c in (niche_row_locales or []) if c != default]


def get_niche_locales(conn: psycopg.Connection, niche: Niche) -> list[str]:
    row = conn.execute(
        "SELECT n.locales, t.default_locale FROM niches n JOIN tenants t ON t.id = n.tenant_id WHERE n.id = %s",
        (niche.id,),
    ).fetchone()
    return niche_locales(row[0], row[1]) if row else []


def set_niche_locales(conn: psycopg.Connection, tenant: Tenant, niche_slug: str, locales: list[str] | str) -> list[str]:
    """The niche's target locales (the tenant's default is the source language and is left out)."""
    codes = parse_locales(locales)
    have = tenant_locales(conn, tenant.id)
    for code in codes:
        require_tenant_locale(conn, tenant, code)
    targets = [c for c in codes if c != have.default]
    row = conn.execute("UPDATE niches SET locales = %s, updated_at = now() WHERE tenant_id = %s AND slug = %s RETURNING id",
                       (targets, tenant.id, niche_slug)).fetchone()
    if not row:
        raise NotFoundError(f"niche {niche_slug!r} not found for tenant {tenant.slug!r}", fix="see `allixios niches list`")
    return targets


# --------------------------------------------------------------------------- the glossary


def _clean_term(value: str, what: str) -> str:
    text = " ".join(str(value or "").split())
    if not text:
        raise ValidationError(f"glossary {what} is empty", fix="give every glossary entry a term and its translation")
    if len(text) > MAX_TERM_CHARS:
        raise ValidationError(f"glossary {what} {text[:40]!r}… is {len(text)} characters long",
                              fix=f"keep terms under {MAX_TERM_CHARS} characters")
    return text


def glossary_for(conn: psycopg.Connection, tenant_id: UUID, locale: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT term, translation FROM translation_glossary WHERE tenant_id = %s AND locale = %s ORDER BY lower(term)",
        (tenant_id, locale)).fetchall()]


def list_glossary(conn: psycopg.Connection, tenant: Tenant, locale: str | None = None) -> list[dict]:
    rows = conn.execute(
        """SELECT locale, term, translation FROM translation_glossary WHERE tenant_id = %s AND (%s::text IS NULL OR locale = %s)
           ORDER BY locale, lower(term)""", (tenant.id, locale, locale)).fetchall()
    return [{"locale": r[0], "term": r[1], "translation": r[2]} for r in rows]


def add_glossary_entries(conn: psycopg.Connection, tenant: Tenant, entries: list[tuple[str, str, str, str]],
                         *, replace: bool = False) -> int:
    """Add (locale, term, translation, where) entries; ``where`` names the entry in messages (a file line).

    A term with two different translations for one locale — within ``entries`` or against the stored
    glossary (unless ``replace``) — is refused as a whole, naming both."""
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    cleaned = []
    for locale, term, translation, where in entries:
        code = require_tenant_locale(conn, tenant, locale)
        term, translation = _clean_term(term, "term"), _clean_term(translation, "translation")
        key = (code, term.lower())
        if key in seen and seen[key][0] != translation:
            raise ValidationError(
                f"the glossary gives {term!r} two {code} translations: {seen[key][0]!r} ({seen[key][1]}) and "
                f"{translation!r} ({where})",
                fix="keep one translation per term and locale, then import again",
            )
        seen[key] = (translation, where)
        cleaned.append((code, term, translation))
    if not replace:
        for (code, low), (translation, where) in seen.items():
            row = conn.execute(
                "SELECT term, translation FROM translation_glossary WHERE tenant_id = %s AND locale = %s AND lower(btrim(term)) = %s",
                (tenant.id, code, low)).fetchone()
            if row and row[1] != translation:
                raise ValidationError(
                    f"glossary term {row[0]!r} already translates to {row[1]!r} in {code}, not {translation!r} ({where})",
                    fix="pass --replace to change it, or `allixios locales glossary remove` it first",
                )
    written = 0
    for code, term, translation in cleaned:
        conn.execute("DELETE FROM translation_glossary WHERE tenant_id = %s AND locale = %s AND lower(btrim(term)) = %s",
                     (tenant.id, code, term.lower()))
        conn.execute("INSERT INTO translation_glossary (tenant_id, locale, term, translation) VALUES (%s, %s, %s, %s)",
                     (tenant.id, code, term, translation))
        written += 1
    return written


def read_glossary_file(path: Path) -> list[tuple[str, str, str, str]]:
    """A CSV with the columns locale, term, translation (a header row is required)."""
    if not path.is_file():
        raise ValidationError(f"glossary file {path} does not exist", fix="give the path of a CSV file")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        need = {"locale", "term", "translation"}
        if not reader.fieldnames or not need <= {f.strip().lower() for f in reader.fieldnames}:
            raise ValidationError(f"glossary file {path.name} has no header locale,term,translation",
                                  fix="start the file with the line: locale,term,translation")
        out = []
        for n, row in enumerate(reader, start=2):
            row = {(k or "").strip().lower(): (v or "") for k, v in row.items()}
            out.append((row["locale"], row["term"], row["translation"], f"{path.name} line {n}"))
    return out


def remove_glossary_entry(conn: psycopg.Connection, tenant: Tenant, locale: str, term: str) -> bool:
    return conn.execute(
        "DELETE FROM translation_glossary WHERE tenant_id = %s AND locale = %s AND lower(btrim(term)) = lower(btrim(%s))",
        (tenant.id, locale_info(locale).code, term)).rowcount > 0
