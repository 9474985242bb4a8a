"""AI management, completed (issue 17), over real HTTP to the local OpenAI-compatible server and the
real database: rate limits shared across processes, cost caps, in-flight duplicates, cheaper
deployments after a budget refusal, load balancing, switches and stored failover orders."""

import json
import os
import subprocess
import sys
import textwrap
import uuid

import pytest

from allixios.ai import budgets
from allixios.ai.catalogue import load_catalogue
from allixios.ai.client import CompletionRequest, LLMClient
from allixios.db.engine import connect, fetch_dicts
from allixios.errors import ConfigError
from allixios.testing.catalogues import local_deployment, write_catalogue
from allixios.testing.llm_server import LocalLLMServer

KEY = "sk-test-17a-rate-limits-0042"


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("ALLIXIOS_LOCAL_LLM_KEY", KEY)
    with LocalLLMServer(required_key=KEY) as s:
        yield s


def request(tenant, request_id: str, task: str = "writer", **kw) -> CompletionRequest:
    return CompletionRequest(task=task, messages=[{"role": "user", "content": f"write about {request_id}"}],
                             tenant_id=tenant.id, request_id=request_id, **kw)


def rows(database_url, sql: str, params=()) -> list[dict]:
    with connect(database_url) as conn:
        return fetch_dicts(conn, sql, params)


# -- 1. rate limits ------------------------------------------------------------------------------

CHILD = textwrap.dedent("""
    import json, sys, uuid
    from allixios.ai.catalogue import load_catalogue
    from allixios.ai.client import CompletionRequest, LLMClient
    path, tenant, prefix, n = sys.argv[1], uuid.UUID(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    client = LLMClient(load_catalogue(path))
    out = []
    for i in range(n):
        r = client.complete_sync(CompletionRequest(task="writer", messages=[{"role": "user", "content": f"hi {i}"}],
                                                   tenant_id=tenant, request_id=f"{prefix}-{i}", json_response=False))
        out.append([r.status, r.deployment_id])
    print(json.dumps(out))
""")


def test_rpm_is_shared_across_two_processes(server, tmp_path, sample_tenant, database_url):
    """rpm 2 with a 1-second window: two processes making 3 calls each never get more than 2 calls
    into one window; every call goes through (the rest wait for the next window), waits recorded."""
    path = write_catalogue(tmp_path / "models.yaml", {"writer": [local_deployment("rl", server.url, rpm=2, timeout_s=30)]},
                           rate_window_s=1)
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(sample_tenant.id), f"p{k}", "3"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}) for k in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
        assert json.loads(out.strip().splitlines()[-1]) == [["success", "rl"]] * 3
    windows = rows(database_url, "SELECT requests FROM ai_rate_windows WHERE deployment_id = 'rl' AND window_kind = 'minute'")
    assert sum(w["requests"] for w in windows) == 6
    assert max(w["requests"] for w in windows) <= 2 and len(windows) >= 3
    assert len(server.requests_for("rl")) == 6
    ledger = rows(database_url, "SELECT status, rate_wait_ms FROM ai_usage WHERE deployment_id = 'rl'")
    assert len(ledger) == 6 and all(r["status"] == "success" for r in ledger)


