"""All sensors, merged into `allixios_assets.definitions.defs`."""

import dagster as dg

from sensors.niche_partitions import niche_partitions_sensor

defs = dg.Definitions(sensors=[niche_partitions_sensor])
