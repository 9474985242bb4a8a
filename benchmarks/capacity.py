"""capacity: per-core throughput of each stage, measured here, and the capacity model built on it.

Issue 19 asks for a measured plan beyond one machine (docs/scaling.md). This benchmark is its input
and its simulation: on a scaled corpus (10 tenants; quick 10 x 200 articles, full 10 x 100,000) it
measures, in one run, what each stage does per core — event ingest, the dbt build of a day, MiniLM
embedding of article-sized documents, the static-site build, filtered and unfiltered vector search —
and what each stored thing costs per item (a raw event row, a vector, its HNSW entry). Then it puts
those figures against the target load (10M articles, 100 tenants, 1B events per month) and reports,
for one machine like this one (its cores, RAM and free disk are read, not assumed), how far each
resource is from breaking: `headroom = what this machine does / what the target needs`. The first
resource with headroom below 1 is the one that breaks first, and the model says at how many tenants.

What it does not measure: generation, which is bounded by the providers' rate limits (a contract, not
a property of this machine — the model takes requests per minute as a parameter), and the API's
request rate (its own benchmark, api_load).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks import data
from benchmarks.harness import Stopwatch, admin_connection, latency_summary, log

DESCRIPTION = "per-core throughput of ingest, dbt, embedding, site build and vector search on a scaled corpus; capacity model"
SIZES = {
    "quick": {"articles_per_tenant": 200, "events": 20_000, "documents": 4, "site_articles": 200, "queries": 20},
    "full": {"articles_per_tenant": 100_000, "events": 1_000_000, "documents": 40, "site_articles": 2_000, "queries": 200},
}
TENANTS = 10


@dataclass(frozen=True)
class Target:
    """The load issue 19 sizes for. Ratios below are against these."""

    articles: int = 10_000_000
    tenants: int = 100
    events_per_month: int = 1_000_000_000
    peak_factor: float = 4.0  # the busiest hour against the month's average rate (daily cycle, launches)
    refreshed_share_per_day: float = 0.01  # articles written or regenerated per day: 1 % of the corpus
    dbt_window_s: float = 3600.0  # a day's marts must build within an hour of the day's close
    provider_rpm: int = 500  # the writer's requests per minute under the tenant's provider contract
    calls_per_article: int = 3  # draft, revision, judge/translation on average


def missing_dependencies() -> str | None:
    try:
        from allixios.ai import minilm  # noqa: F401
        from allixios.analytics.ingest import ingest_day  # noqa: F401
        from allixios.publishing.site import build_site  # noqa: F401
    except ImportError as exc:
        return f"the areas this models ({exc})"
    from benchmarks.dbt_marts import missing_dependencies as dbt_missing

    return dbt_missing()


def _ingest_rate(ctx, url) -> dict:
    """Page events through the product's file ingest (polars + COPY), rows/s, and bytes per stored row."""
    from allixios.analytics.ingest import ingest_day
    from allixios.db.engine import connect
    from benchmarks.event_ingest import write_event_files

    day = datetime.now(UTC).date() - timedelta(days=1)
    root = ctx.workdir / "landing"
    with admin_connection(url) as conn:
        tenant = conn.execute("SELECT slug, id FROM tenants ORDER BY slug LIMIT 1").fetchone()
        conn.execute("UPDATE articles SET status = 'published' WHERE tenant_id = %s", (tenant[1],))
        articles = [(str(a), s) for a, s in conn.execute(
            "SELECT id, slug FROM articles WHERE tenant_id = %s ORDER BY slug LIMIT 5000", (tenant[1],))]
    folder = root / day.isoformat() / tenant[0]  # root is the events landing folder itself
    written = write_event_files(folder, day, ctx.params["events"], 2, tenant[0], articles, "parquet")
    with Stopwatch() as sw, connect(url) as conn:
        summary = ingest_day(conn, day, kinds=("page",), root=root)
    with admin_connection(url) as conn:
        rows = conn.execute("SELECT count(*) FROM raw.page_events").fetchone()[0]
        size = conn.execute("SELECT pg_total_relation_size('raw.page_events')").fetchone()[0]
        conn.execute("TRUNCATE raw.page_events, raw.rejected_events, raw.ingested_files")  # the dbt step loads its own
    shutil.rmtree(root, ignore_errors=True)
    loaded = summary["kinds"]["page"]["rows_loaded"]
    if loaded != ctx.params["events"]:
        raise RuntimeError(f"ingest loaded {loaded} of {ctx.params['events']} events: {summary['kinds']['page']}")
    return {"rows_per_s": loaded / sw.seconds, "bytes_per_row": size / max(1, rows), "file_bytes_per_row": written / max(1, rows)}


