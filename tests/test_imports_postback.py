"""The affiliate postback endpoint over real HTTP (uvicorn on a free port): a postback is appended
durably to the credential tenant's affiliate landing folder and loads with `allixios ingest
affiliate` under the same contract (validation, rates, reversals, duplicates, reconciliation)."""

from __future__ import annotations

import pytest

from allixios.analytics.imports import import_kind, tenant_folder
from allixios.db.engine import connect
from tests.api_support import ServerThread, client, make_world, truncate


@pytest.fixture
def api(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("ALLIXIOS_HOME", str(tmp_path / "home"))
    truncate(database_url)
    a = make_world(database_url, "alpha")
    b = make_world(database_url, "beta")
    from allixios.api.app import create_app

    with ServerThread(create_app(dispatch=False)) as server:
        yield server, a, b


def test_postbacks_land_for_the_credentials_tenant_and_load_with_the_import(api):
    server, a, b = api
    sale = {"order_id": "N-1", "status": "confirmed", "commission": 7.5, "currency": "USD", "date": "2026-11-20",
            "article_id": a.article_id, "network": "impact"}
    with client(server.url, a.keys["owner"]) as c:
        r = c.post("/v1/affiliate/postback", json=sale)
        assert r.status_code == 202, r.text
        assert r.json()["landed_in"] == "affiliate/alpha/postback_2026-11-20.jsonl"
        assert c.post("/v1/affiliate/postback", json=sale).status_code == 202  # the network retries
        reversal = {"order_id": "N-1", "status": "reversed", "date": "2026-11-20"}
        assert c.post("/v1/affiliate/postback", json=reversal).status_code == 202
        orphan = {"order_id": "N-404", "status": "reversed", "date": "2026-11-20"}
        assert c.post("/v1/affiliate/postback", json=orphan).status_code == 202
        bad = c.post("/v1/affiliate/postback", json={"order_id": "", "status": "approved"})
        assert bad.status_code == 422
    with client(server.url, a.keys["writer"]) as c:  # no analytics:write
        r = c.post("/v1/affiliate/postback", json=sale)
        assert r.status_code == 403 and r.json()["code"] == "AUTHORIZATION_ERROR"
    with client(server.url, b.keys["admin"]) as c:  # beta's credential lands in beta's folder only
        assert c.post("/v1/affiliate/postback", json=dict(sale, article_id=None)).json()["landed_in"].startswith(
            "affiliate/beta/")
    assert tenant_folder("affiliate", "alpha").joinpath("postback_2026-11-20.jsonl").read_text().count("\n") == 4
    with connect() as conn:
        summary = import_kind(conn, "affiliate")
    alpha = summary["tenants"]["alpha"]
    assert (alpha["rows_read"], alpha["rows_loaded"], alpha["rows_duplicate"], alpha["rows_rejected"]) == (4, 2, 1, 1)
    with connect() as conn:
        rows = conn.execute("""SELECT t.slug, o.entry, o.status, o.commission::float8, o.article_id::text
                               FROM raw.affiliate_orders o JOIN tenants t ON t.id = o.tenant_id
                               ORDER BY t.slug, o.entry DESC""").fetchall()
    assert rows == [("alpha", "sale", "approved", 7.5, a.article_id), ("alpha", "reversal", "reversed", -7.5, a.article_id),
                    ("beta", "sale", "approved", 7.5, None)]
