"""Content assets (group `content`), partitioned by day x niche.

Each asset reads its partition, calls one domain step in ``allixios.content`` and returns a
MaterializeResult with counts, averages, cost and a Markdown preview. The data lives in PostgreSQL
(topics, articles, article_versions, embeddings, seo_reports), so assets pass no values: each
depends on the previous one with ``deps``.
"""

import dagster as dg

from allixios.content import pipeline
from allixios.content.drafting import DRAFT_PROMPT
from allixios.content.offline_writer import MODEL_NAME as OFFLINE_WRITER
from allixios_assets.errors import fail_fast
from allixios_assets.partitions import content_partitions
from resources.embeddings import EmbeddingsResource
from resources.llm import LLMResource
from resources.warehouse import WarehouseResource

OWNERS = ["team:content"]
TAGS = {"area": "content"}
LLM_POOL = "llm"
# transient failures (a dropped connection, a provider outage that outlasted the LLM layer's own retries)
TRANSIENT_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def partition_of(context) -> tuple[str, str]:
    """(day, niche partition key) of the run's day x niche partition."""
    keys = context.partition_key.keys_by_dimension
    return keys["date"], keys["niche"]


def _table(rows: list[dict], columns: list[str], limit: int = 25) -> str:
    if not rows:
        return "_none_"
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    body = "\n".join(
        "| " + " | ".join(str(r.get(c, "")).replace("|", "\\|").replace("\n", " ")[:120] for c in columns) + " |"
        for r in rows[:limit]
    )
    more = f"\n\n… and {len(rows) - limit} more" if len(rows) > limit else ""
    return head + body + more


def _earlier(rows: list[dict], noun: str, columns: list[str]) -> str:
    """What a no-op re-run shows instead of an empty table: the state the earlier run left."""
    if not rows:
        return "_none_"
    return f"nothing new; {len(rows)} {noun} from the earlier run\n\n" + _table(rows, columns)


def _offline_note(model: str | None) -> str:
    return " (OFFLINE STAND-IN: template prose, not a real model)" if model == OFFLINE_WRITER else ""


class TopicsConfig(dg.Config):
    research: str = "auto"  # auto: only when the backlog cannot fill the quota; always; never


@dg.asset(
    partitions_def=content_partitions, group_name="content", owners=OWNERS, tags=TAGS, kinds={"python", "postgres"},
    pool=LLM_POOL, retry_policy=TRANSIENT_RETRY,
    description="Topic candidates for the niche and day: the backlog by priority under the niche's daily quota, "
    "plus LLM research (task `researcher`) that expands seed keywords when the backlog runs short. Candidates "
    "that duplicate an article or another candidate (same slug/keyphrase, or headline vectors at least the "
    "embedding model's `topic_duplicate` cosine, or the tenant's `duplicate_similarity`, apart) are rejected and the reason is kept on the topic row.",
)
def topics(context: dg.AssetExecutionContext, config: TopicsConfig, warehouse: WarehouseResource, llm: LLMResource,
           embeddings: EmbeddingsResource) -> dg.MaterializeResult:
    day, niche_key = partition_of(context)
    with fail_fast():
        embedder = embeddings.embedder()
        with warehouse.connection() as conn:
            part = pipeline.resolve_partition(conn, day, niche_key)
            sel = pipeline.select_topics(conn, part, embedder, llm=llm.client(), research=config.research,
                                         run_id=context.run.run_id)
            earlier = [] if sel.selected or sel.rejected else pipeline.earlier_topics(conn, part)
    # one log line per kind, not per topic (each line is an event-log row; see article_drafts)
    if sel.selected:
        context.log.info(_listed(f"{len(sel.selected)} topic(s) selected", [
            f"{d.title!r} (keyphrase {d.keyphrase!r}, priority {d.priority})" for d in sel.selected]))
    if sel.rejected:
        context.log.info(_listed(f"{len(sel.rejected)} topic(s) rejected",
                                 [f"{d.title!r}: {d.reason}" for d in sel.rejected]))
    if sel.researched or sel.research_status != "not needed":
        context.log.info(f"research: {sel.research_status}; {sel.researched} topic(s) added to the backlog")
    if not sel.selected and not sel.rejected:
        context.log.info(f"nothing new for {niche_key} on {day}: {sel.already_selected} topic(s) already selected "
                         f"(daily quota {part.niche.daily_quota})")
    decisions = [vars(d) for d in sel.selected + sel.rejected]
    columns = ["title", "keyphrase", "priority", "status", "reason"]
    return dg.MaterializeResult(metadata={
        "selected": len(sel.selected),
        "rejected": len(sel.rejected),
        "already_selected": sel.already_selected,
        "daily_quota": part.niche.daily_quota,
        "researched": sel.researched,
        "research": sel.research_status,
        "research_cost_usd": sel.research_cost_usd,
        "embedding_model": embedder.model,
        "decisions": dg.MetadataValue.md(_table(decisions, columns) if decisions
                                         else _earlier(earlier, "topics", columns)),
    })


