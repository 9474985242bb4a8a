"""Blocking quality gates on `scored_articles`: body length, quality and SEO against the tenant's bars.

Semantics (see docs/areas/content.md): scoring already routes every article under a bar to
`needs_revision`, so such articles are expected, not an error. A gate therefore *fails with
severity WARN* when any article of the partition misses its bar (the UI shows how many and which;
those articles wait in needs_revision, the passing ones still publish), and *fails with severity
ERROR* only when an article under the bar is still publishable (status `scored`): a broken
invariant, and being blocking, the ERROR stops `published_articles` for the whole partition.
"""

import warnings

import dagster as dg

from allixios.content import pipeline
from allixios_assets.content.assets import partition_of, scored_articles
from allixios_assets.partitions import content_partitions
from resources.warehouse import WarehouseResource

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
    severity = dg.AssetCheckSeverity.ERROR if r["leaked"] else dg.AssetCheckSeverity.WARN
    if r["leaked"]:
        text = f"{r['leaked']} publishable article(s) miss the bar ({_LABELS[gate]}, bar {r['bar']}): publishing blocked"
    elif r["failing"]:
        text = f"{r['failing']} of {r['checked']} article(s) miss the bar ({_LABELS[gate]}, bar {r['bar']}) and wait in needs_revision"
    else:
        text = f"all {r['checked']} article(s) meet the bar ({_LABELS[gate]}, bar {r['bar']})"
    return dg.AssetCheckResult(
        passed=r["failing"] == 0,
        severity=severity,
        description=text,
        metadata={
            "bar": r["bar"],
            "checked": r["checked"],
            "failing": r["failing"],
            "publishable_but_failing": r["leaked"],
            "failing_articles": dg.MetadataValue.json(r["failing_slugs"]),
            "values": dg.MetadataValue.json(r["values"]),
        },
    )


def _gate_check(gate: str, description: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=scored_articles, name=f"{gate}_bar", blocking=True, partitions_def=content_partitions,
                    description=description)
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return run_gate(context, warehouse, gate)

    return _check


# Partitioned asset checks are a Dagster preview feature; they are what lets each gate read its own
# day x niche partition, so the preview warning is expected here and silenced for these definitions.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.PreviewWarning)
    body_length_bar = _gate_check("body_length", "Every article's Markdown body has at least the tenant's min_body_chars (default 1000).")
    quality_bar = _gate_check("quality", "Every article's quality score is above the tenant's min_quality (default 80).")
    seo_bar = _gate_check("seo", "Every article's SEO score is above the tenant's min_seo (default 70).")

quality_gates = [body_length_bar, quality_bar, seo_bar]
