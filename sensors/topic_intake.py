"""Topic files dropped in the landing folder become backlog topics and content runs."""

from datetime import UTC, datetime

import dagster as dg

from allixios import settings
from allixios.automation.intake import archive, ingest_topic_file, pending_files
from allixios_assets.partitions import content_partition_key, niche_partitions
from resources.warehouse import WarehouseResource

MAX_FILES_PER_TICK = 50


@dg.sensor(
    name="topic_intake_sensor",
    job_name="content_job",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Loads topic files (CSV/JSON) from $ALLIXIOS_HOME/landing/topics exactly once per file content, "
    "adds new niches as partition keys and requests content runs for today's affected partitions.",
)
def topic_intake_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    files = pending_files(settings.landing_dir("topics"))[:MAX_FILES_PER_TICK]
    if not files:
        return dg.SkipReason("no topic files waiting")
    today = datetime.now(UTC).date().isoformat()
    runs: dict[str, str] = {}
    summary = []
    for path in files:
        with warehouse.connection() as conn:
            outcome = ingest_topic_file(conn, path)
        archive(path, outcome)
        summary.append(f"{outcome.file_name}: {outcome.status} ({outcome.topics_added} topics){' ' + outcome.error if outcome.error else ''}")
        if outcome.status == "rejected":
            context.log.warning(f"topic file {outcome.file_name} rejected: {outcome.error}")
        for key in outcome.partition_keys:
            runs.setdefault(key, path.name)
    context.log.info("; ".join(summary))
    # new niches (and any niche whose key this instance does not know yet) become partition keys
    known = set(context.instance.get_dynamic_partitions(niche_partitions.name))
    to_add = sorted(set(runs) - known)
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"intake:{today}:{key}:{name}",
                partition_key=content_partition_key(today, key),
                tags={"allixios/trigger": "topic_intake", "allixios/tenant": key.split(".")[0]},
            )
            for key, name in sorted(runs.items())
        ],
        dynamic_partitions_requests=[niche_partitions.build_add_request(to_add)] if to_add else [],
    )
