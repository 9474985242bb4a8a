"""Keeps the dynamic ``niche`` partition keys in step with the niches table."""

from __future__ import annotations

import dagster as dg

from allixios.tenants import active_partition_keys
from allixios_assets.partitions import niche_partitions
from resources.warehouse import WarehouseResource


@dg.sensor(
    name="niche_partitions_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a partition key for every active niche and removes keys of removed niches.",
)
def niche_partitions_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    with warehouse.connection() as conn:
        wanted = set(active_partition_keys(conn))
    current = set(context.instance.get_dynamic_partitions(niche_partitions.name))
    added, removed = sorted(wanted - current), sorted(current - wanted)
    requests = []
    if added:
        requests.append(niche_partitions.build_add_request(added))
    if removed:
        requests.append(niche_partitions.build_delete_request(removed))
    if not requests:
        return dg.SkipReason(f"{len(current)} niche partition keys already match the niches table")
    return dg.SensorResult(dynamic_partitions_requests=requests)
