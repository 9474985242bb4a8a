"""Held articles revised automatically: the held-revision sensor requests runs by itself (no manual
config), a passing revision goes live at once, one that fails after the cap is left for an editor.

Real database, the real LLM client (offline writer through litellm), the real Dagster job and sensor.
"""

from __future__ import annotations

import dagster as dg
import pytest

from allixios.ai.budgets import set_budget
from allixios.ai.client import LLMClient
from allixios.ai.embeddings import get_embedder
from allixios.content import pipeline
from allixios.content.topics import TopicInput, add_topics
from allixios.db.engine import connect, fetch_dicts
from allixios.tenants import add_niche, ensure_tenant, update_tenant_settings
from resources.warehouse import WarehouseResource
from sensors.held_revision import HeldRevisionPolicy, held_revision_sensor

DAY = "2026-11-05"
TOPICS = [
    TopicInput("Growing Tomatoes in Containers", (), "container tomatoes", 90),
    TopicInput("Companion Planting for Beginners", (), "companion planting", 80),
    TopicInput("Composting at Home Without the Smell", (), "composting at home", 70),
    TopicInput("Raised Bed Soil Mixes Compared", (), "raised bed soil", 60),
    TopicInput("Watering Schedules for Summer Heat", (), "watering schedule", 50),
    TopicInput("Mulching Vegetable Beds in Autumn", (), "mulching beds", 40),
]


@pytest.fixture(autouse=True)
def offline_only(monkeypatch):
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def held(db):
    """A tenant whose day of drafts left some articles waiting in needs_revision."""
    with connect(db) as conn:
        tenant = ensure_tenant(conn, "acme")
        niche = add_niche(conn, tenant, "garden", "Home Gardening", ["raised beds"], daily_quota=len(TOPICS))
        add_topics(conn, niche, TOPICS)
    llm, embedder = LLMClient(database_url=db), get_embedder(database_url=db)
    with connect(db) as conn:
        part = pipeline.resolve_partition(conn, DAY, niche.partition_key)
        pipeline.select_topics(conn, part, embedder, llm=llm, research="never", run_id="test")
    with connect(db) as conn:
        pipeline.draft_articles(conn, part, llm, run_id="test")
    with connect(db) as conn:
        pipeline.score_partition(conn, part)
        pipeline.publish_partition(conn, part, run_id="test")
        waiting = fetch_dicts(conn, "SELECT id::text AS id, version_number FROM articles WHERE status = 'needs_revision'")
    assert waiting, "the offline writer's defects should leave at least one article held"
    return tenant, niche, waiting


def _tick(instance, **policy):
    ctx = dg.build_sensor_context(instance=instance, resources={
        "warehouse": WarehouseResource(), "held_revision_policy": HeldRevisionPolicy(**policy)})
    return held_revision_sensor(ctx)


def _run(request, instance):
    from allixios_assets.definitions import defs

    result = defs.resolve_job_def("held_revision_job").execute_in_process(
        run_config=request.run_config, instance=instance, tags=request.tags)
    assert result.success
    return result


