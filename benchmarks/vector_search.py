"""vector_search: HNSW build and top-10 queries over article vectors vs exact search on the same queries.

Goal (issue 8): recall@10 >= 0.95 at p95 <= 10 ms single client; filtered (tenant + niche) queries
return a full 10. Baseline in the same run: exact search (index scans off) on the same query vectors,
given the same number of latency passes as the index.

Two query sets (issue 19): the operating point (`hnsw.ef_search`) is chosen on the tuning set and
every goal is reported on a held-out set drawn separately, so the figure is not fitted to its queries.
The filtered recall goal is the HNSW path's (the iterative index scan): the planner's own filtered
plan is an exact b-tree scan and cannot miss, so its recall is reported but is not a goal.

The goals are checked on the index exactly as the schema defines it (002_content.sql). Further index
variants (`hnsw_variants`, e.g. a higher ef_construction) are rebuilt on the same table and measured
on the same queries, so a change to the schema can be judged from one run.
"""

from __future__ import annotations

import re
import statistics
import time

import psycopg

from benchmarks import data
from benchmarks.harness import admin_connection, latency_summary, log

DESCRIPTION = "1M x 384-dim vectors: HNSW build, top-10 unfiltered and tenant+niche filtered vs exact search"
SIZES = {
    "quick": {"articles": 5_000, "queries": 20, "ef_search": [40, 100], "noise": "subspace", "passes": 1,
              "hnsw_variants": [""]},
    # No variant at full size: the ef_construction 64 rebuild (~500 s at 1M here) is in no goal, and three
    # runs of one commit must fit a quiet machine's hours. Its comparison (2026-11-26) is in BENCHMARKS.md;
    # add "m = 16, ef_construction = 64" back to judge a change of the schema's index from one run.
    "full": {"articles": 1_000_000, "queries": 200, "ef_search": [40, 100, 200, 400], "noise": "subspace", "passes": 3,
             "hnsw_variants": [""]},
}
K = 10
RECALL_GOAL = 0.95
P95_GOAL_MS = 10.0
SCHEMA_INDEX = "schema index (m = 16, ef_construction = 200)"

# The product's query shape: the distance expression and `model = ...` match the partial HNSW index.
UNFILTERED = f"""
SELECT article_id FROM embeddings WHERE model = %(model)s
ORDER BY embedding::vector({data.DIMENSION}) <=> %(v)s LIMIT {K}"""
# relaxed_order may return rows slightly out of order: materialize, then re-sort exactly (pgvector docs)
FILTERED = f"""
WITH hits AS MATERIALIZED (
    SELECT article_id, embedding::vector({data.DIMENSION}) <=> %(v)s AS distance FROM embeddings
    WHERE model = %(model)s AND tenant_id = %(tenant)s AND niche_id = %(niche)s
    ORDER BY embedding::vector({data.DIMENSION}) <=> %(v)s LIMIT {K})
SELECT article_id FROM hits ORDER BY distance"""
# The same filter written so the planner cannot use the (tenant_id, niche_id) b-tree: measures the HNSW
# iterative index scan itself (what happens when the filter is not selective enough for the b-tree).
FILTERED_HNSW_ONLY = FILTERED.replace(
    "AND tenant_id = %(tenant)s AND niche_id = %(niche)s", "AND (tenant_id = %(tenant)s AND niche_id = %(niche)s) IS TRUE"
)


def missing_dependencies() -> str | None:
    return None  # needs only the schema (embeddings + its HNSW index) and pgvector


def _params(q: dict) -> dict:
    return {"model": data.MODEL, "v": q["vector"], "tenant": q["tenant_id"], "niche": q["niche_id"]}


def _run_queries(conn: psycopg.Connection, sql: str, queries: list[dict], passes: int = 1) -> tuple[list[list], list[float]]:
    """Each query's result and its latency: the best of `passes` runs (the machine is shared: the best
    pass removes interference from other processes while keeping each query's own cost)."""
    results: list[list] = []
    best = [float("inf")] * len(queries)
    for n in range(passes):
        for i, q in enumerate(queries):
            start = time.perf_counter()
            rows = conn.execute(sql, _params(q)).fetchall()
            best[i] = min(best[i], time.perf_counter() - start)
            if n == 0:
                results.append([r[0] for r in rows])
    return results, best


