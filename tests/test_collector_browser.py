"""Headless Chromium reads pages of a built site served by `allixios site serve`: it scrolls, dwells
and clicks an affiliate link; exactly those views, their engaged time and the click arrive in raw,
and, after a dbt build of the day, in the marts.

Chromium is headless (its user agent says HeadlessChrome and navigator.webdriver is true), so the
site is configured with ``allow_headless`` — the per-site flag that exists for tests like this one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from allixios.db.engine import connect
from allixios.publishing.site import build_site
from tests.api_support import ServerThread
from tests.collector_support import make_site
from tests.site_support import BODY, live_article
from tests.test_collector_crash import free_port

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AFFILIATE = "https://shop.example/emergency-kit?tag=allixios-20"
LONG = BODY + "\n\n## More\n\n" + ("A long paragraph so that the page needs scrolling to be read to the end. " * 40 + "\n\n") * 6

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (apt-get install chromium)")


@pytest.fixture
def stack(sample_tenant, db, tmp_path, monkeypatch):
    monkeypatch.setenv("ALLIXIOS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ALLIXIOS_COLLECTOR_LAND_INTERVAL_S", "0.5")
    monkeypatch.setenv("ALLIXIOS_API_DISPATCH", "0")
    site_port = free_port()
    site_url = f"http://127.0.0.1:{site_port}"
    with connect(db) as conn:
        a = live_article(conn, sample_tenant, "personal_finance", "emergency-fund-basics", "Emergency Fund Basics",
                         LONG.format(topic="emergency funds", slug="emergency-fund-basics", link="index-funds-101")
                         + f"\n\nOur pick: [the emergency kit]({AFFILIATE}).\n")
        b = live_article(conn, sample_tenant, "personal_finance", "index-funds-101", "Index Funds 101",
                         link="emergency-fund-basics")
    from allixios.api.app import create_app

    with ServerThread(create_app(dispatch=False)) as api:
        make_site(db, sample_tenant, origin=site_url, collect_url=api.url, allow_headless=True)
        with connect(db) as conn:
            build_site(conn, sample_tenant, base_url=site_url)
        proc = subprocess.Popen([sys.executable, "-m", "allixios.cli", "site", "serve", "--port", str(site_port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(site_url + "/", timeout=2)
                    break
                except OSError:
                    time.sleep(0.1)
            yield site_url, {"a": str(a), "b": str(b)}
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_chromium_views_engaged_time_and_affiliate_click_arrive_in_raw_and_the_marts(stack, db, tmp_path):
    from playwright.sync_api import sync_playwright

    site_url, ids = stack
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(tmp_path / "chrome-profile"), executable_path=str(CHROMIUM),
                                                       args=FLAGS, headless=True)
        try:
            # the affiliate shop is not on this network: answer it locally
            context.route("https://shop.example/**", lambda route: route.fulfill(body="<p>shop</p>",
                                                                                   content_type="text/html"))
            page = context.new_page()
            collected = []
            page.on("request", lambda r: collected.append(r.url) if r.url.endswith("/v1/collect") else None)
            started_a = time.monotonic()
            page.goto(site_url + "/personal-finance/emergency-fund-basics/", wait_until="load")
            loaded_a = time.monotonic()
            page.wait_for_function("window.allixiosBeacon !== undefined")
            for _ in range(12):  # read down the page
                page.mouse.wheel(0, 900)
                page.wait_for_timeout(150)
            page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
            page.wait_for_timeout(1500)  # dwell
            clicked_a = time.monotonic()
            page.click(f'a[href="{AFFILIATE}"]')
            page.wait_for_url("https://shop.example/**")
            left_a = time.monotonic()

            started_b = time.monotonic()
            page.goto(site_url + "/personal-finance/index-funds-101/", wait_until="load")
            loaded_b = time.monotonic()
            page.wait_for_function("window.allixiosBeacon !== undefined")
            page.wait_for_timeout(1000)
            page.goto("about:blank")
            left_b = time.monotonic()
            page.wait_for_timeout(500)
        finally:
            context.close()

    # what this test did, counted by the test itself
    expected_views = {ids["a"]: (clicked_a - loaded_a, left_a - started_a), ids["b"]: (left_b - loaded_b - 0.3, left_b - started_b)}
    deadline = time.monotonic() + 30
    while True:
        with connect(db) as conn:
            views = conn.execute("""SELECT article_id::text, time_on_page_s, scroll_depth, visitor_hash
                                    FROM raw.page_events""").fetchall()
            clicks = conn.execute("SELECT article_id::text, href, affiliate FROM raw.link_clicks").fetchall()
        if (len(views) >= 2 and all(v[1] > 0 for v in views) and clicks) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert sorted(v[0] for v in views) == sorted(expected_views), (views, collected)
    for article_id, engaged, _depth, visitor in views:
        low, high = expected_views[article_id]
        assert low - 0.3 <= engaged <= high + 0.5, (article_id, engaged, low, high)
        assert len(visitor) == 32
    by_article = {v[0]: v for v in views}
    assert by_article[ids["a"]][2] >= 0.95  # read to the end
    assert views[0][3] == views[1][3]  # one reader, one visitor id (no cookie needed)
    assert clicks == [(ids["a"], AFFILIATE, True)]

    # ... and in the marts, after the day's dbt build (the path analytics_job takes)
    import json
    from datetime import UTC, datetime

    from tests.test_dbt_marts import run_dbt

    today = datetime.now(UTC).date().isoformat()
    run_dbt(tmp_path, "--vars", json.dumps({"start_date": today, "end_date": today}))
    with connect(db) as conn:
        facts = dict(conn.execute("""SELECT article_id::text, views FROM marts.fct_article_daily_performance
                                     WHERE day = %s""", (today,)).fetchall())
        engaged = dict(conn.execute("""SELECT article_id::text, avg_time_on_page_s::float8
                                       FROM marts.fct_article_daily_performance WHERE day = %s""", (today,)).fetchall())
        marts_clicks = conn.execute("""SELECT article_id::text, outbound_clicks, affiliate_clicks
                                       FROM marts.fct_article_clicks_daily WHERE day = %s""", (today,)).fetchall()
    assert facts == {ids["a"]: 1, ids["b"]: 1}
    for article_id, seconds, _depth, _visitor in views:
        assert engaged[article_id] == pytest.approx(seconds, abs=0.06)  # the mart rounds to 0.1 s
    assert marts_clicks == [(ids["a"], 1, 1)]
