"""API keys: `alx_<prefix>_<secret>`, shown once; only the SHA-256 of the whole key is stored.

The secret has 256 bits of entropy, so a plain (fast) hash is enough: there is nothing to brute-force,
and lookups stay one indexed query by the visible prefix. Revocation and expiry are checked on
every request (and for every token minted from a key), so a revoked key stops at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import psycopg

from allixios import plans
from allixios.editorial.audit import record_audit
from allixios.errors import NotFoundError, ValidationError
from allixios.identity.roles import check_scopes
from allixios.identity.users import get_user
from allixios.tenants import Tenant

KEY_PREFIX = "alx_"


@dataclass(frozen=True)
class ApiKey:
    id: UUID
    tenant_id: UUID
    user_id: UUID
    name: str
    prefix: str
    scopes: list[str]
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime

    def public(self) -> dict:
        return {"id": str(self.id), "user_id": str(self.user_id), "name": self.name, "prefix": self.prefix,
                "scopes": self.scopes, "expires_at": _iso(self.expires_at), "revoked_at": _iso(self.revoked_at),
                "last_used_at": _iso(self.last_used_at), "created_at": _iso(self.created_at)}


def _iso(v: datetime | None) -> str | None:
    return v.isoformat() if v else None


_COLUMNS = "id, tenant_id, user_id, name, prefix, scopes, expires_at, revoked_at, last_used_at, created_at"


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def create_key(conn: psycopg.Connection, tenant: Tenant, user_ref: str, *, name: str, actor: str,
               scopes: list[str] | None = None, expires_in_days: int | None = 90) -> tuple[ApiKey, str]:
    """Returns the key row and the full secret (the only time it is ever available)."""
    name = " ".join((name or "").split())
    if not 1 <= len(name) <= 100:
        raise ValidationError("key name must be 1-100 characters", fix="pass --name with a short label")
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise ValidationError(f"expiry {expires_in_days} days is out of range", fix="use 1-3650 days")
    scopes = check_scopes(scopes or [])
    user = get_user(conn, tenant, user_ref)
    plans.check_seats(conn, tenant.id, "api_keys")  # the plan's live API keys (allixios/plans.py)
    prefix = secrets.token_hex(6)
    secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    expires = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    row = conn.execute(
        f"""INSERT INTO api_keys (tenant_id, user_id, name, prefix, secret_hash, scopes, expires_at, created_by)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}""",
        (tenant.id, user.id, name, prefix, hash_secret(secret), scopes, expires, actor),
    ).fetchone()
    key = ApiKey(*row)
    record_audit(conn, tenant_id=tenant.id, actor=actor, action="key.create", entity_type="api_key", entity_id=key.id,
                 details={"prefix": prefix, "user_id": str(user.id), "scopes": scopes})
    return key, secret


def list_keys(conn: psycopg.Connection, tenant: Tenant) -> list[ApiKey]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE tenant_id = %s ORDER BY created_at, id", (tenant.id,))
    return [ApiKey(*r) for r in rows.fetchall()]


def get_key(conn: psycopg.Connection, tenant: Tenant, ref: str) -> ApiKey:
    try:
        kid: UUID | None = UUID(ref)
    except ValueError:
        kid = None
    row = conn.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE tenant_id = %s AND {'id' if kid else 'prefix'} = %s",
                       (tenant.id, kid or ref.removeprefix(KEY_PREFIX))).fetchone()
    if row is None:
        raise NotFoundError("no such API key in this tenant", fix="list keys with `allixios keys list`")
    return ApiKey(*row)


def revoke_key(conn: psycopg.Connection, tenant: Tenant, ref: str, *, actor: str) -> ApiKey:
    key = get_key(conn, tenant, ref)
    conn.execute("UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s", (key.id,))
    conn.execute("UPDATE refresh_tokens SET revoked_at = now() WHERE api_key_id = %s AND revoked_at IS NULL", (key.id,))
    record_audit(conn, tenant_id=tenant.id, actor=actor, action="key.revoke", entity_type="api_key", entity_id=key.id,
                 details={"prefix": key.prefix})
    return get_key(conn, tenant, str(key.id))


def parse_secret(secret: str) -> str | None:
    """The prefix of a well-formed key, else None."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 120:
        return None
    prefix, sep, _ = secret[len(KEY_PREFIX):].partition("_")
    return prefix if sep and len(prefix) == 12 else None


def verify_secret(conn: psycopg.Connection, secret: str) -> tuple[ApiKey, str] | None:
    """The live key for this secret and its user's role; None when unknown, revoked, expired or disabled."""
    prefix = parse_secret(secret)
    if prefix is None:
        return None
    row = conn.execute(
        f"""SELECT {', '.join('k.' + c.strip() for c in _COLUMNS.split(','))}, k.secret_hash, u.role
            FROM api_keys k JOIN users u ON u.id = k.user_id
            WHERE k.prefix = %s AND k.revoked_at IS NULL AND u.disabled_at IS NULL
              AND (k.expires_at IS NULL OR k.expires_at > now())""",
        (prefix,),
    ).fetchone()
    if row is None or not hmac.compare_digest(bytes(row[10]), hash_secret(secret)):
        return None
    key = ApiKey(*row[:10])
    # last-used to the minute: one write per key per minute, not one per request
    if key.last_used_at is None or key.last_used_at < datetime.now(UTC) - timedelta(minutes=1):
        conn.execute("UPDATE api_keys SET last_used_at = now() WHERE id = %s", (key.id,))
    return key, row[11]


def key_is_live(conn: psycopg.Connection, key_id: UUID) -> bool:
    row = conn.execute("""SELECT 1 FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = %s
                          AND k.revoked_at IS NULL AND u.disabled_at IS NULL
                          AND (k.expires_at IS NULL OR k.expires_at > now())""", (key_id,)).fetchone()
    return row is not None
