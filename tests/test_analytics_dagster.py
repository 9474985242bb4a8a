"""The Dagster layer of analytics: lineage from raw events and content tables to the marts, dbt
tests as asset checks, the manifest error, and the analytics_job materializing days on a real
Dagster instance (real dbt, real PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal

import dagster as dg
import pytest

from allixios.analytics.simulator import simulate_traffic
from allixios.db.engine import connect
from resources.dbt import prepare_manifest
from tests.analytics_support import drop_dbt_relations, tenant_with_articles

K = dg.AssetKey


@pytest.fixture(scope="module")
def defs():
    prepare_manifest()
    from allixios_assets.definitions import defs as code_location

    return code_location


def upstream(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen, todo = set(), [key]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                if graph.has(parent):
                    todo.append(parent)
    return seen


def test_lineage_runs_from_raw_events_and_content_tables_to_the_marts(defs):
    graph = defs.resolve_asset_graph()
    health = upstream(graph, K(["marts", "mart_content_health"]))
    assert {K("raw_page_events"), K("raw_revenue_events"), K("published_articles"), K("article_drafts"),
            K(["staging", "stg_page_events"]), K(["marts", "fct_article_daily_performance"])} <= health
    assert {K("seo_reports"), K("topics")} <= upstream(graph, K(["marts", "fct_niche_revenue_daily"])) | upstream(
        graph, K(["marts", "dim_articles"]))
    metrics = upstream(graph, K("revenue_metrics"))
    assert {K("raw_page_events"), K("raw_revenue_events"), K(["marts", "mart_ai_cost_roi"])} <= metrics
    # the raw assets are the ones that load the files, not dbt source stubs
    assert graph.get(K("raw_page_events")).is_materializable
    assert graph.get(K("raw_page_events")).partitions_def == graph.get(K(["marts", "mart_content_health"])).partitions_def


def test_dbt_tests_are_one_blocking_asset_check_per_model(defs):
    graph = defs.resolve_asset_graph()
    checks = {(c.asset_key, c.name) for c in graph.asset_check_keys}
    assert (K("raw_page_events"), "files_landed_and_mostly_valid") in checks
    dbt_checks = list(defs.resolve_assets_def(K(["marts", "mart_content_health"])).check_specs)
    assert {spec.name for spec in dbt_checks} == {"dbt_tests"}  # one per model, not one per dbt test
    assert len(dbt_checks) == len({spec.asset_key for spec in dbt_checks}) >= 25
    specs = {spec.asset_key: spec for spec in dbt_checks}
    health = specs[K(["marts", "mart_content_health"])]
    assert health.blocking and "unique_key_mart_content_health_article_id__day" in health.description
    # singular tests on several models count for the model their meta names
    assert "assert_revenue_conserved_raw_to_marts" in specs[K(["marts", "fct_niche_revenue_daily"])].description
    assert "assert_page_views_conserved_raw_to_marts" in specs[K(["marts", "fct_article_daily_performance"])].description


def test_analytics_job_selects_ingest_dbt_and_metrics_only(defs):
    job = defs.resolve_job_def("analytics_job")
    keys = set(job.asset_layer.selected_asset_keys)
    assert {K("raw_page_events"), K("raw_revenue_events"), K("revenue_metrics"),
            K(["marts", "mart_content_health"]), K(["staging", "stg_articles"])} <= keys
    assert not keys & {K("published_articles"), K("article_drafts"), K("topics"), K("seo_reports")}
    assert job.partitions_def == defs.resolve_assets_def(K("raw_page_events")).partitions_def


def test_missing_manifest_fails_the_code_location_with_the_fix(tmp_path):
    env = {**os.environ, "ALLIXIOS_DBT_MANIFEST": str(tmp_path / "nowhere" / "manifest.json")}
    done = subprocess.run([sys.executable, "-c", "import allixios_assets.definitions"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "dbt manifest" in last and "is missing" in last and "make install" in last and "allixios prepare" in last


@pytest.mark.slow
def test_analytics_job_materializes_a_day_on_the_real_instance(defs, db):
    """The instance `make run` uses: DAGSTER_HOME with PostgreSQL storage (the session's databases)."""
    from allixios_assets.instance import get_instance

    start = date(2026, 11, 16)
    day = (start + timedelta(days=1)).isoformat()
    with connect(db) as conn:
        drop_dbt_relations(conn)
        tenant_with_articles(conn, "sample", 8, start - timedelta(days=3))
        # into the landing folder of this session (ALLIXIOS_HOME), where the assets look
        simulate_traffic(conn, 2, 600, start, "sample", seed=5)
    instance = get_instance()

    result = defs.resolve_job_def("analytics_job").execute_in_process(partition_key=day, instance=instance)

    assert result.success
    raw = instance.get_latest_materialization_event(K("raw_page_events")).asset_materialization
    assert raw.partition == day
    with connect() as conn:
        loaded, usd, health_days = conn.execute(
            """SELECT (SELECT count(*) FROM raw.page_events WHERE event_date = %(d)s),
                      (SELECT sum(revenue_usd) FROM marts.fct_article_daily_performance WHERE day = %(d)s),
                      (SELECT array_agg(DISTINCT day) FROM marts.mart_content_health)""",
            {"d": day},
        ).fetchone()
    assert raw.metadata["rows_loaded"].value == loaded > 0
    assert health_days == [date.fromisoformat(day)]  # only the partition's window was built
    health = instance.get_latest_materialization_event(K(["marts", "mart_content_health"])).asset_materialization
    assert health.partition == day
    metrics = instance.get_latest_materialization_event(K("revenue_metrics")).asset_materialization
    assert Decimal(str(metrics.metadata["revenue_usd"].value)) == round(usd, 4)
    assert len(metrics.metadata["revenue_trend_14d"].records) == 14
    checks = result.get_asset_check_evaluations()
    assert len(checks) >= 25 and all(c.passed for c in checks)
    health = [c for c in checks if c.asset_key == K(["marts", "mart_content_health"]) and c.check_name == "dbt_tests"]
    assert len(health) == 1 and health[0].metadata["failed"].value == 0
    assert health[0].metadata["tests"].value["unique_key_mart_content_health_article_id__day"]["status"] == "pass"


# the smallest chain with a data test that the data can fail: dim_articles' generation_cost_usd is
# value_between 0 and 1000 (no schema constraint stops an article's recorded cost above it), and
# mart_ai_cost_roi is built from dim_articles
COST_CHAIN = [
    K(["staging", name]) for name in ("stg_articles", "stg_tenants", "stg_niches", "stg_topics", "stg_ai_usage")
] + [K(["intermediate", "int_ai_usage_attribution"]), K(["intermediate", "int_article_generation_cost"]),
     K(["marts", "dim_articles"]), K(["marts", "mart_ai_cost_roi"])]


def test_a_failing_dbt_test_fails_its_blocking_check_and_skips_the_models_downstream(defs, db):
    """A model's failed dbt test (severity error) fails its `dbt_tests` check (blocking, ERROR), dbt
    skips the models built from it and the run fails. A subset of nine models on two articles and
    an in-memory instance keep it to one short dbt build."""
    day = date(2026, 11, 17)
    with connect(db) as conn:
        drop_dbt_relations(conn)
        _, articles = tenant_with_articles(conn, "costly", 2, day - timedelta(days=1))
        conn.execute("UPDATE articles SET generation_cost = 5000 WHERE id = %s", (articles[0]["id"],))

    job = defs.resolve_job_def("analytics_job")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(partition_key=day.isoformat(), asset_selection=COST_CHAIN,
                                        instance=instance, raise_on_error=False)

    assert not result.success
    checks = {c.asset_key: c for c in result.get_asset_check_evaluations()}
    failed = checks[K(["marts", "dim_articles"])]
    assert failed.check_name == "dbt_tests" and not failed.passed
    assert failed.severity == dg.AssetCheckSeverity.ERROR
    assert failed.metadata["failed"].value == 1
    tests = failed.metadata["tests"].value
    assert [name for name, r in tests.items() if r["status"] == "fail"] == [
        "value_between_dim_articles_generation_cost_usd__1000__0"]
    spec = next(s for s in defs.resolve_assets_def(K(["marts", "dim_articles"])).check_specs
                if s.asset_key == K(["marts", "dim_articles"]))
    assert spec.blocking
    # the models before it passed their checks; the one built from it was skipped by dbt
    assert checks[K(["staging", "stg_articles"])].passed
    materialized = {m.asset_key for m in result.asset_materializations_for_node("analytics_dbt_models")}
    assert K(["marts", "dim_articles"]) in materialized
    assert K(["marts", "mart_ai_cost_roi"]) not in materialized and K(["marts", "mart_ai_cost_roi"]) not in checks
    with connect(db) as conn:
        assert conn.execute("SELECT to_regclass('marts.mart_ai_cost_roi')").fetchone()[0] is None
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "dim_articles" in str(failure.step_failure_data.error)
