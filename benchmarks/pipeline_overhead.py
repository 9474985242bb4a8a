"""pipeline_overhead: the `make run`-sized content graph for 3 niches through Dagster vs the same domain calls.

Goal (issue 8): Dagster overhead reported; <= 2x direct. The Dagster side is what `make run` does: the
content area's `content_job` executed per day x niche partition with `execute_in_process` on the real
Dagster instance (PostgreSQL storage). The direct side calls the same `allixios.content.pipeline`
functions in the same order with the same resources (offline writer through the LLM client, offline
embedder), in this process, including the quality-gate queries the asset checks run. Each side works on
its own copy of the sample tenant (three niches, the same backlog), after a warm-up copy.
"""

from __future__ import annotations

from datetime import UTC, datetime

from benchmarks.harness import Stopwatch, log

DESCRIPTION = "content graph for 3 niches through Dagster content_job vs the same domain functions called directly"
SIZES = {"quick": {"repeats": 1}, "full": {"repeats": 3}}
RATIO_GOAL = 2.0
GATES = ("body_length", "quality", "seo")


def missing_dependencies() -> str | None:
    try:
        from allixios.content.pipeline import build_seo_report, gate_report, publish_partition  # noqa: F401
        from allixios_assets.content.jobs import content_job  # noqa: F401
        from allixios_assets.instance import get_instance  # noqa: F401
        from allixios_assets.partitions import content_partition_key, sync_niche_partitions  # noqa: F401
    except ImportError as exc:
        return f"content_job and the content pipeline (content area): {exc}"
    return None


def _seed(tenant_slug: str) -> list[str]:
    from allixios.db.engine import connect
    from allixios.sample import seed_sample
    from allixios.tenants import active_partition_keys

    with connect() as conn:
        seed_sample(conn, tenant_slug)
        return [k for k in active_partition_keys(conn) if k.startswith(f"{tenant_slug}.")]


def direct_partition(day: str, niche_key: str) -> None:
    """What content_job's six assets and three checks do for one partition, without Dagster."""
    from allixios.content import pipeline
    from allixios.db.engine import connect
    from resources.embeddings import EmbeddingsResource
    from resources.llm import LLMResource

    llm, embedder = LLMResource().client(), EmbeddingsResource().embedder()
    with connect() as conn:
        part = pipeline.resolve_partition(conn, day, niche_key)
        pipeline.select_topics(conn, part, embedder, llm=llm, research="auto", run_id=None)
    with connect() as conn:
        part = pipeline.resolve_partition(conn, day, niche_key)
        jobs = pipeline.pending_drafts(conn, part)
        pipeline.already_drafted(conn, part)
    results = pipeline.request_drafts(llm, part, jobs, run_id=None, concurrency=8)
    with connect() as conn:
        pipeline.store_drafts(conn, part, jobs, results, run_id=None)
    with connect() as conn:
        part = pipeline.resolve_partition(conn, day, niche_key)
        pipeline.score_partition(conn, part)
    for gate in GATES:
        with connect() as conn:
            pipeline.gate_report(conn, pipeline.resolve_partition(conn, day, niche_key), gate)
    with connect() as conn:
        part = pipeline.resolve_partition(conn, day, niche_key)
        pipeline.embed_partition(conn, part, embedder, run_id=None)
    with connect() as conn:
        part = pipeline.resolve_partition(conn, day, niche_key)
        pipeline.publish_partition(conn, part, run_id=None)
    with connect() as conn:
        part = pipeline.resolve_partition(conn, day, niche_key)
        pipeline.build_seo_report(conn, part, embedding_model=embedder.model, similarity=embedder.deployment.similarity)


def _unpooled_instance():
    """The product's dagster.yaml with dagster-postgres' own storages (the before of issue 19)."""
    import tempfile
    from pathlib import Path

    import dagster as dg
    import yaml

    from allixios import settings

    config = yaml.safe_load(settings.repo_path("dagster.yaml").read_text())
    for key in ("run_storage", "event_log_storage", "schedule_storage"):
        config.pop(key)
    config["storage"] = {"postgres": {"postgres_url": {"env": "ALLIXIOS_DAGSTER_PG_URL"}}}
    home = Path(tempfile.mkdtemp(prefix="unpooled_dagster_"))
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return dg.DagsterInstance.from_config(str(home))


