"""Articles as editors see them: find by id or slug, list, show, edit, soft delete and restore.

Every lookup is tenant-scoped; an id of another tenant is reported exactly like an unknown id, so
nobody learns that it exists. Every change goes through the append-only version writer
(`allixios.content.versions.append_version`, compare-and-swap on the version number), respects
edit locks, and writes `audit_log` in the same transaction.
"""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import yaml

from allixios.content.markup import plain_line, sanitize_markdown
from allixios.content.versions import CONTENT_FIELDS, append_version
from allixios.db.engine import fetch_dicts
from allixios.editorial.analysis import score_fields
from allixios.editorial.audit import annotate_version_audit, record_audit
from allixios.editorial.locks import ensure_not_locked_by_other
from allixios.errors import ConflictError, NotFoundError, ValidationError
from allixios.publishing.config import site_host
from allixios.tenants import Tenant

# The article fields a version carries and an editor may change (column names of `articles`).
VERSIONED_FIELDS = CONTENT_FIELDS
# Front-matter keys an edit file may set; `keyphrase` is accepted as a short alias.
FRONT_MATTER_KEYS = {
    "title": "title",
    "slug": "slug",
    "meta_title": "meta_title",
    "meta_description": "meta_description",
    "excerpt": "excerpt",
    "tags": "tags",
    "primary_keyphrase": "primary_keyphrase",
    "keyphrase": "primary_keyphrase",
}
ARTICLE_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_EDIT_BYTES = 2_000_000
ARTICLE_STATUSES = ("draft", "scored", "needs_revision", "published", "archived", "failed")


@dataclass(frozen=True)
class ArticleRef:
    """Just enough of an article to act on it."""

    id: UUID
    tenant_id: UUID
    slug: str
    title: str
    status: str
    version_number: int
    published_version_number: int | None
    deleted_at: datetime | None


@dataclass(frozen=True)
class ChangeResult:
    """What a change did: `changed` is False when the article already looked like that (no new version)."""

    article_id: UUID
    action: str
    before_version: int
    after_version: int
    changed: bool
    details: dict[str, Any] = field(default_factory=dict)


def default_actor() -> str:
    """Who is making a change when --user is not given: ALLIXIOS_USER, else the OS user."""
    return os.environ.get("ALLIXIOS_USER") or getpass.getuser() or "unknown"


def _not_found(ref: str, tenant: Tenant) -> NotFoundError:
    return NotFoundError(
        f"article {ref!r} not found for tenant {tenant.slug!r}",
        fix=f"find it with `allixios articles list --tenant {tenant.slug}` or `allixios articles search`",
    )


def _article_key(ref: str, tenant: Tenant) -> tuple[str, UUID | None, str]:
    """(ref, its UUID or None, the column it names: id or slug); a ref that cannot be either is not found."""
    ref = (ref or "").strip()
    if not ref or len(ref) > 300:
        raise _not_found(ref[:40], tenant)
    try:
        article_id: UUID | None = UUID(ref)
    except ValueError:
        article_id = None
    return ref, article_id, "id" if article_id else "slug"


def resolve_article(
    conn: psycopg.Connection, tenant: Tenant, ref: str, *, for_update: bool = False
) -> ArticleRef:
    """An article of `tenant` by id or slug (deleted ones included: they can be shown and restored)."""
    ref, article_id, column = _article_key(ref, tenant)
    row = conn.execute(
        f"""SELECT id, tenant_id, slug, title, status::text, version_number, published_version_number, deleted_at
            FROM articles WHERE tenant_id = %s AND {column} = %s{" FOR UPDATE" if for_update else ""}""",
        (tenant.id, article_id or ref),
    ).fetchone()
    if row is None:
        raise _not_found(ref, tenant)
    return ArticleRef(*row)


def _check_score(name: str, value: int | None) -> None:
    if value is not None and not 0 <= value <= 100:
        raise ValidationError(f"{name} {value} is out of range", fix="scores are 0-100")


