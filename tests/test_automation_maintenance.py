"""Weekly maintenance job: link validation, refresh candidates, purge of soft-deleted articles."""

import dagster as dg

from allixios.db.engine import connect


def _article(conn, tenant, niche, slug, content, status="published", deleted_days_ago=None, published_days_ago=40):
    return conn.execute(
        """INSERT INTO articles (tenant_id, niche_id, title, slug, content, status, published_at, deleted_at,
                                 content_quality_score, seo_score)
           VALUES (%s, %s, %s, %s, %s, %s, now() - make_interval(days => %s),
                   CASE WHEN %s::int IS NULL THEN NULL ELSE now() - make_interval(days => %s::int) END, 70, 60)
           RETURNING id""",
        (tenant.id, niche, slug.title(), slug, content, status, published_days_ago, deleted_days_ago, deleted_days_ago),
    ).fetchone()[0]


def test_maintenance_job(db, sample_tenant):
    with connect(db) as conn:
        niche = conn.execute("SELECT id FROM niches LIMIT 1").fetchone()[0]
        linking = _article(conn, sample_tenant, niche, "budget-basics",
                           "See [funds](/index-funds) and [gone](/no-such-page#x) and [ext](https://example.com).")
        _article(conn, sample_tenant, niche, "index-funds", "Plain text without links.")
        _article(conn, sample_tenant, niche, "draft-only", "[x](/budget-basics)", status="needs_revision")
        old = _article(conn, sample_tenant, niche, "old-deleted", "x", deleted_days_ago=45)
        recent = _article(conn, sample_tenant, niche, "recent-deleted", "x", deleted_days_ago=2)
        conn.execute(
            """INSERT INTO article_versions (article_id, tenant_id, version_number, reason, title, slug, content_hash)
               VALUES (%s, %s, 1, 'generated', 'Old', 'old-deleted', 'h')""",
            (old, sample_tenant.id),
        )

    from allixios_assets.definitions import defs

    job = defs.resolve_job_def("maintenance_job")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance)
        assert result.success
        mats = {
            e.asset_key.path[-1]: e.step_materialization_data.materialization.metadata
            for e in result.get_asset_materialization_events()
        }
    assert mats["internal_link_audit"]["with_broken_links"].value == 1
    assert mats["internal_link_audit"]["broken_links"].value == 1
    assert mats["soft_delete_purge"]["purged_articles"].value == 1
    with connect(db) as conn:
        broken = conn.execute("SELECT workflow_state->'broken_links' FROM articles WHERE id = %s", (linking,)).fetchone()[0]
        assert broken == ["no-such-page"]
        assert conn.execute("SELECT count(*) FROM articles WHERE id = %s", (old,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM article_versions WHERE article_id = %s", (old,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM articles WHERE id = %s", (recent,)).fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM audit_log WHERE action = 'purge'").fetchone()[0] == 1
        # re-running finds nothing more to purge and the same broken link
        assert mats["refresh_candidates"]["candidates"].value >= 2


def test_published_articles_and_marts_carry_a_daily_freshness_policy():
    from allixios_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    fresh = {key.to_user_string() for key in graph.get_all_asset_keys() if graph.get(key).freshness_policy}
    assert fresh == {
        "published_articles", "marts/dim_articles", "marts/fct_article_daily_performance",
        "marts/fct_niche_revenue_daily", "marts/mart_ai_cost_roi", "marts/mart_content_health",
    }
