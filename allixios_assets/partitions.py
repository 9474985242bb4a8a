"""Partitions shared by the asset graph.

Content assets are partitioned by day x niche; the niche dimension is dynamic and its keys follow
the ``niches`` table (``tenant_slug.niche_slug``). Analytics assets are daily. The days start at
ALLIXIOS_PARTITIONS_START, which `allixios dev` sets to the first day of data
(``allixios/partition_start.py``), else a week before today.
"""

from __future__ import annotations

import dagster as dg

from allixios.partition_start import partitions_start

PARTITIONS_START = partitions_start().isoformat()

daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1)
niche_partitions = dg.DynamicPartitionsDefinition(name="niche")
content_partitions = dg.MultiPartitionsDefinition({"date": daily_partitions, "niche": niche_partitions})


def content_partition_key(day: str, niche_key: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"date": day, "niche": niche_key})


def sync_niche_partitions(instance: dg.DagsterInstance, wanted: list[str]) -> tuple[list[str], list[str]]:
    """Make the dynamic niche keys equal the active niches; returns (added, removed).

    A removed niche's key goes away so it is no longer scheduled; its materializations stay in the
    event log and its rows in the database.
    """
    current = set(instance.get_dynamic_partitions(niche_partitions.name))
    added = sorted(set(wanted) - current)
    removed = sorted(current - set(wanted))
    if added:
        instance.add_dynamic_partitions(niche_partitions.name, added)
    for key in removed:
        instance.delete_dynamic_partition(niche_partitions.name, key)
    return added, removed
