"""`revenue_metrics`: the day's revenue KPIs over the marts, checked against the marts.

The numbers (revenue_usd, views, rpm_usd, revenue_7d_usd, ...) are numeric metadata, which the
Dagster UI's Plots tab draws across partitions: that is the trend chart. The 14-day trend, the
top/bottom articles of the week and ROI by model and by niche are table metadata with a schema.
The asset check ``kpis_reconcile_with_marts`` fails (severity ERROR) when the KPIs do not add up
to the marts they summarise.
"""

import warnings
from datetime import date

import dagster as dg

from allixios.analytics.kpis import reconcile_with_marts, revenue_kpis
from allixios_assets.analytics.ingestion import ONE_DAY_PER_RUN
from allixios_assets.partitions import daily_partitions
from resources.warehouse import WarehouseResource

MART_KEYS = [
    dg.AssetKey(["marts", "fct_article_daily_performance"]),
    dg.AssetKey(["marts", "fct_niche_revenue_daily"]),
    dg.AssetKey(["marts", "mart_ai_cost_roi"]),
    dg.AssetKey(["marts", "mart_content_health"]),
    dg.AssetKey(["marts", "mart_tenant_daily_kpis"]),
    dg.AssetKey(["marts", "dim_articles"]),
]
RECONCILE_CHECK = "kpis_reconcile_with_marts"

# (column, type, description) of each table in the metadata
TREND_COLUMNS = [("day", "date", "UTC day"), ("views", "bigint", "page views"),
                 ("revenue_usd", "float", "revenue in USD")]
RANKING_COLUMNS = [("title", "text", "article title"), ("niche", "text", "niche slug"),
                   ("views", "bigint", "views over the 7 days"), ("revenue_usd", "float", "revenue over the 7 days"),
                   ("rpm_usd", "float", "revenue per 1000 views")]
ROI_COLUMNS = [("articles", "bigint", "articles"), ("cost_usd", "float", "generation cost"),
               ("revenue_usd", "float", "revenue to date"), ("roi", "float", "(revenue - cost) / cost"),
               ("paid_back", "bigint", "articles whose revenue covered their cost")]


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> dg.TableMetadataValue:
    """Rows as table metadata, typed by ``columns`` (the UI renders it as a table with a schema)."""
    schema = dg.TableSchema(columns=[dg.TableColumn(name, type_, description) for name, type_, description in columns])

    def plain(value):
        return value if value is None or isinstance(value, (int, float, bool, str)) else str(value)

    records = [dg.TableRecord({name: plain(row.get(name)) for name, _, _ in columns}) for row in rows]
    return dg.MetadataValue.table(records=records, schema=schema)


def _revenue_metrics(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    with warehouse.connection() as conn:
        k = revenue_kpis(conn, day)
        problems = reconcile_with_marts(conn, k)
    return dg.MaterializeResult(
        metadata={
            # numeric: plotted across partitions in the Plots tab
            "revenue_usd": dg.MetadataValue.float(k["revenue_usd"]),
            "views": dg.MetadataValue.int(k["views"]),
            "rpm_usd": dg.MetadataValue.float(k["rpm_usd"]),
            "revenue_7d_usd": dg.MetadataValue.float(k["revenue_7d_usd"]),
            "revenue_7d_change_pct": dg.MetadataValue.float(k["revenue_7d_change_pct"])
            if k["revenue_7d_change_pct"] is not None else dg.MetadataValue.null(),
            "articles_flagged_drop": dg.MetadataValue.int(k["articles_flagged_drop"]),
            # tables with a schema
            "revenue_trend_14d": table(k["trend"], TREND_COLUMNS),
            "top_articles_7d": table(k["top_articles"], RANKING_COLUMNS),
            "bottom_articles_7d": table(k["bottom_articles"], RANKING_COLUMNS),
            "roi_by_model": table(k["roi_by_model"], [("model", "text", "main model"), *ROI_COLUMNS]),
            "roi_by_niche": table(k["roi_by_niche"], [("niche_slug", "text", "niche"), *ROI_COLUMNS]),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=RECONCILE_CHECK,
                passed=not problems,
                severity=dg.AssetCheckSeverity.ERROR,
                description="; ".join(problems) if problems else "views, revenue and ROI totals match the marts",
                metadata={"views": k["views"], "revenue_usd": k["revenue_usd"], "mismatches": len(problems)},
            )
        ],
    )


# `backfill_policy` on @asset is a Dagster beta parameter: its warning is expected here.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)
    revenue_metrics = dg.asset(
        name="revenue_metrics", partitions_def=daily_partitions, backfill_policy=ONE_DAY_PER_RUN,
        group_name="analytics", owners=["team:analytics"], tags={"area": "analytics"}, kinds={"python", "postgres"},
        deps=MART_KEYS,
        check_specs=[
            dg.AssetCheckSpec(
                RECONCILE_CHECK, asset="revenue_metrics",
                description="The day's views and revenue equal the totals of fct_article_daily_performance and "
                "mart_tenant_daily_kpis; ROI by model and by niche both add up to mart_ai_cost_roi.",
            )
        ],
        description="Revenue KPIs of the day across tenants: revenue, views, RPM, 7-day revenue and its change, "
        "articles flagged as dropping (numbers, plotted across days in the Plots tab); the 14-day trend, top and "
        "bottom articles of the week and ROI by model and by niche as tables. Checked against the marts.",
    )(_revenue_metrics)
