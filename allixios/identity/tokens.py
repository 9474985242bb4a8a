"""OAuth2 tokens: short-lived ES256 JWT access tokens, single-use refresh tokens, rotating signing keys.

Signing keys live in `signing_keys` (private half encrypted like PII) with a `kid`; the JWKS lists
every key that may still verify, so rotating (`allixios keys rotate-signing`) logs nobody out: new
tokens use the new key, old ones verify until they expire (the old key retires after the longest
access-token lifetime). Only ES256 is accepted on the way in: `alg: none`, HS256 with the public
key as secret, and any unknown `kid` are refused.

Tokens from a tenant's own OpenID Connect issuer (SSO) verify against that tenant's JWKS URL
(tenant settings `sso`: issuer, jwks_url, audience); the issuer picks the tenant.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt
import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from allixios.identity import pii
from allixios.identity.keys import hash_secret

ISSUER = "allixios"
AUDIENCE = "allixios-api"
ALGORITHM = "ES256"
ACCESS_TTL_S = 900
REFRESH_TTL = timedelta(days=30)
SSO_ALGORITHMS = ["RS256", "ES256"]


class TokenError(Exception):
    """A token that must be refused; the message is safe to show (never echoes the token)."""


@dataclass(frozen=True)
class Claims:
    user_id: UUID
    tenant_id: UUID
    role: str
    scopes: list[str]
    api_key_id: UUID | None
    token_id: str


# ---- signing keys --------------------------------------------------------------------------------


def _new_key(conn: psycopg.Connection) -> str:
    private = ec.generate_private_key(ec.SECP256R1())
    kid = f"k{int(time.time())}-{uuid.uuid4().hex[:8]}"
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "use": "sig", "alg": ALGORITHM})
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    conn.execute("INSERT INTO signing_keys (kid, algorithm, private_enc, public_jwk) VALUES (%s, %s, %s, %s)",
                 (kid, ALGORITHM, pii.encrypt(pem, kid.encode()), json.dumps(jwk)))
    return kid


def ensure_signing_key(conn: psycopg.Connection) -> str:
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('allixios.signing_keys'))")
    row = conn.execute("SELECT kid FROM signing_keys WHERE rotated_at IS NULL ORDER BY created_at DESC LIMIT 1").fetchone()
    return row[0] if row else _new_key(conn)


def rotate_signing_key(conn: psycopg.Connection) -> str:
    """A new current key; the previous ones stop signing now and stop verifying after the token lifetime."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('allixios.signing_keys'))")
    conn.execute("""UPDATE signing_keys SET rotated_at = now(), retired_at = now() + make_interval(secs => %s)
                    WHERE rotated_at IS NULL""", (ACCESS_TTL_S + 60,))
    _cache.clear()
    return _new_key(conn)


def jwks(conn: psycopg.Connection) -> dict:
    rows = conn.execute("SELECT public_jwk FROM signing_keys WHERE retired_at IS NULL OR retired_at > now() "
                        "ORDER BY created_at").fetchall()
    return {"keys": [r[0] for r in rows]}


class _KeyCache:
    """kid -> public key (verification) and the current private key (signing), per process, short-lived."""

    def __init__(self) -> None:
        self.public: dict[str, tuple[float, object]] = {}
        self.signer: tuple[float, str, object] | None = None
        self.lock = threading.Lock()

    def clear(self) -> None:
        with self.lock:
            self.public.clear()
            self.signer = None


_cache = _KeyCache()
_CACHE_S = 30.0


def _signer(conn: psycopg.Connection) -> tuple[str, object]:
    now = time.monotonic()
    s = _cache.signer
    if s and now - s[0] < _CACHE_S:
        return s[1], s[2]
    kid = ensure_signing_key(conn)
    blob = conn.execute("SELECT private_enc FROM signing_keys WHERE kid = %s", (kid,)).fetchone()[0]
    private = serialization.load_pem_private_key(pii.decrypt(blob, kid.encode()).encode(), password=None)
    _cache.signer = (now, kid, private)
    return kid, private


def _public_key(conn: psycopg.Connection, kid: str):
    now = time.monotonic()
    hit = _cache.public.get(kid)
    if hit and now - hit[0] < _CACHE_S:
        return hit[1]
    row = conn.execute("SELECT public_jwk FROM signing_keys WHERE kid = %s AND (retired_at IS NULL OR retired_at > now())",
                       (kid,)).fetchone()
    if row is None:
        raise TokenError("the token was signed with an unknown or retired key")
    key = jwt.algorithms.ECAlgorithm.from_jwk(json.dumps(row[0]))
    _cache.public[kid] = (now, key)
    return key


# ---- issuing ---------------------------------------------------------------------------------------


