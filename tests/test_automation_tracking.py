"""Run tracking, failure alerts (over real HTTP to a local webhook) and topic intake."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest

from allixios import settings
from allixios.automation.alerts import send_alert
from allixios.automation.intake import archive, ingest_topic_file, pending_files
from allixios.db.engine import connect
from resources.warehouse import WarehouseResource
from sensors.run_tracking import workflow_executions_sensor


class _Webhook:
    def __init__(self, status: int = 200):
        self.posts: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.posts.append(json.loads(body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def test_alert_posted_once_and_delivery_failure_is_recorded(db):
    hook = _Webhook()
    broken = _Webhook(status=500)
    try:
        with connect(db) as conn:
            assert send_alert(conn, "run-1", "content_job", "boom", webhook_url=hook.url)
            assert not send_alert(conn, "run-1", "content_job", "boom", webhook_url=hook.url)  # once per run
            assert send_alert(conn, "run-2", "content_job", "boom", webhook_url=broken.url)
            assert send_alert(conn, "run-3", "content_job", "boom", webhook_url="http://127.0.0.1:9/nowhere")
            rows = conn.execute("SELECT run_id, delivered, delivery_error IS NOT NULL FROM alerts ORDER BY run_id").fetchall()
        assert hook.posts == [{"text": "boom"}]
        assert rows == [("run-1", True, False), ("run-2", False, True), ("run-3", False, True)]
    finally:
        hook.close()
        broken.close()


def test_workflow_executions_follow_runs(db, sample_tenant):
    @dg.asset
    def ok_asset() -> int:
        return 1

    @dg.asset
    def failing_asset() -> int:
        raise RuntimeError("provider exploded")

    with dg.instance_for_test() as instance:
        good = dg.materialize([ok_asset], instance=instance, tags={"allixios/tenant": "sample"})
        bad = dg.materialize([failing_asset], instance=instance, raise_on_error=False)
        with connect(db) as conn:
            conn.execute(
                """INSERT INTO ai_usage (tenant_id, run_id, task, model, deployment_id, provider, request_id,
                                         tokens_in, tokens_out, cost_usd, status)
                   VALUES (%s, %s, 'writer', 'offline/writer', 'offline-writer', 'offline', 'r1', 100, 50, 0.25, 'success')""",
                (sample_tenant.id, good.run_id),
            )
        ctx = dg.build_sensor_context(instance=instance, resources={"warehouse": WarehouseResource()})
        workflow_executions_sensor(ctx)
        cursor = ctx.cursor
        assert cursor
        # a second tick with the same cursor finds nothing new
        again = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"warehouse": WarehouseResource()})
        assert isinstance(workflow_executions_sensor(again), dg.SkipReason)
    with connect(db) as conn:
        rows = {
            r[0]: r[1:]
            for r in conn.execute(
                """SELECT execution_id, status::text, progress_percentage, tokens_used, cost_usd::float,
                          error_details IS NOT NULL, tenant_id IS NOT NULL, duration_ms IS NOT NULL
                   FROM workflow_executions"""
            ).fetchall()
        }
    assert rows[good.run_id] == ("completed", 100, 150, 0.25, False, True, True)
    assert rows[bad.run_id][0] == "failed" and rows[bad.run_id][4] is True


def _drop(name: str, text: str) -> Path:
    folder = settings.landing_dir("topics")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_topic_intake_once_per_file_and_bad_files_moved_aside(db, sample_tenant):
    good = _drop("batch1.csv", "tenant,niche,title,keyphrase,keywords,priority\n"
                 "sample,personal_finance,Saving for a House Deposit,house deposit,saving;mortgage,70\n"
                 "sample,pet_care,Training a Rescue Dog,rescue dog,,60\n")
    bad = _drop("broken.json", '{"topics": [{"niche": "pet_care", "title": ""}]}')
    same_again = _drop("batch1-copy.csv", good.read_text())
    outcomes = {}
    with connect(db) as conn:
        for path in pending_files(settings.landing_dir("topics")):
            outcomes[path.name] = ingest_topic_file(conn, path)
            archive(path, outcomes[path.name])
    loaded = [o for o in outcomes.values() if o.status == "loaded"]
    assert len(loaded) == 1 and loaded[0].topics_added == 2
    assert loaded[0].new_niche_keys == ["sample.pet_care"]
    assert sorted(o.status for o in outcomes.values()) == ["duplicate", "loaded", "rejected"]
    assert outcomes["broken.json"].status == "rejected" and "title is empty" in outcomes["broken.json"].error
    reason = settings.landing_dir("topics") / "rejected" / "broken.json.reason.txt"
    assert "fix:" in reason.read_text()
    assert not pending_files(settings.landing_dir("topics"))
    with connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM topics WHERE source = 'file'").fetchone()[0] == 2
        assert conn.execute("SELECT count(*) FROM niches WHERE slug = 'pet_care'").fetchone()[0] == 1
    processed = settings.landing_dir("topics") / "processed"
    assert (processed / good.name).exists() and (processed / same_again.name).exists()
    assert (settings.landing_dir("topics") / "rejected" / bad.name).exists()


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("a.csv", "title\nNo niche column\n", "needs a header"),
        ("b.json", "{not json", "not valid JSON"),
        ("c.csv", "niche,title,priority\npersonal_finance,Fine title,high\n", "not a number"),
        ("d.csv", "tenant,niche,title\nghost,pets,Title\n", "tenant 'ghost' is not this file's tenant 'sample'"),
        ("e.csv", "niche,title\npersonal_finance,A Fine New Title\n", None),
    ],
)
def test_topic_intake_rejections(db, sample_tenant, name, text, expected, tmp_path):
    path = tmp_path / name  # not the landing folder: nothing here archives it, and a daemon would load it
    path.write_text(text)
    with connect(db) as conn:
        outcome = ingest_topic_file(conn, path)
    if expected is None:
        assert outcome.status == "loaded"
    else:
        assert outcome.status == "rejected" and expected in outcome.error
        with connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM topics WHERE source = 'file'").fetchone()[0] == 0


def test_topics_import_cli(db, sample_tenant, tmp_path):
    from allixios.cli import main

    good = tmp_path / "t.json"
    good.write_text('[{"niche": "remote_work", "title": "Running Better Video Meetings", "priority": 90}]')
    bad = tmp_path / "b.csv"
    bad.write_text("title\nno niche\n")
    assert main(["topics", "import", str(good)]) == 0
    assert main(["topics", "import", str(good)]) == 0  # same content: nothing added
    assert main(["topics", "import", str(bad)]) == 2
    with connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM topics WHERE title = 'Running Better Video Meetings'").fetchone()[0] == 1
