"""Publications: each tenant's remote targets (WordPress sites, CDN purge APIs) and what reached them.

Targets are rows of ``publishing_targets`` (several per tenant). Their ``config`` holds URLs, user
names and the NAMES of the environment variables that hold secrets; a value that looks like a
secret where a name belongs is refused, so no password or token is ever stored in a row.

``run_targets`` brings every target in line with the LIVE versions (the `article_versions` row at
``articles.published_version_number`` of a published, not deleted article; an edit does not
change it until the article is published again):

1. plan (set-based SQL): a pending ``publish`` row per live article version x article target, a
   pending ``unpublish`` row for an article that was delivered and is live no more; pending rows
   that no longer describe what should be live are marked ``superseded`` (kept, not deleted);
2. deliver each due pending row (``next_attempt_at <= now``), one short transaction each. Equal
   content hash to what the target last received: the row is done with no remote write. A failure
   keeps the row pending with its one-line, scrubbed error and retries it with exponential backoff
   on a later run; after ``alert_after`` attempts one alert goes into ``alerts``. A target that
   fails twice in a row is left alone for the rest of the run, so a down target costs seconds, and
   never stops the other targets.

CDN targets purge URLs: ``purge_urls`` (called by the site build after a deploy) records one
pending ``purge`` row per CDN target and sends it at once; failed batches stay pending the same way.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from allixios.db.engine import fetch_dicts
from allixios.errors import NotFoundError, ValidationError
from allixios.publishing.targets import KINDS, Image, LiveArticle, TargetError, build_target
from allixios.tenants import Tenant

log = logging.getLogger("allixios.publishing")

ALERT_AFTER = 3  # attempts before a failure alert (per target: config "alert_after")
BACKOFF_BASE = timedelta(minutes=1)  # 1, 2, 4, 8 ... minutes
BACKOFF_MAX = timedelta(hours=6)
GIVE_UP_IN_RUN = 2  # consecutive failures after which a target is skipped for the rest of the run
COMMON_KEYS = {"alert_after"}
MEDIA_PREFIX = "/_media/"  # public paths of the media library's files
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


# ---- target configuration -----------------------------------------------------------------------


def _check_config(kind: str, name: str, config: dict[str, Any]) -> dict[str, Any]:
    if kind not in KINDS:
        raise ValidationError(f"unknown target kind {kind!r}", fix=f"use one of {', '.join(KINDS)}")
    if not re.match(r"^[a-z0-9][a-z0-9_-]{0,62}$", name or ""):
        raise ValidationError(f"target name {name!r} is not valid", fix="use lower-case letters, digits, - or _")
    config = {k: v for k, v in config.items() if v is not None}
    for key, value in config.items():
        if key.endswith("_env") and not _ENV_NAME.match(str(value)):
            # never echo the value: it is most likely the secret itself
            raise ValidationError(
                f"--{key.replace('_', '-')} must be the NAME of an environment variable, and the value given is not "
                "a variable name (it may be the secret itself; it was not stored)",
                fix=f"export the secret, e.g. `export {'WP_APP_PASSWORD' if kind == 'wordpress' else 'CDN_TOKEN'}=...`,"
                f" and pass that name",
            )
    if "alert_after" in config:
        try:
            config["alert_after"] = int(config["alert_after"])
        except (TypeError, ValueError):
            config["alert_after"] = 0
        if not 1 <= config["alert_after"] <= 1000:
            raise ValidationError("--alert-after must be a number of attempts from 1 to 1000", fix="e.g. --alert-after 3")
    target_config = {k: v for k, v in config.items() if k not in COMMON_KEYS}
    if kind == "wordpress":
        from allixios.publishing.targets.wordpress import check_config
    else:
        from allixios.publishing.targets.cdn import check_config
    check_config(target_config)  # raises ValidationError naming the fix
    return config


def add_target(conn: psycopg.Connection, tenant: Tenant, name: str, kind: str, config: dict[str, Any]) -> dict:
    """Create or replace the tenant's target ``name`` (re-adding a removed one brings it back)."""
    config = _check_config(kind, name, config)
    row = fetch_dicts(
        conn,
        """INSERT INTO publishing_targets (tenant_id, name, kind, config) VALUES (%s, %s, %s, %s)
           ON CONFLICT (tenant_id, name) DO UPDATE
              SET kind = EXCLUDED.kind, config = EXCLUDED.config, enabled = true, deleted_at = NULL, updated_at = now()
           RETURNING id, name, kind, config, enabled, created_at, updated_at""",
        (tenant.id, name, kind, Jsonb(config)),
    )[0]
    return row


