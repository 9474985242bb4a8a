"""Content requests become real Dagster runs launched through the code location; completion sends a
signed callback; cancel returns unstarted topics to the backlog."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from allixios.db.engine import connect
from tests.api_support import ServerThread, client, make_world, truncate

pytestmark = pytest.mark.slow
SECRET = "callback-secret-0123456789"


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(503 if len(self.received) == 1 else 204)  # the first attempt fails: retried
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def world(database_url, tmp_path, monkeypatch):
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    truncate(database_url)
    a = make_world(database_url, "alpha")
    from allixios_assets.instance import prepare_dagster_home
    from allixios_assets.launcher import Launcher
    from allixios_assets.partitions import sync_niche_partitions

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    prepare_dagster_home(tmp_path / "dagster_home")
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    _Receiver.received = []
    with dg.DagsterInstance.get() as instance, Launcher(instance=instance) as launcher:
        sync_niche_partitions(instance, ["alpha.finance"])
        from allixios.api.app import create_app
        from allixios.api.dispatch import Dispatcher
        from allixios.api.runs import DagsterLauncher

        runs = DagsterLauncher(launcher)
        with ServerThread(create_app(launcher=runs, dispatch=False)) as server:
            yield server, a, Dispatcher(runs), launcher, receiver.server_port
    receiver.shutdown()


def test_request_runs_in_dagster_and_calls_back_signed(world):
    server, a, dispatcher, launcher, port = world
    with client(server.url, a.keys["editor"]) as c:
        r = c.post("/v1/content-requests", json={
            "niche": "finance", "priority": 95, "topics": [{"title": "Sinking funds explained", "keyphrase": "sinking funds"}],
            "callback": {"url": f"http://127.0.0.1:{port}/hook", "secret": SECRET}})
        assert r.status_code == 202, r.text
        rid = r.json()["execution_plan"]["id"]
        assert c.get(f"/v1/executions/{rid}").json()["status"] == "scheduled"
        assert dispatcher.tick() == 1
        state = c.get(f"/v1/executions/{rid}").json()
        [run] = state["runs"]
        dagster_run = launcher.instance.get_run_by_id(run["run_id"])
        assert dagster_run.remote_job_origin is not None  # launched through the code location: re-executable
        assert dagster_run.tags["allixios/content_request"] == rid and dagster_run.tags["dagster/priority"] == "95"
        assert launcher.wait(run["run_id"], timeout=600) == dg.DagsterRunStatus.SUCCESS
        dispatcher.tick()
        done = c.get(f"/v1/executions/{rid}").json()
        assert done["status"] == "completed" and done["progress_percent"] == 100, done
        assert done["tokens"] > 0 and done["topics"][0]["article_id"]
        article = c.get(f"/v1/articles/{done['topics'][0]['article_id']}").json()
        assert article["ai_generated"] and len(article["content"]) > 500
        assert done["callback"].startswith("delivered (attempt 2)")
        assert c.post(f"/v1/executions/{rid}/cancel").status_code == 409
    headers, body = _Receiver.received[-1]
    t, v1 = (p.split("=", 1)[1] for p in headers["Allixios-Signature"].split(","))
    assert hmac.compare_digest(v1, hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest())
    assert json.loads(body)["execution"]["id"] == rid and SECRET not in body.decode()
    with connect() as conn:
        stored = conn.execute("SELECT callback_secret_enc FROM content_requests WHERE id = %s", (rid,)).fetchone()[0]
    assert SECRET.encode() not in bytes(stored)


def test_cancel_returns_unstarted_topics_to_the_backlog(world):
    server, a, dispatcher, launcher, _ = world
    with client(server.url, a.keys["editor"]) as c:
        rid = c.post("/v1/content-requests", json={"niche": "finance", "topics": [{"title": "Cancelled topic"}]}
                     ).json()["execution_plan"]["id"]
        cancelled = c.post(f"/v1/executions/{rid}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert dispatcher.tick() == 0  # nothing left to launch
    with connect() as conn:
        assert conn.execute("SELECT status, priority FROM topics WHERE title = 'Cancelled topic'").fetchone() == (
            "pending", 50)
        actors = conn.execute("SELECT actor FROM audit_log WHERE action = 'content_request.cancel'").fetchall()
    assert actors == [(f"user:{a.users['editor']}",)]
