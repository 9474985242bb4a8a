"""The dbt project as daily-partitioned assets: one partition = one build window (vars start_date /
end_date), dbt tests as asset checks, dbt sources mapped to the assets that produce those tables."""

import json
import os
import shutil
from datetime import timedelta

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, dbt_assets
from dagster_dbt.asset_utils import default_description_fn

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
    # written outside Dagster (CLI, API, topic intake): external assets (app_tables.py)
    ("app", "tenants"): dg.AssetKey(["tenants"]),
    ("app", "niches"): dg.AssetKey(["niches"]),
}


# who answers for the dbt models in the catalog, unless a model's `meta: {owner: ...}` says otherwise
DEFAULT_OWNER = "team:analytics"


class AllixiosDbtTranslator(DagsterDbtTranslator):
    """How the dbt project shows in the Dagster catalog.

    Models keep dagster-dbt's keys ([schema, name], e.g. marts/mart_content_health); sources become
    the keys of the assets that produce them, so lineage runs from raw files to marts. Every model
    is in group ``analytics``, owned by its ``meta.owner`` (default ``team:analytics``), tagged with
    its layer (staging / intermediate / marts) and described by its dbt description alone: the SQL
    is one click away in the code, not pasted into the catalog. Column descriptions come from the
    dbt YAML; column types and row counts are attached when the models are built.
    """

    def get_asset_key(self, dbt_resource_props):
        if dbt_resource_props["resource_type"] == "source":
            key = SOURCE_ASSET_KEYS.get((dbt_resource_props["source_name"], dbt_resource_props["name"]))
            if key:
                return key
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props):
        return "analytics"

    def get_description(self, dbt_resource_props):
        return default_description_fn(dbt_resource_props, display_raw_sql=False)

    def get_owners(self, dbt_resource_props):
        owner = (dbt_resource_props.get("config", {}).get("meta") or {}).get("owner") or (
            dbt_resource_props.get("meta") or {}
        ).get("owner")
        return [owner or DEFAULT_OWNER]

    def get_tags(self, dbt_resource_props):
        tags = dict(super().get_tags(dbt_resource_props))
        fqn = dbt_resource_props.get("fqn") or []
        if dbt_resource_props.get("resource_type") == "model" and len(fqn) > 2:
            tags["layer"] = fqn[1]  # allixios.<layer>.<model>: staging, intermediate or marts
        return tags


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
        yield from with_relation_metadata(invocation.stream(), invocation.manifest, warehouse.url())
    # each build gets its own target folder; after a success its events are in Dagster, so the
    # folder goes (a failed build keeps it for debugging)
    keep = os.environ.get(RUN_RESULTS_COPY_ENV)
    if keep:  # profiling: dbt's own per-node timings of a product-path build (BENCHMARKS.md, dbt_marts)
        shutil.copy(invocation.target_path / "run_results.json", keep)
    shutil.rmtree(invocation.target_path, ignore_errors=True)


# Where to copy a successful build's run_results.json before its target folder goes (profiling)
RUN_RESULTS_COPY_ENV = "ALLIXIOS_DBT_RUN_RESULTS_COPY"

# One catalog query per built model: its columns with their types and, for a table, its rows.
# (dagster-dbt's fetch_row_counts / fetch_column_metadata open a dbt adapter connection per event,
# checks included, which cost more than the day's build itself: BENCHMARKS.md, dbt_marts.)
_RELATION_SQL = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum"""


def relation_metadata(conn, props: dict) -> dict:
    """``dagster/column_schema`` (types from PostgreSQL, descriptions from the dbt YAML) and, for a
    table model, ``dagster/row_count``; empty when the relation is not there."""
    from psycopg import sql

    if not props.get("schema") or not (props.get("alias") or props.get("name")):
        return {}
    relation = sql.Identifier(props["schema"], props.get("alias") or props["name"])
    columns = conn.execute(_RELATION_SQL, (relation.as_string(conn),)).fetchall()
    if not columns:
        return {}
    documented = props.get("columns") or {}
    schema = dg.TableSchema(columns=[
        dg.TableColumn(name=name, type=kind, description=(documented.get(name) or {}).get("description"))
        for name, kind in columns
    ])
    metadata = {"dagster/column_schema": schema}
    if props.get("config", {}).get("materialized") != "view":  # counting a view would run its query
        metadata["dagster/row_count"] = dg.MetadataValue.int(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(relation)).fetchone()[0])
    return metadata


def with_relation_metadata(events, manifest: dict, url):
    """The dbt events in their order, each built model's with its column types and row count.

    The queries run on one connection in one worker thread while this loop goes on reading dbt's
    output (a count(*) of a large mart must not leave dbt blocked on a full stdout pipe); each
    model's queries are committed at once, so no lock is held while dbt swaps the next table in.
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    from allixios.db.engine import connect

    nodes = manifest.get("nodes", {})

    def attach(conn, event):
        if isinstance(event, (dg.Output, dg.AssetMaterialization)) and "unique_id" in event.metadata:
            props = nodes.get(event.metadata["unique_id"].value) or {}
            if props.get("resource_type") in ("model", "snapshot", "seed"):
                try:
                    metadata = relation_metadata(conn, props)
                    conn.commit()
                except Exception as exc:  # like dagster-dbt: the catalog extras never fail the build
                    conn.rollback()
                    dg.get_dagster_logger().warning(f"no column types / row count for {props.get('name')}: {exc}")
                    return event
                return event.with_metadata({**event.metadata, **metadata})
        return event

    with connect(url) as conn, ThreadPoolExecutor(max_workers=1, thread_name_prefix="dbt_metadata") as worker:
        pending: deque = deque()
        for event in events:
            pending.append(worker.submit(attach, conn, event))
            while pending and pending[0].done():
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