def list_targets(conn: psycopg.Connection, tenant: Tenant, *, include_removed: bool = False) -> list[dict]:
    return fetch_dicts(
        conn,
        """SELECT id, name, kind, config, enabled, created_at, updated_at, deleted_at FROM publishing_targets
           WHERE tenant_id = %s AND (%s OR deleted_at IS NULL) ORDER BY name""",
        (tenant.id, include_removed),
    )


def remove_target(conn: psycopg.Connection, tenant: Tenant, name: str) -> dict:
    """Stop publishing to ``name``; its publications stay as history (pending ones are superseded)."""
    row = fetch_dicts(
        conn,
        """UPDATE publishing_targets SET enabled = false, deleted_at = now(), updated_at = now()
           WHERE tenant_id = %s AND name = %s AND deleted_at IS NULL RETURNING id, name, kind""",
        (tenant.id, name),
    )
    if not row:
        raise NotFoundError(f"target {name!r} not found for tenant {tenant.slug!r}",
                            fix=f"see `allixios targets list --tenant {tenant.slug}`")
    conn.execute("UPDATE publications SET status = 'superseded', updated_at = now() "
                 "WHERE target_id = %s AND status = 'pending'", (row[0]["id"],))
    return row[0]


def check_target(conn: psycopg.Connection, tenant: Tenant, name: str) -> str:
    """Reach the target with its credentials without changing anything remotely; a TargetError says why not."""
    rows = [r for r in list_targets(conn, tenant) if r["name"] == name]
    if not rows:
        raise NotFoundError(f"target {name!r} not found for tenant {tenant.slug!r}",
                            fix=f"see `allixios targets list --tenant {tenant.slug}`")
    target = build_target(name, rows[0]["kind"], {k: v for k, v in rows[0]["config"].items() if k not in COMMON_KEYS})
    try:
        return target.check()
    finally:
        if hasattr(target, "close"):
            target.close()


def target_status(conn: psycopg.Connection, tenant: Tenant) -> list[dict]:
    """Per target: delivered, pending, failing (pending with an error), alerts raised, last delivery and error."""
    return fetch_dicts(
        conn,
        """SELECT t.name, t.kind,
                  count(p.*) FILTER (WHERE p.status = 'done') AS done,
                  count(p.*) FILTER (WHERE p.status = 'pending') AS pending,
                  count(p.*) FILTER (WHERE p.status = 'pending' AND p.last_error IS NOT NULL) AS failing,
                  count(p.*) FILTER (WHERE p.alerted_at IS NOT NULL AND p.status = 'pending') AS alerted,
                  coalesce(sum(p.remote_writes), 0) AS remote_writes,
                  max(p.done_at) AS last_done,
                  (SELECT q.last_error FROM publications q WHERE q.target_id = t.id AND q.status = 'pending'
                     AND q.last_error IS NOT NULL ORDER BY q.updated_at DESC LIMIT 1) AS last_error,
                  min(p.next_attempt_at) FILTER (WHERE p.status = 'pending') AS next_attempt
           FROM publishing_targets t LEFT JOIN publications p ON p.target_id = t.id
           WHERE t.tenant_id = %s AND t.deleted_at IS NULL
           GROUP BY t.id ORDER BY t.name""",
        (tenant.id,),
    )


def pending_publications(conn: psycopg.Connection, tenant: Tenant, limit: int = 50) -> list[dict]:
    return fetch_dicts(
        conn,
        """SELECT p.id, t.name AS target, p.action, coalesce(v.slug, array_to_string(p.urls, ' ')) AS item,
                  p.version_number AS version, p.attempts, p.next_attempt_at, p.last_error
           FROM publications p JOIN publishing_targets t ON t.id = p.target_id
           LEFT JOIN article_versions v ON v.article_id = p.article_id AND v.version_number = p.version_number
           WHERE p.tenant_id = %s AND p.status = 'pending' ORDER BY p.next_attempt_at, p.id LIMIT %s""",
        (tenant.id, limit),
    )


