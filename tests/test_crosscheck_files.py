"""The duckdb recount reads landed files the way the contract describes them, independently of
polars: quoted CSV fields, URLs instead of article ids, CRLF lines and a byte-order mark, blank
and malformed lines, bytes that are not UTF-8, repeated event ids, whole files refused, currencies
— and leaves out exactly what ingest rejected. Compared here with raw (no dbt needed)."""

from __future__ import annotations

import json
from datetime import date

import polars as pl

from allixios.analytics.crosscheck import recount_day
from allixios.analytics.ingest import feed_folder, ingest_day
from allixios.db.engine import connect
from tests.analytics_support import tenant_with_articles, ts

DAY = date(2026, 11, 28)


def test_recount_equals_what_ingest_loaded_for_awkward_files(db, tmp_path):
    root = tmp_path / "events"
    with connect(db) as conn:
        tenant, articles = tenant_with_articles(conn, "quirk", 3, date(2026, 11, 20))
        other, _ = tenant_with_articles(conn, "other", 1, date(2026, 11, 20))
    a, b, c = (str(x["id"]) for x in articles)
    folder = feed_folder(DAY, "quirk", root)
    folder.mkdir(parents=True)
    page = lambda i, **kw: {"event_id": f"p{i}", "timestamp": ts(DAY, 9, i % 60), "tenant": "quirk", **kw}  # noqa: E731
    lines = [
        json.dumps(page(1, article_id=a, visitor_hash="v1")),
        "",  # blank: not a record
        json.dumps(page(2, url=f"https://site.test/blog/{articles[1]['slug']}/?utm=x#top", visitor_hash="v2")),
        '{"event_id": "p3", "timestamp": ',  # malformed: rejected by ingest
        json.dumps(page(4, article_id=a, visitor_hash="v1")),
        json.dumps(page(1, article_id=b, visitor_hash="v9")),  # repeated event id: loaded once (the first)
        json.dumps(page(5, article_id=c, time_on_page=99999)),  # out of range: rejected
        json.dumps(page(6, article_id=a, tenant="other")),  # another tenant's row in this feed: rejected
    ]
    (folder / "page_web.jsonl").write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode())
    csv_text = (
        "event_id,timestamp,tenant,article_id,referrer,visitor_hash\n"
        f'c1,{ts(DAY, 10)},quirk,{b},"https://news.test/a,b?x=""y""",v3\n'
        f"c2,{ts(DAY, 11)},quirk,{c}, ,v3\n"
        f"c3,{ts(DAY, 12)},quirk,{c},too,many,fields\n"  # wrong field count: rejected
    )
    (folder / "page_app.csv").write_bytes(csv_text.encode() + f"c4,{ts(DAY, 13)},quirk,{a},caf\xe9,v4\n".encode("latin-1"))
    pl.DataFrame([{"event_id": "q1", "timestamp": ts(DAY, 14), "tenant": "quirk", "article_id": a.upper(),
                   "visitor_hash": " v5 "}]).write_parquet(folder / "page_amp.parquet")
    (folder / "page_broken.parquet").write_bytes(b"not parquet")  # refused as a whole file
    revenue = [
        {"event_id": "r1", "timestamp": ts(DAY, 9), "tenant": "quirk", "article_id": a, "source": "ads", "amount": 1.234567, "currency": "eur"},
        {"event_id": "r2", "timestamp": ts(DAY, 9), "tenant": "quirk", "article_id": b, "source": "affiliate", "amount": "12.5", "currency": "GBP"},
        {"event_id": "r3", "timestamp": ts(DAY, 9), "tenant": "quirk", "article_id": b, "source": "ads", "amount": -1, "currency": "USD"},
        {"event_id": "r4", "timestamp": ts(DAY, 9), "tenant": "quirk", "article_id": c, "source": "ads", "amount": 3, "currency": "XBT"},
    ]
    (folder / "revenue_net.jsonl").write_text("\n".join(json.dumps(r) for r in revenue) + "\n")

    with connect(db) as conn:
        summary = ingest_day(conn, DAY, root=root)
    assert summary["kinds"]["page"]["rows_rejected"] >= 5 and summary["kinds"]["page"]["rows_duplicate"] == 1
    with connect(db) as conn:
        recount = recount_day(conn, DAY, root=root)
        raw_views = {str(r[0]): (r[1], r[2]) for r in conn.execute(
            """SELECT article_id, count(*), count(DISTINCT visitor_hash) FROM raw.page_events
               WHERE event_date = %s GROUP BY 1""", (DAY,)).fetchall()}
        raw_usd = {str(r[0]): r[1] for r in conn.execute(
            "SELECT article_id, sum(amount_usd) FROM raw.revenue_events WHERE event_date = %s GROUP BY 1", (DAY,))}
        files = {(r[0], r[1]): (r[2], r[3]) for r in conn.execute(
            """SELECT source_file, kind, rows_read, rows_loaded FROM raw.ingested_files
               WHERE event_date = %s AND status <> 'rejected'""", (DAY,))}
    counted = {r["article_id"]: (r["views"], r["unique_visitors"]) for r in recount.articles if r["views"]}
    assert counted == raw_views and sum(v for v, _ in counted.values()) == 6
    assert {r["article_id"]: r["revenue_usd"] for r in recount.articles if r["revenue_usd"]} == raw_usd
    assert {(f["source_file"], f["kind"]): (f["rows_read"], f["rows_kept"]) for f in recount.files} == files
    assert all(r["tenant_id"] == str(tenant.id) for r in recount.articles) and other.id
