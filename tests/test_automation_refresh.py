"""Score-drop regeneration end to end: traffic shows a drop, the sensor fires, the refresh run
writes a new version (or keeps the live one and says why), and a second evaluation requests nothing.

Real content_job runs (offline writer through litellm), real ingestion, real dbt, real sensor.
"""

import json
import subprocess
import uuid
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from allixios.analytics.builds import latest_build_seq
from allixios.analytics.ingest import ingest_day
from allixios.analytics.simulator import simulate_traffic
from allixios.db.engine import connect, fetch_dicts
from allixios.tenants import active_partition_keys
from allixios_assets.partitions import content_partition_key
from resources.dbt import dbt_environment, dbt_executable, project_dir
from resources.warehouse import WarehouseResource
from sensors.score_drop import ScoreDropPolicy, score_drop_sensor
from tests.analytics_support import clean_analytics_slate

pytestmark = pytest.mark.slow

TODAY = datetime.now(UTC).date()
START = TODAY - timedelta(days=9)


def _dbt_build(tmp_path, start, end) -> None:
    target = tmp_path / f"target-{uuid.uuid4().hex[:6]}"
    done = subprocess.run(
        [dbt_executable(), "build", "--project-dir", str(project_dir()), "--profiles-dir", str(project_dir()),
         "--target-path", str(target), "--log-path", str(target),
         "--vars", json.dumps({"start_date": start.isoformat(), "end_date": end.isoformat()})],
        env=dbt_environment(), capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:]


def _sensor(instance, cursor=None):
    ctx = dg.build_sensor_context(
        instance=instance, cursor=cursor,
        resources={"warehouse": WarehouseResource(), "score_drop_policy": ScoreDropPolicy()},
    )
    return ctx, score_drop_sensor(ctx)


@pytest.fixture(scope="module")
def decayed_world(database_url, tmp_path_factory):
    """Published articles (two weeks old), 10 days of traffic with drops, marts built up to a drop day."""
    from allixios.sample import seed_sample
    from allixios_assets.definitions import defs

    clean_analytics_slate(database_url)
    with connect(database_url) as conn:
        seed_sample(conn)
        keys = active_partition_keys(conn)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("niche", keys)
    job = defs.resolve_job_def("content_job")
    for key in keys:
        assert job.execute_in_process(partition_key=content_partition_key(START.isoformat(), key), instance=instance).success
    with connect(database_url) as conn:
        # the articles went live before the traffic window opens
        conn.execute("UPDATE articles SET published_at = %s WHERE status = 'published'",
                     (datetime(START.year, START.month, START.day, tzinfo=UTC) - timedelta(days=5),))
        sim = simulate_traffic(conn, days=10, events_per_day=3000, start=START, seed=11)
    assert sim["drop_articles"], "the simulator should make at least one article decay"
    drop = min(sim["drop_articles"], key=lambda d: d["drop_day"])
    drop_day = datetime.fromisoformat(drop["drop_day"]).date()
    for offset in range((drop_day - START).days + 1):
        with connect(database_url) as conn:
            ingest_day(conn, START + timedelta(days=offset))
    _dbt_build(tmp_path_factory.mktemp("dbt"), START, drop_day)
    return {"instance": instance, "drop": drop, "drop_day": drop_day, "defs": defs}