LOGGED_DRAFTS = 20  # drafts and failures named in article_drafts' log lines (all of them are in its metadata)


def _listed(head: str, items: list[str], limit: int = LOGGED_DRAFTS) -> str:
    """One log line naming up to ``limit`` items (the asset's metadata lists all of them)."""
    more = f"; … {len(items) - limit} more in the metadata" if len(items) > limit else ""
    return f"{head}: " + "; ".join(items[:limit]) + more


class DraftsConfig(dg.Config):
    concurrency: int = 8  # drafts in flight at once within this asset
    # a spent tenant budget leaves topics selected for a later run; set True to fail the partition instead
    fail_on_budget_skip: bool = False


@dg.asset(
    partitions_def=content_partitions, group_name="content", owners=OWNERS, tags=TAGS, kinds={"python", "postgres"},
    deps=[topics], pool=LLM_POOL, retry_policy=TRANSIENT_RETRY,
    description=f"One draft per selected topic through the LLM resource (task `writer`, prompt `{DRAFT_PROMPT}`), "
    "concurrently with bounded async calls: title, meta title, meta description, slug, excerpt, Markdown body with "
    "H2/H3, tags, keyphrase. Output is validated and sanitized (no HTML); malformed output is retried by the LLM "
    "layer, then the topic is marked failed with the reason. Topics that already have an article are skipped.",
)
def article_drafts(context: dg.AssetExecutionContext, config: DraftsConfig, warehouse: WarehouseResource,
                   llm: LLMResource) -> dg.MaterializeResult:
    day, niche_key = partition_of(context)
    run_id = context.run.run_id
    with fail_fast():
        with warehouse.connection() as conn:  # read, then release the connection while models write
            part = pipeline.resolve_partition(conn, day, niche_key)
            jobs = pipeline.pending_drafts(conn, part)
            existing = pipeline.already_drafted(conn, part)
        context.log.info(f"drafting {len(jobs)} topic(s) for {niche_key} on {day} ({existing} already drafted)")
        # each draft is stored as its answer arrives, while the other calls still wait (issue 19)
        out = pipeline.request_and_store_drafts(llm.client(), part, jobs, warehouse.connection, run_id=run_id,
                                                concurrency=config.concurrency)
        earlier = []
        if not out.drafted:
            with warehouse.connection() as conn:
                earlier = pipeline.earlier_articles(conn, part)
    # one log line per kind, not per draft: every Dagster log line is a row written to the event-log
    # storage, and a line per draft cost more than the drafting itself (issue 19); each draft and
    # failure is listed in the materialization's metadata below
    if out.drafted:
        context.log.info(f"drafted {len(out.drafted)} article(s): " + "; ".join(
            f"{d['slug']!r} with {d['model']}{_offline_note(d['model'])}, cost ${d['cost_usd']:.6f}"
            for d in out.drafted[:LOGGED_DRAFTS]) + (f"; … {len(out.drafted) - LOGGED_DRAFTS} more in the metadata"
                                                     if len(out.drafted) > LOGGED_DRAFTS else ""))
    if out.failed:
        context.log.warning(f"{len(out.failed)} draft(s) failed: " + "; ".join(
            f"topic {f['title']!r}: {f['reason']}" for f in out.failed[:LOGGED_DRAFTS])
            + (f"; … {len(out.failed) - LOGGED_DRAFTS} more in the metadata" if len(out.failed) > LOGGED_DRAFTS else ""))
    if out.skipped_budget:
        context.log.warning(f"{len(out.skipped_budget)} draft(s) not made: tenant budget spent (topics stay selected)")
        if config.fail_on_budget_skip:
            raise dg.Failure(
                description=f"{len(out.skipped_budget)} draft(s) skipped for budget",
                metadata={"skipped_budget": len(out.skipped_budget)},
                allow_retries=False,
            )
    model = next(iter(out.models), None)
    preview = "_no draft_"
    if out.drafted:
        first = out.drafted[0]
        with warehouse.connection() as conn:
            body = conn.execute("SELECT content FROM articles WHERE id = %s", (first["article_id"],)).fetchone()[0]
        preview = f"### {first['title']}{_offline_note(first['model'])}\n\n{body[:800]}…"
    elif earlier:
        preview = f"nothing new; {len(earlier)} articles from the earlier run (first: {earlier[0]['title']})"
    return dg.MaterializeResult(metadata={
        "drafted": len(out.drafted),
        "failed": len(out.failed),
        "skipped_budget": len(out.skipped_budget),
        "already_drafted": existing + out.already_drafted,
        "cost_usd": round(out.cost_usd, 8),
        "models": ", ".join(f"{m} x{n}{_offline_note(m)}" for m, n in out.models.items()) or "none",
        "model": model or "none",
        "drafts": dg.MetadataValue.md(_table(out.drafted, ["slug", "title", "model", "cost_usd"]) if out.drafted
                                      else _earlier(earlier, "articles", ["slug", "title", "status", "model"])),
        "failures": dg.MetadataValue.md(_table(out.failed, ["title", "reason"])),
        "preview": dg.MetadataValue.md(preview),
    })


