"""URL slugs: ASCII, lower-case, hyphenated; a collision within a tenant gets a numeric suffix."""

from __future__ import annotations

import re
import unicodedata
from uuid import UUID

import psycopg

MAX_SLUG_CHARS = 80


def slugify(text: str, max_chars: int = MAX_SLUG_CHARS) -> str:
    """'Índex Funds: 101!' -> 'index-funds-101' (cut at a word boundary); never empty."""
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_chars:
        slug = slug[:max_chars].rsplit("-", 1)[0] or slug[:max_chars]
    return slug or "article"


def unique_slug(conn: psycopg.Connection, tenant_id: UUID, wanted: str, exclude_article_id: UUID | None = None) -> str:
    """``wanted`` if no other article of the tenant (deleted ones included) has it, else ``wanted-2``, ``-3``, ..."""
    return unique_slugs(conn, tenant_id, [wanted], exclude_article_id)[0]


def unique_slugs(conn: psycopg.Connection, tenant_id: UUID, wanted: list[str],
                 exclude_article_id: UUID | None = None) -> list[str]:
    """`unique_slug` for several new articles with one query (a batch of drafts): each slug is free
    among the tenant's articles and distinct from the others in the list (the first keeps its base)."""
    bases = [slugify(w) for w in wanted]
    distinct = sorted(set(bases))
    # per base, an index range (articles_tenant_slug_c_idx): [base, base || '-:') in "C" order holds
    # the base and its numbered forms; the pattern keeps exactly those
    taken = {
        r[0]
        for r in conn.execute(
            """SELECT a.slug FROM unnest(%s::text[], %s::text[]) AS b(base, pattern)
               JOIN articles a ON a.tenant_id = %s
                AND (a.slug COLLATE "C") >= b.base AND (a.slug COLLATE "C") < b.base || '-:'
                AND (a.slug = b.base OR a.slug ~ b.pattern)
                AND a.id IS DISTINCT FROM %s""",
            (distinct, [f"^{re.escape(b)}-[0-9]+$" for b in distinct], tenant_id, exclude_article_id),
        ).fetchall()
    }
    out = []
    for base in bases:
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        taken.add(slug)
        out.append(slug)
    return out