def test_a_full_window_is_waited_for_and_the_wait_is_in_the_ledger(server, tmp_path, sample_tenant, database_url):
    """The current and the next 1-second windows are full (another process's calls): the call waits
    for the one after (whatever the clock does between filling and calling), then goes through."""
    path = write_catalogue(tmp_path / "models.yaml", {"writer": [local_deployment("w", server.url, rpm=2)]},
                           rate_window_s=1)
    waits: list[float] = []

    async def sleep(s: float) -> None:
        import asyncio

        waits.append(s)
        await asyncio.sleep(s)

    client = LLMClient(load_catalogue(path), database_url, sleep=sleep)
    assert client.complete_sync(request(sample_tenant, "warm-up", json_response=False)).ok  # litellm imported
    with connect(database_url) as conn:
        conn.execute("""INSERT INTO ai_rate_windows (deployment_id, window_kind, window_start, requests)
                        SELECT 'w', 'minute', to_timestamp(floor(extract(epoch FROM clock_timestamp())) + k), 2
                        FROM generate_series(0, 2) AS k
                        ON CONFLICT (deployment_id, window_kind, window_start) DO UPDATE SET requests = 2""")
    result = client.complete_sync(request(sample_tenant, "wait-1", json_response=False))
    assert result.ok and waits and len(server.requests_for("w")) == 2
    row = rows(database_url, "SELECT rate_wait_ms, rate_limited_on FROM ai_usage WHERE request_id = 'wait-1'")[0]
    assert row["rate_wait_ms"] >= int(waits[0] * 1000) > 0 and row["rate_limited_on"] == ["w"]


def test_full_window_moves_to_the_next_deployment(server, tmp_path, sample_tenant, database_url):
    a = local_deployment("a", server.url, price_in=1.0, rpm=1)
    b = local_deployment("b", server.url, price_in=5.0, price_out=9.0)
    path = write_catalogue(tmp_path / "models.yaml", {"writer": [a, b]}, rate_window_s=3600, balance_within=0)
    client = LLMClient(load_catalogue(path), database_url)
    results = [client.complete_sync(request(sample_tenant, f"mv-{i}")) for i in range(3)]
    assert [r.deployment_id for r in results] == ["a", "b", "b"]
    assert len(server.requests_for("a")) == 1 and len(server.requests_for("b")) == 2
    moved = rows(database_url, "SELECT rate_limited_on, rate_wait_ms FROM ai_usage WHERE deployment_id = 'b'")
    assert [r["rate_limited_on"] for r in moved] == [["a"], ["a"]] and all(r["rate_wait_ms"] == 0 for r in moved)


def test_tokens_per_day_exhausted_is_one_clear_ledger_row(server, tmp_path, sample_tenant, database_url):
    path = write_catalogue(tmp_path / "models.yaml", {"writer": [local_deployment("d", server.url, rpd=1)]},
                           max_retry_after_s=5)
    client = LLMClient(load_catalogue(path), database_url)
    assert client.complete_sync(request(sample_tenant, "day-1")).ok
    second = client.complete_sync(request(sample_tenant, "day-2"))
    assert second.status == "error" and second.error_class == "RateLimited"
    assert "rpd 1 of d" in second.error_message and "max_retry_after_s" in second.error_message
    assert len(server.requests_for("d")) == 1  # the refused call was never made
    assert [r["error_class"] for r in rows(database_url, "SELECT error_class FROM ai_usage WHERE request_id = 'day-2'")] \
        == ["RateLimited"]


def test_limits_of_zero_are_refused_with_the_fix(tmp_path, server):
    path = write_catalogue(tmp_path / "models.yaml", {"writer": [local_deployment("z", server.url, tpm=0)]})
    with pytest.raises(ConfigError) as err:
        load_catalogue(path)
    line = err.value.one_line()
    assert "tpm: 0, so no call could ever be made" in line and "remove tpm for no limit" in line
    out = subprocess.run([sys.executable, "-m", "allixios.cli", "ai", "models"], capture_output=True, text=True,
                         env={**os.environ, "ALLIXIOS_MODELS_FILE": str(path)}, timeout=120)
    assert out.returncode == 2 and "tpm: 0" in out.stderr and "fix:" in out.stderr


# -- 2. cost caps --------------------------------------------------------------------------------

