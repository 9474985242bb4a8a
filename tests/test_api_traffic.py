"""Traffic control and bad input: rate limits, body limit, strict models, idempotency, ETags, cursors."""

from __future__ import annotations

import time
import uuid

import pytest
from psycopg.types.json import Jsonb

from allixios.db.engine import connect
from tests.api_support import client, tenants_api


@pytest.fixture(scope="module")
def api(database_url):
    with tenants_api(database_url, "alpha", max_body=64_000) as world:
        yield world


def _counts(tenant_id: str) -> tuple[int, int]:
    with connect() as conn:
        return (conn.execute("SELECT count(*) FROM content_requests WHERE tenant_id = %s", (tenant_id,)).fetchone()[0],
                conn.execute("SELECT count(*) FROM topics WHERE tenant_id = %s", (tenant_id,)).fetchone()[0])


def test_rate_limit_answers_429_at_the_documented_count(api):
    server, a = api
    with connect() as conn:
        conn.execute("UPDATE tenants SET limits = %s WHERE id = %s",
                     (Jsonb({"api_requests_per_minute_per_credential": 5, "api_requests_per_minute": 8}), a.tenant_id))
    try:
        with client(server.url, a.keys["viewer"]) as c, client(server.url, a.keys["editor"]) as other:
            probe = c.get("/v1/me")  # request 1 of the window
            if int(probe.headers["RateLimit-Reset"]) < 10:  # too close to the window's end: start in the next one
                time.sleep(int(probe.headers["RateLimit-Reset"]) + 1)
                c.get("/v1/me")
            c.get("/v1/me")  # request 2
            first = c.get("/v1/me")
            statuses = [first.status_code] + [c.get("/v1/me").status_code for _ in range(4)]
            assert first.headers["RateLimit-Limit"] == "5" and first.headers["RateLimit-Policy"] == "5;w=60"
            assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
            refused = c.get("/v1/me")
            assert refused.status_code == 429 and refused.json()["code"] == "RATE_LIMIT_ERROR"
            assert 1 <= int(refused.headers["Retry-After"]) <= 60 and refused.headers["RateLimit-Remaining"] == "0"
            # the tenant's own limit (8) counts every credential of the tenant
            tenant_statuses = [other.get("/v1/me").status_code for _ in range(4)]
            assert 429 in tenant_statuses
    finally:
        with connect() as conn:
            conn.execute("UPDATE tenants SET limits = '{}' WHERE id = %s", (a.tenant_id,))
            conn.execute("DELETE FROM rate_limit_counters")


def test_bad_input_gets_one_problem_naming_the_fix_and_nothing_half_written(api):
    server, a = api
    before = _counts(a.tenant_id)
    with client(server.url, a.keys["editor"]) as c:
        def post(body=None, **kw):
            return c.post("/v1/content-requests", json=body, **kw)

        cases = {
            "malformed": post(content=b'{"niche": "finance", "topics": [', headers={"Content-Type": "application/json"}),
            "too large": post(content=b'{"x": "' + b"a" * 70_000 + b'"}', headers={"Content-Type": "application/json"}),
            "unknown field": post({"niche": "finance", "topics": [{"title": "T"}], "tenant_id": str(uuid.uuid4())}),
            "thousand topics": post({"niche": "finance", "topics": [{"title": f"T{i}"} for i in range(1000)]}),
            "unknown niche": post({"niche": "nope", "topics": [{"title": "T"}]}),
            "disallowed callback": post({"niche": "finance", "topics": [{"title": "T"}],
                                         "callback": {"url": "http://169.254.169.254/latest", "secret": "s" * 20}}),
            "over budget": post({"niche": "finance", "topics": [{"title": "T"}], "constraints": {"max_cost_usd": 1e-9}}),
        }
        expected = {"malformed": (400, "MALFORMED_REQUEST"), "too large": (413, "PAYLOAD_TOO_LARGE"),
                    "unknown field": (422, "VALIDATION_ERROR"), "thousand topics": (422, "VALIDATION_ERROR"),
                    "unknown niche": (422, "VALIDATION_ERROR"), "disallowed callback": (422, "VALIDATION_ERROR"),
                    "over budget": (422, "VALIDATION_ERROR")}
        for name, r in cases.items():
            assert (r.status_code, r.json()["code"]) == expected[name], (name, r.text)
            body = r.json()
            assert r.headers["content-type"].startswith("application/problem+json")
            assert body["fix"] and body["detail"] and "Traceback" not in r.text and body["status"] == r.status_code
        assert "tenant_id" in cases["unknown field"].json()["fix"]
        # SQL metacharacters are data, not SQL
        evil = "Robert'); DROP TABLE articles;-- \" \\ %"
        ok = post({"niche": "finance", "topics": [{"title": evil, "keywords": ["' OR 1=1 --"]}]})
        assert ok.status_code == 202, ok.text
        assert c.get("/v1/articles/search", params={"q": evil, "mode": "text"}).status_code == 200
    after = _counts(a.tenant_id)
    assert after == (before[0] + 1, before[1] + 1)
    with connect() as conn:
        assert conn.execute("SELECT count(*) FROM topics WHERE title = %s", (evil,)).fetchone()[0] == 1


