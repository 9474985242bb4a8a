"""dbt on the real database: two tenants of simulated traffic -> raw -> staging -> marts, with the
dbt tests and unit tests, conservation of revenue and views, the drop flag on simulated drops, an
incremental one-day rebuild, and analyst isolation by Row-Level Security with real roles.

dbt runs once for the module (a full build), plus one windowed rebuild in the incremental test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import date, timedelta
from decimal import Decimal

import psycopg
import pytest

from allixios.analytics.access import grant_analyst, revoke_analyst
from allixios.analytics.ingest import ingest_day
from allixios.analytics.simulator import simulate_traffic
from allixios.db import server
from allixios.db.engine import connect
from resources.dbt import dbt_environment, dbt_executable, prepare_manifest, project_dir
from tests.analytics_support import tenant_with_articles

pytestmark = pytest.mark.slow

START = date(2026, 11, 2)
DAYS = 10
MARTS_TABLES = ("dim_articles", "fct_article_daily_performance", "fct_niche_revenue_daily", "mart_ai_cost_roi",
                "mart_content_health")
MARTS_VIEWS = ("mart_tenant_daily_kpis",)


def run_dbt(tmp_path, *args: str) -> dict:
    """dbt build against the session database; returns run_results.json."""
    target = tmp_path / f"target-{uuid.uuid4().hex[:6]}"
    done = subprocess.run(
        [dbt_executable(), "build", "--project-dir", str(project_dir()), "--profiles-dir", str(project_dir()),
         "--target-path", str(target), "--log-path", str(target), *args],
        env=dbt_environment(), capture_output=True, text=True, timeout=600,
    )
    results = json.loads((target / "run_results.json").read_text()) if (target / "run_results.json").exists() else {}
    assert done.returncode == 0, done.stdout[-4000:]
    return results


def _wipe(url) -> None:
    with connect(url) as conn:
        tables = conn.execute(
            """SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables
               WHERE schemaname IN ('public', 'raw') AND tablename <> 'alembic_version'"""
        ).fetchall()
        conn.execute(f"TRUNCATE {', '.join(t[0] for t in tables)} RESTART IDENTITY CASCADE")


@pytest.fixture(scope="module")
def world(database_url, tmp_path_factory):
    """Tenants acme (12 articles) and globex (6), AI costs, SEO reports, 10 days of traffic, marts built."""
    _wipe(database_url)
    root = tmp_path_factory.mktemp("landing")
    with connect(database_url) as conn:
        acme, acme_articles = tenant_with_articles(conn, "acme", 12, START - timedelta(days=5))
        globex, globex_articles = tenant_with_articles(conn, "globex", 6, START - timedelta(days=5))
        # the LLM ledger: drafting per article, plus topic research charged to the article's topic
        conn.execute(
            """INSERT INTO ai_usage (tenant_id, article_id, task, model, deployment_id, provider, request_id,
                                     tokens_in, tokens_out, cost_usd, status)
               SELECT a.tenant_id, a.id, 'writer', a.ai_model_used, 'd1', 'offline', 'req-' || a.id, 900, 1600,
                      0.02 + 0.01 * (row_number() OVER (ORDER BY a.id) % 4), 'success'
               FROM articles a"""
        )
        topic = conn.execute(
            """INSERT INTO topics (tenant_id, niche_id, title) VALUES (%s, %s, 'Researched topic') RETURNING id""",
            (acme.id, acme_articles[0]["niche_id"]),
        ).fetchone()[0]
        conn.execute("UPDATE articles SET topic_id = %s WHERE id = %s", (topic, acme_articles[0]["id"]))
        conn.execute("""UPDATE articles SET metadata = '{"stand_in": {"writer": "offline", "model": "offline/writer"}}'
                        WHERE id = %s""", (acme_articles[1]["id"],))
        conn.execute(
            """INSERT INTO ai_usage (tenant_id, topic_id, task, model, deployment_id, provider, request_id, cost_usd, status)
               VALUES (%s, %s, 'researcher', 'offline/researcher', 'd1', 'offline', 'research-1', 0.5, 'success')""",
            (acme.id, topic),
        )
        conn.execute(
            """INSERT INTO seo_reports (tenant_id, niche_id, report_date, article_count, avg_seo)
               SELECT DISTINCT tenant_id, niche_id, %s::date, 6, 71.5 FROM articles""",
            (START,),
        )
        sims = {
            "acme": simulate_traffic(conn, DAYS, 1500, START, "acme", seed=11, root=root),
            "globex": simulate_traffic(conn, DAYS, 500, START, "globex", seed=12, root=root),
        }
        for offset in range(DAYS):
            ingest_day(conn, START + timedelta(days=offset), root=root)
    prepare_manifest()
    results = run_dbt(tmp_path_factory.mktemp("dbt"), "--full-refresh")
    return {"acme": acme, "globex": globex, "acme_articles": acme_articles, "globex_articles": globex_articles,
            "sims": sims, "results": results, "root": root, "url": database_url}


def rows(sql: str, params=None) -> list[tuple]:
    with connect() as conn:
        return conn.execute(sql, params).fetchall()


def test_build_runs_models_data_tests_and_unit_tests(world):
    results = world["results"]["results"]
    assert results and all(r["status"] in ("success", "pass") for r in results), [
        (r["unique_id"], r["status"], r.get("message")) for r in results if r["status"] not in ("success", "pass")
    ]
    kinds = {}
    for r in results:
        kinds.setdefault(r["unique_id"].split(".")[0], []).append(r["unique_id"])
    assert len(kinds["model"]) == 35  # 14 staging, 8 intermediate, 13 marts
    assert len(kinds["unit_test"]) == 4
    assert len(kinds["test"]) >= 40
    singular = [t for t in kinds["test"] if "conserved" in t]
    assert len(singular) == 2


def test_relations_land_in_exactly_named_schemas(world):
    found = dict(rows("""SELECT table_schema || '.' || table_name, table_type FROM information_schema.tables
                         WHERE table_schema IN ('staging', 'intermediate', 'marts')"""))
    for name in MARTS_TABLES:
        assert found[f"marts.{name}"] == "BASE TABLE"
    for name in MARTS_VIEWS:
        assert found[f"marts.{name}"] == "VIEW"
    assert found["staging.stg_page_events"] == "VIEW"
    assert found["intermediate.int_page_views_by_article_day"] == "VIEW"
    assert not any(s.startswith("analytics") for s in found)


def test_revenue_and_views_are_conserved_from_raw_to_marts(world):
    raw = dict(((t, d), (v, Decimal(0))) for t, d, v in rows(
        "SELECT tenant_id, event_date, count(*) FROM raw.page_events GROUP BY 1, 2"))
    for t, d, usd in rows("SELECT tenant_id, event_date, sum(amount_usd) FROM raw.revenue_events GROUP BY 1, 2"):
        views = raw.get((t, d), (0, 0))[0]
        raw[(t, d)] = (views, usd)
    facts = {(t, d): (v, usd) for t, d, v, usd in rows(
        "SELECT tenant_id, day, sum(views), sum(revenue_usd) FROM marts.fct_article_daily_performance GROUP BY 1, 2")}
    niches = {(t, d): (v, usd) for t, d, v, usd in rows(
        "SELECT tenant_id, day, sum(views), sum(revenue_usd) FROM marts.fct_niche_revenue_daily GROUP BY 1, 2")}
    kpis = {(t, d): (v, usd) for t, d, v, usd in rows(
        "SELECT tenant_id, day, views, revenue_usd FROM marts.mart_tenant_daily_kpis")}
    assert len(raw) == 2 * DAYS
    assert facts == raw and niches == raw and kpis == raw
    total = sum(usd for _, usd in raw.values())
    assert total > 50  # a real amount of simulated revenue went through


def test_dim_articles_marks_the_stand_in_articles(world):
    marked = rows("SELECT article_id FROM marts.dim_articles WHERE is_stand_in")
    assert marked == [(world["acme_articles"][1]["id"],)]
    assert rows("SELECT count(*) FROM marts.dim_articles WHERE is_stand_in IS NULL") == [(0,)]


def test_article_facts_have_one_row_per_live_article_and_day(world):
    [(count, distinct, zero_view_rows)] = rows(
        """SELECT count(*), count(DISTINCT (article_id, day)), count(*) FILTER (WHERE views = 0)
           FROM marts.fct_article_daily_performance""")
    assert count == distinct == (12 + 6) * DAYS  # every article was live on every simulated day
    # per-article metrics are within their documented ranges and consistent
    [(bad,)] = rows(
        """SELECT count(*) FROM marts.fct_article_daily_performance
           WHERE unique_visitors > views OR sessions > views OR (views > 0 AND engagement_score IS NULL)
              OR rpm_usd <> round(1000 * revenue_usd / nullif(views, 0), 4)""")
    assert bad == 0


def test_content_health_flags_the_simulated_drops(world):
    drops = {d["article_id"]: date.fromisoformat(d["drop_day"]) for sim in world["sims"].values()
             for d in sim["drop_articles"]}
    assert len(drops) >= 2
    flagged = rows("SELECT article_id::text, day, drop_reason FROM marts.mart_content_health WHERE is_drop")
    by_article: dict[str, list[date]] = {}
    for article, day, _ in flagged:
        by_article.setdefault(article, []).append(day)
    for article, drop_day in drops.items():
        assert any(drop_day <= d <= drop_day + timedelta(days=2) for d in by_article.get(article, [])), (article, drop_day)
    false_alarms = sum(len(days) for a, days in by_article.items() if a not in drops)
    [(eligible,)] = rows("SELECT count(*) FROM marts.mart_content_health WHERE baseline_days >= 3")
    assert false_alarms <= 0.03 * eligible
    # the health mart carries what the score-drop sensor reads, indexed for it
    columns = {r[0] for r in rows("""SELECT column_name FROM information_schema.columns
                                     WHERE table_schema = 'marts' AND table_name = 'mart_content_health'""")}
    assert {"tenant_id", "niche_id", "article_id", "day", "views", "engagement_score", "quality_score", "seo_score",
            "revenue_usd", "baseline_engagement", "baseline_revenue_usd", "engagement_drop_pct", "revenue_drop_pct",
            "is_drop"} <= columns
    indexes = [r[0] for r in rows("SELECT indexdef FROM pg_indexes WHERE tablename = 'mart_content_health'")]
    assert any(i.endswith("(day)") for i in indexes)
    assert any(i.endswith("(tenant_id, article_id, day)") for i in indexes)


def test_ai_cost_roi_attributes_costs_and_finds_payback(world):
    first = world["acme_articles"][0]["id"]
    [(cost, calls, model)] = rows(
        "SELECT generation_cost_usd, llm_calls, model FROM marts.mart_ai_cost_roi WHERE article_id = %s", (first,))
    [(ledger,)] = rows("SELECT sum(cost_usd) FROM ai_usage WHERE article_id = %s OR request_id = 'research-1'", (first,))
    assert cost == ledger and calls == 2
    assert model == "offline/researcher"  # the model that cost the most for this article
    checked = 0
    for article, cost, payback_day in rows(
            "SELECT article_id, generation_cost_usd, payback_day FROM marts.mart_ai_cost_roi WHERE payback_day IS NOT NULL"):
        [(before, at)] = rows(
            """SELECT coalesce(sum(revenue_usd) FILTER (WHERE day < %(d)s), 0), sum(revenue_usd) FILTER (WHERE day <= %(d)s)
               FROM marts.fct_article_daily_performance WHERE article_id = %(a)s""", {"a": article, "d": payback_day})
        assert before < cost <= at
        checked += 1
    assert checked > 0
    [(models,)] = rows("SELECT count(DISTINCT model) FROM marts.mart_ai_cost_roi WHERE cost_line = 'article'")
    assert models == 3


def test_a_one_day_window_rebuild_replaces_only_that_day(world):
    day = START + timedelta(days=6)
    other_days = """SELECT article_id, day, views, revenue_usd, engagement_score
                    FROM marts.fct_article_daily_performance WHERE day <> %s ORDER BY 1, 2"""
    before_other = rows(other_days, (day,))
    before_health = rows("SELECT count(*) FROM marts.mart_content_health WHERE day = %s", (day,))
    # the day's app traffic file is withdrawn upstream: re-ingest, then rebuild the window
    (world["root"] / day.isoformat() / "acme" / "page_acme_app.csv").unlink()
    with connect() as conn:
        ingest_day(conn, day, root=world["root"])
    [(raw_views,)] = rows("SELECT count(*) FROM raw.page_events WHERE event_date = %s", (day,))

    # the operator's way: `allixios marts build --start D` (dbt build of that day's window, tests included)
    done = subprocess.run([sys.executable, "-m", "allixios.cli", "marts", "build", "--start", day.isoformat()],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "PASS=" in done.stdout and "ERROR=0" in done.stdout
    [(fact_views,)] = rows("SELECT sum(views) FROM marts.fct_article_daily_performance WHERE day = %s", (day,))
    assert fact_views == raw_views
    assert rows(other_days, (day,)) == before_other
    assert rows("SELECT count(*) FROM marts.mart_content_health WHERE day = %s", (day,)) == before_health
    [(niche_views,)] = rows("SELECT sum(views) FROM marts.fct_niche_revenue_daily WHERE day = %s", (day,))
    assert niche_views == raw_views


def test_the_next_day_adds_to_the_revenue_totals_and_matches_a_full_rebuild(world, tmp_path):
    """The day after the last one built extends int_article_revenue_to_date (running totals) instead of
    recomputing it, and mart_ai_cost_roi comes out as a full rebuild of both computes it, including
    an article whose cost changed (its history is recomputed alone)."""
    day = START + timedelta(days=DAYS)
    roi = "SELECT * FROM marts.mart_ai_cost_roi ORDER BY cost_line, article_id, tenant_id, task, model"
    totals = "SELECT article_id, xmin::text FROM intermediate.int_article_revenue_to_date WHERE tenant_id = %s"
    with connect() as conn:
        simulate_traffic(conn, 1, 1500, day, "acme", seed=13, root=world["root"])
        ingest_day(conn, day, root=world["root"])
        # a late ledger row: this article's payback day must be found again for its new cost
        conn.execute(
            """INSERT INTO ai_usage (tenant_id, article_id, task, model, deployment_id, provider, request_id, cost_usd, status)
               VALUES (%s, %s, 'writer', 'offline/writer-large', 'd1', 'offline', 'late-1', 0.75, 'success')""",
            (world["acme"].id, world["acme_articles"][2]["id"]),
        )
    globex_before = rows(totals, (world["globex"].id,))
    done = subprocess.run([sys.executable, "-m", "allixios.cli", "marts", "build", "--start", day.isoformat()],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    # globex had no events that day: an extending build leaves its totals' rows as they were
    assert rows(totals, (world["globex"].id,)) == globex_before
    [(through,)] = rows("SELECT max(through_day) FROM intermediate.int_article_revenue_to_date")
    assert through == day
    extended = rows(roi)

    run_dbt(tmp_path, "--full-refresh", "--select", "int_article_revenue_to_date", "mart_ai_cost_roi")
    assert rows(roi) == extended
    assert rows(totals, (world["globex"].id,)) != globex_before  # rewritten by the full rebuild


# --- analysts: real roles, Row-Level Security ---------------------------------------------------


@pytest.fixture(scope="module")
def analysts(world):
    suffix = uuid.uuid4().hex[:8]
    names = {"acme": f"analyst_acme_{suffix}", "globex": f"analyst_globex_{suffix}"}
    with connect() as conn:
        grants = {slug: grant_analyst(conn, slug, role, password=f"pw-{suffix}") for slug, role in names.items()}
    yield grants
    with connect() as conn:
        for role in names.values():
            try:
                revoke_analyst(conn, role)
            except Exception:
                pass


def analyst_connection(grant) -> psycopg.Connection:
    url = grant.url(server.app_url())
    return psycopg.connect(server.libpq_conninfo(url), autocommit=True)


@pytest.mark.parametrize("relation", MARTS_TABLES + MARTS_VIEWS)
def test_analyst_reads_only_their_tenants_rows(world, analysts, relation):
    for slug, other in (("acme", "globex"), ("globex", "acme")):
        tenant, other_tenant = world[slug], world[other]
        [(expected,)] = rows(f"SELECT count(*) FROM marts.{relation} WHERE tenant_id = %s", (tenant.id,))
        assert expected > 0
        with analyst_connection(analysts[slug]) as c:
            seen = c.execute(f"SELECT tenant_id, count(*) FROM marts.{relation} GROUP BY 1").fetchall()
            assert seen == [(tenant.id, expected)]
            assert c.execute(f"SELECT count(*) FROM marts.{relation} WHERE tenant_id = %s",
                             (other_tenant.id,)).fetchone() == (0,)


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO marts.dim_articles (article_id, tenant_id) VALUES (gen_random_uuid(), '{tenant}')",
        "UPDATE marts.fct_article_daily_performance SET views = 0",
        "DELETE FROM marts.mart_content_health",
        "CREATE TABLE marts.mine (x int)",
        "SELECT count(*) FROM raw.page_events",
        "SELECT count(*) FROM public.articles",
        "SELECT count(*) FROM staging.stg_articles",
        "SELECT count(*) FROM public.analyst_roles",
    ],
)
def test_analyst_cannot_write_or_read_outside_the_marts(world, analysts, statement):
    with analyst_connection(analysts["acme"]) as c:
        c.execute("SET default_transaction_read_only = off")  # prove the grants, not just the default, refuse
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute(statement.format(tenant=world["acme"].id))


def test_analyst_sessions_are_read_only_and_cannot_ask_for_other_tenants(world, analysts):
    with analyst_connection(analysts["acme"]) as c:
        assert c.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        assert c.execute("SELECT marts.analyst_tenant_id(current_user)").fetchone() == (world["acme"].id,)
        assert c.execute("SELECT marts.analyst_tenant_id(%s)", (analysts["globex"].role,)).fetchone() == (None,)


def test_marts_tables_force_row_level_security_and_views_run_as_invoker(world):
    flags = dict((r[0], (r[1], r[2])) for r in rows(
        """SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'marts' AND c.relkind = 'r'"""))
    assert {name: flags[name] for name in MARTS_TABLES} == {name: (True, True) for name in MARTS_TABLES}
    options = dict(rows(
        """SELECT c.relname, array_to_string(c.reloptions, ',') FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('marts', 'staging') AND c.relkind = 'v'"""))
    assert options and all("security_invoker=true" in (o or "") for o in options.values())


def test_an_analyst_without_a_tenant_sees_nothing(world, analysts):
    role = f"analyst_orphan_{uuid.uuid4().hex[:8]}"
    with connect() as conn:
        grant_analyst(conn, "acme", role, password="pw")
        conn.execute("DELETE FROM analyst_roles WHERE role_name = %s", (role,))
    try:
        url = server.app_url().set(username=role, password="pw")
        with psycopg.connect(server.libpq_conninfo(url), autocommit=True) as c:
            assert c.execute("SELECT count(*) FROM marts.fct_article_daily_performance").fetchone() == (0,)
    finally:
        with connect() as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


def _querying_the_marts_sql() -> list[str]:
    """The SQL examples of the README's "Querying the marts" (or its snippet before the merge)."""
    from allixios import settings

    for path in (settings.repo_path("README.md"), settings.repo_path("docs", "areas", "analytics-readme.md")):
        text = path.read_text() if path.exists() else ""
        if "## Querying the marts" in text:
            section = text.split("## Querying the marts", 1)[1].split("\n## ", 1)[0]
            blocks = [b.split("```", 1)[0] for b in section.split("```sql")[1:]]
            return [q.strip() for b in blocks for q in b.split(";") if q.strip()]
    return []


def test_the_readme_queries_run_for_an_analyst(world, analysts):
    queries = _querying_the_marts_sql()
    assert len(queries) >= 3
    with analyst_connection(analysts["acme"]) as c:
        for query in queries:
            c.execute(query).fetchall()
        assert c.execute("SELECT count(article_id) FROM mart_ai_cost_roi").fetchone()[0] == 12  # search_path is marts