def test_sensor_requests_refresh_for_the_decaying_article_once(decayed_world, database_url):
    instance, drop = decayed_world["instance"], decayed_world["drop"]
    ctx, requests = _sensor(instance)
    assert isinstance(requests, list) and requests, requests
    listed = {a for r in requests for a in r.run_config["ops"]["refresh_articles"]["config"]["article_ids"]}
    assert drop["article_id"] in listed
    request = next(r for r in requests if drop["article_id"] in r.run_config["ops"]["refresh_articles"]["config"]["article_ids"])
    # the key names the day and the build of the marts it was evaluated on (a rebuilt day may ask again)
    assert request.run_key == (f"score_drop:{decayed_world['drop_day']}:{request.tags['allixios/niche']}"
                               f":b{request.tags['allixios/health_build']}")
    reason = json.loads(request.tags["allixios/reason"])[drop["article_id"]]
    assert "composite" in reason and "engagement" in reason
    with connect(database_url) as conn:
        assert ctx.cursor == str(latest_build_seq(conn))  # the newest build evaluated

    # the same builds again: the cursor says they were evaluated
    _, again = _sensor(instance, cursor=ctx.cursor)
    assert isinstance(again, dg.SkipReason)
    # even without the cursor, the cooldown keeps the same articles out
    _, fresh = _sensor(instance)
    listed_again = {a for r in (fresh if isinstance(fresh, list) else [])
                    for a in r.run_config["ops"]["refresh_articles"]["config"]["article_ids"]}
    assert drop["article_id"] not in listed_again

    # the refresh run regenerates exactly the listed articles
    job = decayed_world["defs"].resolve_job_def("article_refresh_job")
    with connect(database_url) as conn:
        before = {str(r["id"]): r for r in fetch_dicts(conn, "SELECT id, version_number, status::text, content FROM articles")}
    result = job.execute_in_process(run_config=request.run_config, instance=instance, tags=request.tags)
    assert result.success
    ids = request.run_config["ops"]["refresh_articles"]["config"]["article_ids"]
    with connect(database_url) as conn:
        after = {str(r["id"]): r for r in fetch_dicts(
            conn, "SELECT id, version_number, status::text, content, workflow_state FROM articles")}
        outcomes = dict(conn.execute(
            "SELECT article_id::text, outcome FROM refresh_requests WHERE run_key = %s", (request.run_key,)).fetchall())
        versions = fetch_dicts(conn, "SELECT article_id::text, reason FROM article_versions WHERE run_id = %s",
                               (result.run_id,))
    for article_id in ids:
        outcome = outcomes[article_id]
        assert outcome.startswith(("revised", "kept_live")), outcome
        if outcome.startswith("revised"):
            assert after[article_id]["version_number"] > before[article_id]["version_number"]
            assert {"refresh"} <= {v["reason"] for v in versions if v["article_id"] == article_id}
        else:  # the live version stays, with the reason recorded
            assert after[article_id]["content"] == before[article_id]["content"]
            assert after[article_id]["status"] == "published"
            assert "kept live" in after[article_id]["workflow_state"]["refresh"]["detail"]
    untouched = set(before) - set(ids)
    assert all(after[a]["version_number"] == before[a]["version_number"] for a in untouched)
    assert all(v["article_id"] in ids for v in versions)

    # the run tracking sensor carries the reason into workflow_executions
    from sensors.run_tracking import workflow_executions_sensor

    workflow_executions_sensor(dg.build_sensor_context(instance=instance, resources={"warehouse": WarehouseResource()}))
    with connect(database_url) as conn:
        tags = conn.execute("SELECT tags FROM workflow_executions WHERE execution_id = %s", (result.run_id,)).fetchone()[0]
    assert drop["article_id"] in tags["allixios/reason"] or drop["article_id"] not in ids

    # re-running the same refresh is idempotent: no new versions, no new paid calls
    with connect(database_url) as conn:
        usage_before = conn.execute("SELECT count(*), sum(cost_usd) FROM ai_usage").fetchone()
        versions_before = conn.execute("SELECT count(*) FROM article_versions").fetchone()[0]
    assert job.execute_in_process(run_config=request.run_config, instance=instance).success
    with connect(database_url) as conn:
        assert conn.execute("SELECT count(*), sum(cost_usd) FROM ai_usage").fetchone() == usage_before
        assert conn.execute("SELECT count(*) FROM article_versions").fetchone()[0] == versions_before


def test_locked_and_budget_exhausted_are_left_out(decayed_world, database_url):
    from allixios.automation.score_drop import DropPolicy, due_for_refresh

    day = decayed_world["drop_day"]
    policy = DropPolicy(cooldown_days=0, drop_pct=1.0, floor=100.0)  # everything is due
    with connect(database_url) as conn:
        due = due_for_refresh(conn, day, policy)
        assert due
        victim = due[0]["article_id"]
        conn.execute("INSERT INTO edit_locks (article_id, tenant_id, locked_by, expires_at) "
                     "SELECT id, tenant_id, 'ed', now() + interval '1 hour' FROM articles WHERE id = %s", (victim,))
        assert victim not in {r["article_id"] for r in due_for_refresh(conn, day, policy)}
        conn.execute("DELETE FROM edit_locks")
        tenant = due[0]["tenant_id"]
        conn.execute("INSERT INTO ai_budgets (tenant_id, period, limit_usd) VALUES (%s, 'daily', 0)", (tenant,))
        conn.execute(
            """INSERT INTO ai_usage (tenant_id, task, model, deployment_id, provider, request_id, cost_usd, status)
               VALUES (%s, 'writer', 'm', 'd', 'p', 'budget-test', 0.01, 'success')""", (tenant,))
        assert not [r for r in due_for_refresh(conn, day, policy) if r["tenant_id"] == tenant]
        conn.execute("DELETE FROM ai_budgets")
        conn.execute("UPDATE articles SET deleted_at = now() WHERE id = %s", (victim,))
        assert victim not in {r["article_id"] for r in due_for_refresh(conn, day, policy)}
        conn.execute("UPDATE articles SET deleted_at = NULL WHERE id = %s", (victim,))