def test_topic_cost_cap_stops_the_call_that_would_pass_it(server, tmp_path, sample_tenant, database_url):
    path = write_catalogue(tmp_path / "models.yaml", {"writer": [local_deployment("c", server.url, price_in=100, price_out=100)]})
    client = LLMClient(load_catalogue(path), database_url)
    topic = uuid.uuid4()
    probe = client.estimate_cost(request(sample_tenant, "cap-probe", expected_output_tokens=50))
    kw = {"topic_id": topic, "expected_output_tokens": 50, "json_response": False}
    first = client.complete_sync(request(sample_tenant, "cap-1", topic_cap_usd=probe.reserve_usd * 1.01, **kw))
    assert first.ok and 0 < first.cost_usd < probe.reserve_usd
    # what the topic spent + the next call's worst case passes a cap of worst case + half that spend
    second = client.complete_sync(request(sample_tenant, "cap-2", topic_cap_usd=probe.reserve_usd + first.cost_usd / 2, **kw))
    assert second.status == "skipped_budget" and second.error_class == "CostCapExceeded"
    assert "topic cost cap" in second.error_message
    assert len(server.requests_for("c")) == 1
    recorded = rows(database_url, "SELECT status, error_class, error_message FROM ai_usage WHERE request_id = 'cap-2'")
    assert [(r["status"], r["error_class"]) for r in recorded] == [("skipped_budget", "CostCapExceeded")]


def test_content_request_cap_spans_its_calls(server, tmp_path, sample_tenant, database_url):
    server.latency_ms = 400  # the five calls are in flight together: their worst cases count against the cap
    path = write_catalogue(tmp_path / "models.yaml", {"writer": [local_deployment("c", server.url, price_in=100, price_out=100)]})
    client = LLMClient(load_catalogue(path), database_url)
    probe = client.estimate_cost(request(sample_tenant, "cr-probe", expected_output_tokens=50))
    cr = uuid.uuid4()
    kw = {"content_request_id": cr, "request_cap_usd": probe.reserve_usd * 2.5, "expected_output_tokens": 50,
          "json_response": False}
    results = client.complete_many_sync([request(sample_tenant, f"cr-{i}", topic_id=uuid.uuid4(), **kw) for i in range(5)],
                                        concurrency=5)
    ok = [r for r in results if r.ok]
    assert len(ok) >= 2 and len(ok) < 5
    assert all(r.error_class == "CostCapExceeded" and "content request cost cap" in r.error_message
               for r in results if not r.ok)
    assert len(server.requests_for("c")) == len(ok)
    spent = rows(database_url, "SELECT sum(cost_usd) AS s FROM ai_usage WHERE content_request_id = %s", (cr,))[0]["s"]
    assert float(spent) <= probe.reserve_usd * 2.5


# -- 3. in-flight duplicates, embeddings in the ledger ------------------------------------------

