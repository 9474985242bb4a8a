"""All sensors, merged into `allixios_assets.definitions.defs`."""

import dagster as dg

from sensors.niche_partitions import niche_partitions_sensor
from sensors.run_tracking import run_failure_alert_sensor, workflow_executions_sensor

defs = dg.Definitions(
    sensors=[niche_partitions_sensor, workflow_executions_sensor, run_failure_alert_sensor]
)
