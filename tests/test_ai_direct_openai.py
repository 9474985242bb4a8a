"""The direct path to OpenAI-compatible servers (allixios.ai.openai_direct) against litellm's, over
real HTTP and the real ledger: the same request on the wire and the same outcome of every fault."""

import asyncio

import pytest

from allixios.ai import openai_direct
from allixios.ai.catalogue import Deployment, load_catalogue
from allixios.ai.client import CompletionRequest, LLMClient
from allixios.db.engine import connect, fetch_dicts
from allixios.testing.catalogues import local_deployment, write_catalogue
from allixios.testing.llm_server import LocalLLMServer

KEY = "sk-direct-5e4d3c2b1a09f8e7"
PATHS = {"direct": True, "litellm": False}


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("ALLIXIOS_LOCAL_LLM_KEY", KEY)
    with LocalLLMServer(required_key=KEY, echo_key_in_errors=True) as s:
        yield s


def catalogue(server, tmp_path, direct: bool, suffix: str = "", **a_extra):
    """writer = a then b; ``suffix`` keeps each path's deployments (and so their circuits) apart."""
    a = local_deployment(f"a{suffix}", server.url, model="a", price_in=1.0, price_out=2.0, quality=80, **a_extra)
    b = local_deployment(f"b{suffix}", server.url, model="b", price_in=3.0, price_out=6.0, quality=80)
    return load_catalogue(write_catalogue(tmp_path / f"models-{direct}.yaml", {"writer": [a, b]},
                                          direct_openai_compatible=direct))


def request(tenant, request_id: str, topic: str | None = None, **kw) -> CompletionRequest:
    return CompletionRequest(task="writer", messages=[{"role": "user", "content": f"write about {topic or request_id}"}],
                             tenant_id=tenant.id, request_id=request_id, **kw)


def ledger(database_url, request_id: str) -> list[tuple]:
    with connect(database_url) as conn:
        rows = fetch_dicts(conn, "SELECT * FROM ai_usage WHERE request_id = %s ORDER BY attempt", (request_id,))
    return [(r["deployment_id"].split("-")[0], r["status"], r["error_class"], r["tokens_in"] > 0, float(r["cost_usd"]) > 0) for r in rows]


def test_only_self_hosted_openai_compatible_servers_take_the_direct_path():
    assert openai_direct.eligible(Deployment("a", "w", "openai/m", api_base="http://127.0.0.1:9/v1"))
    assert not openai_direct.eligible(Deployment("a", "w", "openai/m", api_base="http://127.0.0.1:9/v1"), enabled=False)
    # hosted OpenAI: litellm knows its per-model quirks (max_completion_tokens for reasoning models)
    assert not openai_direct.eligible(Deployment("a", "w", "openai/gpt-4o-mini"))
    assert not openai_direct.eligible(Deployment("a", "w", "anthropic/claude-3-5-haiku", api_base="http://127.0.0.1:9"))
    assert not openai_direct.eligible(Deployment("a", "w", "offline/writer", stand_in=True))


def test_the_direct_path_sends_what_litellm_sends(server, tmp_path, sample_tenant, database_url):
    bodies = {}
    for name, direct in PATHS.items():
        cat = catalogue(server, tmp_path, direct, default_params={"temperature": 0.3, "seed": 11})
        server.clear_log()
        result = LLMClient(cat, database_url).complete_sync(request(sample_tenant, f"same-{name}", "compost",
                                                                          json_response=True))
        assert result.ok and result.deployment_id == "a"  # its circuit is closed: run first on each path
        (logged,) = server.requests_for("a")
        assert logged.authorized  # the key reached the server as a bearer token on both paths
        bodies[name] = logged.body
    wanted = ("model", "messages", "max_tokens", "response_format", "temperature", "seed")
    assert {k: bodies["direct"].get(k) for k in wanted} == {k: bodies["litellm"].get(k) for k in wanted}
    assert bodies["direct"]["model"] == "a" and bodies["direct"]["temperature"] == 0.3


def test_a_server_extension_parameter_goes_in_the_body(server, tmp_path, sample_tenant, database_url):
    cat = catalogue(server, tmp_path, True, default_params={"top_k": 40})
    assert LLMClient(cat, database_url).complete_sync(request(sample_tenant, "ext")).ok
    assert server.requests_for("a")[0].body["top_k"] == 40  # vLLM's sampling extension, as extra_body


@pytest.mark.parametrize("faults, expected", [
    ([("rate_limit", {"count": 1, "retry_after": 0.2})], [("a", "error", "RateLimit"), ("a", "success", None)]),
    ([("server_error", {})], [("a", "error", "ServerError"), ("a", "error", "ServerError"), ("b", "success", None)]),
    ([("bad_json", {"count": 1})], [("a", "error", "MalformedResponse"), ("a", "success", None)]),
    ([("bad_content", {"count": 1})], [("a", "error", "MalformedResponse"), ("a", "success", None)]),
    ([("bad_request", {})], [("a", "error", "BadRequest")]),
    ([("auth", {})], [("a", "error", "AuthError")]),
], ids=["429", "500", "unreadable-body", "bad-content", "400", "401"])
def test_every_fault_ends_the_same_on_both_paths(server, tmp_path, sample_tenant, database_url, faults, expected):
    outcomes = {}
    for name, direct in PATHS.items():
        server.clear_faults()
        for kind, options in faults:
            server.add_fault(kind, model="a", **options)
        rid = f"fault-{faults[0][0]}-{name}"
        cat = catalogue(server, tmp_path, direct, suffix=f"-{name}")
        result = LLMClient(cat, database_url).complete_sync(request(sample_tenant, rid))
        rows = ledger(database_url, rid)
        assert [row[:3] for row in rows] == expected, name
        assert KEY not in (result.error_message or "")  # the server echoes the key into its errors
        outcomes[name] = (result.status, result.error_class, rows)
    assert outcomes["direct"] == outcomes["litellm"]


def test_a_timeout_is_a_timeout_on_the_direct_path(server, tmp_path, sample_tenant, database_url):
    cat = catalogue(server, tmp_path, True, timeout_s=0.5)
    server.add_fault("hang", model="a", count=1, hang_s=5)
    result = LLMClient(cat, database_url).complete_sync(request(sample_tenant, "direct-timeout"))
    assert result.ok and [row[:3] for row in ledger(database_url, "direct-timeout")] == [
        ("a", "error", "Timeout"), ("a", "success", None)]


def test_connections_are_reused_and_closed_with_their_loop(server, tmp_path, sample_tenant, database_url):
    client = LLMClient(catalogue(server, tmp_path, True), database_url)

    async def two_batches():
        for batch in range(2):
            reqs = [request(sample_tenant, f"reuse-{batch}-{i}") for i in range(4)]
            assert all(r.ok for r in await client.complete_many(reqs, concurrency=4))
        return len(client._direct._clients)

    assert asyncio.run(two_batches()) == 1  # one SDK client (one connection pool) for the server
    assert len(server.requests_for("a")) == 8
    assert client.complete_many_sync([request(sample_tenant, "reuse-sync")]) [0].ok
    assert client._direct._clients == {}  # the sync entry point closed its loop's connections
