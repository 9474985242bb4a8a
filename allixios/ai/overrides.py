"""Stored routing overrides: switchProvider (drain one deployment to another) and configureFailover
(a failover order per alias), edited without touching config/models.yaml, every change audited.

Rows live in ``ai_routing_overrides`` and are read by every model selection
(`allixios.ai.selection.load_overrides`), so a switch takes effect for the next call of every
process. ``tenant_id`` None is the operator's global override (CLI); the API writes the caller's
tenant's own (a tenant never changes another's routing). Calls in flight on a drained deployment
finish there; `drain_status` counts them so a switch can wait until the deployment is idle.
"""

from __future__ import annotations

import re
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from allixios.ai.catalogue import Catalogue
from allixios.db.engine import fetch_dicts
from allixios.errors import ConfigError, ValidationError


def _audit(conn: psycopg.Connection, tenant_id: UUID | None, actor: str, action: str, entity: str, details: dict) -> None:
    conn.execute("""INSERT INTO audit_log (tenant_id, actor, action, entity_type, entity_id, details)
                    VALUES (%s, %s, %s, 'ai_routing', %s, %s)""", (tenant_id, actor, action, entity, Jsonb(details)))


def _upsert(conn, tenant_id, kind, subject, deployment_ids, target_id, actor, reason) -> dict | None:
    before = fetch_dicts(conn, """SELECT deployment_ids, target_id, actor FROM ai_routing_overrides
                                  WHERE kind = %s AND subject = %s AND tenant_id IS NOT DISTINCT FROM %s""",
                         (kind, subject, tenant_id))
    conn.execute("""DELETE FROM ai_routing_overrides WHERE kind = %s AND subject = %s
                    AND tenant_id IS NOT DISTINCT FROM %s""", (kind, subject, tenant_id))
    conn.execute("""INSERT INTO ai_routing_overrides (tenant_id, kind, subject, deployment_ids, target_id, actor, reason)
                    VALUES (%s, %s, %s, %s, %s, %s, %s)""",
                 (tenant_id, kind, subject, list(deployment_ids), target_id, actor, reason))
    return before[0] if before else None


_ID = re.compile(r"[A-Za-z0-9._:/@+-]{1,200}")


def _check_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValidationError(f"{what} {value!r} is not a deployment or alias id",
                              fix="use an id from `allixios ai models` (letters, digits, . _ : / @ + -)")
    return value


def _text(value: str | None) -> str | None:
    """Free text for the audit trail: control characters (NUL cannot be stored) dropped, 500 chars."""
    return None if value is None else "".join(ch for ch in value if ch >= " " or ch in "\t\n")[:500]


def _known(catalogue: Catalogue, deployment_id: str):
    _check_id(deployment_id, "deployment")
    try:
        return catalogue.deployment(deployment_id)
    except ConfigError as exc:
        raise ValidationError(exc.message, fix="see `allixios ai models`") from None


def in_flight(conn: psycopg.Connection, deployment_id: str) -> int:
    return conn.execute("SELECT count(*) FROM ai_usage WHERE status = 'pending' AND deployment_id = %s",
                        (deployment_id,)).fetchone()[0]


def switch(conn: psycopg.Connection, catalogue: Catalogue, from_id: str, to_id: str, *, actor: str,
           tenant_id: UUID | None = None, reason: str | None = None) -> dict:
    """Drain ``from_id``: from the next call on, its traffic goes to ``to_id`` (same alias)."""
    src, dst = _known(catalogue, from_id), _known(catalogue, to_id)
    if src.id == dst.id:
        raise ValidationError(f"--from and --to are both {src.id}", fix="name two different deployments")
    if src.alias != dst.alias:
        raise ValidationError(f"{src.id} serves {src.alias!r} but {dst.id} serves {dst.alias!r}",
                              fix=f"switch to a deployment of {src.alias!r} (see `allixios ai models`)")
    if not dst.available:
        raise ValidationError(f"{dst.id} cannot take the traffic: {dst.key_status()}",
                              fix=f"set {dst.api_key_env} first, or switch to another deployment")
    reason = _text(reason)
    before = _upsert(conn, tenant_id, "drain", src.id, (), dst.id, actor, reason)
    busy = in_flight(conn, src.id)
    _audit(conn, tenant_id, actor, "ai.switch", src.id,
           {"from": src.id, "to": dst.id, "alias": src.alias, "in_flight_at_switch": busy, "reason": reason,
            "before": before})
    return {"from": src.id, "to": dst.id, "alias": src.alias, "in_flight": busy}


def undo_switch(conn: psycopg.Connection, deployment_id: str, *, actor: str, tenant_id: UUID | None = None) -> bool:
    _check_id(deployment_id, "deployment")
    gone = conn.execute("""DELETE FROM ai_routing_overrides WHERE kind = 'drain' AND subject = %s
                           AND tenant_id IS NOT DISTINCT FROM %s RETURNING target_id""",
                        (deployment_id, tenant_id)).fetchone()
    if gone:
        _audit(conn, tenant_id, actor, "ai.switch_undone", deployment_id, {"was_to": gone[0]})
    return gone is not None


def set_failover(conn: psycopg.Connection, catalogue: Catalogue, alias: str, order: list[str], *, actor: str,
                 tenant_id: UUID | None = None, reason: str | None = None) -> list[str]:
    _check_id(alias, "alias")
    reason = _text(reason)
    try:
        known = [d.id for d in catalogue.deployments(alias)]
    except ConfigError:
        raise ValidationError(f"alias {alias!r} is not in the catalogue",
                              fix=f"use one of {', '.join(sorted(catalogue.aliases))}") from None
    order = [_check_id(o.strip(), "deployment") for o in order if o.strip()]
    unknown = [o for o in order if o not in known]
    if not order or unknown or len(set(order)) != len(order):
        raise ValidationError(
            f"failover order {', '.join(order) or '(empty)'} for {alias!r} is not a list of its deployments"
            + (f" ({', '.join(unknown)} not in it)" if unknown else ""),
            fix=f"list each of {', '.join(known)} at most once, first = tried first")
    before = _upsert(conn, tenant_id, "order", alias, order, None, actor, reason)
    _audit(conn, tenant_id, actor, "ai.failover_set", alias, {"order": order, "reason": reason, "before": before})
    return order


def clear_failover(conn: psycopg.Connection, alias: str, *, actor: str, tenant_id: UUID | None = None) -> bool:
    _check_id(alias, "alias")
    gone = conn.execute("""DELETE FROM ai_routing_overrides WHERE kind = 'order' AND subject = %s
                           AND tenant_id IS NOT DISTINCT FROM %s RETURNING deployment_ids""",
                        (alias, tenant_id)).fetchone()
    if gone:
        _audit(conn, tenant_id, actor, "ai.failover_cleared", alias, {"was": list(gone[0])})
    return gone is not None


def list_overrides(conn: psycopg.Connection, tenant_id: UUID | None = None, every_tenant: bool = False) -> list[dict]:
    return fetch_dicts(conn, """SELECT o.kind, o.subject, o.deployment_ids, o.target_id, o.actor, o.reason,
                                       o.created_at, t.slug AS tenant
                                FROM ai_routing_overrides o LEFT JOIN tenants t ON t.id = o.tenant_id
                                WHERE %s OR o.tenant_id IS NULL OR o.tenant_id = %s
                                ORDER BY o.kind, o.subject, o.tenant_id NULLS FIRST""", (every_tenant, tenant_id))
