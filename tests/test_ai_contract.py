"""The AI contract on the offline path: Router -> offline provider -> ledger, replay, resources, embedder."""

import json
import math

import dagster as dg
import pytest

from allixios.ai import offline_provider
from allixios.ai.catalogue import load_catalogue
from allixios.ai.client import CompletionRequest, CompletionResult, LLMClient
from allixios.ai.embeddings import get_embedder
from allixios.ai.offline_embedder import embed_text
from allixios.db.engine import connect, fetch_dicts
from resources import resource_defs
from resources.embeddings import EmbeddingsResource
from resources.llm import LLMResource


def placeholder_respond(messages: list[dict]) -> str:
    """Stand-in for allixios.content.offline_writer.respond in this test only: echoes the prompt as JSON."""
    prompt = messages[-1]["content"]
    return json.dumps({"title": f"About {prompt}", "body": "word " * 40})


@pytest.fixture
def offline_writer():
    offline_provider.set_responder("writer", placeholder_respond)
    yield
    offline_provider.set_responder("writer", None)


@pytest.fixture(autouse=True)
def no_real_keys(monkeypatch):
    # the offline path must not depend on whoever runs the tests having provider keys
    for env in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ALLIXIOS_MODELS_FILE"):
        monkeypatch.delenv(env, raising=False)


def _request(tenant, request_id: str, prompt: str = "compost") -> CompletionRequest:
    return CompletionRequest(task="writer", messages=[{"role": "user", "content": prompt}], tenant_id=tenant.id,
                             request_id=request_id, run_id="run-1")


def test_offline_completion_goes_through_router_and_lands_in_ledger(sample_tenant, offline_writer, database_url):
    client = LLMClient(database_url=database_url)
    result = client.complete_sync(_request(sample_tenant, "draft:t1"))

    assert isinstance(result, CompletionResult)
    assert result.status == "success", result.error_message
    assert result.parsed["title"] == "About compost"
    assert (result.deployment_id, result.model, result.provider) == ("offline-writer", "offline/writer", "offline")
    assert result.tokens_in > 0 and result.tokens_out > 0
    d = load_catalogue().deployment("offline-writer")
    expected = (result.tokens_in * d.input_price_per_mtok + result.tokens_out * d.output_price_per_mtok) / 1e6
    assert math.isclose(result.cost_usd, expected, rel_tol=1e-6)
    assert result.selection["modelId"] == "offline-writer"
    assert "OPENAI_API_KEY not set" in result.selection["reasoning"]

    with connect(database_url) as conn:
        rows = fetch_dicts(conn, "SELECT * FROM ai_usage WHERE request_id = 'draft:t1'")
        selections = fetch_dicts(conn, "SELECT * FROM model_selections")
    assert len(rows) == 1
    row = rows[0]
    assert (row["status"], row["attempt"], row["tenant_id"], row["run_id"]) == ("success", 1, sample_tenant.id, "run-1")
    assert (row["tokens_in"], row["tokens_out"]) == (result.tokens_in, result.tokens_out)
    assert math.isclose(float(row["cost_usd"]), result.cost_usd, rel_tol=1e-6)
    assert len(selections) == 1 and selections[0]["model_id"] == "offline-writer"
    assert float(selections[0]["estimated_quality"]) == 70.0


def test_repeated_request_is_answered_from_the_ledger(sample_tenant, offline_writer, database_url):
    calls = []

    def counting(messages):
        calls.append(messages)
        return placeholder_respond(messages)

    offline_provider.set_responder("writer", counting)
    client = LLMClient(database_url=database_url)
    first = client.complete_sync(_request(sample_tenant, "draft:same"))
    second = client.complete_sync(_request(sample_tenant, "draft:same"))
    assert first.status == second.status == "success"
    assert second.replayed and not first.replayed
    assert second.text == first.text and second.cost_usd == first.cost_usd
    assert len(calls) == 1
    with connect(database_url) as conn:
        n, cost = conn.execute("SELECT count(*), sum(cost_usd) FROM ai_usage WHERE request_id = 'draft:same'").fetchone()
    assert n == 1 and math.isclose(float(cost), first.cost_usd, rel_tol=1e-6)


