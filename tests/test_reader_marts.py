"""Issue 15's marts and loop, on the real database with real dbt and a real Dagster run:
traffic marts by referrer, device and country; the articles' analytics columns in step with the
marts; the duckdb cross-check of the marts against the landed files; the Parquet archive and its
tenant-scoped query; and the score-drop sensor following rebuilds (not only days).

Two tenants of simulated traffic (with the simulator's rejected rows, malformed lines and
re-sent duplicates) over three days; dbt builds every day once, then analytics_job runs the last.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from allixios.analytics.archive import archive_day, archive_root, partition_dir, query_archive
from allixios.analytics.article_stats import sync_article_stats
from allixios.analytics.crosscheck import check_day
from allixios.analytics.ingest import day_folder, feed_folder, ingest_day
from allixios.analytics.simulator import simulate_traffic
from allixios.db.engine import connect
from allixios.errors import ValidationError
from resources.dbt import dbt_environment, dbt_executable, prepare_manifest, project_dir
from resources.warehouse import WarehouseResource
from tests.analytics_support import clean_analytics_slate, tenant_with_articles

pytestmark = pytest.mark.slow

START = date(2026, 11, 24)
DAYS = 3
LAST = START + timedelta(days=DAYS - 1)
CLI = str(Path(sys.executable).parent / "allixios")
SEARCH, SOCIAL, EMAIL = {"google", "bing"}, {"facebook", "x.com", "reddit"}, {"newsletter"}


def run_dbt(tmp_path, *args: str) -> None:
    target = tmp_path / f"target-{uuid.uuid4().hex[:6]}"
    done = subprocess.run(
        [dbt_executable(), "build", "--project-dir", str(project_dir()), "--profiles-dir", str(project_dir()),
         "--target-path", str(target), "--log-path", str(target), *args],
        env=dbt_environment(), capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:]


def window(day: date) -> tuple[str, str]:
    return "--vars", json.dumps({"start_date": day.isoformat(), "end_date": day.isoformat()})


def rows(sql: str, params=None) -> list[tuple]:
    with connect() as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def world(database_url, tmp_path_factory):
    prepare_manifest()
    from allixios_assets.definitions import defs

    for offset in range(DAYS):  # this module's days start empty in the session's landing folder
        shutil.rmtree(day_folder(START + timedelta(days=offset)), ignore_errors=True)
    shutil.rmtree(archive_root(), ignore_errors=True)
    clean_analytics_slate(database_url)
    with connect(database_url) as conn:
        acme, _ = tenant_with_articles(conn, "acme", 8, START - timedelta(days=4))
        globex, _ = tenant_with_articles(conn, "globex", 4, START - timedelta(days=4))
        # into this session's landing folder (ALLIXIOS_HOME), where the assets and the cross-check look
        simulate_traffic(conn, DAYS, 400, START, "acme", seed=3)
        simulate_traffic(conn, DAYS, 150, START, "globex", seed=4)
        for offset in range(DAYS):
            ingest_day(conn, START + timedelta(days=offset))
    run_dbt(tmp_path_factory.mktemp("dbt"), "--full-refresh")
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("analytics_job").execute_in_process(partition_key=LAST.isoformat(), instance=instance)
    assert result.success
    return {"defs": defs, "instance": instance, "result": result, "acme": acme, "globex": globex,
            "tmp": tmp_path_factory.mktemp("rebuilds")}


# --- traffic marts -------------------------------------------------------------------------------


@pytest.mark.parametrize("mart", ["fct_traffic_referrer_daily", "fct_traffic_device_daily",
                                  "fct_traffic_country_daily", "fct_article_channel_daily"])
def test_traffic_marts_split_exactly_the_article_facts_views(world, mart):
    split = dict(((str(t), d), v) for t, d, v in rows(
        f"SELECT tenant_id, day, sum(views) FROM marts.{mart} GROUP BY 1, 2"))
    facts = dict(((str(t), d), v) for t, d, v in rows(
        "SELECT tenant_id, day, sum(views) FROM marts.fct_article_daily_performance GROUP BY 1, 2 HAVING sum(views) > 0"))
    assert split == facts and len(facts) == 2 * DAYS


def test_referrer_channels_device_and_country_recount_from_raw(world):
    raw = rows("SELECT tenant_id, event_date, referrer, device, country FROM raw.page_events")
    channels: Counter = Counter()
    devices: Counter = Counter()
    countries: Counter = Counter()
    for tenant, day, referrer, device, country in raw:
        name = (referrer or "").strip().lower()
        channel = ("search" if name in SEARCH else "social" if name in SOCIAL else "email" if name in EMAIL
                   else "direct" if name in ("", "direct") else "referral")
        channels[(str(tenant), day, channel)] += 1
        devices[(str(tenant), day, device or "unknown")] += 1
        countries[(str(tenant), day, country or "unknown")] += 1
    by_channel = Counter({(str(t), d, c): v for t, d, c, v in rows(
        "SELECT tenant_id, day, channel, sum(views) FROM marts.fct_traffic_referrer_daily GROUP BY 1, 2, 3")})
    assert by_channel == channels and {"search", "social", "email", "direct"} <= {c for _, _, c in channels}
    assert Counter({(str(t), d, x): v for t, d, x, v in rows(
        "SELECT tenant_id, day, device, sum(views) FROM marts.fct_traffic_device_daily GROUP BY 1, 2, 3")}) == devices
    assert Counter({(str(t), d, x): v for t, d, x, v in rows(
        "SELECT tenant_id, day, country, sum(views) FROM marts.fct_traffic_country_daily GROUP BY 1, 2, 3")}) == countries
    # the shares of a niche-day add up to 1
    for (total,) in rows("SELECT sum(view_share) FROM marts.fct_traffic_device_daily GROUP BY tenant_id, niche_id, day"):
        assert abs(float(total) - 1) < 0.001


# --- the articles' analytics columns --------------------------------------------------------------


ARTICLE_VS_MARTS = """
    SELECT a.id, a.view_count, coalesce(p.views, 0), a.unique_views, coalesce(p.uniques, 0),
           a.social_shares, coalesce(s.social, 0), a.engagement_score, a.time_on_page, a.bounce_rate
    FROM articles a
    LEFT JOIN (SELECT article_id, sum(views) AS views, sum(unique_visitors) AS uniques
               FROM marts.fct_article_daily_performance GROUP BY 1) p ON p.article_id = a.id
    LEFT JOIN (SELECT article_id, sum(views) AS social FROM marts.fct_article_channel_daily
               WHERE channel = 'social' GROUP BY 1) s ON s.article_id = a.id
    WHERE a.tenant_id = %s"""


def test_article_columns_equal_the_marts_after_the_run(world):
    checks = {c.check_name: c for c in world["result"].get_asset_check_evaluations()}
    assert checks["article_columns_match_marts"].passed
    for tenant in ("acme", "globex"):
        listed = rows(ARTICLE_VS_MARTS, (world[tenant].id,))
        assert listed and sum(r[1] for r in listed) > 0
        for _, views, mart_views, uniques, mart_uniques, social, mart_social, engagement, top, bounce in listed:
            assert (views, uniques, social) == (mart_views, mart_uniques, mart_social)
            assert 0 <= bounce <= 1 and 0 <= engagement <= 100 and top >= 0
    # totals: the columns add up to the marts
    (col_total,), (mart_total,) = (rows("SELECT sum(view_count) FROM articles")[0],
                                    rows("SELECT sum(views) FROM marts.fct_article_daily_performance")[0])
    assert col_total == mart_total


def test_article_columns_sync_is_idempotent_and_tenant_scoped(world):
    acme, globex = str(world["acme"].id), str(world["globex"].id)
    with connect() as conn:
        assert sync_article_stats(conn, acme) == 0  # already in step: nothing written
        conn.execute("UPDATE articles SET view_count = 999999 WHERE tenant_id = %s", (globex,))
        conn.execute("UPDATE articles SET view_count = 0 WHERE tenant_id = %s", (acme,))
        assert sync_article_stats(conn, acme) > 0
        # acme's sync never touched globex's rows
        assert {r[0] for r in conn.execute("SELECT view_count FROM articles WHERE tenant_id = %s", (globex,))} == {999999}
        assert sync_article_stats(conn, globex) == 4
        assert sync_article_stats(conn, globex) == 0
    for tenant in ("acme", "globex"):
        assert all(r[1] == r[2] for r in rows(ARTICLE_VS_MARTS, (world[tenant].id,)))


# --- the duckdb cross-check ------------------------------------------------------------------------


def test_duckdb_recount_matches_the_marts_exactly(world):
    checks = {c.check_name: c for c in world["result"].get_asset_check_evaluations()}
    crosscheck = checks["marts_match_landed_files"]
    assert crosscheck.passed and crosscheck.severity == dg.AssetCheckSeverity.ERROR
    assert crosscheck.metadata["differences"].value == 0
    (views,) = rows("SELECT count(*) FROM raw.page_events WHERE event_date = %s", (LAST,))[0]
    assert crosscheck.metadata["views_in_files"].value == views
    # the simulator's bad rows, malformed lines and re-sent duplicates were all in the files
    (rejected, duplicates) = rows("""SELECT sum(rows_rejected), sum(rows_duplicate) FROM raw.ingested_files
                                     WHERE event_date = %s""", (LAST,))[0]
    assert rejected > 0 and duplicates > 0
    with connect() as conn:
        for offset in range(DAYS):
            differences, recount = check_day(conn, START + timedelta(days=offset))
            assert differences == [], differences[:5]
            assert sum(a["revenue_usd"] for a in recount.articles) > 0


def _check_only_job(world):
    """analytics_job cut down to the cross-check alone (the marts are tampered with, not rebuilt)."""
    from allixios_assets.analytics.reader_loop import CROSSCHECK, PERFORMANCE

    return world["defs"].resolve_job_def("analytics_job").get_subset(
        asset_selection=set(), asset_check_selection={dg.AssetCheckKey(PERFORMANCE, CROSSCHECK)})


def test_a_difference_fails_the_check_and_names_it(world):
    article, niche, views = rows(
        """SELECT article_id, niche_id, views FROM marts.fct_article_daily_performance
           WHERE day = %s AND views > 0 AND tenant_id = %s ORDER BY article_id LIMIT 1""", (LAST, world["acme"].id))[0]
    extra = feed_folder(LAST, "acme") / "page_late.jsonl"
    try:
        with connect() as conn:
            conn.execute("UPDATE marts.fct_article_daily_performance SET views = views + 2 WHERE day = %s AND article_id = %s",
                         (LAST, article))
        # and a file that landed after the load: the recount reads it, ingest never did
        extra.write_text(json.dumps({"event_id": "late-1", "timestamp": f"{LAST}T10:00:00Z", "tenant": "acme",
                                     "article_id": str(article)}) + "\n")
        with connect() as conn:
            differences, _ = check_day(conn, LAST)
        wrong = [d for d in differences if d["level"] == "article" and d["article_id"] == str(article)
                 and d["measure"] == "views"]
        assert wrong and wrong[0]["marts"] == views + 2 and wrong[0]["files"] == views + 1
        assert any(d["level"] == "file" and d["article_id"].endswith("page_late.jsonl") for d in differences)
        assert any(d["level"] == "niche" and d["measure"] == "views" for d in differences)

        result = _check_only_job(world).execute_in_process(partition_key=LAST.isoformat(), raise_on_error=False,
                                                           instance=world["instance"])
        (evaluation,) = result.get_asset_check_evaluations()
        assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
        records = evaluation.metadata["difference_table"].records
        assert {r.data["level"] for r in records} >= {"article", "niche", "file"}
        assert str(article) in {r.data["article_id"] for r in records}
    finally:
        extra.unlink(missing_ok=True)
        with connect() as conn:
            conn.execute("UPDATE marts.fct_article_daily_performance SET views = views - 2 WHERE day = %s AND article_id = %s",
                         (LAST, article))
    with connect() as conn:
        assert check_day(conn, LAST)[0] == []


# --- the Parquet archive ----------------------------------------------------------------------------


def test_archive_holds_each_tenants_day_and_rewrites_idempotently(world):
    for tenant in ("acme", "globex"):
        assert (partition_dir("page_events", tenant, LAST) / "part-0.parquet").exists()  # written by the job
    with connect() as conn:
        for offset in range(DAYS):
            archive_day(conn, START + timedelta(days=offset))
        first = sorted(p.relative_to(archive_root()) for p in archive_root().rglob("*.parquet"))
        again = archive_day(conn, LAST)
    assert sorted(p.relative_to(archive_root()) for p in archive_root().rglob("*.parquet")) == first
    assert len(first) == 2 * 2 * DAYS  # two tables x two tenants x days
    assert not list(archive_root().rglob("*.tmp"))
    raw = dict(((str(t), k), n) for t, k, n in rows(
        """SELECT tenant_id, 'page_events', count(*) FROM raw.page_events WHERE event_date = %s GROUP BY 1
           UNION ALL SELECT tenant_id, 'revenue_events', count(*) FROM raw.revenue_events WHERE event_date = %s GROUP BY 1""",
        (LAST, LAST)))
    slugs = {str(world["acme"].id): "acme", str(world["globex"].id): "globex"}
    assert {(p.tenant, p.table): p.rows for p in again} == {(slugs[t], k): n for (t, k), n in raw.items()}


def test_archive_query_sees_only_the_tenants_partitions(world):
    names, result = query_archive(
        "SELECT tenant, count(*) AS views, count(DISTINCT day) AS days FROM page_events GROUP BY tenant", "acme")
    (total,) = rows("SELECT count(*) FROM raw.page_events WHERE tenant_id = %s", (world["acme"].id,))[0]
    assert names == ["tenant", "views", "days"] and result == [("acme", total, DAYS)]
    _, revenue = query_archive("SELECT round(sum(amount_usd), 4) FROM revenue_events", "globex")
    (usd,) = rows("SELECT round(sum(amount_usd), 4) FROM raw.revenue_events WHERE tenant_id = %s",
                  (world["globex"].id,))[0]
    assert abs(revenue[0][0] - float(usd)) < 0.001
    other = archive_root() / "page_events" / "tenant=globex"
    for sneaky in (f"SELECT count(*) FROM read_parquet('{other}/*/*.parquet')",
                   "SET enable_external_access = true",
                   f"SELECT * FROM read_csv('{archive_root().parent}/landing/events/{LAST}/globex/page_globex_app.csv')"):
        with pytest.raises(ValidationError):
            query_archive(sneaky, "acme")
    with pytest.raises(Exception, match="no archive for tenant"):
        query_archive("SELECT 1", "nobody")


def test_archive_query_cli_without_postgres(world):
    # no database URL at all: the command reads the files only
    env = {k: v for k, v in os.environ.items() if k not in ("ALLIXIOS_DATABASE_URL", "ALLIXIOS_DAGSTER_DATABASE_URL")}
    env["ALLIXIOS_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"  # unreachable on purpose
    done = subprocess.run(
        [CLI, "analysts", "archive-query", "--tenant", "globex", "--json",
         "SELECT device, count(*) AS views FROM page_events GROUP BY device ORDER BY device"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    got = {r["device"]: r["views"] for r in json.loads(done.stdout)}
    want = {d: n for d, n in rows("SELECT device, count(*) FROM raw.page_events WHERE tenant_id = %s GROUP BY 1",
                                  (world["globex"].id,))}
    assert got == want
    bad = subprocess.run([CLI, "analysts", "archive-query", "--tenant", "acme",
                          "SELECT * FROM nowhere"], capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "archive query failed" in bad.stderr and "fix:" in bad.stderr


# --- the score-drop sensor follows builds -------------------------------------------------------------


def _sensor(world, cursor):
    from sensors.score_drop import ScoreDropPolicy, score_drop_sensor

    ctx = dg.build_sensor_context(
        instance=world["instance"], cursor=cursor,
        # every article is "due": what is evaluated shows in the requests
        resources={"warehouse": WarehouseResource(), "score_drop_policy": ScoreDropPolicy(floor=101, cooldown_days=0)},
    )
    return ctx, score_drop_sensor(ctx)


def test_score_drop_sensor_reevaluates_a_rebuilt_day_and_skips_an_unchanged_one(world):
    ctx, requests = _sensor(world, None)
    assert isinstance(requests, list) and requests
    assert {r.tags["allixios/health_day"] for r in requests} == {(START + timedelta(days=i)).isoformat() for i in range(DAYS)}
    cursor = ctx.cursor
    assert cursor.isdigit()
    ctx, again = _sensor(world, cursor)
    assert isinstance(again, dg.SkipReason) and "no build" in again.skip_message

    # rebuilding the day with the same data: recorded, not re-evaluated
    (builds_before,) = rows("SELECT sum(builds) FROM analytics_builds WHERE day = %s", (LAST,))[0]
    run_dbt(world["tmp"], *window(LAST))
    (builds_after,) = rows("SELECT sum(builds) FROM analytics_builds WHERE day = %s", (LAST,))[0]
    assert builds_after == builds_before + 2  # both tenants' days were checked
    _, unchanged = _sensor(world, cursor)
    assert isinstance(unchanged, dg.SkipReason)

    # the day rebuilt with changed data (acme's app events withdrawn): seen again, same cursor
    (feed_folder(LAST, "acme") / "page_acme_app.csv").unlink()
    with connect() as conn:
        ingest_day(conn, LAST)
    run_dbt(world["tmp"], *window(LAST))
    ctx, seen = _sensor(world, cursor)
    assert isinstance(seen, list) and seen
    assert {r.tags["allixios/health_day"] for r in seen} == {LAST.isoformat()}
    assert {r.tags["allixios/tenant"] for r in seen} == {"acme"}  # globex's rows did not change
    (seq,) = rows("SELECT build_seq FROM analytics_builds WHERE day = %s AND tenant_id = %s",
                  (LAST, world["acme"].id))[0]
    assert all(r.run_key.endswith(f":b{seq}") for r in seen) and int(ctx.cursor) >= seq
    _, after = _sensor(world, ctx.cursor)
    assert isinstance(after, dg.SkipReason)
