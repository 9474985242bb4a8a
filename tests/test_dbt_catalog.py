"""The dbt project in the Dagster catalog: owners, groups, descriptions without SQL, documented and
typed columns, row counts at build time, the app tables as external assets, and revenue_metrics'
table metadata and reconciliation check (real dbt, real PostgreSQL, a real Dagster instance)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import dagster as dg
import pytest

from allixios.analytics.kpis import reconcile_with_marts, revenue_kpis
from allixios.analytics.simulator import simulate_traffic
from allixios.db.engine import connect
from resources.dbt import manifest_path, prepare_manifest
from tests.analytics_support import drop_dbt_relations, tenant_with_articles

K = dg.AssetKey
# h11a documents mart_ai_cost_roi's columns with its new SQL
UNDOCUMENTED_FOR_NOW = {"mart_ai_cost_roi"}


@pytest.fixture(scope="module")
def defs():
    prepare_manifest()
    from allixios_assets.definitions import defs as code_location

    return code_location


@pytest.fixture(scope="module")
def manifest(defs):
    return json.loads(manifest_path().read_text())


def models(manifest, layer: str | None = None) -> list[dict]:
    return [n for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and (layer is None or n["fqn"][1] == layer)]


def test_dbt_assets_have_owner_group_layer_and_no_raw_sql(defs, manifest):
    graph = defs.resolve_asset_graph()
    for node in models(manifest):
        asset = graph.get(K([node["fqn"][1], node["name"]]))
        assert asset.owners == ["team:analytics"], node["name"]
        assert asset.group_name == "analytics"
        assert asset.tags.get("layer") == node["fqn"][1]
        assert asset.description and "Raw SQL" not in asset.description and "select" not in asset.description.lower()


def test_every_mart_and_staging_column_is_documented_and_staging_keys_are_tested(manifest):
    for node in models(manifest, "marts") + models(manifest, "staging"):
        if node["name"] in UNDOCUMENTED_FOR_NOW:
            continue
        assert node["description"], node["name"]
        assert node["columns"], f"{node['name']}: no columns documented"
        for column in node["columns"].values():
            assert column.get("description"), f"{node['name']}.{column['name']} has no description"
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    for node in models(manifest, "staging"):
        on_model = [t for t in tests if node["unique_id"] in t["depends_on"]["nodes"]]
        names = {t["test_metadata"]["name"] for t in on_model if t.get("test_metadata")}
        assert {"unique", "not_null"} <= names or "unique_key" in names, f"{node['name']}: primary key untested"


def test_app_tables_are_external_assets_not_default_stubs(defs):
    graph = defs.resolve_asset_graph()
    for key in (K("tenants"), K("niches")):
        asset = graph.get(key)
        assert not asset.is_materializable and asset.description and asset.group_name == "app"
        assert asset.owners
        assert asset.metadata["dagster/column_schema"].columns
    assert K("tenants") in graph.get(K(["staging", "stg_tenants"])).parent_keys
    assert K("niches") in graph.get(K(["staging", "stg_niches"])).parent_keys
    everything = graph.get_all_asset_keys()
    assert not [k for k in everything if k.path[0] == "app"]
    assert not [k for k in everything if graph.get(k).group_name == "default"]


def test_revenue_metrics_declares_its_reconciliation_check(defs):
    checks = {(c.asset_key, c.name) for c in defs.resolve_asset_graph().asset_check_keys}
    assert (K("revenue_metrics"), "kpis_reconcile_with_marts") in checks


@pytest.fixture(scope="module")
def built(defs, database_url):
    """One analytics_job day on the real instance; the marts and the event log it leaves."""
    from allixios_assets.instance import get_instance
    from tests.conftest import APP_TABLES_TO_KEEP

    with connect(database_url) as conn:
        tables = conn.execute(
            """SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables
               WHERE schemaname IN ('public', 'raw') AND tablename <> ALL(%s)""", (list(APP_TABLES_TO_KEEP),),
        ).fetchall()
        conn.execute(f"TRUNCATE {', '.join(t[0] for t in tables)} RESTART IDENTITY CASCADE")
        drop_dbt_relations(conn)
        start = date(2026, 11, 20)
        tenant_with_articles(conn, "catalog", 6, start - timedelta(days=3))
        simulate_traffic(conn, 2, 400, start, "catalog", seed=3)
    day = (start + timedelta(days=1)).isoformat()
    instance = get_instance()
    result = defs.resolve_job_def("analytics_job").execute_in_process(partition_key=day, instance=instance)
    assert result.success
    return instance, result, day


@pytest.mark.slow
def test_a_built_mart_has_column_types_descriptions_and_row_count(built, manifest):
    instance, _result, day = built
    event = instance.get_latest_materialization_event(K(["marts", "dim_articles"])).asset_materialization
    assert event.partition == day
    schema = event.metadata["dagster/column_schema"].schema
    columns = {c.name: c for c in schema.columns}
    with connect() as conn:
        rows = conn.execute("SELECT count(*) FROM marts.dim_articles").fetchone()[0]
        actual = [r[0] for r in conn.execute(
            """SELECT column_name FROM information_schema.columns
               WHERE table_schema = 'marts' AND table_name = 'dim_articles' ORDER BY ordinal_position""")]
    assert list(columns) == actual
    assert columns["article_id"].type == "uuid" and columns["generation_cost_usd"].type.startswith("numeric")
    assert event.metadata["dagster/row_count"].value == rows == 6
    # the documented columns are the built ones, for every mart and staging model
    with connect() as conn:
        for node in models(manifest, "marts") + models(manifest, "staging"):
            if node["name"] in UNDOCUMENTED_FOR_NOW:
                continue
            built_columns = {r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
                (node["fqn"][1], node["name"]))}
            assert set(node["columns"]) == built_columns, node["name"]
    # the description from the YAML reaches the catalog
    spec_schema = instance.get_latest_materialization_event(K(["marts", "mart_content_health"])).asset_materialization
    assert spec_schema.metadata["dagster/row_count"].value > 0


@pytest.mark.slow
def test_revenue_metrics_tables_numbers_and_reconciliation(built):
    instance, result, day = built
    metrics = instance.get_latest_materialization_event(K("revenue_metrics")).asset_materialization
    trend = metrics.metadata["revenue_trend_14d"]
    assert isinstance(trend, dg.TableMetadataValue)
    assert [c.name for c in trend.schema.columns] == ["day", "views", "revenue_usd"]
    assert len(trend.records) == 14 and trend.records[-1].data["day"] == day
    assert isinstance(metrics.metadata["roi_by_model"], dg.TableMetadataValue)
    assert isinstance(metrics.metadata["revenue_usd"], dg.FloatMetadataValue)  # what the Plots tab draws
    assert isinstance(metrics.metadata["views"], dg.IntMetadataValue)
    assert not [k for k, v in metrics.metadata.items() if isinstance(v, dg.MarkdownMetadataValue)]
    check = [c for c in result.get_asset_check_evaluations() if c.check_name == "kpis_reconcile_with_marts"]
    assert len(check) == 1 and check[0].passed, check[0].description if check else "no evaluation"
    # and it would say so when the KPIs and the marts disagree
    with connect() as conn:
        kpis = revenue_kpis(conn, date.fromisoformat(day))
        assert reconcile_with_marts(conn, kpis) == []
        off = {**kpis, "views": kpis["views"] + 1, "revenue_usd": kpis["revenue_usd"] + 1}
        problems = reconcile_with_marts(conn, off)
    assert any("views" in p and "fct_article_daily_performance" in p for p in problems)
    assert any("revenue_usd" in p and "mart_tenant_daily_kpis" in p for p in problems)
