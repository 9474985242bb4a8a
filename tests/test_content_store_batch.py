"""Drafts stored a batch at a time (issue 19): one statement per kind for the batch, the same rows as
one at a time — distinct slugs, version 1 with the stored row's hash, the day's count — and the
one-at-a-time path when the batch cannot go in whole (a concurrent slug, the plan's limit)."""

from __future__ import annotations

import threading
import time

from allixios import plans
from allixios.ai.client import CompletionResult
from allixios.content import pipeline
from allixios.content.article_drafts import pending_drafts, store_drafts
from allixios.content.drafting import Draft
from allixios.content.topics import TopicInput, add_topics
from allixios.db.engine import connect

DAY = "2026-11-05"


def _world(db, topics: int, **limits):
    from allixios.tenants import add_niche, ensure_tenant

    with connect(db) as conn:
        tenant = ensure_tenant(conn, "acme")
        niche = add_niche(conn, tenant, "garden", "Garden", ["beds"], daily_quota=topics)
        add_topics(conn, niche, [TopicInput(f"Topic {i}", ("beds",), f"topic {i}", 50 + i) for i in range(topics)],
                   source="cli")
        if limits:
            plans.set_limits(conn, tenant.id, [f"{k}={v}" for k, v in limits.items()], [])
        conn.execute("UPDATE topics SET status = 'selected', partition_date = %s", (DAY,))
    with connect(db) as conn:
        part = pipeline.resolve_partition(conn, DAY, niche.partition_key)
        return tenant, part, pending_drafts(conn, part)


def _ok(slug: str, title: str = "Raised beds") -> CompletionResult:
    draft = Draft(title, title, "Meta.", slug, "Excerpt.", f"Body of {slug}.", ("beds",), "beds")
    return CompletionResult("success", "{}", draft, "m", "d", "p", cost_usd=0.01, total_cost_usd=0.01)


def _articles(conn, tenant_id):
    return conn.execute(
        """SELECT a.slug, a.content_hash, v.content_hash, v.version_number, t.status
           FROM articles a JOIN article_versions v ON v.article_id = a.id JOIN topics t ON t.id = a.topic_id
           WHERE a.tenant_id = %s ORDER BY a.slug""", (tenant_id,)).fetchall()


def test_a_batch_gets_distinct_slugs_version_one_and_one_count(db):
    tenant, part, jobs = _world(db, 4)
    with connect(db) as conn:  # an older article already has the slug three drafts want
        conn.execute("""INSERT INTO articles (tenant_id, niche_id, title, content, slug, status)
                        VALUES (%s, %s, 'Old', 'Old body', 'raised-beds', 'draft')""", (tenant.id, part.niche.id))
    results = [_ok("raised-beds"), _ok("raised-beds"), _ok("compost", "Compost"), _ok("raised-beds")]
    with connect(db) as conn:
        out = store_drafts(conn, part, jobs, results, run_id="r1")
    assert [d["slug"] for d in out.drafted] == ["raised-beds-2", "raised-beds-3", "compost", "raised-beds-4"]
    assert abs(out.cost_usd - 0.04) < 1e-9 and not out.failed and not out.skipped_budget
    with connect(db) as conn:
        rows = _articles(conn, tenant.id)
        assert [r[0] for r in rows] == ["compost", "raised-beds-2", "raised-beds-3", "raised-beds-4"]
        assert all(r[1] == r[2] and r[3] == 1 and r[4] == "drafted" for r in rows)  # version 1, the row's hash
        assert plans.used_today(conn, tenant.id, "articles_per_day") == 4
        # the same answers again (a re-run): nothing new, each counted as already drafted
        again = store_drafts(conn, part, jobs, results, run_id="r2")
    assert again.already_drafted == 4 and not again.drafted
    with connect(db) as conn:
        assert len(_articles(conn, tenant.id)) == 4 and plans.used_today(conn, tenant.id, "articles_per_day") == 4


def test_a_batch_past_the_day_limit_stores_up_to_it_and_holds_the_rest(db):
    tenant, part, jobs = _world(db, 3)
    with connect(db) as conn:  # the limit drops after selection (another partition took today's articles)
        plans.set_limits(conn, tenant.id, ["articles_per_day=2"], [])
    with connect(db) as conn:
        out = store_drafts(conn, part, jobs, [_ok(f"bed-{i}") for i in range(3)])
    assert [d["slug"] for d in out.drafted] == ["bed-0", "bed-1"]
    assert len(out.skipped_budget) == 1 and out.skipped_budget[0]["reason"].startswith("plan_limit:")
    with connect(db) as conn:
        assert plans.used_today(conn, tenant.id, "articles_per_day") == 2
        assert len(_articles(conn, tenant.id)) == 2


def test_a_concurrent_insert_of_a_batch_slug_falls_back_to_one_at_a_time(db):
    tenant, part, jobs = _world(db, 2)
    rival = connect(db)
    conn = rival.__enter__()
    # another writer's article takes "race-me", not yet committed: the batch does not see it, and its
    # INSERT waits on the unique index until the rival commits, then fails as a whole
    conn.execute("""INSERT INTO articles (tenant_id, niche_id, title, content, slug, status)
                    VALUES (%s, %s, 'Rival', 'Rival body', 'race-me', 'draft')""", (tenant.id, part.niche.id))
    box = {}

    def store() -> None:
        with connect(db) as mine:
            box["out"] = store_drafts(mine, part, jobs, [_ok("race-me"), _ok("other")])

    worker = threading.Thread(target=store)
    worker.start()
    time.sleep(0.5)
    rival.__exit__(None, None, None)  # commits
    worker.join(30)
    assert not worker.is_alive()
    assert sorted(d["slug"] for d in box["out"].drafted) == ["other", "race-me-2"]
    with connect(db) as check:
        assert plans.used_today(check, tenant.id, "articles_per_day") == 2
        assert [r[0] for r in _articles(check, tenant.id)] == ["other", "race-me-2"]
