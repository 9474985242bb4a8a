"""Plans, limits and flags: enforced over real HTTP (uvicorn) and in drafting, one clear line naming the fix."""

from __future__ import annotations

import pytest

from allixios import plans
from allixios.cli import main
from allixios.content import pipeline
from allixios.content.article_drafts import insert_article, pending_drafts
from allixios.content.drafting import Draft
from allixios.content.topics import TopicInput, add_topics
from allixios.db.engine import connect
from tests.api_support import client, tenants_api, truncate

DAY = "2026-11-05"


@pytest.fixture(scope="module")
def api(database_url):
    with tenants_api(database_url, "alpha", "beta") as world:
        yield world
    truncate(database_url)


def set_limits(url, tenant_id: str, **values) -> None:
    with connect(url) as conn:
        plans.set_limits(conn, tenant_id, [f"{k}={v}" for k, v in values.items()], [])


def unset_limits(url, tenant_id: str, *keys: str) -> None:
    with connect(url) as conn:
        plans.set_limits(conn, tenant_id, [], list(keys))


def test_seats_and_api_keys_stop_at_the_limit_with_a_403_naming_the_fix(api, database_url):
    server, a, b = api
    set_limits(database_url, a.tenant_id, seats=7, api_keys=8)  # what make_world already uses
    try:
        with client(server.url, a.keys["owner"]) as c, client(server.url, b.keys["owner"]) as cb:
            r = c.post("/v1/users", json={"email": "eighth@alpha.example", "role": "viewer"})
            assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
            body = r.json()
            assert body["code"] == "PLAN_LIMIT_EXCEEDED" and "limit of 7 seats" in body["detail"]
            assert "allixios tenants limits --set seats=N" in body["fix"]
            # a service user takes no seat; another tenant's seats are its own
            assert c.post("/v1/users", json={"email": "bot@alpha.example", "role": "viewer",
                                             "kind": "service"}).status_code == 201
            assert cb.post("/v1/users", json={"email": "eighth@beta.example", "role": "viewer"}).status_code == 201
            r = c.post("/v1/keys", json={"name": "one too many"})
            assert r.status_code == 403 and "limit of 8 live API keys" in r.json()["detail"]
            assert c.delete(f"/v1/keys/{a.key_ids['victim']}").status_code == 200  # a revoked key frees its place
            assert c.post("/v1/keys", json={"name": "replacement"}).status_code == 201
            # disabling frees a seat, enabling takes one again
            assert c.patch(f"/v1/users/{a.users['viewer']}", json={"disabled": True}).status_code == 200
            assert c.post("/v1/users", json={"email": "eighth@alpha.example", "role": "viewer"}).status_code == 201
            r = c.patch(f"/v1/users/{a.users['viewer']}", json={"disabled": False})
            assert r.status_code == 403 and r.json()["code"] == "PLAN_LIMIT_EXCEEDED"
    finally:
        unset_limits(database_url, a.tenant_id, "seats", "api_keys")


def test_api_calls_per_day_answer_429_per_tenant_and_counters_stay_apart(api, database_url):
    server, a, b = api
    set_limits(database_url, a.tenant_id, api_calls_per_day=3)
    set_limits(database_url, b.tenant_id, api_calls_per_day=100)
    try:
        with client(server.url, a.keys["editor"]) as c, client(server.url, b.keys["editor"]) as cb:
            assert [c.get("/v1/me").status_code for _ in range(3)] == [200, 200, 200]
            r = c.get("/v1/me")
            assert r.status_code == 429 and r.json()["code"] == "PLAN_LIMIT_EXCEEDED"
            assert "limit of 3 API calls per day (UTC)" in r.json()["detail"]
            assert "api_calls_per_day=N" in r.json()["fix"] and 0 < int(r.headers["Retry-After"]) <= 86400
            # beta is not touched by alpha's spent day, and sees only its own counter
            me = cb.get("/v1/me").json()
            used = {x["limit"]: x["used_today"] for x in me["plan"]["limits"]}
            assert used["api_calls_per_day"] == 1
        with connect(database_url) as conn:
            assert plans.used_today(conn, a.tenant_id, "api_calls_per_day") == 3  # refused calls are not counted
        unset_limits(database_url, a.tenant_id, "api_calls_per_day")
        with client(server.url, a.keys["editor"]) as c:
            assert c.get("/v1/me").status_code == 200
    finally:
        unset_limits(database_url, a.tenant_id, "api_calls_per_day")
        unset_limits(database_url, b.tenant_id, "api_calls_per_day")


def test_plan_defaults_apply_and_the_tenant_overrides_them(api, database_url):
    server, a, _ = api
    with connect(database_url) as conn:
        plans.set_plan(conn, a.tenant_id, "free")
        info = plans.describe(conn, a.tenant_id)
    try:
        limits = {x["limit"]: (x["value"], x["source"]) for x in info["limits"]}
        assert limits["seats"] == (2, "plan") and limits["api_requests_per_minute"] == (60, "plan")
        with client(server.url, a.keys["owner"]) as c:
            r = c.get("/v1/me")  # the free plan's per-minute limit reaches the existing rate-limit headers
            assert r.headers["RateLimit-Limit"] == "60"
            assert c.post("/v1/users", json={"email": "x@alpha.example"}).json()["code"] == "PLAN_LIMIT_EXCEEDED"
        set_limits(database_url, a.tenant_id, seats="none")
        with connect(database_url) as conn:
            limits = {x["limit"]: (x["value"], x["source"]) for x in plans.describe(conn, a.tenant_id)["limits"]}
        assert limits["seats"] == (None, "tenant")
    finally:
        with connect(database_url) as conn:
            plans.set_plan(conn, a.tenant_id, "self_hosted")
        unset_limits(database_url, a.tenant_id, "seats")


