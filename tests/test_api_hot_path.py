"""The hot routes' round trips (docs/areas/api.md, "Under load"): authentication in two round trips
(the key with its tenant's row, then the rate-limit count with the commit), the article read in
autocommit on a connection that goes back to the pool in transaction mode, and the API's pool size."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from allixios.api.auth import authenticated
from allixios.api.problems import ApiProblem
from allixios.db.engine import connect
from tests.api_support import client, tenants_api


@pytest.fixture(scope="module")
def api(database_url):
    with tenants_api(database_url, "alpha", "beta") as world:
        yield world


def _request(secret: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [(b"authorization", f"Bearer {secret}".encode())],
                    "query_string": b"", "state": {}})


def _hits(bucket_prefix: str) -> int:
    with connect() as conn:
        return conn.execute("SELECT coalesce(sum(hits), 0) FROM rate_limit_counters WHERE bucket LIKE %s",
                            (bucket_prefix + "%",)).fetchone()[0]


def test_read_only_block_runs_in_autocommit_and_hands_the_connection_back_transactional(api):
    _, a, _ = api
    with authenticated(_request(a.keys["viewer"]), "articles:read", read_only=True) as (conn, principal):
        assert conn.autocommit and str(principal.tenant.id) == a.tenant_id
        held = conn
    assert held.autocommit is False
    with pytest.raises(RuntimeError):  # an error inside the block too
        with authenticated(_request(a.keys["viewer"]), "articles:read", read_only=True) as (conn, _):
            held = conn
            raise RuntimeError("route failed")
    assert held.autocommit is False
    with authenticated(_request(a.keys["editor"]), "content:request") as (conn, _):
        assert not conn.autocommit  # a writing route keeps its transaction (committed when the block ends)


def test_article_reads_are_counted_and_stay_in_their_tenant(api):
    server, a, b = api
    before = _hits(f"t:{a.tenant_id}")
    with client(server.url, a.keys["viewer"]) as c:
        first = c.get(f"/v1/articles/{a.article_id}")
        assert first.status_code == 200 and first.headers["ETag"] and "RateLimit-Remaining" in first.headers
        assert c.get(f"/v1/articles/{a.article_id}", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
        assert c.get(f"/v1/articles/{b.article_id}").status_code == 404  # beta's article: not alpha's to read
    assert _hits(f"t:{a.tenant_id}") == before + 3  # each read counted and committed before its answer
    with connect() as conn:  # every pooled connection is back in transaction mode
        assert not conn.autocommit


def test_a_key_of_a_deleted_tenant_is_refused_on_the_read(api):
    server, _, b = api
    with connect() as conn:
        conn.execute("UPDATE tenants SET deleted_at = now() WHERE id = %s", (b.tenant_id,))
    try:
        with client(server.url, b.keys["viewer"]) as c:
            r = c.get(f"/v1/articles/{b.article_id}")
            assert r.status_code == 401 and "tenant no longer exists" in r.json()["detail"]
        with pytest.raises(ApiProblem):
            with authenticated(_request(b.keys["viewer"]), "articles:read", read_only=True):
                pass
    finally:
        with connect() as conn:
            conn.execute("UPDATE tenants SET deleted_at = NULL WHERE id = %s", (b.tenant_id,))


def test_the_api_keeps_a_pool_its_threads_can_use_without_reopening():
    from allixios.api import app
    from allixios.db import engine

    saved = dict(engine._pool)
    try:
        engine.size_pools(app.POOL_SIZE, app.POOL_OVERFLOW)
        assert engine._pool == {"pool_size": 15, "max_overflow": 10}
    finally:
        engine.size_pools(**saved)
