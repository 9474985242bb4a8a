"""generation_throughput: 1,000 topics through drafts -> scored -> embedded against a 200 ms provider, concurrency 32.

Goal (issue 8): >= 0.8 of ideal, ideal = concurrency / latency = 32 / 0.2 s = 160 drafts/s; overhead
per call (client + ledger + budget) reported in ms. The LLM calls go over real HTTP to the stand-in
provider process (benchmarks.llm_provider) through the AI area's LLMClient; the steps are the content
area's pipeline functions. The same number of topics also goes through the product path in the same
run (issue 19): `content_job` executed for its partition on the PostgreSQL-backed Dagster instance,
and the `article_drafts` step's own duration (from its start and success events) gives the asset's
drafts/s against the same transport ceiling.
"""

from __future__ import annotations

import os
import time
from datetime import date

from allixios.ai import openai_direct
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
            ("ceiling", p["topics"]), ("floor", p["topics"]), ("sdkfloor", p["topics"]), ("asset", p["topics"]),
            ("assetlitellm", p["topics"]), ("assetwarmup", p["warmup_topics"]))}
        gen.run_pipeline(ctx.url, catalogue, niches["warmup"], day, p["concurrency"])  # imports, router, pools
        ceiling = gen.transport_ceiling(ctx.url, provider.url, niches["ceiling"], day, p["concurrency"])
        litellm_floor = gen.transport_floor(ctx.url, provider.url, niches["floor"], day, p["concurrency"])
        sdk_floor = gen.transport_floor(ctx.url, provider.url, niches["sdkfloor"], day, p["concurrency"], via="sdk")
        # the floor of the transport LLMClient uses for this catalogue's writer
        direct = openai_direct.eligible(catalogue.deployment(gen.WRITER_A), catalogue.policy.direct_openai_compatible)
        floor, floor_name = (sdk_floor, "the OpenAI SDK call") if direct else (litellm_floor, "bare litellm")
        sequential = gen.run_pipeline(ctx.url, catalogue, niches["sequential"], day, 1)
        cpu_provider, cpu_client = provider.cpu_seconds(), time.process_time()
        main = gen.run_pipeline(ctx.url, catalogue, niches["main"], day, p["concurrency"])
        cpu_provider = (provider.cpu_seconds() or 0) - (cpu_provider or 0)
        cpu_client = time.process_time() - cpu_client
        # a first content_job in a process pays Dagster's and the step's first-use costs: not the asset's
        through_asset(ctx.url, niches["assetwarmup"], day, p["concurrency"])
        asset = through_asset(ctx.url, niches["asset"], day, p["concurrency"])
        # the same asset with the writer on litellm (the path before openai_direct), same run, after it
        os.environ[MODELS_FILE_ENV] = str(gen.write_catalogue(ctx.workdir / "models-litellm.yaml", provider.url,
                                                              two_deployments=False, direct_openai_compatible=False))
        asset_litellm = through_asset(ctx.url, niches["assetlitellm"], day, p["concurrency"])
        os.environ[MODELS_FILE_ENV] = str(path)
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
    llm_cpu_ms = 1000 * main.llm_cpu_s / max(1, main.topics)
    report.metric("process CPU per call during the LLM stage (all threads)", llm_cpu_ms, "ms")
    report.metric("bare litellm.acompletion of the same requests: CPU per call", litellm_floor["cpu_ms_per_call"], "ms",
                  f"{litellm_floor['calls_per_s']:.1f} calls/s")
    report.metric("bare OpenAI SDK call of the same requests: CPU per call", sdk_floor["cpu_ms_per_call"], "ms",
                  f"{sdk_floor['calls_per_s']:.1f} calls/s")
    report.metric("the client's transport", "OpenAI SDK (direct path)" if direct else "litellm",
                  note="allixios.ai.openai_direct: an OpenAI-compatible server with an api_base skips litellm's wrapper")
    report.metric(f"Allixios' own CPU per call (LLM stage minus {floor_name})", llm_cpu_ms - floor["cpu_ms_per_call"], "ms",
                  "client, selection, ledger, budget, circuit and the draft validator (parse_draft: markdown-it + nh3)")
    report.metric("provider chat requests (all runs)", chat_requests)
    report.ratio("drafts/s / ideal", drafts_per_s, ideal, "LLM stage throughput vs concurrency / latency")
    report.ratio("drafts/s / transport ceiling", drafts_per_s, ceiling["calls_per_s"],
                 "vs plain httpx posts of the same requests at the same concurrency (this machine's HTTP limit)")
    report.ratio("end-to-end topics/s / ideal", main.topics / main.total_s, ideal, "whole pipeline incl. storing, scoring, embedding")
    report.metric("through the asset: article_drafts step", asset["step_s"], "s", f"{asset['drafted']} drafts")
    report.metric("through the asset: drafts/s", asset["drafts_per_s"], "drafts/s")
    report.metric("through the asset: whole content_job run", asset["run_s"], "s")
    report.ratio("asset drafts/s / transport ceiling", asset["drafts_per_s"], ceiling["calls_per_s"],
                 "article_drafts inside content_job vs plain httpx posts at the same concurrency (issue 19's goal: >= 0.8)")
    report.metric("through the asset, writer on litellm (same run): drafts/s", asset_litellm["drafts_per_s"], "drafts/s",
                  f"{asset_litellm['step_s']:.2f} s article_drafts step")
    report.ratio("asset drafts/s: client's transport / litellm", asset["drafts_per_s"], asset_litellm["drafts_per_s"],
                 "the same asset and topics count with defaults.direct_openai_compatible false (litellm for the writer)")
    report.goal("drafts/s >= 0.8 x ideal", drafts_per_s / ideal, ">=", RATIO_GOAL)
    report.goal("through the asset: drafts/s >= 0.8 x transport ceiling", asset["drafts_per_s"] / ceiling["calls_per_s"],
                ">=", RATIO_GOAL)
    report.goal("Allixios' own CPU per call <= 3 ms", llm_cpu_ms - floor["cpu_ms_per_call"], "<=", 3.0)
    report.goal("every topic drafted", main.drafted, ">=", main.topics)
    report.goal("requests with more than one success row", audit["requests with more than one success row"], "<=", 0)
    headers, rows = gen.stage_table({"concurrency 32": main, "one at a time": sequential})
    report.table("stages", headers, rows)
    report.table("ledger check (main run)", ["check", "value"], [[k, v] for k, v in audit.items() if k != "provider requests logged"])
    report.note("provider chat requests include the transport-ceiling posts")
    report.note("the stand-in provider answers with offline-writer drafts rendered once per keyphrase and re-titled "
                "(benchmarks/llm_provider.py), so its CPU does not count against the client")


