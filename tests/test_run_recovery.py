"""A run whose process is killed (kill -9 of its worker and of the code server that watched it)
no longer stays STARTED holding its `llm` pool slot: the worker health check sees the process
gone, recovery fails the run, frees its slots and mirrors it into workflow_executions, and the
next content run gets the slot and finishes."""

from __future__ import annotations

import dagster as dg
import psutil
import pytest
import yaml

from allixios import settings
from allixios.db.engine import connect
from allixios.tenants import active_partition_keys
from allixios.testing.catalogues import local_deployment, write_catalogue
from allixios.testing.llm_server import LocalLLMServer
from allixios.testing.servers import wait_for
from allixios_assets.launcher import Launcher
from allixios_assets.partitions import content_partition_key, sync_niche_partitions
from allixios_assets.recovery import recover
from allixios_assets.run_launcher import AllixiosRunLauncher, WorkerStatus, check_worker, worker_of

pytestmark = pytest.mark.slow
DAY = "2026-11-05"


def test_killed_run_is_failed_and_its_llm_slot_freed(db, sample_tenant, tmp_path, monkeypatch):
    from allixios_assets.instance import prepare_dagster_home

    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "DAGSTER_HOME"):
        monkeypatch.delenv(key, raising=False)
    prepare_dagster_home(tmp_path / "dagster_home")
    with connect(db) as conn:
        keys = sorted(k for k in active_partition_keys(conn) if k.startswith("sample."))

    # every model call hangs for two minutes: the run sits in an llm-pool step when it is killed
    with LocalLLMServer(required_key="sk-local-test", latency_ms=120_000) as server, \
            dg.DagsterInstance.get() as instance:
        assert isinstance(instance.run_launcher, AllixiosRunLauncher)
        # the session's Dagster storage is shared: runs that earlier tests left dead must not hold
        # the pool's slots this test waits for (the same recovery an operator runs)
        recover(instance)
        # no daemon runs here: heartbeats left by an earlier test's daemon (`make dev`) would make the
        # launcher queue the run for a daemon that is gone
        instance.wipe_daemon_heartbeats()
        sync_niche_partitions(instance, keys)
        catalogue = write_catalogue(tmp_path / "models.yaml", {
            "writer": [local_deployment("local-writer", server.url)],
            "researcher": [local_deployment("local-researcher", server.url)],
            "embedder": yaml.safe_load(settings.repo_path("config/models.yaml").read_text())["aliases"]["embedder"],
        })
        monkeypatch.setenv("ALLIXIOS_MODELS_FILE", str(catalogue))  # inherited by the code server
        monkeypatch.setenv("ALLIXIOS_LOCAL_LLM_KEY", "sk-local-test")
        launcher = Launcher(instance=instance)
        try:
            run_id = launcher.launch("content_job", partition_key=content_partition_key(DAY, keys[0]))
            def holds_slot():
                assert not instance.get_run_by_id(run_id).is_finished, "the run ended before it was killed"
                return run_id in instance.event_log_storage.get_concurrency_info("llm").active_run_ids

            # generous: on a loaded 2-core machine the code server and run worker take a while to start
            wait_for(holds_slot, 420, "the run to hold an llm slot", interval_s=0.3,
                     detail=lambda: f"run {run_id[:8]} is {instance.get_run_by_id(run_id).status.value}")
            pid, _ = worker_of(instance, run_id)
            worker = psutil.Process(pid)
            code_server = worker.parent()
            code_server.kill()  # the code server would otherwise notice and report the failure itself
            worker.kill()
            psutil.wait_procs([worker, code_server], timeout=30)
        finally:
            launcher.close()

        run = instance.get_run_by_id(run_id)
        assert run.status == dg.DagsterRunStatus.STARTED  # what used to stay for ever
        assert check_worker(instance, run).status == WorkerStatus.FAILED

        result = recover(instance)
        assert [r["run_id"] for r in result.failed_runs] == [run_id]
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
        assert run_id in result.freed_slots
        assert run_id not in instance.event_log_storage.get_concurrency_info("llm").active_run_ids
        with connect(db) as conn:
            status, error = conn.execute("SELECT status, error_details FROM workflow_executions "
                                         "WHERE execution_id = %s", (run_id,)).fetchone()
        assert status == "failed" and f"run worker process {pid} is gone" in error["run"]
        assert recover(instance).failed_runs == []  # idempotent

        # the next content run (offline models again) gets a slot and finishes
        monkeypatch.delenv("ALLIXIOS_MODELS_FILE")
        with Launcher(instance=instance) as again:
            next_id = again.launch("content_job", partition_key=content_partition_key(DAY, keys[1]))
            assert again.wait(next_id, timeout=300) == dg.DagsterRunStatus.SUCCESS
