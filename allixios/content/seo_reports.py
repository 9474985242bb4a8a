"""The `seo_reports` step: the niche's SEO health as of a day, upserted into ``seo_reports``.

Covers the niche's live (not deleted) articles created up to the report day: score distribution,
the most frequent failing assessments, cannibalization pairs among published articles (the same
keyphrase, headline vectors at least the embedding model's ``cannibalization`` cosine apart, or
whole-document vectors at least its ``document_duplicate`` cosine apart — thresholds are per model,
from its catalogue entry, because cosines of two models are not on one scale), missing metadata,
broken internal links (internal links, read with the one parse by ``allixios.content.site_links``,
whose slug is not a published article or niche of the tenant), orphaned articles and internal-link suggestions (`allixios.content.internal_links`). Set-based SQL (links come from the parse); one row per (tenant,
niche, day), so a re-run replaces it.
"""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from allixios.ai.catalogue import Similarity
from allixios.content.embedding_store import DOCUMENT_CHUNK, HEADLINE_CHUNK
from allixios.content.partition import PartitionRef
from allixios.db.engine import fetch_dicts

CANNIBALIZATION_SIMILARITY = Similarity().cannibalization  # legacy default when no model's settings are given
BUCKETS = ("0-49", "50-69", "70-79", "80-89", "90-100")
_BUCKET_SQL = """CASE WHEN {col} < 50 THEN '0-49' WHEN {col} < 70 THEN '50-69' WHEN {col} < 80 THEN '70-79'
                      WHEN {col} < 90 THEN '80-89' ELSE '90-100' END"""

# translations (articles.locale set) are reported with their source, not as the niche's own articles
_SCOPE = """a.tenant_id = %(tenant)s AND a.niche_id = %(niche)s AND a.deleted_at IS NULL AND a.locale IS NULL
            AND coalesce(a.partition_date, a.created_at::date) <= %(day)s"""


def _distribution(conn, params: dict) -> dict:
    rows = fetch_dicts(
        conn,
        f"""SELECT 'quality' AS score, {_BUCKET_SQL.format(col='a.content_quality_score')} AS bucket, count(*) AS n
            FROM articles a WHERE {_SCOPE} AND a.status <> 'draft' GROUP BY 1, 2
            UNION ALL
            SELECT 'seo', {_BUCKET_SQL.format(col='a.seo_score')}, count(*)
            FROM articles a WHERE {_SCOPE} AND a.status <> 'draft' GROUP BY 1, 2""",
        params,
    )
    out = {s: dict.fromkeys(BUCKETS, 0) for s in ("quality", "seo")}
    for r in rows:
        out[r["score"]][r["bucket"]] = r["n"]
    return out


def _broken_links(conn: psycopg.Connection, part: PartitionRef, params: dict) -> list[dict]:
    """{source, href} of each internal link of the niche's published articles to no live article."""
    from allixios.content.site_links import internal_links
    from allixios.publishing.config import site_host

    host = site_host(conn, part.tenant)
    cols: dict[str, list[str]] = {"sources": [], "hrefs": [], "targets": []}
    for row in fetch_dicts(conn, f"SELECT a.slug, a.content FROM articles a WHERE {_SCOPE} AND a.status = 'published'",
                           params):
        for href, target in internal_links(row["content"] or "", host):
            cols["sources"].append(row["slug"])
            cols["hrefs"].append(href)
            cols["targets"].append(target)
    return fetch_dicts(
        conn,
        """SELECT l.source, l.href FROM unnest(%(sources)s::text[], %(hrefs)s::text[], %(targets)s::text[])
                  AS l(source, href, target)
           WHERE NOT EXISTS (SELECT 1 FROM articles t WHERE t.tenant_id = %(tenant)s AND t.slug = l.target
                               AND t.status = 'published' AND t.deleted_at IS NULL)
             AND NOT EXISTS (SELECT 1 FROM niches n WHERE n.tenant_id = %(tenant)s  -- a niche page
                               AND replace(n.slug, '_', '-') = l.target)
           ORDER BY 1, 2""",
        cols | {"tenant": part.tenant.id},
    )


