"""Event ingestion: polars parsing and validation, COPY loading, reconciliation, idempotent reloads,
and every kind of bad input rejected with its reason while the valid rest loads."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from allixios.analytics.ingest import ingest_day
from allixios.db.engine import connect
from tests.analytics_support import tenant_with_articles, ts, write_csv, write_jsonl, write_parquet

DAY = date(2026, 11, 10)
NOW = datetime(2026, 11, 12, 9, tzinfo=UTC)


@pytest.fixture
def shop(db):
    with connect(db) as conn:
        tenant, articles = tenant_with_articles(conn, "shop", 4, date(2026, 11, 1))
        other, other_articles = tenant_with_articles(conn, "other", 2, date(2026, 11, 1))
    return {"tenant": tenant, "articles": articles, "other": other, "other_articles": other_articles}


def page(i: int, article, day: date = DAY, **overrides) -> dict:
    record = {
        "event_id": f"p{i}", "timestamp": ts(day, 8, i % 60), "tenant": "shop", "article_id": str(article["id"]),
        "url": None, "session_id": f"s{i // 2}", "visitor_hash": f"v{i % 5}", "referrer": "google",
        "device": "mobile", "country": "de", "time_on_page": 30.5 + i, "scroll_depth": 0.5,
    }
    record.update(overrides)
    return record


def revenue(i: int, article, day: date = DAY, **overrides) -> dict:
    record = {
        "event_id": f"r{i}", "timestamp": ts(day, 9, i % 60), "tenant": "shop", "article_id": str(article["id"]),
        "source": "ads", "amount": 1.25, "currency": "USD",
    }
    record.update(overrides)
    return record


def load(root: Path, day: date = DAY, kinds=("page", "revenue")) -> dict:
    with connect() as conn:
        return ingest_day(conn, day, kinds=kinds, root=root, now=NOW)


def query(sql: str, params=None) -> list[tuple]:
    with connect() as conn:
        return conn.execute(sql, params).fetchall()


def files_table() -> dict[str, dict]:
    rows = query(
        """SELECT source_file, rows_read, rows_loaded, rows_rejected, rows_duplicate, status, error
           FROM raw.ingested_files ORDER BY source_file"""
    )
    return {r[0].rsplit("/", 1)[1]: dict(zip(("read", "loaded", "rejected", "duplicate", "status", "error"), r[1:], strict=True)) for r in rows}


def rejections(file_name: str | None = None) -> list[tuple]:
    sql = "SELECT source_file, line_number, reason, raw_record FROM raw.rejected_events"
    rows = query(sql + " ORDER BY source_file, line_number")
    return [r for r in rows if file_name is None or r[0].endswith("/" + file_name)]


def test_mixed_formats_load_typed_rows_and_reconcile(shop, tmp_path):
    a = shop["articles"]
    folder = tmp_path / DAY.isoformat() / "shop"  # the tenant's feed folder
    write_jsonl(folder / "page_a.jsonl", [page(i, a[i % 4]) for i in range(10)])
    write_csv(folder / "page_b.csv", [page(i, a[0]) for i in range(10, 16)])
    # by URL instead of id, and epoch-millisecond timestamps, in Parquet
    write_parquet(folder / "page_c.parquet", [
        page(i, a[1], article_id=None, url=f"https://example.com/x/{a[1]['slug']}/?utm=1",
             timestamp=str(int(datetime(2026, 11, 10, 20, tzinfo=UTC).timestamp() * 1000)))
        for i in range(16, 20)
    ])
    write_jsonl(folder / "revenue_a.jsonl", [revenue(i, a[i % 4]) for i in range(5)])
    write_csv(folder / "revenue_b.csv", [revenue(i, a[2], amount=10, currency="EUR") for i in range(5, 8)])

    summary = load(tmp_path)

    assert summary["kinds"]["page"] == {
        "files": 3, "files_rejected": 0, "rows_read": 20, "rows_loaded": 20, "rows_rejected": 0,
        "rows_duplicate": 0, "rejection_reasons": {},
    }
    assert summary["kinds"]["revenue"]["rows_loaded"] == 8
    assert query("SELECT count(*) FROM raw.page_events") == [(20,)]
    by_url = query("SELECT DISTINCT article_id, event_ts FROM raw.page_events WHERE source_file LIKE '%%page_c.parquet'")
    assert by_url == [(a[1]["id"], datetime(2026, 11, 10, 20, tzinfo=UTC))]
    device, country, top = query("SELECT device, country, time_on_page_s FROM raw.page_events WHERE event_id = 'p3'")[0]
    assert (device, country, top) == ("mobile", "DE", 33.5)
    total_usd = query("SELECT sum(amount_usd) FROM raw.revenue_events")[0][0]
    assert float(total_usd) == pytest.approx(5 * 1.25 + 3 * 10 * 1.08)
    for name, f in files_table().items():
        assert f["read"] == f["loaded"] + f["rejected"] + f["duplicate"], name
        assert f["status"] == "loaded"


def test_reloading_a_day_replaces_it(shop, tmp_path):
    a = shop["articles"]
    folder = tmp_path / DAY.isoformat() / "shop"  # the tenant's feed folder
    write_jsonl(folder / "page_a.jsonl", [page(i, a[0]) for i in range(6)] + [page(99, a[0], timestamp="bad")])
    write_jsonl(folder / "page_b.jsonl", [page(i, a[1]) for i in range(6, 9)])
    other_day = date(2026, 11, 11)
    write_jsonl(tmp_path / other_day.isoformat() / "shop" / "page_a.jsonl", [page(i, a[2], day=other_day) for i in range(4)])
    load(tmp_path, other_day)

    first = load(tmp_path)
    second = load(tmp_path)

    assert first["kinds"] == second["kinds"]
    counts = "SELECT event_date, count(*) FROM raw.page_events GROUP BY 1 ORDER BY 1"
    assert query(counts) == [(DAY, 9), (other_day, 4)]
    assert query("SELECT count(*) FROM raw.rejected_events WHERE event_date = %s", (DAY,)) == [(1,)]
    assert query("SELECT count(*) FROM raw.ingested_files WHERE event_date = %s AND kind = 'page'", (DAY,)) == [(2,)]

    (folder / "page_b.jsonl").unlink()  # the day's folder is the truth: its rows go on reload
    load(tmp_path)
    assert query(counts) == [(DAY, 6), (other_day, 4)]


def test_a_day_without_a_folder_changes_nothing(shop, tmp_path):
    write_jsonl(tmp_path / DAY.isoformat() / "shop" / "page_a.jsonl", [page(i, shop["articles"][0]) for i in range(3)])
    load(tmp_path)
    summary = load(tmp_path / "elsewhere")
    assert summary["folder_found"] is False
    assert query("SELECT count(*) FROM raw.page_events") == [(3,)]


def test_duplicate_event_ids_within_a_day_load_once(shop, tmp_path):
    a = shop["articles"]
    folder = tmp_path / DAY.isoformat() / "shop"  # the tenant's feed folder
    write_jsonl(folder / "page_a.jsonl", [page(1, a[0]), page(2, a[0]), page(2, a[1])])
    write_csv(folder / "page_b.csv", [page(1, a[2]), page(3, a[2])])

    summary = load(tmp_path, kinds=("page",))

    assert summary["kinds"]["page"]["rows_duplicate"] == 2
    # the first occurrence (file path order, then line) wins
    assert query("SELECT event_id, article_id FROM raw.page_events ORDER BY 1") == [
        ("p1", a[0]["id"]), ("p2", a[0]["id"]), ("p3", a[2]["id"])
    ]
    f = files_table()
    assert (f["page_a.jsonl"]["loaded"], f["page_a.jsonl"]["duplicate"]) == (2, 1)
    assert (f["page_b.csv"]["loaded"], f["page_b.csv"]["duplicate"]) == (1, 1)


BAD_PAGE_ROWS = [
    ("unknown article id", {"article_id": "00000000-0000-0000-0000-000000000000"}, "unknown article_id for this tenant"),
    ("article of another tenant", "OTHER_ARTICLE", "unknown article_id for this tenant"),
    ("url of no article", {"article_id": None, "url": "https://example.com/no-such-slug"}, "url matches no article"),
    ("neither id nor url", {"article_id": None, "url": None}, "missing article_id and url"),
    ("unknown tenant", {"tenant": "nobody"}, "unknown tenant"),
    ("missing event id", {"event_id": "  "}, "missing event_id"),
    ("timestamp of the next day", {"timestamp": "2026-11-11T00:00:01Z"}, "outside the partition day 2026-11-10"),
    ("timestamp of the day before in local time", {"timestamp": "2026-11-10T00:30:00+01:00"}, "outside the partition day"),
    ("timestamp in the future", {"timestamp": "2026-11-12T10:00:00Z"}, "timestamp in the future"),
    ("timestamp not a date", {"timestamp": "yesterday"}, "timestamp is not ISO 8601"),
    ("impossible date", {"timestamp": "2026-02-30T10:00:00Z"}, "timestamp is not ISO 8601"),
    ("negative time on page", {"time_on_page": -3}, "time_on_page out of range"),
    ("time on page not a number", {"time_on_page": "long"}, "time_on_page is not a number"),
    ("scroll depth as percent", {"scroll_depth": 85}, "scroll_depth out of range"),
]


@pytest.mark.parametrize(("case", "override", "reason"), BAD_PAGE_ROWS, ids=[c[0] for c in BAD_PAGE_ROWS])
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_bad_page_rows_are_rejected_with_reason_and_the_rest_loads(shop, tmp_path, case, override, reason, fmt):
    a = shop["articles"]
    if override == "OTHER_ARTICLE":
        override = {"article_id": str(shop["other_articles"][0]["id"])}
    records = [page(i, a[0]) for i in range(4)]
    records.insert(2, page(50, a[0], **override))
    folder = tmp_path / DAY.isoformat() / "shop"  # the tenant's feed folder
    (write_jsonl if fmt == "jsonl" else write_csv)(folder / f"page_x.{fmt}", records)

    summary = load(tmp_path, kinds=("page",))

    rejected = rejections()
    assert len(rejected) == 1, rejected
    _, line, why, raw = rejected[0]
    assert reason in why
    assert line == (3 if fmt == "jsonl" else 4)  # the CSV header is line 1
    assert "p50" in raw or case == "missing event id"
    assert summary["kinds"]["page"]["rows_loaded"] == 4
    assert query("SELECT count(*) FROM raw.page_events") == [(4,)]


BAD_REVENUE_ROWS = [
    ("negative amount", {"amount": -5}, "negative amount"),
    ("absurd amount", {"amount": 2_500_000}, "absurd amount"),
    ("absurd amount after conversion", {"amount": 2_000_000, "currency": "JPY"}, "absurd amount"),
    ("amount not a number", {"amount": "12,50"}, "amount is not a number"),
    ("unknown currency", {"currency": "XYZ"}, "unknown currency"),
    ("unknown source", {"source": "donation"}, "unknown source"),
    ("unknown article", {"article_id": "not-a-uuid"}, "unknown article_id"),
    ("missing amount", {"amount": None}, "missing amount"),
]


@pytest.mark.parametrize(("case", "override", "reason"), BAD_REVENUE_ROWS, ids=[c[0] for c in BAD_REVENUE_ROWS])
def test_bad_revenue_rows_are_rejected_with_reason(shop, tmp_path, case, override, reason):
    a = shop["articles"]
    records = [revenue(i, a[1]) for i in range(3)] + [revenue(9, a[1], **override)]
    write_parquet(tmp_path / DAY.isoformat() / "shop" / "revenue_x.parquet", records) if case != "amount not a number" else \
        write_jsonl(tmp_path / DAY.isoformat() / "shop" / "revenue_x.jsonl", records)

    summary = load(tmp_path, kinds=("revenue",))

    [(_, line, why, raw)] = rejections()
    assert reason in why and line == 4
    assert "r9" in raw
    assert summary["kinds"]["revenue"]["rows_loaded"] == 3
    assert float(query("SELECT sum(amount_usd) FROM raw.revenue_events")[0][0]) == pytest.approx(3 * 1.25)


def test_malformed_lines_are_rejected_one_by_one(shop, tmp_path):
    a = shop["articles"]
    folder = tmp_path / DAY.isoformat() / "shop"  # the tenant's feed folder
    good = [page(i, a[0]) for i in range(6)]
    import json

    lines = [json.dumps(r) for r in good]
    lines.insert(1, '{"event_id": "t1", "timestamp": "2026-11-10T01:00:00Z", "ten')  # truncated
    lines.insert(4, '{"event_id": "t2"} {"event_id": "t3"}')  # two objects on one line
    lines.insert(5, "")  # blank lines are not records
    lines.insert(6, '{"event_id": "t4", "timestamp": }')  # looks like an object, is not JSON
    (folder).mkdir(parents=True)
    (folder / "page_a.jsonl").write_text("\n".join(lines) + "\n")
    write_csv(folder / "page_b.csv", [page(i, a[1]) for i in range(10, 13)], extra_lines=[
        "q1,2026-11-10T10:00:00Z,shop",  # too few fields
        f'q2,2026-11-10T10:00:00Z,shop,{a[1]["id"]},,s,v,ref,desktop,DE,10,0.5,extra',  # too many
        f'"q,3",2026-11-10T10:00:00Z,shop,{a[1]["id"]},,s,v,"a, quoted referrer",desktop,DE,10,0.5',  # valid, quoted
        f'"q4,2026-11-10T10:00:00Z,shop,{a[1]["id"]},,s,v,ref,desktop,DE,10,0.5',  # unbalanced quote
    ])

    summary = load(tmp_path, kinds=("page",))

    jsonl = [(line, why) for _, line, why, _ in rejections("page_a.jsonl")]
    assert jsonl == [(2, "malformed JSON line"), (5, "malformed JSON line"), (7, "malformed JSON line")]
    csv_rejects = {line: why for _, line, why, _ in rejections("page_b.csv")}
    assert sorted(csv_rejects) == [5, 6, 8]
    assert "expected 12 fields, found 3" in csv_rejects[5]
    assert "expected 12 fields, found 13" in csv_rejects[6]
    assert query("SELECT referrer FROM raw.page_events WHERE event_id = 'q,3'") == [("a, quoted referrer",)]
    f = files_table()
    assert (f["page_a.jsonl"]["read"], f["page_a.jsonl"]["loaded"], f["page_a.jsonl"]["rejected"]) == (9, 6, 3)
    assert (f["page_b.csv"]["read"], f["page_b.csv"]["loaded"], f["page_b.csv"]["rejected"]) == (7, 4, 3)
    assert f["page_a.jsonl"]["status"] == "partial"
    assert summary["kinds"]["page"]["rows_loaded"] == 10


def test_a_file_without_a_required_column_keeps_its_rows_as_rejected(shop, tmp_path):
    a = shop["articles"]
    records = [{k: v for k, v in revenue(i, a[0]).items() if k != "currency"} for i in range(3)]
    write_csv(tmp_path / DAY.isoformat() / "shop" / "revenue_nocurrency.csv", records)
    write_csv(tmp_path / DAY.isoformat() / "shop" / "revenue_ok.csv", [revenue(i, a[0]) for i in range(3, 5)])

    load(tmp_path, kinds=("revenue",))

    rejected = rejections("revenue_nocurrency.csv")
    assert [r[1] for r in rejected] == [2, 3, 4]
    assert all(r[2] == "file has no currency column" and r[3].startswith("r") for r in rejected)
    assert query("SELECT count(*) FROM raw.revenue_events") == [(2,)]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("page_empty.jsonl", b"", "file is empty"),
        ("page_blank.csv", b"\n\n", "file is empty"),
        ("page_header_only.csv", b"event_id,timestamp,tenant,article_id\n", "header but no records"),
        ("page_truncated.parquet", "TRUNCATE", "unreadable Parquet file"),
        ("page_garbage.parquet", b"not parquet at all", "unreadable Parquet file"),
        ("clicks_2026.jsonl", b'{"event_id": "x"}\n', "file name must start with page_ or revenue_"),
        ("page_export.xlsx", b"PK\x03\x04", "unsupported file type .xlsx"),
    ],
)
def test_unreadable_files_get_one_rejected_row_and_the_rest_loads(shop, tmp_path, name, content, reason):
    a = shop["articles"]
    folder = tmp_path / DAY.isoformat() / "shop"  # the tenant's feed folder
    write_jsonl(folder / "page_good.jsonl", [page(i, a[0]) for i in range(5)])
    if content == "TRUNCATE":
        full = write_parquet(folder / "full.parquet.tmp", [page(i, a[0]) for i in range(100, 200)])
        data = full.read_bytes()
        full.unlink()
        content = data[: len(data) // 2]
    (folder / name).write_bytes(content)

    summary = load(tmp_path, kinds=("page",))

    [(source, line, why, raw)] = rejections(name)
    assert reason in why and line is None and raw is None
    f = files_table()[name]
    assert f["status"] == "rejected" and reason in f["error"] and f["read"] == 0
    assert summary["kinds"]["page"]["files_rejected"] == 1
    assert query("SELECT count(*) FROM raw.page_events") == [(5,)]


def test_cli_ingest_reports_counts_and_refuses_a_bad_date(shop, tmp_path):
    folder = tmp_path / "landing" / "events" / DAY.isoformat() / "shop"
    write_jsonl(folder / "page_a.jsonl", [page(i, shop["articles"][0]) for i in range(3)])
    import os

    env = {**os.environ, "ALLIXIOS_HOME": str(tmp_path)}
    ok = subprocess.run([sys.executable, "-m", "allixios.cli", "ingest", "events", "--date", DAY.isoformat()],
                        capture_output=True, text=True, env=env, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "page" in ok.stdout and "3" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "allixios.cli", "ingest", "events", "--date", "2026-13-45"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "fix:" in bad.stderr


def test_copy_stream_raises_database_errors_and_producer_errors(db):
    import polars as pl
    import psycopg

    from allixios.analytics.ingest import CopyStream

    columns = ("event_id", "event_ts", "event_date", "tenant_id", "article_id", "source", "amount", "currency",
               "amount_usd", "source_file")
    row = {"event_id": "x", "event_ts": datetime(2026, 11, 10, 1, tzinfo=UTC), "event_date": DAY,
           "tenant_id": "00000000-0000-0000-0000-000000000001", "article_id": "00000000-0000-0000-0000-000000000002",
           "source": "ads", "amount": -1.0, "currency": "USD", "amount_usd": -1.0, "source_file": "f"}
    with pytest.raises(psycopg.errors.CheckViolation):
        with connect() as conn, CopyStream(conn, "raw.revenue_events", columns) as stream:
            stream.put(pl.DataFrame([row]))
    with pytest.raises(RuntimeError, match="producer failed"):
        with connect() as conn, CopyStream(conn, "raw.revenue_events", columns) as stream:
            stream.put(pl.DataFrame([{**row, "amount": 1.0, "amount_usd": 1.0}]))
            raise RuntimeError("producer failed")
    assert query("SELECT count(*) FROM raw.revenue_events") == [(0,)]
