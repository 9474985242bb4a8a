"""generation_throughput: 1,000 topics through drafts -> scored -> embedded against a 200 ms provider, concurrency 32.

Goal (issue 8): >= 0.8 of ideal, ideal = concurrency / latency = 32 / 0.2 s = 160 drafts/s; overhead
per call (client + ledger + budget) reported in ms. The LLM calls go over real HTTP to the stand-in
provider process (benchmarks.llm_provider) through the AI area's LLMClient; the steps are the content
area's pipeline functions.
"""

from __future__ import annotations

import os
import time
from datetime import date

from benchmarks import generation as gen
from benchmarks.harness import log

DESCRIPTION = "1,000 topics drafts -> scored -> embedded over HTTP (200 ms provider, concurrency 32) vs concurrency/latency"
SIZES = {
    "quick": {"topics": 32, "concurrency": 32, "sequential_calls": 3, "warmup_topics": 8},
    "full": {"topics": 1000, "concurrency": 32, "sequential_calls": 50, "warmup_topics": 64},
}
RATIO_GOAL = 0.8


def missing_dependencies() -> str | None:
    try:
        from allixios.ai.client import LLMClient  # noqa: F401
        from allixios.ai.embeddings import get_embedder  # noqa: F401
        from allixios.content.pipeline import embed_partition, request_drafts, score_partition  # noqa: F401
        from allixios.testing.catalogues import local_deployment  # noqa: F401
        from allixios.testing.llm_server import LocalLLMServer  # noqa: F401
    except ImportError as exc:
        return f"content pipeline / AI client / local LLM server: {exc}"
    return None


def run(ctx) -> None:
    from allixios.ai.catalogue import MODELS_FILE_ENV, load_catalogue

    report, p = ctx.report, ctx.params
    os.environ[gen.KEY_ENV] = "bench-local-key"
    day = date.today()
    with gen.ProviderProcess(gen.LATENCY_MS, ctx.workdir / "provider.log") as provider:
        path = gen.write_catalogue(ctx.workdir / "models.yaml", provider.url, two_deployments=False)
        os.environ[MODELS_FILE_ENV] = str(path)
        catalogue = load_catalogue(path)
        niches = {name: gen.add_niche_with_topics(ctx.url, name, count, day) for name, count in (
            ("warmup", p["warmup_topics"]), ("sequential", p["sequential_calls"]), ("main", p["topics"]),
            ("ceiling", p["topics"]))}
        gen.run_pipeline(ctx.url, catalogue, niches["warmup"], day, p["concurrency"])  # imports, router, pools
        ceiling = gen.transport_ceiling(ctx.url, provider.url, niches["ceiling"], day, p["concurrency"])
        sequential = gen.run_pipeline(ctx.url, catalogue, niches["sequential"], day, 1)
        cpu_provider, cpu_client = provider.cpu_seconds(), time.process_time()
        main = gen.run_pipeline(ctx.url, catalogue, niches["main"], day, p["concurrency"])
        cpu_provider = (provider.cpu_seconds() or 0) - (cpu_provider or 0)
        cpu_client = time.process_time() - cpu_client
        chat_requests = sum(1 for r in provider.requests() if r["endpoint"] == "chat")
    log(f"main: {main.drafted} drafted in {main.llm_s:.1f} s of LLM calls, {main.total_s:.1f} s end to end")

    ideal = p["concurrency"] / (gen.LATENCY_MS / 1000)
    drafts_per_s = main.drafted / main.llm_s
    over_seq, over_main = gen.overhead_ms(sequential), gen.overhead_ms(main)
    audit = gen.ledger_audit(ctx.url, niches["main"], provider_requests=-1)

    report.metric("topics", main.topics)
    report.metric("concurrency", p["concurrency"])
    report.metric("provider latency", gen.LATENCY_MS, "ms")
    report.metric("ideal (concurrency / latency)", ideal, "drafts/s")
    report.metric("transport ceiling: the same requests via plain httpx", ceiling["calls_per_s"], "calls/s")
    report.metric("drafts/s during the LLM stage", drafts_per_s, "drafts/s")
    report.metric("end to end (drafts -> scored -> embedded)", main.topics / main.total_s, "topics/s")
    report.metric("drafted / failed", f"{main.drafted} / {main.failed}")
    report.metric("passed the bars after scoring", main.passed)
    report.metric("articles embedded", main.embedded)
    for key, value in over_main.items():
        report.metric(f"per call at concurrency {p['concurrency']}: {key}", value, "ms")
    for key, value in over_seq.items():
        report.metric(f"per call, one at a time: {key}", value, "ms")
    report.metric("client process CPU per call (LLM stage incl. scoring/embedding)", 1000 * cpu_client / max(1, main.topics), "ms")
    report.metric("stand-in provider CPU per call", 1000 * cpu_provider / max(1, main.topics), "ms")
    report.metric("provider chat requests (all runs)", chat_requests)
    report.ratio("drafts/s / ideal", drafts_per_s, ideal, "LLM stage throughput vs concurrency / latency")
    report.ratio("drafts/s / transport ceiling", drafts_per_s, ceiling["calls_per_s"],
                 "vs plain httpx posts of the same requests at the same concurrency (this machine's HTTP limit)")
    report.ratio("end-to-end topics/s / ideal", main.topics / main.total_s, ideal, "whole pipeline incl. storing, scoring, embedding")
    report.goal("drafts/s >= 0.8 x ideal", drafts_per_s / ideal, ">=", RATIO_GOAL)
    report.goal("every topic drafted", main.drafted, ">=", main.topics)
    report.goal("requests with more than one success row", audit["requests with more than one success row"], "<=", 0)
    headers, rows = gen.stage_table({"concurrency 32": main, "one at a time": sequential})
    report.table("stages", headers, rows)
    report.table("ledger check (main run)", ["check", "value"], [[k, v] for k, v in audit.items() if k != "provider requests logged"])
    report.note("provider chat requests include the transport-ceiling posts")
    report.note("the stand-in provider answers with offline-writer drafts rendered once per keyphrase and re-titled "
                "(benchmarks/llm_provider.py), so its CPU does not count against the client")
