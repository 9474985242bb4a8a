"""Shared set-up for the locale tests: a tenant selling in en/de/fr and published source articles."""

from __future__ import annotations

import json

from allixios.content import pipeline
from allixios.content.article_drafts import insert_article
from allixios.content.drafting import parse_draft
from allixios.content.locales.config import set_niche_locales, set_tenant_locales
from allixios.content.offline_writer import write_draft
from allixios.content.standin_translator import translate as stand_in
from allixios.db.engine import connect
from allixios.tenants import add_niche, ensure_tenant, update_tenant_settings

DAY = "2026-11-05"
TITLES = ["Raised Beds for Beginners", "Composting at Home"]


def setup_tenant(db, locales=("de", "fr")):
    with connect(db) as conn:
        tenant = ensure_tenant(conn, "acme")
        update_tenant_settings(conn, "acme", {"min_quality": 0, "min_seo": 0})  # sources publish whatever they score
        niche = add_niche(conn, tenant, "garden", "Home Gardening", ["raised beds"])
        set_tenant_locales(conn, tenant, ["en", *locales])
        set_niche_locales(conn, tenant, "garden", list(locales))
        tenant = ensure_tenant(conn, "acme")
    return tenant, niche


def publish_sources(db, niche, titles=TITLES, model="offline/writer"):
    """Source articles through the real insert, score and publish steps; returns {slug: id}."""
    out = {}
    with connect(db) as conn:
        part = pipeline.resolve_partition(conn, DAY, niche.partition_key)
        for title in titles:
            raw = write_draft({"title": title, "keyphrase": title.lower().split(" for ")[0], "keywords": [],
                               "niche": "Home Gardening", "internal_links": []})
            raw["body"] += "\n\nA longer closing note keeps this body over the bar for every test source." * 8
            draft = parse_draft(json.dumps(raw))
            article_id, slug = insert_article(conn, part, None, draft, model=model, prompt_version="draft_v1",
                                              cost_usd=0, actor="test")
            out[slug] = article_id
        pipeline.score_partition(conn, part)
        conn.execute("UPDATE articles SET status = 'scored' WHERE niche_id = %s AND locale IS NULL", (niche.id,))
        pipeline.publish_partition(conn, part, run_id="test")
    return out


def brief_of(messages: list[dict]) -> dict:
    text = str(messages[-1]["content"])
    return json.loads(text[text.rfind("BRIEF_JSON:") + len("BRIEF_JSON:"):].strip())


def fake_model_translation(brief: dict) -> str:
    """What a (local, fake) real model answers: text in the target language, NOT marked stand-in."""
    out = stand_in(brief)
    out.pop("stand_in")
    out["title"] = out["title"].split(": ", 1)[-1] + f" ({brief['locale']})"
    return json.dumps(out, ensure_ascii=False)


def english_answer(brief: dict) -> str:
    """A model that ignores the instruction and answers in English."""
    s = brief["source"]
    return json.dumps({"title": s["title"], "meta_title": s["meta_title"], "meta_description": s["meta_description"],
                       "slug": s["slug"], "excerpt": s["excerpt"], "body": s["body"], "tags": s["tags"],
                       "primary_keyphrase": s["primary_keyphrase"]})
