"""The content graph materialized through Dagster on the real database: content_job per day x niche.

Offline stand-ins answer through litellm (the same client, ledger and budget path as real models);
the malformed-output test talks real HTTP to the local OpenAI-compatible server.
"""

from __future__ import annotations

from datetime import datetime

import dagster as dg
import pytest

from allixios.content.topics import TopicInput, add_topics
from allixios.db.engine import connect, fetch_dicts
from allixios.tenants import add_niche, ensure_tenant, update_tenant_settings
from allixios_assets.content.assets import (
    article_drafts,
    article_embeddings,
    published_articles,
    scored_articles,
    seo_reports,
    topics,
)
from allixios_assets.content.checks import content_checks
from allixios_assets.content.jobs import content_job, daily_content_schedule
from allixios_assets.partitions import content_partition_key, content_partitions, niche_partitions
from resources.embeddings import EmbeddingsResource
from resources.llm import LLMResource
from resources.warehouse import WarehouseResource

DAY = "2026-11-05"
ASSETS = [topics, article_drafts, scored_articles, article_embeddings, published_articles, seo_reports]


@pytest.fixture(autouse=True)
def offline_only(monkeypatch):
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


@dg.asset(name="scored_articles", partitions_def=content_partitions, group_name="content", deps=[article_drafts])
def leaky_scored_articles(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """A broken scorer for the gate test: scores like the real one, then marks every article publishable."""
    with warehouse.connection() as conn:
        conn.execute("UPDATE articles SET status = 'scored' WHERE status = 'draft'")
    return dg.MaterializeResult()


def content_defs(leaky: bool = False, **resources) -> dg.Definitions:
    bound = {"warehouse": WarehouseResource(), "llm": LLMResource(), "embeddings": EmbeddingsResource()} | resources
    assets = [leaky_scored_articles if a is scored_articles else a for a in ASSETS] if leaky else ASSETS
    return dg.Definitions(assets=assets, asset_checks=content_checks, jobs=[content_job], resources=bound)


def run(instance, niche_key: str, day: str = DAY, defs: dg.Definitions | None = None) -> dg.ExecuteInProcessResult:
    if niche_key not in instance.get_dynamic_partitions(niche_partitions.name):
        instance.add_dynamic_partitions(niche_partitions.name, [niche_key])
    job = (defs or content_defs()).resolve_job_def("content_job")
    return job.execute_in_process(partition_key=content_partition_key(day, niche_key), instance=instance,
                                  raise_on_error=False)


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    for ev in result.get_asset_materialization_events():
        if ev.asset_key.to_user_string() == asset:
            return {k: v.value for k, v in ev.materialization.metadata.items()}
    raise AssertionError(f"{asset} was not materialized")


def checks(result: dg.ExecuteInProcessResult) -> dict:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def snapshot(db) -> dict:
    with connect(db) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "articles": one("SELECT count(*) FROM articles"),
            "versions": one("SELECT count(*) FROM article_versions"),
            "ai_usage": one("SELECT count(*) FROM ai_usage"),
            "cost": one("SELECT coalesce(sum(cost_usd), 0) FROM ai_usage"),
            "generation_cost": one("SELECT coalesce(sum(generation_cost), 0) FROM articles"),
            "embeddings": one("SELECT count(*) FROM embeddings"),
            "seo_reports": one("SELECT count(*) FROM seo_reports"),
            "topics": one("SELECT string_agg(status || ':' || n, ',' ORDER BY status) FROM "
                          "(SELECT status, count(*) AS n FROM topics GROUP BY 1) s"),
            "statuses": one("SELECT string_agg(status::text || ':' || n, ',' ORDER BY status) FROM "
                            "(SELECT status, count(*) AS n FROM articles GROUP BY 1) s"),
        }


