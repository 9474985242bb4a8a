"""article_refresh_job: regenerates exactly the articles the score-drop sensor (or an operator) lists."""

import dagster as dg

from allixios.automation.refresh import refresh_articles as run_refresh
from resources.embeddings import EmbeddingsResource
from resources.llm import LLMResource
from resources.warehouse import WarehouseResource


class RefreshConfig(dg.Config):
    article_ids: list[str]
    reasons: dict[str, str] = {}
    run_key: str = ""


@dg.op(
    pool="llm",
    retry_policy=dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL),
    description="New draft per listed article (previous version + failing assessments in the prompt), re-scored and "
    "re-embedded; published only when it scores at least as well as the live version.",
)
def refresh_articles(
    context: dg.OpExecutionContext,
    config: RefreshConfig,
    llm: LLMResource,
    embeddings: EmbeddingsResource,
    warehouse: WarehouseResource,
) -> dg.Output:
    result = run_refresh(
        llm.client(), embeddings.embedder(), config.article_ids, reasons=config.reasons,
        run_key=config.run_key or None, run_id=context.run_id, database_url=warehouse.url(),
    )
    table = "| article | outcome | quality | SEO | detail |\n|---|---|---|---|---|\n" + "\n".join(
        f"| {o['article_id'][:8]} | {o['status']} | {o['quality'] or ''} | {o['seo'] or ''} | {o['detail'][:120]} |"
        for o in result["outcomes"]
    )
    return dg.Output(
        result["counts"],
        metadata={
            "requested": len(config.article_ids),
            "republished": result["republished"],
            "re_embedded": result["embedded"],
            "cost_usd": result["cost_usd"],
            "outcomes": dg.MetadataValue.md(table),
        },
    )


@dg.job(
    name="article_refresh_job",
    executor_def=dg.in_process_executor,
    tags={"area": "content"},
    description="Regenerates the listed articles (run config ops.refresh_articles.config.article_ids).",
)
def article_refresh_job():
    refresh_articles()