def list_articles(
    conn: psycopg.Connection,
    tenant: Tenant,
    *,
    niche: str | None = None,
    status: str | None = None,
    min_quality: int | None = None,
    max_quality: int | None = None,
    min_seo: int | None = None,
    max_seo: int | None = None,
    updated_since: datetime | None = None,
    include_deleted: bool = False,
    limit: int = 50,
) -> list[dict]:
    """Articles of a tenant, newest change first, filtered in SQL (one indexed query, LIMITed)."""
    if status is not None and status not in ARTICLE_STATUSES:
        raise ValidationError(f"unknown status {status!r}", fix=f"use one of {', '.join(ARTICLE_STATUSES)}")
    for name, value in (
        ("min quality", min_quality),
        ("max quality", max_quality),
        ("min SEO", min_seo),
        ("max SEO", max_seo),
    ):
        _check_score(name, value)
    if not 1 <= limit <= 10_000:
        raise ValidationError(f"limit {limit} is out of range", fix="use a limit from 1 to 10000")
    niche_id = _niche_id(conn, tenant, niche) if niche else None
    return fetch_dicts(
        conn,
        """SELECT a.id, a.slug, a.title, n.slug AS niche, a.status::text AS status,
                  a.content_quality_score AS quality, a.seo_score AS seo, a.version_number AS version,
                  a.published_version_number AS published_version, a.updated_at, a.deleted_at IS NOT NULL AS deleted
           FROM articles a LEFT JOIN niches n ON n.id = a.niche_id
           WHERE a.tenant_id = %(tenant)s
             AND (%(include_deleted)s OR a.deleted_at IS NULL)
             AND (%(niche)s::uuid IS NULL OR a.niche_id = %(niche)s)
             AND (%(status)s::content_status IS NULL OR a.status = %(status)s)
             AND (%(min_q)s::int IS NULL OR a.content_quality_score >= %(min_q)s)
             AND (%(max_q)s::int IS NULL OR a.content_quality_score <= %(max_q)s)
             AND (%(min_s)s::int IS NULL OR a.seo_score >= %(min_s)s)
             AND (%(max_s)s::int IS NULL OR a.seo_score <= %(max_s)s)
             AND (%(since)s::timestamptz IS NULL OR a.updated_at >= %(since)s)
           ORDER BY a.updated_at DESC, a.id
           LIMIT %(limit)s""",
        {
            "tenant": tenant.id,
            "include_deleted": include_deleted,
            "niche": niche_id,
            "status": status,
            "min_q": min_quality,
            "max_q": max_quality,
            "min_s": min_seo,
            "max_s": max_seo,
            "since": updated_since,
            "limit": limit,
        },
    )


def _niche_id(conn: psycopg.Connection, tenant: Tenant, slug: str) -> UUID:
    row = conn.execute(
        "SELECT id FROM niches WHERE tenant_id = %s AND slug = %s", (tenant.id, slug)
    ).fetchone()
    if row is None:
        raise NotFoundError(
            f"niche {slug!r} not found for tenant {tenant.slug!r}", fix="see `allixios niches list`"
        )
    return row[0]


# Audit columns of `recent_changes`, in the order the one-statement read returns them as arrays.
_AUDIT_COLUMNS = ("id", "actor", "action", "before_version", "after_version", "details", "created_at")


