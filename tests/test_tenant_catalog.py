"""Author personas and categories per niche: assigned when drafted, shown on the built site and in JSON-LD."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from allixios import catalog
from allixios.cli import main
from allixios.content import pipeline
from allixios.content.article_drafts import insert_article
from allixios.content.drafting import Draft
from allixios.db.engine import connect
from allixios.publishing import releases
from allixios.publishing.site import build_site
from allixios.tenants import add_niche, ensure_tenant
from tests.test_site_build import Head, page

DAY = "2026-11-05"
TITLES = ["Index Funds for Beginners", "Building an Emergency Fund Fast", "Fixing a Bad Credit Score",
          "Budget Apps Compared", "Index Funds Versus Bonds", "The Emergency Fund Ladder"]


@pytest.fixture(autouse=True)
def own_home(monkeypatch, tmp_path):
    monkeypatch.setenv("ALLIXIOS_HOME", str(tmp_path / "home"))


def draft(title: str) -> Draft:
    slug = title.lower().replace(" ", "-")
    return Draft(title, f"{title} guide", f"{title}: a guide.", slug, f"About {title.lower()}.",
                 f"Body of {title}.\n\n## Section\n\nMore words.", ("finance",), title.lower())


def drafted(conn, tenant, niche_key: str, titles: list[str], *, publish: bool = False) -> list:
    part = pipeline.resolve_partition(conn, DAY, niche_key)
    ids = []
    for title in titles:
        article_id, _ = insert_article(conn, part, None, draft(title), model="human/fixture", prompt_version=None,
                                       cost_usd=0, actor="test")
        ids.append(article_id)
        if publish:
            conn.execute("""UPDATE articles SET status = 'published', published_version_number = 1, published_at = now()
                            WHERE id = %s""", (article_id,))
    return ids


def facts(conn, ids) -> dict:
    rows = conn.execute("""SELECT a.id, au.name, au.tenant_id, c.name, c.tenant_id, a.tenant_id FROM articles a
                           LEFT JOIN authors au ON au.id = a.author_id LEFT JOIN categories c ON c.id = a.category_id
                           WHERE a.id = ANY(%s)""", (ids,)).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_drafts_get_a_persona_and_category_of_their_own_niche_and_tenant(sample_tenant, db):
    with connect(db) as conn:
        rival = ensure_tenant(conn, "rival")
        add_niche(conn, rival, "personal_finance", "Personal Finance")
        catalog.add_author(conn, rival, "Rival Writer", niche="personal_finance")
        catalog.add_category(conn, rival, "Investing Elsewhere", niche="personal_finance", keywords=["index funds"])
        # a tenant-wide persona is used only where the niche has none of its own
        catalog.add_author(conn, sample_tenant, "House Writer")
        ids = drafted(conn, sample_tenant, "sample.personal_finance", TITLES)
        got = facts(conn, ids)
        gardening = drafted(conn, sample_tenant, "sample.home_gardening", ["Composting in Winter"])
        rival_ids = drafted(conn, rival, "rival.personal_finance", ["Index Funds for Beginners"])
        assert {got[i][0] for i in ids} == {"Dana Whitfield", "Marcus Lee"}  # shared between the niche's personas
        assert all(got[i][1] == got[i][4] == sample_tenant.id for i in ids)  # never another tenant's
        by_title = dict(zip(TITLES, (got[i][2] for i in ids), strict=True))
        assert by_title["Index Funds for Beginners"] == "Investing"
        assert by_title["Building an Emergency Fund Fast"] == "Budgeting"
        assert by_title["Fixing a Bad Credit Score"] == "Credit"
        assert facts(conn, gardening)[gardening[0]][:3:2] == ("Rosa Alvarez", "Garden Projects")
        assert facts(conn, rival_ids)[rival_ids[0]][:3:2] == ("Rival Writer", "Investing Elsewhere")
        # deterministic: assigning again from scratch picks the same persona and category
        for i in ids:
            assert catalog.assign(conn, i, overwrite=True) == tuple(
                conn.execute("SELECT author_id, category_id FROM articles WHERE id = %s", (i,)).fetchone())
        # a niche without personas falls back to the tenant-wide one
        add_niche(conn, sample_tenant, "travel", "Travel")
        travel = drafted(conn, sample_tenant, "sample.travel", ["Packing Light"])
        assert facts(conn, travel)[travel[0]][0] == "House Writer" and facts(conn, travel)[travel[0]][2] is None


def test_site_shows_bylines_author_and_category_pages_and_json_ld(sample_tenant, db):
    with connect(db) as conn:
        conn.execute("UPDATE tenants SET custom_domain = 'news.example.org' WHERE id = %s", (sample_tenant.id,))
        ids = drafted(conn, sample_tenant, "sample.personal_finance", TITLES[:3], publish=True)
        got = facts(conn, ids)
        build_site(conn, sample_tenant)
    live = releases.live_release(sample_tenant.slug)
    base = "https://news.example.org"
    author = got[ids[0]][0]
    author_slug = author.lower().replace(" ", "-")
    text = page(live, "/personal-finance/index-funds-for-beginners/")
    h = Head(text)
    article = h.jsonld[0]
    assert article["author"]["@type"] == "Person" and article["author"]["name"] == author
    assert article["author"]["url"] == f"{base}/authors/{author_slug}/"
    assert article["author"]["jobTitle"] in ("Personal finance editor", "Investing writer")
    assert article["articleSection"] == "Investing"
    assert f'<a href="/authors/{author_slug}/" rel="author">{author}</a>' in text
    assert '<a href="/categories/investing/" class="category">Investing</a>' in text
    # the persona's page lists its articles and says it is a persona; the category page lists its one article
    profile = Head(page(live, f"/authors/{author_slug}/"))
    person = profile.jsonld[0]
    assert person["@type"] == "ProfilePage" and person["mainEntity"]["name"] == author
    assert "not a real person" in person["mainEntity"]["description"]
    mine = {f"/personal-finance/{t.lower().replace(' ', '-')}/" for i, t in zip(ids, TITLES, strict=False)
            if got[i][0] == author}
    assert mine <= set(profile.hrefs)
    cat = Head(page(live, "/categories/investing/"))
    assert cat.jsonld[0]["@type"] == "CollectionPage"
    assert "/personal-finance/index-funds-for-beginners/" in cat.hrefs
    assert "/personal-finance/fixing-a-bad-credit-score/" not in cat.hrefs
    locs = {e.text for e in ET.parse(live / "sitemap.xml").getroot().iter(
        "{http://www.sitemaps.org/schemas/sitemap/0.9}loc")}
    assert {f"{base}/authors/{author_slug}/", f"{base}/categories/investing/"} <= locs
    # a persona's new job title re-renders its articles' pages in the next incremental build
    with connect(db) as conn:
        catalog.add_author(conn, sample_tenant, author, niche="personal_finance", job_title="Senior editor")
        result = build_site(conn, sample_tenant)
    assert f"{base}/personal-finance/index-funds-for-beginners/" in result.changed_urls
    again = Head(page(releases.live_release(sample_tenant.slug), "/personal-finance/index-funds-for-beginners/"))
    assert again.jsonld[0]["author"]["jobTitle"] == "Senior editor"


def test_cli_adds_lists_and_refuses_with_a_fix(sample_tenant, db, capsys):
    assert main(["authors", "add", "Ann Example", "--niche", "remote_work", "--title", "Editor"]) == 0
    assert main(["categories", "add", "Meetings", "--niche", "remote_work", "-k", "meetings"]) == 0
    assert main(["authors", "list", "--json"]) == 0
    assert main(["categories", "list"]) == 0
    out = capsys.readouterr().out
    assert "ann-example" in out and "Meetings" in out
    assert main(["authors", "add", "Ann Example", "--niche", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: niche 'nope' not found") and "fix: see `allixios niches list`" in err
    assert main(["authors", "add", "!!!"]) == 2
    assert "— fix:" in capsys.readouterr().err
    assert main(["authors", "add", "Ann-Example"]) == 2  # same page address as Ann Example
    assert "has the page /authors/ann-example/ — fix: pass --slug" in capsys.readouterr().err
    assert main(["authors", "remove", "ann-example"]) == 0
    assert main(["authors", "assign"]) == 0


def test_a_batch_of_drafts_gets_what_one_at_a_time_gives(sample_tenant, db):
    """store_drafts' batch path (issue 19, fourth round: personas/categories and the plan limit read
    once per batch, persona, category and content hash written with the INSERT) stores what
    inserting each draft alone and assigning it afterwards would."""
    from allixios.content.article_drafts import StoreBatch
    from allixios.content.versions import content_hash, get_version

    with connect(db) as conn:
        catalog.add_author(conn, sample_tenant, "Ann Gardener")
        catalog.add_author(conn, sample_tenant, "Bob Planter")
        catalog.add_category(conn, sample_tenant, "Soil", keywords=["compost", "soil"])
        catalog.add_category(conn, sample_tenant, "Budget", keywords=["budget", "cheap"])
    with connect(db) as conn:
        part = pipeline.resolve_partition(conn, DAY, conn.execute(
            "SELECT partition_key FROM niches WHERE tenant_id = %s ORDER BY partition_key LIMIT 1",
            (sample_tenant.id,)).fetchone()[0])
        batch = StoreBatch.read(conn, part)
        titles = ["Compost Soil Basics", "Budget Beds on the Cheap", "Compost Again", "Plain Title"]
        ids = [insert_article(conn, part, None, draft(t), model="human/fixture", prompt_version=None, cost_usd=0,
                              actor="test", batch=batch)[0] for t in titles]
        # reading the candidates once: the second and later drafts issue no author/category query
        assert {k[0] for k in batch.candidates} == {"authors", "categories"}
        for article_id in ids:
            row = conn.execute("SELECT author_id, category_id, content_hash FROM articles WHERE id = %s",
                               (article_id,)).fetchone()
            assert row[0] is not None and row[1] is not None
            assert catalog.assign(conn, article_id, overwrite=True) == (row[0], row[1])  # the same choice alone
            fields = conn.execute("SELECT title, content, slug, meta_title, meta_description, excerpt, tags, "
                                  "primary_keyphrase FROM articles WHERE id = %s", (article_id,)).fetchone()
            stored = dict(zip(("title", "content", "slug", "meta_title", "meta_description", "excerpt", "tags",
                               "primary_keyphrase"), fields, strict=True))
            assert row[2] == content_hash(stored) == get_version(conn, article_id, 1)["content_hash"]
        assert conn.execute("SELECT count FROM tenant_usage WHERE tenant_id = %s AND metric = 'articles_per_day'",
                            (sample_tenant.id,)).fetchone()[0] >= len(titles)
