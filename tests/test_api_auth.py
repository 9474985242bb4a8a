"""Credentials: API keys, OAuth2 grants, JWT refusal rules, signing-key rotation, SSO, encrypted PII."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from allixios.db.engine import connect
from tests.api_support import client, tenants_api

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


@pytest.fixture(scope="module")
def api(database_url):
    with tenants_api(database_url, "alpha", "beta") as world:
        yield world


def _exchange(c, secret: str) -> dict:
    r = c.post("/v1/auth/token", data={"grant_type": EXCHANGE, "subject_token": secret})
    assert r.status_code == 200, r.text
    return r.json()


def test_api_key_and_exchanged_token_name_the_user(api):
    server, a, _ = api
    with client(server.url) as c:
        me = c.get("/v1/me", headers={"X-API-Key": a.keys["editor"]}).json()
        assert me["role"] == "editor" and me["tenant"] == "alpha" and me["user"]["email"] == "editor@alpha.example"
        tok = _exchange(c, a.keys["editor"])
        assert tok["token_type"] == "Bearer" and tok["expires_in"] == 900 and tok["refresh_token"].startswith("alr_")
        assert c.get("/v1/me", headers={"Authorization": f"Bearer {tok['access_token']}"}).json()["role"] == "editor"
        assert c.post("/v1/auth/token", data={"grant_type": "password", "username": "x", "password": "y"}).json()[
            "error"] == "unsupported_grant_type"


def test_client_credentials_grant(api):
    server, a, _ = api
    secret = a.keys["operator"]
    prefix = secret.split("_")[1]
    with client(server.url) as c:
        r = c.post("/v1/auth/token", data={"grant_type": "client_credentials", "client_id": prefix,
                                            "client_secret": secret, "scope": "system:read"})
        assert r.status_code == 200, r.text
        assert "refresh_token" not in r.json() and r.json()["scope"] == "system:read"
        basic = base64.b64encode(f"{prefix}:{secret}".encode()).decode()
        assert c.post("/v1/auth/token", data={"grant_type": "client_credentials"},
                      headers={"Authorization": f"Basic {basic}"}).status_code == 200
        bad = c.post("/v1/auth/token", data={"grant_type": "client_credentials", "client_id": prefix,
                                              "client_secret": secret[:-2] + "xx"})
        assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
        # a narrowed token cannot do what its scope leaves out
        access = r.json()["access_token"]
        assert c.get("/v1/articles", headers={"Authorization": f"Bearer {access}"}).status_code == 403
        assert c.post("/v1/auth/token", data={"grant_type": "client_credentials", "client_id": prefix,
                                               "client_secret": secret, "scope": "users:manage"}).json()[
            "error"] == "invalid_scope"


def test_refresh_rotates_and_a_replay_revokes_the_family(api):
    server, a, _ = api
    with client(server.url) as c:
        first = _exchange(c, a.keys["writer"])
        second = c.post("/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
        assert second.status_code == 200
        replay = c.post("/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        # the replay also killed the token issued in the rotation
        after = c.post("/v1/auth/token", data={"grant_type": "refresh_token",
                                                "refresh_token": second.json()["refresh_token"]})
        assert after.status_code == 400


def _claims(a, **over) -> dict:
    now = int(time.time())
    return {"iss": "allixios", "aud": "allixios-api", "sub": a.users["owner"], "tid": a.tenant_id, "role": "owner",
            "scope": "", "iat": now, "nbf": now, "exp": now + 600, "jti": "t", **over}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _hs256_with_public_key(claims: dict, kid: str, jwk: dict) -> str:
    """The classic key-confusion forgery: HS256 keyed with the server's public key (PyJWT refuses to make it)."""
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import serialization

    pem = jwt.algorithms.ECAlgorithm.from_jwk(json.dumps(jwk)).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode()) + "." + _b64(json.dumps(claims).encode())
    return signing + "." + _b64(hmac.new(pem, signing.encode(), hashlib.sha256).digest())