def show_article(conn: psycopg.Connection, tenant: Tenant, ref: str, *, with_body: bool = False) -> dict[str, Any]:
    """Metadata, scores, failing assessments, current and published version, lock and recent changes.

    One statement (the article, its niche, version count, active lock and last 10 audit rows): the API
    reads this on every GET of an article, where five round trips cost more than the query.
    `with_body` adds `content`, `content_hash`, `stand_in` and `judge` (the API's article body)."""
    ref, article_id, column = _article_key(ref, tenant)
    body = (", a.content, a.content_hash, a.metadata -> 'stand_in' AS stand_in, a.metadata -> 'judge' AS judge"
            if with_body else "")
    # the audit rows come back as one array per column (typed: timestamptz, jsonb, int) and are zipped below
    audit_arrays = ", ".join(f"array_agg({c} ORDER BY created_at DESC, id DESC) AS audit_{c}" for c in _AUDIT_COLUMNS)
    rows = fetch_dicts(
        conn,
        f"""SELECT a.id, a.slug, a.title, n.slug AS niche, a.status::text AS status, a.meta_title, a.meta_description,
                  a.excerpt, a.tags, a.primary_keyphrase, a.content_quality_score AS quality, a.seo_score AS seo,
                  a.version_number AS current_version, a.published_version_number AS published_version,
                  a.published_at, a.ai_generated, a.ai_model_used, length(coalesce(a.content, '')) AS body_chars,
                  a.assessments, a.optimization_suggestions, a.created_at, a.updated_at, a.updated_by, a.deleted_at,
                  (SELECT count(*) FROM article_versions v WHERE v.article_id = a.id) AS version_count,
                  a.workflow_state, l.locked_by AS lock_locked_by, l.expires_at AS lock_expires_at, r.*{body}
           FROM articles a LEFT JOIN niches n ON n.id = a.niche_id
           LEFT JOIN edit_locks l ON l.article_id = a.id AND l.expires_at > now()
           LEFT JOIN LATERAL (
               SELECT {audit_arrays} FROM (
                   SELECT {", ".join(_AUDIT_COLUMNS)} FROM audit_log
                   WHERE tenant_id = a.tenant_id AND entity_type = 'article' AND entity_id = a.id::text
                   ORDER BY created_at DESC, id DESC LIMIT 10) last) r ON true
           WHERE a.tenant_id = %s AND a.{column} = %s LIMIT 1""",
        (tenant.id, article_id or ref),
    )
    if not rows:
        raise _not_found(ref, tenant)
    row = rows[0]
    assessments = row.pop("assessments") or []
    row["failing_assessments"] = [a for a in assessments if isinstance(a, dict) and a.get("passed") is False]
    row["assessment_count"] = len(assessments)
    locked_by, expires_at = row.pop("lock_locked_by"), row.pop("lock_expires_at")
    row["lock"] = None if locked_by is None else {"locked_by": locked_by, "expires_at": expires_at}
    row["workflow_state"] = workflow_state(row.pop("workflow_state") or {}, row["lock"])
    columns = [row.pop(f"audit_{c}") or [] for c in _AUDIT_COLUMNS]
    row["recent_changes"] = [dict(zip(_AUDIT_COLUMNS, values, strict=True)) for values in zip(*columns, strict=True)]
    return row


def workflow_state(state: dict[str, Any], lock: dict[str, Any] | None) -> dict[str, Any]:
    """The seed's WorkflowState of an article: the four fields the database keeps current
    (trigger of revision 0018, allixios/db/sql/022_run_records.sql) plus its processing locks."""
    return {
        "current_stage": state.get("current_stage"),
        "completed_stages": state.get("completed_stages") or [],
        "pending_actions": state.get("pending_actions") or [],
        "last_processed_at": state.get("last_processed_at"),
        "processing_locks": [lock] if lock else [],
    }


# ---- edits -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EditInput:
    """An editor's change read from a Markdown file: the body plus any front-matter fields."""

    content: str
    fields: dict[str, Any]

    def as_fields(self) -> dict[str, Any]:
        return {**self.fields, "content": self.content}


def parse_edit_text(text: str, source: str = "edit file") -> EditInput:
    """Markdown with optional YAML front matter (`---` lines) for title, slug, meta fields, tags, keyphrase."""
    if "\x00" in text:
        raise ValidationError(f"{source} contains NUL characters", fix="save it as plain UTF-8 Markdown")
    fields: dict[str, Any] = {}
    body = text
    lines = text.splitlines(keepends=True)
    if lines and lines[0].strip() == "---":
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), None)
        if end is None:
            raise ValidationError(
                f"{source}: front matter starts with '---' but never ends", fix="close it with a '---' line"
            )
        try:
            meta = yaml.safe_load("".join(lines[1:end])) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 2})" if mark else ""
            raise ValidationError(
                f"{source}: front matter is not valid YAML{where}", fix="use `key: value` lines"
            ) from None
        if not isinstance(meta, dict):
            raise ValidationError(
                f"{source}: front matter must be `key: value` lines", fix="use `key: value` lines"
            )
        fields = _front_matter_fields(meta, source)
        body = "".join(lines[end + 1 :])
    # the same sanitising as drafts (allixios.content.markup): raw HTML through nh3, refused link
    # schemes defused, invisible/bidi characters dropped -- before anything is stored
    body = sanitize_markdown(body).strip("\n")
    if not body.strip():
        raise ValidationError(
            f"{source} has no article body", fix="put the Markdown body in the file (after any front matter)"
        )
    return EditInput(content=body + "\n", fields=fields)


