"""A small fixture corpus for the editorial tests: articles with version 1 and local embeddings (MiniLM and hashing).

Rows are inserted directly (the way the content pipeline leaves them) so the editorial tests do not
depend on running the generation assets.
"""

from __future__ import annotations

import hashlib
from uuid import UUID

import psycopg

from allixios.ai import minilm
from allixios.ai.offline_embedder import OFFLINE_EMBEDDING_DIMENSION, OFFLINE_EMBEDDING_MODEL, embed_text
from allixios.content.embedding_store import ensure_vector_index
from allixios.content.versions import record_first_version
from allixios.tenants import Tenant


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def create_article(
    conn: psycopg.Connection,
    tenant: Tenant,
    niche_slug: str,
    slug: str,
    title: str,
    body: str,
    *,
    status: str = "published",
    quality: int = 85,
    seo: int = 75,
    keyphrase: str | None = None,
    excerpt: str | None = None,
    embed: bool = True,
) -> UUID:
    niche_id = conn.execute(
        "SELECT id FROM niches WHERE tenant_id = %s AND slug = %s", (tenant.id, niche_slug)
    ).fetchone()[0]
    article_id = conn.execute(
        """INSERT INTO articles (tenant_id, niche_id, title, content, slug, meta_title, meta_description, excerpt,
                                 primary_keyphrase, status, content_quality_score, seo_score, content_hash, created_by)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'fixture') RETURNING id""",
        (
            tenant.id,
            niche_id,
            title,
            body,
            slug,
            title[:60],
            f"{title}. A practical guide.",
            excerpt,
            keyphrase,
            status,
            quality,
            seo,
            _hash(body),
        ),
    ).fetchone()[0]
    record_first_version(conn, article_id, actor="fixture")
    if status == "published":
        conn.execute(
            "UPDATE articles SET published_version_number = 1, published_at = now() WHERE id = %s",
            (article_id,),
        )
    if embed:
        # both local models, each in its own partial HNSW index: the keyless default (MiniLM, what
        # search queries use) and the hashing stand-in (for tests that pin it explicitly)
        text = f"{title}\n{body}"
        for model, dimension, vec in (
            (OFFLINE_EMBEDDING_MODEL, OFFLINE_EMBEDDING_DIMENSION, embed_text(text)),
            (minilm.MODEL, minilm.DIMENSION, minilm.embed_texts([text])[0][0]),
        ):
            conn.execute(
                """INSERT INTO embeddings (article_id, tenant_id, niche_id, model, dimension, content_hash, embedding)
                   VALUES (%s, %s, %s, %s, %s, %s, %s::vector)""",
                (article_id, tenant.id, niche_id, model, dimension, _hash(body), "[" + ",".join(repr(v) for v in vec) + "]"),
            )
    return article_id


