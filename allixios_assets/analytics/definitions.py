"""Definitions of the analytics area, merged into `allixios_assets.definitions.defs`.

analytics_job (daily partition): raw_page_events + raw_revenue_events -> dbt build of the window
(staging, intermediate, marts, tests as checks) -> revenue_metrics.
"""

from datetime import timedelta

import dagster as dg

from allixios_assets.analytics.app_tables import APP_TABLES
from allixios_assets.analytics.dbt_models import analytics_dbt_models
from allixios_assets.analytics.forecasts import article_forecasts, daily_forecast_schedule, forecast_job
from allixios_assets.analytics.ingestion import raw_page_events, raw_revenue_events
from allixios_assets.analytics.metrics import revenue_metrics

analytics_job = dg.define_asset_job(
    "analytics_job",
    selection=dg.AssetSelection.assets(raw_page_events, raw_revenue_events, analytics_dbt_models, revenue_metrics),
    # in one process: the steps run one after the other, and a process per step would add its
    # start-up (importing the code location) to every day of a backfill
    executor_def=dg.in_process_executor,
    tags={"area": "analytics"},
    description="One day: load the landed event files, build the dbt marts for that day's window, compute the KPIs.",
)


@dg.schedule(job=analytics_job, cron_schedule="30 1 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Every night: the analytics of the day that just ended (UTC).")
def daily_analytics_schedule(context: dg.ScheduleEvaluationContext):
    day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=f"analytics:{day}", partition_key=day,
                         tags={"allixios/trigger": "daily_analytics_schedule"})


defs = dg.Definitions(
    assets=[raw_page_events, raw_revenue_events, analytics_dbt_models, revenue_metrics, *APP_TABLES, article_forecasts],
    jobs=[analytics_job, forecast_job],
    schedules=[daily_analytics_schedule, daily_forecast_schedule],
)
