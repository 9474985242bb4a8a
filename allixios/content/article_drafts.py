"""The `article_drafts` step: one draft per selected topic through the LLM client.

Three phases so no database transaction stays open while models write:
``pending_drafts`` (read), ``request_drafts`` (concurrent, bounded LLM calls; malformed output is
retried by the LLM layer) and ``store_drafts`` (write); the asset overlaps the last two
(``request_and_store_drafts``: each answer stored as it arrives, in short transactions). A topic that already has an article is
never drafted again; the request id ``draft:<topic id>`` lets the ledger answer a repeated request
without a new paid call, so a re-run never double-counts cost.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from allixios import catalog, plans
from allixios.content import stand_in
from allixios.content.drafting import Draft, DraftBrief, build_draft_messages, parse_draft
from allixios.content.partition import PartitionRef
from allixios.content.slugs import unique_slug, unique_slugs
from allixios.content.versions import (
    CONTENT_FIELDS,
    content_hash,
    record_first_version,
    record_first_versions,
)
from allixios.db.engine import fetch_dicts

MAX_REASON_CHARS = 500


@dataclass
class DraftJob:
    topic_id: UUID
    title: str
    keyphrase: str
    messages: list[dict]
    prompt_version: str
    # the content request that asked for the topic: its max_cost_usd caps all its calls, and its
    # share per topic caps this topic's calls (enforced at call time, allixios.ai.caps)
    content_request_id: UUID | None = None
    request_cap_usd: float | None = None
    topic_cap_usd: float | None = None

    @property
    def request_id(self) -> str:
        return f"draft:{self.topic_id}"


@dataclass
class DraftingResult:
    drafted: list[dict] = field(default_factory=list)  # {article_id, topic_id, slug, title, model, cost_usd}
    failed: list[dict] = field(default_factory=list)  # {topic_id, title, reason}
    skipped_budget: list[dict] = field(default_factory=list)  # {topic_id, title, reason}: left selected for a later run
    already_drafted: int = 0
    cost_usd: float = 0.0  # new spend in this call (replayed answers cost nothing)
    models: Counter = field(default_factory=Counter)


def pending_drafts(conn: psycopg.Connection, part: PartitionRef) -> list[DraftJob]:
    """Selected (or previously failed) topics of the partition that have no article yet."""
    topics = fetch_dicts(
        conn,
        """SELECT t.id, t.title, coalesce(t.target_keyphrase, '') AS keyphrase, t.keywords
           FROM topics t
           WHERE t.niche_id = %s AND t.partition_date = %s AND t.status IN ('selected', 'failed')
             AND NOT EXISTS (SELECT 1 FROM articles a WHERE a.topic_id = t.id)
           ORDER BY t.priority DESC, t.id""",
        (part.niche.id, part.day),
    )
    if not topics:
        return []
    left = plans.left_today(conn, part.tenant.id, "articles_per_day")
    if left is not None and len(topics) > left:
        # the plan's articles per day: no LLM call for topics past it; they stay selected for another day
        held = [t["id"] for t in topics[left:]]
        conn.execute("UPDATE topics SET failure_reason = %s, updated_at = now() WHERE id = ANY(%s)",
                     (f"plan_limit: the tenant's {plans.limits_of(conn, part.tenant.id)['articles_per_day']} articles "
                      "per day are drafted; drafted when this partition runs again after UTC midnight (or raise the limit "
                      "with `allixios tenants limits`)", held))
        topics = topics[:left]
        if not topics:
            return []
    # recently published articles of the niche, offered to the writer as internal links
    links = fetch_dicts(
        conn,
        """SELECT slug, title FROM articles
           WHERE niche_id = %s AND status = 'published' AND deleted_at IS NULL AND locale IS NULL
           ORDER BY published_at DESC, slug LIMIT 3""",
        (part.niche.id,),
    )
    caps = {r["topic_id"]: r for r in fetch_dicts(
        conn,
        """SELECT t.topic_id, r.id, (r.constraints->>'max_cost_usd')::float8 AS cap, cardinality(r.topic_ids) AS n
           FROM content_requests r CROSS JOIN LATERAL unnest(r.topic_ids) AS t(topic_id)
           WHERE r.tenant_id = %s AND r.topic_ids && %s::uuid[] AND r.constraints ? 'max_cost_usd'
             AND r.constraints->>'max_cost_usd' IS NOT NULL AND t.topic_id = ANY(%s::uuid[])""",
        (part.tenant.id, [t["id"] for t in topics], [t["id"] for t in topics]))}
    jobs = []
    for t in topics:
        brief = DraftBrief(t["title"], t["keyphrase"], tuple(t["keywords"] or ()), part.niche.name, tuple(links))
        messages, version = build_draft_messages(brief)
        cap = caps.get(t["id"])
        jobs.append(DraftJob(t["id"], t["title"], t["keyphrase"], messages, version,
                             content_request_id=cap["id"] if cap else None, request_cap_usd=cap["cap"] if cap else None,
                             topic_cap_usd=cap["cap"] / max(1, cap["n"]) if cap else None))
    return jobs


def already_drafted(conn: psycopg.Connection, part: PartitionRef) -> int:
    return conn.execute(
        """SELECT count(*) FROM topics t JOIN articles a ON a.topic_id = t.id
           WHERE t.niche_id = %s AND t.partition_date = %s""",
        (part.niche.id, part.day),
    ).fetchone()[0]


def request_drafts(llm, part: PartitionRef, jobs: list[DraftJob], *, run_id: str | None = None,
                   concurrency: int = 8, on_results=None) -> list:
    """The LLM results for the jobs, in order (never raises for provider failures). ``on_results``:
    see LLMClient.complete_many (each (job index, result) as it arrives, in a worker thread)."""
    from allixios.ai.client import CompletionRequest

    reqs = [
        CompletionRequest(
            task="writer", messages=job.messages, tenant_id=part.tenant.id, request_id=job.request_id, run_id=run_id,
            topic_id=job.topic_id, niche_id=part.niche.id, expected_output_tokens=1500,
            content_request_id=job.content_request_id, request_cap_usd=job.request_cap_usd,
            topic_cap_usd=job.topic_cap_usd, prompt_version=job.prompt_version, content_type="article",
            validate=functools.partial(parse_draft, default_keyphrase=job.keyphrase),
        )
        for job in jobs
    ]
    return llm.complete_many_sync(reqs, concurrency=concurrency, on_results=on_results) if reqs else []


def request_and_store_drafts(llm, part: PartitionRef, jobs: list[DraftJob], connection, *,
                             run_id: str | None = None, concurrency: int = 8,
                             actor: str = "pipeline") -> DraftingResult:
    """`request_drafts` and `store_drafts` overlapped (issue 19): each answer is stored as it arrives,
    while the other calls still wait for theirs; the drafts that arrive during one write go into the
    next, one transaction each (``connection()``: a context manager giving a connection in a
    transaction, committed when the block ends). A crash part-way leaves the stored drafts stored and
    the rest on the ledger, where a re-run replays them without a new paid call. The result lists
    are in job order, as `store_drafts` gives them."""
    out = DraftingResult()
    index = {str(job.topic_id): n for n, job in enumerate(jobs)}

    def store(batch) -> None:
        with connection() as conn:
            part_out = store_drafts(conn, part, [jobs[i] for i, _ in batch], [res for _, res in batch],
                                    run_id=run_id, actor=actor)
        out.failed += part_out.failed
        out.skipped_budget += part_out.skipped_budget
        out.drafted += part_out.drafted
        out.already_drafted += part_out.already_drafted
        out.cost_usd += part_out.cost_usd

    request_drafts(llm, part, jobs, run_id=run_id, concurrency=concurrency, on_results=store)
    for rows in (out.drafted, out.failed, out.skipped_budget):
        rows.sort(key=lambda r: index[r["topic_id"]])
    out.models.update(d["model"] for d in out.drafted)
    return out


@dataclass
class StoreBatch:
    """What a batch of drafts stored in one transaction shares (issue 19: fewer round trips per
    draft): the tenant's articles-per-day limit, read once, and the niche's personas and categories
    (catalog.assign's ``candidates``). Valid for one transaction only."""

    articles_per_day: int | None
    candidates: dict = field(default_factory=dict)

    @classmethod
    def read(cls, conn: psycopg.Connection, part: PartitionRef) -> StoreBatch:
        return cls(plans.limits_of(conn, part.tenant.id).get("articles_per_day"))


_RETURNED = ("id", "tenant_id", *CONTENT_FIELDS)
_INSERT_ARTICLE = """INSERT INTO articles (tenant_id, niche_id, topic_id, title, content, slug, meta_title,
                                         meta_description, excerpt, tags, primary_keyphrase, status, ai_generated,
                                         ai_model_used, prompt_version, generation_cost, partition_date,
                                         created_by, updated_by, workflow_state, metadata, author_id, category_id,
                                         content_hash)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'draft', true, %s, %s, %s, %s, %s, %s,
                           jsonb_build_object('stage', 'drafted', 'run_id', %s::text), %s, %s, %s, %s)
                   ON CONFLICT (topic_id) WHERE topic_id IS NOT NULL DO NOTHING
                   RETURNING """ + ", ".join(_RETURNED)


@dataclass
class NewDraft:
    """One draft to store as a new article (status draft, version 1)."""

    topic_id: UUID | None
    draft: Draft
    model: str | None
    prompt_version: str | None
    cost_usd: float


def _article_params(conn, part: PartitionRef, new: NewDraft, fields: dict, slug: str, *, actor: str,
                    run_id: str | None, candidates: dict | None) -> tuple[tuple, str]:
    """The INSERT's parameters for ``new`` with ``slug``, and the content hash written with the row:
    the persona and category (allixios/catalog.py) and version 1's hash go in with the row."""
    author_id, category_id = catalog.choose(conn, part.tenant.id, part.niche.id, slug=slug, title=fields["title"],
                                            tags=fields["tags"], keyphrase=fields["primary_keyphrase"],
                                            candidates=candidates)
    digest = content_hash({**fields, "slug": slug})
    model = new.model
    return ((part.tenant.id, part.niche.id, new.topic_id, fields["title"], fields["content"], slug,
             fields["meta_title"], fields["meta_description"], fields["excerpt"], fields["tags"],
             fields["primary_keyphrase"], model, new.prompt_version, new.cost_usd, part.day, actor, actor, run_id,
             Jsonb({"stand_in": stand_in.marker(model, 1)} if stand_in.is_stand_in_model(model) else {}),
             author_id, category_id, digest), digest)


def insert_article(conn: psycopg.Connection, part: PartitionRef, topic_id: UUID | None, draft: Draft, *,
                   model: str | None, prompt_version: str | None, cost_usd: float, actor: str,
                   run_id: str | None = None, batch: StoreBatch | None = None) -> tuple[UUID, str] | None:
    """Insert a generated article (status draft) with version 1; None when the topic already has one.

    The slug gets a numeric suffix when another article of the tenant has it; a concurrent insert
    that wins the same slug makes this retry with the next suffix, never overwrite. The INSERT
    returns the stored row, from which version 1 and the persona/category are written without
    reading it again; ``batch``: shared reads of the drafts stored in the same transaction.
    """
    new = NewDraft(topic_id, draft, model, prompt_version, cost_usd)
    fields = draft.article_fields()
    candidates = batch.candidates if batch is not None else None
    for _ in range(5):
        slug = unique_slug(conn, part.tenant.id, fields["slug"])
        params, digest = _article_params(conn, part, new, fields, slug, actor=actor, run_id=run_id,
                                         candidates=candidates)
        try:
            with conn.transaction():  # savepoint: a slug race rolls back only this attempt
                row = conn.execute(_INSERT_ARTICLE, params).fetchone()
                if row is not None:  # counted with the insert, undone with it (allixios/plans.py)
                    if batch is None:
                        plans.count(conn, part.tenant.id, "articles_per_day", "articles drafted per day (UTC)")
                    else:
                        plans.count(conn, part.tenant.id, "articles_per_day", "articles drafted per day (UTC)",
                                    limit=batch.articles_per_day, limit_known=True)
        except psycopg.errors.UniqueViolation:
            continue
        if row is None:
            return None
        # version 1 from the row as stored (RETURNING); the hash written above is that row's unless
        # the database changed a value on the way in, which record_first_version then corrects
        record_first_version(conn, row[0], reason="generated", actor=actor, run_id=run_id, model=model,
                             prompt_version=prompt_version, row=dict(zip(_RETURNED, row, strict=True)),
                             stored_hash=digest)
        return row[0], slug
    raise RuntimeError(f"could not find a free slug for {fields['slug']!r} after 5 attempts")


def insert_articles(conn: psycopg.Connection, part: PartitionRef, news: list[NewDraft], *, actor: str,
                    run_id: str | None, batch: StoreBatch) -> list[tuple[UUID, str] | None] | None:
    """`insert_article` for a batch, in a handful of round trips instead of six per draft (issue 19:
    the drafting step's store was what bounded the asset): the slugs with one query, the INSERTs and
    then the versions each pipelined (``executemany``), the day's count once for the batch.

    None, with nothing written, when the batch cannot go in as a whole: a concurrent insert took one
    of its slugs, or it would pass the plan's articles per day. The caller then stores the drafts one
    at a time (`insert_article`: its slug retry, and the limit applied draft by draft)."""
    fields = [new.draft.article_fields() for new in news]
    slugs = unique_slugs(conn, part.tenant.id, [f["slug"] for f in fields])
    prepared = [_article_params(conn, part, new, f, slug, actor=actor, run_id=run_id, candidates=batch.candidates)
                for new, f, slug in zip(news, fields, slugs, strict=True)]
    try:
        with conn.transaction(), conn.cursor() as cur:  # savepoint: nothing of the batch stays if it falls back
            cur.executemany(_INSERT_ARTICLE, [params for params, _ in prepared], returning=True)
            rows = []
            while True:
                rows.append(cur.fetchone())  # None: the topic already has its article
                if not cur.nextset():
                    break
            stored = sum(row is not None for row in rows)
            if stored:
                plans.count(conn, part.tenant.id, "articles_per_day", "articles drafted per day (UTC)",
                            limit=batch.articles_per_day, limit_known=True, uses=stored)
    except (psycopg.errors.UniqueViolation, plans.PlanLimitError):
        return None
    record_first_versions(conn, [{"id": row[0], "row": dict(zip(_RETURNED, row, strict=True)), "stored_hash": digest,
                                  "model": new.model, "prompt_version": new.prompt_version}
                                 for row, new, (_, digest) in zip(rows, news, prepared, strict=True) if row is not None],
                          reason="generated", actor=actor, run_id=run_id)
    return [None if row is None else (row[0], slug) for row, slug in zip(rows, slugs, strict=True)]


def store_drafts(conn: psycopg.Connection, part: PartitionRef, jobs: list[DraftJob], results: list, *,
                 run_id: str | None = None, actor: str = "pipeline") -> DraftingResult:
    """Write articles for successful results and mark failed topics with the reason. The drafted
    topics' status and the ledger links to their articles are written with one statement each for
    the batch, after the articles (the same transaction, so nothing is visible half-done)."""
    out = DraftingResult()
    batch = StoreBatch.read(conn, part) if any(res.ok for res in results) else None
    drafted_topics: list[UUID] = []
    links: list[tuple[str, UUID]] = []  # (request id, article id)
    ok: list[tuple[DraftJob, object]] = []
    for job, res in zip(jobs, results, strict=True):
        if not res.replayed:
            out.cost_usd += float(res.total_cost_usd or 0.0)
        if res.status == "skipped_budget":
            # not the topic's fault: it stays selected and is drafted by a later run once budget is left
            reason = f"skipped_budget: {res.error_message or 'the tenant budget is spent'}"[:MAX_REASON_CHARS]
            conn.execute("UPDATE topics SET failure_reason = %s, updated_at = now() WHERE id = %s", (reason, job.topic_id))
            out.skipped_budget.append({"topic_id": str(job.topic_id), "title": job.title, "reason": reason})
            continue
        if not res.ok:
            reason = f"{res.status}: {res.error_class or 'error'}: {res.error_message or ''}".strip()[:MAX_REASON_CHARS]
            conn.execute(
                "UPDATE topics SET status = 'failed', failure_reason = %s, updated_at = now() WHERE id = %s",
                (reason, job.topic_id),
            )
            out.failed.append({"topic_id": str(job.topic_id), "title": job.title, "reason": reason})
            continue
        ok.append((job, res))
    news = [NewDraft(job.topic_id, res.parsed, res.model, job.prompt_version, float(res.cost_usd)) for job, res in ok]
    created_all = insert_articles(conn, part, news, actor=actor, run_id=run_id, batch=batch) if news else []
    for n, (job, res) in enumerate(ok):
        if created_all is not None:
            created = created_all[n]
        else:  # the batch could not go in whole (insert_articles): one at a time
            try:
                created = insert_article(conn, part, job.topic_id, res.parsed, model=res.model,
                                         prompt_version=job.prompt_version, cost_usd=float(res.cost_usd), actor=actor,
                                         run_id=run_id, batch=batch)
            except plans.PlanLimitError as exc:  # another partition took the last of today's articles first
                reason = f"plan_limit: {exc.one_line()}"[:MAX_REASON_CHARS]
                conn.execute("UPDATE topics SET failure_reason = %s, updated_at = now() WHERE id = %s",
                             (reason, job.topic_id))
                out.skipped_budget.append({"topic_id": str(job.topic_id), "title": job.title, "reason": reason})
                continue
        drafted_topics.append(job.topic_id)
        if created is None:
            out.already_drafted += 1
            continue
        article_id, slug = created
        links.append((job.request_id, article_id))
        out.drafted.append({"article_id": str(article_id), "topic_id": str(job.topic_id), "slug": slug,
                            "title": res.parsed.title, "model": res.model, "cost_usd": float(res.cost_usd)})
        out.models[res.model] += 1
    if drafted_topics:
        conn.execute("UPDATE topics SET status = 'drafted', failure_reason = NULL, updated_at = now() WHERE id = ANY(%s)",
                     (drafted_topics,))
    if links:
        # link the ledger rows of each request to the article they produced (cost per article)
        conn.execute("""UPDATE ai_usage u SET article_id = l.article_id
                        FROM unnest(%s::text[], %s::uuid[]) AS l(request_id, article_id)
                        WHERE u.request_id = l.request_id AND u.article_id IS NULL""",
                     ([r for r, _ in links], [a for _, a in links]))
    return out


def draft_articles(conn: psycopg.Connection, part: PartitionRef, llm, *, run_id: str | None = None,
                   concurrency: int = 8, actor: str = "pipeline") -> DraftingResult:
    """All three phases on one connection (for scripts and tests; the asset keeps them apart)."""
    jobs = pending_drafts(conn, part)
    existing = already_drafted(conn, part)
    conn.commit()
    results = request_drafts(llm, part, jobs, run_id=run_id, concurrency=concurrency)
    out = store_drafts(conn, part, jobs, results, run_id=run_id, actor=actor)
    out.already_drafted += existing
    return out
