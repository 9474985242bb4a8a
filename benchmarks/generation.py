"""Shared driver of generation_throughput and provider_faults: topics -> drafts -> scored -> embedded.

Runs the content area's step functions (`allixios.content.pipeline`: pending_drafts, request_drafts,
store_drafts, score_partition, embed_partition) with the AI area's LLMClient against the stand-in
provider (`benchmarks.llm_provider`) over real HTTP, and checks the ledger against the provider's
request log. Topics are inserted as the day's selected backlog of one niche (topic selection is not
part of what these benchmarks measure).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.harness import Stopwatch, admin_connection
from benchmarks.llm_provider import ProviderProcess  # noqa: F401  (re-exported for the benchmarks)

LATENCY_MS = 200
WRITER_A, WRITER_B = "bench-writer-a", "bench-writer-b"
KEY_ENV = "ALLIXIOS_BENCH_LLM_KEY"
# The policy the benchmark runs with (a 200 ms provider gets a 2 s timeout, 10x its latency).
POLICY = {
    "timeout_s": 2,
    "max_attempts_per_deployment": 2,
    "backoff_base_s": 0.05,
    "backoff_max_s": 0.5,
    "max_retry_after_s": 5,
    "circuit_failure_threshold": 5,
    "circuit_cooldown_s": 30,
    "min_history_articles": 5,
}
_KEYPHRASE_WORDS = (
    ["budget", "home", "remote", "garden", "travel", "credit", "fitness", "coffee"],
    ["planning", "office", "teams", "beds", "insurance", "score", "routine", "brewing"],
)


def keyphrases() -> list[str]:
    return [f"{a} {b}" for a in _KEYPHRASE_WORDS[0] for b in _KEYPHRASE_WORDS[1]]


def write_catalogue(path: Path, server_url: str, two_deployments: bool, **policy) -> Path:
    """Writer alias on the stand-in provider (A preferred, B its fallback) + the offline embedder;
    ``policy``: catalogue defaults beside POLICY (e.g. direct_openai_compatible=False)."""
    from allixios.testing.catalogues import local_deployment
    from allixios.testing.catalogues import write_catalogue as write

    writers = [local_deployment(WRITER_A, server_url, quality=85, latency_ms=LATENCY_MS, api_key_env=KEY_ENV,
                                timeout_s=POLICY["timeout_s"])]
    if two_deployments:
        writers.append(local_deployment(WRITER_B, server_url, quality=80, latency_ms=LATENCY_MS, api_key_env=KEY_ENV,
                                        timeout_s=POLICY["timeout_s"]))
    embedder = {"id": "offline-embedder", "model": "offline/hashing-384", "stand_in": True, "dimension": 384,
                "price": {"input": 0.002, "output": 0}, "quality_prior": 40}
    return write(path, {"writer": writers, "embedder": [embedder]}, **{**POLICY, **policy})


def add_niche_with_topics(url, niche_slug: str, count: int, day: date) -> str:
    """A niche of the 'bench' tenant whose backlog for `day` holds `count` selected topics; its partition key."""
    from allixios.db.engine import connect
    from allixios.tenants import add_niche, ensure_tenant

    with connect(url) as conn:
        tenant = ensure_tenant(conn, "bench", "Benchmark publisher")
        niche = add_niche(conn, tenant, niche_slug, niche_slug.replace("_", " ").title(), ["benchmark"], daily_quota=count)
        conn.execute(
            """INSERT INTO topics (tenant_id, niche_id, title, keywords, target_keyphrase, priority, status, source,
                                   partition_date)
               SELECT %(tenant)s, %(niche)s, initcap(kp) || ': a practical guide, part ' || i || ' (' || %(slug)s || ')',
                      ARRAY[kp, split_part(kp, ' ', 2)], kp, 50, 'selected', 'cli', %(day)s
               FROM generate_series(1, %(n)s) i
               CROSS JOIN LATERAL (SELECT (%(kps)s::text[])[1 + i %% %(nkp)s] AS kp) k""",
            {"tenant": tenant.id, "niche": niche.id, "slug": niche_slug, "day": day, "n": count,
             "kps": keyphrases(), "nkp": len(keyphrases())},
        )
        return niche.partition_key


@dataclass
class CallTiming:
    seconds: float
    status: str
    attempts: int
    latency_ms: int


def timed_client(catalogue, url, concurrency: int):
    """The AI area's LLMClient, with each complete() call's wall time recorded (instrumentation only)."""
    from allixios.ai.client import LLMClient

    class TimedLLMClient(LLMClient):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.timings: list[CallTiming] = []

        async def complete(self, req):
            start = time.perf_counter()
            result = await super().complete(req)
            self.timings.append(CallTiming(time.perf_counter() - start, result.status, result.attempts, result.latency_ms))
            return result

    return TimedLLMClient(catalogue=catalogue, database_url=url, concurrency=concurrency)


@dataclass
class PipelineRun:
    niche_key: str
    topics: int
    stages: dict[str, float] = field(default_factory=dict)
    drafted: int = 0
    failed: int = 0
    passed: int = 0
    embedded: int = 0
    timings: list[CallTiming] = field(default_factory=list)
    llm_cpu_s: float = 0.0  # this process's CPU (all threads) during request_drafts

    @property
    def total_s(self) -> float:
        return sum(self.stages.values())

    @property
    def llm_s(self) -> float:
        return self.stages["LLM calls (request_drafts)"]


def run_pipeline(url, catalogue, niche_key: str, day: date, concurrency: int) -> PipelineRun:
    """One partition through drafts -> scored -> embedded, each stage timed."""
    from allixios.ai.embeddings import get_embedder
    from allixios.content.pipeline import (
        embed_partition,
        pending_drafts,
        request_drafts,
        resolve_partition,
        score_partition,
        store_drafts,
    )
    from allixios.db.engine import connect

    client = timed_client(catalogue, url, concurrency)
    embedder = get_embedder("embedder", catalogue=catalogue, database_url=url)
    out = PipelineRun(niche_key, 0)
    with Stopwatch() as sw, connect(url) as conn:
        part = resolve_partition(conn, day, niche_key)
        jobs = pending_drafts(conn, part)
    out.topics, out.stages["read backlog (pending_drafts)"] = len(jobs), sw.seconds
    cpu = time.process_time()
    with Stopwatch() as sw:
        results = request_drafts(client, part, jobs, concurrency=concurrency)
    out.stages["LLM calls (request_drafts)"] = sw.seconds
    out.llm_cpu_s = time.process_time() - cpu
    with Stopwatch() as sw, connect(url) as conn:
        stored = store_drafts(conn, part, jobs, results)
    out.stages["store drafts (store_drafts)"] = sw.seconds
    out.drafted, out.failed = len(stored.drafted), len(stored.failed)
    with Stopwatch() as sw, connect(url) as conn:
        scored = score_partition(conn, part)
    out.stages["score (score_partition)"] = sw.seconds
    out.passed = len(scored.passed)
    with Stopwatch() as sw, connect(url) as conn:
        embedded = embed_partition(conn, part, embedder)
    out.stages["embed (embed_partition)"] = sw.seconds
    out.embedded = embedded.embedded_articles
    out.timings = client.timings
    return out


def merge_runs(runs: list[PipelineRun]) -> PipelineRun:
    """Several runs of the same kind as one: stage times and counts summed, call timings pooled."""
    out = PipelineRun("+".join(r.niche_key for r in runs), sum(r.topics for r in runs))
    for r in runs:
        for stage, seconds in r.stages.items():
            out.stages[stage] = out.stages.get(stage, 0.0) + seconds
        out.drafted += r.drafted
        out.failed += r.failed
        out.passed += r.passed
        out.embedded += r.embedded
        out.timings += r.timings
    return out


def overhead_ms(run: PipelineRun) -> dict[str, float]:
    """Per successful single-attempt call: wall time of complete() minus the provider call it made.

    complete() = ledger replay check + model selection + circuit permit + budget reservation + the
    HTTP call (litellm, or the OpenAI SDK on the direct path) + ledger row/settlement; the provider
    call (ai_usage.latency_ms) is timed by the client around that call, so it includes the
    transport's and HTTP's share plus the 200 ms.
    """
    clean = [t for t in run.timings if t.status == "success" and t.attempts == 1]
    if not clean:
        return {}
    around = [t.seconds * 1000 - t.latency_ms for t in clean]
    provider = [t.latency_ms - LATENCY_MS for t in clean]
    return {
        "client + ledger + budget (mean)": statistics.fmean(around),
        "client + ledger + budget (p95)": sorted(around)[int(0.95 * (len(around) - 1))],
        "transport + HTTP beyond the 200 ms (mean)": statistics.fmean(provider),
        "complete() wall time (mean)": statistics.fmean(t.seconds * 1000 for t in clean),
    }


def transport_ceiling(url, provider_url: str, niche_key: str, day: date, concurrency: int) -> dict[str, float]:
    """The same draft requests posted straight to the provider with httpx at the same concurrency: what
    this machine and the stand-in provider can do at all, with no client, ledger or budget around them."""
    import asyncio

    import httpx

    from allixios.content.pipeline import pending_drafts, resolve_partition
    from allixios.db.engine import connect

    with connect(url) as conn:
        jobs = pending_drafts(conn, resolve_partition(conn, day, niche_key))

    async def main() -> float:
        gate = asyncio.Semaphore(concurrency)
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=provider_url, limits=limits, timeout=30) as client:
            async def one(job) -> None:
                async with gate:
                    response = await client.post("/chat/completions", json={
                        "model": WRITER_A, "messages": job.messages, "max_tokens": 3000,
                        "response_format": {"type": "json_object"}})
                    response.raise_for_status()
                    response.json()

            start = time.perf_counter()
            await asyncio.gather(*(one(j) for j in jobs))
            return time.perf_counter() - start

    seconds = asyncio.run(main())
    return {"calls": len(jobs), "seconds": seconds, "calls_per_s": len(jobs) / seconds}


def transport_floor(url, provider_url: str, niche_key: str, day: date, concurrency: int,
                  via: str = "litellm") -> dict[str, float]:
    """The same draft requests through the bare transport at the same concurrency: its CPU per call in
    this process, with no ledger, budget, selection or validation around it. LLM-stage CPU per call
    minus the floor of the transport the client uses = Allixios' own. ``via``: "litellm" (bare
    ``litellm.acompletion`` with the parameters LLMClient passes) or "sdk" (the OpenAI SDK call the
    client makes for an OpenAI-compatible server, allixios.ai.openai_direct)."""
    import asyncio

    from allixios.ai.openai_direct import Transport
    from allixios.ai.router import litellm_module
    from allixios.content.pipeline import pending_drafts, resolve_partition
    from allixios.db.engine import connect

    litellm = litellm_module()
    with connect(url) as conn:
        jobs = pending_drafts(conn, resolve_partition(conn, day, niche_key))
    params = {"model": f"openai/{WRITER_A}", "api_base": provider_url, "api_key": "bench-local-key", "max_retries": 0,
              "timeout": POLICY["timeout_s"], "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}

    async def main() -> tuple[float, float]:
        gate = asyncio.Semaphore(concurrency)
        transport = Transport()

        async def one(job) -> None:
            request = {**params, "messages": job.messages, "max_tokens": 3000, "response_format": {"type": "json_object"}}
            async with gate:
                if via == "sdk":
                    await transport.acompletion(request)
                else:
                    await litellm.acompletion(**request)

        cpu, start = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one(j) for j in jobs))
        result = time.process_time() - cpu, time.perf_counter() - start
        await transport.aclose()
        return result

    cpu_s, seconds = asyncio.run(main())
    return {"calls": len(jobs), "seconds": seconds, "calls_per_s": len(jobs) / seconds,
            "cpu_ms_per_call": 1000 * cpu_s / max(1, len(jobs))}


def ledger_audit(url, niche_keys: str | list[str], provider_requests: int) -> dict[str, Any]:
    """Reconcile ai_usage with what happened: one row per HTTP attempt, at most one success per request,
    article cost = its successful call's cost."""
    keys = [niche_keys] if isinstance(niche_keys, str) else list(niche_keys)
    with admin_connection(url) as conn:
        row = conn.execute(
            """WITH t AS (SELECT t.id FROM topics t JOIN niches n ON n.id = t.niche_id WHERE n.partition_key = ANY(%s)),
                    u AS (SELECT * FROM ai_usage WHERE request_id IN (SELECT 'draft:' || id FROM t))
               SELECT (SELECT count(*) FROM u),
                      (SELECT count(*) FROM u WHERE status IN ('success', 'error')),
                      (SELECT count(*) FROM u WHERE status = 'success'),
                      (SELECT count(*) FROM (SELECT request_id FROM u WHERE status = 'success'
                                             GROUP BY request_id HAVING count(*) > 1) d),
                      (SELECT count(*) FROM articles a WHERE a.topic_id IN (SELECT id FROM t)),
                      (SELECT coalesce(sum(cost_usd), 0) FROM u WHERE status = 'success'),
                      (SELECT coalesce(sum(generation_cost), 0) FROM articles a WHERE a.topic_id IN (SELECT id FROM t)),
                      (SELECT count(*) FROM t WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.topic_id = t.id)
                          AND NOT EXISTS (SELECT 1 FROM topics x WHERE x.id = t.id AND x.status = 'failed'))""",
            (keys,),
        ).fetchone()
    return {
        "ai_usage rows": row[0],
        "rows with an HTTP attempt": row[1],
        "provider requests logged": provider_requests,
        "success rows": row[2],
        "requests with more than one success row": row[3],
        "articles": row[4],
        "success cost": float(row[5]),
        "article generation_cost": float(row[6]),
        "topics neither drafted nor marked failed": row[7],
    }


def stage_table(runs: dict[str, PipelineRun]) -> tuple[list[str], list[list]]:
    labels = list(next(iter(runs.values())).stages)
    headers = ["stage"] + [f"{name} (s)" for name in runs]
    rows = [[label] + [r.stages[label] for r in runs.values()] for label in labels]
    rows.append(["total"] + [r.total_s for r in runs.values()])
    return headers, rows