def test_idempotency_key_replays_and_refuses_another_body(api):
    server, a = api
    body = {"niche": "finance", "topics": [{"title": "Idempotent topic"}]}
    with client(server.url, a.keys["editor"]) as c:
        key = str(uuid.uuid4())
        first = c.post("/v1/content-requests", json=body, headers={"Idempotency-Key": key})
        before = _counts(a.tenant_id)
        again = c.post("/v1/content-requests", json=body, headers={"Idempotency-Key": key})
        assert first.status_code == again.status_code == 202
        assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
        assert _counts(a.tenant_id) == before  # no second plan, no second topic
        other = c.post("/v1/content-requests", json={**body, "priority": 10}, headers={"Idempotency-Key": key})
        assert other.status_code == 409 and other.json()["code"] == "CONFLICT"


def test_etags_conditional_get_and_compare_and_swap(api):
    server, a = api
    path = f"/v1/articles/{a.article_id}"
    with client(server.url, a.keys["editor"]) as c:
        r = c.get(path)
        etag = r.headers["ETag"]
        assert r.headers["Cache-Control"].startswith("private") and "Authorization" in r.headers["Vary"]
        assert c.get(path, headers={"If-None-Match": etag}).status_code == 304
        assert c.patch(path, json={"excerpt": "no precondition"}).status_code == 428
        changed = c.patch(path, json={"excerpt": "a new excerpt"}, headers={"If-Match": etag})
        assert changed.status_code == 200, changed.text
        assert changed.headers["ETag"] != etag and changed.json()["after_version"] == 2
        stale = c.patch(path, json={"excerpt": "lost update"}, headers={"If-Match": etag})
        assert stale.status_code == 412 and stale.json()["code"] == "PRECONDITION_FAILED"
        assert c.get(path, headers={"If-None-Match": etag}).status_code == 200
        jwks = c.get("/v1/auth/jwks")
        assert jwks.headers["Cache-Control"] == "public, max-age=300"


def test_cursor_pagination_visits_every_article_once(api):
    server, a = api
    with client(server.url, a.keys["writer"]) as c:
        for i in range(5):
            assert c.post("/v1/articles", json={"title": f"Paged {i}", "content": "## H\n\nText."}).status_code == 201
        seen, cursor = [], None
        while True:
            page = c.get("/v1/articles", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
            seen += [x["id"] for x in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(seen) == len(set(seen)) >= 6
        assert c.get("/v1/articles", params={"cursor": "garbage!"}).json()["code"] == "VALIDATION_ERROR"


def test_docs_page_is_served_without_a_cdn(api):
    server, _ = api
    import httpx

    page = httpx.get(f"{server.url}/docs", timeout=10)
    assert page.status_code == 200
    assert "cdn." not in page.text and "/docs-static/swagger-ui-bundle.js" in page.text
    script = httpx.get(f"{server.url}/docs-static/swagger-ui-bundle.js", timeout=10)
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
