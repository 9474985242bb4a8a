"""audit_log writes and reads: who changed what, when, and the article version before and after."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from allixios.db.engine import fetch_dicts


def record_audit(
    conn: psycopg.Connection,
    *,
    tenant_id: UUID,
    actor: str,
    action: str,
    entity_id: UUID | str,
    before_version: int | None = None,
    after_version: int | None = None,
    details: dict[str, Any] | None = None,
    entity_type: str = "article",
) -> int:
    """Append one audit row in the caller's transaction (so it commits or rolls back with the change)."""
    row = conn.execute(
        """INSERT INTO audit_log (tenant_id, actor, action, entity_type, entity_id, before_version, after_version, details)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (
            tenant_id,
            actor,
            action,
            entity_type,
            str(entity_id),
            before_version,
            after_version,
            Jsonb(details or {}),
        ),
    ).fetchone()
    return row[0]


def annotate_version_audit(
    conn: psycopg.Connection, article_id: UUID, after_version: int, details: dict[str, Any]
) -> None:
    """Add details to the audit row the version writer just wrote for `after_version` (same transaction)."""
    conn.execute(
        """UPDATE audit_log SET details = details || %s
           WHERE id = (SELECT max(id) FROM audit_log
                       WHERE entity_type = 'article' AND entity_id = %s AND after_version = %s)""",
        (Jsonb(details), str(article_id), after_version),
    )


def audit_entries(
    conn: psycopg.Connection,
    tenant_id: UUID,
    entity_id: UUID | str,
    *,
    entity_type: str = "article",
    limit: int = 50,
) -> list[dict]:
    """The newest audit rows of one entity first."""
    return fetch_dicts(
        conn,
        """SELECT id, actor, action, before_version, after_version, details, created_at FROM audit_log
           WHERE tenant_id = %s AND entity_type = %s AND entity_id = %s
           ORDER BY created_at DESC, id DESC LIMIT %s""",
        (tenant_id, entity_type, str(entity_id), limit),
    )
