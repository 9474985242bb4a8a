"""Budgets and costs over real HTTP: reservations in PostgreSQL hold across concurrent processes, the
ledger has every call exactly once, and ledger costs are tokens x catalogue (or litellm) prices."""

import json
import math
import os
import subprocess
import sys
import textwrap

import pytest
import yaml

from allixios.ai import budgets
from allixios.ai.catalogue import load_catalogue
from allixios.ai.client import CompletionRequest, LLMClient
from allixios.ai.costs import estimate_cost
from allixios.db.engine import connect, fetch_dicts
from allixios.errors import ValidationError
from allixios.testing.catalogues import local_deployment, write_catalogue
from allixios.testing.llm_server import LocalLLMServer

ANSWER = json.dumps({"title": "Fixed answer", "body": "x" * 140})  # 160 characters -> 40 completion tokens


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("ALLIXIOS_LOCAL_LLM_KEY", "local-test-key")
    with LocalLLMServer(latency_ms=20, responder=lambda messages, model: ANSWER) as s:
        yield s


@pytest.fixture
def catalogue(server, tmp_path):
    a = local_deployment("a", server.url, price_in=100.0, price_out=200.0)
    # no price override: litellm's local price map prices gpt-4o-mini
    mini = {k: v for k, v in local_deployment("mini", server.url, model="gpt-4o-mini").items() if k != "price"}
    return load_catalogue(write_catalogue(tmp_path / "models.yaml", {"writer": [a], "mini": [mini]}))


def req(tenant, request_id: str, task: str = "writer", content: str | None = None) -> CompletionRequest:
    return CompletionRequest(task=task, messages=[{"role": "user", "content": content or f"write article {request_id}"}],
                             tenant_id=tenant.id, request_id=request_id, expected_output_tokens=40, max_output_tokens=40)


def test_budget_set_status_and_bad_input(conn, sample_tenant):
    budgets.set_budget(conn, sample_tenant.id, daily_usd=2.5, monthly_usd=40)
    budgets.set_budget(conn, sample_tenant.id, daily_usd=3)  # monthly kept
    status = {s.period: s for s in budgets.budget_status(conn, sample_tenant.id)}
    assert (status["daily"].limit_usd, status["monthly"].limit_usd) == (3.0, 40.0)
    assert status["daily"].remaining_usd == 3.0
    with pytest.raises(ValidationError, match="negative"):
        budgets.set_budget(conn, sample_tenant.id, daily_usd=-1)
    with pytest.raises(ValidationError, match="no budget given"):
        budgets.set_budget(conn, sample_tenant.id)


def test_call_over_budget_is_not_made(server, catalogue, sample_tenant, database_url):
    with connect(database_url) as conn:
        budgets.set_budget(conn, sample_tenant.id, daily_usd=0.001)
    result = LLMClient(catalogue, database_url).complete_sync(req(sample_tenant, "over"))
    assert result.status == "skipped_budget" and result.error_class == "BudgetExceeded"
    assert "daily budget" in result.error_message
    assert server.requests == []
    with connect(database_url) as conn:
        rows = fetch_dicts(conn, "SELECT status, cost_usd FROM ai_usage WHERE request_id = 'over'")
        reservations = conn.execute("SELECT count(*) FROM ai_budget_reservations").fetchone()[0]
    assert rows == [{"status": "skipped_budget", "cost_usd": 0}] and reservations == 0


def test_failed_call_releases_its_reservation(server, catalogue, sample_tenant, database_url):
    with connect(database_url) as conn:
        budgets.set_budget(conn, sample_tenant.id, daily_usd=10)
    server.add_fault("server_error")
    result = LLMClient(catalogue, database_url).complete_sync(req(sample_tenant, "fails"))
    assert result.status == "error"
    with connect(database_url) as conn:
        assert conn.execute("SELECT status, actual_usd FROM ai_budget_reservations").fetchall() == [
            ("released", 0), ("released", 0)]
        assert budgets.budget_status(conn, sample_tenant.id)[0].remaining_usd == 10.0


OTHER_PROCESS = textwrap.dedent("""
    import sys, uuid
    from allixios.ai.catalogue import load_catalogue
    from allixios.ai.client import CompletionRequest, LLMClient
    path, tenant, prefix, n = sys.argv[1], uuid.UUID(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    client = LLMClient(load_catalogue(path))
    client.router()
    reqs = [CompletionRequest(task="writer", messages=[{"role": "user", "content": f"write article {prefix}-{i:03d}"}],
                              tenant_id=tenant, request_id=f"{prefix}-{i:03d}", expected_output_tokens=40,
                              max_output_tokens=40) for i in range(n)]
    print("ready", flush=True)
    sys.stdin.readline()  # start together with the test process
    results = client.complete_many_sync(reqs, concurrency=16)
    print(sum(r.status == "success" for r in results), flush=True)
""")


