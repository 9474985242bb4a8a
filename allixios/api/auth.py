"""Authentication and authorisation of a request: the credential names the user, tenant and role.

Accepted: `Authorization: Bearer <JWT from /v1/auth/token>`, `Authorization: Bearer alx_...` or
`X-API-Key: alx_...` (an API key directly), or a JWT from the tenant's own OIDC issuer (SSO). Every
request re-checks that the user is enabled and, for key-based credentials, that the key is live, so
revocation is immediate. The tenant is never taken from the request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from uuid import UUID

import psycopg
from fastapi import Request

from allixios.api import ratelimit
from allixios.api.problems import ApiProblem
from allixios.db.engine import connect
from allixios.identity import keys, pii, tokens
from allixios.identity.roles import permissions
from allixios.tenants import Tenant


@dataclass(frozen=True)
class Principal:
    user_id: UUID
    tenant: Tenant
    role: str
    permissions: frozenset[str]
    credential: str  # "key:<prefix>", "jwt:<user id>", "sso:<user id>": rate-limit and idempotency bucket
    api_key_id: UUID | None = None

    @property
    def actor(self) -> str:
        """What audit_log and edit locks record: the authenticated user."""
        return f"user:{self.user_id}"

    def require(self, permission: str) -> None:
        if permission not in self.permissions:
            raise ApiProblem("AUTHORIZATION_ERROR", f"role {self.role!r} (with this credential's scopes) may not "
                             f"do {permission}", fix=f"use a credential with the {permission!r} permission")


def _unauthenticated(detail: str) -> ApiProblem:
    return ApiProblem("AUTHENTICATION_ERROR", detail, headers={"WWW-Authenticate": 'Bearer realm="allixios"'})


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _unauthenticated("the Authorization header is not `Bearer <credential>`")
        return value.strip()
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    raise _unauthenticated("no credential sent")


def _tenant_query(conn, tenant_id: UUID) -> psycopg.Cursor:
    """The tenant's row (read by `_tenant`); in a pipeline its result is read after the sync."""
    # set_config(..., true) is SET LOCAL synchronous_commit = off (see _authenticate_on) without a round trip of its own
    return conn.execute("""SELECT id, slug, name, settings, limits, plan_type, feature_flags,
                                  set_config('synchronous_commit', 'off', true) FROM tenants
                           WHERE id = %s AND deleted_at IS NULL""", (tenant_id,))


def _tenant_of_key_query(conn, secret: str) -> psycopg.Cursor | None:
    """For an API key: its tenant's row, read beside the key's look-up (the same pipeline) before the
    key is verified. Read only; `_authenticate_on` uses it only for the tenant the verified key names."""
    prefix = keys.parse_secret(secret)
    if prefix is None:
        return None
    return conn.execute("""SELECT id, slug, name, settings, limits, plan_type, feature_flags,
                                  set_config('synchronous_commit', 'off', true) FROM tenants
                           WHERE id = (SELECT tenant_id FROM api_keys WHERE prefix = %s) AND deleted_at IS NULL""",
                        (prefix,))


def _tenant(cursor: psycopg.Cursor) -> tuple[Tenant, dict]:
    """The tenant and its effective limits: its plan's defaults overridden by its own (allixios/plans.py)."""
    from allixios import plans

    row = cursor.fetchone()
    if row is None:
        raise _unauthenticated("the credential's tenant no longer exists")
    limits, _ = plans.effective(row[5], row[4] or {}, row[6] or {})
    return Tenant(row[0], row[1], row[2], row[3] or {}), {k: v for k, v in limits.items() if v is not None}


def _sso_principal(conn, token: str, issuer: str) -> tuple[UUID, UUID, str, list[str]]:
    row = conn.execute("SELECT id, settings->'sso' FROM tenants WHERE settings->'sso'->>'issuer' = %s "
                       "AND deleted_at IS NULL", (issuer,)).fetchone()
    if row is None:
        raise _unauthenticated("the token's issuer is neither Allixios nor a tenant's configured SSO issuer")
    tenant_id, sso = row
    try:
        claims = tokens.verify_sso_token(token, sso)
    except tokens.TokenError as exc:
        raise _unauthenticated(str(exc)) from None
    user = conn.execute(
        """SELECT id, role FROM users WHERE tenant_id = %s AND disabled_at IS NULL
           AND (external_subject = %s OR (email_hash = %s AND external_subject IS NULL)) LIMIT 1""",
        (tenant_id, str(claims["sub"]), pii.email_hash(str(claims.get("email") or "-"))),
    ).fetchone()
    if user is None:
        raise ApiProblem("AUTHORIZATION_ERROR", "the SSO user is not a user of this tenant",
                         fix="an admin adds them with `allixios users add EMAIL --role ROLE`")
    conn.execute("UPDATE users SET external_subject = %s, last_seen_at = now() WHERE id = %s AND external_subject IS NULL",
                 (str(claims["sub"]), user[0]))
    return user[0], tenant_id, user[1], []


