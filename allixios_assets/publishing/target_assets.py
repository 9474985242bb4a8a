"""The `target_publications` asset (group `publishing`): live articles delivered to every tenant's targets.

Unpartitioned like the site: it reads the live versions left by `published_articles` (every day x
niche partition) and brings each configured WordPress target in line, then retries due CDN purges.
The domain work is `allixios.publishing.publications.run_targets`; a failing target is reported in
the metadata and the log, and never fails the asset (its publications stay pending, retried with
backoff by the next run, alerted after N attempts). The schedule runs it every 15 minutes so
retries happen even on days without new content.
"""

import dagster as dg

from allixios.publishing.publications import run_targets
from allixios_assets.content.assets import published_articles
from resources.warehouse import WarehouseResource

COLUMNS = ["name", "kind", "published", "unchanged", "unpublished", "purged_urls", "failed", "skipped",
           "remote_writes", "alerts", "last_error"]


def _table(rows: list[dict]) -> str:
    if not rows:
        return "_no target had anything to do_"
    head = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n"
    return head + "\n".join(
        "| " + " | ".join(str(r.get(c) if r.get(c) is not None else "").replace("|", "\\|")[:160] for c in COLUMNS)
        + " |" for r in rows)


@dg.asset(
    group_name="publishing", owners=["team:content"], tags={"area": "publishing"}, kinds={"python", "postgres"},
    deps=[published_articles],
    description="Every tenant's live article versions delivered to its publishing targets (WordPress through "
    "its REST API; CDN purges retried), one `publications` row per article version x target. Unchanged "
    "content makes no remote write; a failing target stays pending with its error and never blocks the others.",
)
def target_publications(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connection() as conn:
        report = run_targets(conn)
        pending = conn.execute("SELECT count(*), count(*) FILTER (WHERE last_error IS NOT NULL) FROM publications "
                               "WHERE status = 'pending'").fetchone()
    for t in report.targets.values():
        for error in t.errors[-3:]:
            context.log.warning(f"target {t.name}: {error}")
    rows = report.rows()
    return dg.MaterializeResult(metadata={
        "published": sum(r["published"] for r in rows),
        "unchanged": sum(r["unchanged"] for r in rows),
        "unpublished": sum(r["unpublished"] for r in rows),
        "failed": report.failed,
        "remote_writes": sum(r["remote_writes"] for r in rows),
        "pending": pending[0],
        "pending_with_error": pending[1],
        "targets": dg.MetadataValue.md(_table(rows)),
    })


@dg.asset_check(
    asset=target_publications, blocking=False,
    description="WARN while any publication has failed as often as its target's alert threshold (an alert was "
    "raised and it is still pending); the rows stay pending and are retried with backoff.",
)
def targets_delivering(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connection() as conn:
        rows = conn.execute(
            """SELECT t.name, count(*), max(p.attempts), (array_agg(p.last_error ORDER BY p.updated_at DESC))[1]
               FROM publications p JOIN publishing_targets t ON t.id = p.target_id
               WHERE p.status = 'pending' AND p.alerted_at IS NOT NULL GROUP BY t.name ORDER BY t.name""",
        ).fetchall()
    stuck = {name: {"pending": n, "max_attempts": a, "last_error": e} for name, n, a, e in rows}
    return dg.AssetCheckResult(
        passed=not stuck, severity=dg.AssetCheckSeverity.WARN,
        description="every target is delivering" if not stuck else
        f"{sum(v['pending'] for v in stuck.values())} publication(s) keep failing on {', '.join(stuck)}",
        metadata={"stuck": dg.MetadataValue.json(stuck)},
    )


target_publications_job = dg.define_asset_job(
    "target_publications_job", selection=dg.AssetSelection.assets(target_publications),
    executor_def=dg.in_process_executor, tags={"area": "publishing"},
    description="Deliver live articles to WordPress targets and retry pending CDN purges.",
)

target_publications_schedule = dg.ScheduleDefinition(
    name="target_publications_schedule", job=target_publications_job, cron_schedule="*/15 * * * *",
    execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every 15 minutes: new live versions go out, and pending publications whose backoff is over are retried.",
)

defs = dg.Definitions(assets=[target_publications], asset_checks=[targets_delivering], jobs=[target_publications_job],
                      schedules=[target_publications_schedule])
