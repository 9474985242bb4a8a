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


def embed_partition(conn: psycopg.Connection, part: PartitionRef, embedder, *, run_id: str | None = None) -> EmbeddingResult:
    rows = fetch_dicts(
        conn,
        """SELECT a.id, a.title, a.excerpt, a.content, a.primary_keyphrase, a.content_hash,
                  EXISTS (SELECT 1 FROM embeddings e
                          WHERE e.article_id = a.id AND e.model = %s AND e.chunk_index = %s
                            AND e.content_hash = a.content_hash) AS current
           FROM articles a
           WHERE a.niche_id = %s AND a.partition_date = %s AND a.deleted_at IS NULL
           ORDER BY a.id""",
        (embedder.model, DOCUMENT_CHUNK, part.niche.id, part.day),
    )
    stale = [r for r in rows if not r["current"]]
    index = ensure_vector_index(conn, embedder.model, embedder.dimension)
    cost_before = embedder.cost_usd
    if stale:
        texts = []
        for r in stale:
            texts.append(document_text(r["title"], r["excerpt"], r["content"]))
            texts.append(headline_text(r["title"], r["primary_keyphrase"]))
        digest = hashlib.sha256("|".join(f"{r['id']}:{r['content_hash']}" for r in stale).encode()).hexdigest()[:16]
        vectors = embedder.embed(texts, tenant_id=part.tenant.id, run_id=run_id,
                                 request_id=f"embed:{part.niche.id}:{part.day}:{embedder.model}:{digest}")
        params = []
        for i, r in enumerate(stale):
            for chunk, vec in ((DOCUMENT_CHUNK, vectors[2 * i]), (HEADLINE_CHUNK, vectors[2 * i + 1])):
                params.append((r["id"], part.tenant.id, part.niche.id, embedder.model, embedder.dimension, chunk,
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