def _dbt_day(ctx, url, shape) -> dict:
    """One day of page and revenue events built into the marts by dbt (the CLI, one daily window)."""
    from benchmarks.dbt_marts import dbt, load_events

    day = date.today() - timedelta(days=1)
    events = ctx.params["events"]
    load_events(url, [day], events, shape.articles, day)
    vars_ = json.dumps({"start_date": day.isoformat(), "end_date": day.isoformat()})
    seconds = dbt(url, ctx.workdir, "run", "--vars", vars_)
    return {"events": events, "seconds": seconds}


def _embedding_rate(ctx) -> dict:
    """MiniLM (the keyless default embedder) on ~800-word documents: documents/s in this process."""
    from allixios.ai import minilm

    paragraph = ("Container gardens on a balcony need sun, drainage and a watering rhythm that matches the pot size; "
                 "clay pots dry faster than plastic, and a saucer under each keeps the floor dry. ")
    documents = [f"Part {i}. " + paragraph * 30 for i in range(ctx.params["documents"])]
    minilm.embed_texts(documents[:1])  # the ONNX session is created outside the timing
    with Stopwatch() as sw:
        minilm.embed_texts(documents)
    return {"documents_per_s": len(documents) / sw.seconds, "threads": minilm.encoder().threads,
            "words": len(documents[0].split())}


def _site_rate(ctx, url) -> dict:
    from allixios.db.engine import connect
    from allixios.publishing.site import build_site
    from allixios.tenants import get_tenant
    from benchmarks.site_build import seed

    with connect(url) as conn:
        seed(conn, "capsite", ctx.params["site_articles"], 4)
    with connect(url) as conn, Stopwatch() as sw:
        result = build_site(conn, get_tenant(conn, "capsite"), full=True, with_media=False)
    return {"pages_per_s": result.pages / sw.seconds, "pages": result.pages}


def _vector_search(ctx, url) -> dict:
    from benchmarks.vector_search import FILTERED, UNFILTERED, _run_queries

    with admin_connection(url) as conn:
        conn.execute("SET hnsw.iterative_scan = relaxed_order")
        conn.execute("SET hnsw.ef_search = 100")
        queries = data.query_vectors(conn, ctx.params["queries"], seed=0.3)
        _run_queries(conn, UNFILTERED, queries[:5])
        _, unfiltered = _run_queries(conn, UNFILTERED, queries, 2)
        _, filtered = _run_queries(conn, FILTERED, queries, 2)
        vectors = conn.execute("SELECT count(*) FROM embeddings").fetchone()[0]
        table = conn.execute("SELECT pg_relation_size('embeddings')").fetchone()[0]
        index = conn.execute("SELECT pg_relation_size(%s)", (data.HNSW_INDEX,)).fetchone()[0]
    return {"unfiltered_p95_ms": latency_summary(unfiltered)["p95_ms"], "filtered_p95_ms": latency_summary(filtered)["p95_ms"],
            "vectors": vectors, "table_bytes_per_vector": table / vectors, "hnsw_bytes_per_vector": index / vectors}


def _machine() -> dict:
    free_disk = shutil.disk_usage(Path(os.environ.get("ALLIXIOS_HOME", ".")).resolve().anchor or "/").free
    with open("/proc/meminfo") as fh:
        ram = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("MemTotal:"))
    return {"cores": os.cpu_count() or 1, "ram_bytes": ram, "free_disk_bytes": free_disk}


def model(measured: dict, machine: dict, target: Target = Target()) -> list[dict]:
    """Each resource: what one machine like this does, what the target needs, headroom, tenants at which it breaks.

    Throughputs were measured on one process; a stage that parallelises by partition (ingest files,
    dbt days per tenant, embedding batches, site builds per tenant) is taken to scale with cores up to
    this machine's count — the figures are per core x cores, which is the optimistic reading, said so.
    """
    cores = machine["cores"]
    month_s = 30 * 86_400
    peak_events_s = target.events_per_month / month_s * target.peak_factor
    refreshed_per_day = target.articles * target.refreshed_share_per_day
    events_per_day = target.events_per_month / 30
    dbt_s_per_event = measured["dbt"]["seconds"] / measured["dbt"]["events"]  # fixed cost included: conservative
    rows = [
        ("event ingest at the peak hour", measured["ingest"]["rows_per_s"] * cores, peak_events_s, "events/s"),
        ("dbt build of one day within the window", target.dbt_window_s / dbt_s_per_event * cores / 2, events_per_day,
         "events/day"),  # dbt threads share the database server with everything else: half the cores
        ("embedding of refreshed articles", measured["embedding"]["documents_per_s"] * 86_400, refreshed_per_day,
         "documents/day"),
        ("site build of refreshed pages", measured["site"]["pages_per_s"] * cores * 86_400, refreshed_per_day, "pages/day"),
        ("HNSW index in RAM (vectors)", machine["ram_bytes"] * 0.5 / measured["vectors"]["hnsw_bytes_per_vector"],
         target.articles, "vectors"),
        ("raw events on disk, one year", machine["free_disk_bytes"] / measured["ingest"]["bytes_per_row"],
         target.events_per_month * 12, "rows"),
        ("writer calls under the provider contract", target.provider_rpm * 1440, refreshed_per_day * target.calls_per_article,
         "calls/day"),
    ]
    out = []
    for name, capacity, needed, unit in rows:
        headroom = capacity / needed
        out.append({"resource": name, "capacity": capacity, "needed": needed, "unit": unit, "headroom": headroom,
                    "breaks_at_tenants": target.tenants * headroom})
    return sorted(out, key=lambda r: r["headroom"])