# ---- the live version ---------------------------------------------------------------------------

_LIVE_SQL = """
SELECT a.id AS article_id, a.tenant_id, v.version_number, v.title, v.slug, v.content, v.excerpt, v.meta_title,
       v.meta_description, v.tags, coalesce(c.name, n.name) AS category, a.featured_image_url, a.published_at,
       v.content_hash, a.ai_model_used, t.slug AS tenant_slug,
       (a.status = 'published' AND a.deleted_at IS NULL) AS live,
       ARRAY(SELECT DISTINCT o.slug FROM article_versions o WHERE o.article_id = a.id) AS known_slugs
FROM articles a
JOIN article_versions v ON v.article_id = a.id AND v.version_number = %(version)s
JOIN tenants t ON t.id = a.tenant_id
LEFT JOIN niches n ON n.id = a.niche_id
LEFT JOIN categories c ON c.id = a.category_id
WHERE a.id = %(article)s
"""


def featured_image(row: dict[str, Any]) -> Image | None:
    """The featured image to upload for an article, from ``articles.featured_image_url``.

    The one place that knows where image bytes come from: the media library's ``/_media/<name>``
    (a file in ``$ALLIXIOS_HOME/media/<tenant>/``), a local path or a ``file://`` URL is uploaded;
    anything else (a remote URL, a missing file) is not, and the post goes out without it.
    """
    ref = (row.get("featured_image_url") or "").strip()
    if not ref:
        return None
    if ref.startswith(MEDIA_PREFIX):
        # the media library's public path: the file sits in the tenant's media store
        from allixios import settings

        name = ref[len(MEDIA_PREFIX):]
        if "/" in name or name.startswith("."):
            return None
        path = settings.home() / "media" / str(row.get("tenant_slug") or "") / name
    else:
        path = Path(unquote(urlsplit(ref).path)) if ref.startswith("file://") else Path(ref)
    if not path.is_absolute() or not path.is_file():
        return None
    data = path.read_bytes()
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Image(path, path.name, mime, hashlib.sha256(data).hexdigest(), row.get("title") or "")


def live_version(conn: psycopg.Connection, article_id: UUID, version: int) -> tuple[LiveArticle, bool] | None:
    """The article at ``version`` as targets are sent it, and whether that version is the live one."""
    from allixios.content.offline_writer import MODEL_NAME as OFFLINE_WRITER

    rows = fetch_dicts(conn, _LIVE_SQL, {"article": article_id, "version": version})
    if not rows:
        return None
    r = rows[0]
    live = bool(r["live"]) and conn.execute(
        "SELECT published_version_number FROM articles WHERE id = %s", (article_id,)
    ).fetchone()[0] == version
    article = LiveArticle(
        article_id=r["article_id"], tenant_id=r["tenant_id"], version_number=r["version_number"], title=r["title"],
        slug=r["slug"], body_markdown=r["content"] or "", excerpt=r["excerpt"], meta_title=r["meta_title"],
        meta_description=r["meta_description"], tags=list(r["tags"] or []), category=r["category"],
        featured_image_url=r["featured_image_url"], published_at=r["published_at"], content_hash=r["content_hash"],
        stand_in=r["ai_model_used"] == OFFLINE_WRITER, known_slugs=sorted(r["known_slugs"] or []),
        image=featured_image(r),
    )
    return article, live


# ---- planning -----------------------------------------------------------------------------------


# a row planned again starts a fresh retry cycle (its own attempts, error and alert)
_REOPEN = "status = 'pending', next_attempt_at = now(), updated_at = now(), attempts = 0, last_error = NULL, " \
    "alerted_at = NULL"


