"""Author personas and categories per niche, and their assignment to articles.

Configured like niches (`allixios authors …`, `allixios categories …`), stored in the seed's
`authors` and `categories` tables. An article gets both when it is drafted:

- author: one of the niche's active personas (else one of the tenant-wide ones), chosen by a hash
  of the article's slug, so a re-run picks the same persona and personas share the work evenly;
- category: the niche's category whose keywords occur most often in the title, tags and
  keyphrase (ties and no match: the first by slug), so the choice follows the article's words.

Everything is tenant-scoped: a persona or category of another tenant is never a candidate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID

import psycopg

from allixios.content.slugs import slugify
from allixios.errors import ConflictError, NotFoundError, ValidationError
from allixios.tenants import Niche, Tenant

# site paths of the persona and category pages; a niche with one of these slugs would shadow them
RESERVED_SEGMENTS = ("authors", "categories")


@dataclass(frozen=True)
class Author:
    id: UUID
    slug: str
    name: str
    niche: str | None  # niche slug; None = any niche of the tenant
    job_title: str | None
    bio: str | None
    active: bool


@dataclass(frozen=True)
class Category:
    id: UUID
    slug: str
    name: str
    niche: str | None
    keywords: list[str]
    description: str | None


def _niche_id(conn: psycopg.Connection, tenant: Tenant, niche_slug: str | None) -> UUID | None:
    if not niche_slug:
        return None
    row = conn.execute("SELECT id FROM niches WHERE tenant_id = %s AND slug = %s", (tenant.id, niche_slug)).fetchone()
    if row is None:
        raise NotFoundError(f"niche {niche_slug!r} not found for tenant {tenant.slug!r}", fix="see `allixios niches list`")
    return row[0]


def _slug(kind: str, name: str, slug: str | None) -> str:
    value = slugify(slug or name, 60)
    if not any(ch.isascii() and ch.isalnum() for ch in (slug or name)):  # slugify falls back to "article"
        raise ValidationError(f"{kind} {name!r} has no letters or digits for its page address",
                              fix=f"give the {kind} a name with letters, or pass --slug")
    return value


def _clean(text: str | None, kind: str, limit: int = 500) -> str | None:
    text = " ".join((text or "").split())
    if len(text) > limit:
        raise ValidationError(f"the {kind} is {len(text)} characters long", fix=f"keep it under {limit} characters")
    return text or None


_AUTHOR_SQL = """SELECT a.id, a.slug, a.name, n.slug, a.job_title, a.bio, a.active
                 FROM authors a LEFT JOIN niches n ON n.id = a.niche_id WHERE a.tenant_id = %s"""


def add_author(conn: psycopg.Connection, tenant: Tenant, name: str, *, niche: str | None = None,
               job_title: str | None = None, bio: str | None = None, slug: str | None = None) -> Author:
    """Create or update (same name) a persona; re-activates a removed one."""
    name = _clean(name, "author name", 120) or ""
    if not name:
        raise ValidationError("the author name is empty", fix="pass the persona's display name")
    slug = _slug("author", name, slug)
    try:
        with conn.transaction():
            row = conn.execute(
                """INSERT INTO authors (tenant_id, name, slug, niche_id, job_title, bio)
                   VALUES (%s, %s, %s, %s, %s, %s)
                   ON CONFLICT (tenant_id, name) DO UPDATE SET niche_id = EXCLUDED.niche_id,
                       job_title = EXCLUDED.job_title, bio = EXCLUDED.bio, slug = EXCLUDED.slug, active = true
                   RETURNING id""",
                (tenant.id, name, slug, _niche_id(conn, tenant, niche), _clean(job_title, "job title", 120),
                 _clean(bio, "bio", 1000)),
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise ConflictError(f"another author of tenant {tenant.slug!r} has the page /authors/{slug}/",
                            fix="pass --slug with another page address") from None
    return get_author(conn, tenant, str(row[0]))


def get_author(conn: psycopg.Connection, tenant: Tenant, ref: str) -> Author:
    row = conn.execute(_AUTHOR_SQL + " AND (a.slug = %s OR a.name = %s OR a.id::text = %s)",
                       (tenant.id, ref, ref, ref)).fetchone()
    if row is None:
        raise NotFoundError(f"author {ref!r} not found for tenant {tenant.slug!r}", fix="see `allixios authors list`")
    return Author(*row)


def list_authors(conn: psycopg.Connection, tenant: Tenant, *, active_only: bool = True) -> list[Author]:
    sql = _AUTHOR_SQL + (" AND a.active" if active_only else "") + " ORDER BY n.slug NULLS FIRST, a.slug"
    return [Author(*r) for r in conn.execute(sql, (tenant.id,)).fetchall()]


def remove_author(conn: psycopg.Connection, tenant: Tenant, ref: str) -> Author:
    """Stop assigning a persona; articles keep their byline."""
    author = get_author(conn, tenant, ref)
    conn.execute("UPDATE authors SET active = false WHERE id = %s", (author.id,))
    return get_author(conn, tenant, ref)


_CATEGORY_SQL = """SELECT c.id, c.slug, c.name, n.slug, c.keywords, c.description
                   FROM categories c LEFT JOIN niches n ON n.id = c.niche_id WHERE c.tenant_id = %s"""


def add_category(conn: psycopg.Connection, tenant: Tenant, name: str, *, niche: str | None = None,
                 keywords: list[str] | None = None, description: str | None = None,
                 slug: str | None = None) -> Category:
    """Create or update (same slug) a category."""
    name = _clean(name, "category name", 120) or ""
    if not name:
        raise ValidationError("the category name is empty", fix="pass the category's display name")
    words = sorted({" ".join(k.lower().split()) for k in keywords or [] if k and k.strip()})
    slug = _slug("category", name, slug)
    conn.execute(
        """INSERT INTO categories (tenant_id, niche_id, name, slug, keywords, description)
           VALUES (%s, %s, %s, %s, %s, %s)
           ON CONFLICT (tenant_id, slug) DO UPDATE SET niche_id = EXCLUDED.niche_id, name = EXCLUDED.name,
               keywords = EXCLUDED.keywords, description = EXCLUDED.description""",
        (tenant.id, _niche_id(conn, tenant, niche), name, slug, words, _clean(description, "description", 500)),
    )
    return get_category(conn, tenant, slug)


def get_category(conn: psycopg.Connection, tenant: Tenant, ref: str) -> Category:
    row = conn.execute(_CATEGORY_SQL + " AND (c.slug = %s OR c.id::text = %s)", (tenant.id, ref, ref)).fetchone()
    if row is None:
        raise NotFoundError(f"category {ref!r} not found for tenant {tenant.slug!r}", fix="see `allixios categories list`")
    return Category(row[0], row[1], row[2], row[3], list(row[4] or []), row[5])


def list_categories(conn: psycopg.Connection, tenant: Tenant) -> list[Category]:
    rows = conn.execute(_CATEGORY_SQL + " ORDER BY n.slug NULLS FIRST, c.slug", (tenant.id,)).fetchall()
    return [Category(r[0], r[1], r[2], r[3], list(r[4] or []), r[5]) for r in rows]


# --- assignment ---------------------------------------------------------------------------------
def pick_author(candidates: list[tuple[UUID, str]], key: str) -> UUID | None:
    """The persona for ``key`` (the article's slug) among (id, slug) candidates: stable and even."""
    if not candidates:
        return None
    ordered = sorted(candidates, key=lambda c: c[1])
    index = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % len(ordered)
    return ordered[index][0]


def pick_category(candidates: list[tuple[UUID, str, list[str]]], words: str) -> UUID | None:
    """The category whose keywords occur most often in ``words``; ties and no match: first by slug."""
    if not candidates:
        return None
    text = f" {' '.join(words.lower().split())} "
    ordered = sorted(candidates, key=lambda c: c[1])
    scores = [sum(text.count(f" {k} ") for k in kws) for _, _, kws in ordered]
    best = max(range(len(ordered)), key=lambda i: (scores[i], -i))
    return ordered[best][0]


def assign(conn: psycopg.Connection, article_id: UUID, *, overwrite: bool = False) -> tuple[UUID | None, UUID | None]:
    """Give an article its persona and category (kept when already set unless ``overwrite``)."""
    row = conn.execute(
        """SELECT tenant_id, niche_id, slug, title, tags, primary_keyphrase, author_id, category_id
           FROM articles WHERE id = %s""", (article_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"article {article_id} not found")
    tenant_id, niche_id, slug, title, tags, keyphrase, author_id, category_id = row
    if not overwrite and author_id is not None and category_id is not None:
        return author_id, category_id
    chosen = choose(conn, tenant_id, niche_id, slug=slug, title=title, tags=tags, keyphrase=keyphrase)
    if overwrite or author_id is None:
        author_id = chosen[0]
    if overwrite or category_id is None:
        category_id = chosen[1]
    conn.execute("UPDATE articles SET author_id = %s, category_id = %s WHERE id = %s AND tenant_id = %s",
                 (author_id, category_id, article_id, tenant_id))
    return author_id, category_id


def choose(conn: psycopg.Connection, tenant_id: UUID, niche_id: UUID | None, *, slug: str, title: str | None,
           tags, keyphrase: str | None, candidates: dict | None = None) -> tuple[UUID | None, UUID | None]:
    """The (persona, category) an article with these fields gets: what `assign` writes, also usable
    before the article's INSERT (the drafting step writes both with the row). ``candidates``: a dict
    the caller keeps for one transaction, so a niche's personas and categories are read once for a
    batch of articles (issue 19: the drafting step stores a batch of drafts per transaction)."""
    cache = candidates if candidates is not None else {}
    # the niche's personas first; tenant-wide ones only when the niche has none
    people = cache.get(("authors", tenant_id, niche_id))
    if people is None:
        people = cache[("authors", tenant_id, niche_id)] = conn.execute(
            """SELECT id, slug, niche_id IS NOT NULL FROM authors WHERE tenant_id = %s AND active
               AND (niche_id = %s OR niche_id IS NULL)""", (tenant_id, niche_id)).fetchall()
    own = [(i, s) for i, s, scoped in people if scoped]
    author_id = pick_author(own or [(i, s) for i, s, _ in people], slug)
    cats = cache.get(("categories", tenant_id, niche_id))
    if cats is None:
        cats = cache[("categories", tenant_id, niche_id)] = conn.execute(
            """SELECT id, slug, keywords, niche_id IS NOT NULL FROM categories WHERE tenant_id = %s
               AND (niche_id = %s OR niche_id IS NULL)""", (tenant_id, niche_id)).fetchall()
    own_cats = [(i, s, list(k or [])) for i, s, k, scoped in cats if scoped]
    words = " ".join([title or "", *(tags or []), keyphrase or ""])
    return author_id, pick_category(own_cats or [(i, s, list(k or [])) for i, s, k, _ in cats], words)


def assign_missing(conn: psycopg.Connection, tenant: Tenant, niche: Niche | None = None) -> int:
    """Assign personas and categories to the tenant's articles that have none (after adding some)."""
    sql = "SELECT id FROM articles WHERE tenant_id = %s AND (author_id IS NULL OR category_id IS NULL)"
    params: list = [tenant.id]
    if niche is not None:
        sql += " AND niche_id = %s"
        params.append(niche.id)
    changed = 0
    for (article_id,) in conn.execute(sql + " ORDER BY created_at, id", params).fetchall():
        if assign(conn, article_id) != (None, None):
            changed += 1
    return changed
