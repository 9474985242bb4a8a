"""Publishing assets (group `publishing`): the media library and each tenant's static site.

Both read the live versions left by `published_articles` (every day x niche partition), so they
are unpartitioned and cover every tenant with live articles; the domain work is in
``allixios.publishing``.
"""

import dagster as dg

from allixios.errors import AllixiosError
from allixios.publishing import media as media_lib
from allixios.publishing.config import load_config
from allixios.publishing.site import build_site
from allixios.tenants import get_tenant
from allixios_assets.content.assets import published_articles
from resources.warehouse import WarehouseResource

OWNERS = ["team:content"]
TAGS = {"area": "publishing"}


class PublishingConfig(dg.Config):
    tenants: list[str] = []  # tenant slugs; empty: every tenant with a published article
    full: bool = False  # render every page again instead of reusing unchanged ones


def _tenants(conn, wanted: list[str]):
    if wanted:
        return [get_tenant(conn, slug) for slug in wanted]
    slugs = [r[0] for r in conn.execute(
        """SELECT DISTINCT t.slug FROM tenants t JOIN articles a ON a.tenant_id = t.id
           WHERE t.deleted_at IS NULL AND a.status = 'published' AND a.deleted_at IS NULL ORDER BY 1""").fetchall()]
    return [get_tenant(conn, s) for s in slugs]


def _md_list(items: list[str], limit: int = 15) -> str:
    if not items:
        return "_none_"
    more = f"\n\n… and {len(items) - limit} more" if len(items) > limit else ""
    return "\n".join(f"- {i}" for i in items[:limit]) + more


@dg.asset(
    group_name="publishing", owners=OWNERS, tags=TAGS, kinds={"python", "postgres"}, deps=[published_articles],
    description="Media library (`media_assets`): a featured image for every live article and every body image "
    "it references, from the tenant's media folder or, offline, a deterministic Pillow image labelled as a "
    "STAND-IN; each stored once with metadata stripped, a fallback and WebP variants under content-hashed names.",
)
def media_library(context: dg.AssetExecutionContext, config: PublishingConfig,
                  warehouse: WarehouseResource) -> dg.MaterializeResult:
    totals = {"imported": 0, "generated_stand_ins": 0, "featured_set": 0}
    warnings: list[str] = []
    with warehouse.connection() as conn:
        for tenant in _tenants(conn, config.tenants):
            res = media_lib.ensure_media(conn, load_config(conn, tenant))
            totals["imported"] += res.imported
            totals["generated_stand_ins"] += res.generated
            totals["featured_set"] += res.featured_set
            warnings += res.warnings
        assets = conn.execute("SELECT count(*), count(*) FILTER (WHERE is_stand_in) FROM media_assets").fetchone()
    for w in warnings[:20]:
        context.log.warning(w)
    return dg.MaterializeResult(metadata={
        **totals, "media_assets": assets[0], "stand_in_images": assets[1],
        "warnings": dg.MetadataValue.md(_md_list(warnings)),
    })


@dg.asset(
    group_name="publishing", owners=OWNERS, tags=TAGS, kinds={"python", "html"}, deps=[media_library],
    description="Each tenant's static site from the live article versions: article, niche (paginated) and home "
    "pages, 404/410, robots.txt, sitemap.xml (index past 50,000 URLs), an Atom feed per niche, 301/410 redirect "
    "map. Incremental (content hashes) and atomic (a new release folder switched live in one rename); serve it "
    "with `allixios site serve`.",
)
def tenant_sites(context: dg.AssetExecutionContext, config: PublishingConfig,
                 warehouse: WarehouseResource) -> dg.MaterializeResult:
    rows, changed, warnings = [], 0, []
    with warehouse.connection() as conn:
        tenants = _tenants(conn, config.tenants)
    failed: dict[str, str] = {}
    for tenant in tenants:
        try:
            with warehouse.connection() as conn:  # one transaction per tenant: a failure keeps the others
                res = build_site(conn, tenant, full=config.full, with_media=False)
        except AllixiosError as exc:
            failed[tenant.slug] = exc.one_line()
            context.log.error(f"site {tenant.slug}: {exc.one_line()}")
            continue
        changed += len(res.changed_urls)
        warnings += [f"{tenant.slug}: {w}" for w in res.warnings]
        rows.append(res.summary())
        context.log.info(f"site {tenant.slug}: release {res.release} live, {res.rendered} rendered, "
                         f"{res.reused} reused, {len(res.changed_urls)} changed URLs")
    table = "| tenant | release | pages | rendered | reused | removed | redirects | gone | base URL |\n" \
            "|---|---|---|---|---|---|---|---|---|\n" + "\n".join(
                f"| {r['tenant']} | {r['release']} | {r['pages']} | {r['rendered']} | {r['reused']} | {r['removed']} "
                f"| {r['redirects']} | {r['gone']} | {r['base_url']} |" for r in rows)
    if failed:  # the other tenants' sites are live; this run still says that some are not
        raise dg.Failure(description="; ".join(f"{k}: {v}" for k, v in failed.items()),
                         metadata={"failed_tenants": ", ".join(failed), "built_tenants": len(rows)})
    return dg.MaterializeResult(metadata={
        "tenants": len(rows),
        "article_pages": sum(r["pages"] for r in rows),
        "rendered": sum(r["rendered"] for r in rows),
        "reused": sum(r["reused"] for r in rows),
        "changed_urls": changed,
        "sites": dg.MetadataValue.md(table if rows else "_no tenant has a published article_"),
        "warnings": dg.MetadataValue.md(_md_list(warnings)),
    })


publishing_job = dg.define_asset_job(
    "publishing_job",
    selection=dg.AssetSelection.assets(media_library, tenant_sites),
    executor_def=dg.in_process_executor,
    tags={"area": "publishing"},
    description="media_library -> tenant_sites: every tenant's site rebuilt (incrementally) from its live versions.",
)

publishing_schedule = dg.ScheduleDefinition(
    name="publishing_schedule",
    job=publishing_job,
    cron_schedule="45 6 * * *",  # after the 06:00 content runs
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every morning after the content runs: sites rebuilt from the newly published versions.",
)
