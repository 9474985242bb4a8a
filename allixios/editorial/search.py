"""Hybrid article search: PostgreSQL full-text and pgvector similarity fused by reciprocal rank fusion.

One SQL statement per search. Each leg is bounded before fusion so the cost does not grow with the
corpus beyond what the indexes return:
- text leg: `websearch_to_tsquery('english', q)` against the GIN-indexed `search_vector`, ranked by
  `ts_rank_cd`, top LEG_LIMIT;
- semantic leg: cosine distance on `embedding::vector(dim)` with `model = ...`, the exact expression and
  predicate of the model's partial HNSW index, top LEG_LIMIT chunks (iterative index scan so tenant
  and status filters do not starve the result);
- fusion: score = sum over legs of 1 / (RRF_K + rank), in SQL; ts_headline and matched terms are
  computed only for the final page of results.
Deleted articles never appear; everything is scoped to one tenant.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal
from uuid import UUID

import psycopg
from psycopg import sql

from allixios.db.engine import fetch_dicts
from allixios.editorial.articles import ARTICLE_STATUSES, _niche_id
from allixios.errors import ValidationError
from allixios.tenants import Tenant

SearchMode = Literal["text", "semantic", "hybrid"]
SEARCH_MODES: tuple[str, ...] = ("text", "semantic", "hybrid")
RRF_K = 60
LEG_LIMIT = 100
MAX_QUERY_CHARS = 500
MAX_RESULTS = 100
# Semantic hits below the query model's calibrated ``similarity.search_min`` (config/models.yaml; MiniLM
# 0.2: its unrelated texts still score 0.0-0.2) are noise. This legacy value applies to a query vector
# handed in without its model's minimum (unrelated texts score ~0 for the hashing stand-in).
DEFAULT_MIN_SIMILARITY = 0.05


@dataclass(frozen=True)
class QueryEmbedding:
    model: str
    dimension: int
    vector: list[float]
    min_similarity: float | None = None  # the model's calibrated search minimum (catalogue), if known


@dataclass(frozen=True)
class SearchHit:
    article_id: UUID
    slug: str
    title: str
    niche: str | None
    status: str
    score: float  # reciprocal-rank-fusion score
    text_rank: int | None
    text_score: float | None  # ts_rank_cd
    semantic_rank: int | None
    similarity: float | None  # 1 - cosine distance
    matched_terms: list[str]
    headline: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def embed_query(text: str, tenant_id: UUID | None = None) -> QueryEmbedding:
    """The query vector from the configured embedder (local MiniLM unless a provider model has its key).

    Recorded in ai_usage like every embedding call (request id ``search-query:<uuid>``, the tenant's).
    """
    import uuid

    from allixios.ai.embeddings import get_embedder

    embedder = get_embedder()
    vector = embedder.embed([text], tenant_id=tenant_id, request_id=f"search-query:{uuid.uuid4()}")[0]
    return QueryEmbedding(embedder.model, embedder.dimension, vector, embedder.deployment.similarity.search_min)


def embedder_label() -> str:
    """How the semantic leg embeds queries, for CLI output (names the offline stand-in as such)."""
    from allixios.ai.embeddings import get_embedder

    embedder = get_embedder()
    if embedder.is_offline_stand_in:
        return f"{embedder.model}, the OFFLINE EMBEDDER stand-in (lexical overlap, not meaning)"
    if embedder.model.startswith("offline/"):
        return f"{embedder.model}, a local model ({embedder.dimension} dimensions)"
    return f"{embedder.model} ({embedder.dimension} dimensions)"


def semantic_text(query: str) -> str:
    """The words to embed: web-search syntax stripped (quotes, OR, and -excluded words, which an
    embedding cannot negate; the text leg still applies them)."""
    words = [w.strip('"') for w in query.split() if not w.startswith("-") and w.upper() != "OR"]
    return " ".join(w for w in words if w)


def _check_query(query: str) -> str:
    query = " ".join((query or "").split())
    if not query:
        raise ValidationError(
            "the search query is empty", fix='pass some words, e.g. allixios articles search "emergency fund"'
        )
    if len(query) > MAX_QUERY_CHARS:
        raise ValidationError(
            f"the search query is {len(query)} characters long",
            fix=f"use at most {MAX_QUERY_CHARS} characters",
        )
    if any(ord(c) < 32 for c in query):
        raise ValidationError("the search query contains control characters", fix="search for plain words")
    return query


# The semantic leg. The distance expression must stay identical to the HNSW index expression
# (`embedding::vector(<dim>)`, see allixios/db/sql/002_content.sql) or PostgreSQL cannot use the index.
_SEMANTIC_LEG = """
sem_chunks AS MATERIALIZED (
    SELECT e.article_id, e.embedding::vector({dim}) <=> %(qvec)s::vector({dim}) AS distance
    FROM embeddings e JOIN articles a ON a.id = e.article_id
    WHERE e.model = %(model)s AND e.tenant_id = %(tenant)s AND a.deleted_at IS NULL
      AND (%(niche)s::uuid IS NULL OR a.niche_id = %(niche)s)
      AND (%(status)s::content_status IS NULL OR a.status = %(status)s)
    ORDER BY e.embedding::vector({dim}) <=> %(qvec)s::vector({dim})
    LIMIT %(leg_limit)s
),
sem_ranked AS (
    SELECT article_id AS id, min(distance) AS distance,
           row_number() OVER (ORDER BY min(distance), article_id) AS sem_rank
    FROM sem_chunks WHERE distance <= 1 - %(min_similarity)s GROUP BY article_id
)"""
_NO_SEMANTIC_LEG = (
    "sem_ranked AS (SELECT NULL::uuid AS id, NULL::float8 AS distance, NULL::bigint AS sem_rank WHERE false)"
)

_TEXT_LEG = """
text_hits AS MATERIALIZED (
    SELECT a.id, ts_rank_cd(a.search_vector, websearch_to_tsquery('english', %(q)s)) AS text_score
    FROM articles a
    WHERE a.search_vector @@ websearch_to_tsquery('english', %(q)s) AND a.tenant_id = %(tenant)s AND a.deleted_at IS NULL
      AND (%(niche)s::uuid IS NULL OR a.niche_id = %(niche)s)
      AND (%(status)s::content_status IS NULL OR a.status = %(status)s)
    ORDER BY text_score DESC, a.id
    LIMIT %(leg_limit)s
),
text_ranked AS (
    SELECT id, text_score, row_number() OVER (ORDER BY text_score DESC, id) AS text_rank FROM text_hits
)"""
_NO_TEXT_LEG = "text_ranked AS (SELECT NULL::uuid AS id, NULL::float4 AS text_score, NULL::bigint AS text_rank WHERE false)"

_FUSE_AND_DECORATE = """
fused AS (
    SELECT coalesce(t.id, s.id) AS id, t.text_rank, t.text_score, s.sem_rank, s.distance,
           coalesce(1.0 / (%(k)s + t.text_rank), 0) + coalesce(1.0 / (%(k)s + s.sem_rank), 0) AS rrf_score
    FROM text_ranked t FULL JOIN sem_ranked s ON s.id = t.id
),
top AS (
    SELECT * FROM fused
    ORDER BY rrf_score DESC, coalesce(text_rank, 2147483647), coalesce(sem_rank, 2147483647), id
    LIMIT %(limit)s
)
SELECT a.id AS article_id, a.slug, a.title, n.slug AS niche, a.status::text AS status,
       top.rrf_score::float8 AS score, top.text_rank::int AS text_rank, top.text_score::float8 AS text_score,
       top.sem_rank::int AS semantic_rank, (1 - top.distance)::float8 AS similarity,
       CASE WHEN top.text_rank IS NULL THEN '{}'::text[] ELSE ARRAY(
           SELECT m.term FROM (
               SELECT unnest(tsvector_to_array(to_tsvector('english', %(q)s)))
               INTERSECT SELECT unnest(tsvector_to_array(a.search_vector))
           ) AS m(term) ORDER BY m.term) END AS matched_terms,
       CASE WHEN top.text_rank IS NULL THEN coalesce(nullif(a.excerpt, ''), left(coalesce(a.content, ''), 160))
            ELSE ts_headline('english', coalesce(a.title, '') || '. ' || coalesce(a.content, ''),
                             websearch_to_tsquery('english', %(q)s),
                             'MaxFragments=2, MaxWords=18, MinWords=6, StartSel=<<, StopSel=>>, FragmentDelimiter=" ... "')
       END AS headline
FROM top JOIN articles a ON a.id = top.id LEFT JOIN niches n ON n.id = a.niche_id
ORDER BY top.rrf_score DESC, coalesce(top.text_rank, 2147483647), coalesce(top.sem_rank, 2147483647), top.id"""


def search_articles(
    conn: psycopg.Connection,
    tenant: Tenant,
    query: str,
    *,
    mode: SearchMode = "hybrid",
    niche: str | None = None,
    status: str | None = None,
    limit: int = 10,
    min_similarity: float | None = None,
    query_embedding: QueryEmbedding | None = None,
) -> list[SearchHit]:
    """Search a tenant's live articles. `mode` picks the legs: text, semantic or both (hybrid).

    ``min_similarity`` None = the query model's calibrated ``search_min`` from the catalogue."""
    statement, params = _prepare(
        conn, tenant, query, mode, niche, status, limit, min_similarity, query_embedding
    )
    rows = fetch_dicts(conn, statement, params)
    for row in rows:
        row["headline"] = " ".join((row["headline"] or "").split())  # one line per hit in a terminal
    return [SearchHit(**row, reason=_reason(row)) for row in rows]


def explain_search(
    conn: psycopg.Connection, tenant: Tenant, query: str, *, mode: SearchMode = "hybrid", **options: Any
) -> str:
    """EXPLAIN of the search statement, to check (tests, benchmarks) that each leg uses its index."""
    statement, params = _prepare(
        conn,
        tenant,
        query,
        mode,
        options.get("niche"),
        options.get("status"),
        options.get("limit", 10),
        options.get("min_similarity"),
        options.get("query_embedding"),
    )
    rows = conn.execute(sql.SQL("EXPLAIN ") + statement, params).fetchall()
    return "\n".join(r[0] for r in rows)


def _prepare(
    conn: psycopg.Connection,
    tenant: Tenant,
    query: str,
    mode: str,
    niche: str | None,
    status: str | None,
    limit: int,
    min_similarity: float | None,
    query_embedding: QueryEmbedding | None,
) -> tuple[sql.Composed, dict[str, Any]]:
    if mode not in SEARCH_MODES:
        raise ValidationError(f"unknown search mode {mode!r}", fix="use --mode text, semantic or hybrid")
    if status is not None and status not in ARTICLE_STATUSES:
        raise ValidationError(f"unknown status {status!r}", fix=f"use one of {', '.join(ARTICLE_STATUSES)}")
    if not 1 <= limit <= MAX_RESULTS:
        raise ValidationError(f"limit {limit} is out of range", fix=f"use a limit from 1 to {MAX_RESULTS}")
    if min_similarity is not None and not -1.0 <= min_similarity <= 1.0:
        raise ValidationError(
            f"minimum similarity {min_similarity} is out of range", fix="use a cosine similarity from -1 to 1"
        )
    query = _check_query(query)
    searchable = conn.execute("SELECT numnode(websearch_to_tsquery('english', %s)) > 0", (query,)).fetchone()[
        0
    ]
    if not searchable:
        raise ValidationError(
            f"the search query {query!r} has no searchable words (only stop words or punctuation)",
            fix="search for content words, e.g. topic names or keyphrases",
        )
    niche_id = _niche_id(conn, tenant, niche) if niche else None
    params: dict[str, Any] = {
        "q": query,
        "tenant": tenant.id,
        "niche": niche_id,
        "status": status,
        "leg_limit": LEG_LIMIT,
        "limit": limit,
        "k": RRF_K,
        "min_similarity": DEFAULT_MIN_SIMILARITY if min_similarity is None else min_similarity,
    }
    # the tsquery is written inline (not in a CTE) so the planner sees a constant it can match to the GIN index
    legs = [sql.SQL(_TEXT_LEG if mode in ("text", "hybrid") else _NO_TEXT_LEG)]
    if mode in ("semantic", "hybrid"):
        emb = query_embedding or embed_query(semantic_text(query) or query, tenant.id)
        if emb.dimension <= 0 or int(emb.dimension) != len(emb.vector):
            raise ValidationError(
                f"query embedding has {len(emb.vector)} values but model {emb.model} says {emb.dimension}",
                fix="check the embedding model configuration",
            )
        if min_similarity is None:  # the minimum belongs to the model that made the query vector
            min_similarity = DEFAULT_MIN_SIMILARITY if emb.min_similarity is None else emb.min_similarity
        params.update(model=emb.model, qvec=_vector_literal(emb.vector), min_similarity=min_similarity)
        legs.append(sql.SQL(_SEMANTIC_LEG).format(dim=sql.Literal(int(emb.dimension))))
        # Bounded, filter-aware HNSW search (pgvector >= 0.8): keep walking the graph until enough rows
        # pass the tenant/status filters; the leg is MATERIALIZED and re-ranked exactly afterwards.
        conn.execute(
            "SELECT set_config('hnsw.ef_search', %s, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)",
            (str(LEG_LIMIT),),
        )
    else:
        legs.append(sql.SQL(_NO_SEMANTIC_LEG))
    statement = sql.SQL("WITH ") + sql.SQL(",\n").join(legs) + sql.SQL(",") + sql.SQL(_FUSE_AND_DECORATE)
    return statement, params


def _vector_literal(vector: list[float]) -> str:
    return "[" + ",".join(repr(float(v)) for v in vector) + "]"


def _reason(row: dict[str, Any]) -> str:
    parts = []
    if row["text_rank"] is not None:
        terms = ", ".join(row["matched_terms"]) or "-"
        parts.append(f"text #{row['text_rank']} (ts_rank_cd {row['text_score']:.3f}; terms: {terms})")
    if row["semantic_rank"] is not None:
        parts.append(f"semantic #{row['semantic_rank']} (cosine {row['similarity']:.3f})")
    return " + ".join(parts)
