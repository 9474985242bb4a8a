"""Model selection (selectOptimalModel): quality per cost under constraints, learning from scored articles."""

import pytest

from allixios.ai.catalogue import load_catalogue
from allixios.ai.selection import NoModelAvailableError, rank, select_model
from allixios.db.engine import fetch_dicts
from allixios.errors import ConfigError
from allixios.testing.catalogues import local_deployment, write_catalogue

MESSAGES = [{"role": "user", "content": "Write a practical guide to composting at home."}]


@pytest.fixture
def catalogue(tmp_path, monkeypatch):
    monkeypatch.setenv("ALLIXIOS_LOCAL_LLM_KEY", "k")
    url = "http://127.0.0.1:9/v1"  # never called: selection only estimates
    deployments = [
        local_deployment("premium", url, price_in=20, price_out=40, quality=95, latency_ms=30000),
        local_deployment("mid", url, price_in=2, price_out=4, quality=90, latency_ms=5000),
        local_deployment("cheap", url, price_in=1, price_out=2, quality=70, latency_ms=3000),
    ]
    return load_catalogue(write_catalogue(tmp_path / "models.yaml", {"writer": deployments}, min_history_articles=3))


def test_prior_ranks_by_quality_per_cost(catalogue):
    selection = rank(catalogue, "writer", MESSAGES, expected_output_tokens=1000)
    assert [c.deployment.id for c in selection.ranked] == ["cheap", "mid", "premium"]
    record = selection.as_record()
    assert set(record) == {"modelId", "provider", "estimatedCost", "estimatedQuality", "reasoning"}
    assert (record["modelId"], record["provider"], record["estimatedQuality"]) == ("cheap", "openai", 70.0)
    tokens_in = selection.chosen.estimate.tokens_in
    assert record["estimatedCost"] == pytest.approx((tokens_in * 1 + 1000 * 2) / 1e6)
    assert "prior" in record["reasoning"] and "fallbacks mid, premium" in record["reasoning"]


def test_constraints_exclude_deployments(catalogue):
    by_latency = rank(catalogue, "writer", MESSAGES, max_latency_ms=4000)
    assert [c.deployment.id for c in by_latency.ranked] == ["cheap"]
    assert "typical latency 5000 ms > max 4000 ms" in by_latency.excluded["mid"]
    by_quality = rank(catalogue, "writer", MESSAGES, min_quality=85)
    assert by_quality.chosen.deployment.id == "mid"
    by_cost = rank(catalogue, "writer", MESSAGES, expected_output_tokens=1000, max_cost_usd=0.005)
    assert {c.deployment.id for c in by_cost.ranked} == {"cheap", "mid"}
    with pytest.raises(NoModelAvailableError, match="cheap: estimated .* > max") as info:
        rank(catalogue, "writer", MESSAGES, max_cost_usd=1e-9)
    assert "relax max cost" in info.value.one_line()


def _articles(conn, tenant_id, niche_id, model: str, scores: list[int]) -> None:
    for i, score in enumerate(scores):
        conn.execute(
            """INSERT INTO articles (tenant_id, title, slug, niche_id, ai_model_used, content_quality_score)
               VALUES (%s, %s, %s, %s, %s, %s)""",
            (tenant_id, f"{model} {i}", f"{model}-{niche_id}-{i}", niche_id, model, score),
        )


def test_history_overrides_the_prior_per_niche_once_enough_exists(conn, sample_tenant, catalogue):
    niches = [r[0] for r in conn.execute("SELECT id FROM niches WHERE tenant_id = %s ORDER BY slug", (sample_tenant.id,))]
    poor, other = niches[0], niches[1]
    _articles(conn, sample_tenant.id, poor, "cheap", [30, 40, 20])  # mean 30 from 3 scored articles
    _articles(conn, sample_tenant.id, other, "openai/cheap", [25, 35])  # only 2: the prior still rules there

    learned = select_model(conn, catalogue, "writer", MESSAGES, tenant_id=sample_tenant.id, niche_id=poor, run_id="r1")
    assert learned.chosen.deployment.id == "mid"
    cheap = next(c for c in learned.ranked if c.deployment.id == "cheap")
    assert (cheap.quality, cheap.quality_source) == (30.0, "history (n=3)")

    prior = select_model(conn, catalogue, "writer", MESSAGES, tenant_id=sample_tenant.id, niche_id=other)
    assert prior.chosen.deployment.id == "cheap" and prior.chosen.quality_source == "prior"

    rows = fetch_dicts(conn, "SELECT niche_id, run_id, model_id, provider, estimated_quality, reasoning FROM model_selections ORDER BY id")
    assert [(r["niche_id"], r["model_id"], float(r["estimated_quality"])) for r in rows] == [(poor, "mid", 90.0), (other, "cheap", 70.0)]
    assert rows[0]["run_id"] == "r1" and "history (n=3)" not in rows[0]["reasoning"]  # mid itself has no history


def test_stand_ins_serve_only_when_no_real_deployment_has_a_key(tmp_path, monkeypatch):
    real = local_deployment("real", "http://127.0.0.1:9/v1", api_key_env="ALLIXIOS_TEST_REAL_KEY")
    stand_in = {"id": "offline", "model": "offline/writer", "stand_in": True, "price": {"input": 0.05, "output": 0.2}}
    path = write_catalogue(tmp_path / "models.yaml", {"writer": [real, stand_in]})
    monkeypatch.delenv("ALLIXIOS_TEST_REAL_KEY", raising=False)
    assert [d.id for d in load_catalogue(path).usable("writer")] == ["offline"]
    monkeypatch.setenv("ALLIXIOS_TEST_REAL_KEY", "k")
    assert [d.id for d in load_catalogue(path).usable("writer")] == ["real"]
    key_file = tmp_path / "key"
    key_file.write_text("from-a-file\n")
    monkeypatch.delenv("ALLIXIOS_TEST_REAL_KEY")
    monkeypatch.setenv("ALLIXIOS_TEST_REAL_KEY_FILE", str(key_file))
    assert [d.id for d in load_catalogue(path).usable("writer")] == ["real"]


@pytest.mark.parametrize("text, message", [
    ("aliases: {writer: []}", "has no deployments"),
    ("aliases: {writer: [{id: x}]}", "has no model"),
    ("aliases: {writer: [{id: x, model: openai/x, price: 3}]}", "price must be"),
    ("aliases: {writer: [{id: x, model: openai/x, api_key_env: sk-abcdef}]}", "looks like a key"),
    ("aliases: {writer: [{id: x, model: openai/x}, {id: x, model: openai/y}]}", "used twice"),
    ("aliases: {writer: [{id: x, model: openai/x, quality_prior: 120}]}", "outside 0-100"),
    ("defaults: {retries: 3}\naliases: {writer: [{id: x, model: openai/x}]}", "unknown defaults"),
    ("aliases: [", "not valid YAML"),
])
def test_bad_catalogues_name_the_fix(tmp_path, text, message):
    path = tmp_path / "models.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_catalogue(path)
    assert "fix:" in info.value.one_line()


def test_unknown_alias_names_the_known_ones(catalogue):
    with pytest.raises(ConfigError, match="'poet' is not in the catalogue") as info:
        catalogue.deployments("poet")
    assert "use one of writer" in info.value.one_line()
