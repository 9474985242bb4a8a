"""Definitions of the analytics area, merged into `allixios_assets.definitions.defs`.

analytics_job (daily partition): raw_page_events + raw_revenue_events -> dbt build of the window
(staging, intermediate, marts, tests as checks) -> revenue_metrics; after the build, the articles'
analytics columns, the duckdb cross-check of the marts and the day's Parquet archive (reader_loop.py).
"""

from datetime import timedelta

import dagster as dg

from allixios_assets.analytics.app_tables import APP_TABLES
from allixios_assets.analytics.dbt_models import analytics_dbt_models
from allixios_assets.analytics.forecasts import article_forecasts, daily_forecast_schedule, forecast_job
from allixios_assets.analytics.import_tables import IMPORT_TABLES, LINK_CLICKS
from allixios_assets.analytics.ingestion import raw_page_events, raw_revenue_events
from allixios_assets.analytics.metrics import revenue_metrics
from allixios_assets.analytics.reader_loop import (
    article_analytics_columns,
    marts_match_landed_files,
    raw_events_archive,
)

analytics_job = dg.define_asset_job(
    "analytics_job",
    selection=dg.AssetSelection.assets(raw_page_events, raw_revenue_events, analytics_dbt_models, revenue_metrics,
                                       article_analytics_columns, raw_events_archive)
    | dg.AssetSelection.checks(marts_match_landed_files),
    # in one process: the steps run one after the other, and a process per step would add its
    # start-up (importing the code location) to every day of a backfill
    executor_def=dg.in_process_executor,
    tags={"area": "analytics"},
    description="One day: load the landed event files, build the dbt marts for that day's window, compute the KPIs; "
    "then the articles' analytics columns, the duckdb cross-check against the landed files and the Parquet archive.",
)


@dg.schedule(job=analytics_job, cron_schedule="30 1 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Every night: the analytics of the day that just ended (UTC).")
def daily_analytics_schedule(context: dg.ScheduleEvaluationContext):
    day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=f"analytics:{day}", partition_key=day,
                         tags={"allixios/trigger": "daily_analytics_schedule"})


defs = dg.Definitions(
    assets=[raw_page_events, raw_revenue_events, analytics_dbt_models, revenue_metrics, article_analytics_columns,
            raw_events_archive, *APP_TABLES, *IMPORT_TABLES, LINK_CLICKS, article_forecasts],
    asset_checks=[marts_match_landed_files],
    jobs=[analytics_job, forecast_job],
    schedules=[daily_analytics_schedule, daily_forecast_schedule],
)
