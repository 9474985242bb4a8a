"""Asset checks of the content graph: gates that block, reports that inform.

The rule (docs/areas/content.md, "Gates and reports"): a check is either

* a **gate** — ``blocking=True``, fails with severity ERROR, and then the steps after
  ``scored_articles`` are skipped for that partition (the check step fails, so the run shows failed);
* a **report** — non-blocking, fails with severity WARN, and nothing downstream waits for it.

Scoring routes every article under a bar to ``needs_revision``, so such articles are expected
and are *reported* (``articles_meet_bars``, WARN, listing who waits and why). The gates
``body_length_bar`` / ``quality_bar`` / ``seo_bar`` hold the invariant that matters before
publishing: no article under the bar is publishable (status ``scored``). When one is, publishing
stops for the partition, and the UI shows a failed check in a failed step, never "Failed" next to
a passed execution.

``seo_report_coverage`` (report) checks that every day of the niche up to the partition that
produced articles has an SEO report (a gate that blocked publishing leaves that day without one).
"""

import warnings

import dagster as dg

from allixios.content import pipeline
from allixios.content.seo_reports import days_without_report
from allixios_assets.content.assets import partition_of, scored_articles, seo_reports
from allixios_assets.partitions import content_partitions
from resources.warehouse import WarehouseResource

GATES = ("body_length", "quality", "seo")
_LABELS = {
    "body_length": "body length >= min_body_chars",
    "quality": "quality > min_quality",
    "seo": "SEO > min_seo",
}


def run_gate(context, warehouse: WarehouseResource, gate: str) -> dg.AssetCheckResult:
    day, niche_key = partition_of(context)
    with warehouse.connection() as conn:
        part = pipeline.resolve_partition(conn, day, niche_key)
        r = pipeline.gate_report(conn, part, gate)
    label = f"{_LABELS[gate]}, bar {r['bar']}"
    if r["leaked"]:
        text = f"{r['leaked']} publishable article(s) miss the bar ({label}): publishing blocked for this partition"
        context.log.error(text)
    else:
        waiting = f"; {r['failing']} under it wait in needs_revision" if r["failing"] else ""
        text = f"no publishable article misses the bar ({label}); {r['checked']} checked{waiting}"
        context.log.info(f"gate {gate}_bar passed: {text}")
    return dg.AssetCheckResult(
        passed=r["leaked"] == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=text,
        metadata={
            "bar": r["bar"],
            "checked": r["checked"],
            "publishable_but_failing": r["leaked"],
            "failing": r["failing"],
            "failing_articles": dg.MetadataValue.json(r["failing_slugs"]),
            "values": dg.MetadataValue.json(r["values"]),
        },
    )


def _gate_check(gate: str, description: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=scored_articles, name=f"{gate}_bar", blocking=True, partitions_def=content_partitions,
                    description=description + " Gate: blocking, severity ERROR; when it fails, the steps after "
                    "scored_articles are skipped for the partition.")
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return run_gate(context, warehouse, gate)

    return _check


def _bars_report(context, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    day, niche_key = partition_of(context)
    with warehouse.connection() as conn:
        part = pipeline.resolve_partition(conn, day, niche_key)
        reports = {gate: pipeline.gate_report(conn, part, gate) for gate in GATES}
    checked = max(r["checked"] for r in reports.values())
    under = sorted({slug for r in reports.values() for slug in r["failing_slugs"]})
    per_bar = {f"under_{gate}_bar": r["failing"] for gate, r in reports.items()}
    if under:
        text = f"{len(under)} of {checked} article(s) miss a bar and wait in needs_revision (" + ", ".join(
            f"{_LABELS[g]}: {r['failing']}" for g, r in reports.items() if r["failing"]) + ")"
        context.log.warning(text)
    else:
        text = f"all {checked} article(s) meet every bar"
    return dg.AssetCheckResult(
        passed=not under, severity=dg.AssetCheckSeverity.WARN, description=text,
        metadata={"checked": checked, "under_a_bar": len(under), **per_bar,
                  "waiting_articles": dg.MetadataValue.json(under),
                  "bars": dg.MetadataValue.json(part.bars.as_dict())},
    )


def _coverage(context, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    day, niche_key = partition_of(context)
    with warehouse.connection() as conn:
        part = pipeline.resolve_partition(conn, day, niche_key)
        missing = days_without_report(conn, part)
    if missing:
        text = (f"{len(missing)} day(s) of {niche_key} up to {day} produced articles but have no SEO report: "
                f"{', '.join(d.isoformat() for d in missing[:10])}{' …' if len(missing) > 10 else ''} "
                "(re-run those partitions; a blocked gate skips the report)")
        context.log.warning(text)
    else:
        text = f"every day of {niche_key} up to {day} that produced articles has an SEO report"
    return dg.AssetCheckResult(passed=not missing, severity=dg.AssetCheckSeverity.WARN, description=text,
                               metadata={"days_without_report": dg.MetadataValue.json([d.isoformat() for d in missing])})


# Partitioned asset checks are a Dagster preview feature; they are what lets each check read its own
# day x niche partition, so the preview warning is expected here and silenced for these definitions.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.PreviewWarning)
    body_length_bar = _gate_check("body_length", "No publishable article's Markdown body is shorter than the tenant's "
                                  "min_body_chars (default 1000).")
    quality_bar = _gate_check("quality", "No publishable article's quality score is at or below the tenant's "
                              "min_quality (default 80).")
    seo_bar = _gate_check("seo", "No publishable article's SEO score is at or below the tenant's min_seo (default 70).")

    @dg.asset_check(asset=scored_articles, name="articles_meet_bars", blocking=False,
                    partitions_def=content_partitions,
                    description="Report: how many of the partition's articles miss a bar (and so wait in "
                    "needs_revision), per bar. Non-blocking, severity WARN: the passing articles still publish.")
    def articles_meet_bars(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return _bars_report(context, warehouse)

    @dg.asset_check(asset=seo_reports, name="seo_report_coverage", blocking=False, partitions_def=content_partitions,
                    description="Report: every day of the niche up to this partition that produced articles has an "
                    "SEO report. Non-blocking, severity WARN.")
    def seo_report_coverage(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return _coverage(context, warehouse)

quality_gates = [body_length_bar, quality_bar, seo_bar]
content_checks = [*quality_gates, articles_meet_bars, seo_report_coverage]
