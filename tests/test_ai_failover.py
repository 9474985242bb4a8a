"""Provider behaviour over real HTTP (the local OpenAI-compatible server) against the real database:
retries, Retry-After, failover, fail-fast, malformed responses, circuits across processes, secrets."""

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from allixios.ai.catalogue import load_catalogue
from allixios.ai.client import CompletionRequest, LLMClient
from allixios.db.engine import connect, fetch_dicts
from allixios.testing.catalogues import local_deployment, write_catalogue
from allixios.testing.llm_server import LocalLLMServer

KEY = "sk-test-9f8e7d6c5b4a39281706"


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("ALLIXIOS_LOCAL_LLM_KEY", KEY)
    with LocalLLMServer(required_key=KEY, echo_key_in_errors=True) as s:
        yield s


@pytest.fixture
def two_deployments(server, tmp_path):
    """writer = a (cheaper, preferred) then b; solo = only a."""
    a = local_deployment("a", server.url, price_in=1.0, price_out=2.0, quality=80)
    b = local_deployment("b", server.url, price_in=3.0, price_out=6.0, quality=80)
    path = write_catalogue(tmp_path / "models.yaml", {"writer": [a, b], "solo": [dict(a, id="a-solo", model="openai/a-solo")]})
    return load_catalogue(path)


def request(tenant, request_id: str, task: str = "writer", **kw) -> CompletionRequest:
    return CompletionRequest(task=task, messages=[{"role": "user", "content": f"write about {request_id}"}],
                             tenant_id=tenant.id, request_id=request_id, **kw)


def ledger(database_url, request_id: str) -> list[dict]:
    with connect(database_url) as conn:
        return fetch_dicts(conn, "SELECT * FROM ai_usage WHERE request_id = %s ORDER BY attempt", (request_id,))


def test_failing_deployment_fails_over_to_the_next(server, two_deployments, sample_tenant, database_url):
    server.add_fault("server_error", model="a")
    result = LLMClient(two_deployments, database_url).complete_sync(request(sample_tenant, "r-failover"))

    assert result.status == "success" and result.deployment_id == "b"
    assert result.selection["modelId"] == "a"  # chosen first on quality per cost, then failed over
    rows = ledger(database_url, "r-failover")
    assert [(r["attempt"], r["deployment_id"], r["status"], r["error_class"]) for r in rows] == [
        (1, "a", "error", "ServerError"), (2, "a", "error", "ServerError"), (3, "b", "success", None)]
    assert len(server.requests_for("a")) == 2 and len(server.requests_for("b")) == 1
    assert result.attempts == 3


def test_timeout_is_retried_then_fails_over(server, tmp_path, sample_tenant, database_url):
    a = local_deployment("a", server.url, timeout_s=0.5)  # shorter than the hang
    path = write_catalogue(tmp_path / "models.yaml", {"writer": [a, local_deployment("b", server.url, price_in=3.0)]})
    server.add_fault("hang", model="a", count=1, hang_s=10)
    server.add_fault("server_error", model="a")
    result = LLMClient(load_catalogue(path), database_url).complete_sync(request(sample_tenant, "r-timeout"))
    assert result.status == "success" and result.deployment_id == "b"
    assert [r["error_class"] for r in ledger(database_url, "r-timeout")] == ["Timeout", "ServerError", None]


def test_retry_after_is_honoured(server, two_deployments, sample_tenant, database_url):
    server.add_fault("rate_limit", model="a", count=1, retry_after=1)
    result = LLMClient(two_deployments, database_url).complete_sync(request(sample_tenant, "r-429"))

    assert result.status == "success" and result.deployment_id == "a"
    first, second = server.requests_for("a")
    assert first.status == 429 and second.status == 200
    assert second.received_at - first.received_at >= 1.0  # waited at least Retry-After before asking again
    assert [r["error_class"] for r in ledger(database_url, "r-429")] == ["RateLimit", None]


