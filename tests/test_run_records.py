"""Run records (issue 18): workflow_executions carries the run's peak memory, a summary of what it
produced (output_data) and the root cause of a failure, scrubbed of secrets; the maximum run time
each run is launched with comes from dagster.yaml."""

from __future__ import annotations

import json

import dagster as dg
import yaml

from allixios import settings
from allixios.db.engine import connect, fetch_dicts
from allixios_assets.run_launcher import DEFAULT_MAX_RUNTIME_S, max_runtime_for
from allixios_assets.run_meter import RUN_METER_HOOKS
from resources.warehouse import WarehouseResource
from sensors.run_tracking import workflow_executions_sensor

SECRET = "sk-live-7f3a9c2e5b8d41aa"


def test_memory_output_and_scrubbed_root_cause(db, sample_tenant, monkeypatch):
    monkeypatch.setenv("ALLIXIOS_TEST_PROVIDER_KEY", SECRET)

    @dg.asset
    def drafted(warehouse: WarehouseResource) -> dg.MaterializeResult:
        with warehouse.connection() as conn:
            conn.execute("SELECT 1")
        return dg.MaterializeResult(metadata={"drafts": 3, "cost_usd": 0.125, "model": f"uses {SECRET}",
                                              "passed": True})

    @dg.asset_check(asset=drafted)
    def drafted_long_enough() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    @dg.asset
    def exploding(warehouse: WarehouseResource) -> None:
        try:
            try:
                raise ConnectionError(f"provider refused key {SECRET} (Bearer {SECRET})")
            except ConnectionError as inner:
                raise ValueError("could not draft") from inner
        except ValueError as outer:
            raise RuntimeError("step gave up") from outer

    # the hooks the code location puts on every asset (allixios_assets.run_meter.with_run_meter)
    drafted, exploding = drafted.with_hooks(RUN_METER_HOOKS), exploding.with_hooks(RUN_METER_HOOKS)
    resources = {"warehouse": WarehouseResource()}
    with dg.instance_for_test() as instance:
        good = dg.materialize([drafted, drafted_long_enough], instance=instance, resources=resources,
                              tags={"allixios/tenant": "sample"})
        bad = dg.materialize([exploding], instance=instance, resources=resources, raise_on_error=False,
                             tags={"allixios/tenant": "sample"})
        workflow_executions_sensor(dg.build_sensor_context(instance=instance, resources=resources))
    with connect(db) as conn:
        rows = {r["execution_id"]: r for r in fetch_dicts(
            conn, "SELECT execution_id, status::text AS status, memory_used_mb, output_data, error_details "
                  "FROM workflow_executions")}
    ok, failed = rows[good.run_id], rows[bad.run_id]
    assert ok["status"] == "completed" and failed["status"] == "failed"
    # the run worker's (here: this process's) peak resident memory, reported as the run ended
    assert ok["memory_used_mb"] > 10 and failed["memory_used_mb"] > 10
    assert ok["output_data"] == {
        "assets": {"drafted": {"materializations": 1, "metadata": {"drafts": 3, "cost_usd": 0.125}}},
        "asset_checks": {"passed": 1, "failed": 0}, "steps": {"succeeded": 2, "failed": 0}}  # the check is a step
    assert failed["output_data"]["steps"] == {"succeeded": 0, "failed": 1}
    error = failed["error_details"]
    assert error["code"] == "WORKFLOW_FAILED"
    root = error["root_cause"]
    assert root["step"] == "exploding" and root["type"] == "ConnectionError"
    assert root["message"].startswith("provider refused key [REDACTED]")
    assert error["steps"][0]["error_class"] == "ConnectionError"
    stored = json.dumps([ok, failed], default=str)
    assert SECRET not in stored and SECRET[-10:] not in stored  # nor a tail of it


def test_every_job_gets_a_max_runtime_from_dagster_yaml():
    config = yaml.safe_load(settings.repo_path("dagster.yaml").read_text())["run_launcher"]["config"]
    limits = config["max_runtime_seconds"]
    from allixios_assets.definitions import defs

    names = {job.name for job in defs.jobs}
    assert names <= set(limits["jobs"]), f"jobs without their own maximum run time: {names - set(limits['jobs'])}"
    assert all(max_runtime_for(name, limits) > 0 for name in names)
    assert max_runtime_for("__ASSET_JOB", limits) == limits["default"]
    assert max_runtime_for("anything", None) == DEFAULT_MAX_RUNTIME_S


def test_every_asset_of_the_code_location_reports_memory():
    from allixios_assets.definitions import defs

    executable = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.is_executable]
    assert executable and all(RUN_METER_HOOKS <= set(a.hook_defs) for a in executable)
    defs.resolve_job_def("content_job")  # the location still resolves