def issue_access_token(conn: psycopg.Connection, *, user_id: UUID, tenant_id: UUID, role: str, scopes: list[str],
                       api_key_id: UUID | None = None, ttl_s: int = ACCESS_TTL_S) -> tuple[str, int]:
    kid, private = _signer(conn)
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": str(user_id), "tid": str(tenant_id), "role": role,
              "scope": " ".join(scopes), "iat": now, "nbf": now, "exp": now + ttl_s, "jti": uuid.uuid4().hex}
    if api_key_id:
        claims["akid"] = str(api_key_id)
    return jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": kid}), ttl_s


def issue_refresh_token(conn: psycopg.Connection, *, user_id: UUID, tenant_id: UUID, scopes: list[str],
                        api_key_id: UUID | None = None, family: UUID | None = None) -> str:
    token = "alr_" + pii.random_token(32)
    conn.execute("""INSERT INTO refresh_tokens (tenant_id, user_id, api_key_id, family, token_hash, scopes, expires_at)
                    VALUES (%s, %s, %s, %s, %s, %s, %s)""",
                 (tenant_id, user_id, api_key_id, family or uuid.uuid4(), hash_secret(token), scopes,
                  datetime.now(UTC) + REFRESH_TTL))
    return token


def use_refresh_token(conn: psycopg.Connection, token: str) -> tuple[UUID, UUID, list[str], UUID | None, UUID]:
    """(user, tenant, scopes, api key, family) of a live refresh token, consumed; a reused token kills its family."""
    row = conn.execute("""SELECT id, user_id, tenant_id, scopes, api_key_id, family, used_at, revoked_at,
                                 expires_at < now() FROM refresh_tokens WHERE token_hash = %s FOR UPDATE""",
                       (hash_secret(token),)).fetchone()
    if row is None:
        raise TokenError("unknown refresh token")
    rid, user_id, tenant_id, scopes, key_id, family, used_at, revoked_at, expired = row
    if used_at is not None:  # replay of a rotated token: someone else has it, end the whole family
        conn.execute("UPDATE refresh_tokens SET revoked_at = now() WHERE family = %s AND revoked_at IS NULL", (family,))
        raise TokenError("refresh token already used; every token of this sign-in is revoked")
    if revoked_at is not None or expired:
        raise TokenError("refresh token revoked or expired")
    conn.execute("UPDATE refresh_tokens SET used_at = now() WHERE id = %s", (rid,))
    return user_id, tenant_id, list(scopes), key_id, family


# ---- verifying -------------------------------------------------------------------------------------


def verify_access_token(conn: psycopg.Connection, token: str) -> Claims:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenError("the bearer token is not a well-formed JWT") from None
    if header.get("alg") != ALGORITHM or not isinstance(header.get("kid"), str):
        raise TokenError(f"only {ALGORITHM} tokens with a kid are accepted")
    key = _public_key(conn, header["kid"])
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "aud", "iss"]}, leeway=5)
        return Claims(UUID(claims["sub"]), UUID(claims["tid"]), str(claims["role"]),
                      [s for s in str(claims.get("scope", "")).split() if s],
                      UUID(claims["akid"]) if claims.get("akid") else None, str(claims.get("jti", "")))
    except jwt.ExpiredSignatureError:
        raise TokenError("the access token has expired") from None
    except (jwt.PyJWTError, KeyError, ValueError):
        raise TokenError("the access token's signature or claims are not valid") from None


def unverified_issuer(token: str) -> str | None:
    try:
        value = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None
    return value if isinstance(value, str) else None


_jwk_clients: dict[str, jwt.PyJWKClient] = {}


def verify_sso_token(token: str, sso: dict) -> dict:
    """Claims of an ID/access token from the tenant's issuer, verified with its JWKS (cached 5 minutes)."""
    url = str(sso.get("jwks_url") or "")
    client = _jwk_clients.get(url)
    if client is None:
        client = _jwk_clients[url] = jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)
    try:
        signing_key = client.get_signing_key_from_jwt(token)
        return jwt.decode(token, signing_key.key, algorithms=SSO_ALGORITHMS, issuer=sso["issuer"],
                          audience=sso.get("audience") or None,
                          options={"require": ["exp", "iat", "sub", "iss"], "verify_aud": bool(sso.get("audience"))},
                          leeway=5)
    except jwt.ExpiredSignatureError:
        raise TokenError("the SSO token has expired") from None
    except jwt.PyJWKClientError:
        raise TokenError("the SSO token's key is not in the tenant's JWKS (or the JWKS cannot be read)") from None
    except jwt.PyJWTError:
        raise TokenError("the SSO token's signature or claims are not valid") from None
