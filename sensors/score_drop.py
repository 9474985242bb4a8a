"""Score-drop regeneration: decaying articles in the content-health mart trigger article_refresh_job.

The sensor follows the builds of the marts, not only the days: every dbt build records, per tenant
and day, whether the day's health rows changed (``analytics_builds``, allixios/analytics/builds.py).
The cursor is the highest build sequence number evaluated; each tick evaluates the days built
since (a rebuilt day with changed rows again, an unchanged rebuild not) — only days within
HORIZON_DAYS of the newest health day: late data for yesterday matters, a backfill of last month
must not refresh today's articles on last month's figures. Run keys carry the build, so a re-evaluated day can ask again.
"""

import json
from datetime import timedelta

import dagster as dg

from allixios.analytics.builds import builds_since
from allixios.automation.score_drop import (
    DropPolicy,
    describe_drop,
    due_for_refresh,
    latest_mart_day,
    record_requests,
)
from resources.warehouse import WarehouseResource

MAX_TAG_CHARS = 4000  # Dagster tag values are limited; the full reason goes to refresh_requests
HORIZON_DAYS = 3  # rebuilt days older than this before the newest health day are passed over


def _cursor_seq(cursor: str | None) -> int:
    """The build watermark; a cursor from before builds were tracked (a day) starts over at 0 (the
    cooldown keeps articles requested then out)."""
    return int(cursor) if cursor and cursor.isdigit() else 0


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
    description="Reads marts.mart_content_health with SQL for each day a dbt build changed (analytics_builds); "
    "articles whose composite score fell below the floor or "
    "dropped against their trailing baseline get article_refresh_job runs, batched per tenant and niche.",
)
def score_drop_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource, score_drop_policy: ScoreDropPolicy):
    with warehouse.connection() as conn:
        newest = latest_mart_day(conn)
        if newest is None:
            return dg.SkipReason("marts.mart_content_health is not built yet")
        seen = _cursor_seq(context.cursor)
        builds = builds_since(conn, seen)
        if not builds:
            return dg.SkipReason(f"no build of the marts changed a day since build #{seen}")
        # per day: the tenants whose rows changed, and the newest build among them
        days: dict = {}
        for b in builds:
            tenants, seq = days.get(b.day, (set(), 0))
            days[b.day] = (tenants | {b.tenant_id}, max(seq, b.build_seq))
        requests, evaluated = [], []
        # the run that built the health mart: the parent execution of the refresh runs
        latest = context.instance.get_latest_materialization_event(dg.AssetKey(["marts", "mart_content_health"]))
        parent = {"allixios/parent_run_id": latest.run_id} if latest else {}
        for day in sorted(days):
            if day < newest - timedelta(days=HORIZON_DAYS):
                context.log.info(f"health day {day} was rebuilt, but it is older than {HORIZON_DAYS} days: passed over")
                continue
            tenants, build_seq = days[day]
            evaluated.append(f"{day} (build #{build_seq})")
            rows = [r for r in due_for_refresh(conn, day, score_drop_policy.policy()) if str(r["tenant_id"]) in tenants]
            requests += _requests(conn, day, build_seq, rows, parent)
    context.update_cursor(str(max(b.build_seq for b in builds)))
    if not requests:
        return dg.SkipReason(f"no article due for refresh on {', '.join(evaluated) or 'the rebuilt days'}")
    return requests


def _requests(conn, day, build_seq: int, rows: list[dict], parent: dict[str, str]) -> list[dg.RunRequest]:
    # the build is in the key: a day rebuilt with changed figures may ask again
    return refresh_run_requests(conn, rows, lambda niche_key: f"score_drop:{day}:{niche_key}:b{build_seq}", describe_drop,
                                {"allixios/health_day": day.isoformat(), "allixios/health_build": str(build_seq), **parent})


def refresh_run_requests(conn, rows: list[dict], run_key_of, describe, tags: dict[str, str]) -> list[dg.RunRequest]:
    """article_refresh_job runs for ``rows``, one per tenant and niche, each request recorded (cooldown).

    The one way the refresh sensors (score drop, predicted decay) ask for refreshes: ``run_key_of(niche_key)``
    names the run, ``describe(row)`` is an article's reason, ``tags`` add what triggered it."""
    batches: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        batches.setdefault((row["tenant"], row["niche_key"]), []).append(row)
    requests, recorded = [], []
    for (tenant, niche_key), batch in sorted(batches.items()):
        run_key = run_key_of(niche_key)
        recorded += [(run_key, row) for row in batch]
        reasons = {str(r["article_id"]): describe(r) for r in batch}
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
                    **tags,
                    "allixios/reason": json.dumps(reasons)[:MAX_TAG_CHARS],
                },
            )
        )
    record_requests(conn, recorded)  # all batches in one statement, in the tick's transaction
    return requests
