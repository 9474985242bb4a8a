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


TOPICS = [("Growing Tomatoes in Containers", "container tomatoes", 90),
          ("Companion Planting for Beginners", "companion planting", 80),
          ("Composting at Home Without the Smell", "composting at home", 70),
          ("Raised Bed Soil Mixes Compared", "raised bed soil", 60),
          ("Watering Schedules for Summer Heat", "watering schedule", 50),
          ("Mulching Vegetable Beds in Autumn", "mulching beds", 40)]


def _states(db) -> dict[str, dict]:
    with connect(db) as conn:
        return {r["id"]: r for r in fetch_dicts(
            conn, "SELECT id::text AS id, status::text AS status, workflow_state FROM articles")}


def test_workflow_state_follows_the_article_from_draft_to_revision(db, monkeypatch):
    """The seed's WorkflowState (current stage, completed stages, pending actions, last processed)
    kept by the database as the real pipeline drafts, scores, publishes or holds, and revises; shown by
    `allixios articles show` and the API."""
    from allixios.ai.client import LLMClient
    from allixios.ai.embeddings import get_embedder
    from allixios.content import pipeline
    from allixios.content.revision import revise_articles
    from allixios.content.topics import TopicInput, add_topics
    from allixios.tenants import add_niche, ensure_tenant

    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    day = "2026-11-05"
    with connect(db) as conn:
        tenant = ensure_tenant(conn, "acme")
        niche = add_niche(conn, tenant, "garden", "Home Gardening", ["raised beds"], daily_quota=len(TOPICS))
        add_topics(conn, niche, [TopicInput(t, (), k, p) for t, k, p in TOPICS])
    llm, embedder = LLMClient(database_url=db), get_embedder(database_url=db)
    with connect(db) as conn:
        part = pipeline.resolve_partition(conn, day, niche.partition_key)
        pipeline.select_topics(conn, part, embedder, llm=llm, research="never", run_id="test")
    with connect(db) as conn:
        pipeline.draft_articles(conn, part, llm, run_id="test")
    drafted = _states(db)
    assert drafted and all(r["workflow_state"]["current_stage"] == "draft" and r["workflow_state"]["completed_stages"] == []
                           and r["workflow_state"]["pending_actions"] == ["score"] for r in drafted.values())

    with connect(db) as conn:
        pipeline.score_partition(conn, part)
        pipeline.publish_partition(conn, part, run_id="test")
    decided = _states(db)
    held = [a for a, r in decided.items() if r["status"] == "needs_revision"]
    live = [a for a, r in decided.items() if r["status"] == "published"]
    assert held and live, "the offline writer's defects leave some articles held, others pass"
    for a in live:
        s = decided[a]["workflow_state"]
        assert (s["current_stage"], s["completed_stages"], s["pending_actions"]) == ("publish", ["draft", "score"], [])
    for a in held:
        s = decided[a]["workflow_state"]
        assert (s["current_stage"], s["completed_stages"], s["pending_actions"]) == ("hold", ["draft", "score"], ["revise"])
        assert s["last_processed_at"] >= drafted[a]["workflow_state"]["last_processed_at"]

    outcomes = revise_articles(llm, held, database_url=db, run_id="test-revise", publish_passing=True)
    revised = _states(db)
    for outcome in outcomes:
        if outcome.status != "revised":
            continue
        s = revised[outcome.article_id]["workflow_state"]
        assert s["completed_stages"][:5] == ["draft", "score", "hold", "revise", "score"], s
        assert s["current_stage"] == ("publish" if outcome.passed else "hold")
        assert s["pending_actions"] == ([] if outcome.passed else ["revise"])
    assert any(o.status == "revised" for o in outcomes), outcomes

    # the editor's view and the API's article carry it (plus the article's processing locks)
    from allixios.cli import main

    article = held[0]
    monkeypatch.setenv("ALLIXIOS_TENANT", "acme")
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["articles", "show", article, "--tenant", "acme", "--json"]) == 0
    shown = json.loads(out.getvalue())["workflow_state"]
    expected = revised[article]["workflow_state"]
    assert {k: shown[k] for k in ("current_stage", "completed_stages", "pending_actions")} == {
        k: expected[k] for k in ("current_stage", "completed_stages", "pending_actions")}
    assert shown["processing_locks"] == [] and shown["last_processed_at"]

    from allixios.api.app import create_app
    from allixios.identity.keys import create_key
    from allixios.identity.users import add_user
    from tests.api_support import ServerThread, client

    with connect(db) as conn:
        user = add_user(conn, tenant, "viewer@acme.example", role="viewer", name="Viewer", actor="test")
        _, secret = create_key(conn, tenant, str(user.id), name="viewer key", actor="test")
    with ServerThread(create_app(dispatch=False)) as server, client(server.url, secret) as http:
        body = http.get(f"/v1/articles/{article}").json()
    assert body["workflow_state"]["current_stage"] == expected["current_stage"]
    assert body["workflow_state"]["completed_stages"] == expected["completed_stages"]