def _recalls(approx: list[list], exact: list[list]) -> list[float]:
    return [len(set(a) & set(e)) / len(e) for a, e in zip(approx, exact, strict=True) if e]


def _full_share(results: list[list]) -> float:
    return sum(len(r) == K for r in results) / len(results)


def _plan(conn: psycopg.Connection, sql: str, q: dict) -> str:
    """The scan nodes of the plan, e.g. 'Index Scan using embeddings_hnsw_offline_hashing_384'."""
    text = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, _params(q)))
    nodes = re.findall(r"((?:Parallel )?(?:Seq Scan|Index Scan|Index Only Scan|Bitmap Index Scan|Bitmap Heap Scan)(?: using| on)? \S+)", text)
    return "; ".join(dict.fromkeys(nodes)) or text.splitlines()[0]


def _sweep(url, queries: list[dict], exact: dict[str, list], ef_values: list[int], passes: int) -> list[dict]:
    sweep = []
    with admin_connection(url) as conn:
        conn.execute("SET hnsw.iterative_scan = relaxed_order")
        _run_queries(conn, UNFILTERED, queries)  # warm the index
        for ef in ef_values:
            conn.execute(f"SET hnsw.ef_search = {int(ef)}")
            row = {"ef_search": ef}
            for label, sql, truth in (
                ("unfiltered", UNFILTERED, exact["unfiltered"]),
                ("filtered", FILTERED, exact["filtered"]),
                ("filtered_hnsw", FILTERED_HNSW_ONLY, exact["filtered"]),
            ):
                results, seconds = _run_queries(conn, sql, queries, passes)
                recalls = _recalls(results, truth)
                row[label] = {"recall": statistics.fmean(recalls), "full10": _full_share(results),
                              "lost": sum(r < 0.5 for r in recalls) / len(recalls), **latency_summary(seconds)}
            sweep.append(row)
            log(f"ef_search {ef}: unfiltered recall {row['unfiltered']['recall']:.3f} p95 {row['unfiltered']['p95_ms']:.2f} ms; "
                f"filtered recall {row['filtered']['recall']:.3f} p95 {row['filtered']['p95_ms']:.2f} ms; "
                f"HNSW-only filtered recall {row['filtered_hnsw']['recall']:.3f} full10 {row['filtered_hnsw']['full10']:.2f}")
    return sweep


def _operating_point(sweep: list[dict]) -> dict:
    """The smallest ef_search whose unfiltered recall meets the goal (else the one with the best recall)."""
    meeting = [r for r in sweep if r["unfiltered"]["recall"] >= RECALL_GOAL]
    return meeting[0] if meeting else max(sweep, key=lambda r: r["unfiltered"]["recall"])


def _at(variant: dict) -> dict:
    """The held-out sweep's row at the ef_search chosen on the tuning queries."""
    return next(r for r in variant["sweep"] if r["ef_search"] == variant["tuned_ef_search"])


def _rebuild_index(url, ddl: str, options: str, shape: data.CorpusShape) -> tuple[float, float]:
    """Replace the HNSW index with the same definition plus WITH (options); (build seconds, size MB)."""
    with admin_connection(url) as conn:
        conn.execute(f"DROP INDEX {data.HNSW_INDEX}")
        conn.execute("CHECKPOINT")
    plain = re.sub(r" WITH \([^)]*\)", "", ddl, count=1)  # the schema's own build options
    variant = plain.replace("vector_cosine_ops)", f"vector_cosine_ops) WITH ({options})", 1)
    seconds = data.build_hnsw(url, variant, shape)
    with admin_connection(url) as conn:
        size = conn.execute("SELECT pg_relation_size(%s)", (data.HNSW_INDEX,)).fetchone()[0] / 2**20
    return seconds, size


