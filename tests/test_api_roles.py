"""Every endpoint x role: allowed, 403 for a role without the permission, 404 for another tenant's id."""

from __future__ import annotations

import uuid

import pytest

from allixios.identity.roles import ROLES, permissions
from tests.api_support import ServerThread, client, make_world, truncate


@pytest.fixture(scope="module")
def api(database_url):
    truncate(database_url)
    a = make_world(database_url, "alpha")
    b = make_world(database_url, "beta")
    from allixios.api.app import create_app

    with ServerThread(create_app(dispatch=False)) as server:
        with client(server.url, a.keys["owner"]) as c:
            r = c.post("/v1/content-requests", json={"niche": "finance", "topics": [{"title": "Alpha plan"}]})
            assert r.status_code == 202, r.text
            a.execution = r.json()["execution_plan"]["id"]
        with client(server.url, b.keys["owner"]) as c:
            b.execution = c.post("/v1/content-requests", json={"niche": "finance", "topics": [{"title": "Beta plan"}]}
                                 ).json()["execution_plan"]["id"]
        yield server, a, b


def _ops(w, n: str) -> list[tuple[str, str, dict | None, str]]:
    """(method, path, json body, permission) for world w; n makes bodies unique per call."""
    art = w.article_id
    return [
        ("GET", "/v1/system/health", None, "system:read"),
        ("GET", "/v1/metrics/performance", None, "executions:read"),
        ("GET", "/v1/users", None, "users:manage"),
        ("POST", "/v1/users", {"email": f"new-{n}@x.example", "role": "viewer"}, "users:manage"),
        ("PATCH", f"/v1/users/{w.users['viewer']}", {"role": "viewer"}, "users:manage"),
        ("GET", "/v1/keys", None, "keys:manage"),
        ("POST", "/v1/keys", {"name": f"k {n}"}, "keys:manage"),
        ("DELETE", f"/v1/keys/{w.key_ids['victim']}", None, "keys:manage"),
        ("POST", "/v1/content-requests", {"niche": "finance", "topics": [{"title": f"Topic {n}"}]}, "content:request"),
        ("GET", f"/v1/executions/{w.execution}", None, "executions:read"),
        ("POST", f"/v1/executions/{w.execution}/cancel", None, "executions:cancel"),
        ("GET", "/v1/articles", None, "articles:read"),
        ("GET", "/v1/articles/search?q=emergency&mode=text", None, "articles:read"),
        ("GET", f"/v1/articles/{art}", None, "articles:read"),
        ("POST", "/v1/articles", {"title": f"Human {n}", "content": "## A\n\nBody text."}, "articles:write"),
        ("PATCH", f"/v1/articles/{art}", {"excerpt": f"excerpt {n}"}, "articles:write"),
        ("GET", f"/v1/articles/{art}/versions", None, "articles:read"),
        ("GET", f"/v1/articles/{art}/diff?from=1&to=1", None, "articles:read"),
        ("POST", f"/v1/articles/{art}/revert", {"version": 1}, "articles:write"),
        ("POST", f"/v1/articles/{art}/lock", {"ttl_minutes": 1}, "articles:lock"),
        ("POST", f"/v1/articles/{art}/unlock", {}, "articles:lock"),
        ("GET", f"/v1/articles/{art}/seo", None, "articles:read"),
        ("GET", f"/v1/articles/{art}/collaborators", None, "articles:read"),
        ("DELETE", f"/v1/articles/{art}", None, "articles:delete"),
        ("POST", f"/v1/articles/{art}/restore", None, "articles:delete"),
        ("POST", f"/v1/articles/{art}/publish", None, "articles:publish"),
        ("POST", f"/v1/articles/{art}/unpublish", None, "articles:publish"),
        ("GET", "/v1/ai/models", None, "ai:read"),
        ("GET", "/v1/ai/providers", None, "ai:read"),
        ("GET", "/v1/ai/budget", None, "ai:read"),
        ("GET", "/v1/ai/usage", None, "ai:read"),
        ("POST", "/v1/ai/estimate", {"niche": "finance", "topics": [{"title": "Estimate me"}]}, "ai:read"),
        ("GET", "/v1/ai/routing", None, "ai:read"),
        ("GET", "/v1/ai/circuits", None, "ai:read"),
        ("POST", "/v1/ai/switch", {"from": "openai-gpt-4o-mini", "to": "offline-writer"}, "ai:manage"),
        ("PUT", "/v1/ai/failover/writer", {"order": ["offline-writer"]}, "ai:manage"),
        ("DELETE", "/v1/ai/failover/writer", None, "ai:manage"),
        ("GET", "/v1/analytics/kpis", None, "analytics:read"),
        ("GET", f"/v1/analytics/articles/{art}/performance", None, "analytics:read"),
        ("POST", "/v1/affiliate/postback", {"order_id": f"P-{n}", "status": "approved", "commission": 1.5,
                                            "currency": "USD"}, "analytics:write"),
    ]


def _send(c, method, path, body, **headers):
    if method == "PATCH" and "/articles/" in path:
        etag = c.get(path.split("?")[0]).headers.get("etag") if c.get(path).status_code == 200 else '"v1-x"'
        headers["If-Match"] = etag or '"v1-x"'
    return c.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize("role", [r for r in ROLES if r != "owner"] + ["owner"])
def test_every_endpoint_for_role(api, role):
    server, a, _ = api
    allowed = permissions(role)
    failures = []
    with client(server.url, a.keys[role]) as c:
        for method, path, body, perm in _ops(a, role):
            r = _send(c, method, path, body)
            assert r.status_code < 500, f"{method} {path} as {role}: {r.status_code} {r.text[:300]}"
            if perm in allowed:
                if r.status_code in (401, 403):
                    failures.append(f"{method} {path}: {role} should be allowed, got {r.status_code} {r.text[:200]}")
            elif r.status_code != 403 or r.json()["code"] != "AUTHORIZATION_ERROR":
                failures.append(f"{method} {path}: {role} should get 403, got {r.status_code}")
    assert not failures, "\n".join(failures)


def test_other_tenants_ids_answer_404(api):
    server, a, b = api
    with client(server.url, a.keys["owner"]) as c:
        for method, path, body, _ in _ops(b, "cross"):
            if not any(x in path for x in (b.article_id, b.execution, b.users["viewer"], b.key_ids["viewer"])):
                continue
            r = c.request(method, path, json=body, headers={"If-Match": '"v1-x"'})
            assert r.status_code == 404, f"{method} {path}: {r.status_code} {r.text[:200]}"
            assert r.json()["code"] == "RESOURCE_NOT_FOUND"
        # and unknown ids of nobody look the same
        assert c.get(f"/v1/articles/{uuid.uuid4()}").status_code == 404
        assert c.get("/v1/articles/not-a-uuid").status_code == 404


def test_writes_are_audited_with_the_authenticated_actor(api, database_url):
    from allixios.db.engine import connect

    server, a, _ = api
    with client(server.url, a.keys["editor"]) as c:
        r = c.post("/v1/articles", json={"title": "Audited article", "content": "## Hi\n\nText."})
        assert r.status_code == 201, r.text
        art = r.json()["id"]
    with connect(database_url) as conn:
        actors = conn.execute("SELECT actor, action FROM audit_log WHERE entity_id = %s", (art,)).fetchall()
        emails = conn.execute("SELECT count(*) FROM audit_log WHERE details::text LIKE '%%@alpha.example%%'").fetchone()[0]
    assert (f"user:{a.users['editor']}", "article.create") in actors
    assert emails == 0  # no personal data in the audit log