def test_held_articles_are_revised_and_published_by_the_sensor(held, db):
    tenant, niche, waiting = held
    instance = dg.DagsterInstance.ephemeral()
    requests = _tick(instance)
    assert isinstance(requests, list) and len(requests) == 1  # one tenant x niche batch
    request = requests[0]
    listed = request.run_config["ops"]["revise_held_articles"]["config"]["article_ids"]
    assert sorted(listed) == sorted(w["id"] for w in waiting)
    assert request.run_key.startswith(f"held_revision:{niche.partition_key}:")
    assert request.tags["allixios/parent_run_id"] == "test"  # the run that wrote the held versions
    # the same held versions are not requested again while the run is on its way
    assert isinstance(_tick(instance), dg.SkipReason)

    result = _run(request, instance)
    with connect(db) as conn:
        rows = {r["id"]: r for r in fetch_dicts(
            conn, """SELECT a.id::text AS id, a.status::text AS status, a.version_number, a.published_version_number,
                            EXISTS (SELECT 1 FROM embeddings e WHERE e.article_id = a.id
                                    AND e.content_hash = a.content_hash) AS embedded
                     FROM articles a WHERE a.id = ANY(%s::uuid[])""", (listed,))}
        attempts = dict(conn.execute("SELECT article_id::text, outcome FROM revision_attempts WHERE run_key = %s",
                                     (request.run_key,)).fetchall())
        versions = fetch_dicts(conn, "SELECT article_id::text, reason FROM article_versions WHERE run_id = %s "
                                     "ORDER BY version_number", (result.run_id,))
    published = [a for a, r in rows.items() if r["status"] == "published"]
    assert published, attempts  # the offline writer's revision removes the defects behind the failing assessments
    for article_id in published:
        r = rows[article_id]
        # the status follows the new version at once: live is the newest version, re-embedded
        assert r["published_version_number"] == r["version_number"]
        assert r["embedded"]
        assert [v["reason"] for v in versions if v["article_id"] == article_id] == ["regenerated", "published"]
        assert attempts[article_id].startswith("published")
    for article_id in set(listed) - set(published):
        assert rows[article_id]["status"] == "needs_revision"
        assert attempts[article_id].startswith("revised")

    # a re-run of the same request revises nothing again (no new version, no new paid call)
    with connect(db) as conn:
        calls = conn.execute("SELECT count(*), coalesce(sum(cost_usd), 0) FROM ai_usage").fetchone()
        still_held = conn.execute("SELECT count(*) FROM articles WHERE status = 'needs_revision'").fetchone()[0]
    _run(request, instance)
    with connect(db) as conn:
        # only what is still held is revised again (its newer version; the published ones are left alone)
        assert conn.execute("SELECT count(*) FROM article_versions WHERE reason = 'published' AND article_id = "
                            "ANY(%s::uuid[])", (published,)).fetchone()[0] == len(published)
        if not still_held:
            assert conn.execute("SELECT count(*), coalesce(sum(cost_usd), 0) FROM ai_usage").fetchone() == calls


def test_a_revision_failing_after_the_cap_is_left_for_an_editor(held, db):
    tenant, niche, waiting = held
    with connect(db) as conn:
        update_tenant_settings(conn, "acme", {"min_quality": 100})  # nothing can pass now
    instance = dg.DagsterInstance.ephemeral()
    for attempt in (1, 2):
        requests = _tick(instance, max_attempts=2, retry_after_minutes=0)
        assert isinstance(requests, list), f"attempt {attempt}: {requests}"
        _run(requests[0], instance)
    # the cap is reached: the sensor leaves them alone, an editor sees why
    assert isinstance(_tick(instance, max_attempts=2, retry_after_minutes=0), dg.SkipReason)
    with connect(db) as conn:
        rows = fetch_dicts(conn, "SELECT id::text AS id, status::text AS status, workflow_state -> 'held_for_editor' AS note "
                                 "FROM articles WHERE id = ANY(%s::uuid[])", ([w["id"] for w in waiting],))
        audit = conn.execute("SELECT count(*) FROM audit_log WHERE action = 'held_for_editor'").fetchone()[0]
        attempts = conn.execute("SELECT count(*) FROM revision_attempts").fetchone()[0]
    assert all(r["status"] == "needs_revision" for r in rows)
    assert all(r["note"]["attempts"] == 2 and "quality" in r["note"]["reason"] for r in rows), rows
    assert audit == len(waiting) and attempts == 2 * len(waiting)


def test_locked_articles_and_spent_budgets_are_left_out(held, db):
    tenant, niche, waiting = held
    instance = dg.DagsterInstance.ephemeral()
    with connect(db) as conn:
        conn.execute("INSERT INTO edit_locks (article_id, tenant_id, locked_by, expires_at) "
                     "VALUES (%s, %s, 'ed@acme', now() + interval '1 hour')", (waiting[0]["id"], tenant.id))
    requests = _tick(instance)
    listed = requests[0].run_config["ops"]["revise_held_articles"]["config"]["article_ids"] if isinstance(
        requests, list) else []
    assert waiting[0]["id"] not in listed
    with connect(db) as conn:
        conn.execute("DELETE FROM revision_attempts")
        conn.execute("DELETE FROM edit_locks")
        set_budget(conn, tenant.id, daily_usd=0)  # nothing left to spend today
    assert isinstance(_tick(dg.DagsterInstance.ephemeral()), dg.SkipReason)
