"""The `topics` step: pick the day's topics for a niche from its backlog (plus optional LLM research).

Backlog order is priority, then age. The niche's daily quota caps how many are selected per day
(topics already selected for the day count, so a re-run selects nothing new). A candidate is
rejected, with the reason kept on its row, when it collides with an existing article (same slug or
keyphrase), with a topic already in flight elsewhere in the tenant (same keyphrase), or when its
headline vector is at least the duplicate threshold close to an existing article's headline or to
another topic selected for the day. The threshold is the embedding model's calibrated
``similarity.topic_duplicate`` from its catalogue entry (cosines of two models are not on one
scale), unless the tenant sets ``duplicate_similarity`` explicitly. Rejected topics are never deleted.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import psycopg

from allixios.ai.catalogue import Similarity
from allixios.content import readability as rd
from allixios.content.drafting import build_research_messages, parse_research
from allixios.content.embedding_store import HEADLINE_CHUNK, headline_text, vector_literal
from allixios.content.partition import PartitionRef
from allixios.content.slugs import slugify
from allixios.content.topics import TopicInput, add_topics, validate_topic
from allixios.db.engine import fetch_dicts
from allixios.errors import ValidationError

RESEARCH_MODES = ("auto", "always", "never")


@dataclass
class TopicDecision:
    topic_id: str
    title: str
    keyphrase: str
    priority: int
    status: str  # selected | rejected
    reason: str | None = None
    similar_article_id: str | None = None
    similarity: float | None = None


@dataclass
class TopicSelection:
    selected: list[TopicDecision] = field(default_factory=list)  # newly selected in this call
    rejected: list[TopicDecision] = field(default_factory=list)  # newly rejected in this call
    already_selected: int = 0  # selected for this day by an earlier run
    researched: int = 0  # topics added to the backlog by LLM research
    research_status: str = "not needed"
    research_rejected: list[dict] = field(default_factory=list)  # invalid research ideas with reasons
    research_cost_usd: float = 0.0


def duplicate_threshold(tenant, embedder) -> float:
    """The tenant's explicit ``duplicate_similarity``, else the embedding model's catalogue value."""
    explicit = tenant.setting("duplicate_similarity")
    if explicit is not None:
        return float(explicit)
    deployment = getattr(embedder, "deployment", None)
    return float(deployment.similarity.topic_duplicate if deployment is not None else Similarity().topic_duplicate)


def derive_keyphrase(title: str, limit: int = 4) -> str:
    """A keyphrase for a topic that has none: the title's first content words."""
    ws = [w.lower() for w in rd.words(title)]
    kept = [w for w in ws if w not in rd.FUNCTION_WORDS] or ws
    return " ".join(kept[:limit])


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def _research(conn, part: PartitionRef, llm, run_id: str | None, count: int, result: TopicSelection) -> None:
    from allixios.ai.client import CompletionRequest

    niche = part.niche
    if not niche.seed_keywords:
        result.research_status = "skipped: the niche has no seed keywords"
        return
    titles = [r[0] for r in conn.execute("SELECT title FROM topics WHERE niche_id = %s ORDER BY title", (niche.id,)).fetchall()]
    messages, _ = build_research_messages(niche.name, niche.seed_keywords, count, titles, part.day.isoformat())
    res = llm.complete_sync(CompletionRequest(
        task="researcher", messages=messages, tenant_id=part.tenant.id,
        request_id=f"research:{niche.id}:{part.day.isoformat()}", run_id=run_id, niche_id=niche.id,
        expected_output_tokens=400, validate=parse_research,
    ))
    result.research_cost_usd = 0.0 if res.replayed else float(res.total_cost_usd or res.cost_usd)
    if not res.ok:
        result.research_status = f"failed: {res.error_class}: {res.error_message}"
        return
    valid: list[TopicInput] = []
    for idea in res.parsed:
        try:
            valid.append(validate_topic(TopicInput(idea.title, idea.keywords, idea.keyphrase or None, 40)))
        except ValidationError as exc:
            result.research_rejected.append({"title": idea.title[:80], "reason": exc.one_line()})
    added = add_topics(conn, niche, valid, source="research", source_ref=f"research:{part.day.isoformat()}")
    result.researched = len(added)
    result.research_status = f"{len(added)} topic(s) added by {res.model}" + (" (replayed)" if res.replayed else "")