def through_asset(url, niche_key: str, day, concurrency: int) -> dict:
    """content_job for the niche's partition, in-process on the product's instance; the drafts step timed from its events."""
    import dagster as dg

    from allixios.db.engine import connect
    from allixios.db.server import dagster_url, ensure_database
    from allixios_assets.definitions import defs
    from allixios_assets.instance import get_instance
    from allixios_assets.partitions import content_partition_key, sync_niche_partitions

    ensure_database(dagster_url(), require_pgvector=False)
    instance = get_instance()
    sync_niche_partitions(instance, [niche_key])
    job = defs.resolve_job_def("content_job")
    started = time.perf_counter()
    result = job.execute_in_process(
        partition_key=content_partition_key(day.isoformat(), niche_key), instance=instance, raise_on_error=False,
        run_config={"ops": {"article_drafts": {"config": {"concurrency": concurrency}}}},
        tags={"allixios/trigger": "benchmark"})
    run_s = time.perf_counter() - started
    if not result.success:
        raise RuntimeError(f"content_job failed for {niche_key}")
    stamps = {}
    for record in instance.all_logs(result.run_id):
        event = record.dagster_event
        if event is not None and event.step_key == "article_drafts" and event.event_type in (
                dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS):
            stamps[event.event_type] = record.timestamp
    step_s = stamps[dg.DagsterEventType.STEP_SUCCESS] - stamps[dg.DagsterEventType.STEP_START]
    with connect(url) as conn:
        drafted = conn.execute(
            "SELECT count(*) FROM articles a JOIN niches n ON n.id = a.niche_id WHERE n.partition_key = %s",
            (niche_key,)).fetchone()[0]
    log(f"through the asset: {drafted} drafts in a {step_s:.1f} s article_drafts step ({run_s:.1f} s run)")
    return {"step_s": step_s, "run_s": run_s, "drafted": drafted, "drafts_per_s": drafted / step_s if step_s else float("nan")}
