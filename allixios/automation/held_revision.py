"""Held articles revised automatically: ``needs_revision`` articles get a revision run by themselves.

The `held_revision_sensor` asks `due_held` which held articles may be revised now and requests a
`held_revision_job` run per tenant and niche; the job calls `revise_held`, which reuses the
revision path (`allixios.content.revision.revise_articles`: the failing assessments go into the
``revise_v1`` prompt). Rules, all in SQL or at the sensor:

- only ``needs_revision``, not deleted, not locked, of a live tenant;
- at most ``max_attempts`` automatic attempts per article (rows of ``revision_attempts``); the
  same version is never attempted twice within ``retry_after_minutes`` (the request id of a
  revision is ``revise:<article>:v<version>``, so the same version would only replay its answer);
- within the tenant's budget: a tenant whose daily or monthly AI budget is spent gets none, and
  one with a budget gets at most ``remaining / expected cost`` revisions per tick (expected cost:
  its average paid revision, or writer call, so far; the client still reserves before each call);
- a revision that passes the bars is published at once (``publish_passing``), re-embedded, and its
  status is ``published``; one that fails again stays ``needs_revision`` and, once the cap is
  reached, is left for an editor: ``workflow_state.held_for_editor`` keeps the attempts and the
  reasons (failed bars, failing assessments), and an ``audit_log`` row says so.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy.engine import URL

from allixios.db.engine import connect, fetch_dicts

ACTOR = "held_revision_sensor"


@dataclass(frozen=True)
class HeldPolicy:
    max_attempts: int = 3
    retry_after_minutes: int = 60
    max_articles: int = 50  # per sensor tick, all tenants


def due_held(conn: psycopg.Connection, policy: HeldPolicy = HeldPolicy()) -> list[dict[str, Any]]:
    """Held articles that may be revised now, with their attempts so far, oldest first, within budgets."""
    rows = fetch_dicts(
        conn,
        """
        WITH attempts AS (
            SELECT article_id, count(*) AS attempts,
                   bool_or(from_version = a.version_number
                           AND r.requested_at > now() - make_interval(mins => %(retry)s)) AS same_version_recently
            FROM revision_attempts r JOIN articles a ON a.id = r.article_id
            GROUP BY article_id
        )
        SELECT a.id AS article_id, a.tenant_id, t.slug AS tenant, a.niche_id, n.partition_key AS niche_key,
               a.version_number, coalesce(x.attempts, 0)::int AS attempts
        FROM articles a
        JOIN tenants t ON t.id = a.tenant_id AND t.deleted_at IS NULL
        JOIN niches n ON n.id = a.niche_id
        LEFT JOIN attempts x ON x.article_id = a.id
        WHERE a.status = 'needs_revision' AND a.deleted_at IS NULL
          AND coalesce(x.attempts, 0) < %(cap)s
          AND NOT coalesce(x.same_version_recently, false)
          AND NOT EXISTS (SELECT 1 FROM edit_locks l WHERE l.article_id = a.id AND l.expires_at > now())
        ORDER BY a.tenant_id, a.created_at, a.id
        LIMIT %(limit)s
        """,
        {"retry": policy.retry_after_minutes, "cap": policy.max_attempts, "limit": policy.max_articles},
    )
    allowed = {tid: tenant_allowance(conn, tid) for tid in {r["tenant_id"] for r in rows}}
    due, taken = [], {}
    for r in rows:
        n = taken.get(r["tenant_id"], 0)
        if allowed[r["tenant_id"]] is not None and n >= allowed[r["tenant_id"]]:
            continue
        taken[r["tenant_id"]] = n + 1
        due.append(r)
    return due


def tenant_allowance(conn: psycopg.Connection, tenant_id) -> int | None:
    """How many revisions the tenant's budgets allow now (None: no budget set, no limit here)."""
    from allixios.ai.budgets import budget_status

    statuses = budget_status(conn, tenant_id)
    if not statuses:
        return None
    remaining = min(s.remaining_usd for s in statuses)
    if remaining <= 0:
        return 0
    expected = conn.execute(
        """SELECT coalesce(avg(cost_usd) FILTER (WHERE request_id LIKE 'revise:%%'), avg(cost_usd))
           FROM ai_usage WHERE tenant_id = %s AND task = 'writer' AND cost_usd > 0""",
        (tenant_id,),
    ).fetchone()[0]
    if not expected:
        return None  # nothing paid so far (local writer): the budget does not bind
    return math.floor(remaining / float(expected))


def run_key_for(rows: list[dict[str, Any]]) -> str:
    """One key per set of (article, version): the same held versions are requested once."""
    digest = hashlib.sha256(
        ",".join(sorted(f"{r['article_id']}:v{r['version_number']}" for r in rows)).encode()
    ).hexdigest()[:16]
    return f"held_revision:{rows[0]['niche_key']}:{digest}"


