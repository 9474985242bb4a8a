"""Issue 11, AI ledger and budgets: kill -9 mid-call, the same request id from two processes, a
provider that bills beyond the reservation, embedding budgets, and a hostile provider echoing its key.

Everything is real: the local OpenAI-compatible server over HTTP, child processes killed with
SIGKILL, PostgreSQL row locks and the ledger rows they leave.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from urllib.parse import quote

import dagster as dg
import pytest
import yaml

from allixios import settings
from allixios.ai import budgets, ledger
from allixios.ai.catalogue import load_catalogue
from allixios.ai.client import CompletionRequest, LLMClient
from allixios.ai.costs import estimate_cost
from allixios.ai.embeddings import get_embedder
from allixios.db.engine import connect, fetch_dicts
from allixios.errors import BudgetExceededError
from allixios.testing.catalogues import local_deployment, write_catalogue
from allixios.testing.llm_server import LocalLLMServer

KEY = "sk-hostile-Zq8LmN3pR7tVx2Kw9YbC4dFh"
ANSWER = json.dumps({"title": "Fixed answer", "body": "x" * 120})  # 39 completion tokens, under max_tokens 40

CHILD = textwrap.dedent("""
    import sys, uuid
    from allixios.ai.catalogue import load_catalogue
    from allixios.ai.client import CompletionRequest, LLMClient
    path, tenant, ids = sys.argv[1], uuid.UUID(sys.argv[2]), sys.argv[3].split(",")
    client = LLMClient(load_catalogue(path))
    client.router()
    reqs = [CompletionRequest(task="writer", messages=[{"role": "user", "content": f"write {rid}"}], tenant_id=tenant,
                              request_id=rid, expected_output_tokens=40, max_output_tokens=40) for rid in ids]
    print("ready", flush=True)
    sys.stdin.readline()
    results = client.complete_many_sync(reqs, concurrency=16)
    print(sum(r.ok for r in results), sum(r.replayed for r in results), flush=True)
""")


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("ALLIXIOS_LOCAL_LLM_KEY", KEY)
    with LocalLLMServer(responder=lambda messages, model: ANSWER) as s:
        yield s


@pytest.fixture
def catalogue(server, tmp_path):
    a = local_deployment("a", server.url, price_in=100.0, price_out=200.0)
    emb = local_deployment("emb", server.url, model="local-embedding", price_in=50.0, price_out=0, dimension=384)
    return load_catalogue(write_catalogue(tmp_path / "models.yaml", {"writer": [a], "embedder": [emb]}, timeout_s=30))


def req(tenant, request_id: str) -> CompletionRequest:
    return CompletionRequest(task="writer", messages=[{"role": "user", "content": f"write {request_id}"}],
                             tenant_id=tenant.id, request_id=request_id, expected_output_tokens=40, max_output_tokens=40)


def child(catalogue, tenant, ids: list[str]) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(catalogue.path), str(tenant.id), ",".join(ids)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()[-2000:]
    return proc


def wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def spend(tenant) -> tuple[float, float]:
    with connect() as conn:
        row = conn.execute("SELECT spent_usd, reserved_usd FROM ai_spend WHERE tenant_id = %s AND period = 'daily'",
                           (tenant.id,)).fetchone()
    return (float(row[0]), float(row[1])) if row else (0.0, 0.0)


def test_kill_9_mid_call_leaves_the_paid_calls_on_the_ledger_and_budget(server, catalogue, sample_tenant, database_url):
    per_call = estimate_cost(catalogue.deployment("a"), req(sample_tenant, "crash-0").messages, 40, 40).reserve_usd
    with connect() as conn:
        budgets.set_budget(conn, sample_tenant.id, daily_usd=per_call * 10)
    server.latency_ms = 1500  # a slow provider: the child is killed while both calls are in flight
    proc = child(catalogue, sample_tenant, ["crash-0", "crash-1"])
    proc.stdin.write("go\n")
    proc.stdin.flush()
    wait_for(lambda: server.in_flight >= 2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    wait_for(lambda: len(server.requests_for("a")) == 2)  # the provider finished (and billed) both calls
    with connect() as conn:
        pending = fetch_dicts(conn, "SELECT request_id, status, reserved_usd FROM ai_usage ORDER BY request_id")
    assert [(r["request_id"], r["status"]) for r in pending] == [("crash-0", "pending"), ("crash-1", "pending")]

    # the next call of the tenant sees the owner is gone: both calls count as possibly paid
    server.latency_ms = 0
    assert LLMClient(catalogue, database_url).complete_sync(req(sample_tenant, "after-crash")).ok
    with connect() as conn:
        rows = fetch_dicts(conn, "SELECT request_id, status, cost_usd FROM ai_usage ORDER BY request_id")
        open_reservations = conn.execute(
            "SELECT count(*) FROM ai_budget_reservations WHERE status = 'reserved'").fetchone()[0]
    by_id = {r["request_id"]: r for r in rows}
    assert by_id["crash-0"]["status"] == by_id["crash-1"]["status"] == "interrupted"
    assert float(by_id["crash-0"]["cost_usd"]) == pytest.approx(per_call)
    assert len(server.requests_for("a")) == len(rows) == 3  # every billed call is a ledger row
    spent, reserved = spend(sample_tenant)
    assert spent == pytest.approx(sum(float(r["cost_usd"]) for r in rows)) and reserved == 0
    assert open_reservations == 0

    # a re-run of the killed requests is not blocked by the dead claims
    results = LLMClient(catalogue, database_url).complete_many_sync([req(sample_tenant, "crash-0"), req(sample_tenant, "crash-1")])
    assert all(r.ok and not r.replayed for r in results)


RESERVER = textwrap.dedent("""
    import sys, uuid, time
    from allixios.ai import budgets
    from allixios.db.engine import connect
    with connect() as conn:
        r = budgets.reserve(conn, uuid.UUID(sys.argv[1]), "held-by-a-dead-run", float(sys.argv[2]), run_id="run-x")
    print("reserved" if r.granted else "refused", flush=True)
    time.sleep(600)
