"""Synthetic corpora for the benchmarks, generated set-based inside PostgreSQL (generate_series).

The corpus: T tenants x N niches, and articles with topic structure so that filters, text search and
vector search all have something realistic to find:
- topics (`bench_topics`): K1 = articles / 1000 random unit centroids; each topic has a "home" niche and
  eight keywords from a pseudo-word vocabulary;
- subtopics (`bench_subtopics`): K2 = articles / 50, centroid + Gaussian offset (norm ~0.6);
- article i belongs to one subtopic; 80 % of a topic's articles sit in its home niche, 20 % in random
  niches (so a niche filter removes part of every query's true neighbours);
- article vector = l2_normalize(subtopic + noise (norm ~0.4) in the topic's own 16-dimensional subspace):
  cosine ~0.89 within a subtopic, ~0.66 within a topic, ~0 across topics. Local intrinsic dimension 16,
  in the range published for sentence-embedding models; isotropic 384-dim noise (a worst case for
  any ANN index) is the `isotropic` variant. A Gaussian mixture, not a real embedding model: see BENCHMARKS.md.

Everything is deterministic for a seed (hash functions of the row number, `setseed` per chunk).
Non-constraint indexes are dropped before bulk loads and rebuilt after (`deferred_indexes`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy.engine import URL

from benchmarks.harness import Stopwatch, admin_connection, log

MODEL = "offline/hashing-384"  # the model whose partial HNSW index ships in 002_content.sql
DIMENSION = 384
HNSW_INDEX = "embeddings_hnsw_offline_hashing_384"
SUBTOPIC_NORM = 0.6
POINT_NORM = 0.4
INTRINSIC_DIM = 16  # dimensions of each topic's noise subspace
HOME_NICHE_SHARE = 0.8
VOCABULARY = 4000
KEYWORDS_PER_TOPIC = 8


@dataclass(frozen=True)
class CorpusShape:
    articles: int
    tenants: int = 10
    niches_per_tenant: int = 10

    @property
    def niches(self) -> int:
        return self.tenants * self.niches_per_tenant

    @property
    def topics(self) -> int:
        return max(20, self.articles // 1000)

    @property
    def subtopics(self) -> int:
        return max(self.topics, self.articles // 50)


@contextmanager
def deferred_indexes(conn: psycopg.Connection, table: str, keep: tuple[str, ...] = ()) -> Iterator[dict[str, float]]:
    """Drop the table's non-constraint indexes for a bulk load and rebuild them afterwards.

    Yields a dict that receives each rebuilt index's build time in seconds.
    """
    rows = conn.execute(
        """SELECT i.oid::regclass::text, pg_get_indexdef(i.oid)
           FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
           WHERE t.oid = %s::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)""",
        (table,),
    ).fetchall()
    rows = [(name, ddl) for name, ddl in rows if name not in keep]
    for name, _ in rows:
        conn.execute(f"DROP INDEX {name}")  # regclass text: quoted and schema-qualified as needed
    timings: dict[str, float] = {}
    yield timings
    for name, ddl in rows:
        with Stopwatch() as sw:
            conn.execute(ddl)
        timings[name] = sw.seconds


def index_definition(conn: psycopg.Connection, name: str) -> str:
    return conn.execute("SELECT pg_get_indexdef(%s::regclass)", (name,)).fetchone()[0]


def create_tenants_and_niches(conn: psycopg.Connection, shape: CorpusShape) -> None:
    conn.execute(
        """INSERT INTO tenants (slug, name) SELECT 'bench_t' || t, 'Benchmark tenant ' || t
           FROM generate_series(0, %s - 1) t""",
        (shape.tenants,),
    )
    conn.execute(
        """INSERT INTO niches (tenant_id, slug, name, partition_key)
           SELECT te.id, 'n' || n, 'Niche ' || n, te.slug || '.n' || n
           FROM tenants te CROSS JOIN generate_series(0, %s - 1) n WHERE te.slug LIKE 'bench\\_t%%'""",
        (shape.niches_per_tenant,),
    )
    # niche number k = tenant * niches_per_tenant + n, the key the generator uses
    conn.execute(
        """CREATE UNLOGGED TABLE bench_niches AS
           SELECT (substr(te.slug, 8)::int * %s + substr(ni.slug, 2)::int) AS k, te.id AS tenant_id, ni.id AS niche_id
           FROM niches ni JOIN tenants te ON te.id = ni.tenant_id WHERE te.slug LIKE 'bench\\_t%%'""",
        (shape.niches_per_tenant,),
    )
    conn.execute("ALTER TABLE bench_niches ADD PRIMARY KEY (k)")


def create_topics(conn: psycopg.Connection, shape: CorpusShape, seed: float = 0.42) -> None:
    """Topic centroids and subtopics (vectors) and each topic's keywords."""
    conn.execute("SELECT setseed(%s)", (seed,))
    sigma_sub = SUBTOPIC_NORM / math.sqrt(DIMENSION)
    # pseudo-words: consonant-vowel syllables, stable across runs and not English stop words
    conn.execute(
        """CREATE UNLOGGED TABLE bench_words AS
           SELECT w, (ARRAY['b','d','f','g','k','l','m','n','p','r','s','t','v','z'])[1 + w %% 14]
                  || (ARRAY['a','e','i','o','u'])[1 + (w / 14) %% 5]
                  || (ARRAY['b','d','f','g','k','l','m','n','p','r','s','t','v','z'])[1 + (w / 70) %% 14]
                  || (ARRAY['a','e','i','o','u','ar','en','or'])[1 + (w / 980) %% 8]
                  || (ARRAY['x','','q','y'])[1 + (w / 7840) %% 4] AS word
           FROM generate_series(0, %s - 1) w""",
        (VOCABULARY,),
    )
    conn.execute("ALTER TABLE bench_words ADD PRIMARY KEY (w)")
    conn.execute(
        """CREATE UNLOGGED TABLE bench_topics AS
           SELECT t, t %% %(niches)s AS home_niche,
                  l2_normalize(ARRAY(SELECT random_normal() FROM generate_series(1, %(dim)s + 0 * t))::vector) AS v,
                  ARRAY(SELECT l2_normalize(ARRAY(SELECT random_normal() FROM generate_series(1, %(dim)s + 0 * t * j))::vector)
                        FROM generate_series(1, %(idim)s) j) AS basis,
                  ARRAY(SELECT w.word FROM generate_series(0, %(kw)s - 1) k
                        JOIN bench_words w ON w.w = abs(hashint4extended(t * 16 + k, 7)) %% %(vocab)s ORDER BY k) AS keywords
           FROM generate_series(0, %(topics)s - 1) t""",
        {"niches": shape.niches, "dim": DIMENSION, "kw": KEYWORDS_PER_TOPIC, "vocab": VOCABULARY, "topics": shape.topics,
         "idim": INTRINSIC_DIM},
    )
    conn.execute("ALTER TABLE bench_topics ADD PRIMARY KEY (t)")
    conn.execute(
        """CREATE UNLOGGED TABLE bench_subtopics AS
           SELECT s, s %% %(topics)s AS t,
                  tp.v + ARRAY(SELECT random_normal(0, %(sigma)s) FROM generate_series(1, %(dim)s + 0 * s))::vector AS v
           FROM generate_series(0, %(subtopics)s - 1) s JOIN bench_topics tp ON tp.t = s %% %(topics)s""",
        {"topics": shape.topics, "subtopics": shape.subtopics, "sigma": sigma_sub, "dim": DIMENSION},
    )
    conn.execute("ALTER TABLE bench_subtopics ADD PRIMARY KEY (s)")