def record_attempts(conn: psycopg.Connection, run_key: str, rows: list[dict[str, Any]]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO revision_attempts (tenant_id, article_id, run_key, from_version)
               VALUES (%s, %s, %s, %s) ON CONFLICT (run_key, article_id) DO NOTHING""",
            [(r["tenant_id"], r["article_id"], run_key, r["version_number"]) for r in rows],
        )


def revise_held(
    llm,
    embedder,
    article_ids: list[str],
    *,
    run_key: str | None = None,
    run_id: str | None = None,
    max_attempts: int = HeldPolicy.max_attempts,
    database_url: URL | None = None,
    concurrency: int = 8,
) -> dict[str, Any]:
    """Revise the held articles; publish those that pass; leave those past the cap for an editor."""
    from allixios.content.article_embeddings import embed_articles
    from allixios.content.revision import revise_articles

    with connect(database_url) as conn:
        # a re-run of the same request revises only what is still held
        todo = [r[0] for r in conn.execute(
            "SELECT id::text FROM articles WHERE id = ANY(%s::uuid[]) AND status = 'needs_revision'",
            ([str(a) for a in article_ids],),
        ).fetchall()]
    outcomes = revise_articles(
        llm, todo, database_url=database_url, reason="regenerated", actor=ACTOR, run_id=run_id,
        concurrency=concurrency, publish_passing=True,
    ) if todo else []
    published = [o.article_id for o in outcomes if o.republished]
    left: list[dict[str, Any]] = []
    with connect(database_url) as conn:
        embedded = embed_articles(conn, published, embedder, run_id=run_id) if published else None
        for o in outcomes:
            outcome = "published" if o.republished else o.status
            conn.execute(
                """UPDATE revision_attempts SET outcome = %s, run_id = coalesce(%s, run_id)
                   WHERE article_id = %s AND (%s::text IS NULL OR run_key = %s)""",
                (f"{outcome}: {o.detail}"[:500], run_id, o.article_id, run_key, run_key),
            )
            if run_key is None:
                conn.execute(
                    """INSERT INTO revision_attempts (tenant_id, article_id, run_key, from_version, run_id, outcome)
                       SELECT tenant_id, id, %s, coalesce(%s, version_number), %s, %s FROM articles WHERE id = %s
                       ON CONFLICT (run_key, article_id) DO NOTHING""",
                    (f"manual:{run_id}", None, run_id, f"{outcome}: {o.detail}"[:500], o.article_id),
                )
        left = leave_for_editor(conn, [o.article_id for o in outcomes if not o.republished], max_attempts)
    counts: dict[str, int] = {}
    for o in outcomes:
        key = "published" if o.republished else o.status
        counts[key] = counts.get(key, 0) + 1
    return {
        "outcomes": [asdict(o) for o in outcomes],
        "counts": counts,
        "published": len(published),
        "embedded": embedded.embedded_articles if embedded else 0,
        "left_for_editor": left,
        "cost_usd": round(sum(o.cost_usd for o in outcomes), 8),
    }


def leave_for_editor(conn: psycopg.Connection, article_ids: list[str], max_attempts: int) -> list[dict[str, Any]]:
    """Held articles that used up their automatic attempts: mark them for an editor, with the reasons."""
    if not article_ids:
        return []
    rows = fetch_dicts(
        conn,
        """SELECT a.id::text AS article_id, a.tenant_id, a.slug, a.version_number, count(r.id)::int AS attempts,
                  coalesce(a.workflow_state -> 'failed_bars', '[]'::jsonb) AS failed_bars,
                  coalesce(a.workflow_state -> 'failing_assessments', '[]'::jsonb) AS failing_assessments
           FROM articles a JOIN revision_attempts r ON r.article_id = a.id
           WHERE a.id = ANY(%s::uuid[]) AND a.status = 'needs_revision'
             AND NOT a.workflow_state ? 'held_for_editor'
           GROUP BY a.id HAVING count(r.id) >= %s""",
        (article_ids, max_attempts),
    )
    for r in rows:
        note = {"attempts": r["attempts"], "failed_bars": r["failed_bars"],
                "failing_assessments": r["failing_assessments"],
                "reason": f"{r['attempts']} automatic revision(s) did not pass: "
                          + ", ".join(r["failed_bars"] or ["bars"])}
        conn.execute("UPDATE articles SET workflow_state = workflow_state || %s WHERE id = %s",
                     (Jsonb({"held_for_editor": note}), r["article_id"]))
        conn.execute(
            """INSERT INTO audit_log (tenant_id, actor, action, entity_type, entity_id, before_version, details)
               VALUES (%s, %s, 'held_for_editor', 'article', %s, %s, %s)""",
            (r["tenant_id"], ACTOR, r["article_id"], r["version_number"], Jsonb(note)),
        )
        r["reason"] = note["reason"]
    return rows