def resolve_credential(conn, secret: str) -> tuple[UUID, UUID, str, list[str], UUID | None, str]:
    """(user, tenant, role, scopes, api key id, credential label) of a bearer credential, or a 401."""
    if secret.startswith(keys.KEY_PREFIX):
        found = keys.verify_secret(conn, secret)
        if found is None:
            raise _unauthenticated("the API key is unknown, revoked or expired, or its user is disabled")
        key, role = found
        return key.user_id, key.tenant_id, role, key.scopes, key.id, f"key:{key.prefix}"
    issuer = tokens.unverified_issuer(secret)
    if issuer is not None and issuer != tokens.ISSUER:
        user_id, tenant_id, role, scopes = _sso_principal(conn, secret, issuer)
        return user_id, tenant_id, role, scopes, None, f"sso:{user_id}"
    try:
        claims = tokens.verify_access_token(conn, secret)
    except tokens.TokenError as exc:
        raise _unauthenticated(str(exc)) from None
    # role and liveness from the database, not the token: a role change or revocation applies at once
    row = conn.execute(
        """SELECT u.role FROM users u WHERE u.id = %s AND u.tenant_id = %s AND u.disabled_at IS NULL
           AND (%s::uuid IS NULL OR EXISTS (SELECT 1 FROM api_keys k WHERE k.id = %s AND k.revoked_at IS NULL
                AND (k.expires_at IS NULL OR k.expires_at > now())))""",
        (claims.user_id, claims.tenant_id, claims.api_key_id, claims.api_key_id),
    ).fetchone()
    if row is None:
        raise _unauthenticated("the token's user is disabled or its API key was revoked")
    return claims.user_id, claims.tenant_id, row[0], claims.scopes, claims.api_key_id, f"jwt:{claims.user_id}"


def _authenticate_on(conn, request: Request) -> Principal:
    """Authenticate and count the request on `conn`, in a transaction of its own that this commits.

    The commit is asynchronous (counters and last-used stamps only: losing the last few on a crash
    is harmless, waiting for a WAL flush on every request is not) and comes before the route's work,
    so the rate-limit counter rows are not held locked while the route runs."""
    secret = _bearer(request)
    try:
        # two round trips: the credential (and, for an API key, its tenant's row beside it), then the
        # rate-limit count and the commit together (a pipeline), so the counter rows every request of
        # the tenant updates are held only while PostgreSQL runs the UPSERT and the COMMIT
        tenant_row = None
        if secret.startswith(keys.KEY_PREFIX):
            with conn.pipeline():
                tenant_row = _tenant_of_key_query(conn, secret)
                user_id, tenant_id, role, scopes, key_id, label = resolve_credential(conn, secret)
        else:
            user_id, tenant_id, role, scopes, key_id, label = resolve_credential(conn, secret)
        with conn.pipeline():
            if tenant_row is None:
                tenant_row = _tenant_query(conn, tenant_id)
            counted = ratelimit.count(conn, label, str(tenant_id))
            conn.commit()
        tenant, limits = _tenant(tenant_row)
        if tenant.id != tenant_id:  # not reachable (a key's prefix is unique): never answer for another tenant
            raise _unauthenticated("the credential's tenant no longer exists")
        decision = ratelimit.decide(counted, *ratelimit.limits_for(limits))
        if decision.allowed and limits.get("api_calls_per_day") is not None:
            _count_daily_call(conn, tenant_id, limits["api_calls_per_day"], decision)
            conn.commit()
    except BaseException:
        conn.rollback()
        raise
    request.state.extra_headers = decision.headers()
    if not decision.allowed:
        raise ApiProblem("RATE_LIMIT_ERROR", f"the {decision.scope}'s limit of {decision.limit} requests per "
                         f"{ratelimit.WINDOW_S} s is spent", headers=decision.headers())
    principal = Principal(user_id, tenant, role, permissions(role, scopes), label, key_id)
    request.state.principal = principal
    return principal


def authenticate(request: Request) -> Principal:
    """FastAPI dependency: the caller, after its rate limits (429 with Retry-After when spent)."""
    with connect() as conn:
        return _authenticate_on(conn, request)


@contextmanager
def authenticated(request: Request, permission: str, *, read_only: bool = False
                  ) -> Iterator[tuple[psycopg.Connection, Principal]]:
    """The caller (as `need(permission)` gives it) and the route's transaction on the same pooled
    connection: one checkout per request instead of two. For the hot routes (a content request, an
    article read); the route's transaction commits when the block ends, before the answer is sent.

    `read_only`: the route runs one reading statement, in autocommit (its own snapshot, and no
    COMMIT round trip after it); the connection goes back to the pool in transaction mode.

    Not a dependency on purpose: a connection held from a dependency to its route waits for a free
    thread while holding a pool slot, and under load the two pools deadlock."""
    with connect() as conn:
        principal = _authenticate_on(conn, request)
        principal.require(permission)
        if not read_only:
            yield conn, principal
            return
        conn.autocommit = True  # idle here: _authenticate_on committed
        try:
            yield conn, principal
        finally:
            try:
                conn.autocommit = False
            except psycopg.Error:
                conn.close()  # never back to the pool in autocommit: a closed connection is replaced on checkout


def _count_daily_call(conn, tenant_id: UUID, limit: int, decision: ratelimit.Decision) -> None:
    """The plan's API calls per UTC day (tenant_usage, allixios/plans.py): 429 once spent."""
    from allixios import plans

    try:
        with conn.pipeline():  # SET LOCAL (asynchronous commit, as the rate-limit count's) and the count: one round trip
            conn.execute("SELECT set_config('synchronous_commit', 'off', true)")
            plans.count(conn, tenant_id, "api_calls_per_day", "API calls per day (UTC)", limit=limit, status=429)
    except plans.PlanLimitError as exc:
        conn.commit()  # keep this request's per-minute count; the refused daily call was not counted
        headers = decision.headers() | {"Retry-After": str(exc.retry_after_s)}
        raise ApiProblem("PLAN_LIMIT_EXCEEDED", exc.message, exc.fix, status=429, headers=headers,
                         limit=exc.key) from None


def need(permission: str):
    """Dependency factory: the caller, required to hold `permission`."""
    from fastapi import Depends

    def dependency(principal: Principal = Depends(authenticate)) -> Principal:
        principal.require(permission)
        return principal

    dependency.__name__ = f"need_{permission.replace(':', '_')}"
    return dependency