def run(ctx) -> None:
    import dagster as dg

    from allixios.content.pipeline import partition_summary
    from allixios.db import server
    from allixios.db.engine import connect
    from allixios_assets.definitions import defs
    from allixios_assets.instance import get_instance
    from allixios_assets.partitions import content_partition_key, sync_niche_partitions

    report, p = ctx.report, ctx.params
    server.ensure_database(server.dagster_url(), require_pgvector=False)
    day = datetime.now(UTC).date().isoformat()
    job = defs.resolve_job_def("content_job")
    instance = get_instance()  # the product's: pooled storage connections (allixios_assets/storage.py)
    # the before: the same instance on dagster-postgres' own storages (a new connection per storage call)
    unpooled = _unpooled_instance()
    dagster_s, unpooled_s, direct_s, runs, steps, failures = [], [], [], 0, 0, []
    summaries, all_keys = {}, []
    for repeat in range(p["repeats"] + 1):  # repeat 0 warms imports, pools and the Router on every side
        keys = {side: _seed(f"{side}_{repeat}") for side in ("dagster", "unpooled", "direct")}
        all_keys += keys["dagster"] + keys["unpooled"]
        sync_niche_partitions(instance, all_keys)
        for side, inst, times in (("dagster", instance, dagster_s), ("unpooled", unpooled, unpooled_s)):
            with Stopwatch() as sw:
                for key in keys[side]:
                    result = job.execute_in_process(partition_key=content_partition_key(day, key), instance=inst,
                                                    raise_on_error=False, tags={"allixios/trigger": "benchmark"})
                    if not result.success:
                        failures.append(key)
                    if repeat and side == "dagster":
                        runs += 1
                        steps += len([e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_SUCCESS])
            if repeat:
                times.append(sw.seconds)
        with Stopwatch() as sw:
            for key in keys["direct"]:
                direct_partition(day, key)
        if repeat:
            direct_s.append(sw.seconds)
            with connect() as conn:
                summaries = {side: [partition_summary(conn, day, k) for k in keys[side]] for side in keys}
            log(f"repeat {repeat}: Dagster {dagster_s[-1]:.1f} s (unpooled storage {unpooled_s[-1]:.1f} s), "
                f"direct {direct_s[-1]:.1f} s")
    if failures:
        raise RuntimeError(f"content_job failed for {failures}")
    dagster_total, unpooled_total, direct_total = sum(dagster_s), sum(unpooled_s), sum(direct_s)
    published = {side: sum(s["published"] for s in rows) for side, rows in summaries.items()}
    same = published.get("dagster") == published.get("direct") == published.get("unpooled")

    report.metric("niches per repeat", len(keys["dagster"]))
    report.metric("repeats (after one warm-up)", p["repeats"])
    report.metric("Dagster content_job, per repeat (3 runs)", dagster_total / len(dagster_s), "s")
    report.metric("Dagster on dagster-postgres' unpooled storages, per repeat", unpooled_total / len(unpooled_s), "s")
    report.metric("direct domain calls, per repeat", direct_total / len(direct_s), "s")
    report.metric("Dagster overhead per run", (dagster_total - direct_total) / max(1, runs), "s")
    report.metric("steps per run (assets + checks)", steps / max(1, runs))
    report.metric("Dagster overhead per step", (dagster_total - direct_total) / max(1, steps), "s")
    report.metric("published (last repeat): Dagster / unpooled / direct",
                  f"{published.get('dagster')} / {published.get('unpooled')} / {published.get('direct')}")
    report.ratio("Dagster / direct", dagster_total, direct_total, "same partitions' work through content_job vs plain calls")
    report.ratio("Dagster, unpooled storage / direct", unpooled_total, direct_total,
                 "the same on dagster-postgres' own storages (NullPool: a new connection per storage call)")
    report.goal("Dagster time / direct time", dagster_total / direct_total, "<=", RATIO_GOAL)
    report.goal("every side published the same articles", float(same), ">=", 1.0)
    report.table("repeats (s)", ["repeat", "Dagster", "Dagster, unpooled storage", "direct"],
                 [[n + 1, d, q, r] for n, (d, q, r) in enumerate(zip(dagster_s, unpooled_s, direct_s, strict=True))])
    report.note("Dagster side: job.execute_in_process per partition on the PostgreSQL-backed instance (the step overhead; `make run` adds a run worker process per run)")
