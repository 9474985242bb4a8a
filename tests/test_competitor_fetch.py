"""Competitors fetched over HTTP from a real local server (127.0.0.1, port 0): robots.txt honoured (the
disallowed URL is never requested), rate limited per host (the limiter's recorded waits and the server's
request spacing), cached (the second run is answered 304), one clear line per failure; the fetched
sitemap then becomes topics through the existing competitor-gap path (the real Dagster asset)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from allixios.automation.competitor_fetch import (
    PRIVATE_HOSTS_ENV,
    CompetitorFetcher,
    HostLimiter,
    fetch_competitors,
    non_public_address,
)
from allixios.cli import main
from allixios.db.engine import connect, fetch_dicts
from allixios.tenants import add_niche, ensure_tenant, get_tenant, update_tenant_settings

ROBOTS = b"User-agent: *\nDisallow: /private/\n"
SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>/blog/how-to-grow-garlic-in-pots</loc><priority>0.8</priority></url>
  <url><loc>/blog/overwintering-dahlia-tubers.html</loc></url>
</urlset>
"""
INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>/sitemap-posts.xml</loc></sitemap>
</sitemapindex>
"""
POSTS = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>/p/pruning-tomato-plants</loc></url></urlset>
"""
PAGE = b"<!doctype html><html><head><title>Choosing Worm Composting Bins</title></head><body>x</body></html>"
INTERVAL = 0.05


class Competitor(BaseHTTPRequestHandler):
    log: list[dict] = []
    docs = {"/robots.txt": (ROBOTS, "text/plain"), "/sitemap.xml": (SITEMAP, "application/xml"),
            "/sitemap_index.xml": (INDEX, "application/xml"), "/sitemap-posts.xml": (POSTS, "application/xml"),
            "/private/sitemap.xml": (SITEMAP, "application/xml"), "/worm-bins.html": (PAGE, "text/html")}

    def do_GET(self):  # noqa: N802 - http.server's name
        entry = {"path": self.path, "at": time.monotonic(), "inm": self.headers.get("If-None-Match"),
                 "ims": self.headers.get("If-Modified-Since"), "ua": self.headers.get("User-Agent")}
        self.log.append(entry)
        if self.path == "/moved.xml":
            self.send_response(301)
            self.send_header("Location", "/sitemap.xml")
            self.end_headers()
            return
        doc = self.docs.get(self.path)
        if doc is None:
            entry["status"] = 404
            self.send_error(404)
            return
        etag = f'"{hash(doc[0]) & 0xFFFFFF:x}"'
        if self.headers.get("If-None-Match") == etag:
            entry["status"] = 304
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        entry["status"] = 200
        self.send_response(200)
        self.send_header("Content-Type", doc[1])
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", "Mon, 30 Nov 2026 10:00:00 GMT")
        self.send_header("Content-Length", str(len(doc[0])))
        self.end_headers()
        self.wfile.write(doc[0])

    def log_message(self, *args):
        pass


@pytest.fixture(autouse=True)
def lab_hosts(monkeypatch):
    """The test servers listen on 127.0.0.1, which only an operator may allow."""
    monkeypatch.setenv(PRIVATE_HOSTS_ENV, "127.0.0.1")