""")


def test_reservation_of_a_killed_process_is_released_at_once(sample_tenant, database_url):
    with connect() as conn:
        budgets.set_budget(conn, sample_tenant.id, daily_usd=1.0)
    proc = subprocess.Popen([sys.executable, "-c", RESERVER, str(sample_tenant.id), "0.8"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "reserved", proc.stderr.read()[-2000:]
        with connect() as conn:  # while its owner lives, the reservation holds
            assert not budgets.reserve(conn, sample_tenant.id, "live", 0.5).granted
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    with connect() as conn:  # its owner is gone: released now, not after 30 minutes
        assert budgets.reserve(conn, sample_tenant.id, "re-run", 0.5).granted
        status = conn.execute("SELECT status FROM ai_budget_reservations WHERE request_id = 'held-by-a-dead-run'").fetchone()
    assert status == ("released",)


def test_same_request_ids_from_two_processes_pay_once(server, catalogue, sample_tenant, database_url):
    with connect() as conn:  # with a budget: claims, reservations and settlements take locks together
        budgets.set_budget(conn, sample_tenant.id, daily_usd=100.0)
    server.latency_ms = 150
    ids = [f"dup-{i:02d}" for i in range(20)]
    proc = child(catalogue, sample_tenant, ids)
    try:
        client = LLMClient(catalogue, database_url)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        mine = client.complete_many_sync([req(sample_tenant, i) for i in ids], concurrency=16)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-2000:]
    theirs_ok, theirs_replayed = map(int, out.split())
    assert all(r.ok for r in mine) and theirs_ok == 20
    assert len(server.requests_for("a")) == 20  # exactly one paid call per request id
    assert sum(r.replayed for r in mine) + theirs_replayed == 20  # the other caller waited and replayed
    with connect() as conn:
        counts = conn.execute("SELECT count(*), count(DISTINCT request_id) FROM ai_usage WHERE status = 'success'").fetchone()
    assert counts == (20, 20)
    spent, reserved = spend(sample_tenant)
    with connect() as conn:
        total = float(conn.execute("SELECT sum(cost_usd) FROM ai_usage").fetchone()[0])
    assert spent == pytest.approx(total) and reserved == 0  # nothing paid for twice in the budget either


def test_response_beyond_the_reservation_is_settled_as_billed_and_flagged(server, catalogue, sample_tenant, database_url):
    d = catalogue.deployment("a")
    per_call = estimate_cost(d, req(sample_tenant, "over-0").messages, 40, 40).reserve_usd
    with connect() as conn:
        budgets.set_budget(conn, sample_tenant.id, daily_usd=per_call * 2.5)
    client = LLMClient(catalogue, database_url)
    server.add_fault("overcount_prompt", count=1, factor=1.02)  # +2 %: inside the tokenizer margin
    server.add_fault("ignore_max_tokens", count=1, factor=1.81)  # +81 % output: beyond the reservation
    first = client.complete_sync(req(sample_tenant, "over-0"))
    second = client.complete_sync(req(sample_tenant, "over-1"))
    third = client.complete_sync(req(sample_tenant, "over-2"))
    assert first.ok and second.ok and second.tokens_out == int(40 * 1.81)
    with connect() as conn:
        rows = {r["request_id"]: r for r in fetch_dicts(conn, "SELECT request_id, status, cost_usd, error_class, error_message FROM ai_usage")}
    assert rows["over-0"]["error_class"] is None and float(rows["over-0"]["cost_usd"]) <= per_call, rows["over-0"]["error_message"]
    assert rows["over-1"]["error_class"] == "BeyondReservation" and float(rows["over-1"]["cost_usd"]) > per_call
    spent, reserved = spend(sample_tenant)
    assert spent == pytest.approx(float(rows["over-0"]["cost_usd"]) + float(rows["over-1"]["cost_usd"]))
    assert reserved == 0
    assert third.status == "skipped_budget"  # what was really billed counts: the next call no longer fits


def test_embeddings_reserve_and_settle_against_the_budget(server, catalogue, sample_tenant, database_url):
    embedder = get_embedder(catalogue=catalogue, database_url=database_url)
    texts = ["raised garden beds " * 20, "index funds " * 20]
    with connect() as conn:
        budgets.set_budget(conn, sample_tenant.id, daily_usd=0.000001)
    with pytest.raises(BudgetExceededError, match="daily budget") as info:
        embedder.embed(texts, tenant_id=sample_tenant.id, request_id="emb-1")
    assert "fix:" in info.value.one_line() and server.requests_for(endpoint="embeddings") == []
    with connect() as conn:
        budgets.set_budget(conn, sample_tenant.id, daily_usd=10.0)
    embedder.embed(texts, tenant_id=sample_tenant.id, request_id="emb-1")
    with connect() as conn:
        rows = fetch_dicts(conn, "SELECT status, cost_usd FROM ai_usage WHERE request_id = 'emb-1' ORDER BY attempt")
        settled = conn.execute("SELECT status, actual_usd FROM ai_budget_reservations").fetchall()
    assert [r["status"] for r in rows] == ["skipped_budget", "success"]
    assert spend(sample_tenant) == (pytest.approx(float(rows[1]["cost_usd"])), 0.0) and float(rows[1]["cost_usd"]) > 0
    assert settled == [("settled", rows[1]["cost_usd"])]


def key_forms(key: str) -> list[str]:
    raw = key.encode()
    return [key, key.upper(), key.lower(), base64.b64encode(raw).decode().rstrip("="), quote(key, safe=""), raw.hex(),
            key[-9:], base64.b64encode(b"Authorization: Bearer " + raw).decode()[30:50]]


def assert_no_key(text: str) -> None:
    for form in key_forms(KEY):
        assert form not in (text or ""), (form, text)


def test_hostile_provider_echoing_its_key_leaves_no_form_of_it(server, catalogue, sample_tenant, database_url):
    client = LLMClient(catalogue, database_url)
    server.add_fault("echo_key", count=1)
    answered = client.complete_sync(req(sample_tenant, "echo-ok"))
    server.add_fault("echo_key_error", count=2)
    failed = client.complete_sync(req(sample_tenant, "echo-err"))
    assert answered.ok and "[REDACTED]" in answered.text
    assert failed.status == "error" and "[REDACTED]" in failed.error_message
    for value in (answered.text, json.dumps(answered.parsed), failed.error_message):
        assert_no_key(value)
    with connect() as conn:
        rows = conn.execute("SELECT row_to_json(u)::text FROM ai_usage u").fetchall()
    assert len(rows) == 3
    for (row,) in rows:
        assert_no_key(row)


def test_hostile_key_echo_stays_out_of_dagster_event_logs(server, sample_tenant, database_url, tmp_path, monkeypatch):
    """A real content run whose writer echoes its key in 500 errors: the run's event log has no form of it."""
    from tests.test_content_assets import content_defs, run

    models = yaml.safe_load(settings.repo_path("config/models.yaml").read_text())
    for alias in ("writer", "researcher"):
        models["aliases"][alias].insert(0, local_deployment(f"hostile-{alias}", server.url))
    models["defaults"].update({"timeout_s": 5, "max_attempts_per_deployment": 1, "backoff_base_s": 0.01})
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(models))
    monkeypatch.setenv("ALLIXIOS_MODELS_FILE", str(path))
    server.add_fault("echo_key_error")
    with connect() as conn:
        niche_key = conn.execute("SELECT partition_key FROM niches WHERE tenant_id = %s ORDER BY slug LIMIT 1",
                                 (sample_tenant.id,)).fetchone()[0]
    with dg.instance_for_test() as instance:
        result = run(instance, niche_key, defs=content_defs())
        assert server.requests_for(endpoint="chat"), "the hostile writer was not called"
        records = instance.all_logs(result.run_id)
    text = "\n".join(json.dumps(r.to_json() if hasattr(r, "to_json") else str(r)) for r in records)
    assert "REDACTED" in text or "draft failed" in text
    assert_no_key(text)
    with connect() as conn:
        for (row,) in conn.execute("SELECT row_to_json(u)::text FROM ai_usage u").fetchall():
            assert_no_key(row)