@pytest.mark.slow
def test_200_concurrent_generations_on_two_processes_never_overspend(server, catalogue, sample_tenant, database_url):
    d = catalogue.deployment("a")
    per_call = estimate_cost(d, req(sample_tenant, "p1-000").messages, 40, 40).reserve_usd
    budget = round(per_call * 50, 6)  # enough for 50 calls at their worst case
    with connect(database_url) as conn:
        budgets.set_budget(conn, sample_tenant.id, daily_usd=budget, monthly_usd=budget * 10)

    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_PROCESS, str(catalogue.path), str(sample_tenant.id), "p2", "100"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )
    try:
        assert other.stdout.readline().strip() == "ready", other.stderr.read()[-2000:]
        client = LLMClient(catalogue, database_url)
        other.stdin.write("go\n")
        other.stdin.flush()
        mine = client.complete_many_sync([req(sample_tenant, f"p1-{i:03d}") for i in range(100)], concurrency=16)
        out, err = other.communicate(timeout=120)
    finally:
        other.kill()
    assert other.returncode == 0, err[-2000:]
    theirs_ok = int(out.strip().splitlines()[-1])
    mine_ok = sum(r.status == "success" for r in mine)

    with connect(database_url) as conn:
        total, rows, ids, successes = conn.execute(
            """SELECT coalesce(sum(cost_usd), 0), count(*), count(DISTINCT request_id),
                      count(*) FILTER (WHERE status = 'success') FROM ai_usage WHERE tenant_id = %s""",
            (sample_tenant.id,)).fetchone()
        statuses = {r[0] for r in conn.execute("SELECT DISTINCT status FROM ai_usage").fetchall()}
        open_reservations, settled = conn.execute(
            """SELECT count(*) FILTER (WHERE status = 'reserved'), coalesce(sum(actual_usd), 0)
               FROM ai_budget_reservations""").fetchone()
    assert float(total) <= budget  # never overspent, across two processes
    assert successes == mine_ok + theirs_ok >= 50  # the budget was used, not refused wholesale
    assert successes < 200  # ... and it did stop calls
    assert theirs_ok > 0 and mine_ok > 0  # both processes competed for the same budget
    assert (rows, ids) == (200, 200)  # every request exactly once in the ledger
    assert statuses == {"success", "skipped_budget"}
    assert len(server.requests_for("a")) == successes  # every HTTP call is a ledger row
    assert open_reservations == 0 and math.isclose(float(settled), float(total), abs_tol=1e-8)
    with connect(database_url) as conn:  # the running totals agree with the ledger
        totals = dict(conn.execute("SELECT period, (spent_usd, reserved_usd) FROM ai_spend WHERE tenant_id = %s",
                                   (sample_tenant.id,)).fetchall())
    assert {k: (float(v[0]), float(v[1])) for k, v in totals.items()} == {
        "daily": (float(total), 0.0), "monthly": (float(total), 0.0)}


def test_costs_equal_tokens_times_catalogue_prices(server, catalogue, sample_tenant, database_url):
    prices = yaml.safe_load(catalogue.path.read_text())["aliases"]["writer"][0]["price"]
    import litellm

    mini_price = litellm.model_cost["gpt-4o-mini"]
    client = LLMClient(catalogue, database_url)
    reqs = [req(sample_tenant, f"cost-{i}", content="word " * (i * 37 + 1)) for i in range(10)]
    reqs += [req(sample_tenant, f"cost-mini-{i}", task="mini", content="word " * (i * 11 + 3)) for i in range(3)]
    assert all(r.ok for r in client.complete_many_sync(reqs))

    served = {r.body["messages"][0]["content"]: r for r in server.requests}
    with connect(database_url) as conn:
        rows = fetch_dicts(conn, "SELECT request_id, deployment_id, tokens_in, tokens_out, cost_usd FROM ai_usage")
    assert len(rows) == 13
    by_id = {r.request_id: r for r in reqs}
    for row in rows:
        logged = served[by_id[row["request_id"]].messages[0]["content"]]
        assert (row["tokens_in"], row["tokens_out"]) == (logged.prompt_tokens, logged.completion_tokens)
        if row["deployment_id"] == "a":
            expected = (row["tokens_in"] * prices["input"] + row["tokens_out"] * prices["output"]) / 1e6
        else:
            expected = (row["tokens_in"] * mini_price["input_cost_per_token"]
                        + row["tokens_out"] * mini_price["output_cost_per_token"])
        assert math.isclose(float(row["cost_usd"]), expected, abs_tol=1e-8), row
    assert len({r["tokens_in"] for r in rows}) > 5  # different prompts, different costs


def test_reservation_of_a_crashed_process_is_released_after_its_ttl(conn, sample_tenant):
    budgets.set_budget(conn, sample_tenant.id, daily_usd=1.0)
    held = budgets.reserve(conn, sample_tenant.id, "crashed", 0.8)
    assert held.granted
    assert not budgets.reserve(conn, sample_tenant.id, "blocked", 0.5).granted  # 0.8 is still held
    conn.execute("UPDATE ai_budget_reservations SET created_at = now() - interval '31 minutes' WHERE id = %s", (held.id,))
    assert budgets.reserve(conn, sample_tenant.id, "after-ttl", 0.5).granted
    status = conn.execute("SELECT status FROM ai_budget_reservations WHERE id = %s", (held.id,)).fetchone()[0]
    assert status == "released"
    assert budgets.budget_status(conn, sample_tenant.id)[0].reserved_usd == pytest.approx(0.5)
