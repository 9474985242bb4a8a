"""Definitions of the publishing area, merged into `allixios_assets.definitions.defs`."""

import dagster as dg

from allixios_assets.publishing.assets import media_library, publishing_job, publishing_schedule, tenant_sites

defs = dg.Definitions(assets=[media_library, tenant_sites], jobs=[publishing_job], schedules=[publishing_schedule])
