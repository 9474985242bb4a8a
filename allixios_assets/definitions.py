"""The Allixios code location: every area's definitions merged, with the shared resources bound."""

import dagster as dg

from allixios_assets.analytics.definitions import defs as analytics_defs
from allixios_assets.content.definitions import defs as content_defs
from allixios_assets.maintenance.definitions import defs as maintenance_defs
from allixios_assets.maintenance.freshness import with_freshness_policies
from allixios_assets.publishing.definitions import defs as publishing_defs
from allixios_assets.publishing.target_assets import defs as publication_target_defs
from allixios_assets.run_meter import with_run_meter
from resources import resource_defs
from sensors.definitions import defs as sensor_defs

defs = with_run_meter(with_freshness_policies(
    dg.Definitions.merge(
        content_defs,
        analytics_defs,
        maintenance_defs,
        publication_target_defs,
        publishing_defs,
        sensor_defs,
        dg.Definitions(resources=resource_defs()),
    )
))
