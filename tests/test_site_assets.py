"""The publishing asset group on a real Dagster instance, the crawl-based link check, `articles show`."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg
import pytest

from allixios.db.engine import connect
from allixios.publishing import releases
from allixios.publishing.linkcheck import check_site_links, crawl_release
from allixios.publishing.site import build_site
from tests.site_support import live_article, publish_change


@pytest.fixture(autouse=True)
def own_home(monkeypatch, tmp_path):
    monkeypatch.setenv("ALLIXIOS_HOME", str(tmp_path / "home"))


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "allixios.cli", *args], capture_output=True, text=True)


def test_publishing_job_builds_the_site_with_media(sample_tenant, db, tmp_path):
    from allixios_assets.definitions import defs
    from allixios_assets.instance import prepare_dagster_home

    with connect(db) as conn:
        live_article(conn, sample_tenant, "personal_finance", "emergency-fund-basics", "Emergency Fund Basics")
    prepare_dagster_home(tmp_path / "dagster_home")
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("publishing_job").execute_in_process(instance=instance)
        assert result.success
        site_event = instance.get_latest_materialization_event(dg.AssetKey("tenant_sites"))
        media_event = instance.get_latest_materialization_event(dg.AssetKey("media_library"))
    meta = site_event.asset_materialization.metadata
    assert meta["article_pages"].value == 1 and meta["rendered"].value == 1
    assert media_event.asset_materialization.metadata["generated_stand_ins"].value == 2  # featured + body image
    assert releases.live_release("sample") is not None
    with connect(db) as conn:
        featured = conn.execute("SELECT featured_image_url FROM articles").fetchone()[0]
    assert featured.startswith("/_media/emergency-fund-basics-")
    graph = defs.resolve_asset_graph()
    assert dg.AssetKey("published_articles") in graph.get(dg.AssetKey("media_library")).parent_keys


def test_link_check_crawls_the_built_site(sample_tenant, db):
    with connect(db) as conn:
        a = live_article(conn, sample_tenant, "personal_finance", "emergency-fund-basics", "Emergency Fund Basics",
                         link="index-funds-101")
        live_article(conn, sample_tenant, "personal_finance", "index-funds-101", "Index Funds 101",
                     link="emergency-fund-basics")
    with connect(db) as conn:
        build_site(conn, sample_tenant)
    live = releases.live_release("sample")
    clean = crawl_release(live, "http://127.0.0.1:4500")
    assert clean.broken == {} and clean.images >= 4 and clean.pages >= 5
    # break a page by hand (as a bad theme or a lost media file would): the crawl names it
    page = live / "personal-finance" / "emergency-fund-basics" / "index.html"
    text = page.read_text().replace('href="/personal-finance/index-funds-101/"', 'href="/personal-finance/nowhere/"')
    page.unlink()  # the file is hard-linked into later releases; replace it, never edit in place
    page.write_text(text)
    with connect(db) as conn:
        totals = check_site_links(conn)
        broken = conn.execute("SELECT workflow_state -> 'site_broken_links' FROM articles WHERE id = %s", (a,)).fetchone()[0]
    assert totals["broken_links"] == 1 and totals["tenants_crawled"] == 1
    assert broken == ["/personal-finance/nowhere/"]


def test_articles_show_body_and_html(sample_tenant, db):
    with connect(db) as conn:
        a = live_article(conn, sample_tenant, "personal_finance", "emergency-fund-basics", "Emergency Fund Basics",
                         "Live body with **bold** text.")
        conn.execute("UPDATE articles SET content = 'Edited, not yet published.' WHERE id = %s", (a,))
    body = cli("articles", "show", "emergency-fund-basics", "--body")
    assert body.returncode == 0 and body.stdout == "Live body with **bold** text.\n"
    page = cli("articles", "show", "emergency-fund-basics", "--html")
    assert page.returncode == 0 and "<strong>bold</strong>" in page.stdout
    assert "<title>Emergency Fund Basics | Guide</title>" in page.stdout
    with connect(db) as conn:
        publish_change(conn, a, content="Second live body.")
    assert cli("articles", "show", "emergency-fund-basics", "--body").stdout == "Second live body.\n"
    missing = cli("articles", "show", "no-such-article", "--html")
    assert missing.returncode == 2 and missing.stderr.startswith("error:") and "fix:" in missing.stderr


def test_site_cli_status_and_rollback_errors(sample_tenant, db):
    none_yet = cli("site", "rollback")
    assert none_yet.returncode == 2 and "no release older" in none_yet.stderr and "fix:" in none_yet.stderr
    with connect(db) as conn:
        live_article(conn, sample_tenant, "remote_work", "deep-focus", "Deep Focus", "Body.")
    built = cli("site", "build", "--no-media")
    assert built.returncode == 0 and "is live" in built.stdout
    status = cli("site", "status")
    assert status.returncode == 0 and "live release" in status.stdout and "1 live articles" in status.stdout
    bad = cli("site", "rollback", "--to", "nope")
    assert bad.returncode == 2 and "release 'nope'" in bad.stderr