def create_article_plan(conn: psycopg.Connection, shape: CorpusShape) -> None:
    """Which subtopic, topic, tenant and niche each article i belongs to (no content yet)."""
    conn.execute(
        """CREATE UNLOGGED TABLE bench_articles AS
           WITH base AS (
               SELECT i, md5('bench-article:' || i)::uuid AS article_id,
                      abs(hashint4extended(i, 11)) %% %(subtopics)s AS s,
                      abs(hashint4extended(i, 13)) %% 1000 AS coin,
                      abs(hashint4extended(i, 17)) %% %(niches)s AS random_niche
               FROM generate_series(0, %(n)s - 1) i)
           SELECT b.i, b.article_id, b.s, st.t,
                  CASE WHEN b.coin < %(home)s THEN tp.home_niche ELSE b.random_niche END AS niche_k
           FROM base b JOIN bench_subtopics st ON st.s = b.s JOIN bench_topics tp ON tp.t = st.t""",
        {"subtopics": shape.subtopics, "niches": shape.niches, "n": shape.articles, "home": int(HOME_NICHE_SHARE * 1000)},
    )
    conn.execute("ALTER TABLE bench_articles ADD PRIMARY KEY (i)")
    conn.execute("ANALYZE bench_articles")


# Article text: title = 3 topic keywords + 2 vocabulary words; body = 60 words, 40 % topic keywords.
_ARTICLE_INSERT = """
INSERT INTO articles (id, tenant_id, niche_id, title, slug, excerpt, content, status, published_at,
                      content_quality_score, seo_score, ai_generated, partition_date)
SELECT b.article_id, bn.tenant_id, bn.niche_id, txt.title, 'a-' || b.i, left(txt.body, 140),
       CASE WHEN %(with_text)s THEN txt.body END, 'published', now() - (b.i %% 365) * interval '1 day',
       60 + b.i %% 40, 50 + b.i %% 50, true, current_date - (b.i %% 365)
FROM bench_articles b
JOIN bench_niches bn ON bn.k = b.niche_k
JOIN bench_topics tp ON tp.t = b.t
JOIN bench_words w1 ON w1.w = abs(hashint4extended(b.i, 37)) %% %(vocab)s
JOIN bench_words w2 ON w2.w = abs(hashint4extended(b.i, 41)) %% %(vocab)s
CROSS JOIN LATERAL (
    SELECT initcap(tp.keywords[1 + b.i %% 8] || ' ' || tp.keywords[1 + (b.i / 8) %% 8] || ' '
                   || w1.word || ' ' || tp.keywords[1 + (b.i / 64) %% 8] || ' ' || w2.word) AS title,
           CASE WHEN %(with_text)s THEN (
               SELECT string_agg(CASE WHEN abs(hashint4extended(b.i * 64 + k, 23)) %% 10 < 4
                                      THEN tp.keywords[1 + abs(hashint4extended(b.i * 64 + k, 29)) %% 8]
                                      ELSE w.word END, ' ' ORDER BY k)
               FROM generate_series(0, 59) k
               JOIN bench_words w ON w.w = abs(hashint4extended(b.i * 64 + k, 31)) %% %(vocab)s)
           ELSE '' END AS body
) txt
WHERE b.i >= %(lo)s AND b.i < %(hi)s
"""

