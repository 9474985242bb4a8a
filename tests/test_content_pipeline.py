"""Content pipeline domain steps on the real database with the real LLM client (offline providers)."""

from __future__ import annotations

import pytest

from allixios.ai.client import LLMClient
from allixios.ai.embeddings import get_embedder
from allixios.content import pipeline
from allixios.content.article_drafts import insert_article
from allixios.content.drafting import Draft
from allixios.content.topics import TopicInput, add_topics
from allixios.content.versions import append_version, content_hash, get_version, list_versions
from allixios.db.engine import connect, fetch_dicts
from allixios.errors import ConflictError, NotFoundError, ValidationError
from allixios.tenants import add_niche, ensure_tenant, update_tenant_settings

DAY = "2026-11-05"


@pytest.fixture(autouse=True)
def offline_only(monkeypatch):
    """No real provider keys: the offline stand-ins answer."""
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def garden(db):
    """A tenant with one gardening niche (quota 2) and no topics yet."""
    with connect(db) as conn:
        tenant = ensure_tenant(conn, "acme")
        niche = add_niche(conn, tenant, "garden", "Home Gardening", ["raised beds", "composting"], daily_quota=2)
    return tenant, niche


def part_of(conn, niche, day=DAY):
    return pipeline.resolve_partition(conn, day, niche.partition_key)


def draft(title="Raised Beds", slug="raised-beds", body="Some body text.", keyphrase="raised beds") -> Draft:
    return Draft(title, f"{title} guide", "A meta description.", slug, "Excerpt.", body, ("garden",), keyphrase)


def run_day(db, niche, day=DAY, llm=None, embedder=None, research="never"):
    llm = llm or LLMClient(database_url=db)
    embedder = embedder or get_embedder(database_url=db)
    with connect(db) as conn:
        part = part_of(conn, niche, day)
        sel = pipeline.select_topics(conn, part, embedder, llm=llm, research=research, run_id="test")
    with connect(db) as conn:
        drafted = pipeline.draft_articles(conn, part, llm, run_id="test")
    with connect(db) as conn:
        pipeline.score_partition(conn, part)
        pipeline.embed_partition(conn, part, embedder, run_id="test")
        published = pipeline.publish_partition(conn, part, run_id="test")
        report = pipeline.build_seo_report(conn, part)
    return sel, drafted, published, report


def test_versions_compare_and_swap_and_history(conn, garden):
    tenant, niche = garden
    part = part_of(conn, niche)
    article_id, slug = insert_article(conn, part, None, draft(), model="m", prompt_version="draft_v1", cost_usd=0.01,
                                      actor="test")
    v2 = append_version(conn, article_id, reason="edit", fields={"title": "Raised Beds, Revised"}, expected_version=1,
                        actor="editor@acme", quality=88, seo=77)
    assert v2 == 2
    with pytest.raises(ConflictError, match="at version 2, not 1"):
        append_version(conn, article_id, reason="edit", fields={"title": "Lost update"}, expected_version=1, actor="x")
    with pytest.raises(ValidationError, match="unknown article field"):
        append_version(conn, article_id, reason="edit", fields={"status": "published"}, expected_version=2, actor="x")
    with pytest.raises(ValidationError, match="title is empty"):
        append_version(conn, article_id, reason="edit", fields={"title": " "}, expected_version=2, actor="x")

    versions = list_versions(conn, article_id)
    assert [(v["version_number"], v["reason"]) for v in versions] == [(1, "generated"), (2, "edit")]
    assert versions[1]["parent_version_id"] == versions[0]["id"] and versions[0]["parent_version_id"] is None
    v2row = get_version(conn, article_id, 2)
    assert v2row["title"] == "Raised Beds, Revised" and v2row["content"] == "Some body text."
    assert v2row["quality_score"] == 88 and v2row["created_by"] == "editor@acme"
    article = fetch_dicts(conn, "SELECT * FROM articles WHERE id = %s", (article_id,))[0]
    assert article["version_number"] == 2 and article["title"] == "Raised Beds, Revised"
    assert article["content_hash"] == v2row["content_hash"] == content_hash(article)
    assert article["parent_version_id"] == versions[0]["id"] and article["seo_score"] == 77
    assert get_version(conn, article_id, 1)["content_hash"] != v2row["content_hash"]
    audit = fetch_dicts(conn, "SELECT action, before_version, after_version FROM audit_log WHERE entity_id = %s",
                        (str(article_id),))
    assert audit == [{"action": "article.edit", "before_version": 1, "after_version": 2}]
    with pytest.raises(NotFoundError, match="has no version 3"):
        get_version(conn, article_id, 3)


