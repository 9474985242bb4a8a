"""The API's cached plan inputs: reused within their second, re-read after it, never across tenants;
the quota is still read fresh under the niche's plan lock (two plans never share the last slot)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from allixios.ai import budgets
from allixios.ai.catalogue import load_catalogue
from allixios.automation.content_requests import PlanInputsCache, TopicRequest, create_request
from allixios.errors import ValidationError
from allixios.tenants import add_niche, ensure_tenant
from allixios.testing.catalogues import write_catalogue


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def catalogue(tmp_path, monkeypatch):
    monkeypatch.setenv("CHEAP_KEY", "x")
    deps = [{"id": "cheap", "model": "openai/cheap-model", "api_key_env": "CHEAP_KEY",
             "price": {"input": 1.0, "output": 2.0}, "quality_prior": 70, "typical_latency_ms": 4000}]
    return load_catalogue(write_catalogue(tmp_path / "models.yaml", {"writer": deps}))


@pytest.fixture
def world(conn):
    a, b = ensure_tenant(conn, "cache_a"), ensure_tenant(conn, "cache_b")
    na = add_niche(conn, a, "finance", "Finance", ["saving"], 1)
    nb = add_niche(conn, b, "finance", "Finance", ["saving"], 1)
    budgets.set_budget(conn, a.id, daily_usd=5.0)
    budgets.set_budget(conn, b.id, daily_usd=7.0)
    return a, na, b, nb


def test_history_inputs_are_reused_within_the_ttl_and_reread_after_it(conn, world, catalogue, tmp_path):
    a, na, _, _ = world
    clock = Clock()
    cache = PlanInputsCache(ttl_s=1.0, clock=clock)
    first = cache.get(conn, a, na, catalogue)
    assert first.budget_daily_limit == 5.0
    budgets.set_budget(conn, a.id, daily_usd=9.0)
    clock.t += 0.5
    assert cache.get(conn, a, na, catalogue) is first  # within its second: not read again
    clock.t += 0.6
    again = cache.get(conn, a, na, catalogue)
    assert again is not first and again.budget_daily_limit == 9.0  # expired: read again
    reloaded = load_catalogue(tmp_path / "models.yaml")  # the file changed: the API loads a new catalogue
    assert cache.get(conn, a, na, reloaded) is not again


def test_cached_inputs_never_cross_tenants(conn, world, catalogue):
    a, na, b, nb = world
    cache = PlanInputsCache(ttl_s=60.0, clock=Clock())
    assert cache.get(conn, a, na, catalogue).budget_daily_limit == 5.0
    assert cache.get(conn, b, nb, catalogue).budget_daily_limit == 7.0  # same niche slug, other tenant
    assert cache.get(conn, a, na, catalogue).budget_daily_limit == 5.0
    with pytest.raises(ValidationError):
        cache.get(conn, a, nb, catalogue)  # a niche of tenant b asked for with tenant a


def test_quota_is_read_fresh_under_the_lock_even_with_cached_inputs(conn, world, catalogue):
    a, na, _, _ = world
    cache = PlanInputsCache(ttl_s=60.0, clock=Clock())
    today = datetime.now(UTC).date()
    days = []
    for i in range(3):  # daily quota 1: one topic per day, though every plan reuses the same history
        plan = create_request(conn, a, na, [TopicRequest(f"Cached topic {i}")], catalogue=catalogue, priority=80,
                              actor="test", inputs_cache=cache)
        days.append(plan.assignments[0]["date"])
    assert days == [(today + timedelta(days=i)).isoformat() for i in range(3)]
    rows = conn.execute("SELECT day, topics FROM content_allocations WHERE niche_id = %s ORDER BY day",
                        (na.id,)).fetchall()
    assert [(d.isoformat(), n) for d, n in rows] == [(d, 1) for d in days]


def test_a_topic_already_selected_refuses_the_request_and_nothing_stays_written(conn, world, catalogue):
    a, na, _, _ = world
    create_request(conn, a, na, [TopicRequest("Taken topic")], catalogue=catalogue, priority=80, actor="test")
    conn.execute("UPDATE topics SET status = 'selected' WHERE tenant_id = %s", (a.id,))
    before = conn.execute("SELECT count(*), max(priority) FROM topics WHERE tenant_id = %s", (a.id,)).fetchone()
    with pytest.raises(ValidationError, match="already drafted or selected"):
        with conn.transaction():  # the API's request transaction: rolled back on the error
            create_request(conn, a, na, [TopicRequest("Fresh topic"), TopicRequest("taken topic")],
                           catalogue=catalogue, priority=95, actor="test", inputs_cache=PlanInputsCache())
    assert conn.execute("SELECT count(*), max(priority) FROM topics WHERE tenant_id = %s",
                        (a.id,)).fetchone() == before
    assert conn.execute("SELECT count(*) FROM content_requests WHERE tenant_id = %s", (a.id,)).fetchone()[0] == 1
