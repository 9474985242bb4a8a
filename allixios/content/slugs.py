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
    base = slugify(wanted)
    taken = {
        r[0]
        for r in conn.execute(
            """SELECT slug FROM articles
               WHERE tenant_id = %s AND (slug = %s OR slug ~ ('^' || %s || '-[0-9]+$'))
                 AND id IS DISTINCT FROM %s""",
            (tenant_id, base, re.escape(base), exclude_article_id),
        ).fetchall()
    }
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"
