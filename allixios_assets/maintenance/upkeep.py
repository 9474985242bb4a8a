"""Upkeep assets: `database_upkeep` (weekly, in maintenance_job) and the security scans
(`dependency_audit`, `secret_scan`: security_scan_job, daily). See allixios/automation/db_upkeep.py
and allixios/automation/security.py."""

from pathlib import Path

import dagster as dg
import psycopg

from allixios import settings
from allixios.automation import db_upkeep, security
from allixios.automation.business_alerts import raise_alerts
from allixios.db import server
from resources.warehouse import WarehouseResource


class UpkeepConfig(dg.Config):
    min_dead_tuples: int = db_upkeep.UpkeepPolicy.min_dead_tuples
    dead_ratio: float = db_upkeep.UpkeepPolicy.dead_ratio
    min_index_pages: int = db_upkeep.UpkeepPolicy.min_index_pages
    max_bloat: float = db_upkeep.UpkeepPolicy.max_bloat
    keep_months: int = db_upkeep.UpkeepPolicy.keep_months


def _md(rows: list[dict], cols: list[str]) -> dg.MetadataValue:
    if not rows:
        return dg.MetadataValue.md("_none_")
    return dg.MetadataValue.md("| " + " | ".join(cols) + " |\n" + "|---" * len(cols) + "|\n" + "\n".join(
        "| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows))


@dg.asset(group_name="maintenance", kinds={"postgres"}, owners=["team:platform"],
          description="Database upkeep: raw events older than the retention purged by month, VACUUM (ANALYZE) of "
          "tables whose dead tuples pass the threshold, REINDEX CONCURRENTLY of bloated B-tree indexes, ANALYZE; "
          "before/after figures of every step in the metadata.")
def database_upkeep(context: dg.AssetExecutionContext, config: UpkeepConfig, warehouse: WarehouseResource):
    policy = db_upkeep.UpkeepPolicy(**config.model_dump())
    with psycopg.connect(server.libpq_conninfo(warehouse.url()), autocommit=True) as conn:
        res = db_upkeep.run_upkeep(conn, policy)
    for v in res["vacuumed"]:
        context.log.info(f"vacuumed {v['table']}: dead tuples {v['dead_before']} -> {v['dead_after']}")
    for r in res["reindexed"]:
        context.log.info(f"reindexed {r['index']}: {r['bytes_before']} -> {r['bytes_after']} bytes")
    a = res["analyzed"]
    return dg.MaterializeResult(metadata={
        "purged_rows": sum(p["rows"] for p in res["purged"]),
        "purged_months": _md(res["purged"], ["table", "month", "rows"]),
        "vacuumed_tables": len(res["vacuumed"]),
        "dead_tuples_before": sum(v["dead_before"] for v in res["vacuumed"]),
        "dead_tuples_after": sum(v["dead_after"] or 0 for v in res["vacuumed"]),
        "vacuum": _md(res["vacuumed"], ["table", "dead_before", "dead_after", "bytes_before", "bytes_after"]),
        "reindexed_indexes": len(res["reindexed"]),
        "index_bytes_before": sum(r["bytes_before"] for r in res["reindexed"]),
        "index_bytes_after": sum(r["bytes_after"] for r in res["reindexed"]),
        "reindex": _md(res["reindexed"], ["index", "bloat_before", "bytes_before", "bytes_after"]),
        "analyzed_tables": a["tables"],
        "rows_changed_since_analyze_before": a["rows_changed_since_analyze_before"],
        "rows_changed_since_analyze_after": a["rows_changed_since_analyze_after"],
    })


class AuditConfig(dg.Config):
    requirements: str = "constraints.txt"


@dg.asset(group_name="security", kinds={"python"}, owners=["team:platform"],
          description="pip-audit of the pinned dependencies (constraints.txt) against the package index's "
          "vulnerability data; each vulnerable pin becomes a critical business alert.")
def dependency_audit(context: dg.AssetExecutionContext, config: AuditConfig, warehouse: WarehouseResource):
    path = Path(config.requirements)
    path = path if path.is_absolute() else settings.project_root() / path
    result = security.audit_dependencies(path)
    if not result.reachable:
        raise dg.Failure(description=f"the vulnerability data could not be fetched for {path.name} "
                         f"({result.error or result.not_audited[0]['reason']}) — fix: let the machine reach "
                         "pypi.org's JSON API, then re-run security_scan_job")
    with warehouse.connection() as conn:
        new = raise_alerts(conn, security.findings_as_alerts(result, None))
    for v in result.vulnerable:
        context.log.warning(f"vulnerable: {v['name']} {v['version']}: {v['id']}")
    return dg.MaterializeResult(metadata={
        "audited": result.audited, "vulnerable": len(result.vulnerable), "not_audited": len(result.not_audited),
        "new_alerts": len(new),
        "findings": _md(result.vulnerable, ["name", "version", "id", "fix_versions"]),
    })


@dg.asset(group_name="security", kinds={"python"}, owners=["team:platform"],
          description="Committed files and landing folders scanned for secrets (key shapes); a finding names the "
          "file, line, kind and a fingerprint, never the value, and becomes a critical business alert.")
def secret_scan(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    found = security.scan_secrets()
    with warehouse.connection() as conn:
        new = raise_alerts(conn, security.findings_as_alerts(None, found))
    return dg.MaterializeResult(metadata={
        "findings": len(found), "new_alerts": len(new),
        "where": _md(found, ["path", "line", "kind", "fingerprint"]),
    })


security_scan_job = dg.define_asset_job(
    "security_scan_job", selection=dg.AssetSelection.groups("security"), executor_def=dg.in_process_executor,
    description="Daily: dependency audit (pip-audit) and secret scan; findings are business alerts.",
)

daily_security_schedule = dg.ScheduleDefinition(
    name="daily_security_schedule", job=security_scan_job, cron_schedule="0 4 * * *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


@dg.asset(group_name="maintenance", kinds={"python", "postgres"}, owners=["team:content-ops"],
          description="Competitor content gaps: pages in competitors' sitemaps (landing/competitors/<tenant>/<niche>/"
          "*.xml, plus the sitemaps a tenant configured for fetching over HTTP: robots.txt honoured, rate limited "
          "per host, conditional GET cache) that no article or topic of the niche covers become backlog topics (source competitor, "
          "'competitor gap: <url>'), ranked by the niche's RPM x sitemap priority; the duplicate guard of topic "
          "selection still applies to them.")
def content_gaps(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    from allixios.automation.competitor_fetch import fetch_competitors
    from allixios.automation.content_gaps import find_gaps
    from allixios.errors import AllixiosError
    from allixios.tenants import tenant_by_id

    fetched = {"requests": 0, "fetched": 0, "not_modified": 0, "disallowed": 0, "fetch_failures": 0}
    with warehouse.connection() as conn:
        # competitors configured for fetching over HTTP land as files first (robots.txt, rate limit, cache)
        for (tenant_id,) in conn.execute("SELECT id FROM tenants WHERE deleted_at IS NULL AND "
                                         "settings ->> 'competitor_sitemaps' NOT IN ('{}', 'null') ORDER BY slug"):
            try:
                got = fetch_competitors(conn, tenant_by_id(conn, tenant_id))
            except AllixiosError as exc:  # a bad setting of one tenant: its line, the others go on
                context.log.warning(f"competitor fetch: {exc.one_line()}")
                fetched["fetch_failures"] += 1
                continue
            for f in got.failures:
                context.log.warning(f"competitor fetch: {f['url']}: {f['reason']}")
            for k, v in (("requests", got.requests), ("fetched", got.fetched), ("not_modified", got.not_modified),
                         ("disallowed", len(got.disallowed)), ("fetch_failures", len(got.failures))):
                fetched[k] += v
        res = find_gaps(conn)
    for r in res.rejected_files:
        context.log.warning(f"competitor file rejected: {r['file']}: {r['reason']}")
    return dg.MaterializeResult(metadata={
        **{f"http_{k}": v for k, v in fetched.items()},
        "files": res.files, "candidates": res.candidates, "covered": res.covered, "topics_added": len(res.added),
        "already_in_backlog": res.already_in_backlog, "rejected_files": len(res.rejected_files),
        "added": _md(res.added[:50], ["niche", "title", "value", "priority"]),
        "rejected": _md(res.rejected_files, ["file", "reason"]),
    })
