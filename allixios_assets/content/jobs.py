"""`content_job` (the content graph for one day x niche partition) and its daily schedule.

In-process executor, deliberately: the six steps form a strict chain, so a process per step would
add start-up time and no parallelism; the concurrency that matters (many LLM calls) happens inside
`article_drafts` with bounded async calls, and runs of different partitions are parallelised by
Dagster's run queue (pool `llm` caps LLM-heavy steps across runs). Each asset is still its own
step per partition, with its own retries and events.
"""

import dagster as dg

from allixios_assets.partitions import content_partition_key, niche_partitions

content_job = dg.define_asset_job(
    "content_job",
    selection=dg.AssetSelection.groups("content"),  # partitioned by day x niche like its assets
    executor_def=dg.in_process_executor,
    tags={"area": "content"},
    description="topics -> article_drafts -> scored_articles (+ quality gates) -> article_embeddings -> "
    "published_articles -> seo_reports for one day x niche partition.",
)


@dg.schedule(job=content_job, cron_schedule="0 6 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Every morning: one content run per active niche for the day.")
def daily_content_schedule(context: dg.ScheduleEvaluationContext):
    day = context.scheduled_execution_time.date().isoformat()
    keys = context.instance.get_dynamic_partitions(niche_partitions.name)
    if not keys:
        return dg.SkipReason("no niche partition keys yet (the niche_partitions_sensor adds them)")
    return [
        dg.RunRequest(run_key=f"daily:{day}:{key}", partition_key=content_partition_key(day, key),
                      tags={"allixios/trigger": "daily_content_schedule"})
        for key in sorted(keys)
    ]
