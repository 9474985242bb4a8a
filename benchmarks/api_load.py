"""api_load: the seed's "1,000 concurrent content requests" against the real API server, harder.

A real `allixios serve` (uvicorn, `workers` processes) on 127.0.0.1 with the dispatcher off (the API
plans and records; launching runs is not what is measured). An asyncio client (aiohttp) with a bounded
connection pool sends, at the same concurrency: the trivial liveness endpoint (the stack's ceiling
on this machine: uvicorn + FastAPI + the client), `POST /v1/content-requests` (authenticate, rate
limit, plan with the catalogue and the stand-in writer's price, record topics, allocation and
request in one transaction) and `GET /v1/articles/{id}`. Then a sustained mixed load for a while,
with the server processes' resident memory sampled at its start and end.

The client is aiohttp, not httpx: measured on this machine against the same liveness endpoint,
httpx's AsyncClient fell from ~200 req/s at 1 connection to ~56 req/s at 100 (its pool, not the
server), aiohttp reached ~1,700 req/s at 100; with httpx the benchmark would measure the client.

Goals (issue 14): >= 99.9 % success, p95 <= 200 ms, >= 0.5 of the liveness endpoint's throughput,
no memory growth over the sustained load.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time

from benchmarks.harness import latency_summary, log

DESCRIPTION = "1,000 concurrent POST /v1/content-requests and GET /v1/articles/{id} vs the liveness endpoint"
SIZES = {
    "quick": {"requests": 300, "concurrency": 100, "workers": 1, "niches": 8, "sustain_s": 5},
    "full": {"requests": 1000, "concurrency": 1000, "workers": 2, "niches": 8, "sustain_s": 60},
}
P95_GOAL_MS = 200.0


def missing_dependencies() -> str | None:
    try:
        import aiohttp  # noqa: F401
        import httpx  # noqa: F401

        from allixios.api.app import create_app  # noqa: F401
    except ImportError as exc:
        return f"allixios.api / aiohttp / httpx: {exc}"
    return None


def _setup(url, niches: int) -> tuple[str, list[str], list[str]]:
    from psycopg.types.json import Jsonb

    from allixios.db.engine import connect
    from allixios.editorial.authoring import create_article
    from allixios.identity.keys import create_key
    from allixios.identity.users import add_user
    from allixios.tenants import add_niche, ensure_tenant

    body = "## Why\n\n" + "Saving a little every week builds a cushion against surprises. " * 40
    with connect(url) as conn:
        tenant = ensure_tenant(conn, "bench")
        # the benchmark measures the server, not the tenant's limits
        conn.execute("UPDATE tenants SET limits = %s WHERE id = %s",
                     (Jsonb({"api_requests_per_minute_per_credential": 10**9, "api_requests_per_minute": 10**9}),
                      tenant.id))
        slugs = []
        for i in range(niches):
            niche = add_niche(conn, tenant, f"niche_{i}", f"Niche {i}", ["saving"], 1000)
            slugs.append(niche.slug)
        user = add_user(conn, tenant, "bench@example.com", role="editor", actor="benchmark")
        _, secret = create_key(conn, tenant, str(user.id), name="bench", actor="benchmark")
        articles = [str(create_article(conn, tenant, None, {"title": f"Bench article {i}", "content": body},
                                       actor="benchmark")) for i in range(20)]
    return secret, slugs, articles


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of the server process and its workers (from /proc)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
            with open(f"/proc/{p}/task/{p}/children") as fh:
                todo += [int(c) for c in fh.read().split()]
        except (OSError, StopIteration):
            continue
    return total / 1024


async def _request(session, method: str, path: str, kwargs: dict) -> int:
    async with session.request(method, path, **kwargs) as r:
        await r.read()
        return r.status


async def _phase(base: str, concurrency: int, requests: int, make) -> dict:
    import aiohttp

    latencies: list[float] = []
    failures: dict[str, int] = {}
    sem = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as session:
        async def one(i: int) -> None:
            method, path, kwargs = make(i)
            async with sem:
                start = time.perf_counter()
                try:
                    status = await _request(session, method, path, kwargs)
                    ok, key = status < 300, str(status)
                except (TimeoutError, aiohttp.ClientError) as exc:
                    ok, key = False, type(exc).__name__
                latencies.append(time.perf_counter() - start)
                if not ok:
                    failures[key] = failures.get(key, 0) + 1

        # open every connection first (liveness requests, not timed): the phase measures requests, not handshakes
        await asyncio.gather(*(one(-1 - i) for i in range(concurrency)))
        latencies.clear()
        failures.clear()
        wall = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        wall = time.perf_counter() - wall
    return {**latency_summary(latencies), "p99_ms": sorted(latencies)[int(0.99 * (len(latencies) - 1))] * 1000,
            "rps": requests / wall, "success": 1 - sum(failures.values()) / requests, "failures": failures}


async def _sustain(base: str, concurrency: int, seconds: float, make) -> int:
    import aiohttp

    done = 0
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base, connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def worker(w: int) -> None:
            nonlocal done
            i = w
            while time.monotonic() < deadline:
                method, path, kwargs = make(i)
                await _request(session, method, path, kwargs)
                done += 1
                i += concurrency

        await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return done


def run(ctx) -> None:
    report, p = ctx.report, ctx.params
    secret, niches, articles = _setup(ctx.url, p["niches"])
    port = _free_port()
    env = {**os.environ, "ALLIXIOS_API_DISPATCH": "0"}
    server = subprocess.Popen([sys.executable, "-m", "allixios.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--workers", str(p["workers"]), "--no-dispatch"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {secret}"}
    try:

        from allixios.testing.servers import stop_process, wait_until_answers

        # the server is up when a credentialed request works (each worker warm)
        wait_until_answers(f"{base}/v1/me", server, headers=auth)

        def live(i):
            return "GET", "/v1/system/live", {}

        def post(i):
            if i < 0:
                return live(i)
            body = {"niche": niches[i % len(niches)], "priority": 80,
                    "topics": [{"title": f"Bench topic {time.time_ns()} {i}", "keyphrase": "saving money"}]}
            return "POST", "/v1/content-requests", {"json": body, "headers": auth}

        def get(i):
            if i < 0:
                return live(i)
            return "GET", f"/v1/articles/{articles[i % len(articles)]}", {"headers": auth}

        n, c = p["requests"], p["concurrency"]
        asyncio.run(_phase(base, min(c, 20), 40, post))  # warm: plans, pools, caches in every worker
        asyncio.run(_phase(base, min(c, 20), 40, get))
        results = {}
        for name, make in (("health", live), ("content_requests", post), ("get_article", get)):
            results[name] = asyncio.run(_phase(base, c, n, make))
            r = results[name]
            log(f"{name}: success {r['success']:.4f}, p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms, "
                f"p99 {r['p99_ms']:.0f} ms, {r['rps']:.0f} req/s {r['failures'] or ''}")
        rss_start = _tree_rss_mb(server.pid)

        def mixed(i):
            return post(i) if i % 2 else get(i)

        sustained = asyncio.run(_sustain(base, min(c, 100), p["sustain_s"], mixed))
        rss_end = _tree_rss_mb(server.pid)
    finally:
        stop_process(server)

    for name, r in results.items():
        for k in ("success", "p50_ms", "p95_ms", "p99_ms", "rps"):
            report.metric(f"{name}_{k}", round(r[k], 4 if k == "success" else 1),
                          {"success": "share", "rps": "req/s"}.get(k, "ms"))
    base_rps = results["health"]["rps"]
    report.ratio("content_requests_vs_health_rps", results["content_requests"]["rps"], base_rps,
                 "throughput of POST /v1/content-requests over the liveness endpoint's, same concurrency")
    report.ratio("get_article_vs_health_rps", results["get_article"]["rps"], base_rps,
                 "throughput of GET /v1/articles/{id} over the liveness endpoint's, same concurrency")
    report.metric("sustained_requests", sustained, "requests", f"mixed POST/GET for {p['sustain_s']} s")
    report.metric("server_rss_start_mb", round(rss_start, 1), "MB")
    report.metric("server_rss_end_mb", round(rss_end, 1), "MB")
    for name in ("content_requests", "get_article"):
        r = results[name]
        report.goal(f"{name} success share", r["success"], ">=", 0.999)
        report.goal(f"{name} p95", r["p95_ms"], "<=", P95_GOAL_MS, "ms")
        report.goal(f"{name} throughput vs health", r["rps"] / base_rps, ">=", 0.5)
    report.goal("server memory growth over the sustained load", rss_end / max(rss_start, 1) - 1, "<=", 0.10)
    report.table("API under load", ["endpoint", "success", "p50 ms", "p95 ms", "p99 ms", "req/s"],
                 [[k, f"{r['success']:.4f}", f"{r['p50_ms']:.0f}", f"{r['p95_ms']:.0f}", f"{r['p99_ms']:.0f}",
                   f"{r['rps']:.0f}"] for k, r in results.items()])
    report.note(f"{p['workers']} uvicorn worker(s), {c} concurrent connections, {n} requests per endpoint; "
                "the client shares the machine's cores with the server")
