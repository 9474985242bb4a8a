"""Competitor content gaps: a competitor's sitemap in the landing folder becomes topics for what the
tenant does not cover; covered pages and bad files are accounted for; the topic then goes through
the duplicate guard of topic selection and is drafted like any other.

Real database, the real embedder (MiniLM) in the duplicate guard, the real Dagster asset.
"""

from __future__ import annotations

import dagster as dg
import pytest

from allixios.ai.client import LLMClient
from allixios.ai.embeddings import get_embedder
from allixios.automation.content_gaps import competitors_dir, topics_from_gaps
from allixios.content import pipeline
from allixios.content.topics import TopicInput, add_topics
from allixios.db.engine import connect, fetch_dicts
from allixios.tenants import add_niche, ensure_tenant

DAY = "2026-11-05"
SITEMAP = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://rival.example/blog/growing-tomatoes-in-containers/</loc><priority>0.9</priority></url>
  <url><loc>https://rival.example/blog/how-to-grow-garlic-in-pots</loc><priority>0.8</priority></url>
  <url><loc>https://rival.example/blog/overwintering-dahlia-tubers.html</loc></url>
  <url><loc>https://rival.example/</loc></url>
</urlset>
"""


@pytest.fixture(autouse=True)
def offline_only(monkeypatch):
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def garden(db):
    with connect(db) as conn:
        tenant = ensure_tenant(conn, "acme")
        niche = add_niche(conn, tenant, "garden", "Home Gardening", ["raised beds"], daily_quota=1)
        add_topics(conn, niche, [TopicInput("Growing Tomatoes in Containers", (), "container tomatoes", 90)])
    llm, embedder = LLMClient(database_url=db), get_embedder(database_url=db)
    with connect(db) as conn:
        part = pipeline.resolve_partition(conn, DAY, niche.partition_key)
        pipeline.select_topics(conn, part, embedder, llm=llm, research="never", run_id="test")
    with connect(db) as conn:
        pipeline.draft_articles(conn, part, llm, run_id="test")
    with connect(db) as conn:
        pipeline.score_partition(conn, part)
        pipeline.embed_partition(conn, part, embedder, run_id="test")
    folder = competitors_dir() / "acme" / "garden"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rival.xml").write_text(SITEMAP)
    (folder / "broken.xml").write_text("<urlset><url><loc>https://x.example/a-b")
    (folder / "index.xml").write_text('<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"/>')
    yield tenant, niche, llm, embedder
    for f in folder.iterdir():
        f.unlink()


def test_a_competitor_gap_becomes_a_topic_through_the_duplicate_guard(garden, db):
    tenant, niche, llm, embedder = garden
    from allixios_assets.maintenance.upkeep import content_gaps
    from resources.warehouse import WarehouseResource

    def materialize():
        return dg.materialize([content_gaps], resources={"warehouse": WarehouseResource()},
                              instance=dg.DagsterInstance.ephemeral())

    result = materialize()
    assert result.success
    meta = {k: v.value for k, v in result.asset_materializations_for_node("content_gaps")[0].metadata.items()}
    # the tomato page is covered by the tenant's article; the home page has no title; two gaps
    assert meta["files"] == 3 and meta["candidates"] == 3 and meta["covered"] == 1 and meta["topics_added"] == 2
    assert meta["rejected_files"] == 2 and "not well-formed" in meta["rejected"] and "sitemap index" in meta["rejected"]
    with connect(db) as conn:
        gaps = topics_from_gaps(conn, niche.id)
    assert [g["title"] for g in gaps] == ["How To Grow Garlic In Pots", "Overwintering Dahlia Tubers"]
    assert gaps[0]["source_ref"] == "competitor gap: rival.example/blog/how-to-grow-garlic-in-pots"
    assert all(g["status"] == "pending" for g in gaps)

    # a re-run adds nothing twice
    again = materialize()
    meta2 = {k: v.value for k, v in again.asset_materializations_for_node("content_gaps")[0].metadata.items()}
    assert meta2["topics_added"] == 0 and meta2["covered"] == 3  # the gaps are in the backlog now

    # the next day's selection takes the highest-valued gap through the duplicate guard, and drafts it
    with connect(db) as conn:
        part = pipeline.resolve_partition(conn, "2026-11-06", niche.partition_key)
        sel = pipeline.select_topics(conn, part, embedder, llm=llm, research="never", run_id="test2")
    assert [d.title for d in sel.selected] == [gaps[0]["title"]], sel
    with connect(db) as conn:
        pipeline.draft_articles(conn, part, llm, run_id="test2")
        drafted = fetch_dicts(conn, "SELECT t.status, a.title FROM topics t JOIN articles a ON a.topic_id = t.id "
                                    "WHERE t.id = %s", (gaps[0]["id"],))
    assert drafted and drafted[0]["status"] == "drafted"
