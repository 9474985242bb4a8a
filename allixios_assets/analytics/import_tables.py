"""The raw tables the imports write (`allixios ingest <kind>`, allixios/analytics/imports.py):
written outside Dagster, read by dbt as the source ``imports``, so declared as external assets
under dagster-dbt's own source keys (``imports/<table>``) - the lineage starts at them."""

import dagster as dg

from allixios.analytics.imports import LOAD_COLUMNS

_DESCRIPTIONS = {
    "search_console": "Search Console performance rows (UI CSV or bulk export) from landing/search_console/<tenant>/; "
                      "`allixios ingest search-console`.",
    "ga4_events": "GA4 BigQuery-export events (JSONL) from landing/ga4/<tenant>/; `allixios ingest ga4`.",
    "traffic_pages": "Daily page traffic from GA4's UI CSV and Plausible's CSV; `allixios ingest ga4` / `plausible`.",
    "affiliate_orders": "Affiliate network orders with reversals, in USD at the day's rate; `allixios ingest affiliate`.",
    "ad_revenue": "Ad revenue per page and day, in USD at the day's rate; `allixios ingest ad-revenue`.",
}

IMPORT_TABLES = [
    dg.AssetSpec(
        ["imports", table],
        description=_DESCRIPTIONS[table] + " Contract: docs/areas/analytics.md (Imports).",
        group_name="app",
        owners=["team:analytics"],
        kinds={"postgres"},
        metadata={"dagster/table_name": f"raw.{table}",
                  "dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn(c) for c in columns])},
    )
    for table, columns in LOAD_COLUMNS.items()
]


# The beacon's link clicks, landed by the collector (allixios/collector/lander.py) outside Dagster.
LINK_CLICKS = dg.AssetSpec(
    ["raw", "link_clicks"],
    description="Outbound and affiliate link clicks reported by the beacon on the published pages; landed from the "
                "collector's write-ahead log every few seconds (docs/areas/collector.md).",
    group_name="app",
    owners=["team:analytics"],
    kinds={"postgres"},
    metadata={"dagster/table_name": "raw.link_clicks",
              "dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn(c) for c in (
                  "event_id", "event_ts", "event_date", "tenant_id", "article_id", "view_id", "url", "href",
                  "affiliate")])},
)
