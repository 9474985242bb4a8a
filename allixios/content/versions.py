"""Append-only article versions with compare-and-swap on ``articles.version_number``.

The ``articles`` row holds the current content; every change appends a row to ``article_versions``
(never updated: a trigger refuses it) whose ``parent_version_id`` is the previous version's row.
``articles.parent_version_id`` points at the parent of the current version, as in the seed's model.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from allixios.db.engine import fetch_dicts
from allixios.errors import ConflictError, NotFoundError, ValidationError

CONTENT_FIELDS = ("title", "content", "slug", "meta_title", "meta_description", "excerpt", "tags", "primary_keyphrase")
REASONS = ("generated", "regenerated", "refresh", "edit", "revert", "published")


def content_hash(fields: dict[str, Any]) -> str:
    """sha256 over the content fields in a canonical JSON form (missing fields count as null)."""
    canonical = {k: fields.get(k) for k in CONTENT_FIELDS}
    canonical["tags"] = list(canonical["tags"] or [])
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _check_fields(fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(CONTENT_FIELDS)
    if unknown:
        raise ValidationError(
            f"unknown article field(s): {', '.join(sorted(unknown))}", fix=f"use only {', '.join(CONTENT_FIELDS)}"
        )
    for key in ("title", "slug"):
        if key in fields and not (fields[key] or "").strip():
            raise ValidationError(f"article {key} is empty", fix=f"give the article a non-empty {key}")


def append_version(
    conn: psycopg.Connection,
    article_id: UUID,
    *,
    reason: str,
    fields: dict[str, Any],
    expected_version: int | None,
    actor: str,
    run_id: str | None = None,
    model: str | None = None,
    prompt_version: str | None = None,
    quality: int | None = None,
    seo: int | None = None,
    assessments: list[dict] | None = None,
) -> int:
    """Apply ``fields`` to the article as a new version and return its number.

    ``expected_version`` is the version the caller read; if the article has moved on, nothing is
    written and ``ConflictError`` is raised. ``None`` skips the check (the row is still locked).
    Scores given here are stored on the version row and on the article.
    """
    if reason not in REASONS:
        raise ValidationError(f"unknown version reason {reason!r}", fix=f"use one of {', '.join(REASONS)}")
    _check_fields(fields)
    rows = fetch_dicts(
        conn,
        f"""SELECT tenant_id, version_number, {', '.join(CONTENT_FIELDS)}
            FROM articles WHERE id = %s FOR UPDATE""",
        (article_id,),
    )
    if not rows:
        raise NotFoundError(f"article {article_id} not found", fix="check the id with `allixios articles list`")
    current = rows[0]
    if expected_version is not None and current["version_number"] != expected_version:
        raise ConflictError(
            f"article {article_id} is at version {current['version_number']}, not {expected_version}",
            fix="reload the article and apply your change to the latest version",
        )
    merged = {k: current[k] for k in CONTENT_FIELDS} | fields
    merged["tags"] = list(merged["tags"] or [])
    digest = content_hash(merged)
    new_number = current["version_number"] + 1
    parent = conn.execute(
        "SELECT id FROM article_versions WHERE article_id = %s AND version_number = %s",
        (article_id, current["version_number"]),
    ).fetchone()
    parent_id = parent[0] if parent else None
    _insert_version_row(
        conn, article_id, current["tenant_id"], new_number, reason, merged, digest, parent_id,
        run_id, model, prompt_version, quality, seo, assessments, actor,
    )
    conn.execute(
        f"""UPDATE articles SET {', '.join(f'{k} = %s' for k in CONTENT_FIELDS)},
                   version_number = %s, parent_version_id = %s, content_hash = %s,
                   content_quality_score = coalesce(%s, content_quality_score),
                   seo_score = coalesce(%s, seo_score),
                   assessments = coalesce(%s, assessments),
                   updated_at = now(), updated_by = %s
            WHERE id = %s""",
        (*[merged[k] for k in CONTENT_FIELDS], new_number, parent_id, digest, quality, seo,
         Jsonb(assessments) if assessments is not None else None, actor, article_id),
    )
    conn.execute(
        """INSERT INTO audit_log (tenant_id, actor, action, entity_type, entity_id, before_version, after_version, details)
           VALUES (%s, %s, %s, 'article', %s, %s, %s, %s)""",
        (current["tenant_id"], actor, f"article.{reason}", str(article_id), current["version_number"], new_number,
         Jsonb({"changed": sorted(k for k in fields if fields[k] != current[k]), "run_id": run_id})),
    )
    return new_number


_INSERT_VERSION = f"""INSERT INTO article_versions
        (article_id, tenant_id, version_number, reason, {', '.join(CONTENT_FIELDS)}, content_hash,
         parent_version_id, run_id, model, prompt_version, quality_score, seo_score, assessments, created_by)
    VALUES (%s, %s, %s, %s, {', '.join(['%s'] * len(CONTENT_FIELDS))}, %s, %s, %s, %s, %s, %s, %s, %s, %s)"""


def _version_params(article_id, tenant_id, number, reason, fields, digest, parent_id,
                    run_id, model, prompt_version, quality, seo, assessments, actor) -> tuple:
    return (article_id, tenant_id, number, reason, *[fields.get(k) for k in CONTENT_FIELDS], digest, parent_id,
            run_id, model, prompt_version, quality, seo, Jsonb(assessments or []), actor)


def _insert_version_row(conn, *args) -> None:
    """One version row (the parameters of `_version_params`)."""
    conn.execute(_INSERT_VERSION, _version_params(*args))


def record_first_version(
    conn: psycopg.Connection,
    article_id: UUID,
    *,
    reason: str = "generated",
    actor: str,
    run_id: str | None = None,
    model: str | None = None,
    prompt_version: str | None = None,
    row: dict[str, Any] | None = None,
    stored_hash: str | None = None,
) -> None:
    """Write version 1 for a just-inserted article row (``version_number`` = 1, no parent).
    ``row``: the article's tenant_id and CONTENT_FIELDS as the INSERT returned them (RETURNING, so
    the stored values the hash is taken over, without reading the row again); ``stored_hash``: the
    content_hash the caller already wrote with the row (not written again when it matches)."""
    if row is None:
        rows = fetch_dicts(conn, f"SELECT tenant_id, {', '.join(CONTENT_FIELDS)} FROM articles WHERE id = %s",
                           (article_id,))
        if not rows:
            raise NotFoundError(f"article {article_id} not found")
        row = rows[0]
    record_first_versions(conn, [{"id": article_id, "row": row, "stored_hash": stored_hash, "model": model,
                                  "prompt_version": prompt_version}], reason=reason, actor=actor, run_id=run_id)


def record_first_versions(conn: psycopg.Connection, firsts: list[dict[str, Any]], *, reason: str = "generated",
                          actor: str, run_id: str | None = None) -> None:
    """`record_first_version` for a batch of just-inserted rows, in one round trip each for the
    hash corrections and the versions (``executemany`` pipelines its statements). Each of
    ``firsts``: ``id``, ``row`` (as RETURNING gave it), ``stored_hash``, ``model``, ``prompt_version``.
    A row's hash is taken over its stored values; where it differs from ``stored_hash`` (the
    database changed a value on the way in, or no hash was written) the article's is corrected."""
    fixes, versions = [], []
    for first in firsts:
        row = first["row"]
        digest = content_hash(row)
        if digest != first["stored_hash"]:
            fixes.append((digest, first["id"]))
        versions.append(_version_params(first["id"], row["tenant_id"], 1, reason, row, digest, None, run_id,
                                        first["model"], first["prompt_version"], None, None, None, actor))
    with conn.cursor() as cur:
        if fixes:
            cur.executemany("UPDATE articles SET content_hash = %s WHERE id = %s", fixes)
        if versions:
            cur.executemany(_INSERT_VERSION, versions)


_VERSION_COLS = (
    "id, article_id, version_number, reason, title, slug, meta_title, meta_description, excerpt, tags, "
    "primary_keyphrase, content_hash, parent_version_id, run_id, model, prompt_version, quality_score, "
    "seo_score, assessments, created_by, created_at"
)


def get_version(conn: psycopg.Connection, article_id: UUID, n: int) -> dict:
    """One version with its full content."""
    rows = fetch_dicts(
        conn, f"SELECT {_VERSION_COLS}, content FROM article_versions WHERE article_id = %s AND version_number = %s",
        (article_id, n),
    )
    if not rows:
        raise NotFoundError(
            f"article {article_id} has no version {n}", fix="list its versions with `allixios articles history`"
        )
    return rows[0]


def list_versions(conn: psycopg.Connection, article_id: UUID) -> list[dict]:
    """Every version, oldest first, without the body (use get_version for it)."""
    return fetch_dicts(
        conn, f"SELECT {_VERSION_COLS} FROM article_versions WHERE article_id = %s ORDER BY version_number", (article_id,)
    )