@pytest.mark.slow
def test_content_job_on_the_sample_tenant_then_rerun_is_idempotent(sample_tenant, db, instance):
    keys = ["sample.home_gardening", "sample.personal_finance", "sample.remote_work"]
    results = {k: run(instance, k) for k in keys}
    assert all(r.success for r in results.values())

    with connect(db) as conn:
        usage = fetch_dicts(conn, "SELECT task, model, deployment_id, status, count(*) AS n FROM ai_usage "
                                  "WHERE task IN ('writer', 'researcher') GROUP BY 1, 2, 3, 4 ORDER BY 1")
        articles = fetch_dicts(conn, "SELECT * FROM articles ORDER BY slug")
        versions = fetch_dicts(conn, "SELECT article_id, version_number, reason, parent_version_id, id "
                                     "FROM article_versions ORDER BY article_id, version_number")
        reports = conn.execute("SELECT count(*) FROM seo_reports").fetchone()[0]
    # every draft went through litellm to the offline writer and landed in the ledger
    assert usage == [
        {"task": "researcher", "model": "offline/researcher", "deployment_id": "offline-researcher", "status": "success", "n": 1},
        {"task": "writer", "model": "offline/writer", "deployment_id": "offline-writer", "status": "success", "n": 12},
    ]
    assert len(articles) == 12 and reports == 3
    assert {a["ai_model_used"] for a in articles} == {"offline/writer"}
    assert {a["prompt_version"] for a in articles} == {"draft_v1"}
    assert all(a["generation_cost"] > 0 and a["partition_date"].isoformat() == DAY for a in articles)
    published = [a for a in articles if a["status"] == "published"]
    waiting = [a for a in articles if a["status"] == "needs_revision"]
    # every article took exactly one path, the one its scores call for (how many of the stand-in's
    # drafts pass is the scorer's verdict on its text, so neither path is required to occur here)
    assert len(published) + len(waiting) == 12
    for a in articles:
        meets = len(a["content"]) >= 1000 and a["content_quality_score"] > 80 and a["seo_score"] > 70
        assert (a["status"] == "published") == meets, (a["slug"], a["status"])
    for a in published:  # passes every bar, with a 'published' version on top of 'generated'
        assert len(a["content"]) >= 1000 and a["content_quality_score"] > 80 and a["seo_score"] > 70
        assert a["published_version_number"] == a["version_number"] == 2 and a["published_at"] is not None
        mine = [v for v in versions if v["article_id"] == a["id"]]
        assert [v["reason"] for v in mine] == ["generated", "published"] and mine[1]["parent_version_id"] == mine[0]["id"]
    for a in waiting:
        assert a["workflow_state"]["failed_bars"] and a["published_at"] is None and a["version_number"] == 1
        assert a["assessments"] and a["optimization_suggestions"]

    # the gates (blocking, ERROR) pass: nothing under a bar is publishable; the report (non-blocking,
    # WARN) fails exactly where articles miss a bar and wait in needs_revision
    for key, r in results.items():
        evaluations = checks(r)
        gates = [evaluations[f"{g}_bar"] for g in ("body_length", "quality", "seo")]
        assert all(g.passed and g.severity == dg.AssetCheckSeverity.ERROR for g in gates), key
        report = evaluations["articles_meet_bars"]
        assert report.severity == dg.AssetCheckSeverity.WARN
        meta = metadata(r, "published_articles")
        assert (not report.passed) == (meta["needs_revision"] > 0), key
        assert report.metadata["under_a_bar"].value == meta["needs_revision"]
        assert evaluations["seo_report_coverage"].passed
        assert metadata(r, "article_drafts")["models"].startswith("offline/writer x4 (OFFLINE STAND-IN")
    gardening = metadata(results["sample.home_gardening"], "scored_articles")
    assert gardening["scored"] == 4 and gardening["avg_quality"] > 0
    assert "| slug | quality | seo |" in gardening["articles"]
    assert metadata(results["sample.remote_work"], "topics")["researched"] >= 1  # 3 topics < quota 4

    before = snapshot(db)
    again = {k: run(instance, k) for k in keys}
    assert all(r.success for r in again.values())
    assert snapshot(db) == before  # no duplicate articles, versions, ledger rows, vectors or cost
    for r in again.values():
        assert metadata(r, "article_drafts")["drafted"] == 0 and metadata(r, "article_drafts")["cost_usd"] == 0
        assert metadata(r, "published_articles")["published"] == 0
        # a re-run that does nothing says so and keeps the earlier state visible
        assert metadata(r, "article_drafts")["drafts"].startswith("nothing new; 4 articles from the earlier run")
        assert metadata(r, "topics")["decisions"].startswith("nothing new; ")
        assert metadata(r, "published_articles")["published_articles"].startswith("nothing new; ")
        assert "_none_" not in metadata(r, "article_drafts")["drafts"]


