"""Imports from the tools teams use (allixios/analytics/imports.py) on the real database: Search
Console (UI CSV and bulk export), GA4 (BigQuery JSONL events and the UI CSV), Plausible, affiliate
orders with reversals and ad revenue converted with the day's rates; bad input kept with one
reason; re-runs idempotent; tenants isolated; the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from allixios.analytics.imports import import_kind
from allixios.db.engine import connect
from tests.analytics_support import tenant_with_articles

DAY = date(2026, 11, 20)


@pytest.fixture
def world(db, tmp_path, monkeypatch):
    """Tenants acme (4 articles) and globex (2), an empty landing root and the day's rates."""
    home = tmp_path / "home"
    monkeypatch.setenv("ALLIXIOS_HOME", str(home))
    with connect(db) as conn:
        acme, acme_articles = tenant_with_articles(conn, "acme", 4, date(2026, 11, 1))
        globex, globex_articles = tenant_with_articles(conn, "globex", 2, date(2026, 11, 1))
    land = home / "landing"
    write(land / "fx_rates" / "rates.csv", "date,currency,usd_per_unit\n2026-11-20,EUR,1.10\n2026-11-21,EUR,1.20\n"
                                             "2026-11-20,GBP,1.25\n")
    return {"land": land, "acme": acme, "globex": globex, "acme_articles": acme_articles,
            "globex_articles": globex_articles, "url": db}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def run(kind: str, **kwargs) -> dict:
    with connect() as conn:
        return import_kind(conn, kind, **kwargs)


def q(sql: str, params=None) -> list[tuple]:
    with connect() as conn:
        return conn.execute(sql, params).fetchall()


def files(kind: str) -> dict[str, dict]:
    rows = q("""SELECT source_file, rows_read, rows_loaded, rows_rejected, rows_duplicate, status, error, shape
                FROM raw.import_files WHERE kind = %s""", (kind,))
    return {r[0]: dict(zip(("read", "loaded", "rejected", "duplicate", "status", "error", "shape"), r[1:], strict=True))
            for r in rows}


def reasons(kind: str) -> list[str]:
    return [r[0] for r in q("SELECT reason FROM raw.import_rejections WHERE kind = %s ORDER BY source_file, line_number",
                            (kind,))]


def reconciled(kind: str) -> None:
    for name, f in files(kind).items():
        assert f["read"] == f["loaded"] + f["rejected"] + f["duplicate"], name


GSC_UI = """Date,Page,Query,Clicks,Impressions,CTR,Position
2026-11-20,https://acme.test/n/{a0}/,best shoes,10,100,10%,2.0
2026-11-20,https://acme.test/n/{a0}/,cheap shoes,5,300,1.67%,6.0
2026-11-20,https://acme.test/n/{a1}/,best shoes,1,50,2%,9.5
2026-11-20,https://acme.test/about/,acme,3,10,30%,1.0
2026-11-20,https://acme.test/n/{a0}/,best shoes,10,100,10%,2.0
2026-11-2x,https://acme.test/n/{a0}/,bad day,1,2,50%,1.0
"""


def test_search_console_ui_csv_loads_attributes_keeps_unattributed_and_counts_duplicates(world):
    a = [x["slug"] for x in world["acme_articles"]]
    write(world["land"] / "search_console" / "acme" / "performance.csv", GSC_UI.format(a0=a[0], a1=a[1]))
    summary = run("search-console")
    totals = summary["tenants"]["acme"]
    assert (totals["rows_read"], totals["rows_loaded"], totals["rows_rejected"], totals["rows_duplicate"]) == (6, 4, 1, 1)
    reconciled("search-console")
    rows = q("SELECT page, query, article_id::text, clicks, impressions, ctr, position FROM raw.search_console ORDER BY page, query")
    by_article = {x["slug"]: str(x["id"]) for x in world["acme_articles"]}
    about = [r for r in rows if r[0].endswith("/about/")]
    assert about and about[0][2] is None  # kept, unattributed
    assert {r[2] for r in rows if a[0] in r[0]} == {by_article[a[0]]}
    cheap = next(r for r in rows if r[1] == "cheap shoes")
    assert cheap[5] == pytest.approx(0.0167) and cheap[6] == 6.0
    assert reasons("search-console") == ["date '2026-11-2x' is not YYYY-MM-DD or YYYYMMDD"]
    # a re-run is idempotent
    again = run("search-console")
    assert again["tenants"]["acme"] == totals
    assert q("SELECT count(*) FROM raw.search_console")[0][0] == 4
    assert q("SELECT count(*) FROM raw.import_rejections")[0][0] == 1
    assert len(files("search-console")) == 1


