"""Runs launched through the code location (allixios_assets.launcher) are real remote runs: they
carry a job origin, are listed for their job, and re-execute through the Dagster GraphQL API —
the same call the UI's "Re-execute all" makes."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster_graphql.client.query import LAUNCH_PIPELINE_REEXECUTION_MUTATION
from dagster_graphql.test.utils import execute_dagster_graphql

from allixios.db.engine import connect
from allixios.errors import NotFoundError
from allixios.tenants import active_partition_keys
from allixios_assets.launcher import Launcher
from allixios_assets.partitions import content_partition_key, sync_niche_partitions

pytestmark = pytest.mark.slow
DAY = "2026-11-05"


@pytest.fixture
def launcher(db, sample_tenant, tmp_path, monkeypatch):
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    from allixios_assets.instance import prepare_dagster_home

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    prepare_dagster_home(tmp_path / "dagster_home")
    with dg.DagsterInstance.get() as instance, Launcher(instance=instance) as launcher:
        with connect(db) as conn:
            keys = [k for k in active_partition_keys(conn) if k.startswith("sample.")]
        sync_niche_partitions(instance, keys)
        launcher.niche_keys = keys
        yield launcher


def test_make_run_launches_every_run_through_the_code_location_and_they_reexecute(launcher):
    from allixios_assets.runner import run_main_job

    lines: list[str] = []
    assert run_main_job(echo=lines.append, traffic_days=1)
    instance = launcher.instance
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"allixios/trigger": "make run"}))
    assert sorted(r.job_name for r in runs) == ["analytics_job"] + ["content_job"] * len(launcher.niche_keys) + ["publishing_job"]
    assert all(r.remote_job_origin is not None and r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    text = "\n".join(lines)
    # progress as it happened (plain lines: not a terminal), the run ids, readable simulator line
    assert "topics done" in text and "dbt marts/mart_content_health built" in text
    assert "articles_meeting_bars" in text and "checks_passed" not in text
    content_run = next(r for r in runs if r.job_name == "content_job")
    assert f"(run {content_run.run_id[:8]})" in text
    assert content_run.remote_job_origin.location_name == "allixios"
    assert content_run.tags["dagster/partition/niche"] in launcher.niche_keys
    # the job's run list (the UI's Runs tab) has it
    assert content_run.run_id in {r.run_id for r in instance.get_runs(filters=dg.RunsFilter(job_name="content_job"))}
    assert "offline traffic simulator:" in text and "{" not in text.split("offline traffic simulator:")[1].split("\n")[0]
    # the summary names every stand-in as one (issue 16)
    assert "writer: offline/writer — OFFLINE STAND-IN" in text and "traffic: simulated below — STAND-IN" in text
    # today's simulated views went through the collector over real HTTP, and still say they are simulated
    assert "offline traffic simulator (stand-in) -> collector:" in text and "requests accepted" in text
    with connect() as conn:
        mirrored = conn.execute("SELECT count(*) FROM workflow_executions WHERE status = 'completed' "
                                "AND triggered_by = 'make run'").fetchone()[0]
    assert mirrored == len(runs)

    result = execute_dagster_graphql(
        launcher.request_context(),
        LAUNCH_PIPELINE_REEXECUTION_MUTATION,
        {"reexecutionParams": {"parentRunId": content_run.run_id, "strategy": "ALL_STEPS"}},
    )
    payload = result.data["launchPipelineReexecution"]
    assert payload["__typename"] == "LaunchRunSuccess", payload
    assert payload["run"]["parentRunId"] == content_run.run_id
    # no daemon in the test: the UI's submission is queued, and wait() launches it as the CLI would
    child_id = payload["run"]["runId"]
    assert launcher.wait(child_id, timeout=300) == dg.DagsterRunStatus.SUCCESS
    assert instance.get_run_by_id(child_id).tags["dagster/partition"] == content_run.tags["dagster/partition"]


def test_unknown_partition_fails_at_launch_with_fix(launcher):
    with pytest.raises(NotFoundError) as err:
        launcher.launch("content_job", partition_key=content_partition_key(DAY, "sample.bogus_niche"))
    assert "sample.bogus_niche" in err.value.one_line() and "fix:" in err.value.one_line()
    with pytest.raises(NotFoundError):
        launcher.launch("no_such_job")


def test_permanent_error_fails_once_and_workflow_executions_keeps_its_root_cause(launcher, db):
    from allixios_assets.recovery import mirror_runs

    instance = launcher.instance
    # a niche key Dagster knows but the database does not (deleted niche, typo in a backfill)
    instance.add_dynamic_partitions("niche", ["sample.bogus_niche"])
    run_id = launcher.launch("content_job", partition_key=content_partition_key(DAY, "sample.bogus_niche"))
    assert launcher.wait(run_id, timeout=300) == dg.DagsterRunStatus.FAILURE
    kinds = {r.event_log_entry.dagster_event.event_type_value for r in instance.get_records_for_run(run_id).records
             if r.event_log_entry.dagster_event}
    assert "STEP_UP_FOR_RETRY" not in kinds
    mirror_runs(instance, {run_id})
    with connect(db) as conn:
        status, error = conn.execute("SELECT status, error_details FROM workflow_executions WHERE execution_id = %s",
                                     (run_id,)).fetchone()
    assert status == "failed"
    assert error["steps"] == [{
        "step": "topics", "error_class": "NotFoundError", "retries": 0,
        "error": "no niche has partition key 'sample.bogus_niche' — fix: add it with `allixios niches add`",
    }]


def test_only_a_live_daemon_dequeues_cli_runs(launcher):
    """A daemon stopped minutes ago (its last heartbeat still stored) must not leave CLI runs queued."""
    import time

    from dagster._daemon.types import DaemonHeartbeat

    from allixios_assets.launcher import QUEUE_DAEMON, daemon_dequeues

    instance = launcher.instance
    beat = lambda age_s: instance.add_daemon_heartbeat(  # noqa: E731
        DaemonHeartbeat(timestamp=time.time() - age_s, daemon_type=QUEUE_DAEMON, daemon_id="test", errors=[]))
    beat(0)
    assert daemon_dequeues(instance)
    beat(300)  # stopped five minutes ago (Dagster's own health page tolerates 30 minutes)
    assert not daemon_dequeues(instance)
    run_id = launcher.launch("maintenance_job")
    assert launcher.wait(run_id, timeout=300) == dg.DagsterRunStatus.SUCCESS