def test_html_in_model_output_is_sanitized_and_slug_collisions_are_suffixed(db, instance):
    with connect(db) as conn:
        tenant = ensure_tenant(conn, "acme")
        niche = add_niche(conn, tenant, "garden", "Home Gardening", [], daily_quota=5)
        # an article that already owns the slug the writer will choose for "Cages Compared"
        conn.execute("""INSERT INTO articles (tenant_id, niche_id, title, slug, content, status)
                        VALUES (%s, %s, 'Old Notes', 'tomato-cages-cages-compared', 'keep me', 'published')""",
                     (tenant.id, niche.id))
        add_topics(conn, niche, [TopicInput("Cages Compared", (), "tomato cages", 90),
                                 TopicInput("Pots <script>alert('x')</script><b>Compared</b>", (),
                                            "clay pots <img src=x onerror=alert(1)>", 80)])
    result = run(instance, niche.partition_key)
    assert result.success
    with connect(db) as conn:
        rows = fetch_dicts(conn, "SELECT * FROM articles WHERE topic_id IS NOT NULL ORDER BY slug")
        old = fetch_dicts(conn, "SELECT content, status FROM articles WHERE title = 'Old Notes'")
        stored = conn.execute("SELECT string_agg(concat_ws(' ', title, content, slug, meta_title, meta_description, "
                              "excerpt, primary_keyphrase, array_to_string(tags, ' ')), ' ') FROM article_versions").fetchone()[0]
    assert {r["slug"] for r in rows} >= {"tomato-cages-cages-compared-2"}
    assert old == [{"content": "keep me", "status": "published"}]  # never overwritten
    for r in rows:
        for field in ("title", "meta_title", "meta_description", "excerpt", "primary_keyphrase"):
            assert "<" not in (r[field] or "").replace("&lt;", ""), (field, r[field])
        # bodies keep what the nh3 allow-list of allixios.content.markup keeps (e.g. <img src>), nothing active
        assert "onerror" not in r["content"] and "<script" not in r["content"].lower(), r["content"]
    assert "<script" not in stored.lower() and "onerror=alert" not in stored.replace("&lt;", "")
    pots = next(r for r in rows if r["title"].startswith("Pots"))
    assert pots["title"] == "Pots Compared" and "script" not in pots["slug"]


def test_a_niche_without_topics_is_an_empty_materialization(db, instance):
    with connect(db) as conn:
        niche = add_niche(conn, ensure_tenant(conn, "acme"), "empty", "Empty", [], daily_quota=3)
    result = run(instance, niche.partition_key)
    assert result.success
    assert metadata(result, "topics")["selected"] == 0
    assert metadata(result, "topics")["research"].startswith("skipped")  # no seed keywords to research
    assert metadata(result, "article_drafts")["drafted"] == 0
    assert metadata(result, "scored_articles")["scored"] == 0
    assert metadata(result, "published_articles")["published"] == 0
    assert metadata(result, "seo_reports")["articles"] == 0
    assert all(e.passed for e in checks(result).values())
    with connect(db) as conn:
        assert conn.execute("SELECT article_count FROM seo_reports").fetchall() == [(0,)]