def test_simultaneous_calls_with_one_request_id_pay_once(server, tmp_path, sample_tenant, database_url):
    server.latency_ms = 300
    path = write_catalogue(tmp_path / "models.yaml", {"writer": [local_deployment("s", server.url)]})
    client = LLMClient(load_catalogue(path), database_url)
    results = client.complete_many_sync([request(sample_tenant, "same-id", json_response=False) for _ in range(4)],
                                        concurrency=4)
    assert all(r.ok for r in results) and len({r.text for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert len(server.requests_for("s")) == 1
    assert len(rows(database_url, "SELECT 1 FROM ai_usage WHERE request_id = 'same-id'")) == 1


# -- 4. a budget refusal tries cheaper deployments --------------------------------------------

def test_budget_refusal_moves_to_a_cheaper_deployment_and_says_so(server, tmp_path, sample_tenant, database_url):
    good = local_deployment("good", server.url, price_in=2, price_out=2, quality=99)  # best quality per cost
    cheap = local_deployment("cheap", server.url, price_in=1, price_out=1, quality=20)
    path = write_catalogue(tmp_path / "models.yaml", {"writer": [good, cheap]}, balance_within=0)
    catalogue = load_catalogue(path)
    client = LLMClient(catalogue, database_url)
    req = request(sample_tenant, "bud-1", expected_output_tokens=100, json_response=False)
    from allixios.ai.selection import rank

    ranking = rank(catalogue, "writer", req.messages, expected_output_tokens=100)
    assert ranking.chosen.deployment.id == "good"
    worst = {c.deployment.id: c.estimate.reserve_usd for c in ranking.ranked}
    with connect(database_url) as conn:
        budgets.set_budget(conn, sample_tenant.id, daily_usd=(worst["good"] + worst["cheap"]) / 2)
    result = client.complete_sync(req)
    assert result.ok and result.deployment_id == "cheap"
    assert len(server.requests_for("good")) == 0
    reasoning = rows(database_url, "SELECT model_id, reasoning FROM model_selections ORDER BY id DESC LIMIT 1")[0]
    assert reasoning["model_id"] == "cheap"
    assert "good" in reasoning["reasoning"] and "does not fit" in reasoning["reasoning"]


def test_refusal_at_admission_tries_cheaper_ones(server, tmp_path, sample_tenant, database_url):
    """A refusal the selection could not foresee (the cost cap) moves on to a cheaper deployment."""
    good = local_deployment("good", server.url, price_in=2, price_out=2, quality=99)
    cheap = local_deployment("cheap", server.url, price_in=1, price_out=1, quality=20)
    path = write_catalogue(tmp_path / "models.yaml", {"writer": [good, cheap]}, balance_within=0)
    client = LLMClient(load_catalogue(path), database_url)
    from allixios.ai.selection import rank

    req = request(sample_tenant, "adm-1", expected_output_tokens=100, json_response=False, topic_id=uuid.uuid4())
    worst = {c.deployment.id: c.estimate.reserve_usd for c in rank(client.catalogue, "writer", req.messages,
                                                                   expected_output_tokens=100).ranked}
    req.topic_cap_usd = (worst["good"] + worst["cheap"]) / 2
    result = client.complete_sync(req)
    assert result.ok and result.deployment_id == "cheap"
    ledger = rows(database_url, "SELECT deployment_id, status, error_class FROM ai_usage WHERE request_id = 'adm-1' ORDER BY attempt")
    assert [(r["deployment_id"], r["status"], r["error_class"]) for r in ledger] == [
        ("good", "skipped_budget", "CostCapExceeded"), ("cheap", "success", None)]
    reasoning = rows(database_url, "SELECT model_id, reasoning FROM model_selections ORDER BY id DESC LIMIT 1")[0]
    assert reasoning["model_id"] == "cheap" and "trying cheaper cheap" in reasoning["reasoning"]


# -- 5. load balancing ---------------------------------------------------------------------------

def test_traffic_is_spread_over_deployments_of_similar_value(server, tmp_path, sample_tenant, database_url):
    deps = [local_deployment(n, server.url) for n in ("x", "y", "z")]
    deps[2]["rpm"] = 3  # z takes at most 3 in the (long) window
    path = write_catalogue(tmp_path / "models.yaml", {"writer": deps}, rate_window_s=3600, balance_within=0.1)
    client = LLMClient(load_catalogue(path), database_url)
    results = client.complete_many_sync([request(sample_tenant, f"lb-{i}", json_response=False) for i in range(30)],
                                        concurrency=4)
    assert all(r.ok for r in results)
    counts = {n: len(server.requests_for(n)) for n in ("x", "y", "z")}
    assert sum(counts.values()) == 30
    assert counts["x"] >= 5 and counts["y"] >= 5 and 1 <= counts["z"] <= 3
    reasoning = rows(database_url, "SELECT reasoning FROM model_selections LIMIT 1")[0]["reasoning"]
    assert "balanced among x" in reasoning


# -- 6. switch, circuits, stored failover order (CLI and API) ------------------------------------

def ai_cli(*args: str, models: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "allixios.cli", "ai", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                                            "ALLIXIOS_MODELS_FILE": models})


def test_switch_failover_order_and_circuits_from_the_cli(server, tmp_path, sample_tenant, database_url):
    a = local_deployment("a", server.url, price_in=1.0)
    b = local_deployment("b", server.url, price_in=3.0, price_out=6.0)
    c = local_deployment("c", server.url, price_in=4.0, price_out=8.0)
    path = str(write_catalogue(tmp_path / "models.yaml", {"writer": [a, b, c], "judge": [dict(a, id="j", model="openai/j")]},
                               balance_within=0))
    client = LLMClient(load_catalogue(path), database_url)
    assert client.complete_sync(request(sample_tenant, "sw-0")).deployment_id == "a"

    out = ai_cli("switch", "--from", "a", "--to", "b", "--actor", "ops:alice", "--reason", "a is degraded", models=path)
    assert out.returncode == 0, out.stderr
    assert "switched writer: a -> b" in out.stdout
    switched = client.complete_sync(request(sample_tenant, "sw-1"))
    assert switched.deployment_id == "b" and "a (drained to b by ops:alice)" in switched.selection["reasoning"]
    assert len(server.requests_for("a")) == 1  # nothing more went to a

    bad = ai_cli("switch", "--from", "a", "--to", "j", models=path)
    assert bad.returncode == 2 and "a serves 'writer' but j serves 'judge'" in bad.stderr and "fix:" in bad.stderr
    assert ai_cli("switch", "--undo", "a", "--actor", "ops:alice", models=path).returncode == 0
    assert client.complete_sync(request(sample_tenant, "sw-2")).deployment_id == "a"

    out = ai_cli("failover", "set", "writer", "c,a", "--actor", "ops:bob", models=path)
    assert out.returncode == 0 and "c -> a" in out.stdout, out.stderr
    ordered = client.complete_sync(request(sample_tenant, "sw-3"))
    assert ordered.deployment_id == "c" and "failover order c, a stored by ops:bob" in ordered.selection["reasoning"]
    bad = ai_cli("failover", "set", "writer", "c,zz", models=path)
    assert bad.returncode == 2 and "zz not in it" in bad.stderr
    assert "writer" in ai_cli("failover", "show", models=path).stdout
    assert ai_cli("failover", "clear", "writer", "--actor", "ops:bob", models=path).returncode == 0

    server.add_fault("server_error", model="a")
    for i in range(2):  # threshold 3, 2 attempts per deployment: the circuit opens
        client.complete_sync(request(sample_tenant, f"sw-fail-{i}"))
    status = json.loads(ai_cli("circuit", "status", "--json", models=path).stdout)
    assert {r["deployment"]: r["state"] for r in status}["a"] == "open"
    server.clear_faults()
    assert ai_cli("circuit", "reset", "a", "--actor", "ops:carol", models=path).returncode == 0
    assert {r["deployment"]: r["state"] for r in json.loads(ai_cli("circuit", "status", "--json", models=path).stdout)}["a"] \
        == "closed"
    audit = rows(database_url, "SELECT actor, action, entity_id FROM audit_log WHERE entity_type = 'ai_routing' ORDER BY id")
    assert [(r["actor"], r["action"], r["entity_id"]) for r in audit] == [
        ("ops:alice", "ai.switch", "a"), ("ops:alice", "ai.switch_undone", "a"), ("ops:bob", "ai.failover_set", "writer"),
        ("ops:bob", "ai.failover_cleared", "writer"), ("ops:carol", "ai.circuit_reset", "a")]

    models = json.loads(ai_cli("models", "--json", models=path).stdout)
    row = next(r for r in models if r["deployment"] == "a")
    assert 0 < row["reliability_7d"] < 1 and row["usd_per_request"] > 0


def test_switch_and_failover_through_the_api_are_the_tenants_own(server, tmp_path, database_url, monkeypatch):
    from tests.api_support import ServerThread, client, make_world, truncate

    a = local_deployment("a", server.url, price_in=1.0)
    b = local_deployment("b", server.url, price_in=3.0, price_out=6.0)
    path = write_catalogue(tmp_path / "models.yaml", {"writer": [a, b]}, balance_within=0)
    monkeypatch.setenv("ALLIXIOS_MODELS_FILE", str(path))
    truncate(database_url)
    alpha, beta = make_world(database_url, "alpha"), make_world(database_url, "beta")
    from allixios.api.app import create_app

    with ServerThread(create_app(dispatch=False)) as api:
        with client(api.url, alpha.keys["editor"]) as c:
            assert c.post("/v1/ai/switch", json={"from": "a", "to": "b"}).status_code == 403
        with client(api.url, alpha.keys["admin"]) as c:
            r = c.post("/v1/ai/switch", json={"from": "a", "to": "b", "reason": "test"})
            assert r.status_code == 200, r.text
            assert r.json()["to"] == "b"
            bad = c.put("/v1/ai/failover/writer", json={"order": ["b", "nope"]})
            assert bad.status_code == 422 and "nope not in it" in bad.text
            assert c.get("/v1/ai/routing").json()["items"][0]["scope"] == "tenant"
            assert {i["deployment"] for i in c.get("/v1/ai/circuits").json()["items"]} == {"a", "b"}
    llm = LLMClient(load_catalogue(path), database_url)
    assert llm.complete_sync(CompletionRequest(task="writer", messages=[{"role": "user", "content": "x"}],
                                               tenant_id=uuid.UUID(alpha.tenant_id), request_id="api-a")).deployment_id == "b"
    # beta's calls are not routed by alpha's switch
    assert llm.complete_sync(CompletionRequest(task="writer", messages=[{"role": "user", "content": "x"}],
                                               tenant_id=uuid.UUID(beta.tenant_id), request_id="api-b")).deployment_id == "a"
    audit = rows(database_url, "SELECT tenant_id::text, actor, action FROM audit_log WHERE entity_type = 'ai_routing'")
    assert audit == [{"tenant_id": alpha.tenant_id, "actor": f"user:{alpha.users['admin']}", "action": "ai.switch"}]


# -- 7. routing that learns from money ------------------------------------------------------------

@pytest.mark.slow
def test_learned_routing_follows_revenue_from_the_roi_mart(server, db, tmp_path):
    """Articles of lr-rich earn far more than lr-poor's in the niche (real dbt builds the ROI mart
    from landed revenue rows); stand-in articles earn most but are never evidence; lr-new has no
    articles and is still tried (exploration)."""
    from datetime import date, timedelta

    from allixios.ai import learned_routing
    from resources.dbt import dbt_environment, dbt_executable, project_dir
    from tests.analytics_support import drop_dbt_relations, tenant_with_articles

    with connect(db) as conn:
        drop_dbt_relations(conn)
        tenant, articles = tenant_with_articles(conn, "earner", 12, date(2026, 11, 1))
        niche = articles[0]["niche_id"]
        conn.execute("UPDATE articles SET niche_id = %s WHERE tenant_id = %s", (niche, tenant.id))
        plan = [("lr-rich", 5.0)] * 4 + [("lr-poor", 0.1)] * 4 + [("offline/writer", 100.0)] * 4
        for art, (model, daily) in zip(articles, plan, strict=True):
            conn.execute("UPDATE articles SET ai_model_used = %s, prompt_version = 'draft-v1' WHERE id = %s",
                         (model, art["id"]))
            conn.execute("""INSERT INTO ai_usage (tenant_id, article_id, task, model, deployment_id, provider, request_id,
                                                  cost_usd, status)
                            VALUES (%s, %s, 'writer', %s, %s, 'openai', %s, 0.05, 'success')""",
                         (tenant.id, art["id"], model, model, f"lr:{art['id']}"))
            for d in range(8):
                day = date(2026, 11, 2) + timedelta(days=d)
                conn.execute("""INSERT INTO raw.revenue_events (event_id, event_ts, event_date, tenant_id, article_id, source,
                                                               amount, currency, amount_usd, source_file)
                                VALUES (%s, %s, %s, %s, %s, 'ads', %s, 'USD', %s, 'test')""",
                             (f"{art['id']}:{d}", f"{day}T12:00:00Z", day, tenant.id, art["id"], daily / 8, daily / 8))
    target = tmp_path / "target"
    done = subprocess.run(
        [dbt_executable(), "build", "--project-dir", str(project_dir()), "--profiles-dir", str(project_dir()),
         "--target-path", str(target), "--log-path", str(target), "--select", "+mart_ai_cost_roi",
         "--indirect-selection", "cautious"], env=dbt_environment(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:]

    deps = [local_deployment(n, server.url) for n in ("lr-rich", "lr-poor", "lr-new")]
    stand_in = {"id": "offline-writer", "model": "offline/writer", "stand_in": True, "price": {"input": 0.05, "output": 0.2}}
    path = write_catalogue(tmp_path / "models.yaml", {"writer": [*deps, stand_in]}, learned_routing=True,
                           learned_min_days=7)
    catalogue = load_catalogue(path)
    with connect(db) as conn:
        ev = learned_routing.evidence(conn, tenant.id, niche, catalogue.deployments("writer"), prompt_version="draft-v1")
    assert {k: a.n for k, a in ev.arms.items()} == {"lr-rich": 4, "lr-poor": 4} and ev.excluded_stand_in == 4
    assert ev.arms["lr-rich"].mean == pytest.approx(5.0 - 0.05) and ev.arms["lr-poor"].mean == pytest.approx(0.1 - 0.05)

    client = LLMClient(catalogue, db)
    results = client.complete_many_sync(
        [CompletionRequest(task="writer", messages=[{"role": "user", "content": f"article {i}"}], tenant_id=tenant.id,
                           request_id=f"learn-{i}", niche_id=niche, prompt_version="draft-v1", json_response=False)
         for i in range(40)], concurrency=4)
    picks = {n: sum(r.deployment_id == n for r in results) for n in ("lr-rich", "lr-poor", "lr-new")}
    assert all(r.ok for r in results) and sum(picks.values()) == 40
    assert picks["lr-rich"] > picks["lr-new"] >= 1 and picks["lr-rich"] > picks["lr-poor"]
    reasoning = rows(db, "SELECT reasoning FROM model_selections ORDER BY id LIMIT 1")[0]["reasoning"]
    assert "learned routing (Thompson sampling on net revenue per article)" in reasoning
    assert "lr-rich n=4" in reasoning and "lr-new n=0 (prior only: exploring)" in reasoning
    assert "4 stand-in article(s) excluded" in reasoning


def test_query_embeddings_for_search_are_in_the_ledger(server, tmp_path, sample_tenant, database_url, monkeypatch):
    from allixios.editorial.search import search_articles

    emb = local_deployment("emb", server.url, model="local-embedding", price_in=0.5, price_out=0, dimension=384)
    monkeypatch.setenv("ALLIXIOS_MODELS_FILE", str(write_catalogue(tmp_path / "models.yaml", {"embedder": [emb]})))
    with connect(database_url) as conn:
        search_articles(conn, sample_tenant, "tomatoes on a balcony", mode="semantic")
        search_articles(conn, sample_tenant, "tomatoes on a balcony", mode="semantic")
    recorded = rows(database_url, """SELECT tenant_id, deployment_id, status, tokens_in, cost_usd FROM ai_usage
                                     WHERE request_id LIKE 'search-query:%%'""")
    assert len(recorded) == 2 == len(server.requests_for(endpoint="embeddings"))
    assert all(r["tenant_id"] == sample_tenant.id and r["deployment_id"] == "emb" and r["status"] == "success"
               and r["tokens_in"] > 0 and r["cost_usd"] > 0 for r in recorded)


def test_model_fields_max_tokens_defaults_and_languages(server, tmp_path, sample_tenant, database_url):
    en = local_deployment("en-only", server.url, price_in=0.5, languages=["en"], content_types=["article"],
                          max_tokens=64, default_params={"temperature": 0.3})
    anyl = local_deployment("any-lang", server.url, price_in=2.0)
    path = write_catalogue(tmp_path / "models.yaml", {"writer": [en, anyl]})
    catalogue = load_catalogue(path)
    d = catalogue.deployment("en-only")
    assert (d.max_tokens, d.languages, d.content_types, dict(d.default_params)) == (64, ("en",), ("article",),
                                                                                    {"temperature": 0.3})
    client = LLMClient(catalogue, database_url)
    first = client.complete_sync(request(sample_tenant, "mf-en", language="en-GB", json_response=False))
    assert first.deployment_id == "en-only"
    sent = server.requests_for("en-only")[0].body
    assert sent["max_tokens"] == 64 and sent["temperature"] == 0.3  # capped at the model's limit, defaults sent
    german = client.complete_sync(request(sample_tenant, "mf-de", language="de", json_response=False))
    assert german.deployment_id == "any-lang" and "en-only (language de not in en)" in german.selection["reasoning"]
    faq = client.complete_sync(request(sample_tenant, "mf-faq", content_type="faq", json_response=False))
    assert faq.deployment_id == "any-lang"
    for bad, fix in (({"default_params": {"max_tokens": 5}}, "default_params"), ({"weight": 0}, "is not positive"),
                     ({"rpd": 1.5}, "whole number")):
        write_catalogue(tmp_path / "bad.yaml", {"writer": [dict(anyl, **bad)]})
        with pytest.raises(ConfigError, match=fix):
            load_catalogue(tmp_path / "bad.yaml")


# -- 8. fine-tuning datasets ----------------------------------------------------------------------

def test_finetune_export_takes_the_best_real_articles_with_their_prompts(sample_tenant, database_url, tmp_path):
    with connect(database_url) as conn:
        niche_id, niche_slug = conn.execute("SELECT id, slug FROM niches WHERE tenant_id = %s ORDER BY slug LIMIT 1",
                                            (sample_tenant.id,)).fetchone()
        made = []
        for i, (model, quality) in enumerate([("openai/gpt-4o-mini", 92), ("openai/gpt-4o-mini", 85),
                                              ("offline/writer", 99), ("openai/gpt-4o-mini", 60)]):
            topic = conn.execute("""INSERT INTO topics (tenant_id, niche_id, title, target_keyphrase, keywords)
                                    VALUES (%s, %s, %s, %s, %s) RETURNING id""",
                                 (sample_tenant.id, niche_id, f"Topic {i}", f"keyphrase {i}", ["k"])).fetchone()[0]
            conn.execute("""INSERT INTO articles (tenant_id, niche_id, topic_id, title, slug, content, status, ai_generated,
                                                  ai_model_used, prompt_version, content_quality_score)
                            VALUES (%s, %s, %s, %s, %s, 'body', 'published', true, %s, 'draft-v1', %s)""",
                         (sample_tenant.id, niche_id, topic, f"Article {i}", f"ft-article-{i}", model, quality))
            conn.execute("""INSERT INTO ai_usage (tenant_id, topic_id, task, model, deployment_id, provider, request_id,
                                                  status, response_text) VALUES (%s, %s, 'writer', %s, %s, 'openai', %s,
                                                  'success', %s)""",
                         (sample_tenant.id, topic, model, model, f"draft:{topic}", json.dumps({"title": f"Answer {i}"})))
            made.append(topic)
    out = tmp_path / "ft.jsonl"
    done = subprocess.run([sys.executable, "-m", "allixios.cli", "ai", "finetune", "export", "--tenant", "sample",
                           "--niche", niche_slug, "--out", str(out), "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["exported"] == 2
    assert summary["excluded"] == {"written by an offline stand-in": 1, "quality below 80": 1}
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [json.loads(x["messages"][-1]["content"])["title"] for x in lines] == ["Answer 0", "Answer 1"]
    assert all([m["role"] for m in x["messages"]][-1] == "assistant" and x["messages"][0]["role"] == "system"
               for x in lines)
    assert "Topic 0" in lines[0]["messages"][1]["content"]
