"""The `article_embeddings` step: document and headline vectors for the partition's articles.

Only articles whose stored vectors are missing or older than their content (content hash) are
embedded, so a re-run embeds nothing and a new embedding model is a re-embed (rows are keyed by
model), not a migration.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import psycopg

from allixios.content.embedding_store import (
    DOCUMENT_CHUNK,
    HEADLINE_CHUNK,
    document_text,
    ensure_vector_index,
    headline_text,
    vector_literal,
)
from allixios.content.partition import PartitionRef
from allixios.db.engine import fetch_dicts


@dataclass
class EmbeddingResult:
    model: str
    dimension: int
    embedded_articles: int
    vectors_written: int
    up_to_date: int
    index: str
    cost_usd: float


_SELECT = """SELECT a.id, a.tenant_id, a.niche_id, a.title, a.excerpt, a.content, a.primary_keyphrase, a.content_hash,
                  EXISTS (SELECT 1 FROM embeddings e
                          WHERE e.article_id = a.id AND e.model = %(model)s AND e.chunk_index = %(chunk)s
                            AND e.content_hash = a.content_hash) AS current
           FROM articles a
           WHERE a.deleted_at IS NULL AND {where}
           ORDER BY a.id"""


def embed_partition(conn: psycopg.Connection, part: PartitionRef, embedder, *, run_id: str | None = None) -> EmbeddingResult:
    """Vectors for the partition's articles whose content changed since they were embedded."""
    rows = fetch_dicts(
        conn,
        _SELECT.format(where="a.niche_id = %(niche)s AND a.partition_date = %(day)s"),
        {"model": embedder.model, "chunk": DOCUMENT_CHUNK, "niche": part.niche.id, "day": part.day},
    )
    return _embed(conn, rows, embedder, run_id, scope=f"{part.niche.id}:{part.day}")


def embed_articles(conn: psycopg.Connection, article_ids: list, embedder, *, run_id: str | None = None) -> EmbeddingResult:
    """Vectors for the given articles (e.g. after a refresh) whose content changed since they were embedded."""
    rows = fetch_dicts(
        conn,
        _SELECT.format(where="a.id = ANY(%(ids)s::uuid[])"),
        {"model": embedder.model, "chunk": DOCUMENT_CHUNK, "ids": [str(i) for i in article_ids]},
    )
    return _embed(conn, rows, embedder, run_id, scope="articles")


def _embed(conn: psycopg.Connection, rows: list[dict], embedder, run_id: str | None, scope: str) -> EmbeddingResult:
    stale = [r for r in rows if not r["current"]]
    index = ensure_vector_index(conn, embedder.model, embedder.dimension)
    cost_before = embedder.cost_usd
    if stale:
        texts = []
        for r in stale:
            texts.append(document_text(r["title"], r["excerpt"], r["content"]))
            texts.append(headline_text(r["title"], r["primary_keyphrase"]))
        digest = hashlib.sha256("|".join(f"{r['id']}:{r['content_hash']}" for r in stale).encode()).hexdigest()[:16]
        vectors = embedder.embed(texts, tenant_id=stale[0]["tenant_id"], run_id=run_id,
                                 request_id=f"embed:{scope}:{embedder.model}:{digest}")
        params = []
        for i, r in enumerate(stale):
            for chunk, vec in ((DOCUMENT_CHUNK, vectors[2 * i]), (HEADLINE_CHUNK, vectors[2 * i + 1])):
                params.append((r["id"], r["tenant_id"], r["niche_id"], embedder.model, embedder.dimension, chunk,
                               r["content_hash"] or "", vector_literal(vec)))
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO embeddings (article_id, tenant_id, niche_id, model, dimension, chunk_index, content_hash, embedding)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s::vector)
                   ON CONFLICT (article_id, model, chunk_index) DO UPDATE
                      SET embedding = EXCLUDED.embedding, dimension = EXCLUDED.dimension,
                          content_hash = EXCLUDED.content_hash, niche_id = EXCLUDED.niche_id, created_at = now()""",
                params,
            )
    return EmbeddingResult(embedder.model, embedder.dimension, len(stale), 2 * len(stale), len(rows) - len(stale), index,
                           round(embedder.cost_usd - cost_before, 8))