def test_malformed_model_output_fails_that_topic_while_the_rest_proceed(db, instance, tmp_path, monkeypatch):
    from allixios.content.offline_writer import respond
    from allixios.testing.catalogues import local_deployment, write_catalogue
    from allixios.testing.llm_server import LocalLLMServer

    def model(messages, model_name):
        answer = respond(messages)
        return "Sure! Here is the article: {oops" if "Broken Topic" in answer else answer

    monkeypatch.setenv("ALLIXIOS_LOCAL_LLM_KEY", "sk-local-test")
    with connect(db) as conn:
        niche = add_niche(conn, ensure_tenant(conn, "acme"), "garden", "Home Gardening", [], daily_quota=3)
        add_topics(conn, niche, [TopicInput("Broken Topic", (), "broken topic", 90),
                                 TopicInput("Mulch Types Compared", (), "mulch types", 80),
                                 TopicInput("Composting Kitchen Scraps", (), "kitchen scraps", 70)])
    # each answer takes 200 ms, so drafts requested concurrently overlap on the server
    with LocalLLMServer(required_key="sk-local-test", responder=model, latency_ms=200) as server:
        catalogue = write_catalogue(tmp_path / "models.yaml", {
            "writer": [local_deployment("local-writer", server.url)],
            "researcher": [local_deployment("local-researcher", server.url)],
        })
        defs = content_defs(llm=LLMResource(catalogue_path=str(catalogue)))
        result = run(instance, niche.partition_key, defs=defs)
        assert result.success
        requests = len(server.requests_for("local-writer"))
        assert server.max_in_flight >= 2  # generation ran concurrently within the asset
        rerun = run(instance, niche.partition_key, defs=defs)
        assert rerun.success
        requests_rerun = len(server.requests_for("local-writer")) - requests
    with connect(db) as conn:
        topics_rows = {r["title"]: r for r in fetch_dicts(conn, "SELECT title, status, failure_reason FROM topics")}
        ledger = fetch_dicts(conn, "SELECT request_id, status, error_class, count(*) AS n FROM ai_usage "
                                   "WHERE task = 'writer' GROUP BY 1, 2, 3 ORDER BY 1, 2")
        articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    broken = topics_rows["Broken Topic"]
    assert broken["status"] == "failed" and "MalformedResponse" in broken["failure_reason"]
    assert topics_rows["Mulch Types Compared"]["status"] == "drafted" and articles == 2
    assert metadata(result, "article_drafts")["failed"] == 1 and metadata(result, "article_drafts")["drafted"] == 2
    malformed = [r for r in ledger if r["error_class"] == "MalformedResponse"]
    assert len(malformed) == 1 and malformed[0]["n"] == 4  # 2 attempts in each of the 2 runs, all kept
    assert requests == 4 and requests_rerun == 2  # the re-run retried only the failed topic
    assert metadata(rerun, "article_drafts")["already_drafted"] == 2


def test_gates_route_failures_and_block_publishing_when_broken(sample_tenant, db, instance):
    key = "sample.personal_finance"
    with connect(db) as conn:
        update_tenant_settings(conn, "sample", {"min_quality": 100})  # no score can be above 100
    first = run(instance, key)
    assert first.success
    # every article misses the bar: the report warns, the gate passes (none of them is publishable)
    report = checks(first)["articles_meet_bars"]
    assert not report.passed and report.severity == dg.AssetCheckSeverity.WARN
    assert report.metadata["under_quality_bar"].value == 4
    gate = checks(first)["quality_bar"]
    assert gate.passed and gate.metadata["failing"].value == 4
    assert metadata(first, "published_articles")["published"] == 0
    assert metadata(first, "published_articles")["needs_revision"] == 4

    # a broken scorer leaves failing articles publishable: the blocking gate stops publishing
    leaky = run(instance, "sample.remote_work", defs=content_defs(leaky=True))
    gate = checks(leaky)["quality_bar"]
    assert not gate.passed and gate.severity == dg.AssetCheckSeverity.ERROR
    assert gate.metadata["publishable_but_failing"].value == 4
    materialized = {e.asset_key.to_user_string() for e in leaky.get_asset_materialization_events()}
    assert "published_articles" not in materialized and "seo_reports" not in materialized
    # the failed gate fails its step, so the run is failed too: never "Failed" next to a passed execution
    assert not leaky.success
    failed_steps = {e.step_key for e in leaky.all_events if e.event_type_value == "STEP_FAILURE"}
    assert "scored_articles_quality_bar" in failed_steps
    assert all(step.startswith("scored_articles_") and step.endswith("_bar") for step in failed_steps)
    # that day has articles but no SEO report: the next day's coverage report names it
    next_day = run(instance, "sample.remote_work", day="2026-11-06")
    coverage = checks(next_day)["seo_report_coverage"]
    assert not coverage.passed and coverage.severity == dg.AssetCheckSeverity.WARN
    assert coverage.metadata["days_without_report"].value == [DAY]
    with connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM articles WHERE status = 'published'").fetchone()[0] == 0

    # with the bar back to its default the same partition publishes what passes
    with connect(db) as conn:
        update_tenant_settings(conn, "sample", {"min_quality": 80})
    third = run(instance, key)
    assert third.success and metadata(third, "published_articles")["published"] >= 1