def build_seo_report(conn: psycopg.Connection, part: PartitionRef, *, cannibalization_similarity: float | None = None,
                     embedding_model: str | None = None, similarity: Similarity | None = None) -> dict:
    """Compute and store the report; returns it as a dict (also the row's JSON columns).

    ``similarity`` is the embedding model's catalogue settings (``embedder.deployment.similarity``);
    ``cannibalization_similarity`` overrides its headline threshold.
    """
    similarity = similarity or Similarity()
    threshold = similarity.cannibalization if cannibalization_similarity is None else cannibalization_similarity
    params = {"tenant": part.tenant.id, "niche": part.niche.id, "day": part.day, "threshold": threshold,
              "doc_threshold": similarity.document_duplicate, "chunk": HEADLINE_CHUNK, "doc_chunk": DOCUMENT_CHUNK,
              "model": embedding_model}
    totals = fetch_dicts(
        conn,
        f"""SELECT count(*) AS articles,
                   count(*) FILTER (WHERE a.status = 'published') AS published,
                   count(*) FILTER (WHERE a.status = 'needs_revision') AS needs_revision,
                   round(avg(a.content_quality_score) FILTER (WHERE a.status <> 'draft'), 1) AS avg_quality,
                   round(avg(a.seo_score) FILTER (WHERE a.status <> 'draft'), 1) AS avg_seo
            FROM articles a WHERE {_SCOPE}""",
        params,
    )[0]
    failing = fetch_dicts(
        conn,
        f"""SELECT x ->> 'id' AS id, x ->> 'group' AS "group", count(*) AS articles,
                   round(100.0 * count(*) / nullif(%(scored)s, 0), 1) AS share
            FROM articles a CROSS JOIN LATERAL jsonb_array_elements(a.assessments) x
            WHERE {_SCOPE} AND a.status <> 'draft' AND (x ->> 'passed')::boolean IS FALSE
            GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 10""",
        params | {"scored": totals["articles"]},
    )
    cannibalization = fetch_dicts(
        conn,
        f"""WITH live AS (
                SELECT a.id, a.slug, lower(a.primary_keyphrase) AS keyphrase FROM articles a
                WHERE {_SCOPE} AND a.status = 'published'),
            pairs AS (
                SELECT l1.slug AS a, l2.slug AS b, l1.keyphrase = l2.keyphrase AS same_keyphrase,
                       1 - (e1.embedding <=> e2.embedding) AS headline, 1 - (d1.embedding <=> d2.embedding) AS document
                FROM live l1 JOIN live l2 ON l1.id < l2.id
                LEFT JOIN embeddings e1 ON e1.article_id = l1.id AND e1.chunk_index = %(chunk)s
                     AND e1.model = coalesce(%(model)s, e1.model)
                LEFT JOIN embeddings e2 ON e2.article_id = l2.id AND e2.chunk_index = %(chunk)s AND e2.model = e1.model
                -- vectors of one model only: the document pair uses the headline pair's model
                LEFT JOIN embeddings d1 ON d1.article_id = l1.id AND d1.chunk_index = %(doc_chunk)s
                     AND d1.model = coalesce(%(model)s, e1.model, d1.model)
                LEFT JOIN embeddings d2 ON d2.article_id = l2.id AND d2.chunk_index = %(doc_chunk)s AND d2.model = d1.model)
            SELECT a, b, round(headline::numeric, 3)::float AS similarity,
                   round(document::numeric, 3)::float AS document_similarity,
                   CASE WHEN same_keyphrase THEN 'same keyphrase'
                        WHEN headline >= %(threshold)s THEN 'similar headline' ELSE 'similar content' END AS reason
            FROM pairs
            WHERE same_keyphrase OR headline >= %(threshold)s
               OR (%(doc_threshold)s::float8 IS NOT NULL AND document >= %(doc_threshold)s::float8)
            ORDER BY greatest(headline, document) DESC NULLS LAST, 1, 2 LIMIT 50""",
        params,
    )
    missing = fetch_dicts(
        conn,
        f"""SELECT a.slug, array_remove(ARRAY[
                       CASE WHEN coalesce(btrim(a.meta_title), '') = '' THEN 'meta_title' END,
                       CASE WHEN coalesce(btrim(a.meta_description), '') = '' THEN 'meta_description' END,
                       CASE WHEN coalesce(btrim(a.excerpt), '') = '' THEN 'excerpt' END,
                       CASE WHEN coalesce(btrim(a.primary_keyphrase), '') = '' THEN 'primary_keyphrase' END,
                       CASE WHEN cardinality(a.tags) = 0 THEN 'tags' END], NULL) AS missing
            FROM articles a WHERE {_SCOPE}
              AND (coalesce(btrim(a.meta_title), '') = '' OR coalesce(btrim(a.meta_description), '') = ''
                   OR coalesce(btrim(a.excerpt), '') = '' OR coalesce(btrim(a.primary_keyphrase), '') = ''
                   OR cardinality(a.tags) = 0)
            ORDER BY a.slug""",
        params,
    )
    broken = _broken_links(conn, part, params)
    from allixios.content.internal_links import link_report
    from allixios.publishing.config import site_host

    linking = link_report(conn, part.tenant.id, part.niche.id, model=embedding_model,
                          site_host=site_host(conn, part.tenant))
    report = {
        "niche": part.niche.partition_key, "day": part.day.isoformat(),
        "article_count": totals["articles"], "published_count": totals["published"],
        "needs_revision_count": totals["needs_revision"],
        "avg_quality": float(totals["avg_quality"]) if totals["avg_quality"] is not None else None,
        "avg_seo": float(totals["avg_seo"]) if totals["avg_seo"] is not None else None,
        "score_distribution": _distribution(conn, params),
        "failing_assessments": [dict(r, share=float(r["share"] or 0)) for r in failing],
        "cannibalization_pairs": cannibalization,
        "missing_metadata": missing,
        "broken_links": broken,
        "orphaned_articles": linking["orphaned_articles"],
        "link_suggestions": linking["link_suggestions"],
    }
    conn.execute(
        """INSERT INTO seo_reports (tenant_id, niche_id, report_date, article_count, published_count, avg_quality, avg_seo,
                                    score_distribution, failing_assessments, cannibalization_pairs, missing_metadata,
                                    broken_links, orphaned_articles, link_suggestions)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (tenant_id, niche_id, report_date) DO UPDATE SET
               article_count = EXCLUDED.article_count, published_count = EXCLUDED.published_count,
               avg_quality = EXCLUDED.avg_quality, avg_seo = EXCLUDED.avg_seo,
               score_distribution = EXCLUDED.score_distribution, failing_assessments = EXCLUDED.failing_assessments,
               cannibalization_pairs = EXCLUDED.cannibalization_pairs, missing_metadata = EXCLUDED.missing_metadata,
               broken_links = EXCLUDED.broken_links, orphaned_articles = EXCLUDED.orphaned_articles,
               link_suggestions = EXCLUDED.link_suggestions, created_at = now()""",
        (part.tenant.id, part.niche.id, part.day, report["article_count"], report["published_count"],
         report["avg_quality"], report["avg_seo"], Jsonb(report["score_distribution"]),
         Jsonb(report["failing_assessments"]), Jsonb(report["cannibalization_pairs"]),
         Jsonb(report["missing_metadata"]), Jsonb(report["broken_links"]), Jsonb(report["orphaned_articles"]),
         Jsonb(report["link_suggestions"])),
    )
    return report