def test_slug_collisions_get_a_suffix_and_never_overwrite(conn, garden):
    tenant, niche = garden
    part = part_of(conn, niche)
    first = insert_article(conn, part, None, draft(body="first"), model=None, prompt_version=None, cost_usd=0, actor="t")
    second = insert_article(conn, part, None, draft(body="second"), model=None, prompt_version=None, cost_usd=0, actor="t")
    third = insert_article(conn, part, None, draft(body="third"), model=None, prompt_version=None, cost_usd=0, actor="t")
    assert [first[1], second[1], third[1]] == ["raised-beds", "raised-beds-2", "raised-beds-3"]
    bodies = dict(conn.execute("SELECT slug, content FROM articles").fetchall())
    assert bodies == {"raised-beds": "first", "raised-beds-2": "second", "raised-beds-3": "third"}


def test_topic_selection_respects_priority_quota_and_reruns(db, garden):
    tenant, niche = garden
    embedder = get_embedder(database_url=db)
    with connect(db) as conn:
        add_topics(conn, niche, [TopicInput("Watering Raised Beds in Summer", (), "watering raised beds", 30),
                                 TopicInput("Composting Kitchen Scraps", (), "kitchen scraps", 90),
                                 TopicInput("Mulch Types Compared", (), None, 60),
                                 TopicInput("Pruning Tomato Plants", (), "pruning tomatoes", 10)])
        sel = pipeline.select_topics(conn, part_of(conn, niche), embedder, research="never")
    assert [d.title for d in sel.selected] == ["Composting Kitchen Scraps", "Mulch Types Compared"]
    assert sel.selected[1].keyphrase == "mulch types compared"  # derived from the title when none was given
    with connect(db) as conn:
        again = pipeline.select_topics(conn, part_of(conn, niche), embedder, research="never")
        assert again.selected == [] and again.already_selected == 2
        nxt = pipeline.select_topics(conn, part_of(conn, niche, "2026-11-06"), embedder, research="never")
        assert [d.title for d in nxt.selected] == ["Watering Raised Beds in Summer", "Pruning Tomato Plants"]
        rows = fetch_dicts(conn, "SELECT status, partition_date::text AS day, count(*) AS n FROM topics GROUP BY 1, 2 ORDER BY 2")
    assert rows == [{"status": "selected", "day": "2026-11-05", "n": 2}, {"status": "selected", "day": "2026-11-06", "n": 2}]


def test_duplicates_are_rejected_with_reason(db, garden):
    tenant, niche = garden
    with connect(db) as conn:
        add_topics(conn, niche, [TopicInput("Building Raised Garden Beds That Last", (), "raised garden beds", 80)])
    run_day(db, niche)  # the article exists, is embedded (and maybe published)
    with connect(db) as conn:
        existing = conn.execute("SELECT id, slug FROM articles").fetchone()
        update_tenant_settings(conn, "acme", {"duplicate_similarity": 0.75})
        add_topics(conn, niche, [
            TopicInput("Raised Garden Beds for Small Yards", (), "raised garden beds", 90),  # same keyphrase
            TopicInput("Building Raised Garden Beds That Last!", (), "durable beds", 85),  # same slug
            TopicInput("How to Build Raised Garden Beds That Last", (), "build garden beds", 70),  # near duplicate
            TopicInput("Seed Starting Indoors", (), "seed starting", 60),
            TopicInput("Starting Seeds Indoors", (), "seed starting indoors", 50),  # near duplicate of the one above
        ])
        part = part_of(conn, niche, "2026-11-06")
        sel = pipeline.select_topics(conn, part, get_embedder(database_url=db), research="never")
        rows = {r["title"]: r for r in fetch_dicts(conn, "SELECT * FROM topics WHERE partition_date = '2026-11-06'")}
    reasons = {d.title: d.reason for d in sel.rejected}
    assert "same keyphrase" in reasons["Raised Garden Beds for Small Yards"]
    assert f"slug '{existing[1]}'" in reasons["Building Raised Garden Beds That Last!"]
    assert "too similar" in reasons["How to Build Raised Garden Beds That Last"]
    assert "to topic 'Seed Starting Indoors'" in reasons["Starting Seeds Indoors"]
    assert [d.title for d in sel.selected] == ["Seed Starting Indoors"]
    near = rows["How to Build Raised Garden Beds That Last"]
    assert near["status"] == "rejected" and near["similar_article_id"] == existing[0] and near["similarity"] >= 0.75
    assert rows["Raised Garden Beds for Small Yards"]["similar_article_id"] == existing[0]


