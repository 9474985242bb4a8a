"""Maintenance assets (group `maintenance`), materialized weekly by `maintenance_job`."""

import dagster as dg

from allixios.automation import maintenance
from resources.warehouse import WarehouseResource


class MaintenanceConfig(dg.Config):
    retention_days: int = maintenance.DEFAULT_RETENTION_DAYS
    refresh_min_age_days: int = 30


@dg.asset(group_name="maintenance", kinds={"postgres"}, owners=["team:content-ops"],
          description="Internal links of published articles checked and broken ones recorded in "
          "articles.workflow_state.broken_links: a crawl of the built site (every link and image of every page) "
          "for tenants with a live site, the Markdown-link guess against published slugs for the others.")
def internal_link_audit(warehouse: WarehouseResource) -> dg.MaterializeResult:
    from allixios.publishing.linkcheck import check_site_links

    with warehouse.connection() as conn:
        result = maintenance.validate_internal_links(conn)  # the guess, overwritten below where a site exists
        crawled = check_site_links(conn)
    return dg.MaterializeResult(metadata={k: int(v) for k, v in result.items()} | {f"site_{k}": v for k, v in crawled.items()})


@dg.asset(group_name="maintenance", kinds={"postgres"}, owners=["team:content-ops"], deps=[internal_link_audit],
          description="Internal links to renamed articles rewritten to their current slug (a new version, audited, "
          "lock-aware, re-published when live); links to deleted or unpublished articles reported to the editor "
          "in articles.workflow_state.link_report.")
def internal_link_fixes(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from allixios.automation.link_fixes import fix_internal_links

    with warehouse.connection() as conn:
        res = fix_internal_links(conn)
    for s in res["skipped"]:
        context.log.warning(f"link fix skipped for {s['article_id'][:8]}: {s['reason']}")
    rows = "\n".join(f"| {f['slug']} | {f['renamed']} | {f['rewritten']} |" for f in res["fixed"][:50])
    return dg.MaterializeResult(metadata={
        "articles_fixed": len(res["fixed"]), "links_rewritten": sum(f["rewritten"] for f in res["fixed"]),
        "reported_to_editor": len(res["reported"]), "skipped": len(res["skipped"]),
        "fixed": dg.MetadataValue.md("| article | renamed | links |\n|---|---|---|\n" + rows),
    })


@dg.asset(group_name="maintenance", kinds={"postgres"}, owners=["team:content-ops"], deps=[internal_link_fixes],
          description="Internal-link suggestions applied automatically for tenants that turned it on (setting "
          "auto_link_cap, per niche auto_link_cap_by_niche; 0 = off): within the per-article cap, the best-ranked "
          "suggestions (earning, forecast-to-decay and orphaned targets first) become new versions (audited, "
          "lock-aware, re-published when live).")
def internal_link_applications(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from allixios.content.link_apply import auto_apply_links
    from allixios.errors import AllixiosError
    from allixios.tenants import tenant_by_id

    applied, skipped = [], []
    with warehouse.connection() as conn:
        for (tenant_id,) in conn.execute("SELECT id FROM tenants WHERE deleted_at IS NULL ORDER BY slug").fetchall():
            tenant = tenant_by_id(conn, tenant_id)
            try:
                res = auto_apply_links(conn, tenant)
            except AllixiosError as exc:  # a bad setting of one tenant: its line, the others go on
                skipped.append({"source": f"(tenant {tenant.slug})", "target": "-", "reason": exc.one_line()})
                continue
            applied += [a | {"tenant": tenant.slug} for a in res["applied"]]
            skipped += res["skipped"]
    for s in skipped:
        context.log.warning(f"automatic link {s['source']} -> {s['target']} skipped: {s['reason']}")
    rows = "\n".join(f"| {a['tenant']} | {a['source']} | {a['target']} | {a['anchor']} | {a['why']} |" for a in applied[:50])
    return dg.MaterializeResult(metadata={
        "links_applied": len(applied), "skipped": len(skipped),
        "applied": dg.MetadataValue.md("| tenant | source | target | anchor | why |\n|---|---|---|---|---|\n" + rows),
    })


@dg.asset(group_name="maintenance", kinds={"postgres"}, owners=["team:content-ops"], deps=[internal_link_audit],
          description="Published articles that are old and weakest on quality + SEO: candidates for a refresh.")
def refresh_candidates(config: MaintenanceConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connection() as conn:
        rows = maintenance.refresh_candidates(conn, config.refresh_min_age_days)
    table = "| tenant | slug | quality | SEO | age (days) |\n|---|---|---|---|---|\n" + "\n".join(
        f"| {r['tenant']} | {r['slug']} | {r['quality']} | {r['seo']} | {r['age_days']} |" for r in rows[:20]
    )
    return dg.MaterializeResult(metadata={"candidates": len(rows), "top": dg.MetadataValue.md(table)})


@dg.asset(group_name="maintenance", kinds={"postgres"}, owners=["team:content-ops"],
          description="Articles soft-deleted longer than the retention are deleted with their versions and vectors.")
def soft_delete_purge(config: MaintenanceConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connection() as conn:
        purged = maintenance.purge_soft_deleted(conn, config.retention_days)
    return dg.MaterializeResult(metadata={"purged_articles": purged, "retention_days": config.retention_days})


maintenance_job = dg.define_asset_job(
    "maintenance_job",
    selection=dg.AssetSelection.groups("maintenance"),
    description="Weekly: link validation, refresh candidates, purge of soft-deleted rows.",
    executor_def=dg.in_process_executor,
)

weekly_maintenance_schedule = dg.ScheduleDefinition(
    name="weekly_maintenance_schedule",
    job=maintenance_job,
    cron_schedule="0 3 * * 0",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