def report_markdown(report: dict) -> str:
    """The report as Markdown for the asset's metadata in the Dagster UI."""
    lines = [
        f"**{report['niche']}** on {report['day']}: {report['article_count']} articles, "
        f"{report['published_count']} published, {report['needs_revision_count']} waiting for revision; "
        f"average quality {report['avg_quality']}, SEO {report['avg_seo']}.",
        "",
        "| score | " + " | ".join(BUCKETS) + " |",
        "|---|" + "---|" * len(BUCKETS),
    ]
    for score in ("quality", "seo"):
        lines.append(f"| {score} | " + " | ".join(str(report["score_distribution"][score][b]) for b in BUCKETS) + " |")
    if report["failing_assessments"]:
        lines += ["", "| failing assessment | group | articles | share % |", "|---|---|---|---|"]
        lines += [f"| {r['id']} | {r['group']} | {r['articles']} | {r['share']} |" for r in report["failing_assessments"]]
    lines += ["", f"Cannibalization pairs: {len(report['cannibalization_pairs'])}"]
    lines += [f"- `{p['a']}` / `{p['b']}`: {p['reason']} (headline {p['similarity']}, content {p.get('document_similarity')})" for p in report["cannibalization_pairs"][:10]]
    lines += ["", f"Articles missing metadata: {len(report['missing_metadata'])}"]
    lines += [f"- `{m['slug']}`: {', '.join(m['missing'])}" for m in report["missing_metadata"][:10]]
    lines += ["", f"Broken internal links: {len(report['broken_links'])}"]
    lines += [f"- `{b['source']}` -> `{b['href']}`" for b in report["broken_links"][:10]]
    return "\n".join(lines)


def days_without_report(conn: psycopg.Connection, part: PartitionRef) -> list:
    """Days of the niche up to ``part.day`` that produced articles but have no ``seo_reports`` row."""
    rows = conn.execute(
        """SELECT DISTINCT a.partition_date FROM articles a
           WHERE a.tenant_id = %(tenant)s AND a.niche_id = %(niche)s AND a.deleted_at IS NULL
             AND a.partition_date IS NOT NULL AND a.partition_date <= %(day)s
             AND NOT EXISTS (SELECT 1 FROM seo_reports r WHERE r.tenant_id = a.tenant_id AND r.niche_id = a.niche_id
                                                           AND r.report_date = a.partition_date)
           ORDER BY 1""",
        {"tenant": part.tenant.id, "niche": part.niche.id, "day": part.day},
    ).fetchall()
    return [r[0] for r in rows]