def test_research_fills_a_short_backlog_once(db, garden):
    tenant, niche = garden
    llm, embedder = LLMClient(database_url=db), get_embedder(database_url=db)
    with connect(db) as conn:
        add_topics(conn, niche, [TopicInput("Composting Kitchen Scraps", (), "kitchen scraps", 90)])
        sel = pipeline.select_topics(conn, part_of(conn, niche), embedder, llm=llm, research="auto", run_id="r1")
    assert sel.researched >= 1 and "offline/researcher" in sel.research_status
    assert len(sel.selected) == 2 and sel.selected[0].title == "Composting Kitchen Scraps"
    with connect(db) as conn:
        usage = fetch_dicts(conn, "SELECT model, status, count(*) AS n FROM ai_usage WHERE task = 'researcher' GROUP BY 1, 2")
        sources = dict(conn.execute("SELECT source, count(*) FROM topics GROUP BY 1").fetchall())
        again = pipeline.select_topics(conn, part_of(conn, niche), embedder, llm=llm, research="always", run_id="r2")
        usage_after = conn.execute("SELECT count(*) FROM ai_usage WHERE task = 'researcher'").fetchone()[0]
    assert usage == [{"model": "offline/researcher", "status": "success", "n": 1}]
    assert sources["research"] == sel.researched
    assert again.selected == [] and usage_after == 1  # quota filled: no second research call


def test_drafting_is_idempotent_and_costs_are_not_double_counted(db, garden):
    tenant, niche = garden
    with connect(db) as conn:
        add_topics(conn, niche, [TopicInput("Composting Kitchen Scraps", (), "kitchen scraps", 90),
                                 TopicInput("Mulch Types Compared", (), "mulch types", 60)])
    llm = LLMClient(database_url=db)
    _, first, _, _ = run_day(db, niche, llm=llm)
    assert len(first.drafted) == 2 and first.cost_usd > 0
    with connect(db) as conn:
        before = conn.execute("SELECT count(*), sum(cost_usd) FROM ai_usage").fetchone()
        articles = fetch_dicts(conn, "SELECT id, ai_model_used, prompt_version, generation_cost FROM articles ORDER BY id")
        # each article's cost is its successful ledger row, and the ledger rows point at the article
        for a in articles:
            row = conn.execute("SELECT sum(cost_usd) FROM ai_usage WHERE article_id = %s AND status = 'success'",
                               (a["id"],)).fetchone()
            assert a["generation_cost"] == pytest.approx(row[0]) and a["prompt_version"] == "draft_v1"
    _, second, _, _ = run_day(db, niche, llm=llm)
    with connect(db) as conn:
        after = conn.execute("SELECT count(*), sum(cost_usd) FROM ai_usage").fetchone()
        versions = conn.execute("SELECT count(*) FROM article_versions").fetchone()[0]
        again = fetch_dicts(conn, "SELECT id, ai_model_used, prompt_version, generation_cost FROM articles ORDER BY id")
    assert second.drafted == [] and second.cost_usd == 0 and second.already_drafted == 2
    assert after == before and again == articles
    with connect(db) as conn:
        published = conn.execute("SELECT count(*) FROM articles WHERE status = 'published'").fetchone()[0]
    assert versions == 2 + published  # version 1 of each draft, plus one per publication, once