def test_forged_expired_and_alg_none_tokens_are_refused(api):
    server, a, b = api
    with client(server.url) as c:
        real = _exchange(c, a.keys["viewer"])["access_token"]
        kid = jwt.get_unverified_header(real)["kid"]
        attacker = ec.generate_private_key(ec.SECP256R1())
        forged = jwt.encode(_claims(a), attacker, algorithm="ES256", headers={"kid": kid})
        none = jwt.encode(_claims(a), None, algorithm="none", headers={"kid": kid})
        head, payload, sig = real.split(".")
        raised = json.loads(base64.urlsafe_b64decode(payload + "=="))
        raised["role"], raised["tid"] = "owner", b.tenant_id
        tampered = ".".join([head, base64.urlsafe_b64encode(json.dumps(raised).encode()).decode().rstrip("="), sig])
        jwks = c.get("/v1/auth/jwks").json()
        assert kid in {k["kid"] for k in jwks["keys"]} and all("d" not in k for k in jwks["keys"])
        hs = _hs256_with_public_key(_claims(a), kid, jwks["keys"][0])
        for bad in (forged, none, tampered, hs, "not.a.jwt", real + "x"):
            r = c.get("/v1/me", headers={"Authorization": f"Bearer {bad}"})
            assert r.status_code == 401, (bad[:30], r.text)
            assert r.json()["code"] == "AUTHENTICATION_ERROR" and "Traceback" not in r.text
        # expired: signed with the server's own key, but past exp
        from allixios.identity import tokens

        with connect() as conn:
            expired, _ = tokens.issue_access_token(conn, user_id=a.users["viewer"], tenant_id=a.tenant_id,
                                                   role="viewer", scopes=[], ttl_s=-60)
        r = c.get("/v1/me", headers={"Authorization": f"Bearer {expired}"})
        assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_revoked_key_and_its_tokens_are_refused_at_once(api):
    server, a, _ = api
    with client(server.url) as c:
        r = c.post("/v1/keys", json={"name": "short lived"}, headers={"Authorization": f"Bearer {a.keys['admin']}"})
        assert r.status_code == 201
        key = r.json()
        assert key["secret"].startswith("alx_") and key["prefix"] in key["secret"]
        listed = c.get("/v1/keys", headers={"Authorization": f"Bearer {a.keys['admin']}"}).text
        assert key["secret"] not in listed
        token = _exchange(c, key["secret"])["access_token"]
        assert c.get("/v1/me", headers={"X-API-Key": key["secret"]}).status_code == 200
        assert c.delete(f"/v1/keys/{key['id']}", headers={"Authorization": f"Bearer {a.keys['admin']}"}).status_code == 200
        assert c.get("/v1/me", headers={"X-API-Key": key["secret"]}).status_code == 401
        assert c.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    with connect() as conn:
        stored = conn.execute("SELECT secret_hash FROM api_keys WHERE id = %s", (key["id"],)).fetchone()[0]
    assert key["secret"].encode() not in bytes(stored)


