"""forecast_backtest: accuracy of the article forecasts against seasonal naive, on simulated history.

Goal (issue 18): MASE < 1 for views and revenue, where MASE = the chosen model's pooled absolute
error over the held-out days / that of seasonal naive on the same days, computed in the same run
(allixios/analytics/forecast.py). The history is the real chain: articles written by the offline
writer, the traffic simulator's event files for `days` days, ingestion, dbt build; then the backtest
runs at several forecast origins (the last day, and `origins - 1` weeks before it), each holding out
the 7 days after it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from benchmarks.harness import Stopwatch, log

DESCRIPTION = "forecast backtest: MASE of the chosen model (ETS / Theta / window average) vs seasonal naive"
SIZES = {
    "quick": {"topics": 8, "days": 35, "events_per_day": 1500, "origins": 2},
    "full": {"topics": 30, "days": 120, "events_per_day": 20000, "origins": 6},
}
GOAL = 1.0
TOPICS = ["Growing Tomatoes in Containers", "Companion Planting for Beginners", "Composting at Home Without the Smell",
          "Raised Bed Soil Mixes Compared", "Watering Schedules for Summer Heat", "Mulching Vegetable Beds in Autumn",
          "Pruning Fruit Trees in Winter", "Starting Seeds Indoors", "Attracting Pollinators to the Garden",
          "Growing Herbs on a Windowsill"]


def missing_dependencies() -> str | None:
    try:
        import statsforecast  # noqa: F401
    except ImportError as exc:
        return f"statsforecast: {exc}"
    from benchmarks.dbt_marts import missing_dependencies as dbt_missing

    return dbt_missing()


def _world(url, p) -> None:
    from allixios.ai.client import LLMClient
    from allixios.ai.embeddings import get_embedder
    from allixios.content import pipeline
    from allixios.content.topics import TopicInput, add_topics
    from allixios.db.engine import connect
    from allixios.tenants import add_niche, ensure_tenant

    topics = [f"{TOPICS[i % len(TOPICS)]}{'' if i < len(TOPICS) else f' Part {i // len(TOPICS) + 1}'}"
              for i in range(p["topics"])]
    first = datetime.now(UTC).date() - timedelta(days=p["days"] - 1)
    with connect(url) as conn:
        tenant = ensure_tenant(conn, "sample")
        niche = add_niche(conn, tenant, "garden", "Home Gardening", ["gardening"], daily_quota=len(topics))
        add_topics(conn, niche, [TopicInput(t, (), t.lower().split(" ")[0] + " " + t.lower().split(" ")[1], 50)
                                 for t in topics])
    llm, embedder = LLMClient(database_url=url), get_embedder(database_url=url)
    with connect(url) as conn:
        part = pipeline.resolve_partition(conn, first.isoformat(), niche.partition_key)
        pipeline.select_topics(conn, part, embedder, llm=llm, research="never", run_id="bench")
    with connect(url) as conn:
        pipeline.draft_articles(conn, part, llm, run_id="bench")
    with connect(url) as conn:
        pipeline.score_partition(conn, part)
        # every draft goes live for the benchmark (the bars are not what is measured here)
        conn.execute("UPDATE articles SET status = 'scored'")
        conn.execute("UPDATE tenants SET settings = settings || '{\"min_quality\": 0, \"min_seo\": 0, \"min_body_chars\": 0}'")
    with connect(url) as conn:
        part = pipeline.resolve_partition(conn, first.isoformat(), niche.partition_key)
        pipeline.publish_partition(conn, part, run_id="bench")
        conn.execute("UPDATE articles SET published_at = %s WHERE status = 'published'",
                     (datetime(first.year, first.month, first.day, tzinfo=UTC) - timedelta(days=3),))


def run(ctx) -> None:
    from allixios.analytics import forecast as fc
    from allixios.analytics.ingest import ingest_day
    from allixios.analytics.simulator import simulate_traffic
    from allixios.db.engine import connect
    from benchmarks.dbt_marts import dbt

    p, report = ctx.params, ctx.report
    today = datetime.now(UTC).date()
    first = today - timedelta(days=p["days"] - 1)
    _world(ctx.url, p)
    with connect(ctx.url) as conn:
        sim = simulate_traffic(conn, days=p["days"], events_per_day=p["events_per_day"], start=first, seed=18)
    log(f"simulated {p['days']} days, {len(sim['drop_articles'])} decaying article(s)")
    for i in range(p["days"]):
        with connect(ctx.url) as conn:
            ingest_day(conn, first + timedelta(days=i))
    import json

    dbt(ctx.url, ctx.workdir, "build", "--vars", json.dumps({"start_date": first.isoformat(), "end_date": today.isoformat()}))
    settings = fc.ForecastSettings()
    pooled = {m: {} for m in fc.METRICS}
    series = {m: 0 for m in fc.METRICS}
    rows = []
    with Stopwatch() as sw:
        for k in range(p["origins"]):
            # origin k: the history ends 7k days before the last day; its next 7 days are held out
            as_of = today - timedelta(days=7 * k)
            with connect(ctx.url) as conn:
                history = fc.load_history(conn, as_of, settings)
            tests = fc.backtest(history, settings)
            for m, t in tests.items():
                series[m] += t.series
                for model, err in t.errors.items():
                    pooled[m][model] = pooled[m].get(model, 0.0) + err
                rows.append([as_of.isoformat(), m, t.series, *[t.mase(n) for n in (*settings.candidates, fc.BASELINE)],
                             t.winner])
    report.metric("articles", len(history))
    report.metric("history days", p["days"])
    report.metric("forecast origins", p["origins"])
    report.metric("backtest time (all origins)", sw.seconds, "s")
    report.table("MASE per origin (model error / seasonal-naive error on the same 7 held-out days)",
                 ["origin", "metric", "series", *settings.candidates, fc.BASELINE, "chosen"], rows)
    for m in fc.METRICS:
        base = pooled[m][fc.BASELINE]
        scores = {model: (err / base if base else None) for model, err in pooled[m].items()}
        best = min((v, n) for n, v in scores.items() if n != fc.BASELINE and v is not None)
        for model, v in scores.items():
            report.metric(f"{m}: MASE {model}", v)
        report.ratio(f"{m}: chosen model ({best[1]}) error / seasonal-naive error", pooled[m][best[1]], base,
                     "pooled absolute error over every series and origin, both measured in this run")
        report.goal(f"{m}: MASE of the chosen model", best[0], "<=", GOAL - 1e-9)
    report.note("seasonal naive uses a 7-day season (the last value for series under two weeks); history is the "
                "traffic simulator's (a stand-in for real readers), built through ingestion and dbt")