def test_seo_report_finds_broken_links_cannibalization_and_missing_metadata(db, garden):
    tenant, niche = garden
    with connect(db) as conn:
        part = part_of(conn, niche)
        body_a = ("Intro. See [the mulch guide](/mulch-guide), [a missing page](/no-such-page/) and "
                  "[an anchor](/mulch-guide#top).\n\n![A bed](/images/bed.jpg)")
        a, _ = insert_article(conn, part, None, draft("Raised Beds", "raised-beds", body_a, "raised beds"),
                              model=None, prompt_version=None, cost_usd=0, actor="t")
        b, _ = insert_article(conn, part, None, draft("Mulch Guide", "mulch-guide", "Mulch text.", "raised beds"),
                              model=None, prompt_version=None, cost_usd=0, actor="t")
        c, _ = insert_article(conn, part, None, draft("Unfinished", "unfinished", "Draft text.", "unfinished"),
                              model=None, prompt_version=None, cost_usd=0, actor="t")
        conn.execute("UPDATE articles SET status = 'published', seo_score = 75, content_quality_score = 85 WHERE id IN (%s, %s)", (a, b))
        conn.execute("UPDATE articles SET meta_description = '', excerpt = NULL, status = 'needs_revision' WHERE id = %s", (c,))
        report = pipeline.build_seo_report(conn, part)
        stored = fetch_dicts(conn, "SELECT * FROM seo_reports")
    assert report["broken_links"] == [{"source": "raised-beds", "href": "/no-such-page/"}]
    assert report["cannibalization_pairs"][0]["reason"] == "same keyphrase"
    assert {report["cannibalization_pairs"][0]["a"], report["cannibalization_pairs"][0]["b"]} == {"raised-beds", "mulch-guide"}
    assert report["missing_metadata"] == [{"slug": "unfinished", "missing": ["meta_description", "excerpt"]}]
    assert report["score_distribution"]["seo"]["70-79"] == 2 and report["published_count"] == 2
    assert len(stored) == 1 and stored[0]["broken_links"] == report["broken_links"]
    assert "Broken internal links: 1" in pipeline.report_markdown(report)
    with connect(db) as conn:
        pipeline.build_seo_report(conn, part)
        assert conn.execute("SELECT count(*) FROM seo_reports").fetchone()[0] == 1  # upserted, not duplicated


def test_partition_summary_counts(db, garden):
    tenant, niche = garden
    with connect(db) as conn:
        add_topics(conn, niche, [TopicInput("Composting Kitchen Scraps", (), "kitchen scraps", 90),
                                 TopicInput("Mulch Types Compared", (), "mulch types", 60)])
    _, drafted, published, _ = run_day(db, niche)
    with connect(db) as conn:
        summary = pipeline.partition_summary(conn, DAY, niche.partition_key)
        spent = conn.execute("SELECT sum(cost_usd) FROM ai_usage").fetchone()[0]
    assert summary["topics_accepted"] == 2 and summary["drafts"] == 2
    assert summary["articles_meeting_bars"] + summary["articles_under_bars"] == 2
    assert summary["published"] == len(published.published) == summary["articles_meeting_bars"]
    assert summary["cost_usd"] == pytest.approx(float(spent)) and summary["cost_usd"] > 0
    assert summary["avg_quality"] is not None


@pytest.mark.parametrize("title,fix", [("   ", "give the topic a title"), ("x" * 301, "at most 300 characters")])
def test_bad_topic_titles_are_refused_with_the_fix(conn, garden, title, fix):
    tenant, niche = garden
    with pytest.raises(ValidationError, match="topic title") as err:
        add_topics(conn, niche, [TopicInput(title)])
    assert fix in err.value.one_line()
    assert conn.execute("SELECT count(*) FROM topics").fetchone()[0] == 0


