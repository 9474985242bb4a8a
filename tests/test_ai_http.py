"""The local OpenAI-compatible server itself, embeddings over HTTP, and concurrency through the client."""

import httpx
import pytest

from allixios.ai.catalogue import load_catalogue
from allixios.ai.client import CompletionRequest, LLMClient
from allixios.ai.embeddings import EmbeddingError, get_embedder
from allixios.ai.offline_embedder import embed_text
from allixios.testing.catalogues import local_deployment, write_catalogue
from allixios.testing.llm_server import LocalLLMServer


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("ALLIXIOS_LOCAL_LLM_KEY", "local-key")
    with LocalLLMServer() as s:
        yield s


def test_admin_endpoint_sets_faults_and_shows_the_log(server):
    with httpx.Client(base_url=server.url.removesuffix("/v1")) as http:
        assert http.post("/admin/faults", json=[{"kind": "rate_limit", "count": 1, "retry_after": 3}]).status_code == 200
        first = http.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        second = http.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        per_request = http.post("/v1/chat/completions", headers={"X-Fault": "server_error"},
                                json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        bad = http.post("/admin/faults", json=[{"kind": "meteor"}])
        log = http.get("/admin/requests").json()
    assert (first.status_code, first.headers["retry-after"]) == (429, "3")
    assert second.status_code == 200 and second.json()["usage"]["completion_tokens"] > 0
    assert per_request.status_code == 500
    assert bad.status_code == 400 and "unknown fault kind" in bad.text
    assert [entry["status"] for entry in log] == [429, 200, 500]


def test_brief_prompts_are_answered_by_the_offline_writer(server):
    from allixios.content.offline_writer import respond

    messages = [{"role": "user", "content": 'BRIEF_JSON: {"title": "Composting at Home", "primary_keyphrase": "composting at home", "niche": "Home Gardening"}'}]
    reply = httpx.post(f"{server.url}/chat/completions", json={"model": "m", "messages": messages}).json()
    assert reply["choices"][0]["message"]["content"] == respond(messages)


@pytest.fixture
def embed_catalogue(server, tmp_path):
    emb = local_deployment("emb", server.url, model="local-embedding", price_in=0.5, price_out=0, dimension=384)
    bad = local_deployment("emb-bad", server.url, model="local-embedding", price_in=0.5, price_out=0, dimension=1536)
    return load_catalogue(write_catalogue(tmp_path / "models.yaml", {"embedder": [emb], "wrong_dim": [bad]}))


def test_embeddings_over_http_with_retry(server, embed_catalogue):
    server.add_fault("server_error", endpoint="embeddings", count=1)
    embedder = get_embedder(catalogue=embed_catalogue)
    assert (embedder.model, embedder.dimension, embedder.is_offline_stand_in) == ("openai/local-embedding", 384, False)
    vectors = embedder.embed(["raised garden beds", "index funds"])
    assert vectors[1] == pytest.approx(embed_text("index funds"))  # the server embeds with the same hashing
    assert [r.status for r in server.requests] == [500, 200]
    assert embedder.tokens_used == sum(r.prompt_tokens for r in server.requests)


def test_embedding_dimension_mismatch_names_the_fix(server, embed_catalogue):
    with pytest.raises(EmbeddingError, match="expected 1536") as info:
        get_embedder("wrong_dim", catalogue=embed_catalogue).embed(["x"])
    assert "set dimension:" in info.value.one_line()


def test_client_runs_32_requests_concurrently_against_200ms_latency(server, tmp_path, sample_tenant, database_url):
    server.latency_ms = 200
    catalogue = load_catalogue(write_catalogue(tmp_path / "models.yaml", {"writer": [local_deployment("a", server.url)]}))
    reqs = [CompletionRequest(task="writer", messages=[{"role": "user", "content": f"n{i}"}], tenant_id=sample_tenant.id,
                              request_id=f"conc-{i}") for i in range(64)]
    results = LLMClient(catalogue, database_url).complete_many_sync(reqs, concurrency=32)
    assert all(r.ok for r in results) and len(server.requests) == 64
    # the bounded semaphore lets 32 through at once and the server serves them side by side
    assert 16 <= server.max_in_flight <= 32