def test_search_console_bulk_export_jsonl_and_parquet(world):
    slug = world["acme_articles"][0]["slug"]
    records = [
        {"data_date": "2026-11-20", "site_url": "sc-domain:acme.test", "url": f"https://acme.test/{slug}",
         "query": "shoes", "is_anonymized_query": False, "country": "deu", "search_type": "WEB", "device": "MOBILE",
         "impressions": 40, "clicks": 4, "sum_position": 80},
        {"data_date": "2026-11-20", "site_url": "sc-domain:acme.test", "url": f"https://acme.test/{slug}",
         "query": None, "is_anonymized_query": True, "country": "usa", "search_type": "WEB", "device": "DESKTOP",
         "impressions": 10, "clicks": 0, "sum_position": 0},
    ]
    folder = world["land"] / "search_console" / "acme"
    write(folder / "bulk.jsonl", "\n".join(json.dumps(r) for r in records) + "\n")
    pl.DataFrame(records[:1]).with_columns(pl.lit("2026-11-21").alias("data_date")).write_parquet(folder / "bulk2.parquet")
    run("search-console")
    rows = q("SELECT day, query, country, device, search_type, clicks, impressions, ctr, position FROM raw.search_console "
             "ORDER BY day, query")
    assert rows[0][1:] == ("", "USA", "desktop", "web", 0, 10, 0.0, 1.0)  # anonymized: query '', position 0-based -> 1
    assert rows[1][1:] == ("shoes", "DEU", "mobile", "web", 4, 40, 0.1, 3.0)  # 80 / 40 + 1
    assert rows[2][0] == date(2026, 11, 21)
    assert {f["shape"] for f in files("search-console").values()} == {"bulk"}
    reconciled("search-console")


def test_a_renamed_column_rejects_only_that_file_naming_the_column(world):
    folder = world["land"] / "search_console" / "acme"
    write(folder / "a_renamed.csv", "Date,Page,Query,Clicks,Impresions,CTR,Position\n2026-11-20,/x,q,1,2,50%,1\n"
                                    "2026-11-20,/y,q,1,2,50%,1\n")
    write(folder / "b_good.csv", "Date,Page,Query,Clicks,Impressions,CTR,Position\n2026-11-20,/x,q,1,2,50%,1\n")
    run("search-console")
    f = files("search-console")
    bad = f["search_console/acme/a_renamed.csv"]
    assert (bad["status"], bad["read"], bad["rejected"]) == ("rejected", 2, 2)
    assert "no 'impressions' column" in bad["error"] and "'Impresions'" in bad["error"]
    assert "expects date, page, query, clicks, impressions, position" in bad["error"]
    assert f["search_console/acme/b_good.csv"]["loaded"] == 1
    assert len(reasons("search-console")) == 1  # one reason for the file, not one per row
    reconciled("search-console")