def test_revisions_skip_locks_add_linked_versions_and_keep_the_live_version(db, garden):
    """Drafts by the offline stand-in, but every assertion is the product's logic: the tenant's bars are
    set so that outcomes do not depend on what the stand-in's text scores (the loop on real articles
    with real defects: tests/test_content_revision_real.py)."""
    from allixios.content.revision import revise_articles

    tenant, niche = garden
    with connect(db) as conn:
        conn.execute("UPDATE niches SET daily_quota = 3 WHERE id = %s", (niche.id,))
        add_topics(conn, niche, [TopicInput("Growing Tomatoes in Containers", (), "container tomatoes", 90),
                                 TopicInput("Companion Planting for Beginners", (), "companion planting", 80),
                                 TopicInput("Composting at Home Without the Smell", (), "composting at home", 70)])
        update_tenant_settings(conn, "acme", {"min_quality": 0, "min_seo": 0, "min_body_chars": 0})
    llm = LLMClient(database_url=db)
    run_day(db, niche, llm=llm)  # every draft meets bars this low: all three go live
    with connect(db) as conn:
        rows = fetch_dicts(conn, "SELECT id, slug, status::text AS status FROM articles ORDER BY slug")
        assert [r["status"] for r in rows] == ["published"] * 3
        locked, others = rows[0], rows[1:]
        conn.execute("INSERT INTO edit_locks (article_id, tenant_id, locked_by, expires_at) "
                     "VALUES (%s, %s, 'ed@acme', now() + interval '1 hour')", (locked["id"], tenant.id))
        update_tenant_settings(conn, "acme", {"min_quality": 100})  # no text can pass: quality is at most 100

    # a regeneration (not a refresh) that misses the bars is written and waits in needs_revision; the
    # live version stays what the site shows
    outcomes = {o.article_id: o for o in revise_articles(llm, [r["id"] for r in rows], database_url=db, run_id="rev")}
    assert outcomes[str(locked["id"])].status == "skipped" and "edit lock" in outcomes[str(locked["id"])].detail
    with connect(db) as conn:
        for r in others:
            o = outcomes[str(r["id"])]
            assert o.status == "revised" and o.version == 3 and not o.passed and not o.republished
            versions = list_versions(conn, r["id"])
            assert [v["reason"] for v in versions] == ["generated", "published", "regenerated"]
            assert versions[2]["parent_version_id"] == versions[1]["id"] and versions[2]["prompt_version"] == "revise_v1"
            article = fetch_dicts(conn, "SELECT slug, status::text AS status, published_version_number, version_number "
                                        "FROM articles WHERE id = %s", (r["id"],))[0]
            assert article == {"slug": r["slug"], "status": "needs_revision", "published_version_number": 2,
                               "version_number": 3}  # the URL never moves
        revise_calls = conn.execute("SELECT count(*) FROM ai_usage WHERE request_id LIKE 'revise:%%'").fetchone()[0]
        assert revise_calls == len(others)
        conn.execute("DELETE FROM edit_locks")

    # a refresh of a live article that misses the bars is not written: the live version stays as it is
    kept = revise_articles(llm, [locked["id"]], database_url=db, reason="refresh", reasons={
        str(locked["id"]): "page views fell 40% against the 28-day baseline"})[0]
    with connect(db) as conn:
        article = fetch_dicts(conn, "SELECT status::text AS status, published_version_number, version_number, "
                                    "workflow_state -> 'refresh' ->> 'outcome' AS refresh FROM articles WHERE id = %s",
                              (locked["id"],))[0]
        logged = conn.execute("SELECT count(*) FROM ai_usage WHERE request_id = %s AND article_id = %s",
                              (f"revise:{locked['id']}:v2", locked["id"])).fetchone()[0]
    assert kept.status == "kept_live" and "quality" in kept.detail and logged == 1  # the candidate stays in the ledger
    assert article == {"status": "published", "published_version_number": 2, "version_number": 2, "refresh": "kept_live"}

    # bars it can pass: the refresh goes live only if it scores at least as well as the live version
    with connect(db) as conn:
        update_tenant_settings(conn, "acme", {"min_quality": 0})
        live = fetch_dicts(conn, "SELECT content_quality_score + seo_score AS total FROM articles WHERE id = %s",
                           (locked["id"],))[0]["total"]
    refreshed = revise_articles(llm, [locked["id"]], database_url=db, reason="refresh", run_id="again")[0]
    with connect(db) as conn:
        reasons = [v["reason"] for v in list_versions(conn, locked["id"])]
    if refreshed.quality + refreshed.seo >= live:
        assert refreshed.status == "revised" and refreshed.republished
        assert reasons == ["generated", "published", "refresh", "published"]
    else:
        assert refreshed.status == "kept_live" and reasons == ["generated", "published"]
