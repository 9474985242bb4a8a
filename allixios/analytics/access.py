"""Analyst access to the marts: a read-only group role and one login role per analyst and tenant.

- ``analyst`` (NOLOGIN): USAGE on schema ``marts``, SELECT on its relations, EXECUTE on
  ``marts.analyst_tenant_id``; nothing on ``public``, ``raw``, ``staging`` or ``intermediate``.
- each analyst is a LOGIN role, member of ``analyst``, read-only by default, mapped to exactly one
  tenant in ``public.analyst_roles``.
- every marts table has Row-Level Security, enabled and forced, with the policy
  ``tenant_id = marts.analyst_tenant_id(current_user)`` (dbt post-hook ``secure_relation``); marts
  views are ``security_invoker`` so they apply the caller's policies.

Roles are cluster-wide in PostgreSQL; grants and the mapping are per database.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from allixios.errors import ConflictError, NotFoundError, ValidationError
from allixios.tenants import get_tenant

GROUP_ROLE = "analyst"
ROLE_RE = re.compile(r"^[a-z][a-z0-9_]{2,62}$")
RESERVED = {GROUP_ROLE, "postgres", "public"}
# per analyst role (ALTER ROLE ... SET); overridable for a deployment with ALLIXIOS_ANALYST_<NAME>
ANALYST_TIMEOUTS = {
    "statement_timeout": os.environ.get("ALLIXIOS_ANALYST_STATEMENT_TIMEOUT", "5min"),
    "idle_in_transaction_session_timeout": os.environ.get("ALLIXIOS_ANALYST_IDLE_IN_TRANSACTION_TIMEOUT", "60s"),
}


@dataclass(frozen=True)
class AnalystGrant:
    role: str
    tenant_slug: str
    password: str | None

    def url(self, base: URL) -> URL:
        """A connection URL for this analyst on the server and database of ``base``."""
        return base.set(username=self.role, password=self.password)


def _check_role(role: str) -> str:
    role = role.strip().lower()
    if not ROLE_RE.match(role) or role in RESERVED or role.startswith("pg_"):
        raise ValidationError(
            f"analyst user name {role!r} is not valid",
            fix="use 3-63 lower-case letters, digits or underscores, starting with a letter (not analyst/postgres/pg_*)",
        )
    return role


def _role_exists(conn: psycopg.Connection, role: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def ensure_analyst_group(conn: psycopg.Connection) -> None:
    """Create the ``analyst`` group role if missing and give it read access to ``marts`` only."""
    if not _role_exists(conn, GROUP_ROLE):
        try:
            with conn.transaction():
                conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(GROUP_ROLE)))
        except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
            pass  # another database's session created it first
    group = sql.Identifier(GROUP_ROLE)
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA marts TO {}").format(group))
    conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA marts TO {}").format(group))
    conn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION marts.analyst_tenant_id(name) TO {}").format(group))
    for schema in ("raw", "staging", "intermediate"):
        if conn.execute("SELECT to_regnamespace(%s)", (schema,)).fetchone()[0] is not None:
            conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(sql.Identifier(schema), group))


def grant_analyst(conn: psycopg.Connection, tenant_slug: str, user: str, password: str | None = None) -> AnalystGrant:
    """Create (or update) the login role ``user`` that reads the marts rows of ``tenant_slug`` only.

    Without ``password`` a random one is generated and returned (shown once by the CLI).
    """
    role = _check_role(user)
    tenant = get_tenant(conn, tenant_slug)
    mapped = conn.execute("SELECT tenant_id FROM analyst_roles WHERE role_name = %s", (role,)).fetchone()
    if mapped and mapped[0] != tenant.id:
        raise ConflictError(
            f"analyst {role!r} already reads another tenant's marts",
            fix="use another user name, or `allixios analysts revoke --user` first",
        )
    if _role_exists(conn, role) and not mapped:
        is_analyst = conn.execute(
            "SELECT pg_has_role(%s, %s, 'MEMBER') AND NOT rolsuper FROM pg_roles WHERE rolname = %s",
            (role, GROUP_ROLE, role),
        ).fetchone()
        if not _role_exists(conn, GROUP_ROLE) or not is_analyst or not is_analyst[0]:
            raise ConflictError(
                f"a database role {role!r} exists and is not an Allixios analyst",
                fix="choose another user name; existing roles are never turned into analysts",
            )
    ensure_analyst_group(conn)
    password = password or secrets.token_urlsafe(18)
    ident = sql.Identifier(role)
    if _role_exists(conn, role):
        conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(ident, sql.Literal(password)))
    else:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
            ident, sql.Literal(password), sql.Identifier(GROUP_ROLE)))
    # read-only by default and the marts first on the search path; grants already forbid writes
    conn.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(ident))
    conn.execute(sql.SQL("ALTER ROLE {} SET search_path = marts").format(ident))
    # an analyst's forgotten open transaction or runaway query must not hold locks that block the
    # dbt build (which rebuilds the marts) for ever: the server ends them
    for setting, value in ANALYST_TIMEOUTS.items():
        conn.execute(sql.SQL("ALTER ROLE {} SET {} = {}").format(ident, sql.Identifier(setting), sql.Literal(value)))
    conn.execute(
        """INSERT INTO analyst_roles (role_name, tenant_id) VALUES (%s, %s)
           ON CONFLICT (role_name) DO NOTHING""",
        (role, tenant.id),
    )
    return AnalystGrant(role, tenant.slug, password)


def revoke_analyst(conn: psycopg.Connection, user: str) -> None:
    """Remove the analyst's mapping and drop its login role (it owns nothing)."""
    role = _check_role(user)
    deleted = conn.execute("DELETE FROM analyst_roles WHERE role_name = %s RETURNING role_name", (role,)).fetchone()
    if not deleted:
        raise NotFoundError(f"no analyst {role!r} in this database", fix="see `allixios analysts list`")
    if _role_exists(conn, role):
        ident = sql.Identifier(role)
        conn.execute(sql.SQL("DROP OWNED BY {}").format(ident))
        conn.execute(sql.SQL("DROP ROLE {}").format(ident))


def list_analysts(conn: psycopg.Connection) -> list[dict]:
    rows = conn.execute(
        """SELECT r.role_name, t.slug, r.created_at, pr.rolcanlogin
           FROM analyst_roles r JOIN tenants t ON t.id = r.tenant_id
           LEFT JOIN pg_roles pr ON pr.rolname = r.role_name
           ORDER BY t.slug, r.role_name"""
    ).fetchall()
    return [{"user": r[0], "tenant": r[1], "created_at": r[2], "can_login": bool(r[3])} for r in rows]
