"""OAuth2 token endpoint, our JWKS, the caller, users and API keys of the tenant."""

from __future__ import annotations

import base64
import json
from typing import Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from allixios.api import idempotency
from allixios.api.auth import Principal, authenticate, need, resolve_credential
from allixios.api.problems import ApiProblem, problem_doc
from allixios.api.routes._models import Strict
from allixios.api.web import NO_STORE, PUBLIC, cached_json, json_response
from allixios.db.engine import connect
from allixios.identity import keys, tokens, users
from allixios.identity.roles import ROLES, check_scopes, permissions

router = APIRouter(tags=["auth"])

GRANT_CLIENT_CREDENTIALS = "client_credentials"
GRANT_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
GRANT_REFRESH = "refresh_token"

_TOKEN_FORM = {
    "requestBody": {"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": {
            "type": "object", "required": ["grant_type"], "additionalProperties": False,
            "properties": {
                "grant_type": {"type": "string", "enum": [GRANT_CLIENT_CREDENTIALS, GRANT_TOKEN_EXCHANGE, GRANT_REFRESH]},
                "client_id": {"type": "string"}, "client_secret": {"type": "string"},
                "subject_token": {"type": "string"}, "subject_token_type": {"type": "string"},
                "refresh_token": {"type": "string"}, "scope": {"type": "string"}}}}}},
}


def _oauth_error(error: str, detail: str, fix: str, status: int = 400) -> ApiProblem:
    code = "AUTHENTICATION_ERROR" if status == 401 else "VALIDATION_ERROR"
    return ApiProblem(code, detail, fix, status=status, error=error)


async def _form(request: Request) -> dict[str, str]:
    raw = await request.body()
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if ctype == "application/json":
            data = json.loads(raw or b"{}")
            if not isinstance(data, dict):
                raise ValueError
            return {str(k): str(v) for k, v in data.items()}
        parsed = parse_qs(raw.decode(), keep_blank_values=True, strict_parsing=bool(raw))
    except (ValueError, UnicodeDecodeError):
        raise _oauth_error("invalid_request", "the token request body cannot be parsed",
                           "send application/x-www-form-urlencoded (grant_type=...)") from None
    if any(len(v) > 1 for v in parsed.values()):
        raise _oauth_error("invalid_request", "a parameter is repeated", "send each parameter once")
    return {k: v[0] for k, v in parsed.items()}


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, secret


def _scoped(requested: str | None, granted: list[str], role: str) -> list[str]:
    if not requested:
        return granted
    wanted = check_scopes(requested.split())
    allowed = permissions(role, granted)
    if set(wanted) - allowed:
        raise _oauth_error("invalid_scope", f"scope(s) {', '.join(sorted(set(wanted) - allowed))} are not granted "
                           "to this credential", "ask for fewer scopes")
    return wanted


def _token_answer(conn, user_id, tenant_id, role, scopes, key_id, *, refresh: bool, family=None) -> dict:
    access, ttl = tokens.issue_access_token(conn, user_id=user_id, tenant_id=tenant_id, role=role, scopes=scopes,
                                            api_key_id=key_id)
    out = {"access_token": access, "token_type": "Bearer", "expires_in": ttl, "scope": " ".join(scopes)}
    if refresh:
        out["refresh_token"] = tokens.issue_refresh_token(conn, user_id=user_id, tenant_id=tenant_id, scopes=scopes,
                                                          api_key_id=key_id, family=family)
    return out


@router.post("/auth/token", summary="OAuth2 token endpoint: client credentials, token exchange, refresh",
             openapi_extra=_TOKEN_FORM, responses=problem_doc(400, 401, 422))
