"""The refresh of decaying articles (article_refresh_job): regenerate, re-score, re-embed, record."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy.engine import URL

from allixios.content.article_embeddings import embed_articles
from allixios.content.revision import revise_articles
from allixios.db.engine import connect


def refresh_articles(
    llm,
    embedder,
    article_ids: list[str],
    *,
    reasons: dict[str, str] | None = None,
    run_key: str | None = None,
    run_id: str | None = None,
    database_url: URL | None = None,
    concurrency: int = 8,
) -> dict[str, Any]:
    """Regenerate exactly these articles; publish a new version only when it scores at least as well.

    Each article's outcome (revised / kept_live / skipped / failed / conflict) is written to its
    refresh request (``refresh_requests.outcome``) so the sensor's cooldown and the UI show it.
    """
    done: set[str] = set()
    if run_key:
        # a re-run (or retry) of the same request does not regenerate what it already refreshed
        with connect(database_url) as conn:
            done = {r[0] for r in conn.execute(
                """SELECT article_id::text FROM refresh_requests
                   WHERE run_key = %s AND (outcome LIKE 'revised%%' OR outcome LIKE 'kept_live%%')""",
                (run_key,),
            ).fetchall()}
    todo = [a for a in article_ids if str(a) not in done]
    outcomes = revise_articles(
        llm, todo, database_url=database_url, reason="refresh", reasons=reasons or {}, actor="article_refresh_job",
        run_id=run_id, concurrency=concurrency, publish_passing=True,
    ) if todo else []
    revised = [o.article_id for o in outcomes if o.status == "revised"]
    with connect(database_url) as conn:
        embedded = embed_articles(conn, revised, embedder, run_id=run_id) if revised else None
        for o in outcomes:
            conn.execute(
                """UPDATE refresh_requests SET outcome = %s, run_id = coalesce(%s, run_id)
                   WHERE article_id = %s AND (%s::text IS NULL OR run_key = %s)""",
                (f"{o.status}: {o.detail}"[:500], run_id, o.article_id, run_key, run_key),
            )
            if run_key is None:
                # a manual refresh (not from the sensor) still starts the article's cooldown
                conn.execute(
                    """INSERT INTO refresh_requests (tenant_id, article_id, run_key, reason, run_id, outcome)
                       SELECT tenant_id, id, %s, %s, %s, %s FROM articles WHERE id = %s
                       ON CONFLICT (run_key, article_id) DO NOTHING""",
                    (f"manual:{run_id}", Jsonb({"reason": (reasons or {}).get(o.article_id, "manual")}), run_id,
                     f"{o.status}: {o.detail}"[:500], o.article_id),
                )
    counts: dict[str, int] = {"already_done": len(article_ids) - len(todo)} if done else {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    return {
        "outcomes": [asdict(o) for o in outcomes],
        "counts": counts,
        "republished": sum(o.republished for o in outcomes),
        "embedded": embedded.embedded_articles if embedded else 0,
        "cost_usd": round(sum(o.cost_usd for o in outcomes), 8),
    }
