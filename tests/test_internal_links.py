"""Orphaned articles and internal-link suggestions in seo_reports: real database, real MiniLM vectors."""

from __future__ import annotations

from datetime import UTC, datetime

from allixios.content import pipeline
from allixios.content.internal_links import anchor_for
from allixios.db.engine import connect
from allixios.tenants import add_niche, ensure_tenant
from tests.editorial_corpus import create_article


def test_orphans_and_suggestions_with_anchor_text_from_the_source(db):
    with connect(db) as conn:
        tenant = ensure_tenant(conn, "acme")
        niche = add_niche(conn, tenant, "garden", "Home Gardening", ["beds"])
        create_article(conn, tenant, "garden", "raised-bed-soil", "Raised Bed Soil Mix",
                       "## Soil\n\nA raised bed needs loose soil. Mix garden compost from your compost bins with "
                       "topsoil. See [watering](/watering-beds) for moisture.", keyphrase="raised bed soil")
        create_article(conn, tenant, "garden", "compost-bins", "Compost Bins for Small Gardens",
                       "## Bins\n\nCompost bins turn kitchen scraps into garden compost for raised beds and soil.",
                       keyphrase="compost bins")
        create_article(conn, tenant, "garden", "watering-beds", "Watering Raised Beds",
                       "## Water\n\nWater raised beds deeply twice a week; soil in beds dries faster.",
                       keyphrase="watering raised beds")
        part = pipeline.resolve_partition(conn, datetime.now(UTC).date().isoformat(), niche.partition_key)
        report = pipeline.build_seo_report(conn, part)
        stored = conn.execute("SELECT orphaned_articles, link_suggestions FROM seo_reports").fetchone()
    orphans = {o["slug"] for o in report["orphaned_articles"]}
    assert orphans == {"raised-bed-soil", "compost-bins"}  # nothing links to them; watering-beds is linked
    pairs = {(s["source"], s["target"]): s for s in report["link_suggestions"]}
    s = pairs[("raised-bed-soil", "compost-bins")]
    assert s["anchor"] == "compost bins" and "similar content" in s["reason"] and "orphaned" in s["reason"]
    assert ("raised-bed-soil", "watering-beds") not in pairs  # already linked
    assert all(p[0] != p[1] for p in pairs)
    assert stored[0] == report["orphaned_articles"] and stored[1] == report["link_suggestions"]


def test_anchor_text_is_the_sources_own_words_outside_links_and_headings():
    body = "## Compost Bins\n\nUse [compost bins](/x) or Compost   Bins at home."
    assert anchor_for(body, "compost bins", "Compost Bins") == "Compost Bins"
    assert anchor_for("## Compost bins\n\nNothing here.", "compost bins", "Compost Bins for Small Gardens") is None
    assert anchor_for("Small gardens need care.", None, "Compost Bins for Small Gardens") == "Small gardens"
