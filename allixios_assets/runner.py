"""`make run` / `allixios run`: the main job on the embedded default, end to end.

Seeds the sample tenant, keeps the niche partitions in step, then launches the content graph for
today (one run per niche partition) and the analytics graph for the last few days of simulated
traffic (today's views sent through the collector over real HTTP, allixios/collector/replay.py)
*through the code location* (allixios_assets.launcher), as the UI and the daemon do: every
run has a job origin, shows in the UI's timeline and the job's run list, and re-executes from the UI.
Progress shows as work happens (allixios_assets.progress); the code server's and run workers' own
output (framework logs, dbt's lines) goes to .allixios/logs/make-run.log.
"""

from __future__ import annotations

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
RUN_TIMEOUT_S = 3600


def _today() -> date:
    override = os.environ.get("ALLIXIOS_RUN_DATE")
    return date.fromisoformat(override) if override else datetime.now(UTC).date()


def _launch_and_wait(launcher, progress, job_name: str, partition_key, label: str,
                     run_config: dict | None = None) -> tuple[str, bool]:
    """One run through the code location, followed until it ends; mirrored into workflow_executions."""
    from allixios_assets.progress import RunWatcher
    from allixios_assets.recovery import mirror_runs

    run_id = launcher.launch(job_name, partition_key=partition_key, tags={"allixios/trigger": "make run"},
                             run_config=run_config)
    watcher = RunWatcher(launcher.instance, run_id, label, progress)
    status = launcher.wait(run_id, timeout=RUN_TIMEOUT_S, on_poll=watcher)
    watcher(launcher.instance.get_run_by_id(run_id))  # the events that landed after the last poll
    mirror_runs(launcher.instance, {run_id})
    return run_id, status == dg.DagsterRunStatus.SUCCESS


def run_main_job(echo: Callable[[str], None] = print, tenant_slug: str = "sample", traffic_days: int = TRAFFIC_DAYS) -> bool:
    """Run the whole pipeline once; returns True when every run succeeded."""
    from allixios.content.pipeline import partition_summary
    from allixios_assets.launcher import Launcher
    from allixios_assets.progress import Progress

    progress = Progress(echo)
    progress.status("migrating and seeding …")
    migrate.upgrade()
    with connect() as conn:
        seed_sample(conn, tenant_slug)
        keys = [k for k in active_partition_keys(conn) if k.startswith(f"{tenant_slug}.")]
    instance = get_instance()
    sync_niche_partitions(instance, keys)
    today = _today()
    ok = True
    log_dir = settings.home() / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)

    progress.status("loading the code location …")
    with Launcher(instance=instance, output_file=log_dir / "make-run.log") as launcher:
        progress.line(f"content graph for {today} (one run per niche partition):")
        summaries = []
        for key in keys:
            run_id, success = _launch_and_wait(launcher, progress, "content_job",
                                               content_partition_key(today.isoformat(), key), key)
            ok &= success
            with connect() as conn:
                summary = partition_summary(conn, today, key)
            summaries.append({"niche": key, "run": run_id[:8], "ok": success, **summary})
            progress.line(f"  {key}: {'ok' if success else 'FAILED'} (run {run_id[:8]}): "
                          f"{summary['drafts']} drafts, {summary['published']} published")
        _print_summary(progress.line, summaries)
        with connect() as conn:
            for line in stand_in_lines(conn, tenant_slug):
                progress.line(line)

        progress.line(f"\nanalytics for {traffic_days} days of simulated traffic up to {today}:")
        from allixios.analytics.simulator import simulate_traffic

        start = today - timedelta(days=traffic_days - 1)
        progress.status("simulating traffic …")
        with connect() as conn:
            sim = simulate_traffic(conn, days=traffic_days, events_per_day=2000, start=start, tenant_slug=tenant_slug, seed=7)
        progress.line("  " + simulator_line(sim))
        if start <= datetime.now(UTC).date() == today:
            progress.status("sending today's simulated views through the collector …")
            sent = _through_collector(tenant_slug, today)
            progress.line("  " + collector_line(sent))
        else:
            progress.line(f"  (the collector lands only the day it receives, {datetime.now(UTC).date()}; this run is "
                          f"for {today}, so its simulated traffic stays files)")
        for offset in range(traffic_days):
            day = (start + timedelta(days=offset)).isoformat()
            run_id, success = _launch_and_wait(launcher, progress, "analytics_job", day, f"analytics {day}")
            ok &= success
            progress.line(f"  analytics_job {day}: {'ok' if success else 'FAILED'} (run {run_id[:8]})")

        ok &= _build_site(launcher, progress, tenant_slug)

    echo(f"\nOpen the Dagster UI with `make dev` ({settings.ui_url()}) to see these runs, the asset")
    echo("lineage and metadata; query the marts with `allixios db url` (README: Querying the marts).")
    if not ok:
        echo("\nSome runs failed: see the run ids above in the UI (`make dev`); framework output is in "
             f"{log_dir / 'make-run.log'}.")
    return ok