def test_another_locales_numbers_parse_unambiguously_or_are_rejected_with_the_fix(world):
    folder = world["land"] / "search_console" / "acme"
    # a German export: decimal comma, dot thousands, "12,3 %"
    write(folder / "de.csv", 'Date,Page,Query,Clicks,Impressions,CTR,Position\n'
                             '2026-11-20,/a,q,"1.234","10.000","12,3 %","3,5"\n2026-11-20,/b,q,7,70,"10 %","1,25"\n')
    # both marks in one file: which is meant cannot be guessed
    write(folder / "mixed.csv", 'Date,Page,Query,Clicks,Impressions,CTR,Position\n'
                                '2026-11-20,/c,q,1,10,0.1,"2,5"\n2026-11-20,/d,q,1,10,0.1,2.25\n')
    # only values that read both ways: ambiguous rows rejected, plain ones loaded
    write(folder / "plain.csv", 'Date,Page,Query,Clicks,Impressions,CTR,Position\n'
                                '2026-11-20,/e,q,1,"1,234",,3\n2026-11-20,/f,q,1,10,,3\n')
    run("search-console")
    rows = dict((r[0], r[1:]) for r in q("SELECT page, clicks, impressions, ctr, position FROM raw.search_console"))
    assert rows["/a"] == (1234, 10000, pytest.approx(0.123), 3.5)
    assert rows["/b"] == (7, 70, pytest.approx(0.1), 1.25)
    f = files("search-console")
    assert f["search_console/acme/mixed.csv"]["status"] == "rejected"
    assert "both decimal marks" in f["search_console/acme/mixed.csv"]["error"]
    assert "/f" in rows and "/e" not in rows
    assert any("impressions '1,234' is ambiguous" in r and "--decimal point or --decimal comma" in r
               for r in reasons("search-console"))
    # the operator's fix: say the mark
    run("search-console", decimal="point")
    rows = dict((r[0], r[1:]) for r in q("SELECT page, impressions FROM raw.search_console"))
    assert rows["/e"] == (1234,)
    reconciled("search-console")


def test_ga4_bigquery_events_and_ui_csv(world):
    slug = world["acme_articles"][1]["slug"]
    event = {"event_date": "20261120", "event_timestamp": "1795176000000000", "event_name": "page_view",
             "user_pseudo_id": "123.456",
             "event_params": [{"key": "ga_session_id", "value": {"int_value": "1795175000"}},
                              {"key": "page_location", "value": {"string_value": f"https://acme.test/n/{slug}/?utm=x"}},
                              {"key": "engagement_time_msec", "value": {"int_value": 4500}}],
             "device": {"category": "mobile"}, "geo": {"country": "Germany"}, "traffic_source": {"source": "google"}}
    other = dict(event, event_timestamp="1795176001000000", event_name="user_engagement")
    folder = world["land"] / "ga4" / "acme"
    write(folder / "events_20261120.jsonl", "\n".join(json.dumps(e) for e in (event, other, event)) + "\n{broken\n")
    write(folder / "pages.csv", "# ----------------------------------------\n# Pages and screens\n# Start date: 20261101\n"
                                "\nDate,Page path and screen class,Views,Active users,Average engagement time,Bounce rate\n"
                                f'20261120,/n/{slug}/,"1,234",1000,00:01:05,45.5%\n20261120,/nowhere/,5,4,12.5,10%\n')
    summary = run("ga4")
    assert summary["tenants"]["acme"]["rows_read"] == 6
    rows = q("SELECT event_name, session_id, page, article_id::text, engagement_time_s, device, country, traffic_source "
             "FROM raw.ga4_events ORDER BY event_ts")
    article = str(world["acme_articles"][1]["id"])
    assert rows[0] == ("page_view", "1795175000", f"https://acme.test/n/{slug}/?utm=x", article, 4.5, "mobile",
                       "Germany", "google")
    assert len(rows) == 2
    f = files("ga4")
    events = f["ga4/acme/events_20261120.jsonl"]
    assert (events["loaded"], events["duplicate"], events["rejected"], events["shape"]) == (2, 1, 1, "bigquery_events")
    pages = q("SELECT page, article_id::text, views, visitors, avg_time_s, bounce_rate FROM raw.traffic_pages "
              "WHERE tool = 'ga4' ORDER BY page")
    assert pages == [(f"/n/{slug}/", article, 1234, 1000, 65.0, pytest.approx(0.455)), ("/nowhere/", None, 5, 4, 12.5, 0.1)]
    reconciled("ga4")


