"""A hung run ends with the seed's WORKFLOW_TIMEOUT instead of running for ever (issue 18): the run
is launched through the code location with the instance's run launcher, which gives it its job's
maximum run time (dagster.yaml, ``run_launcher.config.max_runtime_seconds``) as Dagster's
``dagster/max_runtime`` tag; a real dagster-daemon's run monitoring ends it; workflow_executions
records WORKFLOW_TIMEOUT; the pool slot the hung step held is freed. Without a daemon, the
launcher waiting for the run ends it the same way."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from allixios import settings
from allixios.db.engine import connect
from allixios.testing.servers import stop_process, wait_for
from allixios_assets.launcher import Launcher, daemon_dequeues
from allixios_assets.recovery import mirror_runs

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
MAX_RUNTIME_S = 6
LOCATION = "allixios_timeout_test"


def _wait_for(predicate, timeout: float, what: str, daemon=None):
    def daemon_output() -> str:  # what the daemon said, for the failure message
        if daemon is None:
            return ""
        daemon.terminate()
        return daemon.communicate(timeout=30)[0][-3000:]

    return wait_for(predicate, timeout, what, interval_s=0.5, detail=daemon_output)


def _timeout_instance(tmp_path) -> tuple[Path, Path]:
    """The product's instance (DAGSTER_HOME) with the hanging job's own limit and short polls so the
    tests are quick, and a workspace with the hanging job's code location."""
    from allixios_assets.instance import prepare_dagster_home

    home = prepare_dagster_home(tmp_path / "dh")
    config = yaml.safe_load(settings.repo_path("dagster.yaml").read_text())
    config["run_launcher"]["config"]["max_runtime_seconds"]["jobs"]["hanging_job"] = MAX_RUNTIME_S
    config["run_monitoring"].update(poll_interval_seconds=1, free_slots_after_run_end_seconds=1)
    config["run_coordinator"]["config"] = {"dequeue_interval_seconds": 1}
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_module:\n      module_name: tests.timeout_defs\n      attribute: defs\n"
        f"      location_name: {LOCATION}\n      working_directory: {ROOT}\n")
    return home, workspace


def _assert_workflow_timeout(db, run_id: str) -> None:
    with connect(db) as conn:
        status, error = conn.execute("SELECT status::text, error_details FROM workflow_executions "
                                     "WHERE execution_id = %s", (run_id,)).fetchone()
    assert status == "failed"
    assert error["code"] == "WORKFLOW_TIMEOUT" and error["max_runtime_seconds"] == MAX_RUNTIME_S
    assert error["root_cause"]["type"] == "WORKFLOW_TIMEOUT"
    assert f"maximum run time of {MAX_RUNTIME_S} s" in error["root_cause"]["message"]


def test_hung_run_ends_with_workflow_timeout_and_frees_its_slot(db, tmp_path):
    home, workspace = _timeout_instance(tmp_path)

    env = {**os.environ, "DAGSTER_HOME": str(home), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    with dg.DagsterInstance.get() as instance:
        instance.wipe_daemon_heartbeats()  # an earlier test's daemon is gone
        daemon = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(workspace)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            # the launcher's code server starts while the daemon starts
            with Launcher(instance=instance, workspace_file=str(workspace), location_name=LOCATION) as launcher:
                _wait_for(lambda: daemon_dequeues(instance), 180, "the daemon's first heartbeat", daemon)
                run_id = launcher.launch("hanging_job")

                def holds_slot():
                    return run_id in instance.event_log_storage.get_concurrency_info("timeout_test").active_run_ids

                _wait_for(holds_slot, 180, "the hung step to hold its pool slot", daemon)
                run = instance.get_run_by_id(run_id)
                assert run.tags["dagster/max_runtime"] == str(MAX_RUNTIME_S)  # given at launch
                _wait_for(lambda: instance.get_run_by_id(run_id).is_finished, 120,
                          "run monitoring to end the hung run", daemon)
                # its slot is freed (by the interrupted step, or by run monitoring after the end)
                _wait_for(lambda: not holds_slot(), 60, "the pool slot to be freed", daemon)
                record = instance.get_run_record_by_id(run_id)
                took = record.end_time - record.start_time
                assert MAX_RUNTIME_S <= took < 120  # ended by the limit, long before the step's 300 s
        finally:
            stop_process(daemon, timeout_s=30)
        mirror_runs(instance, {run_id})  # what workflow_executions_sensor does on its next tick
    shutil.rmtree(home / "storage", ignore_errors=True)
    _assert_workflow_timeout(db, run_id)


def test_without_a_daemon_the_waiting_cli_ends_a_hung_run_at_its_max_runtime(db, tmp_path):
    """`make run` and CLI launches with the daemon stopped: the launcher's wait applies the limit."""
    home, workspace = _timeout_instance(tmp_path)
    with dg.DagsterInstance.get() as instance:
        instance.wipe_daemon_heartbeats()  # no daemon: the waiting launcher launches and watches the run
        with Launcher(instance=instance, workspace_file=str(workspace), location_name=LOCATION) as launcher:
            run_id = launcher.launch("hanging_job")
            status = launcher.wait(run_id, timeout=150)
        assert status == dg.DagsterRunStatus.FAILURE, status
        record = instance.get_run_record_by_id(run_id)
        assert MAX_RUNTIME_S <= record.end_time - record.start_time < 150  # the limit, not the step's 300 s
        mirror_runs(instance, {run_id})
    shutil.rmtree(home / "storage", ignore_errors=True)
    _assert_workflow_timeout(db, run_id)
