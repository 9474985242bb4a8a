"""Allixios benchmarks: every hot path measured as a ratio against a baseline run in the same process.

`python -m benchmarks [--quick] [NAME ...]` (or `make bench`) runs them; see BENCHMARKS.md.
Each benchmark is a module here with `DESCRIPTION`, `SIZES` ({"quick": ..., "full": ...}),
`missing_dependencies() -> str | None` and `run(ctx: BenchContext) -> None`.
"""

# Run order: what depends on fewer areas first.
BENCHMARKS: tuple[str, ...] = (
    "vector_search",
    "embedder_quality",
    "vector_recall_real",
    "hybrid_search",
    "score_drop_sensor",
    "event_ingest",
    "search_console_import",
    "dbt_marts",
    "generation_throughput",
    "provider_faults",
    "pipeline_overhead",
    "api_load",
    "site_build",
    "site_audit",
    "collector",
    "capacity",
    "seo_conformance",
    "learned_routing",
    "forecast_backtest",
)