@dg.asset(
    partitions_def=content_partitions, group_name="content", owners=OWNERS, tags=TAGS, kinds={"python", "postgres"},
    deps=[article_drafts],
    description="Quality (readability + engagement) and SEO scores 0-100 from the documented assessments "
    "(docs/areas/content-scoring.md); every assessment's result and the optimization suggestions are stored. "
    "Articles meeting the tenant's bars become `scored`, the others `needs_revision` with the failed bars.",
)
def scored_articles(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                    llm: LLMResource) -> dg.MaterializeResult:
    from allixios.content import judge

    day, niche_key = partition_of(context)
    client = llm.client()
    judge_model = judge.judge_deployment(client.catalogue)
    with fail_fast(), warehouse.connection() as conn:
        part = pipeline.resolve_partition(conn, day, niche_key)
        res = pipeline.score_partition(conn, part)
        conn.commit()
        # the optional LLM judge (issue 16): called only when a real judge deployment is configured
        judge.judge_partition(conn, part, client, run_id=context.run.run_id)
        verdicts = judge.stored(conn, [a["id"] for a in res.articles])
    lines = []
    for a in res.articles:
        a["judge"] = judge.summary_line(verdicts.get(a["id"]))
        verdict = "meets every bar" if not a["failed_bars"] else "misses " + "; ".join(a["failed_bars"])
        lines.append(f"{a['slug']!r}: quality {a['quality']}, SEO {a['seo']}, {verdict} -> {a['status']}")
    if lines:  # one line for the partition, not one per article (each is an event-log row)
        context.log.info(_listed(f"scored {len(lines)} article(s)", lines))
    rows = [dict(a, failed_bars="; ".join(a["failed_bars"]) or "-") for a in res.articles]
    return dg.MaterializeResult(metadata={
        "scored": len(res.articles),
        "passed_bars": len(res.passed),
        "needs_revision": len(res.needs_revision),
        "avg_quality": res.average("quality") or 0.0,
        "avg_seo": res.average("seo") or 0.0,
        "bars": dg.MetadataValue.json(part.bars.as_dict()),
        "articles": dg.MetadataValue.md(_table(rows, ["slug", "quality", "seo", "body_chars", "status", "failed_bars",
                                                      "judge"])),
        "judge": f"judge: {judge_model.model}" if judge_model else judge.NOT_CONFIGURED,
    })


@dg.asset(
    partitions_def=content_partitions, group_name="content", owners=OWNERS, tags=TAGS, kinds={"python", "pgvector"},
    deps=[scored_articles], retry_policy=TRANSIENT_RETRY,
    description="Document and headline vectors per article in pgvector (HNSW cosine index per model), with the "
    "model and dimension recorded; only new or changed articles are embedded, so a model change is a re-embed.",
)
def article_embeddings(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                       embeddings: EmbeddingsResource) -> dg.MaterializeResult:
    day, niche_key = partition_of(context)
    with fail_fast():
        embedder = embeddings.embedder()
        with warehouse.connection() as conn:
            part = pipeline.resolve_partition(conn, day, niche_key)
            res = pipeline.embed_partition(conn, part, embedder, run_id=context.run.run_id)
    context.log.info(f"embedded {res.embedded_articles} article(s) with {res.model} ({res.vectors_written} vectors, "
                     f"{res.up_to_date} up to date)")
    offline = (" (OFFLINE STAND-IN: feature hashing, lexical only)" if embedder.is_offline_stand_in
               else " (local model)" if embedder.model.startswith("offline/") else "")
    return dg.MaterializeResult(metadata={
        "model": res.model + offline,
        "dimension": res.dimension,
        "embedded_articles": res.embedded_articles,
        "vectors_written": res.vectors_written,
        "up_to_date": res.up_to_date,
        "hnsw_index": res.index,
        "cost_usd": res.cost_usd,
    })


