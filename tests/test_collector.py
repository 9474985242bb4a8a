"""The collector over real HTTP: accepted events land in raw through the file ingest; every refusal
has its reason and is counted; the visitor id rotates with the daily salt."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from allixios.collector import lander, privacy
from allixios.collector.lander import FEED_PREFIX, land_once
from allixios.db.engine import connect
from tests.api_support import ServerThread
from tests.collector_support import BROWSER_UA, ORIGIN, event, headers, make_site, view_id
from tests.site_support import live_article

PATH_A = "/personal-finance/emergency-fund-basics/"
PATH_B = "/personal-finance/index-funds-101/"


@pytest.fixture
def world(sample_tenant, db, tmp_path, monkeypatch):
    monkeypatch.setenv("ALLIXIOS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ALLIXIOS_COLLECTOR_LANDER", "0")  # the tests land when they choose
    monkeypatch.setenv("ALLIXIOS_API_DISPATCH", "0")
    with connect(db) as conn:
        a = live_article(conn, sample_tenant, "personal_finance", "emergency-fund-basics", "Emergency Fund Basics")
        b = live_article(conn, sample_tenant, "personal_finance", "index-funds-101", "Index Funds 101")
    site = make_site(db, sample_tenant)
    from allixios.api.app import create_app

    with ServerThread(create_app(dispatch=False)) as server:
        yield server, site, {"a": str(a), "b": str(b)}


def post(server, body, **hdrs) -> httpx.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(server.url + "/v1/collect", content=data, headers=headers(**hdrs), timeout=30, trust_env=False)


def test_views_engagement_and_clicks_land_in_raw(world, db):
    server, site, ids = world
    v1, v2 = view_id(), view_id()
    assert post(server, event(site.site_key, "view", v1, PATH_A, r="https://search.example/")).status_code == 202
    assert post(server, [event(site.site_key, "engage", v1, PATH_A, 1, e=4.5, s=0.4),
                         event(site.site_key, "engage", v1, PATH_A, 2, e=12.0, s=0.9)]).status_code == 202
    click = post(server, event(site.site_key, "click", v1, PATH_A, 3, h="https://shop.example/p?tag=x", a=True))
    assert click.status_code == 202 and click.json() == {"accepted": 1}
    assert click.headers["access-control-allow-origin"] == ORIGIN
    assert post(server, event(site.site_key, "view", v2, PATH_B)).status_code == 202
    summaries = land_once()
    assert [s["views"] for s in summaries] == [2]
    with connect(db) as conn:
        rows = conn.execute("""SELECT event_id, article_id::text, time_on_page_s, scroll_depth, device, visitor_hash,
                                      referrer FROM raw.page_events ORDER BY time_on_page_s DESC""").fetchall()
        clicks = conn.execute("SELECT view_id, article_id::text, href, affiliate FROM raw.link_clicks").fetchall()
        files = conn.execute("""SELECT rows_read, rows_loaded, rows_rejected, rows_duplicate FROM raw.ingested_files
                                WHERE source_file LIKE %s""", (f"%/{FEED_PREFIX}%",)).fetchall()
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [(v1, ids["a"], 12.0, 0.9), (v2, ids["b"], 0.0, 0.0)]
    assert rows[0][4] == "desktop" and rows[0][6] == "https://search.example/"
    assert rows[0][5] == rows[1][5] and len(rows[0][5]) == 32  # same visitor today (same IP and agent)
    assert clicks == [(v1, ids["a"], "https://shop.example/p?tag=x", True)]
    assert files == [(2, 2, 0, 0)]
    # landing again (nothing new, or after a crash) changes nothing
    assert land_once() == []
    with connect(db) as conn:  # as if everything since the first byte of the log had never committed
        conn.execute("DELETE FROM collector_landing")
    lander._folders.clear()
    land_once()
    with connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM raw.page_events").fetchone()[0] == 2
        assert conn.execute("SELECT count(*) FROM raw.link_clicks").fetchone()[0] == 1


def test_bad_input_each_gets_its_reason_and_is_counted(world, db, monkeypatch):
    server, site, _ = world
    key = site.site_key
    cases = {
        "forged key": (post(server, event("site_forged", "view", view_id(), PATH_A)), 403, "unknown site key"),
        "wrong origin": (post(server, event(key, "view", view_id(), PATH_A), origin="https://evil.example"), 403,
                         "origin https://evil.example is not one of this site's origins"),
        "no origin": (httpx.post(server.url + "/v1/collect", content=json.dumps(event(key, "view", view_id(), PATH_A)),
                                 headers={"User-Agent": BROWSER_UA}, trust_env=False), 403, "origin (none)"),
        "crawler": (post(server, event(key, "view", view_id(), PATH_A), ua="Googlebot/2.1 (+http://www.google.com/bot.html)"),
                    403, "bot: user agent of a crawler"),
        "headless": (post(server, event(key, "view", view_id(), PATH_A), ua=BROWSER_UA.replace("Chrome", "HeadlessChrome")),
                     403, "bot: headless browser"),
        "webdriver": (post(server, {**event(key, "view", view_id(), PATH_A), "wd": True}), 403, "bot: headless browser"),
        "10 MB": (post(server, b"x" * 10_000_000), 413, "over the limit"),
        "20 kB": (post(server, b"[" + b" " * 20_000 + b"]"), 413, "collector body over"),
        "not json": (post(server, b"{nope"), 400, "body is not JSON"),
        "bad type": (post(server, event(key, "purchase", view_id(), PATH_A)), 422, "malformed event: event type"),
        "bad view id": (post(server, event(key, "view", "x", PATH_A)), 422, "view id"),
    }
    for name, (resp, status, text) in cases.items():
        assert resp.status_code == status, (name, resp.text)
        body = resp.json()
        assert text in body["detail"] and body["fix"], (name, body)
    dnt = post(server, event(key, "view", view_id(), PATH_A), DNT="1")
    assert dnt.status_code == 204
    # a bot storm from one address is rate limited (the API's PostgreSQL limiter), then refused by reason
    monkeypatch.setenv("ALLIXIOS_COLLECTOR_RATE_VISITOR", "5")
    storm = [post(server, event(key, "view", view_id(), PATH_A), ua="storm-agent Chrome/1").status_code for _ in range(8)]
    assert storm == [202] * 5 + [429] * 3
    with connect(db) as conn:
        refusals = dict(conn.execute("SELECT reason, hits FROM collector_refusals").fetchall())
    assert refusals["unknown site key"] == 1
    assert refusals["bot: user agent of a crawler or HTTP library"] == 1
    assert refusals["collector rate limit of 5/min per visitor"] == 3
    assert not any("track" in r for r in refusals)  # Do-Not-Track keeps nothing, not even a count
    assert refusals["body over the API limit of 1048576 bytes (refused before reading it)"] == 1  # the 10 MB post
    assert sum(refusals.values()) == 14  # every refusal above


def test_contract_rejects_skew_unknown_pages_and_replays(world, db):
    from allixios.api.routes.collect import CLAMPED_REASON

    server, site, _ = world
    key = site.site_key
    good, replayed = view_id(), view_id()
    skewed, stale, missing = view_id(), view_id(), view_id()
    now = datetime.now(UTC)
    for ev in (event(key, "view", good, PATH_A), event(key, "view", replayed, PATH_A),
               event(key, "view", replayed, PATH_A),  # the same view sent again
               event(key, "view", skewed, PATH_A, ts=now + timedelta(hours=2)),  # a fast clock: clamped
               event(key, "view", missing, "/personal-finance/no-such-page/"),
               event(key, "click", missing, "/personal-finance/no-such-page/", 1, h="https://out.example/")):
        assert post(server, ev).status_code == 202
    far = post(server, event(key, "view", stale, PATH_A, ts=now - timedelta(days=2)))  # a clock days off: refused
    assert far.status_code == 422 and "clock skewed: timestamp 48 h behind" in far.json()["detail"]
    land_once()
    with connect(db) as conn:
        loaded = dict(conn.execute("SELECT event_id, event_ts FROM raw.page_events").fetchall())
        reasons = [r[0] for r in conn.execute("SELECT reason FROM raw.rejected_events ORDER BY line_number").fetchall()]
        file = conn.execute("""SELECT rows_read, rows_loaded, rows_rejected, rows_duplicate FROM raw.ingested_files
                               WHERE source_file LIKE %s""", (f"%/{FEED_PREFIX}%",)).fetchone()
        refusals = dict(conn.execute("SELECT reason, hits FROM collector_refusals").fetchall())
    assert set(loaded) == {good, replayed, skewed}
    assert abs((loaded[skewed] - now).total_seconds()) < 120  # the receive time, not the page's clock
    assert file == (5, 3, 1, 1)  # read = loaded + rejected + duplicate
    assert reasons == ["url matches no article of this tenant"]
    assert refusals.pop(CLAMPED_REASON) == 1
    assert refusals.pop("click rejected: url matches no article of this tenant") == 1
    assert list(refusals) == ["clock skewed: timestamp 48 h behind the collector's clock (more than 24 h)"]


def test_daily_salt_rotates_and_is_not_kept(db, sample_tenant):
    privacy._salt = None
    with connect(db) as conn:
        s1 = privacy.daily_salt(conn, date(2026, 11, 30))
        privacy._salt = None
        s2 = privacy.daily_salt(conn, date(2026, 12, 1))
        days = [r[0] for r in conn.execute("SELECT day FROM collector_salts").fetchall()]
    assert s1 != s2 and days == [date(2026, 12, 1)]
    ua, ip = BROWSER_UA, "203.0.113.9"
    assert privacy.visitor_hash(s1, "k", ip, ua) != privacy.visitor_hash(s2, "k", ip, ua)
    privacy._salt = None
    from allixios.collector.lander import purge_old_salts

    today = datetime.now(UTC).date()
    with connect(db) as conn:
        conn.execute("INSERT INTO collector_salts VALUES (%s, 'x') ON CONFLICT DO NOTHING", (today - timedelta(days=1),))
    purge_old_salts()  # every lander tick: no salt outlives its day, even without traffic
    with connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM collector_salts WHERE day < %s", (today,)).fetchone()[0] == 0


def test_built_pages_carry_the_hashed_beacon(sample_tenant, db, tmp_path, monkeypatch):
    from allixios.publishing import releases
    from allixios.publishing.site import build_site

    monkeypatch.setenv("ALLIXIOS_HOME", str(tmp_path / "home"))
    with connect(db) as conn:
        live_article(conn, sample_tenant, "personal_finance", "emergency-fund-basics", "Emergency Fund Basics")
        build_site(conn, sample_tenant, base_url="http://127.0.0.1:4599")
    root = releases.live_release(sample_tenant.slug)
    page = (root / "personal-finance" / "emergency-fund-basics" / "index.html").read_text()
    assert "beacon-" not in page  # no collecting site yet: no tag
    site = make_site(db, sample_tenant, collect_url="http://127.0.0.1:4598")
    with connect(db) as conn:
        build_site(conn, sample_tenant, base_url="http://127.0.0.1:4599")
    root = releases.live_release(sample_tenant.slug)
    page = (root / "personal-finance" / "emergency-fund-basics" / "index.html").read_text()
    [asset] = list((root / "_assets").glob("beacon-*.js"))
    assert (f'<script defer src="/_assets/{asset.name}" data-site="{site.site_key}" '
            f'data-collect="http://127.0.0.1:4598/v1/collect"></script>') in page
    assert "document.cookie" not in asset.read_text() and "localStorage" not in asset.read_text()
    assert "beacon-" not in (root / "index.html").read_text()  # listings are not article views


def test_landing_is_incremental_and_matches_the_file_ingest(world, db, monkeypatch):
    """Micro-batches: each tick lands only the new log lines into small feed segments; engagement for
    a view of an earlier segment updates that segment; a tick that dies before its commit is redone
    exactly; and the day's file ingest (the daily analytics run) rebuilds the very same rows."""
    from allixios.analytics.ingest import ingest_day

    server, site, _ = world
    key = site.site_key
    monkeypatch.setattr(lander, "SEGMENT_ROWS", 3)
    first = [view_id() for _ in range(4)]
    assert post(server, [event(key, "view", v, PATH_A) for v in first]).status_code == 202
    [s1] = land_once()
    assert [seg["source_file"].rsplit("/", 1)[1] for seg in s1["segments"]] == [
        "page_collector-000001.jsonl", "page_collector-000002.jsonl"]
    # the next tick: two new views, a late engagement for the first view (segment 1), a replay
    later = [view_id(), view_id()]
    assert post(server, [event(key, "view", v, PATH_B) for v in later]
                + [event(key, "engage", first[0], PATH_A, 1, e=30.0, s=0.75),
                   event(key, "view", first[1], PATH_A)]).status_code == 202
    real = lander._land_segment
    monkeypatch.setattr(lander, "_land_segment", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("crash")))
    with pytest.raises(RuntimeError):
        land_once()  # files written, nothing committed (as a kill -9 between the two)
    monkeypatch.setattr(lander, "_land_segment", real)
    lander._folders.clear()  # a new process
    [s2] = land_once()
    assert s2["log_lines"] == 4 and sorted(seg["source_file"][-11:] for seg in s2["segments"]) == [
        "00001.jsonl", "00002.jsonl", "00003.jsonl"]

    def snapshot():
        with connect(db) as conn:
            rows = conn.execute("""SELECT event_id, time_on_page_s, scroll_depth FROM raw.page_events
                                   ORDER BY event_id""").fetchall()
            files = conn.execute("""SELECT source_file, rows_read, rows_loaded, rows_rejected, rows_duplicate
                                    FROM raw.ingested_files ORDER BY source_file""").fetchall()
        return rows, files

    rows, files = snapshot()
    assert len(rows) == 6 and (first[0], 30.0, 0.75) in rows
    assert sum(f[1] for f in files) == 7 and sum(f[4] for f in files) == 1  # the replay: a duplicate
    assert land_once() == []
    with connect(db) as conn:
        ingest_day(conn, datetime.now(UTC).date(), kinds=("page",))
    assert snapshot() == (rows, files)
