"""How articles become vectors: which texts are embedded, under which chunk index, and the
per-model HNSW index. Shared by the embeddings step, topic de-duplication and SEO reports.

Chunk 0 is the whole document (title, excerpt, body): semantic search and near-duplicates.
Chunk 1 is the headline (title + primary keyphrase): what the article targets, compared with new
topic candidates and with other articles for keyword cannibalization.
"""

from __future__ import annotations

import hashlib
import re

import psycopg
from psycopg import sql

from allixios.ai.offline_embedder import OFFLINE_EMBEDDING_DIMENSION, OFFLINE_EMBEDDING_MODEL
from allixios.content.markdown_text import parse_markdown

DOCUMENT_CHUNK = 0
HEADLINE_CHUNK = 1


def headline_text(title: str, keyphrase: str | None) -> str:
    return f"{title or ''}. {keyphrase or ''}".strip()


def document_text(title: str, excerpt: str | None, body: str | None) -> str:
    plain = "\n".join(b.text for b in parse_markdown(body or "").blocks)
    return f"{title or ''}\n{excerpt or ''}\n{plain}".strip()


def vector_literal(vector: list[float]) -> str:
    """pgvector's text form; sent as a parameter and cast in SQL."""
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


def index_name(model: str, dimension: int) -> str:
    return "embeddings_hnsw_" + re.sub(r"[^a-z0-9]+", "_", model.lower()).strip("_")[:40] + f"_{dimension}"


def ensure_vector_index(conn: psycopg.Connection, model: str, dimension: int) -> str:
    """The partial HNSW cosine index for one model (created on first use; the offline one ships in the schema)."""
    if model == OFFLINE_EMBEDDING_MODEL and dimension == OFFLINE_EMBEDDING_DIMENSION:
        return "embeddings_hnsw_offline_hashing_384"
    name = index_name(model, dimension)
    # a stable per-name lock so two runs do not race on CREATE INDEX
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (int(hashlib.sha256(name.encode()).hexdigest()[:15], 16),))
    conn.execute(
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS {} ON embeddings USING hnsw ((embedding::vector({})) vector_cosine_ops) "
            "WITH (m = 16, ef_construction = 200) WHERE model = {}"
        ).format(sql.Identifier(name), sql.Literal(int(dimension)), sql.Literal(model))
    )
    return name
