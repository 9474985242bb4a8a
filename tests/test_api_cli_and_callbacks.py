"""The operator CLI for users and keys (audited as the operator), a multi-worker server sharing rate
limits through PostgreSQL, and callback URLs that cannot reach internal addresses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from psycopg.types.json import Jsonb

from allixios.db.engine import connect
from allixios.errors import ValidationError
from allixios.tenants import Tenant
from allixios.testing.servers import wait_until_answers
from tests.api_support import truncate


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "allixios.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "ALLIXIOS_USER": "ops-anna"})


def test_users_and_keys_cli_record_the_operator(database_url):
    truncate(database_url)
    assert _cli("seed").returncode == 0
    added = _cli("users", "add", "Lee@Example.com", "--role", "writer", "--name", "Lee Writer")
    assert added.returncode == 0, added.stderr
    listed = json.loads(_cli("users", "list", "--json").stdout)
    assert [(u["email"], u["role"]) for u in listed] == [("lee@example.com", "writer")]
    assert _cli("users", "role", "lee@example.com", "editor").returncode == 0
    bad = _cli("users", "role", "lee@example.com", "superuser")
    assert bad.returncode == 2 and "fix:" in bad.stderr and "Traceback" not in bad.stderr
    key = json.loads(_cli("keys", "create", "--user", "lee@example.com", "--name", "ci", "--json").stdout)
    assert key["secret"].startswith("alx_")
    assert key["secret"] not in _cli("keys", "list").stdout
    assert _cli("keys", "revoke", key["prefix"]).returncode == 0
    assert _cli("users", "disable", "lee@example.com").returncode == 0
    with connect(database_url) as conn:
        rows = conn.execute("SELECT DISTINCT actor FROM audit_log WHERE entity_type IN ('user', 'api_key')").fetchall()
        revoked = conn.execute("SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = %s", (key["id"],)).fetchone()[0]
    assert rows == [("operator:ops-anna",)] and revoked


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_worker_processes_share_one_rate_limit(database_url):
    from allixios.identity.keys import create_key
    from allixios.identity.users import add_user
    from allixios.tenants import ensure_tenant

    truncate(database_url)
    with connect(database_url) as conn:
        tenant = ensure_tenant(conn, "multi")
        conn.execute("UPDATE tenants SET limits = %s WHERE id = %s",
                     (Jsonb({"api_requests_per_minute_per_credential": 12}), tenant.id))
        user = add_user(conn, tenant, "m@example.com", role="viewer", actor="test")
        _, secret = create_key(conn, tenant, str(user.id), name="m", actor="test")
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "allixios.cli", "serve", "--port", str(port), "--workers", "2",
                               "--no-dispatch"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_answers(f"{base}/v1/system/live", server, timeout_s=180)
        time.sleep(5)  # both workers up (each answers liveness once ready)
        reset = int(httpx.get(f"{base}/v1/me", headers={"X-API-Key": secret}).headers["RateLimit-Reset"])
        if reset < 15:
            time.sleep(reset + 1)
            httpx.get(f"{base}/v1/me", headers={"X-API-Key": secret})
        statuses = []
        for _ in range(15):  # a fresh connection each time: the kernel spreads them over both workers
            r = httpx.get(f"{base}/v1/me", headers={"X-API-Key": secret, "Connection": "close"})
            statuses.append(r.status_code)
        assert statuses.count(200) == 11 and statuses.count(429) == 4, statuses  # 12 per minute, whichever worker
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_callback_urls_cannot_reach_internal_addresses():
    from allixios.api.callbacks import check_callback_url, deliver

    tenant = Tenant(None, "t", "T", {"callback_hosts": ["hooks.example.com", "localhost", "127.0.0.1"]})
    assert check_callback_url(tenant, "https://hooks.example.com/x")
    for bad in ("https://evil.example.com/x", "http://hooks.example.com/x", "file:///etc/passwd",
                "https://user:pw@hooks.example.com/", "http://169.254.169.254/latest/meta-data", "http://10.0.0.1/"):
        with pytest.raises(ValidationError):
            check_callback_url(tenant, bad)
    # an allowed *name* that resolves to loopback is refused at delivery time (no retries spent on it)
    result = deliver("https://localhost:9/x", "s" * 20, {"a": 1}, delays=())
    assert result.startswith("failed:") and "non-public" in result
