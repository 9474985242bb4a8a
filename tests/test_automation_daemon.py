"""A real Dagster daemon on PostgreSQL storage launches runs from a schedule tick and a sensor tick."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from allixios import settings
from allixios.db.engine import connect

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def test_daemon_launches_schedule_and_sensor_runs(db, sample_tenant, tmp_path):
    from allixios_assets.instance import prepare_dagster_home

    home = prepare_dagster_home(tmp_path / "dagster_home")
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_module:\n      module_name: tests.daemon_defs\n      attribute: defs\n"
        "      location_name: allixios_test\n      working_directory: " + str(ROOT) + "\n"
    )
    # a topic file in the landing folder: the intake sensor turns it into topics and a content run
    landing = settings.landing_dir("topics")
    shutil.rmtree(landing, ignore_errors=True)  # only this test's file: the sensor loads whatever is pending
    landing.mkdir(parents=True, exist_ok=True)
    (landing / "daemon.csv").write_text("niche,title,keyphrase\npersonal_finance,Paying Off Debt Faster,pay off debt\n")

    env = {**os.environ, "DAGSTER_HOME": str(home), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    daemon = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(workspace)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    found: dict[str, str] = {}
    out = ""
    try:
        with dg.DagsterInstance.get() as instance:
            deadline = time.monotonic() + 180  # a schedule tick needs the next minute boundary
            while time.monotonic() < deadline and len(found) < 2:
                for run in instance.get_runs(limit=50):
                    if run.tags.get("dagster/schedule_name") == "every_minute_maintenance_schedule":
                        found.setdefault("schedule", run.run_id)
                    if run.tags.get("dagster/sensor_name") == "topic_intake_sensor":
                        found.setdefault("sensor", run.run_id)
                time.sleep(2)
            if set(found) != {"schedule", "sensor"}:
                daemon.terminate()
                out = daemon.communicate(timeout=30)[0]
            assert set(found) == {"schedule", "sensor"}, f"runs launched: {found}\n{out[-3000:]}"
            sensor_run = instance.get_run_by_id(found["sensor"])
            assert sensor_run.job_name == "content_job"
            assert sensor_run.tags["dagster/partition/niche"] == "sample.personal_finance"
            # the launched runs really execute (the maintenance run is quick)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if instance.get_run_by_id(found["schedule"]).is_finished:
                    break
                time.sleep(2)
            assert instance.get_run_by_id(found["schedule"]).status == dg.DagsterRunStatus.SUCCESS
    finally:
        daemon.terminate()
        try:
            out, _ = daemon.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            out, _ = daemon.communicate()
        shutil.rmtree(tmp_path / "dagster_home" / "storage", ignore_errors=True)
    with connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM topics WHERE source = 'file'").fetchone()[0] == 1
    assert (landing / "processed" / "daemon.csv").exists(), out[-3000:]