def _build_site(launcher, progress, tenant_slug: str) -> bool:
    """The publishing group (issue 13): the tenant's site built from its live versions, then where to see it."""
    from allixios.publishing import releases

    run_id, success = _launch_and_wait(
        launcher, progress, "publishing_job", None, f"site {tenant_slug}",
        run_config={"ops": {name: {"config": {"tenants": [tenant_slug]}} for name in ("media_library", "tenant_sites")}},
    )
    live = releases.live_release(tenant_slug)
    progress.line(f"\nsite of {tenant_slug}: {'release ' + live.name if live and success else 'FAILED'} (run {run_id[:8]}); "
                  f"serve it with `allixios site serve` (http://127.0.0.1:{settings.site_port()}/) or `make dev`")
    return success


def stand_in_lines(conn, tenant_slug: str) -> list[str]:
    """Who produced the figures above: each stand-in (writer, embedder, traffic) named as one (issue 16)."""
    from allixios.ai.catalogue import load_catalogue
    from allixios.ai.embeddings import get_embedder

    catalogue = load_catalogue()
    writer = (catalogue.usable("writer") or catalogue.deployments("writer"))[0]
    marked, total = conn.execute(
        """SELECT count(*) FILTER (WHERE a.metadata ? 'stand_in'), count(*) FROM articles a
           JOIN tenants t ON t.id = a.tenant_id WHERE t.slug = %s AND a.deleted_at IS NULL""", (tenant_slug,)).fetchone()
    embedder = get_embedder(catalogue=catalogue)
    lines = [f"writer: {writer.model}" + (f" — OFFLINE STAND-IN: template prose, not a language model; {marked} of {total} "
                                          "articles carry the stand-in marker (site notice, API stand_in, "
                                          "dim_articles.is_stand_in)" if writer.stand_in else " (real model)"),
             f"embedder: {embedder.model}" + (" — OFFLINE STAND-IN (word overlap, not meaning)"
                                              if embedder.is_offline_stand_in else " (real model, run locally)"),
             "traffic: simulated below — STAND-IN for real visitors (page views and revenue are not real)"]
    judge = [d for d in catalogue.usable("judge") if not d.stand_in] if "judge" in catalogue.aliases else []
    lines.append(f"judge: {judge[0].model}" if judge else "judge: not configured (no LLM-judged assessment)")
    return lines
def _through_collector(tenant_slug: str, day: date) -> dict:
    """Today's simulated views over real HTTP through POST /v1/collect (allixios/collector/replay.py)."""
    from allixios.collector.replay import send_day_through_collector
    from allixios.tenants import get_tenant

    with connect() as conn:
        return send_day_through_collector(
            conn, get_tenant(conn, tenant_slug), day, origin=f"http://127.0.0.1:{settings.site_port()}",
            collect_url=f"http://127.0.0.1:{settings.api_port()}/v1/collect")


def collector_line(sent: dict) -> str:
    landed = sent["landed"]
    return (f"offline traffic simulator (stand-in) -> collector: {sent['views_sent']} of today's simulated views "
            f"posted as the beacon does to {sent['collector_url']} ({sent['accepted_requests']} requests accepted, "
            f"durable before each answer), landed in raw: {landed['loaded']} loaded, {landed['rejected']} rejected, "
            f"{landed['duplicate']} duplicate of {landed['read']}; {sent['clicks']} affiliate clicks; "
            f"{sent['seconds']} s; today's simulator page files replaced by the collector's feed")


def simulator_line(sim: dict) -> str:
    """The traffic simulator's result as one readable line (the landing folder relative to the project)."""
    folder = str(sim.get("folder", ""))
    root = str(settings.project_root())
    if folder.startswith(root + os.sep):  # inside the project: the short relative form
        folder = os.path.relpath(folder, root)
    drops = len(sim.get("drop_articles") or [])
    return (f"{sim.get('simulator', 'traffic simulator')}: {sim.get('page_events', 0)} page views and "
            f"{sim.get('revenue_events', 0)} revenue events for {sim.get('articles', 0)} articles, "
            f"{sim.get('start')} .. {sim.get('end')}, in {sim.get('files', 0)} files under {folder} "
            f"({sim.get('bad_rows', 0)} deliberately bad rows, {sim.get('duplicates', 0)} duplicates, "
            f"{drops} articles with a simulated drop)")


def _print_summary(echo: Callable[[str], None], rows: list[dict]) -> None:
    cols = ["niche", "run", "ok", "topics_accepted", "topics_rejected", "drafts", "articles_meeting_bars",
            "articles_under_bars", "published", "avg_quality", "avg_seo", "cost_usd"]
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in cols}
    echo("  " + "  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        echo("  " + "  ".join(_fmt(r.get(c)).ljust(widths[c]) for c in cols))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if value < 1 else f"{value:.1f}"
    return "-" if value is None else str(value)
