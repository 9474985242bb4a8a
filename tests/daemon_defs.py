"""The real code location plus one every-minute schedule, so a daemon test sees a schedule tick
within a minute instead of waiting for the daily schedules."""

import dagster as dg

from allixios_assets.definitions import defs as allixios_defs

every_minute_maintenance = dg.ScheduleDefinition(
    name="every_minute_maintenance_schedule",
    job_name="maintenance_job",
    cron_schedule="* * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

defs = dg.Definitions.merge(allixios_defs, dg.Definitions(schedules=[every_minute_maintenance]))