def test_pending_claims_of_live_owners_are_left_alone(sample_tenant):
    from allixios.ai.owners import current_owner, is_alive

    attempt = ledger.Attempt(tenant_id=sample_tenant.id, request_id="live-claim", task="writer", model="m",
                             deployment_id="a", provider="openai", status="pending")
    with connect() as conn:
        assert ledger.claim(conn, attempt, 0.5, None, current_owner()).granted
        busy = ledger.claim(conn, attempt, 0.5, None, current_owner())
        assert not busy.granted and busy.busy_owner == current_owner()
        assert ledger.recover_interrupted(conn, tenant_id=sample_tenant.id) == 0
    assert is_alive(current_owner()) and not is_alive("x:999999999:1".replace("x", os.uname().nodename))


def test_a_dead_call_is_counted_even_when_the_next_call_is_refused(server, catalogue, sample_tenant, database_url):
    per_call = estimate_cost(catalogue.deployment("a"), req(sample_tenant, "tight-0").messages, 40, 40).reserve_usd
    with connect() as conn:
        budgets.set_budget(conn, sample_tenant.id, daily_usd=per_call * 1.5)  # one call fits, two do not
    server.latency_ms = 1500
    proc = child(catalogue, sample_tenant, ["tight-0"])
    proc.stdin.write("go\n")
    proc.stdin.flush()
    wait_for(lambda: server.in_flight >= 1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    server.latency_ms = 0
    refused = LLMClient(catalogue, database_url).complete_sync(req(sample_tenant, "tight-1"))
    assert refused.status == "skipped_budget"  # the killed call may have been paid: it counts
    with connect() as conn:
        statuses = dict(conn.execute("SELECT request_id, status FROM ai_usage").fetchall())
    assert statuses == {"tight-0": "interrupted", "tight-1": "skipped_budget"}
    assert spend(sample_tenant) == (pytest.approx(per_call), 0.0)


def test_a_call_cancelled_in_a_live_process_holds_nothing(server, catalogue, sample_tenant, database_url):
    """An outer timeout (or a stopped run) cancels calls in a process that goes on: a call already
    sent counts as possibly paid at once, one not sent yet gives its claim and reservation back, and
    a retry of the same request in the same process is made instead of waiting for a 'pending' row
    whose owner is alive (which held the budget and blocked the request until the process ended)."""
    import asyncio

    per_call = estimate_cost(catalogue.deployment("a"), req(sample_tenant, "cut-0").messages, 40, 40).reserve_usd
    with connect() as conn:
        budgets.set_budget(conn, sample_tenant.id, daily_usd=per_call * 100)
    server.latency_ms = 1500
    client = LLMClient(catalogue, database_url)
    client.router()

    async def cut(request_id: str, after_s: float) -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.complete(req(sample_tenant, request_id)), after_s)
        await asyncio.sleep(0.5)  # a group commit still in flight finishes (and undoes what it held)

    async def scenario() -> None:
        await cut("cut-0", 0.8)  # cancelled while the provider works on it
        for n, after_s in enumerate((0.0, 0.002, 0.01, 0.03)):  # cancelled before or while admitted
            await cut(f"cut-early-{n}", after_s)

    asyncio.run(scenario())
    wait_for(lambda: server.in_flight == 0)  # the provider finished (and billed) what it was sent
    with connect() as conn:
        rows = {r["request_id"]: r for r in fetch_dicts(conn, "SELECT request_id, status, cost_usd FROM ai_usage")}
        reserved = conn.execute("SELECT count(*) FROM ai_budget_reservations WHERE status = 'reserved'").fetchone()[0]
    statuses = {k: r["status"] for k, r in rows.items()}
    assert statuses["cut-0"] == "interrupted"
    assert "pending" not in statuses.values() and reserved == 0, statuses
    # every call the provider got is counted as possibly paid (a call cut off while connecting may
    # be counted without having arrived: the ledger cannot know, so it errs on the paid side)
    reached = {r.body["messages"][0]["content"].removeprefix("write ") for r in server.requests_for("a")}
    assert reached <= {k for k, v in statuses.items() if v == "interrupted"}, (reached, statuses)
    assert spend(sample_tenant) == (pytest.approx(sum(float(r["cost_usd"]) for r in rows.values())), 0.0)

    server.latency_ms = 0
    started = time.monotonic()
    retry = client.complete_sync(req(sample_tenant, "cut-0"))
    assert retry.ok and not retry.replayed and time.monotonic() - started < 10


