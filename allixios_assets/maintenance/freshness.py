"""Freshness policies: published content and the marts analysts read must be updated within a day.

Content runs daily at 06:00 and analytics at 01:30 UTC; 26 hours leaves room for a slow run
before an asset shows as stale (warn after 25). Evaluated by the daemon (`freshness: enabled` in
dagster.yaml); a stale asset shows in the UI's asset health.
"""

import warnings
from datetime import timedelta

import dagster as dg

DAILY = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26), warn_window=timedelta(hours=25))
MARTS = ("dim_articles", "fct_article_daily_performance", "fct_niche_revenue_daily", "mart_ai_cost_roi",
         "mart_content_health")
FRESH_DAILY = dg.AssetSelection.assets("published_articles", *(dg.AssetKey(["marts", m]) for m in MARTS))


def with_freshness_policies(defs: dg.Definitions) -> dg.Definitions:
    # the one API that attaches policies to dbt and Python assets alike; its preview status is
    # accepted here (pinned Dagster release) rather than printed at every code-location load
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_resolved_asset_specs(
            func=lambda spec: spec.replace_attributes(freshness_policy=DAILY), selection=FRESH_DAILY
        )