def test_bad_request_fails_fast_without_fallback(server, two_deployments, sample_tenant, database_url):
    server.add_fault("bad_request", model="a")
    result = LLMClient(two_deployments, database_url).complete_sync(request(sample_tenant, "r-400"))

    assert result.status == "error" and result.error_class == "BadRequest"
    assert "not retried" in result.error_message
    assert len(server.requests_for("a")) == 1 and server.requests_for("b") == []
    assert len(ledger(database_url, "r-400")) == 1


def test_malformed_content_is_retried_then_accepted(server, two_deployments, sample_tenant, database_url):
    server.add_fault("bad_content", model="a", count=1)
    result = LLMClient(two_deployments, database_url).complete_sync(request(sample_tenant, "r-malformed-once"))
    assert result.status == "success" and result.deployment_id == "a"
    rows = ledger(database_url, "r-malformed-once")
    assert [(r["status"], r["error_class"]) for r in rows] == [("error", "MalformedResponse"), ("success", None)]
    assert rows[0]["response_text"] is None and rows[0]["cost_usd"] > 0  # the bad answer was paid for, not kept


def test_malformed_everywhere_is_reported_not_stored(server, two_deployments, sample_tenant, database_url):
    server.add_fault("bad_content", model="a")
    server.add_fault("bad_json", model="b")

    def must_have_title(text: str) -> dict:
        value = json.loads(text)
        if "title" not in value:
            raise ValueError("no title")
        return value

    result = LLMClient(two_deployments, database_url).complete_sync(
        request(sample_tenant, "r-malformed", validate=must_have_title))

    assert result.status == "error" and result.error_class == "MalformedResponse"
    assert result.text is None and result.parsed is None
    rows = ledger(database_url, "r-malformed")
    assert len(rows) == 4 and {r["status"] for r in rows} == {"error"}
    assert {r["error_class"] for r in rows} == {"MalformedResponse"}
    assert all(r["response_text"] is None for r in rows)
    # the server answered 'a' (valid envelope, bad content) so those attempts cost money; 'b' sent no usage
    assert [float(r["cost_usd"]) > 0 for r in rows] == [True, True, False, False]


def test_validator_rejection_is_retried(server, two_deployments, sample_tenant, database_url):
    result = LLMClient(two_deployments, database_url).complete_sync(
        request(sample_tenant, "r-validate", validate=lambda text: json.loads(text)["missing_key"]))
    assert result.status == "error" and result.error_class == "MalformedResponse"
    assert "missing_key" in result.error_message


def test_secrets_never_reach_the_ledger_or_errors(server, two_deployments, sample_tenant, database_url, monkeypatch):
    results = []
    server.add_fault("auth", model="a", count=1)  # the server repeats the presented key in its message
    results.append(LLMClient(two_deployments, database_url).complete_sync(request(sample_tenant, "r-auth")))
    results.append(LLMClient(two_deployments, database_url).complete_sync(request(sample_tenant, "r-ok")))
    assert results[0].status == "error" and results[0].error_class == "AuthError"
    assert "ALLIXIOS_LOCAL_LLM_KEY" in results[0].error_message  # names the fix
    assert results[1].status == "success"
    assert all(r.authorized for r in server.requests if r.fault is None)  # the key did reach the provider

    with connect(database_url) as conn:
        dump = json.dumps([fetch_dicts(conn, f"SELECT * FROM {t}") for t in
                           ("ai_usage", "model_selections", "circuit_breakers", "ai_budget_reservations")], default=str)
    dump += json.dumps([r.__dict__ for r in results], default=str)
    assert KEY not in dump and KEY[:12] not in dump
    assert "[REDACTED]" in dump


