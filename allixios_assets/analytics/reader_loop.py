"""After each analytics day: the articles' analytics columns, the duckdb cross-check of the marts,
and the day's Parquet archive. Thin: the work is in allixios/analytics/{article_stats,crosscheck,archive}.py.

- ``article_analytics_columns`` writes view_count, unique_views, time_on_page, bounce_rate,
  social_shares and engagement_score on ``articles`` from the marts (per tenant), checked by
  ``article_columns_match_marts`` (ERROR).
- ``marts_match_landed_files`` (blocking, ERROR) on ``marts/fct_article_daily_performance``: duckdb
  recounts the day's views, unique visitors and revenue per article and niche from the landed
  files; any difference fails the check with a table of them.
- ``raw_events_archive`` writes ``archive/<table>/tenant=<slug>/day=<day>/part-0.parquet``.
"""


import warnings
from datetime import date

import dagster as dg

from allixios_assets.analytics.ingestion import ONE_DAY_PER_RUN
from allixios_assets.analytics.metrics import table
from allixios_assets.partitions import daily_partitions
from resources.warehouse import WarehouseResource

PERFORMANCE = dg.AssetKey(["marts", "fct_article_daily_performance"])
NICHES = dg.AssetKey(["marts", "fct_niche_revenue_daily"])
CHANNELS = dg.AssetKey(["marts", "fct_article_channel_daily"])
COLUMNS_CHECK = "article_columns_match_marts"
CROSSCHECK = "marts_match_landed_files"
MAX_LISTED = 200  # differences listed in the check's table (the count is always complete)

DIFFERENCE_COLUMNS = [
    ("level", "text", "article, niche or file"), ("tenant_id", "text", "tenant"), ("niche_id", "text", "niche"),
    ("article_id", "text", "article (for a file difference: the file)"), ("measure", "text", "what differs"),
    ("marts", "text", "the value in the marts (for a file: what ingest recorded)"),
    ("files", "text", "the value duckdb counted from the landed files"),
]
ARCHIVE_COLUMNS = [("table", "text", "raw table"), ("tenant", "text", "tenant slug"), ("rows", "bigint", "rows"),
                   ("path", "text", "Parquet file")]


def _article_analytics_columns(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from allixios.analytics.article_stats import marts_ready, mismatches, sync_article_stats, tenants_in_marts

    changed, problems, tenants = 0, [], []
    with warehouse.connection() as conn:
        if marts_ready(conn):
            tenants = tenants_in_marts(conn)
            for tenant in tenants:  # tenant by tenant: one tenant's rows never touch another's
                changed += sync_article_stats(conn, tenant)
                problems += mismatches(conn, tenant)
    return dg.MaterializeResult(
        metadata={"articles_changed": changed, "tenants": len(tenants)},
        check_results=[dg.AssetCheckResult(
            check_name=COLUMNS_CHECK, passed=not problems, severity=dg.AssetCheckSeverity.ERROR,
            description=(f"{len(problems)} article(s) out of step with the marts" if problems
                         else "every article's view_count, unique_views and engagement_score equal the marts"),
            metadata={"mismatches": len(problems)},
        )],
    )


def _raw_events_archive(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from allixios.analytics.archive import archive_day, archive_root

    day = date.fromisoformat(context.partition_key)
    with warehouse.connection() as conn:
        written = archive_day(conn, day)
    return dg.MaterializeResult(metadata={
        "partitions": len(written),
        "rows": sum(p.rows for p in written),
        "archive": dg.MetadataValue.path(str(archive_root())),
        "written": table([p.__dict__ for p in written], ARCHIVE_COLUMNS),
    })


# `backfill_policy` on @asset is beta and a partitioned check a preview: their warnings are expected here.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)
    warnings.simplefilter("ignore", dg.PreviewWarning)
    article_analytics_columns = dg.asset(
        name="article_analytics_columns", partitions_def=daily_partitions, backfill_policy=ONE_DAY_PER_RUN,
        group_name="analytics", owners=["team:analytics"], tags={"area": "analytics"}, kinds={"postgres"},
        deps=[PERFORMANCE, CHANNELS],
        check_specs=[dg.AssetCheckSpec(
            COLUMNS_CHECK, asset="article_analytics_columns", partitions_def=daily_partitions,
            description="articles.view_count / unique_views / engagement_score equal the totals of the marts.")],
        description="The seed's per-article analytics columns on `articles` (view_count, unique_views, "
        "time_on_page, bounce_rate, social_shares, engagement_score), recomputed per tenant from the marts after "
        "each dbt build (allixios/analytics/article_stats.py). Idempotent.",
    )(_article_analytics_columns)

    raw_events_archive = dg.asset(
        name="raw_events_archive", partitions_def=daily_partitions, backfill_policy=ONE_DAY_PER_RUN,
        group_name="analytics", owners=["team:analytics"], tags={"area": "analytics"}, kinds={"parquet", "duckdb"},
        deps=[dg.AssetKey("raw_page_events"), dg.AssetKey("raw_revenue_events")],
        description="The day's raw events as Parquet per tenant in an object-storage layout "
        "(`archive/<table>/tenant=<slug>/day=<day>/part-0.parquet`), replaced whole on a re-run; analysts query "
        "it with `allixios analysts archive-query` (duckdb, their tenant's partitions only).",
    )(_raw_events_archive)

    @dg.asset_check(
        asset=PERFORMANCE, name=CROSSCHECK, blocking=True, partitions_def=daily_partitions,
        additional_deps=[NICHES, dg.AssetKey("raw_page_events"), dg.AssetKey("raw_revenue_events")],
        description="duckdb recounts the day's views, unique visitors and revenue per article and niche from the "
        "landed files (landing/events/<day>/<tenant>/) and compares them with fct_article_daily_performance and "
        "fct_niche_revenue_daily: exact match, or a failure listing every difference.",
    )
    def marts_match_landed_files(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        from allixios.analytics.crosscheck import check_day

        day = date.fromisoformat(context.partition_key)
        with warehouse.connection() as conn:
            differences, recount = check_day(conn, day)
        shown = [{k: (None if v is None else str(v)) for k, v in d.items()} for d in differences[:MAX_LISTED]]
        return dg.AssetCheckResult(
            passed=not differences, severity=dg.AssetCheckSeverity.ERROR,
            description=(f"{len(differences)} difference(s) between the marts and the landed files"
                         + (f" (first {MAX_LISTED} listed)" if len(differences) > MAX_LISTED else "")
                         if differences else "views, unique visitors and revenue match the landed files exactly"),
            metadata={
                "differences": len(differences),
                "articles_recounted": len(recount.articles),
                "niches_recounted": len(recount.niches),
                "files_read": len(recount.files),
                "views_in_files": sum(a["views"] for a in recount.articles),
                "revenue_usd_in_files": float(sum(a["revenue_usd"] for a in recount.articles)),
                **({"difference_table": table(shown, DIFFERENCE_COLUMNS)} if differences else {}),
            },
        )