@dg.asset(
    partitions_def=content_partitions, group_name="content", owners=OWNERS, tags=TAGS, kinds={"python", "postgres"},
    deps=[article_embeddings],
    description="Articles that pass every bar go live: status published, published_at and a new "
    "article_versions row (reason 'published'). The rest wait in needs_revision with their reasons; nothing is "
    "published silently.",
)
def published_articles(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    day, niche_key = partition_of(context)
    with fail_fast(), warehouse.connection() as conn:
        part = pipeline.resolve_partition(conn, day, niche_key)
        res = pipeline.publish_partition(conn, part, run_id=context.run.run_id)
        earlier = [] if res.published else [a for a in pipeline.earlier_articles(conn, part) if a["status"] == "published"]
    # one line per kind, not per article (each is an event-log row)
    if res.published:
        context.log.info(_listed(f"published {len(res.published)} article(s)", [
            f"{p['slug']!r} as version {p['version']} (quality {p['quality']}, SEO {p['seo']})" for p in res.published]))
    if res.needs_revision:
        context.log.info(_listed(f"not published {len(res.needs_revision)} article(s), waiting in needs_revision", [
            f"{w['slug']!r} ({'; '.join(w['reasons']) or '-'})" for w in res.needs_revision]))
    if not res.published and not res.needs_revision:
        context.log.info(f"nothing new to publish; {res.already_published} article(s) already published")
    waiting = [dict(w, reasons="; ".join(w["reasons"]) or "-", failing_assessments=", ".join(w["failing_assessments"][:6]))
               for w in res.needs_revision]
    return dg.MaterializeResult(metadata={
        "published": len(res.published),
        "already_published": res.already_published,
        "needs_revision": len(res.needs_revision),
        "published_articles": dg.MetadataValue.md(_table(res.published, ["slug", "version", "quality", "seo"])
                                                  if res.published else
                                                  _earlier(earlier, "articles", ["slug", "version", "quality", "seo"])),
        "waiting_for_revision": dg.MetadataValue.md(_table(waiting, ["slug", "quality", "seo", "reasons",
                                                                     "failing_assessments"])),
    })


@dg.asset(
    partitions_def=content_partitions, group_name="content", owners=OWNERS, tags=TAGS, kinds={"python", "postgres"},
    deps=[published_articles],
    description="SEO health of the niche as of the day, kept in `seo_reports` for dbt: score distribution, most "
    "frequent failing assessments, cannibalization pairs among published articles (vector similarity or same "
    "keyphrase), missing metadata and broken internal links.",
)
def seo_reports(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                embeddings: EmbeddingsResource) -> dg.MaterializeResult:
    day, niche_key = partition_of(context)
    with fail_fast():
        embedder = embeddings.embedder()
        with warehouse.connection() as conn:
            part = pipeline.resolve_partition(conn, day, niche_key)
            # thresholds belong to the model whose vectors are compared (its catalogue entry)
            report = pipeline.build_seo_report(conn, part, embedding_model=embedder.model,
                                               similarity=embedder.deployment.similarity)
    context.log.info(f"SEO report for {niche_key} on {day}: {report['article_count']} article(s), "
                     f"{report['published_count']} published, {len(report['cannibalization_pairs'])} cannibalization "
                     f"pair(s), {len(report['missing_metadata'])} missing metadata, {len(report['broken_links'])} broken link(s)")
    return dg.MaterializeResult(metadata={
        "articles": report["article_count"],
        "published": report["published_count"],
        "avg_quality": report["avg_quality"] or 0.0,
        "avg_seo": report["avg_seo"] or 0.0,
        "cannibalization_pairs": len(report["cannibalization_pairs"]),
        "missing_metadata": len(report["missing_metadata"]),
        "broken_links": len(report["broken_links"]),
        "report": dg.MetadataValue.md(pipeline.report_markdown(report)),
    })
