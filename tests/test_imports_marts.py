"""The imports in dbt on the real database: staging of the new raw tables, the search marts
(per article x day and per keyphrase), imported affiliate/ad revenue in the revenue marts (with
revenue still conserved) and the search signals in the content-health composite. dbt builds once
for the module (a full build with every data test)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from allixios.analytics.imports import import_kind
from allixios.analytics.ingest import ingest_day
from allixios.analytics.simulator import simulate_traffic
from allixios.db.engine import connect
from resources.dbt import prepare_manifest
from tests.analytics_support import drop_dbt_relations, tenant_with_articles
from tests.test_dbt_marts import _wipe, run_dbt

START = date(2026, 11, 10)
DAYS = 9
LAST = START + timedelta(days=DAYS - 1)


def write(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture(scope="module")
def built(database_url, tmp_path_factory):
    _wipe(database_url)
    events = tmp_path_factory.mktemp("events")
    land = tmp_path_factory.mktemp("landing")
    with connect(database_url) as conn:
        drop_dbt_relations(conn)
        acme, articles = tenant_with_articles(conn, "acme", 6, START - timedelta(days=5))
        simulate_traffic(conn, DAYS, 300, START, "acme", seed=5, root=events, bad_share=0)
        for offset in range(DAYS):
            ingest_day(conn, START + timedelta(days=offset), root=events)
    a0, a1 = articles[0], articles[1]
    # Search Console: a0 ranks 2nd for a week, then falls to 9th with a tenth of the clicks
    lines = ["Date,Page,Query,Clicks,Impressions,CTR,Position"]
    for offset in range(DAYS - 1):
        day = START + timedelta(days=offset)
        lines += [f"{day},https://acme.test/n/{a0['slug']}/,best shoes,40,400,10%,2.0",
                  f"{day},https://acme.test/n/{a0['slug']}/,cheap shoes,10,100,10%,4.0"]
    lines += [f"{LAST},https://acme.test/n/{a0['slug']}/,best shoes,4,300,1.33%,9.0",
              f"{LAST},https://acme.test/n/{a0['slug']}/,cheap shoes,1,100,1%,11.0",
              f"{LAST},https://acme.test/n/{a1['slug']}/,best shoes,6,60,10%,5.0",
              f"{LAST},https://acme.test/pricing/,acme pricing,7,20,35%,1.0"]
    write(land / "search_console" / "acme" / "performance.csv", "\n".join(lines) + "\n")
    write(land / "fx_rates" / "rates.csv", f"date,currency,usd_per_unit\n{LAST - timedelta(days=1)},EUR,1.10\n{LAST},EUR,1.20\n")
    write(land / "affiliate" / "acme" / "orders.csv",
          "order_id,date,status,commission,currency,sub_id\n"
          f"O1,{LAST - timedelta(days=1)},approved,10.00,EUR,/n/{a0['slug']}/\n"
          f"O2,{LAST},declined,50.00,USD,/n/{a0['slug']}/\n"
          f"O3,{LAST},pending,3.00,USD,/nowhere/\n"
          f"O1,{LAST},reversed,-4.00,,\n")
    write(land / "ad_revenue" / "acme" / "ads.csv",
          f"date,page,revenue,currency\n{LAST},/n/{a1['slug']}/,2.00,EUR\n")
    with connect(database_url) as conn:
        for kind in ("search-console", "affiliate", "ad-revenue"):
            import_kind(conn, kind, root=land / kind.replace("-", "_"), rates_root=land / "fx_rates")
    prepare_manifest()
    results = run_dbt(tmp_path_factory.mktemp("dbt"), "--full-refresh")
    return {"acme": acme, "a0": a0, "a1": a1, "results": results, "events": events}


def rows(sql: str, params=None) -> list[tuple]:
    with connect() as conn:
        return conn.execute(sql, params).fetchall()


def test_the_build_passes_every_model_and_test_including_the_new_ones(built):
    results = built["results"]["results"]
    failed = [(r["unique_id"], r["status"], r.get("message")) for r in results if r["status"] not in ("success", "pass")]
    assert not failed
    names = {r["unique_id"].split(".")[-1] for r in results}
    for model in ("stg_search_console", "stg_ga4_events", "stg_traffic_pages", "stg_affiliate_orders",
                  "stg_ad_revenue", "int_imported_revenue_events", "mart_search_performance_daily",
                  "mart_search_keyphrase"):
        assert model in names
    assert any("conserved" in r["unique_id"] for r in results)  # revenue conservation counts the imports


def test_search_performance_per_article_and_day(built):
    a0 = built["a0"]["id"]
    got = rows("""SELECT clicks, impressions, ctr::float8, avg_position::float8, queries, is_unattributed
                  FROM marts.mart_search_performance_daily WHERE article_id = %s AND day = %s""", (a0, START))
    # (2.0 * 400 + 4.0 * 100) / 500 = 2.4
    assert got == [(50, 500, 0.1, 2.4, 2, False)]
    last = rows("""SELECT clicks, impressions, ctr::float8, avg_position::float8 FROM marts.mart_search_performance_daily
                   WHERE article_id = %s AND day = %s""", (a0, LAST))
    assert last == [(5, 400, 0.0125, 9.5)]  # (9 * 300 + 11 * 100) / 400
    unattributed = rows("""SELECT article_id, clicks, pages FROM marts.mart_search_performance_daily
                           WHERE is_unattributed AND day = %s""", (LAST,))
    assert unattributed == [(None, 7, 1)]


def test_search_keyphrase(built):
    got = rows("""SELECT clicks, impressions, avg_position::float8, days_seen, articles, top_article_id
                  FROM marts.mart_search_keyphrase WHERE query = 'best shoes'""")
    clicks = 40 * (DAYS - 1) + 4 + 6
    impressions = 400 * (DAYS - 1) + 300 + 60
    position = (2.0 * 400 * (DAYS - 1) + 9.0 * 300 + 5.0 * 60) / impressions
    assert got == [(clicks, impressions, round(position, 2), DAYS, 2, built["a0"]["id"])]
    assert rows("SELECT articles, top_article_id FROM marts.mart_search_keyphrase WHERE query = 'acme pricing'") == [
        (0, None)]


def test_imported_revenue_feeds_the_revenue_marts(built):
    a0, a1 = built["a0"]["id"], built["a1"]["id"]
    sale_day = LAST - timedelta(days=1)

    def fed(article, day, column):
        raw = rows(f"""SELECT coalesce(sum(amount_usd) FILTER (WHERE source = '{column}'), 0)::float8
                       FROM raw.revenue_events WHERE article_id = %s AND event_date = %s""", (article, day))[0][0]
        mart = rows(f"""SELECT {column}_usd::float8 FROM marts.fct_article_daily_performance
                        WHERE article_id = %s AND day = %s""", (article, day))[0][0]
        return round(mart - raw, 6)

    # 10 EUR at the 20th's 1.10, reversed by 4 EUR (booked on the sale's day, at the sale's rate); declined 0
    assert fed(a0, sale_day, "affiliate") == pytest.approx(11.0 - 4.4)
    assert fed(a0, LAST, "affiliate") == 0
    assert fed(a1, LAST, "ads") == pytest.approx(2.4)
    niche = rows("""SELECT sum(affiliate_usd)::float8 FROM marts.fct_niche_revenue_daily WHERE day = %s""", (sale_day,))[0][0]
    raw_affiliate = rows("""SELECT sum(amount_usd)::float8 FROM raw.revenue_events
                            WHERE source = 'affiliate' AND event_date = %s""", (sale_day,))[0][0]
    assert niche - raw_affiliate == pytest.approx(6.6)


def test_duckdb_cross_check_agrees_with_marts_that_hold_imported_revenue(built):
    """The second engine recounts the event files; the imported money is in the marts but in no event file."""
    from allixios.analytics.crosscheck import compare_with_marts, recount_day

    with connect() as conn:
        for day in (LAST - timedelta(days=1), LAST):
            assert compare_with_marts(conn, day, recount_day(conn, day, root=built["events"])) == []


def test_content_health_uses_the_search_signals(built):
    a0 = built["a0"]["id"]
    row = rows("""SELECT clicks, impressions, avg_position::float8, baseline_clicks::float8, baseline_position::float8,
                         click_drop_pct::float8, position_change::float8, search_score::float8, is_drop, drop_reason,
                         engagement_score::float8, quality_score::float8, seo_score::float8, revenue_usd::float8,
                         baseline_revenue_usd::float8, health_score::float8
                  FROM marts.mart_content_health WHERE article_id = %s AND day = %s""", (a0, LAST))[0]
    (clicks, impressions, position, base_clicks, base_position, click_drop, position_change, search_score, is_drop,
     reason, engagement, quality, seo, revenue, base_revenue, health) = row
    assert (clicks, impressions, position) == (5, 400, 9.5)
    assert (base_clicks, base_position) == (50.0, 2.4)
    assert click_drop == 90.0 and position_change == pytest.approx(7.1)
    assert is_drop and "search" in reason.split("+")
    # search score: position (11 - 9.5) / 10 -> 15, clicks 5 / 50 -> 10: mean 12.5
    assert search_score == 12.5
    parts = [(0.25, engagement), (0.20, quality), (0.15, seo), (0.25, search_score),
             (0.15, None if not base_revenue else 100 * min(1.0, revenue / base_revenue))]
    known = [(w, v) for w, v in parts if v is not None]
    assert health == pytest.approx(round(sum(w * v for w, v in known) / sum(w for w, _ in known), 1), abs=0.051)
    # an article without Search Console rows keeps a composite from the other signals
    other = rows("""SELECT search_score, health_score FROM marts.mart_content_health
                    WHERE article_id <> ALL(%s) AND day = %s LIMIT 1""", ([a0, built["a1"]["id"]], LAST))
    assert other and other[0][0] is None and other[0][1] is not None
