"""The dbt project as daily-partitioned assets: one partition = one build window (vars start_date /
end_date), dbt tests as asset checks, dbt sources mapped to the assets that produce those tables."""

import os
import shutil
from datetime import timedelta

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, dbt_assets
from dagster_dbt.asset_utils import default_description_fn

from allixios.analytics.locks import exclusive
from allixios.errors import ConfigError
from allixios_assets.partitions import daily_partitions
from resources.dbt import AllixiosDbtResource, dbt_project, keep_parse_state, require_manifest
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

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        """One check per model, ``dbt_tests``, for all its dbt tests (not one check per test).

        Each Dagster asset check is an event before the run (planned) and two during it, each a
        few storage round trips; 146 tests made 438 of the day build's ~540 events. The check
        passes when every test of the model passed; each test's result is in its metadata. It
        is blocking when any of the model's tests has severity error (all do), like dagster-dbt's
        per-test checks; dbt itself skips the models downstream of a failed test.
        """
        default = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if default is None:
            return None
        tests = model_tests(manifest, self, project).get(default.asset_key, [])
        deps = set()
        blocking = False
        for test_id in tests:
            spec = super().get_asset_check_spec(asset_spec, manifest, test_id, project)
            if spec is not None:
                deps |= {dep.asset_key for dep in spec.additional_deps}
                blocking = blocking or spec.blocking
        return dg.AssetCheckSpec(
            name=TESTS_CHECK,
            asset=default.asset_key,
            description=f"the model's {len(tests)} dbt tests: " + ", ".join(manifest["nodes"][t]["name"] for t in tests),
            additional_deps=sorted(deps - {default.asset_key}, key=lambda k: k.to_user_string()),
            blocking=blocking,
            # dagster-dbt selects a check's dbt test by this id when a run selects only some
            # checks of a model; with one check per model it names the first, so `dbt_tests` is
            # run with its model (analytics_job selects both)
            metadata={"dagster_dbt/unique_id": tests[0]} if tests else None,
        )

    def get_tags(self, dbt_resource_props):
        tags = dict(super().get_tags(dbt_resource_props))
        fqn = dbt_resource_props.get("fqn") or []
        if dbt_resource_props.get("resource_type") == "model" and len(fqn) > 2:
            tags["layer"] = fqn[1]  # allixios.<layer>.<model>: staging, intermediate or marts
        return tags


# the one asset check of each dbt model: all its dbt tests (AllixiosDbtTranslator.get_asset_check_spec)
TESTS_CHECK = "dbt_tests"

_MODEL_TESTS: dict[int, tuple[dict, dict]] = {}


def model_tests(manifest, translator, project=None) -> dict:
    """{asset key: [the dbt test ids dagster-dbt attaches to it]}, once per manifest object."""
    from dagster_dbt.asset_utils import get_asset_check_key_for_test

    cached = _MODEL_TESTS.get(id(manifest))
    if cached is not None and cached[0] is manifest:
        return cached[1]
    tests: dict = {}
    for unique_id in sorted(manifest["nodes"]):
        if unique_id.startswith("test."):
            key = get_asset_check_key_for_test(manifest, translator, unique_id, project)
            if key is not None:
                tests.setdefault(key.asset_key, []).append(unique_id)
    if len(_MODEL_TESTS) > 8:  # the loaded manifest and a few invocations' copies (resources/dbt.py)
        _MODEL_TESTS.clear()
    _MODEL_TESTS[id(manifest)] = (manifest, tests)
    return tests


def load_manifest():
    try:
        return require_manifest()
    except ConfigError as exc:
        # the code location fails to load with the one line that says what to run
        raise ConfigError(exc.one_line(), fix=exc.fix) from None


TRANSLATOR = AllixiosDbtTranslator(DagsterDbtTranslatorSettings(enable_asset_checks=True))


@dbt_assets(
    manifest=load_manifest(),
    project=dbt_project(),
    partitions_def=daily_partitions,
    dagster_dbt_translator=TRANSLATOR,
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
        # the window as environment, not --vars: dbt then reuses its parse state (resources/dbt.py)
        invocation = dbt.cli(["build"], context=context, window=dbt_vars, raise_on_error=False)
        events = with_tests_per_model(invocation, context)
        yield from with_relation_metadata(events, invocation.manifest, warehouse.url())
        keep_parse_state(invocation)
        error = invocation.get_error()
        if error is not None:
            raise error
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


def with_tests_per_model(invocation, context):
    """dagster-dbt's events of the build, with the dbt tests reported as one ``dbt_tests`` check
    result per model (when its last test has run): passed when all passed, severity error when a
    failed test's is, each test's status and failing rows in the metadata. Tests without a
    Dagster asset (a singular test on several models without a `meta.dagster.ref`) keep
    dagster-dbt's default (an observation)."""
    manifest = invocation.manifest
    translator = invocation.dagster_dbt_translator
    expected = {key: set(tests) for key, tests in model_tests(manifest, translator, invocation.project).items()}
    owner = {test: key for key, tests in expected.items() for test in tests}
    results: dict = {}

    def check_result(key):
        tests = results.pop(key)
        failed = {name: r for name, r in tests.items() if r["status"] != "pass"}
        severity = (dg.AssetCheckSeverity.WARN if failed and all(r["status"] == "warn" for r in failed.values())
                    else dg.AssetCheckSeverity.ERROR)
        return dg.AssetCheckResult(
            asset_key=key, check_name=TESTS_CHECK, passed=not failed, severity=severity,
            description=(f"{len(failed)} of {len(tests)} dbt tests failed: {', '.join(sorted(failed))}" if failed
                         else f"{len(tests)} dbt tests passed"),
            metadata={"tests": dg.MetadataValue.json(tests), "failed": len(failed),
                      **({"not_run": dg.MetadataValue.json(sorted(manifest["nodes"][t]["name"] for t in expected[key]))}
                         if expected[key] else {})},
        )

    for event in invocation.stream_raw_events():
        unique_id = event.raw_event["data"].get("node_info", {}).get("unique_id") or ""
        if unique_id in owner and event.is_result_event:
            key = owner[unique_id]
            data = event.raw_event["data"]
            status = (data["node_info"].get("node_status") or data.get("status") or "").lower()
            if status == "skipped":
                continue
            results.setdefault(key, {})[manifest["nodes"][unique_id]["name"]] = {
                "status": status, "failures": data.get("num_failures")}
            expected[key].discard(unique_id)
            if not expected[key]:
                yield check_result(key)
            continue
        yield from event.to_default_asset_events(manifest=manifest, dagster_dbt_translator=translator,
                                                 context=context, target_path=invocation.target_path,
                                                 project=invocation.project)
    for key in list(results):  # models some of whose tests did not run (a failed build, a subset)
        yield check_result(key)


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
