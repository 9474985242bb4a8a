"""`make run`'s simulated readers go through the collector over real HTTP (still the simulator's traffic)."""

from __future__ import annotations

from datetime import UTC, datetime

from allixios.analytics.ingest import feed_folder
from allixios.analytics.simulator import simulate_traffic
from allixios.collector.replay import send_day_through_collector
from allixios.db.engine import connect
from tests.site_support import live_article


def test_todays_simulated_views_arrive_through_the_collector(sample_tenant, db, tmp_path, monkeypatch):
    monkeypatch.setenv("ALLIXIOS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ALLIXIOS_COLLECTOR_LAND_INTERVAL_S", "0.5")
    today = datetime.now(UTC).date()
    with connect(db) as conn:
        live_article(conn, sample_tenant, "personal_finance", "emergency-fund-basics", "Emergency Fund Basics")
        live_article(conn, sample_tenant, "personal_finance", "index-funds-101", "Index Funds 101")
        sim = simulate_traffic(conn, days=1, events_per_day=120, tenant_slug=sample_tenant.slug, seed=3)
    folder = feed_folder(today, sample_tenant.slug)
    simulated_pages = sorted(p.name for p in folder.glob("page_*"))
    assert simulated_pages and sim["simulator"] == "offline traffic simulator"
    with connect(db) as conn:
        sent = send_day_through_collector(conn, sample_tenant, today, "http://127.0.0.1:4599",
                                          "http://127.0.0.1:1/v1/collect")
    assert sent["views_sent"] > 50 and sent["statuses"] == {202: sent["views_sent"]}
    landed = sent["landed"]
    assert landed["read"] == sent["views_sent"] == landed["loaded"] + landed["rejected"] + landed["duplicate"]
    assert landed["loaded"] > 0 and sent["clicks"] > 0
    # the day's page traffic is the collector's feed now (revenue files stay)
    assert all(p.name.startswith("page_collector-") for p in folder.glob("page_*"))
    assert list(folder.glob("revenue_*"))
    with connect(db) as conn:
        in_raw = conn.execute("SELECT count(*), count(DISTINCT visitor_hash), sum(time_on_page_s) FROM raw.page_events "
                              "WHERE event_date = %s", (today,)).fetchone()
    assert in_raw[0] == landed["loaded"] and in_raw[1] > 1 and in_raw[2] > 0