async def token(request: Request):
    """`client_credentials` (client_id = key prefix, client_secret = the API key; or HTTP Basic) for
    services; `token-exchange` with an API key (`subject_token_type=urn:allixios:params:oauth:token-type:api-key`)
    or an SSO token of the tenant's issuer for people; `refresh_token` rotates. No password grant."""
    form = await _form(request)
    grant = form.get("grant_type", "")
    from starlette.concurrency import run_in_threadpool

    def work() -> dict:
        with connect() as conn:
            if grant == GRANT_CLIENT_CREDENTIALS:
                basic = _basic(request)
                client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
                if not secret or keys.parse_secret(secret) != client_id.removeprefix(keys.KEY_PREFIX):
                    raise _oauth_error("invalid_client", "client authentication failed",
                                       "send client_id=<key prefix> and client_secret=<the API key>", 401)
                found = keys.verify_secret(conn, secret)
                if found is None:
                    raise _oauth_error("invalid_client", "client authentication failed",
                                       "use a live API key (`allixios keys create`)", 401)
                key, role = found
                scopes = _scoped(form.get("scope"), key.scopes, role)
                return _token_answer(conn, key.user_id, key.tenant_id, role, scopes, key.id, refresh=False)
            if grant == GRANT_TOKEN_EXCHANGE:
                subject = form.get("subject_token", "")
                if not subject:
                    raise _oauth_error("invalid_request", "subject_token is missing",
                                       "send the API key or SSO token as subject_token")
                try:
                    user_id, tenant_id, role, scopes, key_id, _ = resolve_credential(conn, subject)
                except ApiProblem as exc:
                    raise _oauth_error("invalid_grant", exc.detail, exc.fix, 400) from None
                scopes = _scoped(form.get("scope"), scopes, role)
                return _token_answer(conn, user_id, tenant_id, role, scopes, key_id, refresh=True)
            if grant == GRANT_REFRESH:
                try:
                    user_id, tenant_id, scopes, key_id, family = tokens.use_refresh_token(conn, form.get("refresh_token", ""))
                except tokens.TokenError as exc:
                    conn.commit()  # a detected replay revokes the family even though this request fails
                    raise _oauth_error("invalid_grant", str(exc), "sign in again (token exchange)") from None
                row = conn.execute("""SELECT role FROM users WHERE id = %s AND disabled_at IS NULL AND
                                      (%s::uuid IS NULL OR EXISTS (SELECT 1 FROM api_keys WHERE id = %s
                                       AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())))""",
                                   (user_id, key_id, key_id)).fetchone()
                if row is None:
                    raise _oauth_error("invalid_grant", "the user is disabled or the API key revoked", "sign in again")
                return _token_answer(conn, user_id, tenant_id, row[0], scopes, key_id, refresh=True, family=family)
            if grant == "password":
                raise _oauth_error("unsupported_grant_type", "the password grant is not supported (OAuth 2.1 drops it)",
                                   "use token exchange with an API key or an SSO token")
            raise _oauth_error("unsupported_grant_type", f"grant_type {grant[:60]!r} is not supported",
                               f"use {GRANT_CLIENT_CREDENTIALS}, {GRANT_TOKEN_EXCHANGE} or {GRANT_REFRESH}")

    answer = await run_in_threadpool(work)
    return json_response(answer, cache=NO_STORE, headers={"Pragma": "no-cache"})


@router.get("/auth/jwks", summary="Public keys that verify Allixios access tokens (JWKS)")
def jwks(request: Request):
    with connect() as conn:
        return cached_json(request, tokens.jwks(conn), cache=PUBLIC)


@router.get("/me", summary="The caller: user, tenant, role and effective permissions",
            responses=problem_doc(401, 429))
def me(request: Request, principal: Principal = Depends(authenticate)):
    from allixios import plans

    with connect() as conn:
        user = users.user_by_id(conn, principal.user_id)
        plan = plans.describe(conn, principal.tenant.id)  # the caller's own tenant only
    return json_response({"user": user.public() if user else None, "tenant": principal.tenant.slug,
                          "role": principal.role, "permissions": sorted(principal.permissions),
                          "credential": principal.credential.split(":")[0], "plan": plan})


# ---- users -----------------------------------------------------------------------------------------


class UserCreate(Strict):
    email: str = Field(max_length=320)
    name: str | None = Field(None, max_length=200)
    role: Literal[ROLES] = "viewer"  # type: ignore[valid-type]
    kind: Literal["person", "service"] = "person"


class UserUpdate(Strict):
    role: Literal[ROLES] | None = None  # type: ignore[valid-type]
    disabled: bool | None = None


@router.get("/users", summary="Users of the caller's tenant", responses=problem_doc(401, 403, 429))
def list_users(request: Request, principal: Principal = Depends(need("users:manage"))):
    with connect() as conn:
        return cached_json(request, {"items": [u.public() for u in users.list_users(conn, principal.tenant)]})