def test_plausible_pages_export(world):
    slug = world["acme_articles"][2]["slug"]
    write(world["land"] / "plausible" / "acme" / "imported_pages.csv",
          "date,hostname,page,visits,visitors,pageviews,exits,time_on_page\n"
          f"2026-11-20,acme.test,/n/{slug},12,10,20,8,600\n2026-11-20,acme.test,/,3,3,3,3,30\n"
          f"2026-11-20,acme.test,/n/{slug},x,10,20,8,600\n")
    run("plausible")
    rows = q("SELECT page, article_id IS NOT NULL, views, visitors, visits, avg_time_s FROM raw.traffic_pages "
             "WHERE tool = 'plausible' ORDER BY page")
    assert rows == [("/", False, 3, 3, 3, 10.0), (f"/n/{slug}", True, 20, 10, 12, 30.0)]
    assert reasons("plausible") == ["visits 'x' is not a number"]
    reconciled("plausible")


AFFILIATE = """order_id,date,status,commission,currency,sub_id,network
A1,2026-11-20,approved,10.00,EUR,/n/{a0}/,awin
A2,2026-11-20,pending,4.00,USD,/n/{a1}/,awin
A3,2026-11-20,declined,9.00,USD,/n/{a1}/,awin
A4,2026-11-20,approved,5.00,JPY,/n/{a1}/,awin
A5,2026-11-20,approved,5.00,XYZ,/n/{a1}/,awin
A6,2026-11-20,approved,2.00,GBP,/nowhere/,awin
A7,2026-11-20,maybe,2.00,USD,/n/{a1}/,awin
"""
REVERSALS = """order_id,date,status,commission,currency,sub_id,network
A1,2026-11-21,reversed,-4.00,,,awin
Z9,2026-11-21,reversed,-1.00,USD,,awin
A3,2026-11-21,chargeback,,,,awin
A2,2026-11-21,reversed,-5.00,,,awin
"""


def test_affiliate_orders_with_reversals_statuses_and_the_rates_of_the_day(world):
    a = [x["slug"] for x in world["acme_articles"]]
    folder = world["land"] / "affiliate" / "acme"
    write(folder / "2026-11-20.csv", AFFILIATE.format(a0=a[0], a1=a[1]))
    write(folder / "2026-11-21.csv", REVERSALS)
    run("affiliate")
    rows = {(r[0], r[1]): r[2:] for r in q(
        "SELECT order_id, entry, status, day, article_id::text, commission::float8, currency, commission_usd::float8 "
        "FROM raw.affiliate_orders")}
    first = str(world["acme_articles"][0]["id"])
    assert rows[("A1", "sale")] == ("approved", DAY, first, 10, "EUR", pytest.approx(11.0))  # the 20th's EUR rate
    # the reversal offsets the sale: the sale's currency and rate (not the 21st's), its article
    assert rows[("A1", "reversal")] == ("reversed", date(2026, 11, 21), first, -4, "EUR", pytest.approx(-4.4))
    assert rows[("A6", "sale")][2] is None  # unattributed, kept
    assert set(rows) == {("A1", "sale"), ("A1", "reversal"), ("A2", "sale"), ("A3", "sale"), ("A6", "sale")}
    why = reasons("affiliate")
    assert "no USD rate for JPY on 2026-11-20: add it to landing/fx_rates/ (date,currency,usd_per_unit)" in why
    assert "unknown currency XYZ (no rate for it in landing/fx_rates/)" in why
    assert "unknown status 'maybe' (pending, approved, declined or reversed)" in why
    assert any(r.startswith("reversal of order 'Z9' that no sale row of this tenant's files holds") for r in why)
    assert "reversal of declined order 'A3': there is no commission to offset" in why
    assert any(r.startswith("reversal of order 'A2' (5.0) exceeds the sale's commission (4.0)") for r in why)
    reconciled("affiliate")
    assert sum(f["rejected"] for f in files("affiliate").values()) == 6


def test_a_later_export_supersedes_an_orders_status(world):
    slug = world["acme_articles"][0]["slug"]
    folder = world["land"] / "affiliate" / "acme"
    write(folder / "a.csv", f"order_id,date,status,commission,currency,sub_id\nB1,2026-11-20,pending,3,USD,/{slug}\n")
    write(folder / "b.csv", f"order_id,date,status,commission,currency,sub_id\nB1,2026-11-20,declined,3,USD,/{slug}\n")
    run("affiliate")
    assert q("SELECT status FROM raw.affiliate_orders") == [("declined",)]
    f = files("affiliate")
    assert f["affiliate/acme/a.csv"]["duplicate"] == 1 and f["affiliate/acme/b.csv"]["loaded"] == 1