def test_disabled_user_and_role_change_apply_at_once(api):
    server, a, _ = api
    with client(server.url) as c:
        token = _exchange(c, a.keys["analyst"])["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        assert c.get("/v1/analytics/kpis", headers=auth).status_code != 403
        owner = {"Authorization": f"Bearer {a.keys['owner']}"}
        assert c.patch(f"/v1/users/{a.users['analyst']}", json={"role": "viewer"}, headers=owner).status_code == 200
        assert c.get("/v1/analytics/kpis", headers=auth).status_code == 403
        assert c.patch(f"/v1/users/{a.users['analyst']}", json={"disabled": True}, headers=owner).status_code == 200
        assert c.get("/v1/me", headers=auth).status_code == 401
        assert c.get("/v1/me", headers={"X-API-Key": a.keys["analyst"]}).status_code == 401
        c.patch(f"/v1/users/{a.users['analyst']}", json={"disabled": False, "role": "analyst"}, headers=owner)


def test_rotation_keeps_old_tokens_valid(api):
    server, a, _ = api
    from allixios.identity import tokens

    with client(server.url) as c:
        old = _exchange(c, a.keys["viewer"])["access_token"]
        with connect() as conn:
            new_kid = tokens.rotate_signing_key(conn)
        fresh = _exchange(c, a.keys["viewer"])["access_token"]
        assert jwt.get_unverified_header(fresh)["kid"] == new_kid != jwt.get_unverified_header(old)["kid"]
        for t in (old, fresh):
            assert c.get("/v1/me", headers={"Authorization": f"Bearer {t}"}).status_code == 200
        assert len(c.get("/v1/auth/jwks").json()["keys"]) >= 2


class _Jwks(BaseHTTPRequestHandler):
    body = b"{}"

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def test_sso_token_of_the_tenants_issuer(api, database_url):
    server, a, b = api
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "idp-1", "use": "sig", "alg": "RS256"})
    _Jwks.body = json.dumps({"keys": [jwk]}).encode()
    idp = ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    threading.Thread(target=idp.serve_forever, daemon=True).start()
    issuer = f"http://127.0.0.1:{idp.server_port}/realms/alpha"
    from allixios.identity.tenant_access import configure_sso
    from allixios.tenants import get_tenant

    with connect(database_url) as conn:
        configure_sso(conn, get_tenant(conn, "alpha"), issuer, f"http://127.0.0.1:{idp.server_port}/jwks", "allixios",
                      actor="test")
    now = int(time.time())

    def sso(email: str, **over) -> str:
        claims = {"iss": issuer, "aud": "allixios", "sub": f"idp|{email}", "email": email, "iat": now, "exp": now + 300,
                  **over}
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "idp-1"})

    try:
        with client(server.url) as c:
            me = c.get("/v1/me", headers={"Authorization": f"Bearer {sso('writer@alpha.example')}"})
            assert me.status_code == 200, me.text
            assert me.json()["role"] == "writer" and me.json()["tenant"] == "alpha"
            tok = _exchange(c, sso("writer@alpha.example"))
            assert c.get("/v1/me", headers={"Authorization": f"Bearer {tok['access_token']}"}).json()["role"] == "writer"
            # an e-mail of another tenant, an expired token, a wrong audience, another signer: refused
            assert c.get("/v1/me", headers={"Authorization": f"Bearer {sso('writer@beta.example')}"}).status_code == 403
            assert c.get("/v1/me", headers={"Authorization": f"Bearer {sso('writer@alpha.example', exp=now - 60)}"}
                         ).status_code == 401
            assert c.get("/v1/me", headers={"Authorization": f"Bearer {sso('writer@alpha.example', aud='x')}"}
                         ).status_code == 401
            other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            forged = jwt.encode({"iss": issuer, "aud": "allixios", "sub": "s", "email": "owner@alpha.example",
                                 "iat": now, "exp": now + 300}, other, algorithm="RS256", headers={"kid": "idp-1"})
            assert c.get("/v1/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    finally:
        idp.shutdown()


def test_personal_data_is_encrypted_at_rest(api, database_url):
    _, a, _ = api
    with connect(database_url) as conn:
        dump = conn.execute("SELECT string_agg(coalesce(email, '') || encode(coalesce(email_enc, ''), 'escape') || "
                            "encode(coalesce(name_enc, ''), 'escape'), '|') FROM users").fetchone()[0]
        from allixios.identity.users import get_user
        from allixios.tenants import get_tenant

        found = get_user(conn, get_tenant(conn, "alpha"), "EDITOR@alpha.example ")
    assert "@alpha.example" not in dump and "Person" not in dump
    assert found.role == "editor" and found.name == "Editor Person"


def test_report_time_ranges_are_checked_alike_and_name_the_fix(api):
    """`GET /v1/ai/usage` and `/v1/metrics/performance` share one time-range rule (allixios.api.web.time_range)."""
    server, a, _ = api
    with client(server.url) as c:
        headers = {"X-API-Key": a.keys["owner"]}
        for path in ("/v1/ai/usage", "/v1/metrics/performance"):
            swapped = c.get(path, params={"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"},
                            headers=headers)
            naive = c.get(path, params={"since": "2026-11-01T00:00:00"}, headers=headers)
            ok = c.get(path, params={"since": "2026-11-01T00:00:00Z", "until": "2026-11-02T00:00:00Z"}, headers=headers)
            assert swapped.status_code == naive.status_code == 422, (path, swapped.text, naive.text)
            assert "since is after until" in swapped.text and "swap" in swapped.text
            assert "time zone" in naive.text and "+00:00" in naive.text
            assert ok.status_code == 200 and ok.json()["since"].startswith("2026-11-01"), ok.text
