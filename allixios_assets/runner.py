"""`make run` / `allixios run`: the main job on the embedded default, end to end.

Seeds the sample tenant, keeps the niche partitions in step, materializes the content graph for
today (one run per niche partition) and the analytics graph for the last few days of simulated
traffic, all on the real Dagster instance (PostgreSQL storage), so the runs show up in the UI.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from allixios import settings
from allixios.db import migrate
from allixios.db.engine import connect
from allixios.sample import seed_sample
from allixios.tenants import active_partition_keys
from allixios_assets.instance import get_instance
from allixios_assets.partitions import content_partition_key, sync_niche_partitions

TRAFFIC_DAYS = 3


def _today() -> date:
    override = os.environ.get("ALLIXIOS_RUN_DATE")
    return date.fromisoformat(override) if override else datetime.now(UTC).date()


def _execute(defs: dg.Definitions, job_name: str, partition_key, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def(job_name)
    # the summary is what `make run` prints: dbt's progress lines go to a log file, step logs to the UI
    log_dir = settings.home() / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "make-run.log", "a") as log, contextlib.redirect_stdout(log):
        return job.execute_in_process(
            partition_key=partition_key,
            instance=instance,
            raise_on_error=False,
            tags={"allixios/trigger": "make run"},
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )


def run_main_job(echo: Callable[[str], None] = print, tenant_slug: str = "sample", traffic_days: int = TRAFFIC_DAYS) -> bool:
    """Run the whole pipeline once; returns True when every run succeeded."""
    from allixios.content.pipeline import partition_summary
    from allixios_assets.definitions import defs

    migrate.upgrade()
    with connect() as conn:
        seed_sample(conn, tenant_slug)
        keys = [k for k in active_partition_keys(conn) if k.startswith(f"{tenant_slug}.")]
    instance = get_instance()
    sync_niche_partitions(instance, keys)
    today = _today()
    ok = True

    echo(f"content graph for {today} (one run per niche partition):")
    summaries = []
    for key in keys:
        result = _execute(defs, "content_job", content_partition_key(today.isoformat(), key), instance)
        ok &= result.success
        with connect() as conn:
            summary = partition_summary(conn, today, key)
        summaries.append({"niche": key, "run": result.run_id[:8], "ok": result.success, **summary})
    _print_summary(echo, summaries)

    echo(f"\nanalytics for {traffic_days} days of simulated traffic up to {today}:")
    from allixios.analytics.simulator import simulate_traffic

    start = today - timedelta(days=traffic_days - 1)
    with connect() as conn:
        sim = simulate_traffic(conn, days=traffic_days, events_per_day=2000, start=start, tenant_slug=tenant_slug, seed=7)
    echo(f"  simulator (offline stand-in for real traffic): {sim}")
    for offset in range(traffic_days):
        day = (start + timedelta(days=offset)).isoformat()
        result = _execute(defs, "analytics_job", day, instance)
        ok &= result.success
        echo(f"  analytics_job {day}: {'ok' if result.success else 'FAILED'} (run {result.run_id[:8]})")

    ok &= _build_site(defs, instance, echo, tenant_slug)

    echo(f"\nOpen the Dagster UI with `make dev` ({settings.ui_url()}) to see these runs, the asset")
    echo("lineage and metadata; query the marts with `allixios db url` (README: Querying the marts).")
    if not ok:
        echo("\nSome runs failed: see the run ids above in the UI (`make dev`).")
    return ok


def _build_site(defs: dg.Definitions, instance: dg.DagsterInstance, echo: Callable[[str], None], tenant_slug: str) -> bool:
    """The publishing group (issue 13): the tenant's site built from its live versions, then where to see it."""
    from allixios.publishing import releases

    job = defs.resolve_job_def("publishing_job")
    result = job.execute_in_process(
        instance=instance, raise_on_error=False, tags={"allixios/trigger": "make run"},
        run_config={"ops": {name: {"config": {"tenants": [tenant_slug]}} for name in ("media_library", "tenant_sites")},
                    "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    live = releases.live_release(tenant_slug)
    echo(f"\nsite of {tenant_slug}: {'release ' + live.name if live and result.success else 'FAILED'} (run {result.run_id[:8]}); "
         f"serve it with `allixios site serve` (http://127.0.0.1:{settings.site_port()}/) or `make dev`")
    return result.success


def _print_summary(echo: Callable[[str], None], rows: list[dict]) -> None:
    cols = ["niche", "ok", "topics_accepted", "topics_rejected", "drafts", "checks_passed", "checks_failed",
            "published", "avg_quality", "avg_seo", "cost_usd"]
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in cols}
    echo("  " + "  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        echo("  " + "  ".join(_fmt(r.get(c)).ljust(widths[c]) for c in cols))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if value < 1 else f"{value:.1f}"
    return "-" if value is None else str(value)
