"""A niche with two target locales publishes every article in both, with hreflang on the pages and in the
sitemap: the real site build, served over real HTTP, checked in headless Chromium."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from allixios.ai.catalogue import load_catalogue
from allixios.ai.client import LLMClient
from allixios.content import pipeline, translation
from allixios.db.engine import connect, fetch_dicts
from allixios.editorial.publish import unpublish_article
from allixios.publishing import releases
from allixios.publishing.site import build_site
from allixios.testing.catalogues import local_deployment, write_catalogue
from allixios.testing.llm_server import LocalLLMServer
from tests.locale_support import DAY, brief_of, fake_model_translation, publish_sources, setup_tenant
from tests.test_site_browser import CHROMIUM, FLAGS, fetch, free_port

BASE = "https://garden.example"
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
XHTML = "{http://www.w3.org/1999/xhtml}"


@pytest.fixture(autouse=True)
def offline_only(monkeypatch, tmp_path):
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ALLIXIOS_LOCAL_LLM_KEY", "local-key")
    monkeypatch.setenv("ALLIXIOS_HOME", str(tmp_path / "home"))


def translate(db, niche, llm):
    with connect(db) as conn:
        part = pipeline.resolve_partition(conn, DAY, niche.partition_key)
    return translation.translate_partition(lambda: connect(db), part, llm, run_id="site-test")


@pytest.fixture
def two_locales(db, tmp_path):
    """Two English sources translated into German and French by a (local, fake) real model over HTTP."""
    tenant, niche = setup_tenant(db, locales=("de", "fr"))
    sources = publish_sources(db, niche, model="openai/local-writer")
    with LocalLLMServer(responder=lambda messages, model: fake_model_translation(brief_of(messages))) as server:
        catalogue = load_catalogue(write_catalogue(tmp_path / "models.yaml",
                                                   {"writer": [local_deployment("local-writer", server.url)]}))
        _, res = translate(db, niche, LLMClient(catalogue, db))
    assert len(res.translated) == 4 and not res.rejected
    with connect(db) as conn:
        build = build_site(conn, tenant, base_url=BASE)
    return tenant, niche, sources, build


def page(slug_path: str, tenant="acme") -> str:
    return (releases.live_release(tenant) / slug_path.strip("/") / "index.html").read_text()


def hreflangs(html: str) -> dict[str, str]:
    return dict(re.findall(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)">', html))


def test_every_page_lists_its_language_versions_and_the_sitemap_says_the_same(two_locales, db):
    tenant, niche, sources, build = two_locales
    assert build.pages == 6
    # a translation adds no broken link of its own: it may only carry one its source has (the stand-in
    # writer of the sources now and then links to a guide that does not exist, as real writers do)
    broken = [re.match(r"(/(?:(de|fr)/)?\S+?/): link to (\S+) goes", w) for w in build.warnings if "link to" in w]
    assert all(broken), build.warnings
    source_links = {(m.group(1).split("/")[-2], m.group(3)) for m in broken if not m.group(2)}
    for m in broken:
        if m.group(2):
            assert (m.group(1).split("/")[-2].removesuffix(f"-{m.group(2)}"), m.group(3)) in source_links, m.group(0)
    with connect(db) as conn:
        live = fetch_dicts(conn, """SELECT s.slug AS source, a.slug, a.locale FROM article_translations t
                                    JOIN articles s ON s.id = t.source_article_id JOIN articles a ON a.id = t.article_id""")
    for source in sources:
        urls = {"en": f"{BASE}/garden/{source}/", "x-default": f"{BASE}/garden/{source}/"}
        urls |= {r["locale"]: f"{BASE}/{r['locale']}/garden/{r['slug']}/" for r in live if r["source"] == source}
        assert set(urls) == {"en", "de", "fr", "x-default"}
        for lang, url in urls.items():
            html = page(url.removeprefix(BASE))
            assert hreflangs(html) == urls, url  # every version lists all of them, itself included
            want = "en" if lang == "x-default" else lang
            assert f'<html lang="{want}">' in html
            assert f'<link rel="canonical" href="{url}">' in html
            assert 'name="robots"' not in html  # real (non-stand-in) translations are indexable
        de = page(urls["de"].removeprefix(BASE))
        assert '<meta property="og:locale" content="de_DE">' in de and '"inLanguage":"de"' in de
        assert 'hreflang="fr" lang="fr">Français</a>' in de and 'aria-current="true" lang="de">Deutsch' in de
    root = ET.parse(releases.live_release("acme") / "sitemap.xml").getroot()
    entries = {u.find(f"{SM}loc").text: {x.get("hreflang"): x.get("href") for x in u.findall(f"{XHTML}link")}
               for u in root.findall(f"{SM}url")}
    article_urls = [u for u in entries if u.count("/") > 4]
    assert len(article_urls) == 6
    for url in article_urls:
        alts = entries[url]
        assert set(alts) == {"en", "de", "fr", "x-default"} and url in alts.values()
        assert all(entries[h] == alts for h in alts.values())  # the group agrees from every member
    # listings stay in the tenant's default locale: the niche page shows the two English articles
    listing = page("/garden/")
    assert all(f'href="/garden/{s}/"' in listing for s in sources)
    assert "/de/garden/" not in listing and "/fr/garden/" not in listing


def test_served_over_http_and_in_chromium(two_locales, db):
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    tenant, niche, sources, build = two_locales
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with connect(db) as conn:
        build_site(conn, tenant, base_url=base)
        de_slug = conn.execute("SELECT slug FROM articles WHERE locale = 'de' ORDER BY slug LIMIT 1").fetchone()[0]
    proc = subprocess.Popen([sys.executable, "-m", "allixios.cli", "site", "serve", "--tenant", "acme", "--port",
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        for _ in range(100):
            try:
                if fetch(base + "/")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(f"site server did not start: {proc.stderr.read() if proc.poll() is not None else ''}")
        url = f"{base}/de/garden/{de_slug}/"
        assert fetch(url)[0] == 200
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(str(Path(os.environ["ALLIXIOS_HOME"]) / "chrome"),
                                                       executable_path=str(CHROMIUM), args=FLAGS, headless=True)
            try:
                tab = ctx.new_page()
                assert tab.goto(url, wait_until="load").status == 200
                assert tab.evaluate("document.documentElement.lang") == "de"
                alts = tab.evaluate("""[...document.querySelectorAll('link[rel=alternate][hreflang]')]
                                       .map(l => [l.hreflang, l.href])""")
                assert {h for h, _ in alts} == {"en", "de", "fr", "x-default"}
                for _, href in alts:  # every alternate answers 200 on the served site
                    assert tab.request.get(href).status == 200, href
                tab.click('nav.languages a[hreflang="fr"]')
                assert tab.evaluate("document.documentElement.lang") == "fr"
            finally:
                ctx.close()
        # the source withdrawn: its translations answer 410 after the next build
        source_id = next(iter(sources.values()))
        with connect(db) as conn:
            unpublish_article(conn, tenant, str(source_id), actor="editor@acme")
        translate(db, niche, LLMClient(database_url=db))
        with connect(db) as conn:
            build_site(conn, tenant, base_url=base)
            gone = conn.execute("""SELECT a.locale, a.slug FROM article_translations t JOIN articles a ON a.id = t.article_id
                                   WHERE t.source_article_id = %s""", (source_id,)).fetchall()
        assert len(gone) == 2
        for locale, slug in gone:
            assert fetch(f"{base}/{locale}/garden/{slug}/")[0] == 410
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_stand_in_translations_are_labelled_noindexed_and_kept_out_of_the_sitemap(db):
    tenant, niche = setup_tenant(db, locales=("de",))
    publish_sources(db, niche, titles=["Raised Beds for Beginners"], model="openai/local-writer")
    translate(db, niche, LLMClient(database_url=db))  # no key: the offline stand-in translator
    with connect(db) as conn:
        build_site(conn, tenant, base_url=BASE)
        slug = conn.execute("SELECT slug FROM articles WHERE locale = 'de'").fetchone()[0]
    html = page(f"/de/garden/{slug}/")
    assert "Stand-in translation." in html and 'name="robots" content="noindex' in html
    assert "Platzhalter-Übersetzung" in html
    sitemap = (releases.live_release("acme") / "sitemap.xml").read_text()
    assert f"/de/garden/{slug}/" not in sitemap and "xhtml:link" not in sitemap
