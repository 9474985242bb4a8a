"""Every scorer of a tenant's text knows the tenant's site host: an absolute link to the tenant's own
site is an internal link — in the pipeline (``scored_articles``), the editor's create / edit /
analysis, and the revision loop — through the one helper ``allixios.publishing.config.site_host``."""

from __future__ import annotations

import pytest

from allixios.ai.client import LLMClient
from allixios.content import pipeline
from allixios.content.article_drafts import insert_article
from allixios.content.drafting import Draft
from allixios.content.revision import revise_articles
from allixios.db.engine import connect, fetch_dicts
from allixios.editorial.analysis import analyze_article
from allixios.editorial.articles import EditInput, edit_article
from allixios.editorial.authoring import create_article
from allixios.publishing.config import site_host
from allixios.tenants import add_niche, ensure_tenant, get_tenant

HOST = "news.acme.example"
# links only to the tenant's own site, written absolutely (www. and https both still "own site")
BODY = ("Raised beds warm up early in spring and drain well after rain. "
        f"Read [our soil guide](https://{HOST}/soil-guide/) and [mulch basics](https://www.{HOST}/mulch/) "
        "before you build one.\n\n## Building the frame\n\nUse untreated timber and line the base with card.\n")


@pytest.fixture(autouse=True)
def offline_only(monkeypatch):
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(key, raising=False)


def _links(assessments: list[dict]) -> dict[str, str]:
    by_id = {a["id"]: a["detail"] for a in assessments}
    return {"internal": by_id["internal_links"], "outbound": by_id["outbound_links"]}


@pytest.fixture
def acme(db):
    with connect(db) as conn:
        tenant = ensure_tenant(conn, "acme")
        niche = add_niche(conn, tenant, "garden", "Garden", ["raised beds"], daily_quota=3)
        conn.execute("UPDATE tenants SET custom_domain = %s WHERE id = %s", (HOST, tenant.id))
    return tenant, niche


def test_site_host_is_the_tenants_domain_and_empty_when_the_site_config_is_unusable(db, acme):
    tenant, _ = acme
    with connect(db) as conn:
        assert site_host(conn, tenant) == HOST
        conn.execute("UPDATE tenants SET custom_domain = NULL, settings = settings || %s::jsonb WHERE id = %s",
                     ('{"site": {"no_such_key": 1}}', tenant.id))
        assert site_host(conn, tenant) == ""  # the site build reports that; scoring goes on


def test_editor_create_edit_and_analysis_count_own_site_links_as_internal(db, acme):
    tenant, niche = acme
    with connect(db) as conn:
        article_id = create_article(conn, tenant, niche, {"title": "Raised beds for beginners", "content": BODY,
                                                          "primary_keyphrase": "raised beds"}, actor="editor")
        stored = fetch_dicts(conn, "SELECT assessments FROM articles WHERE id = %s", (article_id,))[0]
        assert _links(stored["assessments"]) == {"internal": "2 internal link(s)", "outbound": "no outbound links"}

        edit_article(conn, tenant, str(article_id), EditInput(BODY + f"\nMore: <https://{HOST}/compost/>\n", {}),
                     actor="editor")
        edited = fetch_dicts(conn, "SELECT assessments FROM articles WHERE id = %s", (article_id,))[0]
        assert _links(edited["assessments"])["internal"] == "3 internal link(s)"  # the autolink too

        for version in (None, 1):  # the current text and a stored version
            report = analyze_article(conn, get_tenant(conn, "acme"), str(article_id), version)
            assert _links(report["assessments"])["outbound"] == "no outbound links"


def test_the_revision_loop_scores_with_the_site_host(db, acme):
    """The revised text keeps the editor's own-site links (the offline stand-in edits around links);
    what is asserted is how the revision is scored, not what the writer writes."""
    tenant, niche = acme
    with connect(db) as conn:
        part = pipeline.resolve_partition(conn, "2026-11-05", niche.partition_key)
        draft = Draft("Raised beds for beginners", "Raised beds for beginners", "How to build a raised bed.",
                      "raised-beds", "A short guide.", BODY, ("garden",), "raised beds")
        article_id, _ = insert_article(conn, part, None, draft, model=None, prompt_version=None, cost_usd=0,
                                       actor="t")
        pipeline.score_partition(conn, part)  # short: needs_revision
        scored = fetch_dicts(conn, "SELECT status::text, assessments FROM articles WHERE id = %s", (article_id,))[0]
        assert scored["status"] == "needs_revision"
        assert _links(scored["assessments"])["outbound"] == "no outbound links"
    [outcome] = revise_articles(LLMClient(database_url=db), [article_id], database_url=db, run_id="rev")
    assert outcome.status == "revised", outcome
    with connect(db) as conn:
        row = fetch_dicts(conn, "SELECT content, assessments FROM articles WHERE id = %s", (article_id,))[0]
    assert f"https://{HOST}/soil-guide/" in row["content"]
    own = row["content"].count(f"{HOST}/")
    assert _links(row["assessments"])["internal"].startswith(f"{own} internal")
    assert HOST not in _links(row["assessments"])["outbound"]