def _exact_collisions(conn, part: PartitionRef, candidates: list[dict]) -> dict[str, tuple[str, str | None]]:
    """topic id -> (reason, similar article id) for slug/keyphrase collisions, in one query."""
    rows = fetch_dicts(
        conn,
        """WITH c AS (SELECT * FROM unnest(%s::uuid[], %s::text[], %s::text[]) AS c(topic_id, slug, keyphrase))
           SELECT c.topic_id::text AS topic_id,
                  (SELECT a.id::text || '|' || a.slug FROM articles a
                    WHERE a.tenant_id = %s AND a.deleted_at IS NULL AND a.slug = c.slug LIMIT 1) AS same_slug,
                  (SELECT a.id::text || '|' || a.slug FROM articles a
                    WHERE a.tenant_id = %s AND a.deleted_at IS NULL AND lower(a.primary_keyphrase) = c.keyphrase
                    LIMIT 1) AS same_keyphrase,
                  (SELECT t.title FROM topics t
                    WHERE t.tenant_id = %s AND t.id <> c.topic_id AND t.status IN ('selected', 'drafted')
                      AND lower(t.target_keyphrase) = c.keyphrase
                    LIMIT 1) AS same_topic
           FROM c""",
        ([c["id"] for c in candidates], [c["slug"] for c in candidates], [c["keyphrase"] for c in candidates],
         part.tenant.id, part.tenant.id, part.tenant.id),
    )
    out: dict[str, tuple[str, str | None]] = {}
    for r in rows:
        if r["same_slug"]:
            aid, slug = r["same_slug"].split("|", 1)
            out[r["topic_id"]] = (f"duplicate: an article with the slug '{slug}' exists", aid)
        elif r["same_keyphrase"]:
            aid, slug = r["same_keyphrase"].split("|", 1)
            out[r["topic_id"]] = (f"duplicate: article '{slug}' already targets the same keyphrase", aid)
        elif r["same_topic"]:
            out[r["topic_id"]] = (f"duplicate: topic '{r['same_topic'][:80]}' already targets the same keyphrase", None)
    return out


def _nearest_articles(conn, part: PartitionRef, model: str, dimension: int, vectors: list[list[float]]) -> list[dict]:
    """For each vector, the tenant's live article with the closest headline (HNSW, one query)."""
    dim = int(dimension)
    return fetch_dicts(
        conn,
        f"""SELECT c.idx, n.article_id::text AS article_id, n.slug, n.similarity
            FROM unnest(%s::int[], %s::text[]) AS c(idx, vec)
            CROSS JOIN LATERAL (
                SELECT e.article_id, a.slug,
                       1 - (e.embedding::vector({dim}) <=> c.vec::vector({dim})) AS similarity
                FROM embeddings e JOIN articles a ON a.id = e.article_id
                WHERE e.tenant_id = %s AND e.model = %s AND e.chunk_index = %s AND a.deleted_at IS NULL
                ORDER BY e.embedding::vector({dim}) <=> c.vec::vector({dim})
                LIMIT 1) n""",
        (list(range(len(vectors))), [vector_literal(v) for v in vectors], part.tenant.id, model, HEADLINE_CHUNK),
    )