def test_articles_per_day_limit_drafting_before_any_llm_call(db):
    from allixios.tenants import add_niche, ensure_tenant

    with connect(db) as conn:
        tenant = ensure_tenant(conn, "acme")
        niche = add_niche(conn, tenant, "garden", "Garden", ["beds"], daily_quota=4)
        other = ensure_tenant(conn, "other")
        other_niche = add_niche(conn, other, "garden", "Garden", ["beds"], daily_quota=4)
        for n in (niche, other_niche):
            add_topics(conn, n, [TopicInput(f"Topic {i}", ("beds",), f"topic {i}", 50 + i) for i in range(4)],
                       source="cli")
        plans.set_limits(conn, tenant.id, ["articles_per_day=2"], [])
        conn.execute("UPDATE topics SET status = 'selected', partition_date = %s", (DAY,))
    with connect(db) as conn:
        part = pipeline.resolve_partition(conn, DAY, niche.partition_key)
        jobs = pending_drafts(conn, part)
        assert len(jobs) == 2  # only as many LLM calls as articles are left today
        held = conn.execute("SELECT count(*) FROM topics WHERE niche_id = %s AND status = 'selected' "
                            "AND failure_reason LIKE 'plan_limit:%%'", (niche.id,)).fetchone()[0]
        assert held == 2
        for i in range(2):
            assert insert_article(conn, part, jobs[i].topic_id, _draft(i), model="m", prompt_version=None, cost_usd=0,
                                  actor="t")
        with pytest.raises(plans.PlanLimitError, match="limit of 2 articles drafted per day") as exc:
            insert_article(conn, part, None, _draft(9), model="m", prompt_version=None, cost_usd=0, actor="t")
        assert "allixios tenants limits --set articles_per_day=N" in exc.value.one_line()
        assert conn.execute("SELECT count(*) FROM articles WHERE tenant_id = %s", (tenant.id,)).fetchone()[0] == 2
        assert pending_drafts(conn, part) == []
        # the other tenant's day is its own
        other_part = pipeline.resolve_partition(conn, DAY, other_niche.partition_key)
        assert len(pending_drafts(conn, other_part)) == 4


def test_flags_switch_translation_and_learned_routing(db):
    from allixios.content.translation import plan_translations
    from tests.locale_support import publish_sources, setup_tenant

    tenant, niche = setup_tenant(db)
    publish_sources(db, niche, ["Raised Beds for Beginners"])
    with connect(db) as conn:
        part = pipeline.resolve_partition(conn, DAY, niche.partition_key)
        assert plans.flag(conn, tenant.id, "translation") is None  # self_hosted: the feature's own default
        assert plan_translations(conn, part).targets == ["de", "fr"]
        plans.set_flags(conn, tenant.id, [], ["translation"], [])
        plan = plan_translations(conn, part)
        assert plan.targets == [] and plan.jobs == []
        plans.set_flags(conn, tenant.id, [], [], ["translation"])
        plans.set_plan(conn, tenant.id, "free")  # the free plan has no translation and no learned routing
        assert plan_translations(conn, part).targets == []
        assert plans.flag(conn, tenant.id, "learned_routing") is False
        plans.set_flags(conn, tenant.id, ["learned_routing", "translation"], [], [])  # the tenant's own flag wins
        assert plans.flag(conn, tenant.id, "learned_routing") is True
        assert plan_translations(conn, part).targets == ["de", "fr"]


def test_tenants_cli_shows_sets_and_refuses_with_one_line(sample_tenant, capsys):
    assert main(["tenants", "limits", "--set", "articles_per_day=20", "--set", "seats=none"]) == 0
    assert main(["tenants", "flags", "--disable", "translation"]) == 0
    assert main(["tenants", "plan", "pro"]) == 0
    out = capsys.readouterr().out
    assert "plan: pro" in out and "articles_per_day" in out and "no limit" in out and "off" in out
    for bad, expected in ((["tenants", "limits", "--set", "articles_per_day=lots"], "is not a whole number"),
                          (["tenants", "limits", "--set", "cpu=1"], "unknown limit 'cpu'"),
                          (["tenants", "flags", "--enable", "magic"], "unknown feature flag 'magic'"),
                          (["tenants", "plan", "platinum"], "unknown plan 'platinum'")):
        assert main(bad) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and expected in err and "— fix: " in err and "\n" not in err


def _draft(i: int) -> Draft:
    return Draft(f"Beds {i}", f"Beds {i}", "Meta.", f"beds-{i}", "Excerpt.", "Body.", ("beds",), "beds")
