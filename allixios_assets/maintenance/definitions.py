"""Definitions of the maintenance area, merged into `allixios_assets.definitions.defs`."""

import dagster as dg

from allixios_assets.maintenance.assets import (
    internal_link_applications,
    internal_link_audit,
    internal_link_fixes,
    maintenance_job,
    refresh_candidates,
    soft_delete_purge,
    weekly_maintenance_schedule,
)
from allixios_assets.maintenance.held_revision import held_revision_job
from allixios_assets.maintenance.refresh import article_refresh_job
from allixios_assets.maintenance.upkeep import (
    content_gaps,
    daily_security_schedule,
    database_upkeep,
    dependency_audit,
    secret_scan,
    security_scan_job,
)

defs = dg.Definitions(
    assets=[internal_link_audit, internal_link_fixes, internal_link_applications, refresh_candidates, soft_delete_purge, database_upkeep, dependency_audit, secret_scan,
            content_gaps],
    jobs=[maintenance_job, article_refresh_job, held_revision_job, security_scan_job],
    schedules=[weekly_maintenance_schedule, daily_security_schedule],
)
