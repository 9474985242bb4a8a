"""Stand-in articles carry a marker in their stored metadata that the API, the site and the marts show.

The marker (articles.metadata.stand_in) follows the text: the offline writer's draft or revision
sets it, a real model's revision (over real HTTP to the local OpenAI-compatible server) drops it,
a person's import never has it.
"""

from __future__ import annotations

import pytest

from allixios.ai.catalogue import load_catalogue
from allixios.ai.client import LLMClient
from allixios.content import pipeline
from allixios.content.article_drafts import insert_article
from allixios.content.revision import revise_articles
from allixios.db.engine import connect
from allixios.tenants import add_niche, ensure_tenant
from allixios.testing.catalogues import local_deployment, write_catalogue
from allixios.testing.llm_server import LocalLLMServer
from tests.api_support import ServerThread, client, make_world, truncate
from tests.real_posts import load_posts, trimmed

DAY = "2026-11-05"
POST = load_posts()["focus-on-accessibility"]


@pytest.fixture
def part(db, monkeypatch):
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    with connect(db) as conn:
        tenant = ensure_tenant(conn, "gov")
        niche = add_niche(conn, tenant, "web", "Government Web Practice", ["accessibility"], daily_quota=5)
        return pipeline.resolve_partition(conn, DAY, niche.partition_key)


def _meta(conn, article_id) -> dict:
    return conn.execute("SELECT metadata FROM articles WHERE id = %s", (article_id,)).fetchone()[0]


def test_the_marker_follows_who_wrote_the_current_text(db, part, tmp_path, monkeypatch):
    with connect(db) as conn:
        standin_id, _ = insert_article(conn, part, None, POST.draft(body=trimmed(POST.body, 2), slug="a11y-standin"),
                                       model="offline/writer", prompt_version="draft_v1", cost_usd=0.0, actor="pipeline")
        human_id, _ = insert_article(conn, part, None, POST.draft(slug="a11y-human"), model=None, prompt_version=None,
                                     cost_usd=0.0, actor="importer")
        assert _meta(conn, standin_id) == {"stand_in": {"writer": "offline", "model": "offline/writer", "version": 1}}
        assert "stand_in" not in _meta(conn, human_id)
        pipeline.score_partition(conn, part)

    # a stand-in's revision of a person's text: now the text is (partly) the stand-in's
    [out] = revise_articles(LLMClient(database_url=db), [human_id], database_url=db)
    with connect(db) as conn:
        assert _meta(conn, human_id)["stand_in"] == {"writer": "offline", "model": "offline/writer", "version": out.version}

    # a real model's revision (a real HTTP provider) drops the marker
    monkeypatch.setenv("ALLIXIOS_LOCAL_LLM_KEY", "local-test-key")
    with LocalLLMServer() as server:  # answers BRIEF_JSON prompts the way a writer model would
        catalogue = load_catalogue(write_catalogue(tmp_path / "models.yaml",
                                                   {"writer": [local_deployment("writer-a", server.url)]}))
        [out] = revise_articles(LLMClient(catalogue, database_url=db), [standin_id], database_url=db)
    assert out.status == "revised", out
    with connect(db) as conn:
        assert "stand_in" not in _meta(conn, standin_id)
        model = conn.execute("SELECT ai_model_used FROM articles WHERE id = %s", (standin_id,)).fetchone()[0]
    assert model == "openai/writer-a"


def test_the_api_shows_the_marker_and_the_judge_line(database_url, monkeypatch):
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    truncate(database_url)
    world = make_world(database_url, "alpha")  # a person's article
    with connect(database_url) as conn:
        conn.execute("""UPDATE articles SET metadata = metadata || '{"stand_in": {"writer": "offline",
                        "model": "offline/writer", "version": 1}}' WHERE id = %s""", (world.article_id,))
    from allixios.api.app import create_app

    with ServerThread(create_app(dispatch=False)) as server, client(server.url, world.keys["viewer"]) as http:
        one = http.get(f"/v1/articles/{world.article_id}")
        listing = http.get("/v1/articles")
    assert one.status_code == 200, one.text
    assert one.json()["stand_in"] == {"writer": "offline", "model": "offline/writer", "version": 1}
    assert one.json()["judge"]["line"] == "judge: not configured"
    assert [a["stand_in"] for a in listing.json()["items"]] == [True]


def test_make_run_summary_names_every_stand_in(db, monkeypatch):
    from allixios_assets.runner import stand_in_lines

    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    with connect(db) as conn:
        ensure_tenant(conn, "sample")
        lines = stand_in_lines(conn, "sample")
    assert lines[0].startswith("writer: offline/writer — OFFLINE STAND-IN") and "0 of 0 articles" in lines[0]
    assert lines[1] == "embedder: offline/minilm-l6-v2-int8 (real model, run locally)"
    assert lines[2].startswith("traffic: simulated below — STAND-IN")
    assert lines[3] == "judge: not configured (no LLM-judged assessment)"