def point_noise(noise: str, row: str) -> str:
    """SQL for one draw of an article's noise around its subtopic (see the module docstring).

    subspace: sum of the topic's INTRINSIC_DIM unit basis vectors with N(0, sigma) weights (pgvector
    has no scalar product, so each weight is an array_fill vector multiplied element-wise);
    isotropic: N(0, sigma) in every one of the 384 dimensions.
    """
    if noise == "isotropic":
        sigma = POINT_NORM / math.sqrt(DIMENSION)
        return f"ARRAY(SELECT random_normal(0, {sigma}) FROM generate_series(1, {DIMENSION} + 0 * {row}))::vector"
    sigma = POINT_NORM / math.sqrt(INTRINSIC_DIM)
    return " + ".join(
        f"tp.basis[{j}] * array_fill(random_normal(0, {sigma})::real, ARRAY[{DIMENSION}])::vector"
        for j in range(1, INTRINSIC_DIM + 1)
    )


def _embedding_insert(noise: str) -> str:
    return f"""
INSERT INTO embeddings (article_id, tenant_id, niche_id, model, dimension, content_hash, embedding)
SELECT b.article_id, bn.tenant_id, bn.niche_id, %(model)s, %(dim)s, 'bench', l2_normalize(st.v + {point_noise(noise, 'b.i')})
FROM bench_articles b JOIN bench_subtopics st ON st.s = b.s JOIN bench_topics tp ON tp.t = st.t
JOIN bench_niches bn ON bn.k = b.niche_k
WHERE b.i >= %(lo)s AND b.i < %(hi)s
"""


def run_parallel(url: URL, items: list, work_item, workers: int = 2) -> None:
    """Call ``work_item(conn, item)`` for every item, on ``workers`` connections at once (bulk loads)."""
    queue = list(items)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with admin_connection(url) as conn:
                conn.execute("SET synchronous_commit = off")
                while True:
                    with lock:
                        if not queue or errors:
                            return
                        item = queue.pop(0)
                    work_item(conn, item)
        except BaseException as exc:  # surfaced in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(max(1, workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _parallel_ranges(url: URL, sql: str, params: dict, total: int, workers: int, chunk: int) -> None:
    """Run `sql` over [lo, hi) chunks of article numbers on `workers` connections at once."""

    def insert(conn, bounds: tuple[int, int]) -> None:
        lo, hi = bounds
        conn.execute("SELECT setseed(%s)", ((lo % 100_000) / 100_000,))
        conn.execute(sql, {**params, "lo": lo, "hi": hi})

    run_parallel(url, [(lo, min(lo + chunk, total)) for lo in range(0, total, chunk)], insert, workers)


def build_corpus(url: URL, shape: CorpusShape, *, with_text: bool, with_vectors: bool = True,
                 noise: str = "subspace", workers: int = 2, ctx=None) -> dict[str, float]:
    """Tenants, niches, articles and (optionally) their vectors, with indexes built after the load.

    Returns timings (seconds) for each phase and each rebuilt index, including the HNSW index. With
    the benchmark's ``ctx``, the load is its set-up (shared by the runs of one commit with
    `--reuse-setup`, see benchmarks/setups.py) and the HNSW index is built on every run.
    """
    if ctx is not None and with_vectors:
        timings = ctx.setup(lambda: _load_corpus(url, shape, with_text, True, noise, workers))
        ddl = timings.pop("hnsw_ddl")
        return {**timings, "hnsw_build_s": build_hnsw(url, ddl, shape)}
    if ctx is not None:
        return ctx.setup(lambda: _load_corpus(url, shape, with_text, False, noise, workers))
    timings = _load_corpus(url, shape, with_text, with_vectors, noise, workers)
    if with_vectors:
        timings["hnsw_build_s"] = build_hnsw(url, timings.pop("hnsw_ddl"), shape)
    return timings


