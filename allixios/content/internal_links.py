"""Internal links the way SEO teams build them: orphaned articles and link suggestions per niche.

- **Orphaned**: a published article no other published article of the tenant links to (its links
  as the one CommonMark parse reads them, `allixios.content.site_links`: inline, reference-style,
  autolinks, raw ``<a href>``, absolute links to the tenant's site; a link to itself does not count).
- **Suggestions**: for each published article of the niche, up to ``per_article`` other published
  articles of the niche it does not link to yet, ranked by the cosine of their whole-document
  vectors (the tenant's embedding model, chunk 0) times a value bonus: x1.5 when the target earned
  revenue over the last 28 days (``marts.fct_article_daily_performance``), x1.5 when its traffic is
  forecast to decay (`allixios.analytics.forecast.predicted_decay`), x2 for an orphaned target.
  The anchor text is taken from the source's own words: the target's keyphrase, else the longest
  run of its title words (two or more, stop words aside), found in the source's text outside
  existing links and headings; a pair with no such words gets no suggestion. Each suggestion
  carries its reason.

Suggestions are reported (``seo_reports.link_suggestions``) and applied by `allixios.content.link_apply`.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg

from allixios.content.site_links import internal_targets
from allixios.db.engine import fetch_dicts

MIN_SIMILARITY = 0.3
STOP = {"a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "how", "what", "why", "your", "is",
        "are", "at", "by", "from", "guide", "best", "vs", "do", "does", "can", "without"}


def _model(conn: psycopg.Connection, tenant_id, model: str | None) -> str | None:
    if model:
        return model
    row = conn.execute("SELECT model FROM embeddings WHERE tenant_id = %s GROUP BY model ORDER BY count(*) DESC LIMIT 1",
                       (tenant_id,)).fetchone()
    return row[0] if row else None


def _plain_segments(markdown: str) -> str:
    """The source's prose: no headings, no existing links or images, no code."""
    text = re.sub(r"```.*?```", " ", markdown or "", flags=re.S)
    text = re.sub(r"!?\[[^\]]*\]\([^)]*\)", " | ", text)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def anchor_for(source_markdown: str, keyphrase: str | None, title: str) -> str | None:
    prose = _plain_segments(source_markdown)
    candidates = []
    if keyphrase and keyphrase.strip():
        candidates.append(keyphrase.strip())
    words = re.findall(r"[A-Za-z0-9']+", title)
    for size in range(min(5, len(words)), 1, -1):  # longest runs of title words first
        for i in range(len(words) - size + 1):
            run = words[i:i + size]
            if run[0].lower() in STOP or run[-1].lower() in STOP:
                continue
            candidates.append(" ".join(run))
    for phrase in candidates:
        m = re.search(r"(?<![\w-])" + r"\s+".join(re.escape(w) for w in phrase.split()) + r"(?![\w-])", prose, re.I)
        if m:
            return " ".join(m.group(0).split())
    return None


def link_report(conn: psycopg.Connection, tenant_id, niche_id, *, model: str | None = None,
                per_article: int = 3, site_host: str = "") -> dict[str, list[dict[str, Any]]]:
    """Orphans and suggestions of one niche; ``site_host`` (`publishing.config.site_host`) makes
    absolute links to the tenant's own site count as internal."""
    live = fetch_dicts(
        conn,
        """SELECT a.id::text AS id, a.slug, a.title, a.niche_id, coalesce(a.content, '') AS content,
                  a.primary_keyphrase FROM articles a
           WHERE a.tenant_id = %s AND a.status = 'published' AND a.deleted_at IS NULL ORDER BY a.slug""",
        (tenant_id,),
    )
    links: dict[str, set[str]] = {a["slug"]: set(internal_targets(a["content"], site_host)) - {a["slug"]} for a in live}
    linked_to = set().union(*links.values()) if links else set()
    in_niche = [a for a in live if a["niche_id"] == niche_id]
    orphans = [{"slug": a["slug"], "title": a["title"]} for a in in_niche if a["slug"] not in linked_to]
    orphan_slugs = {o["slug"] for o in orphans}
    model = _model(conn, tenant_id, model)
    if not model or len(in_niche) < 2:
        return {"orphaned_articles": orphans, "link_suggestions": []}
    pairs = fetch_dicts(
        conn,
        """SELECT s.article_id::text AS source, t.article_id::text AS target,
                  1 - (s.embedding::vector <=> t.embedding::vector) AS similarity
           FROM embeddings s JOIN embeddings t ON t.model = s.model AND t.chunk_index = s.chunk_index
                AND t.article_id <> s.article_id AND t.tenant_id = s.tenant_id
           WHERE s.tenant_id = %s AND s.niche_id = %s AND t.niche_id = %s AND s.model = %s AND s.chunk_index = 0
             AND vector_dims(s.embedding) = vector_dims(t.embedding)""",
        (tenant_id, niche_id, niche_id, model),
    )
    earning = _earning(conn, [a["id"] for a in in_niche])
    decaying = _decaying(conn)
    by_id = {a["id"]: a for a in in_niche}
    ranked: dict[str, list[tuple[float, dict]]] = {}
    for p in pairs:
        s, t = by_id.get(p["source"]), by_id.get(p["target"])
        if s is None or t is None or t["slug"] in links[s["slug"]] or p["similarity"] < MIN_SIMILARITY:
            continue
        bonus, why = 1.0, [f"similar content ({p['similarity']:.2f})"]
        if t["id"] in earning:
            bonus *= 1.5
            why.append(f"target earned ${earning[t['id']]:.2f} in 28 days")
        if t["id"] in decaying:
            bonus *= 1.5
            why.append("target is forecast to decay")
        if t["slug"] in orphan_slugs:
            bonus *= 2.0
            why.append("target is orphaned")
        ranked.setdefault(s["id"], []).append((p["similarity"] * bonus, {"t": t, "why": why}))
    suggestions = []
    for source_id, options in sorted(ranked.items(), key=lambda kv: by_id[kv[0]]["slug"]):
        s = by_id[source_id]
        taken = 0
        for score, o in sorted(options, key=lambda x: (-x[0], x[1]["t"]["slug"])):
            if taken >= per_article:
                break
            anchor = anchor_for(s["content"], o["t"]["primary_keyphrase"], o["t"]["title"])
            if not anchor:
                continue
            taken += 1
            suggestions.append({"source": s["slug"], "target": o["t"]["slug"], "anchor": anchor,
                                "score": round(score, 3), "reason": "; ".join(o["why"])})
    return {"orphaned_articles": orphans, "link_suggestions": suggestions}


def _earning(conn: psycopg.Connection, ids: list[str]) -> dict[str, float]:
    if conn.execute("SELECT to_regclass('marts.fct_article_daily_performance')").fetchone()[0] is None:
        return {}
    return {r[0]: float(r[1]) for r in conn.execute(
        """SELECT article_id::text, sum(revenue_usd) FROM marts.fct_article_daily_performance
           WHERE article_id = ANY(%s::uuid[]) AND day > current_date - 28 GROUP BY 1 HAVING sum(revenue_usd) > 0""",
        (ids,)).fetchall()}


def _decaying(conn: psycopg.Connection) -> set[str]:
    from allixios.analytics.forecast import latest_forecast_day, predicted_decay

    if conn.execute("SELECT to_regclass('marts.fct_article_daily_performance')").fetchone()[0] is None:
        return set()  # no history, no forecast baseline
    as_of = latest_forecast_day(conn)
    return {str(r["article_id"]) for r in predicted_decay(conn, as_of, cooldown_days=0)} if as_of else set()