def plan(conn: psycopg.Connection, *, tenant_id: UUID | None = None, article_ids: list[UUID] | None = None) -> dict:
    """Pending rows for what should change on each article target; stale pending rows superseded."""
    params = {"tenant": tenant_id, "ids": article_ids}
    scope = """(%(tenant)s::uuid IS NULL OR a.tenant_id = %(tenant)s)
               AND (%(ids)s::uuid[] IS NULL OR a.id = ANY(%(ids)s::uuid[]))"""
    superseded = conn.execute(
        f"""UPDATE publications p SET status = 'superseded', updated_at = now()
            FROM articles a
            WHERE p.article_id = a.id AND p.status = 'pending' AND {scope}
              AND CASE WHEN a.status = 'published' AND a.deleted_at IS NULL
                       THEN p.action <> 'publish' OR p.version_number <> a.published_version_number
                       ELSE p.action = 'publish' END""",
        params,
    ).rowcount
    # a done row comes back to pending when the article was taken down and is live again at that
    # version (deleted, then restored): the last thing delivered for it is then an unpublish
    last_done = """(SELECT q.action FROM publications q WHERE q.target_id = publications.target_id
                      AND q.article_id = publications.article_id AND q.status = 'done'
                    ORDER BY q.done_at DESC, q.id DESC LIMIT 1)"""
    to_publish = conn.execute(
        f"""INSERT INTO publications (tenant_id, target_id, article_id, version_number, action)
            SELECT a.tenant_id, t.id, a.id, a.published_version_number, 'publish'
            FROM articles a
            JOIN publishing_targets t ON t.tenant_id = a.tenant_id AND t.kind = 'wordpress'
                                     AND t.enabled AND t.deleted_at IS NULL
            WHERE a.status = 'published' AND a.deleted_at IS NULL AND a.published_version_number IS NOT NULL
              AND {scope}
            ON CONFLICT (target_id, article_id, version_number, action) WHERE article_id IS NOT NULL
            DO UPDATE SET {_REOPEN}
            WHERE publications.status = 'superseded'
               OR (publications.status = 'done' AND {last_done} = 'unpublish')""",
        params,
    ).rowcount
    # not live any more, and the last thing delivered to the target for the article is a publish
    to_unpublish = conn.execute(
        f"""WITH last AS (
                SELECT DISTINCT ON (p.target_id, p.article_id) p.target_id, p.article_id, p.action
                FROM publications p JOIN articles a ON a.id = p.article_id
                WHERE p.status = 'done' AND NOT (a.status = 'published' AND a.deleted_at IS NULL) AND {scope}
                ORDER BY p.target_id, p.article_id, p.done_at DESC, p.id DESC)
            INSERT INTO publications (tenant_id, target_id, article_id, version_number, action)
            SELECT a.tenant_id, l.target_id, a.id, coalesce(a.published_version_number, a.version_number), 'unpublish'
            FROM last l
            JOIN articles a ON a.id = l.article_id
            JOIN publishing_targets t ON t.id = l.target_id AND t.enabled AND t.deleted_at IS NULL
            WHERE l.action = 'publish'
            ON CONFLICT (target_id, article_id, version_number, action) WHERE article_id IS NOT NULL
            DO UPDATE SET {_REOPEN}
            WHERE publications.status <> 'pending'""",
        params,
    ).rowcount
    return {"superseded": superseded, "to_publish": to_publish, "to_unpublish": to_unpublish}


# ---- delivery -----------------------------------------------------------------------------------


@dataclass
class TargetReport:
    name: str
    kind: str
    published: int = 0
    unchanged: int = 0
    unpublished: int = 0
    purged_urls: int = 0
    failed: int = 0
    skipped: int = 0
    superseded: int = 0
    remote_writes: int = 0
    alerts: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class RunReport:
    planned: dict = field(default_factory=dict)
    targets: dict[str, TargetReport] = field(default_factory=dict)

    def rows(self) -> list[dict]:
        return [{k: v for k, v in vars(t).items() if k not in ("errors", "warnings")} |
                {"last_error": t.errors[-1] if t.errors else None} for t in self.targets.values()]

    @property
    def failed(self) -> int:
        return sum(t.failed for t in self.targets.values())