def test_daily_schedule_requests_one_run_per_niche(instance):
    instance.add_dynamic_partitions(niche_partitions.name, ["acme.a", "acme.b"])
    ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=datetime(2026, 11, 7, 6))
    requests = daily_content_schedule(ctx)
    assert [r.partition_key for r in requests] == [content_partition_key("2026-11-07", "acme.a"),
                                                    content_partition_key("2026-11-07", "acme.b")]


def test_spent_budget_skips_drafts_without_failing_the_partition(sample_tenant, db, instance):
    from allixios.ai.budgets import set_budget

    with connect(db) as conn:
        set_budget(conn, sample_tenant.id, daily_usd=0.0)
    result = run(instance, "sample.remote_work")
    assert result.success
    drafts = metadata(result, "article_drafts")
    assert drafts["drafted"] == 0 and drafts["skipped_budget"] > 0 and drafts["failed"] == 0
    with connect(db) as conn:
        statuses = dict(conn.execute("SELECT status, count(*) FROM topics WHERE partition_date = %s GROUP BY 1",
                                     (DAY,)).fetchall())
        assert statuses.get("selected") == drafts["skipped_budget"] and "failed" not in statuses
        assert conn.execute("SELECT count(*) FROM ai_usage WHERE status = 'skipped_budget'").fetchone()[0] > 0
        set_budget(conn, sample_tenant.id, daily_usd=10.0)
    # with budget again, a re-run drafts the topics that waited (and research may add one more)
    again = run(instance, "sample.remote_work")
    assert again.success and metadata(again, "article_drafts")["drafted"] >= drafts["skipped_budget"]
    with connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM topics WHERE partition_date = %s AND status = 'selected'",
                            (DAY,)).fetchone()[0] == 0


def test_a_budget_skip_can_be_configured_to_fail_the_partition(sample_tenant, db, instance):
    from allixios.ai.budgets import set_budget

    with connect(db) as conn:
        set_budget(conn, sample_tenant.id, daily_usd=0.0)
    instance.add_dynamic_partitions(niche_partitions.name, ["sample.remote_work"])
    job = content_defs().resolve_job_def("content_job")
    result = job.execute_in_process(
        partition_key=content_partition_key(DAY, "sample.remote_work"), instance=instance, raise_on_error=False,
        run_config={"ops": {"article_drafts": {"config": {"fail_on_budget_skip": True}}}},
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "skipped for budget" in failure.step_failure_data.error.message or "skipped for budget" in str(
        failure.step_failure_data.user_failure_data)


def test_permanent_error_fails_at_once_with_its_line_and_fix(sample_tenant, db, instance):
    result = run(instance, "sample.bogus_niche")
    assert not result.success
    kinds = [e.event_type_value for e in result.all_events]
    assert "STEP_UP_FOR_RETRY" not in kinds  # not retried: the next attempt would fail the same way
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "topics"
    data = failure.step_failure_data
    assert data.user_failure_data.description == (
        "no niche has partition key 'sample.bogus_niche' — fix: add it with `allixios niches add`")
    assert data.user_failure_data.metadata["error_class"].value == "NotFoundError"
