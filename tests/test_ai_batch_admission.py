"""Batch admission (issue 19): the calls of a step that reach admission together are admitted in one
transaction, each decided as it would be alone — a batch partly over the budget admits what fits and
refuses the rest as one call would be refused, and a process killed after the batch's pending rows
are committed but before any call is sent leaves rows the next caller counts as possibly paid."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from allixios.ai import budgets
from allixios.ai.catalogue import load_catalogue
from allixios.ai.client import CompletionRequest, LLMClient, _Admission, _Busy
from allixios.ai.costs import estimate_cost
from allixios.db.engine import connect, fetch_dicts
from allixios.testing.catalogues import local_deployment, write_catalogue
from allixios.testing.llm_server import LocalLLMServer

ANSWER = json.dumps({"title": "Fixed answer", "body": "x" * 120})


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("ALLIXIOS_LOCAL_LLM_KEY", "local-test-key")
    with LocalLLMServer(responder=lambda messages, model: ANSWER) as s:
        yield s


@pytest.fixture
def catalogue(server, tmp_path):
    a = local_deployment("a", server.url, price_in=100.0, price_out=200.0)
    return load_catalogue(write_catalogue(tmp_path / "models.yaml", {"writer": [a]}, timeout_s=30))


def req(tenant, request_id: str, **kw) -> CompletionRequest:
    return CompletionRequest(task="writer", messages=[{"role": "user", "content": f"write {request_id}"}],
                             tenant_id=tenant.id, request_id=request_id, expected_output_tokens=40,
                             max_output_tokens=40, **kw)


def items(client: LLMClient, tenant, ids: list[str]) -> list[tuple]:
    d = client.catalogue.deployment("a")
    return [(d, r, estimate_cost(d, r.messages, 40, 40)) for r in (req(tenant, i) for i in ids)]


def test_a_batch_partly_over_the_budget_admits_what_fits(server, catalogue, sample_tenant, database_url):
    client = LLMClient(catalogue, database_url)
    batch = items(client, sample_tenant, [f"b-{i}" for i in range(5)])
    per_call = batch[0][2].reserve_usd
    with connect(database_url) as conn:
        budgets.set_budget(conn, sample_tenant.id, daily_usd=per_call * 3.5)
    with connect(database_url) as conn:
        out = client._admit_many(conn, batch)
    assert all(isinstance(o, _Admission) for o in out)
    granted = [o for o in out if o.reservation.granted]
    refused = [o for o in out if not o.reservation.granted]
    assert len(granted) == 3 and len(refused) == 2
    assert all(o.pending_id is not None and o.reservation.id is not None for o in granted)
    # the refusal is the one a single reservation gives
    assert all(o.pending_id is None and o.reservation.reason.startswith("daily budget: estimate") for o in refused)
    with connect(database_url) as conn:
        pending = fetch_dicts(conn, """SELECT u.request_id, u.status, u.reserved_usd, r.status AS r_status
                                       FROM ai_usage u JOIN ai_budget_reservations r ON r.id = u.reservation_id
                                       ORDER BY u.request_id""")
        spent, reserved = conn.execute("SELECT spent_usd, reserved_usd FROM ai_spend WHERE tenant_id = %s "
                                       "AND period = 'daily'", (sample_tenant.id,)).fetchone()
        rows = conn.execute("SELECT count(*) FROM ai_usage").fetchone()[0]
    assert [(p["request_id"], p["status"], p["r_status"]) for p in pending] == [
        ("b-0", "pending", "reserved"), ("b-1", "pending", "reserved"), ("b-2", "pending", "reserved")]
    assert rows == 3  # the refused calls' claims are gone
    assert float(spent) == 0 and float(reserved) == pytest.approx(per_call * 3)
    # the same request twice in a batch: the second waits for the first and replays it
    with connect(database_url) as conn:
        again = client._admit_many(conn, items(client, sample_tenant, ["b-0", "c-0", "c-0"]))
    assert isinstance(again[0], _Busy) and isinstance(again[2], _Busy)
    assert isinstance(again[1], _Admission) and not again[1].reservation.granted  # the budget is held by b-0..2


def test_a_concurrent_step_over_budget_calls_only_what_fits(server, catalogue, sample_tenant, database_url):
    client = LLMClient(catalogue, database_url)
    d = catalogue.deployment("a")
    per_call = estimate_cost(d, req(sample_tenant, "s-00").messages, 40, 40).reserve_usd
    with connect(database_url) as conn:
        budgets.set_budget(conn, sample_tenant.id, daily_usd=per_call * 5.5)
    server.latency_ms = 100
    results = client.complete_many_sync([req(sample_tenant, f"s-{i:02d}") for i in range(16)], concurrency=16)
    ok = [r for r in results if r.ok]
    assert 5 <= len(ok) <= 16  # reservations are settled at the real cost, so later calls may fit
    assert all(r.status == "skipped_budget" and r.error_class == "BudgetExceeded" for r in results if not r.ok)
    with connect(database_url) as conn:
        total, rows, successes = conn.execute(
            """SELECT coalesce(sum(cost_usd), 0), count(*), count(*) FILTER (WHERE status = 'success')
               FROM ai_usage WHERE tenant_id = %s""", (sample_tenant.id,)).fetchone()
        open_reservations = conn.execute("SELECT count(*) FROM ai_budget_reservations WHERE status = 'reserved'"
                                         ).fetchone()[0]
        reserved = conn.execute("SELECT reserved_usd FROM ai_spend WHERE tenant_id = %s AND period = 'daily'",
                                (sample_tenant.id,)).fetchone()[0]
    assert float(total) <= per_call * 5.5 and successes == len(ok) == len(server.requests_for("a"))
    assert rows == 16 and open_reservations == 0 and float(reserved) == 0


CHILD = textwrap.dedent("""
    import asyncio, sys, uuid
    import litellm
    from allixios.ai.catalogue import load_catalogue
    from allixios.ai.client import CompletionRequest, LLMClient

    async def never_sent(**kwargs):  # admitted, then the process dies before the request goes out
        await asyncio.sleep(3600)

    litellm.acompletion = never_sent
    path, tenant, ids = sys.argv[1], uuid.UUID(sys.argv[2]), sys.argv[3].split(",")
    client = LLMClient(load_catalogue(path))
    client.router()
    reqs = [CompletionRequest(task="writer", messages=[{"role": "user", "content": f"write {rid}"}], tenant_id=tenant,
                              request_id=rid, expected_output_tokens=40, max_output_tokens=40) for rid in ids]
    client.complete_many_sync(reqs, concurrency=16)