def select_topics(
    conn: psycopg.Connection,
    part: PartitionRef,
    embedder,
    *,
    llm=None,
    research: str = "auto",
    run_id: str | None = None,
) -> TopicSelection:
    """Select (and reject) the partition's topics; safe to re-run."""
    if research not in RESEARCH_MODES:
        raise ValidationError(f"unknown research mode {research!r}", fix=f"use one of {', '.join(RESEARCH_MODES)}")
    niche, day = part.niche, part.day
    result = TopicSelection()
    # one selection at a time per niche and day, so concurrent runs cannot both fill the quota
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"topics:{niche.id}:{day.isoformat()}",))
    today = fetch_dicts(
        conn,
        """SELECT id::text AS id, title, coalesce(target_keyphrase, '') AS keyphrase FROM topics
           WHERE niche_id = %s AND partition_date = %s AND status IN ('selected', 'drafted', 'failed')""",
        (niche.id, day),
    )
    result.already_selected = len(today)
    remaining = niche.daily_quota - len(today)
    if remaining <= 0:
        result.research_status = "not needed: the day's quota is filled"
        return result

    pending = conn.execute("SELECT count(*) FROM topics WHERE niche_id = %s AND status = 'pending'", (niche.id,)).fetchone()[0]
    if llm is not None and (research == "always" or (research == "auto" and pending < remaining)):
        _research(conn, part, llm, run_id, max(3, remaining - pending + 2), result)
    elif research != "never" and llm is None:
        result.research_status = "skipped: no LLM resource"

    threshold = duplicate_threshold(part.tenant, embedder)
    kept_vectors: list[tuple[str, list[float]]] = []
    kept_keyphrases = {t["keyphrase"].lower(): t["title"] for t in today if t["keyphrase"]}

    def embed(texts: list[str]) -> list[list[float]]:
        # the request id follows the texts, so a re-run of the same work is not charged twice
        digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
        return embedder.embed(texts, tenant_id=part.tenant.id, request_id=f"topic-embed:{niche.id}:{day}:{digest}",
                              run_id=run_id)

    if today:
        vecs = embed([headline_text(t["title"], t["keyphrase"]) for t in today])
        kept_vectors = [(t["title"], v) for t, v in zip(today, vecs, strict=True)]
    while remaining > 0:
        batch = fetch_dicts(
            conn,
            """SELECT id::text AS id, title, target_keyphrase, priority FROM topics
               WHERE niche_id = %s AND status = 'pending'
               ORDER BY priority DESC, requested_at, lower(btrim(title)), id LIMIT %s""",
            (niche.id, remaining * 3 + 5),
        )
        if not batch:
            break
        for c in batch:
            c["keyphrase"] = (c["target_keyphrase"] or derive_keyphrase(c["title"])).lower()
            c["slug"] = slugify(c["title"])
        collisions = _exact_collisions(conn, part, batch)
        vectors = embed([headline_text(c["title"], c["keyphrase"]) for c in batch])
        nearest = {r["idx"]: r for r in _nearest_articles(conn, part, embedder.model, embedder.dimension, vectors)}
        decisions: list[TopicDecision] = []
        for i, (c, vec) in enumerate(zip(batch, vectors, strict=True)):
            d = TopicDecision(c["id"], c["title"], c["keyphrase"], c["priority"], "rejected")
            near = nearest.get(i)
            twin = max(((t, _cosine(vec, v)) for t, v in kept_vectors), key=lambda x: x[1], default=None)
            if c["id"] in collisions:
                d.reason, d.similar_article_id = collisions[c["id"]]
                d.similarity = 1.0 if d.similar_article_id else None
            elif c["keyphrase"] in kept_keyphrases:
                d.reason = f"duplicate: topic '{kept_keyphrases[c['keyphrase']][:80]}' already targets the same keyphrase"
            elif near and near["similarity"] >= threshold:
                d.reason = f"too similar ({near['similarity']:.2f} >= {threshold}) to article '{near['slug']}'"
                d.similar_article_id, d.similarity = near["article_id"], float(near["similarity"])
            elif twin and twin[1] >= threshold:
                d.reason = f"too similar ({twin[1]:.2f} >= {threshold}) to topic '{twin[0][:80]}' selected for {day}"
                d.similarity = float(twin[1])
            elif remaining > 0:
                d.status, remaining = "selected", remaining - 1
                kept_vectors.append((c["title"], vec))
                kept_keyphrases[c["keyphrase"]] = c["title"]
            else:
                continue  # stays pending for another day
            decisions.append(d)
        _write(conn, day, decisions)
        result.selected += [d for d in decisions if d.status == "selected"]
        result.rejected += [d for d in decisions if d.status == "rejected"]
        if not decisions:
            break
    return result


def _write(conn, day, decisions: list[TopicDecision]) -> None:
    if not decisions:
        return
    conn.execute(
        """UPDATE topics t SET status = d.status, partition_date = %s, target_keyphrase = d.keyphrase,
                  rejection_reason = d.reason, similar_article_id = d.article_id, similarity = d.similarity,
                  updated_at = now()
           FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::uuid[], %s::real[])
                AS d(id, status, keyphrase, reason, article_id, similarity)
           WHERE t.id = d.id AND t.status = 'pending'""",
        (day, [d.topic_id for d in decisions], [d.status for d in decisions], [d.keyphrase for d in decisions],
         [d.reason for d in decisions], [d.similar_article_id for d in decisions], [d.similarity for d in decisions]),
    )