# slug -> (niche, title, body). Bodies are short but distinct; the search tests rely on their wording.
CORPUS: dict[str, tuple[str, str, str]] = {
    "emergency-fund-tight-budget": (
        "personal_finance",
        "How to Build an Emergency Fund on a Tight Budget",
        "An emergency fund covers three to six months of essential expenses. Start with a small goal, "
        "automate a weekly transfer into a high-yield savings account, and keep the emergency fund separate "
        "from everyday spending so it is there when the car breaks down.",
    ),
    "index-funds-explained": (
        "personal_finance",
        "Index Funds Explained for First-Time Investors",
        "Index funds track a market index such as the S&P 500. Low expense ratios and broad diversification "
        "make index funds a simple core holding for long-term investors.",
    ),
    "raise-credit-score": (
        "personal_finance",
        "Ways to Raise Your Credit Score in Six Months",
        "Payment history and credit utilization drive most of your credit score. Pay every bill on time, keep "
        "card balances under thirty percent of the limit, and check your report for errors.",
    ),
    "zero-based-budgeting": (
        "personal_finance",
        "Zero-Based Budgeting: A Practical Walkthrough",
        "Zero-based budgeting gives every dollar a job before the month begins: rent, groceries, debt payments, "
        "savings and fun money. Review the plan weekly and adjust categories when spending drifts.",
    ),
    "raised-garden-beds": (
        "home_gardening",
        "Building Raised Garden Beds That Last",
        "Cedar boards resist rot, and a raised bed twelve inches deep suits most vegetables. Fill the bed with a "
        "mix of topsoil and compost, and line the bottom with hardware cloth to stop burrowing pests.",
    ),
    "composting-without-smell": (
        "home_gardening",
        "Composting at Home Without the Smell",
        "A compost bin smells when it is too wet or has too many greens. Balance kitchen scraps with browns such as "
        "dry leaves and cardboard, turn the pile, and the bin will smell like earth instead of garbage.",
    ),
    "container-tomatoes": (
        "home_gardening",
        "Growing Tomatoes in Containers",
        "Cherry tomatoes thrive in pots on a sunny balcony. Choose a container of at least five gallons, water "
        "the pots deeply every morning, and feed the tomatoes every two weeks once flowers appear.",
    ),
    # no "smell" in the text: a semantic neighbour of "compost bin smell" that full-text (AND) cannot match
    "kitchen-compost-bin": (
        "home_gardening",
        "Kitchen Compost Bin Basics",
        "A kitchen compost bin on the counter collects scraps for the garden compost. Empty the compost bin "
        "every few days and rinse the compost bin with hot water.",
    ),
    # the best full-text match for "compost bin smell", but not embedded yet (a new article)
    "compost-bin-smell-quick-fix": (
        "home_gardening",
        "Compost Bin Smell: A Quick Fix",
        "Add a handful of shredded cardboard and stir. That is usually all it takes.",
    ),
    "ergonomic-home-office": (
        "remote_work",
        "Setting Up an Ergonomic Home Office",
        "Set the monitor at eye level, keep elbows at ninety degrees, and choose a chair with lumbar support. "
        "Good light and a door that closes make a home office work for a full day.",
    ),
}


NOT_EMBEDDED = frozenset({"compost-bin-smell-quick-fix"})


def create_corpus(conn: psycopg.Connection, tenant: Tenant) -> dict[str, UUID]:
    ensure_vector_index(conn, minilm.MODEL, minilm.DIMENSION)  # as the embeddings step does on first use
    return {
        slug: create_article(conn, tenant, niche, slug, title, body, embed=slug not in NOT_EMBEDDED)
        for slug, (niche, title, body) in CORPUS.items()
    }


def create_filler(conn: psycopg.Connection, tenant: Tenant, niche_slug: str, count: int) -> None:
    """`count` unrelated articles with random unit vectors, set-based, so plans look like a real corpus."""
    conn.execute(
        """WITH n AS (SELECT id FROM niches WHERE tenant_id = %(tenant)s AND slug = %(niche)s),
           new AS (
               INSERT INTO articles (tenant_id, niche_id, title, content, slug, status, content_hash)
               SELECT %(tenant)s, n.id, 'Filler note ' || g,
                      'Routine filler text number ' || g || ' about ' || (ARRAY['ledgers','paint','kayaks','violins'])[1 + g %% 4],
                      'filler-' || g, 'published', md5(g::text)
               FROM n, generate_series(1, %(count)s) AS g
               RETURNING id, niche_id, content_hash)
           INSERT INTO embeddings (article_id, tenant_id, niche_id, model, dimension, content_hash, embedding)
           SELECT new.id, %(tenant)s, new.niche_id, %(model)s, %(dim)s, new.content_hash,
                  -- correlated (via content_hash) so every row gets its own random vector
                  (SELECT array_agg(random() - 0.5) FROM generate_series(1, %(dim)s + 0 * length(new.content_hash)))::vector
           FROM new""",
        {
            "tenant": tenant.id,
            "niche": niche_slug,
            "count": count,
            "model": minilm.MODEL,  # the keyless default's index, which search queries use
            "dim": minilm.DIMENSION,
        },
    )
    # a bulk load leaves rows in the GIN pending list, which makes the planner shun the index until
    # (auto)vacuum merges it; merge it now as autovacuum would on a live system
    conn.execute("SELECT gin_clean_pending_list('articles_search_idx')")
    conn.execute("ANALYZE articles")
    conn.execute("ANALYZE embeddings")
