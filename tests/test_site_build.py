"""The site build on a real PostgreSQL: pages, SEO head, sitemaps, feeds, redirects, incremental, atomic."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from allixios.db.engine import connect
from allixios.errors import ValidationError
from allixios.publishing import releases
from allixios.publishing.config import contrast, load_config, site_base_url
from allixios.publishing.site import build_site
from tests.site_support import live_article, publish_change, soft_delete

BASE = "https://news.example.org"


class Head(HTMLParser):
    """title, meta, links, JSON-LD blocks, img tags and hrefs of a page."""

    def __init__(self, text: str):
        super().__init__()
        self.title, self.meta, self.links, self.jsonld, self.imgs, self.hrefs = "", {}, {}, [], [], []
        self._in = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "title":
            self._in = "title"
        elif tag == "meta":
            self.meta[a.get("name") or a.get("property")] = a.get("content")
        elif tag == "link":
            self.links[a.get("rel")] = a.get("href")
        elif tag == "script" and a.get("type") == "application/ld+json":
            self._in = "ld"
        elif tag == "img":
            self.imgs.append(a)
        elif tag == "a":
            self.hrefs.append(a.get("href"))

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "title":
            self.title += data
        elif self._in == "ld":
            self.jsonld.append(json.loads(data))


def page(release, path: str) -> str:
    rel = path.lstrip("/")
    return (release / (rel + "index.html" if path.endswith("/") else rel)).read_text()


@pytest.fixture(autouse=True)
def own_home(monkeypatch, tmp_path):
    """Each test gets its own site and media folders (the database is the session's)."""
    monkeypatch.setenv("ALLIXIOS_HOME", str(tmp_path / "home"))


@pytest.fixture
def site(sample_tenant, db):
    with connect(db) as conn:
        conn.execute("UPDATE tenants SET custom_domain = 'news.example.org', primary_color = '#ffdd00' WHERE id = %s",
                     (sample_tenant.id,))
        ids = {
            "a": live_article(conn, sample_tenant, "personal_finance", "emergency-fund-basics", "Emergency Fund Basics",
                              link="index-funds-101"),
            "b": live_article(conn, sample_tenant, "personal_finance", "index-funds-101", "Index Funds 101",
                              model="offline/writer", link="emergency-fund-basics"),
            "c": live_article(conn, sample_tenant, "home_gardening", "raised-beds", "Raised Beds",
                              link="deleted-article"),
        }
    return sample_tenant, ids


def build(db, tenant, **kw):
    with connect(db) as conn:
        return build_site(conn, tenant, **kw)


def test_article_page_carries_the_full_seo_head(site, db):
    tenant, _ = site
    result = build(db, tenant)
    assert result.pages == 3 and result.rendered == 3
    live = releases.live_release(tenant.slug)
    h = Head(page(live, "/personal-finance/emergency-fund-basics/"))
    assert h.title == "Emergency Fund Basics | Guide"
    assert h.meta["description"] == "Emergency Fund Basics: a practical guide for readers."
    assert h.links["canonical"] == f"{BASE}/personal-finance/emergency-fund-basics/"
    assert h.meta["og:url"] == h.links["canonical"] and h.meta["twitter:card"] == "summary_large_image"
    assert h.meta["og:image"].startswith(f"{BASE}/_media/")
    assert "robots" not in h.meta  # a real article is indexable
    article, crumbs = h.jsonld
    assert article["@type"] == "Article" and article["headline"] == "Emergency Fund Basics"
    assert {"description", "author", "datePublished", "dateModified", "image", "publisher"} <= set(article)
    assert [i["name"] for i in crumbs["itemListElement"]] == ["Home", "Personal Finance", "Emergency Fund Basics"]
    # the internal link points at the target's page; every image has alt, width, height and srcset
    assert "/personal-finance/index-funds-101/" in h.hrefs
    assert h.imgs and all(i.get("alt") and i.get("width") and i.get("height") and i.get("srcset") for i in h.imgs)
    for img in h.imgs:
        assert (live / img["src"].lstrip("/")).is_file()
    assert '<html lang="en">' in page(live, "/personal-finance/emergency-fund-basics/")
    # a light brand colour gets dark header text (contrast), read from the tenant's branding columns
    css = next((live / "_assets").iterdir()).read_text()
    assert "--primary: #ffdd00" in css and "--on-primary: #111111" in css
    with connect(db) as conn:
        assert site_base_url(tenant, conn) == BASE
    assert site_base_url(tenant) == BASE


def test_stand_in_articles_are_labelled_noindexed_and_kept_out_of_the_sitemap(site, db):
    tenant, _ = site
    build(db, tenant)
    live = releases.live_release(tenant.slug)
    text = page(live, "/personal-finance/index-funds-101/")
    assert Head(text).meta["robots"] == "noindex, nofollow"
    assert "Stand-in content." in text and "offline writer" in text
    assert Head(text).meta["allixios-stand-in"] == "offline writer" and "<!-- stand-in content:" in text
    locs = [e.text for e in ET.parse(live / "sitemap.xml").getroot().iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert f"{BASE}/personal-finance/emergency-fund-basics/" in locs
    assert f"{BASE}/personal-finance/index-funds-101/" not in locs
    feed = ET.parse(live / "personal-finance" / "feed.xml").getroot()
    titles = [e.text for e in feed.iter("{http://www.w3.org/2005/Atom}title")]
    assert "Index Funds 101 (offline stand-in)" in titles


def test_links_to_missing_articles_become_text_with_a_warning(site, db):
    tenant, _ = site
    result = build(db, tenant)
    text = page(releases.live_release(tenant.slug), "/home-gardening/raised-beds/")
    assert "deleted-article" not in text and "link to the sibling" in text
    assert any("link to /deleted-article goes to no live article" in w and "fix:" in w for w in result.warnings)


def test_raw_html_and_script_are_sanitised_and_broken_markdown_renders(sample_tenant, db):
    body = ('Hello <script>alert(1)</script> <img src=x onerror="alert(2)"> [click](javascript:alert(3))\n\n'
            '<div onclick="evil()">boxed</div>\n\n**unclosed *emphasis and `code\n\n| a | b\n|--\n')
    with connect(db) as conn:
        live_article(conn, sample_tenant, "remote_work", "unsafe-body", "Unsafe Body", body)
    build(db, sample_tenant)
    text = page(releases.live_release(sample_tenant.slug), "/remote-work/unsafe-body/")
    body_html = text.split('<div class="body">')[1].split("</article>")[0]
    assert "<script" not in body_html and "onerror" not in body_html and "onclick" not in body_html
    assert "href=\"javascript" not in body_html and "boxed" in body_html and "unclosed" in body_html


def test_incremental_build_renders_only_what_changed_and_lists_changed_urls(site, db):
    tenant, ids = site
    first = build(db, tenant)
    second = build(db, tenant)
    assert second.rendered == 0 and second.reused == 3 and second.changed_urls == []
    with connect(db) as conn:
        publish_change(conn, ids["c"], title="Raised Beds That Last")
    third = build(db, tenant)
    assert third.rendered == 1 and third.reused == 2
    assert f"{BASE}/home-gardening/raised-beds/" in third.changed_urls
    assert f"{BASE}/" in third.changed_urls  # the home page lists the new title
    assert third.previous_release == second.release != first.release


def test_slug_change_redirects_and_deleted_article_is_gone(site, db):
    tenant, ids = site
    build(db, tenant)
    with connect(db) as conn:
        publish_change(conn, ids["b"], slug="index-funds-explained")
        soft_delete(conn, ids["c"])
    result = build(db, tenant)
    live = releases.live_release(tenant.slug)
    rules = (live / "_redirects").read_text().splitlines()
    assert "/personal-finance/index-funds-101/ /personal-finance/index-funds-explained/ 301" in rules
    assert "/home-gardening/raised-beds/ /410.html 410" in rules
    assert result.redirects == 1 and result.gone == 1
    assert f"{BASE}/home-gardening/raised-beds/" in result.removed_urls
    # the article that linked to the old slug now links to the new one (and was rendered again)
    assert "/personal-finance/index-funds-explained/" in Head(page(live, "/personal-finance/emergency-fund-basics/")).hrefs
    assert not (live / "home-gardening" / "raised-beds").exists()
    assert "raised-beds" not in (live / "sitemap.xml").read_text()
    assert not (live / "home-gardening" / "feed.xml").exists()  # the niche has no live article left


def test_sitemap_index_past_the_limit(site, db):
    tenant, _ = site
    build(db, tenant, sitemap_limit=2)
    live = releases.live_release(tenant.slug)
    root = ET.parse(live / "sitemap.xml").getroot()
    assert root.tag.endswith("sitemapindex")
    parts = [e.text for e in root.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert parts == [f"{BASE}/sitemap-{n}.xml" for n in range(1, len(parts) + 1)] and len(parts) == 3
    assert (live / "robots.txt").read_text().endswith(f"Sitemap: {BASE}/sitemap.xml\n")


def test_pagination_of_niche_pages(sample_tenant, db):
    with connect(db) as conn:
        conn.execute("UPDATE tenants SET settings = settings || '{\"site\": {\"per_page\": 2}}' WHERE id = %s",
                     (sample_tenant.id,))
        for n in range(5):
            live_article(conn, sample_tenant, "remote_work", f"remote-tip-{n}", f"Remote Tip {n}", "Short body.")
    build(db, sample_tenant, with_media=False)
    live = releases.live_release(sample_tenant.slug)
    assert (live / "remote-work" / "page" / "3" / "index.html").is_file()
    assert not (live / "remote-work" / "page" / "4").exists()
    assert 'rel="next"' in page(live, "/remote-work/") and "Page 3 of 3" in page(live, "/remote-work/page/3/")


def test_rollback_switches_back_in_one_step_and_old_releases_are_pruned(site, db):
    tenant, ids = site
    first = build(db, tenant)
    with connect(db) as conn:
        publish_change(conn, ids["a"], title="Changed Title")
    second = build(db, tenant)
    with connect(db) as conn:
        before, after = releases.rollback(conn, tenant.id, tenant.slug)
    assert (before, after) == (second.release, first.release)
    assert releases.live_release(tenant.slug).name == first.release
    with connect(db) as conn:
        conn.execute("UPDATE tenants SET settings = settings || '{\"site\": {\"keep_releases\": 2}}' WHERE id = %s",
                     (tenant.id,))
    for _ in range(3):
        build(db, tenant)
    assert len(releases.list_releases(tenant.slug)) == 2


def test_theme_folder_overrides_templates(site, db, tmp_path):
    tenant, _ = site
    theme = tmp_path / "theme"
    theme.mkdir()
    (theme / "site.css").write_text("/* tenant theme */ body { color: #222; }\n")
    with connect(db) as conn:
        conn.execute("UPDATE tenants SET settings = settings || jsonb_build_object('site', jsonb_build_object("
                     "'theme_dir', %s::text)) WHERE id = %s", (str(theme), tenant.id))
    build(db, tenant)
    css = next((releases.live_release(tenant.slug) / "_assets").iterdir()).read_text()
    assert css.startswith("/* tenant theme */")


def test_bad_branding_is_reported_not_injected(sample_tenant, db):
    with connect(db) as conn:
        conn.execute("UPDATE tenants SET primary_color = 'red;}</style><script>' WHERE id = %s", (sample_tenant.id,))
        cfg = load_config(conn, sample_tenant)
    assert cfg.primary_color == "#1f4e79" and "not a #rgb/#rrggbb colour" in cfg.warnings[0]
    assert contrast("#ffffff", "#000000") == pytest.approx(21.0)


def test_full_disk_mid_build_leaves_the_live_release(site, db):
    tenant, ids = site
    first = build(db, tenant)
    with connect(db) as conn:
        publish_change(conn, ids["a"], content="A much longer body. " * 400)

    def small_files():  # a real write failure from the kernel (EFBIG) on the first large page
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (6000, 6000))

    proc = subprocess.run([sys.executable, "-m", "allixios.cli", "site", "build", "--no-media"], preexec_fn=small_files,
                          capture_output=True, text=True, env=os.environ | {"PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("error: site build of 'sample' stopped:") and f"live release {first.release} is unchanged" in line
    assert "— fix: free disk space" in line
    assert releases.live_release(tenant.slug).name == first.release
    assert not list(releases.releases_dir(tenant.slug).glob(".*.partial"))


def test_media_folder_images_are_optimised_and_stripped(sample_tenant, db):
    from PIL import Image

    with connect(db) as conn:
        cfg = load_config(conn, sample_tenant)
    cfg.media_dir.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (1600, 900), (20, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    img.save(cfg.media_dir / "raised-beds.jpg", "JPEG", exif=exif)
    (cfg.media_dir / "raised-beds.jpg.credit.txt").write_text("Photo: A. Gardener\nCC-BY-4.0\n")
    (cfg.media_dir / "images").mkdir()
    (cfg.media_dir / "images" / "raised-beds-1.jpg").write_bytes(b"this is not an image")
    with connect(db) as conn:
        live_article(conn, sample_tenant, "home_gardening", "raised-beds", "Raised Beds", "No body images.")
    build(db, sample_tenant)
    with connect(db) as conn:
        row = conn.execute("""SELECT m.source, m.width, m.height, m.credit, m.licence, m.public_path, m.variants,
                                     a.featured_image_url
                              FROM media_assets m JOIN articles a ON a.featured_media_id = m.id""").fetchone()
    source, w, h, credit, licence, path, variants, featured = row
    assert (source, w, h, credit, licence) == ("folder", 1600, 900, "Photo: A. Gardener", "CC-BY-4.0")
    assert featured == path and [v["width"] for v in variants] == [480, 800, 1200]
    live = releases.live_release(sample_tenant.slug)
    for p in [path] + [v["path"] for v in variants]:
        with Image.open(live / p.lstrip("/")) as out:
            assert not out.getexif() and "exif" not in out.info
    # a file that is not an image is refused with one line
    from allixios.publishing.media import optimise

    with pytest.raises(ValidationError) as err:
        optimise(b"this is not an image", "x", cfg.media_dir, "images/raised-beds-1.jpg")
    assert "is not a readable image" in err.value.one_line() and "fix:" in err.value.one_line()


def test_missing_image_gets_a_labelled_stand_in_and_one_warning(site, db):
    tenant, _ = site
    result = build(db, tenant)
    line = next(w for w in result.warnings if "/images/raised-beds-1.jpg" in w)
    assert "is not in the media folder" in line and "stand-in was generated — fix: put the file there" in line
    with connect(db) as conn:
        row = conn.execute("SELECT is_stand_in, source, credit FROM media_assets WHERE source_ref = "
                           "'/images/raised-beds-1.jpg'").fetchone()
    assert row[0] is True and row[1] == "generated" and "stand-in" in row[2]


def test_article_slug_equal_to_another_niche_does_not_collide(sample_tenant, db):
    # an article slugged like a niche's URL segment lives under its own niche: both pages exist
    with connect(db) as conn:
        live_article(conn, sample_tenant, "personal_finance", "remote-work", "Remote Work and Money", "Body one.")
        live_article(conn, sample_tenant, "remote_work", "home-office", "Home Office", "Body two.")
    build(db, sample_tenant, with_media=False)
    live = releases.live_release(sample_tenant.slug)
    assert "Remote Work and Money" in page(live, "/personal-finance/remote-work/")
    assert "Home Office" in page(live, "/remote-work/")