@pytest.fixture(scope="module")
def competitor():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Competitor)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_robots_rate_limit_and_cache_then_gaps_become_topics(db, competitor, tmp_path):
    base = competitor
    urls = [f"{base}/sitemap.xml", f"{base}/private/sitemap.xml", f"{base}/sitemap_index.xml", f"{base}/worm-bins.html",
            f"{base}/missing.xml", f"{base}/moved.xml"]
    with connect(db) as conn:
        tenant = ensure_tenant(conn, "acme")
        add_niche(conn, tenant, "garden", "Home Gardening", ["beds"])
        tenant = update_tenant_settings(conn, "acme", {"competitor_sitemaps": {"garden": urls},
                                                       "competitor_fetch_interval_s": INTERVAL})
    Competitor.log.clear()
    with connect(db) as conn:
        fetcher = CompetitorFetcher(conn, tenant)
        first = fetch_competitors(conn, tenant, root=tmp_path, fetcher=fetcher)
    paths = [e["path"] for e in Competitor.log]
    assert "/private/sitemap.xml" not in paths  # robots.txt disallows it: never requested
    assert paths.count("/robots.txt") == 1 and paths[0] == "/robots.txt"
    assert all(e["ua"].startswith("AllixiosCompetitorBot") for e in Competitor.log)
    assert first.requests == len(paths) == 7  # robots, sitemap, index, its child, page, missing, moved
    # the limiter waited before every request after the first to this host, and the server saw them spaced
    assert len(fetcher.limiter.waits) >= len(paths) - 1 - 1  # a request may start after the interval on its own
    assert all(h == base.removeprefix("http://") for h, _ in fetcher.limiter.waits)
    starts = [e["at"] for e in Competitor.log]
    assert all(b - a >= INTERVAL * 0.9 for a, b in zip(starts, starts[1:], strict=False))
    reasons = {f["url"].removeprefix(base): f["reason"] for f in first.failures}
    assert reasons == {
        "/private/sitemap.xml": "disallowed by the host's robots.txt — not fetched; remove it from competitor_sitemaps",
        "/missing.xml": "answered HTTP 404 — check the URL with the competitor's site",
        "/moved.xml": "redirects (301) to /sitemap.xml — configure that URL instead",
    }
    assert first.fetched == 5 and first.not_modified == 0 and first.entries == 4 and len(first.files) == 3

    # the second run is answered from the cache: conditional GETs, 304s, the same files
    Competitor.log.clear()
    with connect(db) as conn:
        second = fetch_competitors(conn, tenant, root=tmp_path)
    by_path = {e["path"]: e for e in Competitor.log}
    assert by_path["/sitemap.xml"]["inm"] and by_path["/sitemap.xml"]["status"] == 304
    assert by_path["/robots.txt"]["status"] == 304 and "/private/sitemap.xml" not in by_path
    assert second.not_modified == 5 and second.fetched == 0 and second.entries == 4

    # the limiter itself: waits recorded against a fake clock, per host
    now = [0.0]
    limiter = HostLimiter(1.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    for host in ("a", "a", "b", "a"):
        limiter.wait(host)
    assert limiter.waits == [("a", 1.0), ("a", 1.0)]


class SlowCompetitor(Competitor):
    """A host whose robots.txt asks for a Crawl-delay of one second (robotparser reads whole seconds)."""
    log: list[dict] = []
    docs = {**Competitor.docs, "/robots.txt": (b"User-agent: *\nCrawl-delay: 1\n", "text/plain")}


def test_crawl_delay_of_robots_txt_lengthens_the_interval(db, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowCompetitor)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with connect(db) as conn:
            tenant = ensure_tenant(conn, "slowco")
            add_niche(conn, tenant, "garden", "Home Gardening", ["beds"])
            tenant = update_tenant_settings(conn, "slowco", {
                "competitor_sitemaps": {"garden": [f"{base}/sitemap.xml", f"{base}/sitemap-posts.xml"]},
                "competitor_fetch_interval_s": INTERVAL})
            fetcher = CompetitorFetcher(conn, tenant)
            result = fetch_competitors(conn, tenant, root=tmp_path, fetcher=fetcher)
    finally:
        server.shutdown()
        server.server_close()
    assert result.fetched == 3 and not result.failures  # robots.txt and both sitemaps
    host = base.removeprefix("http://")
    assert fetcher.limiter.per_host[host] == 1.0  # the host's delay, not the tenant's 0.05 s
    starts = [e["at"] for e in SlowCompetitor.log]
    assert len(starts) == 3 and all(b - a >= 0.95 for a, b in zip(starts, starts[1:], strict=False))


def test_non_public_hosts_are_refused_before_any_request(db, competitor, tmp_path, monkeypatch):
    """The URLs are the tenant's input: loopback, private and link-local hosts are never contacted."""
    monkeypatch.delenv(PRIVATE_HOSTS_ENV)
    with connect(db) as conn:
        tenant = ensure_tenant(conn, "nosy")
        add_niche(conn, tenant, "garden", "Home Gardening", ["beds"])
        tenant = update_tenant_settings(conn, "nosy", {"competitor_sitemaps": {"garden": [f"{competitor}/sitemap.xml"]}})
        Competitor.log.clear()
        result = fetch_competitors(conn, tenant, root=tmp_path)
    assert Competitor.log == [] and result.fetched == 0  # not even robots.txt
    assert result.failures and all(
        "resolves to the non-public address 127.0.0.1 — competitors must be public hosts" in f["reason"]
        and PRIVATE_HOSTS_ENV in f["reason"] for f in result.failures)
    for private in ("127.0.0.1", "10.1.2.3", "169.254.169.254", "192.168.0.1", "::1", "localhost"):
        assert non_public_address(private) is not None, private
    assert non_public_address("93.184.215.14") is None  # a public address (no lookup needed)
    monkeypatch.setenv(PRIVATE_HOSTS_ENV, "localhost, 10.1.2.3")
    assert non_public_address("LOCALHOST") is None and non_public_address("10.1.2.3") is None


@pytest.fixture
def landing():
    import shutil

    from allixios.automation.content_gaps import competitors_dir

    yield competitors_dir()
    shutil.rmtree(competitors_dir() / "acme", ignore_errors=True)  # the session's landing folder is shared


def test_fetched_sitemap_flows_into_the_gap_asset(db, competitor, landing):
    from allixios_assets.maintenance.upkeep import content_gaps
    from resources.warehouse import WarehouseResource

    with connect(db) as conn:
        tenant = ensure_tenant(conn, "acme")
        add_niche(conn, tenant, "garden", "Home Gardening", ["beds"])
        update_tenant_settings(conn, "acme", {"competitor_sitemaps": {"garden": [f"{competitor}/sitemap.xml"]},
                                              "competitor_fetch_interval_s": INTERVAL})
        other = ensure_tenant(conn, "rival")
        add_niche(conn, other, "garden", "Home Gardening", ["beds"])
    result = dg.materialize([content_gaps], resources={"warehouse": WarehouseResource()},
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success
    meta = {k: v.value for k, v in result.asset_materializations_for_node("content_gaps")[0].metadata.items()}
    assert meta["http_fetched"] == 2 and meta["topics_added"] == 2  # robots.txt + the sitemap
    with connect(db) as conn:
        topics = fetch_dicts(conn, "SELECT t.title, t.source, t.source_ref, n.tenant_id FROM topics t "
                                   "JOIN niches n ON n.id = t.niche_id ORDER BY t.title")
    assert [t["title"] for t in topics] == ["How To Grow Garlic In Pots", "Overwintering Dahlia Tubers"]
    host = competitor.removeprefix("http://")
    assert all(t["source"] == "competitor" and t["source_ref"].startswith(f"competitor gap: {host}/blog/")
               and t["tenant_id"] == tenant.id for t in topics)


def test_cli_sets_and_fetches_with_one_line_per_failure(db, competitor, capsys, landing):
    with connect(db) as conn:
        tenant = ensure_tenant(conn, "acme")
        add_niche(conn, tenant, "garden", "Home Gardening", ["beds"])
    assert main(["competitors", "set", "garden", "ftp://rival.example/x.xml", "-t", "acme"]) == 2
    assert "fix: configure full URLs such as https://" in capsys.readouterr().err
    assert main(["competitors", "set", "garden", "https://me:hunter2@rival.example/s.xml", "-t", "acme"]) == 2
    err = capsys.readouterr().err
    assert "fix: configure public URLs only" in err and "hunter2" not in err
    assert main(["competitors", "set", "garden", f"{competitor}/missing.xml", "-t", "acme"]) == 0
    with connect(db) as conn:
        update_tenant_settings(conn, "acme", {"competitor_fetch_interval_s": INTERVAL})
        assert get_tenant(conn, "acme").setting("competitor_sitemaps") == {"garden": [f"{competitor}/missing.xml"]}
    assert main(["competitors", "fetch", "-t", "acme", "--no-gaps"]) == 0
    out = capsys.readouterr().out
    assert f"failed: {competitor}/missing.xml: answered HTTP 404 — check the URL" in out