def backoff(attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: 1, 2, 4, ... minutes, at most 6 hours."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)


class _Targets:
    """Target objects of one run, built once per target row, closed at the end."""

    def __init__(self) -> None:
        self.objects: dict[UUID, Any] = {}
        self.rows: dict[UUID, dict] = {}
        self.consecutive_failures: dict[UUID, int] = {}

    def get(self, row: dict):
        if row["target_id"] not in self.objects:
            config = {k: v for k, v in (row["config"] or {}).items() if k not in COMMON_KEYS}
            self.rows[row["target_id"]] = row
            self.objects[row["target_id"]] = build_target(row["name"], row["kind"], config)
        return self.objects[row["target_id"]]

    def close(self) -> None:
        for obj in self.objects.values():
            close = getattr(obj, "close", None)
            if close:
                close()


def _scrubbed(target: Any, exc: BaseException) -> str:
    if isinstance(exc, TargetError):
        return exc.one_line()
    text = f"unexpected {type(exc).__name__}: {exc}"
    secrets = getattr(target, "secrets", None)
    return secrets.scrub(text) if secrets is not None else text[:400]


def _fail(conn: psycopg.Connection, row: dict, target: Any, exc: BaseException, now: datetime, rep: TargetReport,
          urls: list[str] | None = None) -> None:
    """Keep the publication pending with its error and the next attempt time; alert once after N attempts."""
    from allixios.automation.alerts import send_alert

    message = _scrubbed(target, exc)
    attempts = row["attempts"] + 1
    alert_after = int((row["config"] or {}).get("alert_after") or ALERT_AFTER)
    conn.execute(
        """UPDATE publications SET attempts = %s, last_error = %s, next_attempt_at = %s, updated_at = now(),
                  urls = coalesce(%s, urls) WHERE id = %s""",
        (attempts, message, now + backoff(attempts), urls, row["id"]),
    )
    rep.failed += 1
    rep.errors.append(message)
    log.warning("publication %s to %s failed (attempt %s): %s", row["id"], row["name"], attempts, message)
    if attempts >= alert_after and row["alerted_at"] is None:
        what = f"{row['action']} of {row.get('slug') or 'article'} v{row['version_number']}" if row["article_id"] \
            else f"purge of {len(urls or row['urls'] or [])} URL(s)"
        send_alert(conn, f"publication:{row['id']}", f"publishing target {row['name']}",
                   f":red_circle: Allixios publishing to {row['kind']} target `{row['name']}` keeps failing "
                   f"({attempts} attempts): {what}: {message[:300]}")
        conn.execute("UPDATE publications SET alerted_at = now() WHERE id = %s", (row["id"],))
        rep.alerts += 1


def _done(conn: psycopg.Connection, row_id: int, *, remote_id=None, remote_url=None, content_hash=None, writes=0,
          meta=None, warning=None, attempted=True) -> None:
    conn.execute(
        """UPDATE publications SET status = 'done', remote_id = %s, remote_url = %s, content_hash = %s,
                  remote_writes = remote_writes + %s, attempts = attempts + %s, last_error = %s,
                  remote_meta = coalesce(%s, remote_meta), done_at = now(), updated_at = now()
           WHERE id = %s""",
        (remote_id, remote_url, content_hash, writes, 1 if attempted else 0, warning,
         Jsonb(meta) if meta is not None else None, row_id),
    )


def _last_delivered(conn: psycopg.Connection, target_id: UUID, article_id: UUID) -> dict | None:
    rows = fetch_dicts(
        conn,
        """SELECT action, remote_id, remote_url, content_hash, remote_meta FROM publications
           WHERE target_id = %s AND article_id = %s AND status = 'done' ORDER BY done_at DESC, id DESC LIMIT 1""",
        (target_id, article_id),
    )
    return rows[0] if rows else None


def _remote_id(conn: psycopg.Connection, target_id: UUID, article_id: UUID) -> tuple[str | None, dict]:
    row = conn.execute(
        """SELECT remote_id, remote_meta FROM publications WHERE target_id = %s AND article_id = %s
             AND status = 'done' AND remote_id IS NOT NULL ORDER BY done_at DESC, id DESC LIMIT 1""",
        (target_id, article_id),
    ).fetchone()
    return (row[0], dict(row[1] or {})) if row else (None, {})


def _deliver_article(conn: psycopg.Connection, row: dict, target: Any, rep: TargetReport) -> None:
    found = live_version(conn, row["article_id"], row["version_number"])
    if found is None:
        conn.execute("UPDATE publications SET status = 'superseded', updated_at = now() WHERE id = %s", (row["id"],))
        rep.superseded += 1
        return
    article, live = found
    if row["action"] == "publish" and not live:
        conn.execute("UPDATE publications SET status = 'superseded', updated_at = now() WHERE id = %s", (row["id"],))
        rep.superseded += 1
        return
    remote_id, meta = _remote_id(conn, row["target_id"], row["article_id"])
    if row["action"] == "unpublish":
        delivery = target.unpublish(article, remote_id)
        _done(conn, row["id"], remote_id=delivery.remote_id or remote_id, remote_url=delivery.remote_url,
              writes=delivery.writes, meta=meta, warning="; ".join(delivery.warnings) or None)
        rep.unpublished += 1
        rep.remote_writes += delivery.writes
        return
    digest = target.payload_hash(article)
    last = _last_delivered(conn, row["target_id"], row["article_id"])
    if last and last["action"] == "publish" and last["content_hash"] == digest and last["remote_id"]:
        # the target already holds exactly this: record the version as delivered, write nothing remotely
        _done(conn, row["id"], remote_id=last["remote_id"], remote_url=last["remote_url"], content_hash=digest,
              meta=dict(last["remote_meta"] or {}), attempted=False)
        rep.unchanged += 1
        return
    delivery = target.publish(article, remote_id, meta)
    warning = "; ".join(delivery.warnings) or None
    _done(conn, row["id"], remote_id=delivery.remote_id, remote_url=delivery.remote_url, content_hash=digest,
          writes=delivery.writes, meta=delivery.remote_meta, warning=warning)
    rep.published += 1
    rep.remote_writes += delivery.writes
    if warning:
        rep.warnings.append(warning)


def _deliver_purge(conn: psycopg.Connection, row: dict, target: Any, rep: TargetReport, now: datetime) -> bool:
    from allixios.publishing.targets.cdn import PurgeFailed

    urls = list(row["urls"] or [])
    try:
        requests = target.purge(urls)
    except PurgeFailed as exc:
        conn.execute("UPDATE publications SET remote_writes = remote_writes + %s WHERE id = %s",
                     (max(exc.requests - 1, 0), row["id"]))
        rep.purged_urls += len(urls) - len(exc.remaining)
        _fail(conn, row, target, exc, now, rep, urls=exc.remaining)
        return False
    _done(conn, row["id"], writes=requests, content_hash=row["content_hash"])
    rep.purged_urls += len(urls)
    rep.remote_writes += requests
    return True


_DUE_CONDITION = "p.next_attempt_at <= coalesce(%(now)s::timestamptz, clock_timestamp())"
_DUE_SQL = f"""
SELECT p.id, p.target_id, p.article_id, p.version_number, p.action, p.attempts, p.alerted_at, p.urls,
       p.content_hash, t.name, t.kind, t.config, v.slug
FROM publications p
JOIN publishing_targets t ON t.id = p.target_id AND t.enabled AND t.deleted_at IS NULL
LEFT JOIN article_versions v ON v.article_id = p.article_id AND v.version_number = p.version_number
WHERE p.status = 'pending' AND {_DUE_CONDITION}
  AND (%(tenant)s::uuid IS NULL OR p.tenant_id = %(tenant)s)
  AND (%(ids)s::uuid[] IS NULL OR p.article_id = ANY(%(ids)s::uuid[]))
  AND (%(only)s::bigint IS NULL OR p.id = %(only)s)
ORDER BY p.next_attempt_at, p.id
"""


def _process(conn: psycopg.Connection, row: dict, targets: _Targets, report: RunReport, now: datetime) -> None:
    rep = report.targets.setdefault(row["name"], TargetReport(row["name"], row["kind"]))
    if targets.consecutive_failures.get(row["target_id"], 0) >= GIVE_UP_IN_RUN:
        rep.skipped += 1  # stays pending and due: tried first on the next run
        return
    target = None
    try:
        target = targets.get(row)
        with conn.transaction():  # a savepoint: a failed statement cannot poison the run's transaction
            if row["action"] == "purge":
                ok = _deliver_purge(conn, row, target, rep, now)
            else:
                _deliver_article(conn, row, target, rep)
                ok = True
    except Exception as exc:  # one target's failure (or bug) must never cost the other targets
        _fail(conn, row, target, exc, now, rep)
        ok = False
    targets.consecutive_failures[row["target_id"]] = 0 if ok else targets.consecutive_failures.get(row["target_id"], 0) + 1


def run_targets(
    conn: psycopg.Connection,
    *,
    tenant_id: UUID | None = None,
    article_ids: list[UUID] | None = None,
    now: datetime | None = None,
    commit: bool = True,
) -> RunReport:
    """Plan and deliver every due publication (all tenants unless ``tenant_id``).

    With ``commit`` (the default: the caller owns ``conn``) each delivery is committed on its own,
    so a crash keeps everything delivered before it; a post whose id was not recorded is found again
    by its slug on the next run. ``now`` lets a caller look ahead (due = ``next_attempt_at <= now``).
    """
    report = RunReport()
    report.planned = plan(conn, tenant_id=tenant_id, article_ids=article_ids)
    if commit:
        conn.commit()
    params = {"now": now, "tenant": tenant_id, "ids": article_ids, "only": None}
    now = now or datetime.now(UTC)  # the base of backoff times
    due = [r["id"] for r in fetch_dicts(conn, _DUE_SQL, params)]
    targets = _Targets()
    try:
        for pub_id in due:
            rows = fetch_dicts(conn, _DUE_SQL + " FOR UPDATE OF p SKIP LOCKED", {**params, "only": pub_id})
            if rows:  # another run holds it, or it is done already
                _process(conn, rows[0], targets, report, now)
            if commit:
                conn.commit()
    finally:
        targets.close()
    return report


# ---- CDN purge ----------------------------------------------------------------------------------


def purge_urls(conn: psycopg.Connection, tenant_id: UUID, urls: list[str]) -> list[dict]:
    """Purge ``urls`` from every enabled CDN target of the tenant (the site build calls this after a deploy).

    Each target gets one pending ``purge`` publication that is sent at once; if the CDN fails, the
    URLs not purged stay pending with the error and are retried by the next ``run_targets``. Never
    raises for a target's failure, and does not commit (it runs in the caller's transaction).
    Returns one entry per target: name, status, urls, error.
    """
    wanted = sorted({u.strip() for u in urls if u and u.strip()})
    bad = [u for u in wanted if not u.startswith(("http://", "https://"))]
    if bad:
        raise ValidationError(f"{len(bad)} URL(s) to purge are not absolute http(s) URLs (e.g. {bad[0][:80]!r})",
                              fix="pass full URLs including the site's base URL")
    if not wanted:
        return []
    digest = hashlib.sha256("\n".join(wanted).encode()).hexdigest()
    targets = fetch_dicts(
        conn,
        "SELECT id, name FROM publishing_targets WHERE tenant_id = %s AND kind = 'cdn' AND enabled "
        "AND deleted_at IS NULL ORDER BY name",
        (tenant_id,),
    )
    out = []
    now = datetime.now(UTC)
    objects = _Targets()
    report = RunReport()
    for t in targets:
        conn.execute(
            """INSERT INTO publications (tenant_id, target_id, action, urls, content_hash)
               VALUES (%s, %s, 'purge', %s, %s)
               ON CONFLICT (target_id, content_hash) WHERE action = 'purge' AND status = 'pending'
               -- a new deploy of the same pages: every URL again, even those a failed attempt had purged
               DO UPDATE SET urls = EXCLUDED.urls, updated_at = now()""",
            (tenant_id, t["id"], wanted, digest),
        )
        rows = fetch_dicts(
            conn,
            _DUE_SQL.replace(_DUE_CONDITION, "p.action = 'purge' AND p.target_id = %(target)s "
                             "AND p.content_hash = %(hash)s") + " FOR UPDATE OF p",
            {"now": now, "tenant": tenant_id, "ids": None, "only": None, "target": t["id"], "hash": digest},
        )
        for row in rows:
            _process(conn, row, objects, report, now)
        state = fetch_dicts(conn, "SELECT status, urls, last_error FROM publications WHERE target_id = %s "
                            "AND content_hash = %s ORDER BY id DESC LIMIT 1", (t["id"], digest))[0]
        out.append({"target": t["name"], "status": state["status"],
                    "urls": len(wanted) if state["status"] == "done" else len(wanted) - len(state["urls"] or []),
                    "pending_urls": 0 if state["status"] == "done" else len(state["urls"] or []),
                    "error": state["last_error"]})
    objects.close()
    return out
