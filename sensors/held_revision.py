"""Held articles revised automatically: needs_revision articles get held_revision_job runs."""

import dagster as dg

from allixios.automation.held_revision import HeldPolicy, due_held, record_attempts, run_key_for
from resources.warehouse import WarehouseResource


class HeldRevisionPolicy(dg.ConfigurableResource):
    """Attempt cap and pacing of the held-revision sensor (see allixios/automation/held_revision.py)."""

    max_attempts: int = HeldPolicy.max_attempts
    retry_after_minutes: int = HeldPolicy.retry_after_minutes
    max_articles: int = HeldPolicy.max_articles

    def policy(self) -> HeldPolicy:
        return HeldPolicy(**self.model_dump())


@dg.sensor(
    name="held_revision_sensor",
    job_name="held_revision_job",
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="needs_revision articles (unlocked, under the attempt cap, within the tenant's AI budget) get "
    "held_revision_job runs, batched per tenant and niche; passing revisions are published at once.",
)
def held_revision_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                         held_revision_policy: HeldRevisionPolicy):
    policy = held_revision_policy.policy()
    with warehouse.connection() as conn:
        rows = due_held(conn, policy)
        batches: dict[tuple[str, str], list[dict]] = {}
        for row in rows:
            batches.setdefault((row["tenant"], row["niche_key"]), []).append(row)
        requests = []
        for (tenant, niche_key), batch in sorted(batches.items()):
            run_key = run_key_for(batch)
            record_attempts(conn, run_key, batch)
            # the run that wrote the held version (e.g. its content_job run): the parent execution
            parent = conn.execute(
                """SELECT v.run_id FROM article_versions v JOIN articles a ON a.id = v.article_id
                     AND a.version_number = v.version_number
                   WHERE a.id = ANY(%s::uuid[]) AND v.run_id IS NOT NULL
                   GROUP BY v.run_id ORDER BY count(*) DESC, v.run_id LIMIT 1""",
                ([str(r["article_id"]) for r in batch],),
            ).fetchone()
            requests.append(dg.RunRequest(
                run_key=run_key,
                run_config={"ops": {"revise_held_articles": {"config": {
                    "article_ids": [str(r["article_id"]) for r in batch], "run_key": run_key,
                    "max_attempts": policy.max_attempts,
                }}}},
                tags={"allixios/tenant": tenant, "allixios/niche": niche_key, "allixios/trigger": "held_revision_sensor",
                      **({"allixios/parent_run_id": parent[0]} if parent else {})},
            ))
    if not requests:
        return dg.SkipReason("no held article due for an automatic revision")
    return requests
