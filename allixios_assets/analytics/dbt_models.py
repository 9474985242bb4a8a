"""The dbt project as daily-partitioned assets: one partition = one build window (vars start_date /
end_date), dbt tests as asset checks, dbt sources mapped to the assets that produce those tables."""

import json
import shutil
from datetime import timedelta

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, dbt_assets

from allixios.analytics.locks import exclusive
from allixios.errors import ConfigError
from allixios_assets.partitions import daily_partitions
from resources.dbt import AllixiosDbtResource, dbt_project, require_manifest
from resources.warehouse import WarehouseResource

DBT_BUILD_LOCK = "allixios.dbt_build"

# dbt source (source name, table) -> the Dagster asset that writes that table
SOURCE_ASSET_KEYS = {
    ("raw", "page_events"): dg.AssetKey(["raw_page_events"]),
    ("raw", "revenue_events"): dg.AssetKey(["raw_revenue_events"]),
    ("app", "articles"): dg.AssetKey(["published_articles"]),
    ("app", "seo_reports"): dg.AssetKey(["seo_reports"]),
    ("app", "topics"): dg.AssetKey(["topics"]),
    ("app", "ai_usage"): dg.AssetKey(["article_drafts"]),
}


class AllixiosDbtTranslator(DagsterDbtTranslator):
    """Models keep dagster-dbt's keys ([schema, name], e.g. marts/mart_content_health); sources
    become the keys of the assets that produce them, so lineage runs from raw files to marts."""

    def get_asset_key(self, dbt_resource_props):
        if dbt_resource_props["resource_type"] == "source":
            key = SOURCE_ASSET_KEYS.get((dbt_resource_props["source_name"], dbt_resource_props["name"]))
            if key:
                return key
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props):
        return "analytics"


def load_manifest():
    try:
        return require_manifest()
    except ConfigError as exc:
        # the code location fails to load with the one line that says what to run
        raise ConfigError(exc.one_line(), fix=exc.fix) from None


@dbt_assets(
    manifest=load_manifest(),
    project=dbt_project(),
    partitions_def=daily_partitions,
    dagster_dbt_translator=AllixiosDbtTranslator(DagsterDbtTranslatorSettings(enable_asset_checks=True)),
    # one day per run, like the ingestion assets (dagster-dbt defaults time partitions to single runs)
    backfill_policy=dg.BackfillPolicy.multi_run(1),
    pool="dbt",
    name="analytics_dbt_models",
    op_tags={"area": "analytics"},
)
def analytics_dbt_models(context: dg.AssetExecutionContext, dbt: AllixiosDbtResource, warehouse: WarehouseResource):
    window = context.partition_time_window
    dbt_vars = {
        "start_date": window.start.date().isoformat(),
        "end_date": (window.end - timedelta(days=1)).date().isoformat(),
    }
    # One dbt build at a time across runs and processes: table models are swapped in through
    # <name>__dbt_tmp relations, which two concurrent builds would fight over.
    with exclusive(warehouse.url(), DBT_BUILD_LOCK) as waited_s:
        if waited_s > 1:
            context.log.info(f"waited {waited_s:.0f} s for another dbt build to finish")
        context.log.info(f"dbt build for {dbt_vars['start_date']} .. {dbt_vars['end_date']}")
        invocation = dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context)
        yield from invocation.stream()
    # each build gets its own target folder; after a success its events are in Dagster, so the
    # folder goes (a failed build keeps it for debugging)
    shutil.rmtree(invocation.target_path, ignore_errors=True)
