"""Ingest integrity (issue 11): hostile bytes, odd Parquet types, two tenants with colliding ids,
links out of the landing folder, huge fields. Every case checks the rule: one bad row never costs
the other rows, one bad file never costs the other files, every row read is loaded, rejected with
its reason, or counted as a duplicate."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from allixios.analytics.ingest import ingest_day
from allixios.db.engine import connect
from tests.analytics_support import tenant_with_articles, ts, write_csv, write_jsonl, write_parquet

DAY = date(2026, 11, 10)
NOW = datetime(2026, 11, 12, 9, tzinfo=UTC)


@pytest.fixture
def world(db):
    with connect(db) as conn:
        shop, shop_articles = tenant_with_articles(conn, "shop", 3, date(2026, 11, 1))
        other, other_articles = tenant_with_articles(conn, "other", 3, date(2026, 11, 1))
    return {"shop": shop_articles, "other": other_articles}


def page(i: int, article, tenant: str = "shop", **overrides) -> dict:
    record = {
        "event_id": f"p{i}", "timestamp": ts(DAY, 8, i % 60), "tenant": tenant, "article_id": str(article["id"]),
        "url": None, "session_id": f"s{i}", "visitor_hash": f"v{i % 5}", "referrer": "google",
        "device": "mobile", "country": "DE", "time_on_page": 30.0 + i, "scroll_depth": 0.5,
    }
    return {**record, **overrides}


def revenue(i: int, article, tenant: str = "shop", **overrides) -> dict:
    record = {"event_id": f"r{i}", "timestamp": ts(DAY, 9, i % 60), "tenant": tenant,
              "article_id": str(article["id"]), "source": "ads", "amount": 1.0, "currency": "USD"}
    return {**record, **overrides}


def feed(root: Path, tenant: str = "shop") -> Path:
    folder = root / DAY.isoformat() / tenant
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def load(root: Path, kinds=("page", "revenue")) -> dict:
    with connect() as conn:
        return ingest_day(conn, DAY, kinds=kinds, root=root, now=NOW)


def query(sql: str, params=None) -> list[tuple]:
    with connect() as conn:
        return conn.execute(sql, params).fetchall()


def files() -> dict[str, dict]:
    """raw.ingested_files by "<tenant>/<name>", after checking the accounting of every file."""
    rows = query("""SELECT f.source_file, f.rows_read, f.rows_loaded, f.rows_rejected, f.rows_duplicate, f.status,
                           f.error, (SELECT count(*) FROM raw.rejected_events r
                                     WHERE r.source_file = f.source_file AND r.kind = f.kind)
                    FROM raw.ingested_files f ORDER BY 1""")
    out = {}
    for source, read, loaded, rejected, duplicate, status, error, rejected_rows in rows:
        assert read == loaded + rejected + duplicate, source
        if status == "rejected":
            assert loaded == 0 and rejected_rows == 1 and error, source  # one record of why, no line
        else:
            assert rejected_rows == rejected, source  # each rejected row kept with its reason
        out[source.split("/", 1)[1]] = {"read": read, "loaded": loaded, "rejected": rejected,
                                        "duplicate": duplicate, "status": status, "error": error}
    loaded = query("SELECT (SELECT count(*) FROM raw.page_events) + (SELECT count(*) FROM raw.revenue_events)")
    assert loaded[0][0] == sum(f["loaded"] for f in out.values())
    return out


def reasons(name: str) -> dict[int | None, str]:
    rows = query("SELECT line_number, reason FROM raw.rejected_events WHERE source_file LIKE %s ORDER BY 1",
                 (f"%/{name}",))
    return dict(rows)


def good_file(root: Path, world, name: str = "page_good.jsonl", n: int = 4) -> Path:
    return write_jsonl(feed(root) / name, [page(100 + i, world["shop"][0]) for i in range(n)])


# --- hostile characters and encodings --------------------------------------------------------


def test_a_nul_character_costs_only_its_row_in_every_format(world, tmp_path):
    a = world["shop"][0]
    folder = feed(tmp_path)
    write_jsonl(folder / "page_nul.jsonl", [page(1, a), page(2, a, referrer="goo\u0000gle"), page(3, a)])
    rows = [page(4, a), page(5, a), page(6, a)]
    csv_text = pl.DataFrame(rows).write_csv().replace("p5,", "p\x005,", 1)
    (folder / "page_nul.csv").write_bytes(csv_text.encode())
    write_parquet(folder / "page_nul.parquet", [page(7, a), page(8, a, session_id="s\u00008")])
    good_file(tmp_path, world)

    load(tmp_path, kinds=("page",))

    f = files()
    assert (f["shop/page_nul.jsonl"]["loaded"], f["shop/page_nul.jsonl"]["rejected"]) == (2, 1)
    assert reasons("page_nul.jsonl") == {2: "referrer contains a NUL character (U+0000)"}
    assert reasons("page_nul.csv") == {3: "event_id contains a NUL character (U+0000)"}
    assert reasons("page_nul.parquet") == {2: "session_id contains a NUL character (U+0000)"}
    assert f["shop/page_good.jsonl"]["loaded"] == 4
    # the rejected record is kept, its NUL written as an escape PostgreSQL can store
    [(raw,)] = query("SELECT raw_record FROM raw.rejected_events WHERE source_file LIKE '%%page_nul.csv'")
    assert "p\\u00005" in raw


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_a_utf16_file_costs_only_that_file(world, tmp_path, fmt, encoding):
    records = [page(i, world["shop"][0]) for i in range(3)]
    text = "\n".join(json.dumps(r) for r in records) + "\n" if fmt == "jsonl" else pl.DataFrame(records).write_csv()
    (feed(tmp_path) / f"page_wide.{fmt}").write_bytes(text.encode(encoding))
    good_file(tmp_path, world)

    summary = load(tmp_path, kinds=("page",))

    f = files()
    assert f["shop/page_wide." + fmt]["status"] == "rejected"
    assert "UTF-16" in f["shop/page_wide." + fmt]["error"] or "UTF-32" in f["shop/page_wide." + fmt]["error"]
    assert "save it as UTF-8" in f["shop/page_wide." + fmt]["error"]
    assert summary["kinds"]["page"]["rows_loaded"] == 4


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_latin1_lines_are_rejected_not_stored_as_replacement_characters(world, tmp_path, fmt):
    a = world["shop"][0]
    records = [page(1, a, referrer="caf\u00e9"), page(2, a), page(3, a)]
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n" if fmt == "jsonl" \
        else pl.DataFrame(records).write_csv()
    # the first record in Latin-1, the rest in UTF-8: only that line is unreadable
    head, _, tail = text.partition("caf\u00e9")
    (feed(tmp_path) / f"page_latin.{fmt}").write_bytes(head.encode() + "café".encode("latin-1") + tail.encode())

    load(tmp_path, kinds=("page",))

    f = files()[f"shop/page_latin.{fmt}"]
    assert (f["read"], f["loaded"], f["rejected"], f["status"]) == (3, 2, 1, "partial")
    [(line, why)] = reasons(f"page_latin.{fmt}").items()
    assert line == (1 if fmt == "jsonl" else 2) and "not UTF-8 text (byte 0xe9" in why
    assert query("SELECT count(*) FROM raw.page_events WHERE referrer LIKE '%%\ufffd%%'") == [(0,)]


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_record(world, tmp_path):
    a = world["shop"][0]
    text = "\n".join(json.dumps(page(i, a)) for i in range(3)) + "\n"
    (feed(tmp_path) / "page_bom.jsonl").write_bytes(b"\xef\xbb\xbf" + text.encode())
    (feed(tmp_path) / "page_bom.csv").write_bytes(b"\xef\xbb\xbf" + pl.DataFrame([page(i, a) for i in range(3, 5)])
                                                   .write_csv().encode())
    load(tmp_path, kinds=("page",))
    f = files()
    assert f["shop/page_bom.jsonl"]["loaded"] == 3 and f["shop/page_bom.csv"]["loaded"] == 2


def test_control_characters_and_huge_fields_cost_only_their_rows(world, tmp_path):
    a = world["shop"][0]
    huge = "x" * 10_000_000
    write_jsonl(feed(tmp_path) / "page_odd.jsonl", [
        page(1, a), page(2, a, referrer=huge), page(3, a, session_id="line\nbreak"),
        page(4, a, device="d" * 257), page(5, a, url="https://example.test/" + "y" * 3000),
    ])

    load(tmp_path, kinds=("page",))

    assert reasons("page_odd.jsonl") == {
        2: "referrer longer than 4096 characters",
        3: "session_id contains a control character (line break, escape, ...)",
        4: "device longer than 256 characters",
    }
    assert files()["shop/page_odd.jsonl"]["loaded"] == 2
    [(length,)] = query("SELECT length(raw_record) FROM raw.rejected_events WHERE line_number = 2")
    assert length < 5000  # the kept record is cut, with a note of its full length
    assert query("SELECT max(length(referrer)) FROM raw.page_events") == [(6,)]


# --- Parquet oddities --------------------------------------------------------------------------


def test_parquet_binary_that_is_not_utf8_costs_only_its_row(world, tmp_path):
    a = world["shop"][0]
    frame = pl.DataFrame([page(i, a) for i in range(3)]).with_columns(
        pl.Series("referrer", [b"google", b"\xff\xfe bad", b"bing"], dtype=pl.Binary)
    )
    frame.write_parquet(feed(tmp_path) / "page_binary.parquet")
    load(tmp_path, kinds=("page",))
    assert reasons("page_binary.parquet") == {2: "Parquet column 'referrer' holds binary that is not UTF-8 text"}
    assert query("SELECT event_id, referrer FROM raw.page_events ORDER BY 1") == [("p0", "google"), ("p2", "bing")]


def test_parquet_duration_and_case_twin_columns_cost_only_their_file(world, tmp_path):
    a = world["shop"][0]
    pl.DataFrame([page(i, a) for i in range(3)]).with_columns(
        pl.duration(seconds=pl.col("time_on_page").cast(pl.Int64)).alias("time_on_page")
    ).write_parquet(feed(tmp_path) / "page_duration.parquet")
    pl.DataFrame([page(i, a) for i in range(3, 6)]).with_columns(pl.col("event_id").alias("Event_ID")) \
        .write_parquet(feed(tmp_path) / "page_twins.parquet")
    # an odd column that is not the contract's is no reason to refuse the file
    pl.DataFrame([page(i, a) for i in range(6, 8)]).with_columns(
        pl.duration(seconds=1).alias("elapsed"), pl.lit(1).alias("Extra"), pl.lit(2).alias("extra")
    ).write_parquet(feed(tmp_path) / "page_extra.parquet")
    good_file(tmp_path, world)

    load(tmp_path, kinds=("page",))

    f = files()
    duration = f["shop/page_duration.parquet"]
    assert duration["status"] == "rejected" and "'time_on_page' has type Duration" in duration["error"]
    assert (duration["read"], duration["rejected"]) == (3, 3)  # the file's rows counted, from its metadata
    twins = f["shop/page_twins.parquet"]
    assert twins["status"] == "rejected" and "'event_id' and 'Event_ID' differ only by case" in twins["error"]
    assert f["shop/page_extra.parquet"]["loaded"] == 2
    assert f["shop/page_good.jsonl"]["loaded"] == 4


def test_csv_case_twin_columns_cost_only_their_file(world, tmp_path):
    rows = [page(i, world["shop"][0]) for i in range(3)]
    text = pl.DataFrame(rows).with_columns(pl.col("tenant").alias("TENANT")).write_csv()
    (feed(tmp_path) / "page_twins.csv").write_text(text)
    load(tmp_path, kinds=("page",))
    assert "'tenant' and 'TENANT' differ only by case" in files()["shop/page_twins.csv"]["error"]


def test_a_parquet_file_with_none_of_the_contract_columns_rejects_every_row(world, tmp_path):
    a = world["shop"][0]
    frame = pl.DataFrame([page(i, a) for i in range(1000)])
    frame.rename({c: "".join(w.title() for w in c.split("_")) for c in frame.columns}).write_parquet(
        feed(tmp_path) / "page_camel.parquet")
    (feed(tmp_path) / "page_camel.csv").write_text(
        pl.DataFrame([page(i, a) for i in range(5)]).rename(lambda c: c.upper().replace("_", "")).write_csv())

    load(tmp_path, kinds=("page",))

    f = files()
    assert (f["shop/page_camel.parquet"]["read"], f["shop/page_camel.parquet"]["rejected"]) == (1000, 1000)
    assert f["shop/page_camel.parquet"]["status"] == "partial"
    assert (f["shop/page_camel.csv"]["read"], f["shop/page_camel.csv"]["rejected"]) == (5, 5)
    assert "file has no event_id column" in reasons("page_camel.parquet")[1]


# --- tenants -----------------------------------------------------------------------------------


def test_two_tenants_with_colliding_event_ids_both_load(world, tmp_path):
    for tenant in ("shop", "other"):
        art = world[tenant]
        write_jsonl(feed(tmp_path, tenant) / "page_web.jsonl", [page(i, art[0], tenant) for i in range(100)])
        write_csv(feed(tmp_path, tenant) / "revenue_ads.csv", [revenue(i, art[1], tenant) for i in range(100)])
    # a genuine re-send within one tenant is still one event
    write_jsonl(feed(tmp_path, "other") / "page_resent.jsonl", [page(i, world["other"][0], "other") for i in range(5)])

    summary = load(tmp_path)

    assert summary["kinds"]["page"]["rows_loaded"] == 200 and summary["kinds"]["page"]["rows_duplicate"] == 5
    assert summary["kinds"]["revenue"]["rows_loaded"] == 200 and summary["kinds"]["revenue"]["rows_duplicate"] == 0
    by_tenant = query("""SELECT t.slug, count(*), sum(r.amount_usd) FROM raw.revenue_events r
                         JOIN tenants t ON t.id = r.tenant_id GROUP BY 1 ORDER BY 1""")
    assert [(s, n, float(usd)) for s, n, usd in by_tenant] == [("other", 100, 100.0), ("shop", 100, 100.0)]
    f = files()  # the first occurrence by file path wins: page_resent sorts before page_web
    assert (f["other/page_resent.jsonl"]["loaded"], f["other/page_web.jsonl"]["duplicate"]) == (5, 5)


def test_a_row_for_another_tenant_is_rejected_by_the_feed(world, tmp_path):
    write_jsonl(feed(tmp_path, "shop") / "page_web.jsonl", [
        page(1, world["shop"][0]), page(2, world["other"][0], "other"), page(3, world["shop"][0])])
    write_parquet(feed(tmp_path, "shop") / "revenue_x.parquet", [revenue(1, world["other"][0], "other")])

    load(tmp_path)

    why = "tenant is not this feed's tenant 'shop'"
    assert why in reasons("page_web.jsonl")[2] and why in reasons("revenue_x.parquet")[1]
    assert query("SELECT DISTINCT t.slug FROM raw.page_events e JOIN tenants t ON t.id = e.tenant_id") == [("shop",)]
    assert query("SELECT count(*) FROM raw.revenue_events") == [(0,)]


def test_files_outside_a_tenant_folder_belong_to_the_default_tenant(world, tmp_path):
    day = tmp_path / DAY.isoformat()
    write_jsonl(day / "page_loose.jsonl", [page(1, world["shop"][0])])
    write_jsonl(day / "nobody" / "page_x.jsonl", [page(2, world["shop"][0])])
    good_file(tmp_path, world)

    load(tmp_path, kinds=("page",))

    f = files()
    # no tenant "sample" here: the loose file is refused as a whole, and so is an unknown tenant's folder
    assert f["page_loose.jsonl"]["status"] == "rejected" and "'sample' names no tenant" in f["page_loose.jsonl"]["error"]
    assert f["nobody/page_x.jsonl"]["status"] == "rejected" and "'nobody' names no tenant" in f["nobody/page_x.jsonl"]["error"]
    assert f["shop/page_good.jsonl"]["loaded"] == 4


def test_links_leaving_their_folder_are_recorded_and_not_read(world, tmp_path):
    secret = tmp_path / "outside" / "passwd"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    folder = feed(tmp_path)
    os.symlink(secret, folder / "page_link.csv")
    os.symlink(tmp_path / "outside", tmp_path / DAY.isoformat() / "other")  # a tenant folder that is a link
    os.symlink(secret, tmp_path / "outside" / "page_x.jsonl")
    other_good = good_file(tmp_path, world, "page_target.jsonl", 2)
    os.symlink(other_good, folder / "page_alias.jsonl")  # a link within the folder is a file of the feed

    load(tmp_path, kinds=("page",))

    f = files()
    for name in ("shop/page_link.csv", "other/page_x.jsonl"):
        assert f[name]["status"] == "rejected" and "symbolic link leading out of its folder" in f[name]["error"]
    assert query("SELECT count(*) FROM raw.rejected_events WHERE raw_record LIKE '%%root:%%'") == [(0,)]
    assert (f["shop/page_alias.jsonl"]["loaded"], f["shop/page_target.jsonl"]["duplicate"]) == (2, 2)


def test_a_failure_inside_one_file_never_fails_the_day(world, tmp_path, monkeypatch):
    """Whatever goes wrong processing one file (here a reader bug), the other files still load."""
    from allixios.analytics import ingest

    real = ingest.read_event_file

    def flaky(path, fmt, schema):
        if path.name == "page_boom.jsonl":
            raise KeyError("bug")
        return real(path, fmt, schema)

    monkeypatch.setattr(ingest, "read_event_file", flaky)
    good_file(tmp_path, world, "page_boom.jsonl")
    good_file(tmp_path, world, "page_fine.jsonl")
    load(tmp_path, kinds=("page",))
    f = files()
    assert f["shop/page_boom.jsonl"]["status"] == "rejected" and "KeyError" in f["shop/page_boom.jsonl"]["error"]
    assert f["shop/page_fine.jsonl"]["loaded"] == 4


def test_reruns_stay_idempotent_with_two_tenants(world, tmp_path):
    for tenant in ("shop", "other"):
        write_jsonl(feed(tmp_path, tenant) / "page_web.jsonl", [page(i, world[tenant][0], tenant) for i in range(7)])
    first = load(tmp_path)
    second = load(tmp_path)
    assert first["kinds"] == second["kinds"]
    assert query("SELECT count(*) FROM raw.page_events") == [(14,)]


def test_the_day_starts_at_utc_midnight_for_every_tenant(world, tmp_path):
    # a sanity check that binding did not change time rules: 23:59:59.999 is in, midnight is out
    end = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC) + timedelta(days=1)
    write_jsonl(feed(tmp_path, "other") / "page_edge.jsonl", [
        page(1, world["other"][0], "other", timestamp=(end - timedelta(milliseconds=1)).isoformat()),
        page(2, world["other"][0], "other", timestamp=end.isoformat()),
    ])
    load(tmp_path, kinds=("page",))
    assert files()["other/page_edge.jsonl"]["loaded"] == 1


# --- topic files are bound to their tenant like event feeds -----------------------------------


def _topics_of(slug: str) -> list[str]:
    return [r[0] for r in query("""SELECT t.title FROM topics t JOIN tenants n ON n.id = t.tenant_id
                                   WHERE n.slug = %s ORDER BY 1""", (slug,))]


def test_a_topic_file_adds_topics_only_to_its_own_tenant(world):
    from allixios import settings
    from allixios.automation.intake import archive, ingest_topic_file, pending_files

    landing = settings.landing_dir("topics")
    (landing / "shop").mkdir(parents=True, exist_ok=True)
    (landing / "other").mkdir(parents=True, exist_ok=True)
    same = "niche,title\ngardening,Pruning Roses in Winter\n"  # no tenant column: the folder says
    (landing / "shop" / "batch.csv").write_text(same)
    (landing / "other" / "batch.csv").write_text(same)  # the same bytes for another tenant load too
    (landing / "shop" / "sneaky.csv").write_text("tenant,niche,title\nother,gardening,Planted by Shop\n")
    outcomes = {}
    try:
        with connect() as conn:
            for path in [p for p in pending_files(landing) if p.parent.name in ("shop", "other")]:
                outcomes[f"{path.parent.name}/{path.name}"] = ingest_topic_file(conn, path)
                archive(path, outcomes[f"{path.parent.name}/{path.name}"])
        archived = (landing / "shop" / "rejected" / "sneaky.csv.reason.txt").exists()
        left = [p for p in pending_files(landing) if p.parent.name in ("shop", "other")]
    finally:  # the landing folder is the session's: leave it as found
        for tenant in ("shop", "other"):
            shutil.rmtree(landing / tenant, ignore_errors=True)

    assert outcomes["shop/batch.csv"].status == outcomes["other/batch.csv"].status == "loaded"
    sneaky = outcomes["shop/sneaky.csv"]
    assert sneaky.status == "rejected" and "tenant 'other' is not this file's tenant 'shop'" in sneaky.error
    assert _topics_of("shop") == _topics_of("other") == ["Pruning Roses in Winter"]
    assert archived and not left


def test_topics_import_binds_the_file_to_the_tenant_option(world, tmp_path):
    from allixios.cli import main

    mine = tmp_path / "mine.json"
    mine.write_text('[{"niche": "gardening", "title": "Composting at Home"}]')
    theirs = tmp_path / "theirs.json"
    theirs.write_text('[{"tenant": "other", "niche": "gardening", "title": "Not Yours"}]')
    assert main(["topics", "import", str(mine), "--tenant", "shop"]) == 0
    assert main(["topics", "import", str(theirs), "--tenant", "shop"]) == 2
    assert _topics_of("shop") == ["Composting at Home"] and _topics_of("other") == []