def test_ad_revenue_per_page_and_day(world):
    slug = world["acme_articles"][3]["slug"]
    write(world["land"] / "ad_revenue" / "acme" / "adsense.csv",
          f"Date,Page URL,Estimated earnings,Currency,Ad impressions,Clicks\n2026-11-20,https://acme.test/{slug}/,2.50,EUR,1000,3\n"
          "2026-11-21,https://acme.test/x/,1.00,EUR,10,0\n2026-11-22,https://acme.test/x/,1.00,EUR,10,0\n"
          "2026-11-20,https://acme.test/x/,-1.00,USD,10,0\n")
    run("ad-revenue")
    rows = q("SELECT day, article_id IS NOT NULL, network, revenue::float8, revenue_usd::float8, impressions "
             "FROM raw.ad_revenue ORDER BY day")
    assert rows == [(DAY, True, "ads", 2.5, pytest.approx(2.75), 1000), (date(2026, 11, 21), False, "ads", 1, 1.2, 10)]
    assert sorted(reasons("ad-revenue")) == [
        "negative revenue", "no USD rate for EUR on 2026-11-22: add it to landing/fx_rates/ (date,currency,usd_per_unit)"]
    reconciled("ad-revenue")


def test_tenants_never_see_or_overwrite_each_other(world):
    acme_slug = world["acme_articles"][0]["slug"]
    csv = f"Date,Page,Query,Clicks,Impressions,CTR,Position\n2026-11-20,/n/{acme_slug}/,q,1,10,10%,2\n"
    write(world["land"] / "search_console" / "acme" / "p.csv", csv)
    write(world["land"] / "search_console" / "globex" / "p.csv", csv)  # same bytes, another tenant
    write(world["land"] / "search_console" / "initech" / "p.csv", csv)  # no such tenant
    run("search-console")
    rows = q("""SELECT t.slug, s.article_id::text FROM raw.search_console s JOIN tenants t ON t.id = s.tenant_id
                ORDER BY t.slug""")
    assert rows == [("acme", str(world["acme_articles"][0]["id"])), ("globex", None)]  # acme's slug is not globex's
    f = files("search-console")
    assert f["search_console/initech/p.csv"]["status"] == "rejected"
    assert "folder 'initech' names no tenant" in f["search_console/initech/p.csv"]["error"]
    # globex's re-run (its folder emptied) leaves acme alone
    (world["land"] / "search_console" / "globex" / "p.csv").unlink()
    write(world["land"] / "search_console" / "globex" / "q.csv", csv.replace(",1,10,", ",2,20,"))
    run("search-console", tenant="globex")
    rows = q("""SELECT t.slug, s.clicks FROM raw.search_console s JOIN tenants t ON t.id = s.tenant_id ORDER BY t.slug""")
    assert rows == [("acme", 1), ("globex", 2)]
    assert set(files("search-console")) == {"search_console/acme/p.csv", "search_console/globex/q.csv",
                                            "search_console/initech/p.csv"}


