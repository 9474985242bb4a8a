"""Version history of an article: list, read, diff and revert. History is never rewritten.

Versions live in the append-only `article_versions` table; a revert writes a new version equal to
an old one (reason 'revert') through the same compare-and-swap writer as an edit.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import psycopg

from allixios.db.engine import fetch_dicts
from allixios.editorial.articles import VERSIONED_FIELDS, ChangeResult, resolve_article, write_version
from allixios.errors import NotFoundError, ValidationError
from allixios.tenants import Tenant

_VERSION_COLUMNS = (
    "id, version_number, reason, title, content, slug, meta_title, meta_description, excerpt, tags, primary_keyphrase, "
    "content_hash, run_id, model, prompt_version, quality_score, seo_score, assessments, created_by, created_at"
)


def list_versions(conn: psycopg.Connection, tenant: Tenant, ref: str) -> list[dict]:
    """All versions of an article, oldest first, marking the current and the published one."""
    article = resolve_article(conn, tenant, ref)
    rows = fetch_dicts(
        conn,
        """SELECT version_number AS version, reason, created_by, created_at, quality_score AS quality,
                  seo_score AS seo, model, left(content_hash, 12) AS content_hash,
                  length(coalesce(content, '')) AS body_chars, title
           FROM article_versions WHERE article_id = %s ORDER BY version_number""",
        (article.id,),
    )
    for row in rows:
        marks = []
        if row["version"] == article.version_number:
            marks.append("current")
        if row["version"] == article.published_version_number:
            marks.append("published")
        row["marks"] = ",".join(marks)
    return rows


def get_version(conn: psycopg.Connection, tenant: Tenant, ref: str, version: int) -> dict[str, Any]:
    """One stored version of an article (NotFoundError naming the versions that exist)."""
    article = resolve_article(conn, tenant, ref)
    rows = fetch_dicts(
        conn,
        f"SELECT {_VERSION_COLUMNS} FROM article_versions WHERE article_id = %s AND version_number = %s",
        (article.id, version),
    )
    if not rows:
        raise _missing_version(conn, article.id, article.slug, version)
    row = rows[0]
    row["tags"] = list(row["tags"] or [])
    return row


def _missing_version(conn: psycopg.Connection, article_id, slug: str, version: int) -> NotFoundError:
    low, high, count = conn.execute(
        "SELECT min(version_number), max(version_number), count(*) FROM article_versions WHERE article_id = %s",
        (article_id,),
    ).fetchone()
    have = f"it has versions {low}-{high}" if count else "it has no stored versions yet"
    return NotFoundError(
        f"article {slug!r} has no version {version} ({have})", fix=f"see `allixios articles history {slug}`"
    )


@dataclass(frozen=True)
class VersionDiff:
    from_version: int
    to_version: int
    changed_fields: list[dict[str, Any]]  # [{field, from, to}] for every field except the body
    body_diff: str  # unified diff of the Markdown body ('' when unchanged)

    @property
    def identical(self) -> bool:
        return not self.changed_fields and not self.body_diff


def diff_versions(
    conn: psycopg.Connection, tenant: Tenant, ref: str, from_version: int, to_version: int
) -> VersionDiff:
    """Unified diff of the body and the list of changed fields between two stored versions."""
    old = get_version(conn, tenant, ref, from_version)
    new = get_version(conn, tenant, ref, to_version)
    changed = [
        {"field": name, "from": old[name], "to": new[name]}
        for name in (*(f for f in VERSIONED_FIELDS if f != "content"), "quality_score", "seo_score")
        if old[name] != new[name]
    ]
    lines = difflib.unified_diff(
        (old["content"] or "").splitlines(),
        (new["content"] or "").splitlines(),
        fromfile=f"{old['slug']}@v{from_version}",
        tofile=f"{new['slug']}@v{to_version}",
        lineterm="",
    )
    body = "\n".join(lines)
    if body:
        body += "\n"
    return VersionDiff(from_version, to_version, changed, body)


def revert_article(
    conn: psycopg.Connection,
    tenant: Tenant,
    ref: str,
    version: int,
    *,
    actor: str,
    expected_version: int | None = None,
) -> ChangeResult:
    """Make a new version equal to `version` (reason 'revert'). Nothing changes when it already is."""
    article = resolve_article(conn, tenant, ref)
    target = get_version(conn, tenant, ref, version)
    if version == article.version_number:
        raise ValidationError(
            f"version {version} is already the current version of {article.slug!r}",
            fix="pick an older version from `articles history`",
        )
    fields = {name: target[name] for name in VERSIONED_FIELDS}
    scores = {
        "quality": target["quality_score"],
        "seo": target["seo_score"],
        "assessments": target["assessments"],
    }
    return write_version(
        conn,
        tenant,
        article,
        fields,
        reason="revert",
        actor=actor,
        expected_version=expected_version,
        details={"reverted_to": version},
        scores=scores,
    )