def _load_corpus(url: URL, shape: CorpusShape, with_text: bool, with_vectors: bool, noise: str,
                 workers: int) -> dict[str, Any]:
    """The corpus without its HNSW index (its definition under "hnsw_ddl": the build is measured)."""
    timings: dict[str, Any] = {}
    chunk = max(1000, min(50_000, shape.articles // (workers * 4) or 1000))
    with admin_connection(url) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")  # for the rebuilt b-tree and GIN indexes
        with Stopwatch() as sw:
            create_tenants_and_niches(conn, shape)
            create_topics(conn, shape)
            create_article_plan(conn, shape)
        timings["plan_s"] = sw.seconds
        log(f"corpus plan: {shape.articles:,} articles, {shape.topics:,} topics, {shape.subtopics:,} subtopics, "
            f"{shape.niches} niches ({sw.seconds:.1f} s)")
        with deferred_indexes(conn, "articles") as article_indexes:
            with Stopwatch() as sw:
                _parallel_ranges(url, _ARTICLE_INSERT, {"with_text": with_text, "vocab": VOCABULARY},
                                 shape.articles, workers, chunk)
            timings["articles_load_s"] = sw.seconds
            log(f"articles loaded in {sw.seconds:.1f} s; building their indexes")
        timings["articles_indexes_s"] = sum(article_indexes.values())
        if not with_vectors:
            conn.execute("VACUUM (ANALYZE) articles")
            return timings
        with deferred_indexes(conn, "embeddings", keep=(HNSW_INDEX,)):
            hnsw_ddl = index_definition(conn, HNSW_INDEX)
            conn.execute(f"DROP INDEX {HNSW_INDEX}")
            with Stopwatch() as sw:
                _parallel_ranges(url, _embedding_insert(noise), {"model": MODEL, "dim": DIMENSION},
                                 shape.articles, workers, chunk)
            timings["embeddings_load_s"] = sw.seconds
            log(f"vectors generated and loaded in {sw.seconds:.1f} s")
        with Stopwatch() as sw:
            conn.execute("VACUUM (ANALYZE) articles")
            conn.execute("VACUUM (ANALYZE) embeddings")
        timings["vacuum_analyze_s"] = sw.seconds
    timings["hnsw_ddl"] = hnsw_ddl
    return timings


def build_hnsw(url: URL, ddl: str, shape: CorpusShape) -> float:
    """Build the HNSW index (the schema's own definition) with enough memory for the graph."""
    import os

    # ~2.2 KB per 384-dim element at m=16; beyond maintenance_work_mem the build slows down a lot
    needed_mb = int(shape.articles * 2.2 / 1024) + 256
    with admin_connection(url) as conn:
        conn.execute(f"SET maintenance_work_mem = '{max(needed_mb, 64)}MB'")
        conn.execute(f"SET max_parallel_maintenance_workers = {max(0, (os.cpu_count() or 2) - 1)}")
        log(f"building HNSW index ({shape.articles:,} vectors, maintenance_work_mem {needed_mb} MB)")
        with Stopwatch() as sw:
            conn.execute(ddl)
        log(f"HNSW index built in {sw.seconds:.1f} s")
        conn.execute("ANALYZE embeddings")
    return sw.seconds


def query_vectors(conn: psycopg.Connection, count: int, seed: float, noise: str = "subspace") -> list[dict]:
    """Query vectors drawn from the corpus distribution (not corpus members), each with its topic's home
    niche (tenant_id, niche_id) for filtered queries and its topic keywords for text queries."""
    conn.execute("SELECT setseed(%s)", (seed,))
    rows = conn.execute(
        f"""WITH pick AS (
               SELECT q, abs(hashint4extended(q, (%(seed)s * 1000)::int)) %% (SELECT count(*) FROM bench_subtopics) AS s
               FROM generate_series(0, %(count)s - 1) q)
           SELECT p.q, st.t, bn.tenant_id, bn.niche_id, tp.keywords,
                  l2_normalize(st.v + {point_noise(noise, 'p.q')})
           FROM pick p JOIN bench_subtopics st ON st.s = p.s JOIN bench_topics tp ON tp.t = st.t
           JOIN bench_niches bn ON bn.k = tp.home_niche ORDER BY p.q""",
        {"seed": seed, "count": count},
    ).fetchall()
    return [
        {"q": r[0], "topic": r[1], "tenant_id": r[2], "niche_id": r[3], "keywords": r[4], "vector": r[5]}
        for r in rows
    ]