def _front_matter_fields(meta: dict, source: str) -> dict[str, Any]:
    unknown = sorted(str(k) for k in meta if k not in FRONT_MATTER_KEYS)
    if unknown:
        raise ValidationError(
            f"{source}: unknown front-matter key(s) {', '.join(unknown)}",
            fix=f"use only {', '.join(FRONT_MATTER_KEYS)}",
        )
    fields: dict[str, Any] = {}
    for key, value in meta.items():
        column = FRONT_MATTER_KEYS[key]
        if column == "tags":
            if isinstance(value, str):
                value = [t.strip() for t in value.split(",")]
            if not isinstance(value, list) or not all(isinstance(t, (str, int, float)) for t in value):
                raise ValidationError(f"{source}: tags must be a list of words", fix="write `tags: [a, b]`")
            value = [plain_line(str(t)) for t in value if plain_line(str(t))]
        elif value is not None:
            if not isinstance(value, (str, int, float)):
                raise ValidationError(f"{source}: {key} must be text", fix=f"write `{key}: some text`")
            value = plain_line(str(value))  # one-line fields: plain text, like a draft's
        fields[column] = value
    if "title" in fields and not (fields["title"] and len(fields["title"]) <= 300):
        raise ValidationError(f"{source}: title must be 1-300 characters", fix="set a non-empty title")
    if "slug" in fields and not (
        fields["slug"] and ARTICLE_SLUG_RE.match(fields["slug"]) and len(fields["slug"]) <= 200
    ):
        raise ValidationError(
            f"{source}: slug {fields['slug']!r} is not valid", fix="use lower-case words joined by hyphens"
        )
    return fields


def read_edit_file(path: str | Path) -> EditInput:
    """Read an edit file: must exist, be non-empty UTF-8 text, and contain a body."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(
            f"edit file {str(path)!r} does not exist", fix="pass the path of a Markdown file with --file"
        )
    data = path.read_bytes()
    if len(data) > MAX_EDIT_BYTES:
        raise ValidationError(
            f"edit file {path.name} is larger than {MAX_EDIT_BYTES} bytes", fix="split or shorten the article"
        )
    if not data.strip():
        raise ValidationError(
            f"edit file {path.name} is empty", fix="write the article's Markdown body into the file"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"edit file {path.name} is not UTF-8 (bad byte at offset {exc.start})",
            fix="re-save the file as UTF-8 (e.g. `iconv -t UTF-8`)",
        ) from None
    return parse_edit_text(text, source=f"edit file {path.name}")


def current_fields(conn: psycopg.Connection, article_id: UUID) -> dict[str, Any]:
    row = fetch_dicts(
        conn, f"SELECT {', '.join(VERSIONED_FIELDS)} FROM articles WHERE id = %s", (article_id,)
    )[0]
    row["tags"] = list(row["tags"] or [])
    return row


def stale_version_error(article: ArticleRef, expected: int) -> ConflictError:
    return ConflictError(
        f"article {article.slug!r} is at version {article.version_number}, not {expected}: someone changed it meanwhile",
        fix=f"review `allixios articles diff {article.id} {expected} {article.version_number}` and redo your change on the new version",
    )


def _slug_taken(conn: psycopg.Connection, tenant: Tenant, slug: str, article_id: UUID) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM articles WHERE tenant_id = %s AND slug = %s AND id <> %s",
            (tenant.id, slug, article_id),
        ).fetchone()
        is not None
    )


def write_version(
    conn: psycopg.Connection,
    tenant: Tenant,
    article: ArticleRef,
    new_fields: dict[str, Any],
    *,
    reason: str,
    actor: str,
    expected_version: int | None,
    details: dict[str, Any] | None = None,
    scores: dict[str, Any] | None = None,
) -> ChangeResult:
    """Shared path of edit and revert: lock check, no-op detection, CAS version write, audit details."""
    if article.deleted_at is not None:
        raise ValidationError(
            f"article {article.slug!r} is deleted",
            fix=f"restore it first: `allixios articles restore {article.id}`",
        )
    ensure_not_locked_by_other(conn, article.id, actor)
    if expected_version is not None and expected_version != article.version_number:
        raise stale_version_error(article, expected_version)
    expected = article.version_number if expected_version is None else expected_version
    before = current_fields(conn, article.id)
    merged = {**before, **new_fields}
    if merged == before:
        return ChangeResult(
            article.id, reason, article.version_number, article.version_number, False, details or {}
        )
    if merged["slug"] != before["slug"] and _slug_taken(conn, tenant, merged["slug"], article.id):
        raise ValidationError(
            f"slug {merged['slug']!r} is already used by another article", fix="choose a different slug"
        )
    changed = sorted(k for k in VERSIONED_FIELDS if merged[k] != before[k])
    changes = {k: merged[k] for k in changed}
    after = append_version(
        conn,
        article.id,
        reason=reason,
        fields=changes,
        expected_version=expected,
        actor=actor,
        **(scores or {}),
    )
    # append_version wrote the audit row (who, when, before/after version, changed fields);
    # add what only this caller knows (e.g. which version a revert brought back)
    if details:
        annotate_version_audit(conn, article.id, after, details)
    return ChangeResult(article.id, reason, expected, after, True, {"changed_fields": changed, **(details or {})})


def edit_article(
    conn: psycopg.Connection,
    tenant: Tenant,
    ref: str,
    edit: EditInput,
    *,
    actor: str,
    expected_version: int | None = None,
) -> ChangeResult:
    """An editor's change becomes a new version with reason 'edit' (refused on a stale version or a held lock)."""
    article = resolve_article(conn, tenant, ref)
    return write_version(
        conn,
        tenant,
        article,
        edit.as_fields(),
        reason="edit",
        actor=actor,
        expected_version=expected_version,
        scores=_scores_for(edit.as_fields(), current_fields(conn, article.id), site_host(conn, tenant)),
    )


