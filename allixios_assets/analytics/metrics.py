"""`revenue_metrics`: the day's revenue KPIs over the marts, with a trend chart in the metadata.

Numeric metadata (revenue_usd, views, rpm_usd, ...) is plotted by the Dagster UI across
partitions; the Markdown holds a sparkline, a bar chart of the last 14 days and the top/bottom
articles and ROI tables.
"""

import warnings
from datetime import date

import dagster as dg

from allixios.analytics.kpis import markdown_table, revenue_kpis, trend_chart
from allixios_assets.analytics.ingestion import ONE_DAY_PER_RUN
from allixios_assets.partitions import daily_partitions
from resources.warehouse import WarehouseResource

MART_KEYS = [
    dg.AssetKey(["marts", "fct_article_daily_performance"]),
    dg.AssetKey(["marts", "fct_niche_revenue_daily"]),
    dg.AssetKey(["marts", "mart_ai_cost_roi"]),
    dg.AssetKey(["marts", "mart_content_health"]),
    dg.AssetKey(["marts", "dim_articles"]),
]


def _revenue_metrics(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    with warehouse.connection() as conn:
        k = revenue_kpis(conn, day)
    ranking = ["title", "niche", "views", "revenue_usd", "rpm_usd"]
    roi = ["articles", "cost_usd", "revenue_usd", "roi", "paid_back"]
    return dg.MaterializeResult(
        metadata={
            "revenue_usd": k["revenue_usd"],
            "views": k["views"],
            "rpm_usd": k["rpm_usd"],
            "revenue_7d_usd": k["revenue_7d_usd"],
            "revenue_7d_change_pct": k["revenue_7d_change_pct"],
            "articles_flagged_drop": k["articles_flagged_drop"],
            "revenue_trend": dg.MetadataValue.md(trend_chart(k["trend"])),
            "top_articles_7d": dg.MetadataValue.md(markdown_table(k["top_articles"], ranking)),
            "bottom_articles_7d": dg.MetadataValue.md(markdown_table(k["bottom_articles"], ranking)),
            "roi_by_model": dg.MetadataValue.md(markdown_table(k["roi_by_model"], ["model", *roi])),
            "roi_by_niche": dg.MetadataValue.md(markdown_table(k["roi_by_niche"], ["niche_slug", *roi])),
        }
    )


# `backfill_policy` on @asset is a Dagster beta parameter: its warning is expected here.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)
    revenue_metrics = dg.asset(
        name="revenue_metrics", partitions_def=daily_partitions, backfill_policy=ONE_DAY_PER_RUN,
        group_name="analytics", owners=["team:analytics"], tags={"area": "analytics"}, kinds={"python", "postgres"},
        deps=MART_KEYS,
        description="Revenue KPIs of the day across tenants: revenue, views, RPM, 7-day revenue and its change, "
        "top and bottom articles of the week, ROI by model and by niche, articles flagged as dropping; a 14-day "
        "revenue chart in the metadata.",
    )(_revenue_metrics)
