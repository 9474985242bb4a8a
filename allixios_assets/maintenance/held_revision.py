"""held_revision_job: revises the held (needs_revision) articles the held-revision sensor lists."""

import dagster as dg

from allixios.automation.held_revision import HeldPolicy, revise_held
from resources.embeddings import EmbeddingsResource
from resources.llm import LLMResource
from resources.warehouse import WarehouseResource


class HeldRevisionConfig(dg.Config):
    article_ids: list[str]
    run_key: str = ""
    max_attempts: int = HeldPolicy.max_attempts


@dg.op(
    pool="llm",
    retry_policy=dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL),
    description="A revision per held article from its failing assessments, re-scored; a passing one is published "
    "and re-embedded at once, one that fails after the attempt cap is left for an editor with the reasons.",
)
def revise_held_articles(
    context: dg.OpExecutionContext,
    config: HeldRevisionConfig,
    llm: LLMResource,
    embeddings: EmbeddingsResource,
    warehouse: WarehouseResource,
) -> dg.Output:
    result = revise_held(
        llm.client(), embeddings.embedder(), config.article_ids, run_key=config.run_key or None,
        run_id=context.run_id, max_attempts=config.max_attempts, database_url=warehouse.url(),
    )
    for o in result["outcomes"]:
        context.log.info(f"held article {o['article_id'][:8]}: {'published' if o['republished'] else o['status']} "
                         f"(quality {o['quality']}, SEO {o['seo']}) {o['detail'][:200]}")
    for e in result["left_for_editor"]:
        context.log.warning(f"left for an editor: {e['slug']!r}: {e['reason']}")
    table = "| article | outcome | quality | SEO | detail |\n|---|---|---|---|---|\n" + "\n".join(
        f"| {o['article_id'][:8]} | {'published' if o['republished'] else o['status']} | {o['quality'] or ''} | "
        f"{o['seo'] or ''} | {o['detail'][:120]} |" for o in result["outcomes"]
    )
    return dg.Output(
        result["counts"],
        metadata={
            "requested": len(config.article_ids),
            "published": result["published"],
            "left_for_editor": len(result["left_for_editor"]),
            "re_embedded": result["embedded"],
            "cost_usd": result["cost_usd"],
            "outcomes": dg.MetadataValue.md(table),
        },
    )


@dg.job(
    name="held_revision_job",
    executor_def=dg.in_process_executor,
    tags={"area": "content"},
    description="Revises held articles (started by held_revision_sensor; run config ops.revise_held_articles.config).",
)
def held_revision_job():
    revise_held_articles()
