"""Edit locks: an editor claims an article for a while; regeneration, refresh and other editors stay off.

A lock is one row per article in `edit_locks` with an expiry. Expired rows stop counting the moment
they expire (every check compares `expires_at` with now()); they are replaced on the next lock.
Jobs that work set-based use `UNLOCKED_ARTICLE_SQL` in their WHERE clause instead of a Python loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import psycopg

from allixios.editorial.audit import record_audit
from allixios.errors import ConflictError, NotFoundError, ValidationError

# Use inside a query over `articles a`: true when nobody holds an active lock on the article.
UNLOCKED_ARTICLE_SQL = (
    "NOT EXISTS (SELECT 1 FROM edit_locks l WHERE l.article_id = a.id AND l.expires_at > now())"
)

MAX_TTL = timedelta(days=7)
_TTL_RE = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 60, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class EditLock:
    article_id: UUID
    locked_by: str
    locked_at: datetime
    expires_at: datetime


def parse_ttl(text: str) -> timedelta:
    """'30m', '2h', '90s', '1d' (a bare number means minutes)."""
    match = _TTL_RE.match(text or "")
    if not match:
        raise ValidationError(
            f"lock duration {text!r} is not valid", fix="use a number with s, m, h or d, e.g. --ttl 30m"
        )
    ttl = timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    if ttl <= timedelta(0) or ttl > MAX_TTL:
        raise ValidationError(
            f"lock duration {text!r} is out of range", fix="use a duration between 1s and 7d"
        )
    return ttl


def active_lock(conn: psycopg.Connection, article_id: UUID) -> EditLock | None:
    """The lock that currently counts on an article, or None (no lock, or only an expired one)."""
    row = conn.execute(
        "SELECT article_id, locked_by, locked_at, expires_at FROM edit_locks WHERE article_id = %s AND expires_at > now()",
        (article_id,),
    ).fetchone()
    return EditLock(*row) if row else None


def is_locked(conn: psycopg.Connection, article_id: UUID) -> bool:
    return active_lock(conn, article_id) is not None


def ensure_not_locked_by_other(conn: psycopg.Connection, article_id: UUID, user: str | None) -> None:
    """Refuse a write when someone other than `user` holds an active lock (None: any holder refuses)."""
    lock = active_lock(conn, article_id)
    if lock and lock.locked_by != user:
        raise ConflictError(
            f"article {article_id} is locked by {lock.locked_by!r} until {lock.expires_at:%Y-%m-%d %H:%M:%S %Z}",
            fix=f"ask {lock.locked_by} to run `allixios articles unlock {article_id}`, wait for the lock to expire, "
            "or use `unlock --force`",
        )


def _check_user(user: str) -> str:
    user = (user or "").strip()
    if not user or len(user) > 200:
        raise ValidationError("a user name is required", fix="pass --user NAME (1-200 characters)")
    return user


def acquire_lock(
    conn: psycopg.Connection, tenant_id: UUID, article_id: UUID, user: str, ttl: timedelta
) -> EditLock:
    """Lock an article for `user`, or extend the user's own lock. Refused while another user's lock counts.

    One statement decides it (upsert guarded by the holder and the expiry), so two editors racing for
    the same article cannot both win.
    """
    user = _check_user(user)
    if ttl <= timedelta(0) or ttl > MAX_TTL:
        raise ValidationError(f"lock duration {ttl} is out of range", fix="use a duration between 1s and 7d")
    before = active_lock(conn, article_id)
    row = conn.execute(
        """INSERT INTO edit_locks (article_id, tenant_id, locked_by, locked_at, expires_at)
           VALUES (%(article)s, %(tenant)s, %(user)s, now(), now() + %(ttl)s)
           ON CONFLICT (article_id) DO UPDATE
              SET locked_by = EXCLUDED.locked_by, expires_at = EXCLUDED.expires_at,
                  locked_at = CASE WHEN edit_locks.locked_by = EXCLUDED.locked_by AND edit_locks.expires_at > now()
                                   THEN edit_locks.locked_at ELSE now() END
            WHERE edit_locks.locked_by = EXCLUDED.locked_by OR edit_locks.expires_at <= now()
           RETURNING article_id, locked_by, locked_at, expires_at""",
        {"article": article_id, "tenant": tenant_id, "user": user, "ttl": ttl},
    ).fetchone()
    if row is None:
        ensure_not_locked_by_other(conn, article_id, user)
        raise ConflictError(f"article {article_id} is locked by another user", fix="try again later")
    lock = EditLock(*row)
    record_audit(
        conn,
        tenant_id=tenant_id,
        actor=user,
        action="article.lock" if before is None else "article.lock_extend",
        entity_id=article_id,
        details={"expires_at": lock.expires_at.isoformat(), "ttl_seconds": int(ttl.total_seconds())},
    )
    return lock


def release_lock(
    conn: psycopg.Connection, tenant_id: UUID, article_id: UUID, user: str, *, force: bool = False
) -> EditLock:
    """Release a lock: only its holder may, unless `force` (an admin breaking a forgotten lock)."""
    user = _check_user(user)
    current = conn.execute(
        "SELECT article_id, locked_by, locked_at, expires_at FROM edit_locks WHERE article_id = %s FOR UPDATE",
        (article_id,),
    ).fetchone()
    if current is None:
        raise NotFoundError(
            f"article {article_id} is not locked", fix="nothing to unlock; see `allixios articles show`"
        )
    lock = EditLock(*current)
    still_counts = conn.execute("SELECT %s > now()", (lock.expires_at,)).fetchone()[0]
    if lock.locked_by != user and still_counts and not force:
        raise ConflictError(
            f"article {article_id} is locked by {lock.locked_by!r}, not by {user!r}",
            fix=f"ask {lock.locked_by} to unlock it, or pass --force to break the lock",
        )
    conn.execute("DELETE FROM edit_locks WHERE article_id = %s", (article_id,))
    record_audit(
        conn,
        tenant_id=tenant_id,
        actor=user,
        action="article.unlock_forced" if lock.locked_by != user and still_counts else "article.unlock",
        entity_id=article_id,
        details={"holder": lock.locked_by, "expired": not still_counts},
    )
    return lock