def run(ctx) -> None:
    report, p = ctx.report, ctx.params
    shape = data.CorpusShape(articles=TENANTS * p["articles_per_tenant"], tenants=TENANTS)
    timings = data.build_corpus(ctx.url, shape, with_text=False, ctx=ctx)
    log(f"corpus: {shape.articles:,} articles with vectors over {TENANTS} tenants in {sum(timings.values()):.0f} s")
    measured = {"vectors": _vector_search(ctx, ctx.url)}
    log(f"vector search: filtered p95 {measured['vectors']['filtered_p95_ms']:.1f} ms")
    measured["ingest"] = _ingest_rate(ctx, ctx.url)
    log(f"ingest: {measured['ingest']['rows_per_s']:,.0f} rows/s")
    measured["dbt"] = _dbt_day(ctx, ctx.url, shape)
    log(f"dbt day: {measured['dbt']['seconds']:.1f} s for {measured['dbt']['events']:,} events")
    measured["embedding"] = _embedding_rate(ctx)
    log(f"embedding: {measured['embedding']['documents_per_s']:.2f} documents/s")
    measured["site"] = _site_rate(ctx, ctx.url)
    log(f"site build: {measured['site']['pages_per_s']:.0f} pages/s")
    machine = _machine()
    rows = model(measured, machine)

    report.metric("corpus (tenants x articles)", f"{TENANTS} x {p['articles_per_tenant']:,}")
    report.metric("HNSW build of the corpus", timings.get("hnsw_build_s"), "s")
    report.metric("event ingest, one process", measured["ingest"]["rows_per_s"], "rows/s")
    report.metric("raw page event, stored with indexes", measured["ingest"]["bytes_per_row"], "bytes/row")
    report.metric("dbt build of one day", measured["dbt"]["seconds"], "s", f"{measured['dbt']['events']:,} page events")
    report.metric("MiniLM embedding, ~800-word documents", measured["embedding"]["documents_per_s"], "documents/s",
                  f"{measured['embedding']['threads']} onnxruntime threads")
    report.metric("site build, one process", measured["site"]["pages_per_s"], "pages/s")
    report.metric("vector search p95 unfiltered / filtered", f"{measured['vectors']['unfiltered_p95_ms']:.1f} / "
                  f"{measured['vectors']['filtered_p95_ms']:.1f}", "ms", f"{measured['vectors']['vectors']:,} vectors")
    report.metric("vector storage: heap / HNSW", f"{measured['vectors']['table_bytes_per_vector']:.0f} / "
                  f"{measured['vectors']['hnsw_bytes_per_vector']:.0f}", "bytes/vector")
    report.metric("this machine", f"{machine['cores']} cores, {machine['ram_bytes'] / 2**30:.1f} GiB RAM, "
                  f"{machine['free_disk_bytes'] / 2**30:.0f} GiB free disk")
    for row in rows:
        report.ratio(f"headroom: {row['resource']}", row["capacity"], row["needed"],
                     f"one machine like this one vs the target ({row['unit']})")
    first = rows[0]
    report.metric("breaks first", f"{first['resource']} at {first['breaks_at_tenants']:.1f} tenants of the target's size")
    report.table("capacity model: one machine like this one against 10M articles, 100 tenants, 1B events/month",
                 ["resource", "one machine", "target needs", "unit", "headroom", "breaks at tenants"],
                 [[r["resource"], r["capacity"], r["needed"], r["unit"], r["headroom"], r["breaks_at_tenants"]] for r in rows])
    # the model must rank: a headroom is only meaningful as a finite positive figure
    report.goal("every resource's headroom is a measured, finite figure", float(all(r["headroom"] > 0 for r in rows)),
                ">=", 1.0)
    report.note("per-core figures are multiplied by this machine's cores for stages that split by partition: "
                "the optimistic reading; dbt is given half the cores (it shares the database server)")
    report.note("the dbt figure includes dbt's fixed start-up cost in its per-event cost (conservative at small sizes)")
    report.note(f"median of the per-stage figures is not taken here: each stage runs once; decide on three runs "
                f"(make bench). Median headroom this run: {statistics.median(r['headroom'] for r in rows):.2f}")
