"""Users of a tenant: people and service accounts with a role; e-mail and name encrypted at rest."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg

from allixios import plans
from allixios.editorial.audit import record_audit
from allixios.errors import ConflictError, NotFoundError, ValidationError
from allixios.identity import pii
from allixios.identity.roles import check_role
from allixios.tenants import Tenant

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")


@dataclass(frozen=True)
class User:
    id: UUID
    tenant_id: UUID
    email: str | None
    name: str | None
    role: str
    kind: str
    disabled: bool
    created_at: datetime

    def public(self) -> dict:
        return {"id": str(self.id), "email": self.email, "name": self.name, "role": self.role, "kind": self.kind,
                "disabled": self.disabled, "created_at": self.created_at.isoformat()}


_COLUMNS = "id, tenant_id, email_enc, name_enc, role, kind, disabled_at IS NOT NULL, created_at"


def _user(row) -> User:
    uid = row[0]
    return User(uid, row[1], pii.decrypt(row[2], uid.bytes), pii.decrypt(row[3], uid.bytes), row[4], row[5],
                row[6], row[7])


def check_email(email: str) -> str:
    email = pii.normalise_email(email or "")
    if not EMAIL_RE.match(email):
        raise ValidationError(f"{email[:80]!r} is not an e-mail address", fix="give an address like name@example.com")
    return email


def add_user(conn: psycopg.Connection, tenant: Tenant, email: str, *, role: str, name: str | None = None,
             kind: str = "person", actor: str, external_subject: str | None = None) -> User:
    email = check_email(email)
    role = check_role(role)
    if kind not in ("person", "service"):
        raise ValidationError(f"unknown user kind {kind!r}", fix="use person or service")
    if kind == "person":
        plans.check_seats(conn, tenant.id, "seats")  # the plan's seats (allixios/plans.py)
    uid = conn.execute("SELECT gen_random_uuid()").fetchone()[0]
    row = conn.execute(
        f"""INSERT INTO users (id, tenant_id, email, email_hash, email_enc, name_enc, role, kind, external_subject)
            VALUES (%s, %s, NULL, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (tenant_id, email_hash) WHERE email_hash IS NOT NULL DO NOTHING RETURNING {_COLUMNS}""",
        (uid, tenant.id, pii.email_hash(email), pii.encrypt(email, uid.bytes),
         pii.encrypt(name, uid.bytes) if name else None, role, kind, external_subject),
    ).fetchone()
    if row is None:
        raise ConflictError("a user with this e-mail already exists in the tenant",
                            fix="change their role with `allixios users role` instead")
    # the audit row names the user by id only: no personal data in the log
    record_audit(conn, tenant_id=tenant.id, actor=actor, action="user.add", entity_type="user", entity_id=uid,
                 details={"role": role, "kind": kind})
    return _user(row)


def get_user(conn: psycopg.Connection, tenant: Tenant, ref: str) -> User:
    """By id or e-mail (the e-mail is matched by its keyed hash)."""
    try:
        uid: UUID | None = UUID(ref)
    except ValueError:
        uid = None
    if uid:
        row = conn.execute(f"SELECT {_COLUMNS} FROM users WHERE tenant_id = %s AND id = %s", (tenant.id, uid)).fetchone()
    else:
        row = conn.execute(f"SELECT {_COLUMNS} FROM users WHERE tenant_id = %s AND email_hash = %s",
                           (tenant.id, pii.email_hash(ref))).fetchone()
    if row is None:
        raise NotFoundError("no such user in this tenant", fix="list users with `allixios users list`")
    return _user(row)


def user_by_id(conn: psycopg.Connection, user_id: UUID) -> User | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM users WHERE id = %s", (user_id,)).fetchone()
    return _user(row) if row else None


def list_users(conn: psycopg.Connection, tenant: Tenant) -> list[User]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM users WHERE tenant_id = %s AND email_enc IS NOT NULL "
                        "ORDER BY created_at, id", (tenant.id,)).fetchall()
    return [_user(r) for r in rows]


def set_role(conn: psycopg.Connection, tenant: Tenant, ref: str, role: str, *, actor: str) -> User:
    role = check_role(role)
    user = get_user(conn, tenant, ref)
    conn.execute("UPDATE users SET role = %s, updated_at = now() WHERE id = %s", (role, user.id))
    record_audit(conn, tenant_id=tenant.id, actor=actor, action="user.role", entity_type="user", entity_id=user.id,
                 details={"from": user.role, "to": role})
    return get_user(conn, tenant, str(user.id))


def set_disabled(conn: psycopg.Connection, tenant: Tenant, ref: str, disabled: bool, *, actor: str) -> User:
    """Disabling a user stops every credential of theirs at once (keys and tokens check it per request)."""
    user = get_user(conn, tenant, ref)
    if not disabled and user.disabled and user.kind == "person":
        plans.check_seats(conn, tenant.id, "seats")  # enabling takes a seat again
    conn.execute("UPDATE users SET disabled_at = CASE WHEN %s THEN coalesce(disabled_at, now()) END, "
                 "updated_at = now() WHERE id = %s", (disabled, user.id))
    if disabled:
        conn.execute("UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL", (user.id,))
    record_audit(conn, tenant_id=tenant.id, actor=actor, action="user.disable" if disabled else "user.enable",
                 entity_type="user", entity_id=user.id)
    return get_user(conn, tenant, str(user.id))


def rekey(conn: psycopg.Connection) -> int:
    """Re-wrap every user's data keys under the current KEK (after a key rotation). Returns rows changed."""
    rows = conn.execute("SELECT id, email_enc, name_enc FROM users WHERE email_enc IS NOT NULL FOR UPDATE").fetchall()
    changed = 0
    for uid, email_enc, name_enc in rows:
        new_email = pii.rewrap(email_enc)
        new_name = pii.rewrap(name_enc) if name_enc is not None else None
        if new_email != bytes(email_enc) or (name_enc is not None and new_name != bytes(name_enc)):
            conn.execute("UPDATE users SET email_enc = %s, name_enc = %s WHERE id = %s", (new_email, new_name, uid))
            changed += 1
    for kid, blob in conn.execute("SELECT kid, private_enc FROM signing_keys FOR UPDATE").fetchall():
        new = pii.rewrap(blob)
        if new != bytes(blob):
            conn.execute("UPDATE signing_keys SET private_enc = %s WHERE kid = %s", (new, kid))
            changed += 1
    return changed
