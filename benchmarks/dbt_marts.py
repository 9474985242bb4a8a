"""dbt_marts: incremental build of one day with 1M new events on 30 days of history vs full refresh.

Goal (issue 8): incremental <= 0.2x full. Measured on the product path (issue 19): the new day is
built by materializing `analytics_job`'s dbt asset (`analytics_dbt_models`) for its daily partition,
through dagster-dbt on the PostgreSQL-backed Dagster instance — `dbt build` with its tests, the row
counts and column metadata it streams, the build lock. The baseline is `dbt build --full-refresh` of
the same project over all 31 days through the same dbt resource, in the same run. The marts must hold
the same values after both: a checksum per mart over every row (numbers rounded to 6 decimals, build
timestamps left out), not only the row counts. Raw events are generated set-based in SQL straight
into `raw.page_events` / `raw.revenue_events` (ingestion has its own benchmark), one day per
statement. The plain dbt CLI `dbt run` of the same day is kept as a second figure.
"""

from __future__ import annotations

import json
import subprocess
from datetime import date, timedelta

from benchmarks import data
from benchmarks.harness import Stopwatch, admin_connection, log

DESCRIPTION = "dbt: incremental build of one day (1M new events, 30 days of history) vs full refresh of the marts"
SIZES = {
    "quick": {"articles": 2_000, "history_days": 5, "events_per_day": 10_000},
    "full": {"articles": 100_000, "history_days": 30, "events_per_day": 1_000_000},
}
RATIO_GOAL = 0.2
REVENUE_SHARE = 50  # one revenue event per 50 page views

_PAGE_EVENTS = """
INSERT INTO raw.page_events (event_id, event_ts, event_date, tenant_id, article_id, session_id, visitor_hash,
                             referrer, device, country, time_on_page_s, scroll_depth, source_file)
SELECT 'pv-' || %(day)s || '-' || g,
       %(day)s::timestamptz + (g * 86399.0 / %(n)s) * interval '1 second',
       %(day)s::date, bn.tenant_id, b.article_id,
       's' || abs(hashint4extended(g / 3, %(dn)s)) %% (%(n)s / 3 + 1),
       'v' || abs(hashint4extended(g / 5, %(dn)s + 1000)) %% (%(n)s / 5 + 1),
       (ARRAY['google', 'direct', 'twitter', 'newsletter'])[1 + g %% 4],
       (ARRAY['desktop', 'mobile', 'tablet'])[1 + g %% 3],
       (ARRAY['US', 'GB', 'DE', 'FR', 'IN', 'BR'])[1 + g %% 6],
       5 + abs(hashint4extended(g, %(dn)s + 2000)) %% 600,
       (abs(hashint4extended(g, %(dn)s + 3000)) %% 101) / 100.0,
       'bench/' || %(day)s
FROM generate_series(0, %(n)s - 1) g
JOIN bench_articles b
  ON b.i = least(%(articles)s - 1, floor(power((abs(hashint4extended(g, %(dn)s + 4000)) %% 1000000) / 1e6, 3) * %(articles)s))
JOIN bench_niches bn ON bn.k = b.niche_k
"""
_REVENUE_EVENTS = """
INSERT INTO raw.revenue_events (event_id, event_ts, event_date, tenant_id, article_id, source, amount, currency,
                                amount_usd, source_file)
SELECT 'rv-' || %(day)s || '-' || g,
       %(day)s::timestamptz + (g * 86399.0 / %(n)s) * interval '1 second',
       %(day)s::date, bn.tenant_id, b.article_id,
       (ARRAY['ads', 'affiliate', 'sponsorship'])[1 + g %% 3],
       round((abs(hashint4extended(g, %(dn)s + 5000)) %% 500) / 100.0, 2), 'USD',
       round((abs(hashint4extended(g, %(dn)s + 5000)) %% 500) / 100.0, 2),
       'bench/' || %(day)s
FROM generate_series(0, %(n)s - 1) g
JOIN bench_articles b
  ON b.i = least(%(articles)s - 1, floor(power((abs(hashint4extended(g, %(dn)s + 6000)) %% 1000000) / 1e6, 3) * %(articles)s))
JOIN bench_niches bn ON bn.k = b.niche_k
"""


def missing_dependencies() -> str | None:
    from allixios import settings

    models = settings.repo_path("dbt_project", "models")
    needed = ["fct_article_daily_performance.sql", "mart_content_health.sql"]
    missing = [n for n in needed if not any(models.rglob(n))] if models.is_dir() else needed
    if missing:
        return f"the analytics area's dbt models ({', '.join(missing)})"
    try:
        from resources.dbt import dbt_environment, dbt_executable  # noqa: F401
    except ImportError as exc:
        return f"resources.dbt (analytics area): {exc}"
    return None


