"""The traffic simulator: deterministic files with the documented shape, loadable end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta

import pytest

from allixios.analytics.ingest import ingest_day
from allixios.analytics.simulator import simulate_traffic
from allixios.db.engine import connect
from tests.analytics_support import tenant_with_articles

START = date(2026, 11, 2)  # a Monday
DAYS = 14


@pytest.fixture
def shop(db):
    with connect(db) as conn:
        tenant, articles = tenant_with_articles(conn, "shop", 20, date(2026, 11, 1))
    return tenant, articles


def _files(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_files_other_seed_other_files(shop, tmp_path):
    with connect() as conn:
        simulate_traffic(conn, 3, 500, START, "shop", seed=1, root=tmp_path / "a")
        simulate_traffic(conn, 3, 500, START, "shop", seed=1, root=tmp_path / "b")
        simulate_traffic(conn, 3, 500, START, "shop", seed=2, root=tmp_path / "c")
    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert len(a) == 15 and a == b
    assert a.keys() == c.keys() and a != c


def test_simulated_traffic_has_the_documented_shape(shop, tmp_path):
    with connect() as conn:
        sim = simulate_traffic(conn, DAYS, 3000, START, "shop", seed=7, root=tmp_path)
        for offset in range(DAYS):
            ingest_day(conn, START + timedelta(days=offset), root=tmp_path)

    with connect() as conn:
        def one(sql, params=None):
            return conn.execute(sql, params).fetchone()

        # power law: the top fifth of the articles takes most of the views
        top_share = one("""WITH v AS (SELECT article_id, count(*) AS n FROM raw.page_events GROUP BY 1),
                                r AS (SELECT n, ntile(5) OVER (ORDER BY n DESC) AS q FROM v)
                           SELECT sum(n) FILTER (WHERE q = 1)::float / sum(n) FROM r""")[0]
        assert top_share > 0.5
        # weekly seasonality: weekends are quieter than weekdays
        weekday, weekend = one("""SELECT avg(n) FILTER (WHERE extract(isodow FROM d) < 6)::float,
                                         avg(n) FILTER (WHERE extract(isodow FROM d) >= 6)::float
                                  FROM (SELECT event_date d, count(*) n FROM raw.page_events GROUP BY 1) x""")
        assert weekend < 0.9 * weekday
        # decay after publishing: the first week beats the second one
        week1, week2 = one("""SELECT count(*) FILTER (WHERE event_date < %s), count(*) FILTER (WHERE event_date >= %s)
                              FROM raw.page_events""", (START + timedelta(days=7), START + timedelta(days=7)))
        assert week2 < 0.85 * week1
        # revenue follows views
        assert one("""SELECT corr(v.n, r.usd) FROM
                        (SELECT article_id, count(*) n FROM raw.page_events GROUP BY 1) v
                        JOIN (SELECT article_id, sum(amount_usd) usd FROM raw.revenue_events GROUP BY 1) r USING (article_id)""")[0] > 0.8
        # the articles flagged as dropping lose most of their engagement from their drop day
        assert sim["drop_articles"]
        for drop in sim["drop_articles"]:
            before, after = one(
                """SELECT avg(time_on_page_s) FILTER (WHERE event_date < %(d)s),
                          avg(time_on_page_s) FILTER (WHERE event_date >= %(d)s)
                   FROM raw.page_events WHERE article_id = %(a)s""",
                {"d": drop["drop_day"], "a": drop["article_id"]},
            )
            assert after < 0.5 * before
        # a small share of bad rows, each rejected with a reason; duplicates counted; files reconcile
        read, loaded, rejected, duplicate = one(
            "SELECT sum(rows_read), sum(rows_loaded), sum(rows_rejected), sum(rows_duplicate) FROM raw.ingested_files"
        )
        assert read == sim["page_events"] + sim["revenue_events"]
        assert read == loaded + rejected + duplicate
        assert rejected == sim["bad_rows"]
        assert 0.004 < rejected / read < 0.03
        assert duplicate == sim["duplicates"] > 0
        reasons = {r[0] for r in conn.execute("SELECT DISTINCT reason FROM raw.rejected_events").fetchall()}
        assert {"malformed JSON line", "missing event_id", "unknown tenant", "negative amount",
                "unknown currency", "unknown article_id for this tenant"} <= reasons
        assert one("SELECT count(DISTINCT file_format) FROM raw.ingested_files")[0] == 3


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "allixios.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_cli_writes_files_and_names_the_stand_in(shop, tmp_path):
    result = _cli("simulate", "traffic", "--days", "2", "--events-per-day", "300", "--start", "2026-11-05",
                  "--tenant", "shop", env={"ALLIXIOS_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "offline traffic simulator" in result.stdout
    folder = tmp_path / "landing" / "events"
    assert sorted(p.name for p in (folder / "2026-11-06" / "shop").iterdir()) == [
        "page_shop_amp.parquet", "page_shop_app.csv", "page_shop_web.jsonl", "revenue_shop_ads.jsonl",
        "revenue_shop_partners.csv",
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--tenant", "nobody"], "tenant 'nobody' not found"),
        (["--tenant", "empty"], "has no published articles"),
        (["--start", "2999-01-01"], "reaches past today"),
        (["--start", "01/02/2026"], "is not a date"),
        (["--days", "0"], "out of range"),
    ],
)
def test_cli_errors_are_one_line_with_a_fix(db, args, expected):
    with connect(db) as conn:
        from allixios.tenants import ensure_tenant

        ensure_tenant(conn, "empty")
    result = _cli("simulate", "traffic", "--days", "2", *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "fix:" in lines[0], result.stderr
