"""Broken internal links fixed: a link to a renamed article is rewritten to its current slug as a new,
audited, re-published version; a link to a deleted article is reported to the editor; a locked
article is left alone. Real database, the editorial version path, the real Dagster asset."""

from __future__ import annotations

import dagster as dg
import pytest

from allixios.content import pipeline
from allixios.db.engine import connect, fetch_dicts
from allixios.editorial.articles import EditInput, delete_article, edit_article
from allixios.editorial.publish import publish_article
from allixios.tenants import add_niche, ensure_tenant, update_tenant_settings
from tests.editorial_corpus import create_article

BODY = "## Soil\n\nGood soil is the start of every bed. " * 5


@pytest.fixture
def linked(db):
    with connect(db) as conn:
        tenant = ensure_tenant(conn, "acme")
        add_niche(conn, tenant, "garden", "Home Gardening", ["beds"])
        update_tenant_settings(conn, "acme", {"min_quality": 0, "min_seo": 0, "min_body_chars": 0})
        tenant = ensure_tenant(conn, "acme")
        create_article(conn, tenant, "garden", "raised-beds-101", "Raised Beds 101", BODY, embed=False)
        create_article(conn, tenant, "garden", "old-compost", "Old Compost", BODY, embed=False)
        source = create_article(conn, tenant, "garden", "soil-guide", "Soil Guide", BODY
                                + "\n\nSee [raised beds](/raised-beds-101#build) and [compost](/old-compost).\n", embed=False)
        other = create_article(conn, tenant, "garden", "bed-tools", "Bed Tools", BODY
                               + "\n\nAlso [beds](/raised-beds-101).\n", embed=False)
    with connect(db) as conn:
        # the target is renamed (a new slug, published), the other one is deleted
        edit_article(conn, tenant, "raised-beds-101", EditInput(BODY, {"slug": "raised-beds-guide"}), actor="ed@acme")
        publish_article(conn, tenant, "raised-beds-guide", actor="ed@acme")
        delete_article(conn, tenant, "old-compost", actor="ed@acme")
        conn.execute("INSERT INTO edit_locks (article_id, tenant_id, locked_by, expires_at) "
                     "VALUES (%s, %s, 'someone@acme', now() + interval '1 hour')", (other, tenant.id))
    return tenant, source, other


