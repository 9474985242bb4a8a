"""`translated_articles` (group `content`, day x niche): each published article in each target locale.

Thin: the domain step is ``allixios.content.translation`` (plan, writer calls with no connection
held, store through the one version writer). Metadata names the stand-in translator wherever its
output shows.
"""

import dagster as dg

from allixios.content import translation
from allixios.content.partition import resolve_partition
from allixios_assets.content.assets import (
    LLM_POOL,
    OWNERS,
    TAGS,
    TRANSIENT_RETRY,
    _table,
    partition_of,
    published_articles,
)
from allixios_assets.errors import fail_fast
from resources.llm import LLMResource
from resources.warehouse import WarehouseResource

STAND_IN_NOTE = " (OFFLINE STAND-IN TRANSLATOR: phrase-bank text in the target language, not a translation)"


class TranslationConfig(dg.Config):
    concurrency: int = 4  # translations in flight at once within this asset


@dg.asset(
    partitions_def=published_articles.partitions_def, group_name="content", owners=OWNERS, tags=TAGS,
    kinds={"python", "postgres"}, deps=[published_articles], pool=LLM_POOL, retry_policy=TRANSIENT_RETRY,
    description=f"Every published article of the niche in each of the niche's target locales, through the LLM "
    f"resource (task `writer`, prompt `{translation.TRANSLATE_PROMPT}` with the tenant's glossary and the "
    "per-locale keyphrase). Answers in the wrong language (lingua) or ignoring the glossary are rejected with the "
    f"reason and retried (bounded: the client's attempts x {translation.MAX_ROUNDS} rounds), never published. "
    "Each translation is an article versioned through the version writer and linked to its source version; a "
    "source whose live version changes marks its translations stale and they are re-translated here.",
)
def translated_articles(context: dg.AssetExecutionContext, config: TranslationConfig, warehouse: WarehouseResource,
                        llm: LLMResource) -> dg.MaterializeResult:
    day, niche_key = partition_of(context)
    with fail_fast():
        with warehouse.connection() as conn:
            part = resolve_partition(conn, day, niche_key)
        plan, res = translation.translate_partition(warehouse.connection, part, llm.client(),
                                                    run_id=context.run.run_id, concurrency=config.concurrency)
    if not plan.targets:
        context.log.info(f"niche {niche_key} has no target locales (`allixios niches locales` sets them)")
    for t in res.translated:
        note = STAND_IN_NOTE if t["stand_in"] else ""
        kind = "re-translated" if t["retranslation"] else "translated"
        context.log.info(f"{kind} {t['source_slug']!r} -> {t['locale']} as {t['slug']!r} v{t['version']} "
                         f"with {t['translator']}{note}")
    for r in res.rejected:
        context.log.warning(f"translation of {r['source_slug']!r} into {r['locale']} rejected "
                            f"({'final' if r['final'] else 'will retry'}): {r['reason']}")
    for w in plan.withdrawn:
        context.log.info(f"translation of {w['source_slug']!r} into {w['locale']} withdrawn: its source is not live")
    rows = [dict(t, translator=t["translator"] + (" [STAND-IN]" if t["stand_in"] else "")) for t in res.translated]
    return dg.MaterializeResult(metadata={
        "target_locales": ", ".join(plan.targets) or "none",
        "translated": len(res.translated),
        "retranslated_stale": sum(1 for t in res.translated if t["retranslation"]),
        "rejected": len(res.rejected),
        "rejected_final_earlier": len(plan.rejected),
        "skipped_budget": len(res.skipped_budget),
        "already_current": plan.current,
        "withdrawn": len(plan.withdrawn),
        "stand_in_translations": res.stand_in,
        "translator": (STAND_IN_NOTE.strip(" ()") if res.stand_in else "writer alias") if res.translated else "none",
        "cost_usd": round(res.cost_usd, 8),
        "translations": dg.MetadataValue.md(_table(rows, ["source_slug", "locale", "slug", "version", "quality", "seo",
                                                          "language_confidence", "translator"])),
        "rejections": dg.MetadataValue.md(_table(res.rejected + plan.rejected, ["source_slug", "locale", "reason"])),
    })
