"""The built site in a real browser: `allixios site serve` + headless Chromium (Playwright, Debian's binary)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from allixios.db.engine import connect
from allixios.publishing.site import build_site
from tests.site_support import live_article, publish_change, soft_delete

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (apt-get install chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str, method: str = "GET"):
    """(status, headers) without following redirects."""
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, method=method), timeout=10) as resp:
            return resp.status, resp.headers
    except urllib.error.HTTPError as err:
        return err.code, err.headers


@pytest.fixture
def served(sample_tenant, db, tmp_path, monkeypatch):
    monkeypatch.setenv("ALLIXIOS_HOME", str(tmp_path / "home"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with connect(db) as conn:
        ids = {
            "a": live_article(conn, sample_tenant, "personal_finance", "emergency-fund-basics", "Emergency Fund Basics",
                              link="index-funds-101"),
            "b": live_article(conn, sample_tenant, "personal_finance", "index-funds-101", "Index Funds 101",
                              model="offline/writer", link="emergency-fund-basics"),
            "c": live_article(conn, sample_tenant, "home_gardening", "raised-beds", "Raised Beds",
                              link="emergency-fund-basics"),
        }
    with connect(db) as conn:
        build_site(conn, sample_tenant, base_url=base)
    with connect(db) as conn:  # a slug change and a deletion, then a second build
        publish_change(conn, ids["b"], slug="index-funds-explained")
        soft_delete(conn, ids["c"])
    with connect(db) as conn:
        build_site(conn, sample_tenant, base_url=base)
    proc = subprocess.Popen([sys.executable, "-m", "allixios.cli", "site", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        for _ in range(100):
            try:
                if fetch(base + "/")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(f"site server did not start: {proc.stderr.read() if proc.poll() is not None else ''}")
        yield base, tmp_path
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def browser(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # a persistent context is Playwright's way to give Chromium a fresh --user-data-dir of our own
        context = p.chromium.launch_persistent_context(str(tmp_path / "chrome-profile"), executable_path=str(CHROMIUM),
                                                       args=FLAGS, headless=True)
        try:
            yield context
        finally:
            context.close()


def open_page(browser, url: str):
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    response = page.goto(url, wait_until="load")
    # bring lazy images into view so the browser loads every one of them
    page.evaluate("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; i.scrollIntoView(); })")
    page.wait_for_load_state("networkidle")
    return page, response, errors


def test_article_page_in_chromium(served, browser):
    base, _ = served
    url = f"{base}/personal-finance/emergency-fund-basics/"
    page, response, errors = open_page(browser, url)
    assert response.status == 200
    assert page.title() == "Emergency Fund Basics | Guide"
    assert page.locator('meta[name="description"]').get_attribute("content") == \
        "Emergency Fund Basics: a practical guide for readers."
    assert page.locator('link[rel="canonical"]').get_attribute("href") == url
    blocks = [json.loads(t) for t in page.locator('script[type="application/ld+json"]').all_text_contents()]
    article = next(b for b in blocks if b["@type"] == "Article")
    assert article["headline"] == "Emergency Fund Basics" and article["mainEntityOfPage"]["@id"] == url
    assert article["image"][0].startswith(base + "/_media/")
    assert next(b for b in blocks if b["@type"] == "BreadcrumbList")["itemListElement"][2]["item"] == url
    assert page.evaluate("document.documentElement.lang") == "en"
    images = page.evaluate("[...document.images].map(i => [i.currentSrc, i.complete, i.naturalWidth, i.alt])")
    assert len(images) >= 2
    for src, complete, width, alt in images:
        assert complete and width > 0 and alt, src
    # the link written to the old slug now points at the new one
    assert page.locator('a[href="/personal-finance/index-funds-explained/"]').count() == 1
    assert errors == []
    page.close()


def test_every_internal_link_answers_200(served, browser):
    base, _ = served
    seen, queue = set(), ["/"]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        page, response, errors = open_page(browser, base + path)
        assert response.status == 200, path
        assert errors == [], (path, errors)
        hrefs = page.evaluate("[...document.querySelectorAll('a[href], link[href], img[src]')]"
                              ".map(e => e.getAttribute('href') || e.getAttribute('src'))")
        page.close()
        for href in hrefs:
            target = urljoin(base + path, href)
            if not target.startswith(base):
                continue
            tpath = urlsplit(target).path
            if tpath.endswith("/"):
                queue.append(tpath)
            else:
                assert fetch(target)[0] == 200, (path, href)
    assert {"/", "/personal-finance/", "/personal-finance/emergency-fund-basics/"} <= seen
    assert len(seen) >= 4


def test_deleted_article_is_410_and_old_slug_redirects(served, browser):
    base, _ = served
    status, _ = fetch(f"{base}/home-gardening/raised-beds/")
    assert status == 410
    status, headers = fetch(f"{base}/personal-finance/index-funds-101/")
    assert status == 301 and headers["Location"] == "/personal-finance/index-funds-explained/"
    page, response, _ = open_page(browser, f"{base}/personal-finance/index-funds-101/")
    assert page.url == f"{base}/personal-finance/index-funds-explained/" and response.status == 200
    assert page.locator('meta[name="robots"]').get_attribute("content") == "noindex, nofollow"
    assert "Stand-in content." in page.locator(".notice").inner_text()
    page.close()
    assert fetch(f"{base}/no-such-page/")[0] == 404


def test_content_types_and_caching_headers(served):
    base, _ = served
    status, headers = fetch(base + "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "public, max-age=60"
    html = urllib.request.urlopen(base + "/").read().decode()
    css = html.split('rel="stylesheet" href="')[1].split('"')[0]
    status, headers = fetch(base + css)
    assert headers["Content-Type"] == "text/css; charset=utf-8"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    status, headers = fetch(base + "/sitemap.xml")
    assert status == 200 and headers["Content-Type"].startswith("application/xml")
    status, headers = fetch(base + "/personal-finance/feed.xml")
    assert headers["Content-Type"].startswith("application/atom+xml")
    assert fetch(base + "/robots.txt")[1]["Content-Type"] == "text/plain; charset=utf-8"
    assert fetch(base + "/_redirects")[0] == 404 and fetch(base + "/.manifest")[0] == 404
    assert fetch(base + "/personal-finance")[0] == 301