def load_events(url, days: list[date], per_day: int, articles: int, first_day: date) -> float:
    """Page and revenue events for `days`, one statement per day, on two connections."""

    def insert(conn, day: date) -> None:
        params = {"day": day.isoformat(), "dn": (day - first_day).days, "articles": articles}
        conn.execute(_PAGE_EVENTS, {**params, "n": per_day})
        conn.execute(_REVENUE_EVENTS, {**params, "n": max(1, per_day // REVENUE_SHARE)})

    with Stopwatch() as sw:
        data.run_parallel(url, list(days), insert, workers=2)
    with admin_connection(url) as conn:
        conn.execute("VACUUM (ANALYZE) raw.page_events")
        conn.execute("VACUUM (ANALYZE) raw.revenue_events")
    return sw.seconds


def dbt(url, workdir, *args: str) -> float:
    """Run the dbt CLI on the benchmark database; its target and logs go to the scratch folder."""
    from allixios import settings
    from resources.dbt import dbt_environment, dbt_executable

    project = str(settings.repo_path("dbt_project"))
    env = {**dbt_environment(url), "DBT_TARGET_PATH": str(workdir / "dbt_target"), "DBT_LOG_PATH": str(workdir / "dbt_logs")}
    command = [dbt_executable(), *args, "--project-dir", project, "--profiles-dir", project]
    with Stopwatch() as sw:
        done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        tail = [line for line in done.stdout.splitlines() if "ERROR" in line or "Error" in line][-3:]
        raise RuntimeError(f"dbt {' '.join(args[:2])} failed: {' | '.join(tail) or done.stdout[-400:]}")
    return sw.seconds


def product_build(day: date) -> float:
    """`analytics_job`'s dbt asset materialized for one daily partition: the path `make run` takes."""
    import dagster as dg

    from allixios_assets.analytics.dbt_models import analytics_dbt_models
    from allixios_assets.instance import get_instance
    from resources.dbt import resource_defs
    from resources.warehouse import WarehouseResource

    with Stopwatch() as sw:
        result = dg.materialize([analytics_dbt_models], partition_key=day.isoformat(), instance=get_instance(),
                                resources={**resource_defs(), "warehouse": WarehouseResource()}, raise_on_error=False)
    if not result.success:
        raise RuntimeError(f"analytics_dbt_models failed for {day}")
    return sw.seconds


def resource_build(*args: str) -> float:
    """A dbt command through the product's dbt resource (dagster-dbt), outside a run."""
    from resources.dbt import resource_defs

    with Stopwatch() as sw:
        resource_defs()["dbt"].cli(list(args)).wait()
    return sw.seconds


# Columns a build stamps with its own time: equal data, different values, so left out of checksums.
_BUILD_STAMPS = ("built_at", "updated_at", "loaded_at", "dbt_updated_at", "refreshed_at", "computed_at")


def mart_checksums(url) -> dict[str, str]:
    """Per mart, its row count and the sum of its rows' md5s (numbers rounded to 6 decimals, build stamps left out)."""
    with admin_connection(url) as conn:
        columns = conn.execute(
            "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
            "JOIN information_schema.tables t USING (table_schema, table_name) "
            "WHERE c.table_schema = 'marts' AND t.table_type = 'BASE TABLE' ORDER BY c.table_name, c.ordinal_position"
        ).fetchall()
        tables: dict[str, list[str]] = {}
        for table, column, kind in columns:
            if column in _BUILD_STAMPS:
                continue
            expr = f'round("{column}"::numeric, 6)::text' if kind in ("double precision", "real", "numeric") else f'"{column}"::text'
            tables.setdefault(table, []).append(f"coalesce({expr}, '∅')")
        sums = {}
        for table, exprs in tables.items():
            row = " || '|' || ".join(exprs)
            # an order-free sum of each row's md5 (64 bits of it) and the row count: one string of
            # all rows (string_agg) exceeds PostgreSQL's 1 GB limit at full size (9M-row facts)
            sums[table] = "{}:{}".format(*conn.execute(
                f"SELECT count(*), coalesce(sum(('x' || left(md5(r), 16))::bit(64)::bigint::numeric), 0) "
                f"FROM (SELECT {row} AS r FROM marts.\"{table}\") x"
            ).fetchone())
        return sums


def _mart_rows(url) -> dict[str, int]:
    with admin_connection(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' AND table_type = 'BASE TABLE' "
            "ORDER BY table_name")]
        return {t: conn.execute(f'SELECT count(*) FROM marts."{t}"').fetchone()[0] for t in tables}


def run(ctx) -> None:
    report, p = ctx.report, ctx.params
    shape = data.CorpusShape(articles=p["articles"])

    def set_up() -> dict:
        data.build_corpus(ctx.url, shape, with_text=False, with_vectors=False)
        new_day = date.today() - timedelta(days=1)
        first_day = new_day - timedelta(days=p["history_days"])
        history = [first_day + timedelta(days=n) for n in range(p["history_days"])]
        history_load = load_events(ctx.url, history, p["events_per_day"], shape.articles, first_day)
        log(f"history: {len(history)} days x {p['events_per_day']:,} events loaded in {history_load:.1f} s")
        build_history = dbt(ctx.url, ctx.workdir, "run", "--vars",
                            json.dumps({"start_date": first_day.isoformat(), "end_date": history[-1].isoformat()}))
        log(f"marts built over the history in {build_history:.1f} s")
        new_load = load_events(ctx.url, [new_day], p["events_per_day"], shape.articles, first_day)
        return {"new_day": new_day.isoformat(), "first_day": first_day.isoformat(), "history_load": history_load,
                "build_history": build_history, "new_load": new_load}

    # the events, the marts over the history and the new day's events: shared by the runs of one
    # commit with --reuse-setup (the days are the set-up's, so a copy made yesterday builds its own day)
    done = ctx.setup(set_up)
    new_day, first_day = date.fromisoformat(done["new_day"]), date.fromisoformat(done["first_day"])
    history_load, build_history, new_load = done["history_load"], done["build_history"], done["new_load"]
    day_vars = json.dumps({"start_date": new_day.isoformat(), "end_date": new_day.isoformat()})
    from allixios.db import server

    server.ensure_database(server.dagster_url(), require_pgvector=False)
    from resources.dbt import prepare_parse_state

    # dbt's parse state for this database, as `allixios prepare` and yesterday's build leave it for
    # the product's database (untimed set-up): the day's build re-parses only what changed
    prepare_parse_state(ctx.url)
    incremental = product_build(new_day)
    rows_incremental, sums_incremental = _mart_rows(ctx.url), mart_checksums(ctx.url)
    log(f"incremental build of {new_day} through analytics_dbt_models: {incremental:.1f} s")
    cli_incremental = dbt(ctx.url, ctx.workdir, "run", "--vars", day_vars)
    log(f"the same day with the plain dbt CLI `dbt run` (no tests, no Dagster): {cli_incremental:.1f} s")
    full = resource_build("build", "--full-refresh", "--vars",
                          json.dumps({"start_date": first_day.isoformat(), "end_date": new_day.isoformat()}))
    rows_full, sums_full = _mart_rows(ctx.url), mart_checksums(ctx.url)
    log(f"full refresh `dbt build --full-refresh`: {full:.1f} s")
    with admin_connection(ctx.url) as conn:
        events = conn.execute("SELECT count(*) FROM raw.page_events").fetchone()[0]
    differing = sorted(t for t in set(sums_incremental) | set(sums_full) if sums_incremental.get(t) != sums_full.get(t))

    report.metric("articles", shape.articles)
    report.metric("history days", p["history_days"])
    report.metric("page events per day", p["events_per_day"])
    report.metric("page events in raw", events)
    report.metric("events load, history (SQL generate_series)", history_load, "s")
    report.metric("events load, new day", new_load, "s")
    report.metric("initial build over the history (dbt CLI)", build_history, "s")
    report.metric("incremental build of the new day: analytics_dbt_models (dbt build + tests via dagster-dbt)", incremental, "s")
    report.metric("the same day, plain `dbt run` through the CLI", cli_incremental, "s")
    report.metric("full refresh `dbt build --full-refresh` (dbt resource)", full, "s")
    report.metric("marts whose values differ after the two builds", ", ".join(differing) or "none")
    report.ratio("incremental / full refresh", incremental, full,
                 "the product's one-day build (Dagster + dagster-dbt, tests included) vs rebuilding every day")
    report.ratio("plain CLI incremental / full refresh", cli_incremental, full, "`dbt run` of the day vs the same full build")
    report.goal("incremental / full refresh", incremental / full, "<=", RATIO_GOAL)
    report.goal("same mart values after both (checksums)", float(not differing), ">=", 1.0)
    report.table("marts after the incremental build / after the full refresh", ["mart", "rows", "rows (full)", "same values"],
                 [[t, rows_incremental.get(t), rows_full.get(t), sums_incremental.get(t) == sums_full.get(t)]
                  for t in sorted(set(rows_incremental) | set(rows_full))])