""")


def test_kill_after_the_batch_commit_before_any_call_is_reconciled(server, catalogue, sample_tenant, database_url):
    d = catalogue.deployment("a")
    ids = [f"k-{i}" for i in range(6)]
    per_call = estimate_cost(d, req(sample_tenant, ids[0]).messages, 40, 40).reserve_usd
    with connect(database_url) as conn:
        budgets.set_budget(conn, sample_tenant.id, daily_usd=per_call * 20)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(catalogue.path), str(sample_tenant.id), ",".join(ids)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    try:
        deadline = time.monotonic() + 60
        while True:
            with connect(database_url) as conn:
                n = conn.execute("SELECT count(*) FROM ai_usage WHERE status = 'pending' AND reservation_id IS NOT NULL"
                                 ).fetchone()[0]
            if n == len(ids):
                break
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            assert time.monotonic() < deadline, "the child never admitted its calls"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert server.requests_for("a") == []  # no call went out, but each might have: the rows say so

    # the next call of the tenant sees the owner is gone: every claim counts as possibly paid
    assert LLMClient(catalogue, database_url).complete_sync(req(sample_tenant, "after")).ok
    with connect(database_url) as conn:
        rows = {r["request_id"]: r for r in fetch_dicts(conn, "SELECT request_id, status, cost_usd FROM ai_usage")}
        open_reservations = conn.execute("SELECT count(*) FROM ai_budget_reservations WHERE status = 'reserved'"
                                         ).fetchone()[0]
        spent, reserved = conn.execute("SELECT spent_usd, reserved_usd FROM ai_spend WHERE tenant_id = %s "
                                       "AND period = 'daily'", (sample_tenant.id,)).fetchone()
    assert {rows[i]["status"] for i in ids} == {"interrupted"}
    assert all(float(rows[i]["cost_usd"]) == pytest.approx(per_call) for i in ids)
    assert open_reservations == 0 and float(reserved) == 0
    assert float(spent) == pytest.approx(sum(float(r["cost_usd"]) for r in rows.values()))
    # a re-run of the killed requests is not blocked by the dead claims
    results = LLMClient(catalogue, database_url).complete_many_sync([req(sample_tenant, i) for i in ids])
    assert all(r.ok and not r.replayed for r in results)


def test_a_prepared_batch_records_each_selection_in_one_insert(server, catalogue, sample_tenant, database_url):
    """Preparation (issue 19, fourth round) records the batch's selections with one INSERT: each
    request still gets its own model_selections row, its id handed back in the request's order."""
    client = LLMClient(catalogue, database_url)
    reqs = [req(sample_tenant, f"sel-{i}", run_id=f"run-{i}") for i in range(6)]
    with connect(database_url) as conn:
        out = client._prepare_many(conn, reqs)
    ids = [o.record_id for o in out]
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 6
    with connect(database_url) as conn:
        rows = {r["id"]: r for r in fetch_dicts(conn, "SELECT id, run_id, tenant_id, task, model_id, reasoning "
                                                      "FROM model_selections WHERE id = ANY(%s)", (ids,))}
    assert [rows[i]["run_id"] for i in ids] == [f"run-{i}" for i in range(6)]
    assert all(rows[i]["tenant_id"] == sample_tenant.id and rows[i]["model_id"] == "a" and rows[i]["reasoning"]
               for i in ids)
    # and a call prepared that way completes with its recorded selection
    result = client.complete_sync(reqs[0])
    assert result.ok and result.selection["modelId"] == "a"
