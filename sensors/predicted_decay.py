"""Refresh before the drop: articles forecast to fall below their floor get article_refresh_job runs."""

import dagster as dg

from allixios.analytics.forecast import DecayPolicy, describe_decay, latest_forecast_day, predicted_decay
from resources.warehouse import WarehouseResource
from sensors.score_drop import ScoreDropPolicy, refresh_run_requests


class PredictedDecayPolicy(dg.ConfigurableResource):
    """When a forecast counts as decay (see allixios/analytics/forecast.py, `predicted_decay`)."""

    within_days: int = DecayPolicy.within_days
    floor_ratio: float = DecayPolicy.floor_ratio
    min_baseline_views: float = DecayPolicy.min_baseline_views
    baseline_days: int = DecayPolicy.baseline_days

    def policy(self) -> DecayPolicy:
        return DecayPolicy(**self.model_dump())


@dg.sensor(
    name="predicted_decay_sensor",
    job_name="article_refresh_job",
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Reads marts.mart_article_forecast: live articles whose views forecast falls below their floor within "
    "N days get article_refresh_job runs with the reason predicted_decay (same cooldown, lock and budget rules as "
    "the score-drop sensor, sharing its refresh_requests).",
)
def predicted_decay_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                           score_drop_policy: ScoreDropPolicy, predicted_decay_policy: PredictedDecayPolicy):
    with warehouse.connection() as conn:
        as_of = latest_forecast_day(conn)
        if as_of is None:
            return dg.SkipReason("marts.mart_article_forecast has no forecast yet")
        if context.cursor and as_of.isoformat() <= context.cursor:
            return dg.SkipReason(f"forecasts of {as_of} already evaluated (cursor {context.cursor})")
        rows = predicted_decay(conn, as_of, predicted_decay_policy.policy(),
                               cooldown_days=score_drop_policy.cooldown_days, limit=score_drop_policy.max_articles)
        # the forecast run these requests act on: the parent execution of the refresh runs
        latest = context.instance.get_latest_materialization_event(dg.AssetKey("article_forecasts"))
        parent = {"allixios/parent_run_id": latest.run_id} if latest else {}
        requests = refresh_run_requests(
            conn, [row | {"kind": "predicted_decay"} for row in rows],
            lambda niche_key: f"predicted_decay:{as_of}:{niche_key}", describe_decay,
            {"allixios/forecast_day": as_of.isoformat(), "allixios/trigger": "predicted_decay_sensor", **parent})
    context.update_cursor(as_of.isoformat())
    if not requests:
        return dg.SkipReason(f"no article forecast to decay as of {as_of}")
    return requests
