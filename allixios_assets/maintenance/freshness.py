"""Freshness checks: published content and the marts analysts read must have been updated within a day.

Both are refreshed daily (content at 06:00, analytics at 01:30 UTC); 26 hours leaves room for a
slow run before the check fails. The sensor evaluates the checks so a stale asset shows as a
failed check in the UI (and, through the run-failure sensor's log, in operations).
"""

from datetime import timedelta

import dagster as dg

FRESH_WITHIN = timedelta(hours=26)
MARTS = ("dim_articles", "fct_article_daily_performance", "fct_niche_revenue_daily", "mart_ai_cost_roi",
         "mart_content_health")

freshness_checks = dg.build_last_update_freshness_checks(
    assets=[dg.AssetKey("published_articles"), *(dg.AssetKey(["marts", name]) for name in MARTS)],
    lower_bound_delta=FRESH_WITHIN,
)

freshness_checks_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=freshness_checks, name="freshness_checks_sensor", minimum_interval_seconds=600,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