def _only_owner_makes_owner(principal: Principal, role: str | None) -> None:
    if role == "owner" and principal.role != "owner":
        raise ApiProblem("AUTHORIZATION_ERROR", "only an owner can make an owner", fix="ask a tenant owner")


@router.post("/users", status_code=201, summary="Add a user to the caller's tenant",
             responses=problem_doc(401, 403, 409, 422, 429))
def add_user(request: Request, body: UserCreate, principal: Principal = Depends(need("users:manage"))):
    _only_owner_makes_owner(principal, body.role)
    key = idempotency.key_of(request)
    with connect() as conn:
        replay = idempotency.begin(conn, principal, request, key, idempotency.request_hash(request, body.model_dump()))
        if replay is not None:
            return replay
        user = users.add_user(conn, principal.tenant, body.email, role=body.role, name=body.name, kind=body.kind,
                              actor=principal.actor)
        return idempotency.finish(conn, principal, key, json_response(user.public(), 201,
                                                                     headers={"Location": f"/v1/users/{user.id}"}))


@router.patch("/users/{user_id}", summary="Change a user's role or disable/enable them",
              responses=problem_doc(401, 403, 404, 422, 429))
def update_user(user_id: str, body: UserUpdate, principal: Principal = Depends(need("users:manage"))):
    _only_owner_makes_owner(principal, body.role)
    with connect() as conn:
        user = users.get_user(conn, principal.tenant, _uuid(user_id, "user"))
        if body.role is not None:
            user = users.set_role(conn, principal.tenant, str(user.id), body.role, actor=principal.actor)
        if body.disabled is not None:
            user = users.set_disabled(conn, principal.tenant, str(user.id), body.disabled, actor=principal.actor)
        return json_response(user.public())


def _uuid(value: str, what: str) -> str:
    import uuid

    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ApiProblem("RESOURCE_NOT_FOUND", f"no {what} {value[:60]!r}", fix=f"use the {what}'s id") from None


# ---- API keys --------------------------------------------------------------------------------------


class KeyCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    user_id: str | None = Field(None, description="the key's user; default: the caller", max_length=64)
    scopes: list[str] = Field(default_factory=list, max_length=len(ROLES) * 4)
    expires_in_days: int | None = Field(90, ge=1, le=3650)


@router.get("/keys", summary="API keys of the tenant (never their secrets)", responses=problem_doc(401, 403, 429))
def list_keys(request: Request, principal: Principal = Depends(need("keys:manage"))):
    with connect() as conn:
        return cached_json(request, {"items": [k.public() for k in keys.list_keys(conn, principal.tenant)]},
                           cache=NO_STORE)


@router.post("/keys", status_code=201, summary="Create an API key; the secret is in this answer only",
             responses=problem_doc(401, 403, 404, 409, 422, 429))
def create_key(request: Request, body: KeyCreate, principal: Principal = Depends(need("keys:manage"))):
    ikey = idempotency.key_of(request)
    with connect() as conn:
        if body.user_id:
            target = users.get_user(conn, principal.tenant, _uuid(body.user_id, "user"))
            if target.role == "owner" and principal.role != "owner":
                raise ApiProblem("AUTHORIZATION_ERROR", "only an owner can create keys for an owner", fix="ask an owner")
        # idempotent replays would return the secret again, so keys refuse Idempotency-Key
        if ikey is not None:
            raise ApiProblem("VALIDATION_ERROR", "API key creation does not take an Idempotency-Key "
                             "(a replay would have to show the secret twice)", fix="leave Idempotency-Key out")
        key, secret = keys.create_key(conn, principal.tenant, body.user_id or str(principal.user_id), name=body.name,
                                      actor=principal.actor, scopes=body.scopes, expires_in_days=body.expires_in_days)
    return json_response({**key.public(), "secret": secret}, 201, headers={"Location": f"/v1/keys/{key.id}"})


@router.delete("/keys/{key_id}", summary="Revoke an API key (effective at once)",
               responses=problem_doc(401, 403, 404, 429))
def revoke_key(key_id: str, principal: Principal = Depends(need("keys:manage"))):
    with connect() as conn:
        key = keys.revoke_key(conn, principal.tenant, _uuid(key_id, "API key"), actor=principal.actor)
    return json_response(key.public())