def cli(*args: str, env_home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, ALLIXIOS_HOME=str(env_home))
    return subprocess.run([sys.executable, "-m", "allixios.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_cli_imports_and_one_line_errors(world):
    home = world["land"].parent
    write(world["land"] / "plausible" / "acme" / "p.csv", "date,page,visitors,pageviews\n2026-11-20,/a,1,2\n")
    done = cli("ingest", "plausible", "--json", env_home=home)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["tenants"]["acme"]["rows_loaded"] == 1
    table = cli("ingest", "plausible", env_home=home)
    assert "acme: 1 loaded, 0 rejected, 0 duplicate of 1 read in 1 file(s)" in table.stdout
    bad = cli("ingest", "search-console", "--decimal", "semicolon", env_home=home)
    assert bad.returncode == 2
    assert bad.stderr.strip() == ("error: --decimal 'semicolon' is not a decimal mark — fix: use --decimal point or "
                                  "--decimal comma")
    missing = cli("ingest", "affiliate", "--tenant", "nobody", env_home=home)
    assert missing.returncode == 0 and "nothing loaded, nothing changed" in missing.stdout


def test_an_unsupported_file_or_a_bad_rates_file_is_one_clear_reason(world):
    from allixios.errors import ValidationError

    folder = world["land"] / "ga4" / "acme"
    pl.DataFrame({"event_date": ["20261120"]}).write_parquet(folder.mkdir(parents=True) or folder / "events.parquet")
    write(folder / "pages.csv", "Date,Page path,Views\n20261120,/a/,3\n")
    run("ga4")
    f = files("ga4")
    assert f["ga4/acme/events.parquet"]["status"] == "rejected"
    assert f["ga4/acme/events.parquet"]["error"] == "unsupported file type .parquet for Google Analytics 4: use .jsonl or .csv"
    assert f["ga4/acme/pages.csv"]["loaded"] == 1
    write(world["land"] / "fx_rates" / "rates.csv", "date,currency,usd_per_unit\n2026-11-20,EUR,1,10\n")
    write(world["land"] / "affiliate" / "acme" / "o.csv", "order_id,date,status,commission,currency\nA,2026-11-20,paid,1,EUR\n")
    with pytest.raises(ValidationError) as caught:
        run("affiliate")
    assert caught.value.one_line() == ("rates file rates.csv line 2: not a date, a currency code and a positive rate — "
                                       "fix: write e.g. 2026-11-20,EUR,1.0712 (USD per unit, decimal point)")


def test_every_kind_reruns_idempotently(world):
    a = [x["slug"] for x in world["acme_articles"]]
    land = world["land"]
    write(land / "search_console" / "acme" / "p.csv", GSC_UI.format(a0=a[0], a1=a[1]))
    write(land / "ga4" / "acme" / "pages.csv", f"Date,Page path,Views\n20261120,/{a[0]}/,3\n20261120,/{a[0]}/,3\n")
    write(land / "plausible" / "globex" / "p.csv", "date,page,visitors,pageviews\n2026-11-20,/a,1,2\n2026-11-20,/a,x,2\n")
    write(land / "affiliate" / "acme" / "1.csv", AFFILIATE.format(a0=a[0], a1=a[1]))
    write(land / "affiliate" / "acme" / "2.csv", REVERSALS)
    write(land / "ad_revenue" / "globex" / "a.csv", "date,page,revenue,currency\n2026-11-20,/x,1.5,GBP\n")
    tables = ("search_console", "ga4_events", "traffic_pages", "affiliate_orders", "ad_revenue", "import_files",
              "import_rejections")

    def state():
        counts = {t: q(f"SELECT count(*) FROM raw.{t}")[0][0] for t in tables}  # noqa: S608 - fixed names
        money = q("SELECT coalesce(sum(commission_usd), 0)::float8 FROM raw.affiliate_orders")[0][0]
        return counts, money, sorted(tuple(f.values()) for f in files("affiliate").values())

    kinds = ("search-console", "ga4", "plausible", "affiliate", "ad-revenue")
    for kind in kinds:
        run(kind)
    first = state()
    assert all(first[0][t] for t in tables if t != "ga4_events")
    for kind in kinds:
        run(kind)
    assert state() == first
    for kind in kinds:
        reconciled(kind)


def test_a_report_that_names_its_currency_in_the_money_column(world):
    slug = world["acme_articles"][0]["slug"]
    write(world["land"] / "ad_revenue" / "acme" / "adsense_pages.csv",
          f"Date,Page URL,Page views,Impressions,Clicks,Estimated earnings (EUR)\n2026-11-20,https://acme.test/{slug}/,90,"
          "300,2,\"1,50\"\n")
    run("ad-revenue")
    assert q("SELECT currency, revenue::float8, revenue_usd::float8, impressions FROM raw.ad_revenue") == [
        ("EUR", 1.5, pytest.approx(1.65), 300)]
    reconciled("ad-revenue")
