"""`raw_page_events` and `raw_revenue_events`: one day's landed event files into `raw`, per partition.

Thin: the asset calls ``allixios.analytics.ingest.ingest_day`` (polars validation + COPY, the day
replaced in one transaction) and reports the reconciliation as metadata and an asset check.
"""

import warnings
from datetime import date

import dagster as dg

from allixios.analytics.ingest import day_folder, ingest_day
from allixios.analytics.kpis import markdown_table
from allixios_assets.partitions import daily_partitions
from resources.warehouse import WarehouseResource

OWNERS = ["team:analytics"]
TAGS = {"area": "analytics"}
MAX_REJECTED_SHARE = 0.05
CHECK_NAME = "files_landed_and_mostly_valid"
ONE_DAY_PER_RUN = dg.BackfillPolicy.multi_run(1)


def _ingest(context: dg.AssetExecutionContext, warehouse: WarehouseResource, kind: str) -> dg.MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    with warehouse.connection() as conn:
        summary = ingest_day(conn, day, kinds=(kind,))
    asset_key = context.asset_key
    if not summary["folder_found"]:
        context.log.warning(f"no landing folder {day_folder(day)}: nothing loaded, the day's rows are unchanged")
        return dg.MaterializeResult(
            metadata={"folder": str(day_folder(day)), "folder_found": False},
            check_results=[dg.AssetCheckResult(
                check_name=CHECK_NAME, asset_key=asset_key, passed=False, severity=dg.AssetCheckSeverity.WARN,
                description=f"no files landed for {day}", metadata={"folder": str(day_folder(day))},
            )],
        )
    totals = summary["kinds"][kind]
    share = totals["rows_rejected"] / totals["rows_read"] if totals["rows_read"] else 0.0
    reasons = [{"reason": r, "rows": n} for r, n in totals["rejection_reasons"].items()]
    files = [f for f in summary["files"] if f["kind"] == kind]
    passed = totals["files"] > 0 and totals["files_rejected"] == 0 and share <= MAX_REJECTED_SHARE
    context.log.info(
        f"{kind} events {day}: {totals['rows_loaded']} loaded, {totals['rows_rejected']} rejected, "
        f"{totals['rows_duplicate']} duplicate of {totals['rows_read']} read in {totals['files']} files"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": totals["rows_loaded"],
            "rows_read": totals["rows_read"],
            "rows_loaded": totals["rows_loaded"],
            "rows_rejected": totals["rows_rejected"],
            "rows_duplicate": totals["rows_duplicate"],
            "rejected_share": round(share, 4),
            "files": totals["files"],
            "files_rejected": totals["files_rejected"],
            "folder": str(day_folder(day)),
            "rejection_reasons": dg.MetadataValue.md(markdown_table(reasons, ["reason", "rows"])),
            "file_reconciliation": dg.MetadataValue.md(markdown_table(
                files, ["source_file", "file_format", "rows_read", "rows_loaded", "rows_rejected", "rows_duplicate",
                        "status", "error"])),
        },
        check_results=[dg.AssetCheckResult(
            check_name=CHECK_NAME, asset_key=asset_key, passed=passed, severity=dg.AssetCheckSeverity.WARN,
            description=f"files landed, none unreadable, at most {MAX_REJECTED_SHARE:.0%} of rows rejected",
            metadata={"rejected_share": round(share, 4), "files_rejected": totals["files_rejected"]},
        )],
    )


def _check(asset: str) -> list[dg.AssetCheckSpec]:
    # partitioned with its asset, so one day's result never hides another's
    return [dg.AssetCheckSpec(CHECK_NAME, asset=asset, blocking=False, partitions_def=daily_partitions,
                              description=f"files landed, none unreadable, <= {MAX_REJECTED_SHARE:.0%} rows rejected")]


DESCRIPTIONS = {
    "page": "Page views of the day: `landing/events/<day>/page_*` (JSONL, CSV, Parquet) validated with polars "
    "and COPYed into raw.page_events; rejected rows in raw.rejected_events with file, line and reason; per-file "
    "reconciliation in raw.ingested_files. Re-running replaces the day.",
    "revenue": "Revenue events of the day: `landing/events/<day>/revenue_*` validated (source, amount, currency "
    "converted to USD) and COPYed into raw.revenue_events; rejected rows kept with reasons. Re-running replaces the day.",
}


def _raw_events_asset(kind: str) -> dg.AssetsDefinition:
    name = f"raw_{kind}_events"

    @dg.asset(
        name=name, partitions_def=daily_partitions, backfill_policy=ONE_DAY_PER_RUN, group_name="analytics",
        owners=OWNERS, tags=TAGS, kinds={"polars", "postgres"}, check_specs=_check(name), description=DESCRIPTIONS[kind],
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        return _ingest(context, warehouse, kind)

    return _asset


# One day per run across the analytics job (dagster-dbt would default its assets to one run per
# range); `backfill_policy` on @asset is a Dagster beta parameter and a partitioned check spec a
# preview one, so their warnings are expected here.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)
    warnings.simplefilter("ignore", dg.PreviewWarning)
    raw_page_events = _raw_events_asset("page")
    raw_revenue_events = _raw_events_asset("revenue")
