"""Fuzz target for the file ingest (hypothesis): generated JSONL, CSV and Parquet bytes with hostile
encodings, characters, column names and types, truncation and stray bytes, landed beside a good file.

Whatever the bytes, no exception escapes ``ingest_day``, every file is reconciled (read = loaded +
rejected + duplicate), every rejected row or file is kept with a reason, and the good file loads
whole. The budget is bounded (a few dozen examples, no deadline) so it runs in the normal suite;
raise ``ALLIXIOS_FUZZ_EXAMPLES`` for a longer hunt.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allixios.analytics import schemas
from allixios.analytics.ingest import ingest_day
from allixios.db.engine import connect
from tests.analytics_support import tenant_with_articles, ts, write_jsonl

DAY = date(2026, 11, 10)
NOW = datetime(2026, 11, 12, 9, tzinfo=UTC)
EXAMPLES = int(os.environ.get("ALLIXIOS_FUZZ_EXAMPLES", "25"))

COLUMNS = sorted(set(schemas.PAGE_SCHEMA.columns) | set(schemas.REVENUE_SCHEMA.columns))
NAMES = st.sampled_from([*COLUMNS, "Event_ID", "EVENT_ID", " tenant ", "eventId", "Amount", "x", ""])
TEXT = st.text(st.characters(codec="utf-8"), max_size=24) | st.sampled_from(
    ["\x00", "a\x00b", "\r", "\n", '"', '","', "\\.", "\ufeff", "\u202e", "é", "shop", "other", "ads", "USD",
     "2026-11-10T10:00:00Z", "1762768800000", "NaN", "inf", "-1", "1e400", "x" * 5000]
)
VALUE = st.none() | TEXT | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.booleans()
ARTICLE = "@article@"  # replaced by a real article id of the feed's tenant when the file is written
VALID = {"event_id": "e1", "timestamp": "2026-11-10T10:00:00Z", "tenant": "shop", "article_id": ARTICLE,
         "source": "ads", "amount": 1.5, "currency": "USD", "referrer": "google", "device": "mobile"}


@st.composite
def near_valid(draw) -> dict:
    """A valid record with a few fields changed: most rows of these files load, some do not."""
    record = {**VALID, "event_id": draw(st.sampled_from(["e1", "e2", "e3"])) + draw(st.sampled_from(["", "\x00", "é"]))}
    record.update(draw(st.dictionaries(NAMES, VALUE | st.just(ARTICLE) | st.just("other"), max_size=2)))
    return record


RECORD = st.dictionaries(NAMES, VALUE, max_size=8) | near_valid()
ENCODING = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252"])


@st.composite
def hostile_file(draw) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["page", "revenue"]))
    fmt = draw(st.sampled_from(["jsonl", "csv", "parquet"]))
    records = draw(st.lists(RECORD, max_size=6))
    if fmt == "jsonl":
        lines = [json.dumps(r, ensure_ascii=draw(st.booleans())) for r in records]
        lines += draw(st.lists(TEXT, max_size=2))  # stray lines
        text = draw(st.sampled_from(["\n", "\r\n"])).join(lines)
        data = text.encode(draw(ENCODING), errors="replace")
    elif fmt == "csv":
        header = sorted({k for r in records for k in r}) or draw(st.lists(NAMES, min_size=1, max_size=4))
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for r in records:
            writer.writerow(["" if r.get(h) is None else r.get(h) for h in header])
        data = buffer.getvalue().encode(draw(ENCODING), errors="replace")
    else:
        data = draw(parquet_bytes())
    if data and draw(st.booleans()):  # damage: stray bytes somewhere, or a cut
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=8)) + (data[at:] if draw(st.booleans()) else b"")
    return f"{kind}_fuzz.{fmt}", data


@st.composite
def parquet_bytes(draw) -> bytes:
    rows = draw(st.integers(0, 5))
    columns = {}
    for name in draw(st.lists(NAMES, min_size=1, max_size=5, unique=True)):
        dtype = draw(st.sampled_from(["text", "binary", "int", "float", "duration", "bool", "list", "datetime"]))
        if dtype == "text":
            columns[name] = pl.Series(name, draw(st.lists(st.none() | TEXT, min_size=rows, max_size=rows)), pl.String)
        elif dtype == "binary":
            columns[name] = pl.Series(name, draw(st.lists(st.binary(max_size=8), min_size=rows, max_size=rows)))
        elif dtype == "int":
            columns[name] = pl.Series(name, draw(st.lists(st.integers(-(2**40), 2**40), min_size=rows, max_size=rows)),
                                      pl.Int64)
        elif dtype == "float":
            columns[name] = pl.Series(name, draw(st.lists(st.floats(), min_size=rows, max_size=rows)), pl.Float64)
        elif dtype == "duration":
            columns[name] = pl.Series(name, [1_000_000] * rows, pl.Int64).cast(pl.Duration("us"))
        elif dtype == "bool":
            columns[name] = pl.Series(name, [True] * rows, pl.Boolean)
        elif dtype == "list":
            columns[name] = pl.Series(name, [["a"]] * rows)
        else:
            columns[name] = pl.Series(name, [datetime(2026, 11, 10, 10)] * rows)
    buffer = io.BytesIO()
    pl.DataFrame(list(columns.values())).write_parquet(buffer)
    return buffer.getvalue()


@pytest.fixture
def two_tenants(db):
    with connect(db) as conn:
        _, shop = tenant_with_articles(conn, "shop", 2, date(2026, 11, 1))
        tenant_with_articles(conn, "other", 2, date(2026, 11, 1))
    return shop


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(files=st.lists(hostile_file(), min_size=1, max_size=3))
def test_no_bytes_break_the_accounting(two_tenants, files):
    article = str(two_tenants[0]["id"])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / DAY.isoformat() / "shop"
        folder.mkdir(parents=True)
        for i, (name, data) in enumerate(files):
            (folder / name.replace("_fuzz", f"_fuzz{i}")).write_bytes(data.replace(ARTICLE.encode(), article.encode()))
        good = [{"event_id": f"good{i}", "timestamp": ts(DAY, 10, i), "tenant": "shop", "article_id": article}
                for i in range(4)]
        write_jsonl(folder / "page_zz_good.jsonl", good)
        with connect() as conn:
            ingest_day(conn, DAY, root=root, now=NOW)  # must not raise, whatever the bytes
            rows = conn.execute(
                """SELECT f.source_file, f.rows_read, f.rows_loaded, f.rows_rejected, f.rows_duplicate, f.status,
                          (SELECT count(*) FROM raw.rejected_events r
                           WHERE r.source_file = f.source_file AND r.kind = f.kind)
                   FROM raw.ingested_files f"""
            ).fetchall()
            loaded = conn.execute(
                "SELECT (SELECT count(*) FROM raw.page_events) + (SELECT count(*) FROM raw.revenue_events)"
            ).fetchone()[0]
            conn.rollback()  # each example starts from an empty day
    assert len(rows) == len(files) + 1
    for source, read, ok, rejected, duplicate, status, kept in rows:
        assert read == ok + rejected + duplicate, source
        assert kept == (1 if status == "rejected" else rejected), source
    assert loaded == sum(r[2] for r in rows)

    [good_row] = [r for r in rows if r[0].endswith("page_zz_good.jsonl")]
    assert good_row[1:4] == (4, 4, 0)