def test_an_embedding_interrupted_in_a_live_process_is_counted_and_can_be_retried(server, catalogue, sample_tenant,
                                                                                   database_url):
    """A stop raised into the step while the provider embeds (Dagster's termination raises into the
    running step like this alarm does): the request counts as possibly paid at once and the same
    request id can be embedded again by this process without waiting for its own 'pending' row."""
    import signal as signals

    class Stop(BaseException):
        pass

    def stop(*_):
        raise Stop

    embedder = get_embedder(catalogue=catalogue, database_url=database_url)
    texts = ["raised garden beds " * 20]
    embedder.embed(texts, tenant_id=sample_tenant.id, request_id="emb-warm")  # imports and tokenizer loaded
    server.latency_ms = 1500
    previous = signals.signal(signals.SIGALRM, stop)
    try:
        signals.setitimer(signals.ITIMER_REAL, 0.5)
        with pytest.raises(Stop):
            embedder.embed(texts, tenant_id=sample_tenant.id, request_id="emb-cut")
    finally:
        signals.setitimer(signals.ITIMER_REAL, 0)
        signals.signal(signals.SIGALRM, previous)
    with connect() as conn:
        row = fetch_dicts(conn, "SELECT status, cost_usd, reserved_usd FROM ai_usage WHERE request_id = 'emb-cut'")[0]
    assert row["status"] == "interrupted" and row["cost_usd"] == row["reserved_usd"] > 0
    server.latency_ms = 0
    started = time.monotonic()
    assert len(embedder.embed(texts, tenant_id=sample_tenant.id, request_id="emb-cut")) == 1
    assert time.monotonic() - started < 10
    assert spend(sample_tenant)[1] == 0.0