@pytest.mark.slow
def test_circuit_opens_and_is_shared_across_processes(server, tmp_path, sample_tenant, database_url):
    a = local_deployment("a", server.url, price_in=1.0, price_out=2.0)
    b = local_deployment("b", server.url, price_in=3.0, price_out=6.0)
    path = write_catalogue(tmp_path / "models.yaml", {"writer": [a, b]}, circuit_failure_threshold=3,
                           circuit_cooldown_s=2, max_attempts_per_deployment=3)
    server.add_fault("server_error", model="a")
    client = LLMClient(load_catalogue(path), database_url)
    first = client.complete_sync(request(sample_tenant, "c-1"))
    assert first.status == "success" and first.deployment_id == "b"
    with connect(database_url) as conn:
        state, failures = conn.execute(
            "SELECT state, consecutive_failures FROM circuit_breakers WHERE deployment_id = 'a'").fetchone()
    assert (state, failures) == ("open", 3)
    hits_on_a = len(server.requests_for("a"))

    script = textwrap.dedent(f"""
        import json, uuid
        from allixios.ai.catalogue import load_catalogue
        from allixios.ai.client import CompletionRequest, LLMClient
        r = LLMClient(load_catalogue({str(path)!r})).complete_sync(CompletionRequest(
            task="writer", messages=[{{"role": "user", "content": "hi"}}],
            tenant_id=uuid.UUID({str(sample_tenant.id)!r}), request_id=__import__("sys").argv[1]))
        print(json.dumps({{"status": r.status, "deployment": r.deployment_id, "reasoning": r.selection["reasoning"]}}))
    """)

    def other_process(request_id: str) -> dict:
        out = subprocess.run([sys.executable, "-c", script, request_id], capture_output=True, text=True,
                             timeout=120, env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
        assert out.returncode == 0, out.stderr[-2000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    seen = other_process("c-2")  # another process skips the open circuit without calling 'a'
    assert seen["status"] == "success" and seen["deployment"] == "b"
    assert "a (circuit open)" in seen["reasoning"]
    assert len(server.requests_for("a")) == hits_on_a

    server.clear_faults()  # 'a' recovers; after the cooldown one probe closes its circuit
    with connect(database_url) as conn:
        opened_at = conn.execute("SELECT opened_at FROM circuit_breakers WHERE deployment_id = 'a'").fetchone()[0]
        while conn.execute("SELECT clock_timestamp() - %s < interval '2 seconds'", (opened_at,)).fetchone()[0]:
            time.sleep(0.2)
    probe = other_process("c-3")
    assert probe["status"] == "success" and probe["deployment"] == "a"
    with connect(database_url) as conn:
        assert conn.execute("SELECT state, consecutive_failures FROM circuit_breakers WHERE deployment_id = 'a'"
                            ).fetchone() == ("closed", 0)


def test_open_circuit_on_the_only_deployment_is_reported(server, two_deployments, sample_tenant, database_url):
    server.add_fault("server_error", model="a-solo")
    client = LLMClient(two_deployments, database_url)
    results = [client.complete_sync(request(sample_tenant, f"solo-{i}", task="solo")) for i in range(3)]
    # threshold 3, two attempts per request: the circuit opens during the second request
    assert [r.status for r in results] == ["error", "error", "circuit_open"]
    assert len(server.requests_for("a-solo")) == 3
    rows = ledger(database_url, "solo-2")
    assert [(r["status"], r["error_class"]) for r in rows] == [("circuit_open", "CircuitOpen")]


def test_failed_half_open_probe_reopens_the_circuit(server, tmp_path, sample_tenant, database_url):
    path = write_catalogue(tmp_path / "models.yaml", {"solo": [local_deployment("a", server.url)]},
                           circuit_failure_threshold=2, circuit_cooldown_s=0.5, max_attempts_per_deployment=2)
    server.add_fault("server_error", model="a")
    client = LLMClient(load_catalogue(path), database_url)
    assert client.complete_sync(request(sample_tenant, "h-1", task="solo")).status == "error"
    with connect(database_url) as conn:
        first_open = conn.execute("SELECT opened_at FROM circuit_breakers WHERE deployment_id = 'a'").fetchone()[0]
        while conn.execute("SELECT clock_timestamp() - %s < interval '0.5 seconds'", (first_open,)).fetchone()[0]:
            time.sleep(0.1)
    before = len(server.requests_for("a"))
    probe = client.complete_sync(request(sample_tenant, "h-2", task="solo"))
    assert probe.status == "error" and len(server.requests_for("a")) == before + 1  # one probe, no retries
    with connect(database_url) as conn:
        state, reopened = conn.execute("SELECT state, opened_at FROM circuit_breakers WHERE deployment_id = 'a'").fetchone()
    assert state == "open" and reopened > first_open