def _scores_for(new_fields: dict[str, Any], before: dict[str, Any], host: str = "") -> dict[str, Any]:
    """Quality and SEO of the edited text, so the new version carries its own scores (``host``: the
    tenant's site host, ``allixios.publishing.config.site_host``)."""
    report = score_fields({**before, **new_fields}, host)
    return {"quality": report.quality, "seo": report.seo, "assessments": report.assessments_json()}


# ---- soft delete and restore ----------------------------------------------------------------


def delete_article(conn: psycopg.Connection, tenant: Tenant, ref: str, *, actor: str) -> ChangeResult:
    """Soft delete: the article leaves search, duplicate checks and sensors; history stays. Idempotent."""
    article = resolve_article(conn, tenant, ref, for_update=True)
    if article.deleted_at is not None:
        return ChangeResult(article.id, "delete", article.version_number, article.version_number, False)
    ensure_not_locked_by_other(conn, article.id, actor)
    conn.execute(
        "UPDATE articles SET deleted_at = now(), updated_at = now(), updated_by = %s WHERE id = %s",
        (actor, article.id),
    )
    record_audit(
        conn,
        tenant_id=tenant.id,
        actor=actor,
        action="article.delete",
        entity_id=article.id,
        before_version=article.version_number,
        after_version=article.version_number,
        details={"slug": article.slug},
    )
    return ChangeResult(article.id, "delete", article.version_number, article.version_number, True)


def restore_article(conn: psycopg.Connection, tenant: Tenant, ref: str, *, actor: str) -> ChangeResult:
    """Undo a soft delete. Idempotent."""
    article = resolve_article(conn, tenant, ref, for_update=True)
    if article.deleted_at is None:
        return ChangeResult(article.id, "restore", article.version_number, article.version_number, False)
    ensure_not_locked_by_other(conn, article.id, actor)
    conn.execute(
        "UPDATE articles SET deleted_at = NULL, updated_at = now(), updated_by = %s WHERE id = %s",
        (actor, article.id),
    )
    record_audit(
        conn,
        tenant_id=tenant.id,
        actor=actor,
        action="article.restore",
        entity_id=article.id,
        before_version=article.version_number,
        after_version=article.version_number,
        details={"slug": article.slug, "deleted_at": article.deleted_at.isoformat()},
    )
    return ChangeResult(article.id, "restore", article.version_number, article.version_number, True)
