"""The `scored_articles` step and its quality gates.

Scores every unpublished article of the partition (pure ``score_article``), stores the scores,
each assessment's result and the optimization suggestions, and routes it against the tenant's bars:
``scored`` (may be published) or ``needs_revision`` (the failed bars kept in ``workflow_state``).
``gate_report`` is what the blocking asset checks read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg.types.json import Jsonb

from allixios.content.locales.scoring import score_localized
from allixios.content.partition import PartitionRef
from allixios.content.scoring import ArticleDoc, score_article
from allixios.db.engine import fetch_dicts
from allixios.publishing.config import site_host

# articles the step (re)scores; published and archived ones are left alone
SCORABLE = ("draft", "scored", "needs_revision")
GATES = ("body_length", "quality", "seo")


@dataclass
class ScoringResult:
    articles: list[dict] = field(default_factory=list)  # {id, slug, quality, seo, body_chars, status, failed_bars}

    @property
    def passed(self) -> list[dict]:
        return [a for a in self.articles if a["status"] == "scored"]

    @property
    def needs_revision(self) -> list[dict]:
        return [a for a in self.articles if a["status"] == "needs_revision"]

    def average(self, key: str) -> float | None:
        return round(sum(a[key] for a in self.articles) / len(self.articles), 1) if self.articles else None


def score_partition(conn: psycopg.Connection, part: PartitionRef) -> ScoringResult:
    rows = fetch_dicts(
        conn,
        """SELECT id, slug, title, content, primary_keyphrase, meta_title, meta_description
           FROM articles
           WHERE niche_id = %s AND partition_date = %s AND deleted_at IS NULL AND status = ANY(%s::content_status[])
           ORDER BY slug""",
        (part.niche.id, part.day, list(SCORABLE)),
    )
    bars = part.bars
    host = site_host(conn, part.tenant) if rows else ""
    result = ScoringResult()
    updates = []
    # a tenant drafting in another language is scored with that language's readability (English: unchanged)
    locale = conn.execute("SELECT default_locale FROM tenants WHERE id = %s", (part.tenant.id,)).fetchone()[0]
    for r in rows:
        doc = ArticleDoc(r["title"], r["content"] or "", r["primary_keyphrase"] or "",
                         r["meta_title"] or "", r["meta_description"] or "", r["slug"], site_host=host)
        report = score_article(doc) if locale == "en" else score_localized(doc, locale)
        failed = bars.failures(report.body_chars, report.quality, report.seo)
        status = "needs_revision" if failed else "scored"
        state = {"stage": "scored", "bars": bars.as_dict(), "failed_bars": failed,
                 "failing_assessments": [a.id for a in report.failing()]}
        updates.append((report.quality, report.seo, Jsonb(report.assessments_json()), Jsonb(report.suggestions),
                        status, Jsonb(state), r["id"]))
        result.articles.append({"id": str(r["id"]), "slug": r["slug"], "quality": report.quality, "seo": report.seo,
                                "body_chars": report.body_chars, "status": status, "failed_bars": failed})
    if updates:
        with conn.cursor() as cur:
            cur.executemany(
                """UPDATE articles SET content_quality_score = %s, seo_score = %s, assessments = %s,
                          optimization_suggestions = %s, status = %s::content_status,
                          workflow_state = workflow_state || %s, updated_at = now()
                   WHERE id = %s""",
                updates,
            )
    return result


def gate_report(conn: psycopg.Connection, part: PartitionRef, gate: str) -> dict:
    """How the partition's scored articles fare against one bar.

    ``failing``: articles under the bar (routed to needs_revision: expected, not an error).
    ``leaked``: articles under the bar that are still publishable (status scored) — a broken
    invariant that must block publishing.
    """
    if gate not in GATES:
        raise ValueError(f"unknown gate {gate!r}")
    bars = part.bars
    condition = {
        "body_length": ("length(coalesce(content, '')) < %(bar)s", bars.min_body_chars, "length(coalesce(content, ''))"),
        "quality": ("content_quality_score <= %(bar)s", bars.min_quality, "content_quality_score"),
        "seo": ("seo_score <= %(bar)s", bars.min_seo, "seo_score"),
    }[gate]
    fails, bar, value = condition
    rows = fetch_dicts(
        conn,
        f"""SELECT slug, status::text AS status, {value} AS value, ({fails}) AS fails
            FROM articles
            WHERE niche_id = %(niche)s AND partition_date = %(day)s AND deleted_at IS NULL
              AND status IN ('scored', 'needs_revision', 'published')
            ORDER BY slug""",
        {"niche": part.niche.id, "day": part.day, "bar": bar},
    )
    failing = [r for r in rows if r["fails"] and r["status"] != "published"]
    leaked = [r for r in failing if r["status"] == "scored"]
    return {
        "gate": gate,
        "bar": bar,
        "checked": len(rows),
        "failing": len(failing),
        "leaked": len(leaked),
        "failing_slugs": [r["slug"] for r in failing],
        "leaked_slugs": [r["slug"] for r in leaked],
        "values": {r["slug"]: r["value"] for r in rows},
    }