def run(ctx) -> None:
    report, p = ctx.report, ctx.params
    shape = data.CorpusShape(articles=p["articles"])
    timings = data.build_corpus(ctx.url, shape, with_text=False, noise=p["noise"], ctx=ctx)
    report.metric("articles", shape.articles)
    report.metric("dimensions", data.DIMENSION)
    report.metric("niches (tenants x niches)", f"{shape.tenants} x {shape.niches_per_tenant}")
    report.metric("vector generation + load", timings["embeddings_load_s"], "s")
    report.metric("load rate", shape.articles / timings["embeddings_load_s"], "vectors/s")

    with admin_connection(ctx.url) as conn:
        sizes = conn.execute(
            "SELECT pg_total_relation_size('embeddings'), pg_relation_size(%s)", (data.HNSW_INDEX,)
        ).fetchone()
        ddl = data.index_definition(conn, data.HNSW_INDEX)
        tuning = data.query_vectors(conn, p["queries"], seed=0.7, noise=p["noise"])
        queries = data.query_vectors(conn, p["queries"], seed=0.3, noise=p["noise"])  # held out: reported
    report.metric("embeddings table (with indexes)", sizes[0] / 2**20, "MB")

    # Baseline: exact search, on its own connection (psycopg prepares repeated statements, and a cached
    # plan would outlive the SET). HNSW is only reachable through index scans; bitmap scans stay on so the
    # filtered baseline can use the (tenant_id, niche_id) b-tree and still rank every candidate exactly.
    # The same number of passes as the index gets, best kept: both sides are treated alike.
    with admin_connection(ctx.url) as conn:
        conn.execute("SET enable_indexscan = off")
        _run_queries(conn, UNFILTERED, queries[:3])  # warm the heap into the page cache
        exact_unfiltered, exact_unfiltered_s = _run_queries(conn, UNFILTERED, queries, p["passes"])
        exact_filtered, exact_filtered_s = _run_queries(conn, FILTERED, queries, p["passes"])
        exact_plan = _plan(conn, UNFILTERED, queries[0])
        tuning_exact = {"unfiltered": _run_queries(conn, UNFILTERED, tuning)[0],
                        "filtered": _run_queries(conn, FILTERED, tuning)[0]}
    exact = {"unfiltered": exact_unfiltered, "filtered": exact_filtered}
    exact_u, exact_f = latency_summary(exact_unfiltered_s), latency_summary(exact_filtered_s)
    log(f"exact search: unfiltered p95 {exact_u['p95_ms']:.1f} ms, filtered p95 {exact_f['p95_ms']:.1f} ms")

    variants = {}
    for options in p["hnsw_variants"]:
        if not options:
            label, build_s, size_mb = SCHEMA_INDEX, timings["hnsw_build_s"], sizes[1] / 2**20
        else:
            label = f"variant WITH ({options})"
            build_s, size_mb = _rebuild_index(ctx.url, ddl, options, shape)
        log(f"{label}: built in {build_s:.1f} s")
        tuned = _operating_point(_sweep(ctx.url, tuning, tuning_exact, p["ef_search"], 1))["ef_search"]
        log(f"{label}: operating point chosen on the tuning queries: ef_search {tuned}")
        variants[label] = {"build_s": build_s, "size_mb": size_mb, "tuned_ef_search": tuned,
                           "sweep": _sweep(ctx.url, queries, exact, p["ef_search"], p["passes"])}
    with admin_connection(ctx.url) as conn:
        plans = {
            "exact (baseline)": exact_plan,
            "unfiltered": _plan(conn, UNFILTERED, queries[0]),
            "filtered (planner's choice)": _plan(conn, FILTERED, queries[0]),
            "filtered (HNSW only)": _plan(conn, FILTERED_HNSW_ONLY, queries[0]),
        }

    schema = variants[SCHEMA_INDEX]
    chosen = _at(schema)
    u, f, fh = chosen["unfiltered"], chosen["filtered"], chosen["filtered_hnsw"]
    report.metric("queries", len(queries))
    report.metric("latency passes per query (best kept)", p["passes"])
    report.metric("exact unfiltered p50 / p95", f"{exact_u['p50_ms']:.1f} / {exact_u['p95_ms']:.1f}", "ms")
    report.metric("exact filtered p50 / p95", f"{exact_f['p50_ms']:.1f} / {exact_f['p95_ms']:.1f}", "ms")
    for label, v in variants.items():
        point = _at(v)
        short = "schema index" if label == SCHEMA_INDEX else label
        report.metric(f"{short}: HNSW build", v["build_s"], "s")
        report.metric(f"{short}: HNSW index size", v["size_mb"], "MB")
        report.metric(f"{short}: operating point hnsw.ef_search", point["ef_search"],
                      note="chosen on the tuning queries: smallest ef_search meeting the recall goal, else the best recall; "
                           "figures are the held-out queries' at that point")
        report.metric(f"{short}: unfiltered recall / p50 / p95",
                      f"{point['unfiltered']['recall']:.3f} / {point['unfiltered']['p50_ms']:.2f} / {point['unfiltered']['p95_ms']:.2f}",
                      "- / ms / ms")
        if label != SCHEMA_INDEX:
            report.ratio(f"{short}: unfiltered recall@10 vs exact", point["unfiltered"]["recall"], 1.0,
                         "share of the exact top 10 found (the exact answer is the baseline: recall 1.0 by definition)")
            report.ratio(f"{short}: unfiltered p95 / exact p95", point["unfiltered"]["p95_ms"], exact_u["p95_ms"],
                         "top-10 latency with this index vs without")
        report.table(
            f"{label}: hnsw.ef_search sweep on the held-out queries (iterative_scan = relaxed_order; 'lost' = share of "
            "queries with recall < 0.5)",
            ["ef_search", "recall", "lost", "p50 ms", "p95 ms", "filtered recall", "filtered p95 ms",
             "HNSW-only filtered recall", "HNSW-only p95 ms", "HNSW-only full 10"],
            [[r["ef_search"], r["unfiltered"]["recall"], r["unfiltered"]["lost"], r["unfiltered"]["p50_ms"],
              r["unfiltered"]["p95_ms"], r["filtered"]["recall"], r["filtered"]["p95_ms"], r["filtered_hnsw"]["recall"],
              r["filtered_hnsw"]["p95_ms"], r["filtered_hnsw"]["full10"]] for r in v["sweep"]],
        )

    report.ratio("unfiltered p95: HNSW / exact", u["p95_ms"], exact_u["p95_ms"], "schema index: top-10 latency with vs without it")
    report.ratio("unfiltered recall@10 vs exact", u["recall"], 1.0,
                 "schema index: share of the exact top 10 found (the exact answer is the baseline: recall 1.0 by definition)")
    report.ratio("filtered p95: indexed / exact", f["p95_ms"], exact_f["p95_ms"], "tenant+niche filter, planner's plan vs exact")
    report.ratio("HNSW-only filtered recall@10 vs exact", fh["recall"], 1.0,
                 "tenant+niche filter through the iterative index scan (the exact answer is recall 1.0 by definition)")
    report.ratio("HNSW-only filtered p95 / exact filtered p95", fh["p95_ms"], exact_f["p95_ms"],
                 "iterative index scan, b-tree excluded")

    report.goal("recall@10 unfiltered", u["recall"], ">=", RECALL_GOAL)
    report.goal("p95 unfiltered", u["p95_ms"], "<=", P95_GOAL_MS, "ms")
    report.goal("recall@10 filtered (HNSW path)", fh["recall"], ">=", RECALL_GOAL)
    report.goal("p95 filtered (the product's query, planner's plan)", f["p95_ms"], "<=", P95_GOAL_MS, "ms")
    report.goal("filtered queries with a full 10", f["full10"], ">=", 1.0)
    report.goal("HNSW-only filtered queries with a full 10", fh["full10"], ">=", 1.0)
    report.table("query plans", ["query", "scan"], [[k, v] for k, v in plans.items()])
    report.metric("planner's filtered plan recall@10", f["recall"], note="an exact b-tree scan: reported, not a goal")
    report.note(f"vectors: Gaussian mixture (topics -> subtopics -> articles, {p['noise']} noise) generated in SQL, see "
                "benchmarks/data.py; query vectors are fresh draws from the same distribution, not corpus members")
    report.params["timings_s"] = {k: round(v, 2) for k, v in timings.items()}