def test_renamed_links_are_rewritten_and_deleted_ones_reported(linked, db):
    tenant, source, other = linked
    from allixios_assets.maintenance.assets import internal_link_fixes
    from resources.warehouse import WarehouseResource

    result = dg.materialize([internal_link_fixes], resources={"warehouse": WarehouseResource()},
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success
    meta = {k: v.value for k, v in result.asset_materializations_for_node("internal_link_fixes")[0].metadata.items()}
    assert meta["articles_fixed"] == 1 and meta["links_rewritten"] == 1 and meta["skipped"] == 1
    with connect(db) as conn:
        a = fetch_dicts(conn, "SELECT content, status::text AS status, version_number, published_version_number, "
                              "workflow_state -> 'link_report' AS report FROM articles WHERE id = %s", (source,))[0]
        audit = fetch_dicts(conn, "SELECT actor, details FROM audit_log WHERE entity_id = %s AND actor = 'link_fixer' "
                                  "ORDER BY id", (str(source),))
        locked = fetch_dicts(conn, "SELECT content, version_number FROM articles WHERE id = %s", (other,))[0]
    assert "](/raised-beds-guide#build)" in a["content"] and "](/raised-beds-101" not in a["content"]
    assert "](/old-compost)" in a["content"]  # a deleted target is not rewritten, it is reported
    assert a["report"] == [{"target": "old-compost", "reason": "deleted", "article_id": a["report"][0]["article_id"]}]
    assert a["status"] == "published" and a["published_version_number"] == a["version_number"] == 3  # edit + publish
    assert audit and any(d["details"].get("link_fix", {}).get("links_rewritten") == 1 for d in audit)
    assert locked["version_number"] == 1 and "](/raised-beds-101)" in locked["content"]  # the lock holder's edit wins

    # a second run changes nothing
    again = dg.materialize([internal_link_fixes], resources={"warehouse": WarehouseResource()},
                           instance=dg.DagsterInstance.ephemeral())
    meta2 = {k: v.value for k, v in again.asset_materializations_for_node("internal_link_fixes")[0].metadata.items()}
    assert meta2["articles_fixed"] == 0


# -- links as the one CommonMark parse reads them (not a pattern over the text) -----------------------

HOST = "news.acme.example"
PARSED = f"""Intro with a [reference link][guide], an autolink <https://www.{HOST}/raised-beds-101/>, an
absolute link to the [own site](https://{HOST}/garden/raised-beds-101#tools) and one [elsewhere](https://other.example/old-compost).
Code is text, not a link: `[not a link](/no-such-code-page)` and <a href="/raw-html-target">raw HTML</a>.

```
[fenced](/no-such-fenced-page)
```

    [indented](/no-such-indented-page)

![an image](/images/raised-beds-101.jpg) and a [file](/downloads/plan.pdf) and a [niche page](/garden/).

[guide]: /raised-beds-101 "The guide"
"""


def test_internal_targets_come_from_the_parse():
    from allixios.content.site_links import internal_targets

    assert internal_targets(PARSED, HOST) == ["raised-beds-101", "raw-html-target", "garden"]
    # without the site's host, absolute links are outbound; the reference link and raw HTML still count
    assert internal_targets(PARSED) == ["raised-beds-101", "raw-html-target", "garden"]
    assert internal_targets("`[x](/in-code)` and\n\n    [y](/indented)\n") == []


def test_rewrite_touches_link_targets_only_never_code():
    from allixios.automation.link_fixes import rewrite_links

    out, count = rewrite_links(PARSED, {"raised-beds-101": "raised-beds-guide"}, HOST)
    assert count == 3  # the reference definition, the autolink, the absolute own-site link
    assert '[guide]: /raised-beds-guide "The guide"' in out
    assert f"<https://www.{HOST}/raised-beds-guide/>" in out and f"(https://{HOST}/garden/raised-beds-guide#tools)" in out
    assert "![an image](/images/raised-beds-101.jpg)" in out  # an image file is not the article
    untouched, none = rewrite_links("`[a](/raised-beds-101)`\n\n```\n[b](/raised-beds-101)\n```\n",
                                    {"raised-beds-101": "x"}, HOST)
    assert none == 0 and "(/raised-beds-101)" in untouched
    mixed, one = rewrite_links("[a](/raised-beds-101) and `[b](/raised-beds-101)`\n", {"raised-beds-101": "x"})
    assert one == 1 and mixed == "[a](/x) and `[b](/raised-beds-101)`\n"


def test_audit_and_fix_read_reference_links_autolinks_and_own_site_urls(db):
    from allixios.automation.link_fixes import fix_internal_links
    from allixios.automation.maintenance import validate_internal_links

    with connect(db) as conn:
        tenant = ensure_tenant(conn, "acme")
        add_niche(conn, tenant, "garden", "Home Gardening", ["beds"])
        conn.execute("UPDATE tenants SET custom_domain = %s WHERE id = %s", (HOST, tenant.id))
        update_tenant_settings(conn, "acme", {"min_quality": 0, "min_seo": 0, "min_body_chars": 0})
        tenant = ensure_tenant(conn, "acme")
        create_article(conn, tenant, "garden", "raised-beds-101", "Raised Beds 101", BODY, embed=False)
        source = create_article(conn, tenant, "garden", "soil-guide", "Soil Guide", BODY + "\n\n" + PARSED
                                + f"\nGone: <https://{HOST}/no-such-article/>\n", embed=False)
    with connect(db) as conn:
        audit = validate_internal_links(conn)
        broken = conn.execute("SELECT workflow_state -> 'broken_links' FROM articles WHERE id = %s",
                              (source,)).fetchone()[0]
    # the autolink to the own site is broken; code, images, files, the niche page and other sites are not links to check
    assert broken == ["no-such-article", "raw-html-target"]
    assert audit["with_broken_links"] == 1 and audit["broken_links"] == 2
    with connect(db) as conn:  # the SEO report reads the same links
        day, key = conn.execute("SELECT coalesce(a.partition_date, a.created_at::date), n.partition_key FROM articles a "
                                "JOIN niches n ON n.id = a.niche_id WHERE a.id = %s", (source,)).fetchone()
        report = pipeline.build_seo_report(conn, pipeline.resolve_partition(conn, day.isoformat(), key))
    assert report["broken_links"] == [{"source": "soil-guide", "href": "/raw-html-target"},
                                      {"source": "soil-guide", "href": f"https://{HOST}/no-such-article/"}]
    with connect(db) as conn:
        edit_article(conn, tenant, "raised-beds-101", EditInput(BODY, {"slug": "raised-beds-guide"}), actor="ed@acme")
        publish_article(conn, tenant, "raised-beds-guide", actor="ed@acme")
        result = fix_internal_links(conn)
        content = conn.execute("SELECT content FROM articles WHERE id = %s", (source,)).fetchone()[0]
    assert [f["rewritten"] for f in result["fixed"]] == [3]
    assert '[guide]: /raised-beds-guide "The guide"' in content and "raised-beds-101/>" not in content
    assert "`[not a link](/no-such-code-page)`" in content and "[fenced](/no-such-fenced-page)" in content
