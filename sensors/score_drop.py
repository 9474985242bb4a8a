"""Score-drop regeneration: decaying articles in the content-health mart trigger article_refresh_job."""

import json

import dagster as dg

from allixios.automation.score_drop import (
    DropPolicy,
    describe_drop,
    due_for_refresh,
    latest_mart_day,
    record_requests,
)
from resources.warehouse import WarehouseResource

MAX_TAG_CHARS = 4000  # Dagster tag values are limited; the full reason goes to refresh_requests


class ScoreDropPolicy(dg.ConfigurableResource):
    """Weights and thresholds of the score-drop sensor (see allixios/automation/score_drop.py)."""

    # defaults come from the domain's DropPolicy: one home for the numbers
    weight_engagement: float = DropPolicy.weight_engagement
    weight_quality: float = DropPolicy.weight_quality
    weight_seo: float = DropPolicy.weight_seo
    weight_revenue: float = DropPolicy.weight_revenue
    floor: float = DropPolicy.floor
    drop_pct: float = DropPolicy.drop_pct
    cooldown_days: int = DropPolicy.cooldown_days
    min_baseline_days: int = DropPolicy.min_baseline_days
    max_articles: int = DropPolicy.max_articles

    def policy(self) -> DropPolicy:
        return DropPolicy(**self.model_dump())


@dg.sensor(
    name="score_drop_sensor",
    job_name="article_refresh_job",
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Reads marts.mart_content_health with SQL; articles whose composite score fell below the floor or "
    "dropped against their trailing baseline get article_refresh_job runs, batched per tenant and niche.",
)
def score_drop_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource, score_drop_policy: ScoreDropPolicy):
    with warehouse.connection() as conn:
        day = latest_mart_day(conn)
        if day is None:
            return dg.SkipReason("marts.mart_content_health is not built yet")
        if context.cursor and day.isoformat() <= context.cursor:
            return dg.SkipReason(f"health day {day} already evaluated (cursor {context.cursor})")
        rows = due_for_refresh(conn, day, score_drop_policy.policy())
        batches: dict[tuple[str, str], list[dict]] = {}
        for row in rows:
            batches.setdefault((row["tenant"], row["niche_key"]), []).append(row)
        requests = []
        # the run that built the health mart: the parent execution of the refresh runs
        latest = context.instance.get_latest_materialization_event(dg.AssetKey(["marts", "mart_content_health"]))
        parent = {"allixios/parent_run_id": latest.run_id} if latest else {}
        for (tenant, niche_key), batch in sorted(batches.items()):
            run_key = f"score_drop:{day}:{niche_key}"
            record_requests(conn, run_key, batch)
            reasons = {str(r["article_id"]): describe_drop(r) for r in batch}
            requests.append(
                dg.RunRequest(
                    run_key=run_key,
                    run_config={"ops": {"refresh_articles": {"config": {
                        "article_ids": [str(r["article_id"]) for r in batch],
                        "reasons": reasons,
                        "run_key": run_key,
                    }}}},
                    tags={
                        "allixios/tenant": tenant,
                        "allixios/refresh_tenant": tenant,
                        "allixios/niche": niche_key,
                        "allixios/health_day": day.isoformat(),
                        "allixios/reason": json.dumps(reasons)[:MAX_TAG_CHARS],
                        **parent,
                    },
                )
            )
    context.update_cursor(day.isoformat())
    if not requests:
        return dg.SkipReason(f"no article due for refresh on {day}")
    return requests