def test_complete_many_runs_each_request_once(sample_tenant, offline_writer, database_url):
    client = LLMClient(database_url=database_url, concurrency=4)
    reqs = [_request(sample_tenant, f"draft:{i}", f"topic {i}") for i in range(12)]
    results = client.complete_many_sync(reqs)
    assert [r.parsed["title"] for r in results] == [f"About topic {i}" for i in range(12)]
    with connect(database_url) as conn:
        assert conn.execute("SELECT count(DISTINCT request_id), count(*) FROM ai_usage").fetchone() == (12, 12)


def test_resources_are_bound_and_usable_from_an_asset(sample_tenant, offline_writer, database_url):
    defs = resource_defs()
    assert isinstance(defs["llm"], LLMResource) and isinstance(defs["embeddings"], EmbeddingsResource)

    @dg.asset
    def probe(llm: LLMResource, embeddings: EmbeddingsResource) -> dg.MaterializeResult:
        result = llm.client().complete_sync(_request(sample_tenant, "asset:probe"))
        vectors = embeddings.embedder().embed(["raised beds"])
        return dg.MaterializeResult(metadata={"status": result.status, "dims": len(vectors[0])})

    out = dg.materialize([probe], resources={"llm": LLMResource(), "embeddings": EmbeddingsResource()})
    assert out.success
    meta = out.asset_materializations_for_node("probe")[0].metadata
    assert meta["status"].value == "success" and meta["dims"].value == 384


def test_keyless_default_embedder_is_the_local_minilm_model(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    embedder = get_embedder()
    assert (embedder.model, embedder.dimension, embedder.is_offline_stand_in) == ("offline/minilm-l6-v2-int8", 384, False)
    assert embedder.deployment.similarity.topic_duplicate == 0.75 and embedder.deployment.similarity.search_min == 0.2


def test_offline_embedder_through_litellm_matches_the_stand_in(sample_tenant, database_url):
    embedder = get_embedder("embedder_hashing")  # the stand-in is only ever an explicit choice
    assert (embedder.model, embedder.dimension, embedder.is_offline_stand_in) == ("offline/hashing-384", 384, True)
    texts = ["Composting at home without the smell", "Index funds explained", ""]
    vectors = embedder.embed(texts, tenant_id=sample_tenant.id, request_id="embed:a1")
    assert len(vectors) == 3 and all(len(v) == 384 for v in vectors)
    assert vectors[0] == pytest.approx(embed_text(texts[0]))
    embedder.embed(texts, tenant_id=sample_tenant.id, request_id="embed:a1")  # re-run: no second ledger row
    with connect(database_url) as conn:
        rows = fetch_dicts(conn, "SELECT task, model, tokens_in, cost_usd FROM ai_usage WHERE request_id = 'embed:a1'")
    assert len(rows) == 1 and rows[0]["model"] == "offline/hashing-384" and rows[0]["tokens_in"] > 0


def test_estimate_and_batch_summary_for_asset_metadata(sample_tenant, offline_writer, database_url):
    from allixios.ai.client import summarize_results

    client = LLMClient(database_url=database_url)
    estimate = client.estimate_cost(_request(sample_tenant, "est"))
    assert estimate.deployment_id == "offline-writer" and 0 < estimate.expected_usd < estimate.reserve_usd
    first = client.complete_many_sync([_request(sample_tenant, f"sum:{i}") for i in range(3)])
    again = client.complete_many_sync([_request(sample_tenant, f"sum:{i}") for i in range(4)])  # 3 replayed + 1 new
    summary = summarize_results(again)
    assert (summary["requests"], summary["succeeded"], summary["replayed"]) == (4, 4, 3)
    assert summary["cost_usd"] == pytest.approx(again[3].cost_usd)
    assert summarize_results(first)["cost_usd"] == pytest.approx(sum(r.cost_usd for r in first))
    assert "| offline-writer | 4 | 4 |" in summary["by_model_markdown"]
