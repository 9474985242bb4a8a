"""mart_ai_cost_roi accounts for the whole AI ledger (issue 11): research and embedding spend that
pays for no article shows as explicit unattributed lines, a topic's research counts for its
article, and the ROI total per tenant equals the tenant's ai_usage total — the
dbt test assert_ai_cost_roi_equals_ledger checks it on every build."""

from __future__ import annotations

import subprocess
import uuid
from datetime import date
from decimal import Decimal

import pytest

from allixios.db.engine import connect
from resources.dbt import dbt_environment, dbt_executable, project_dir
from tests.analytics_support import drop_dbt_relations, tenant_with_articles

pytestmark = pytest.mark.slow


def _usage(conn, tenant, task, model, cost, article=None, topic=None) -> None:
    conn.execute(
        """INSERT INTO ai_usage (tenant_id, article_id, topic_id, task, model, deployment_id, provider, request_id,
                                 cost_usd, status)
           VALUES (%s, %s, %s, %s, %s, 'd1', 'offline', %s, %s, 'success')""",
        (tenant.id, article, topic, task, model, uuid.uuid4().hex, cost),
    )


def test_roi_totals_equal_the_ledger_with_unattributed_lines(db, tmp_path):
    with connect(db) as conn:
        drop_dbt_relations(conn)
        shop, articles = tenant_with_articles(conn, "shop", 3, date(2026, 11, 1))
        other, other_articles = tenant_with_articles(conn, "other", 1, date(2026, 11, 1))
        topic = conn.execute("INSERT INTO topics (tenant_id, niche_id, title) VALUES (%s, %s, 'T') RETURNING id",
                             (shop.id, articles[0]["niche_id"])).fetchone()[0]
        conn.execute("UPDATE articles SET topic_id = %s WHERE id = %s", (topic, articles[0]["id"]))
        _usage(conn, shop, "writer", "offline/writer-large", Decimal("0.40"), article=articles[0]["id"])
        _usage(conn, shop, "writer", "offline/writer-large", Decimal("0.30"), article=articles[1]["id"])
        _usage(conn, shop, "researcher", "offline/researcher", Decimal("0.25"), topic=topic)
        _usage(conn, shop, "researcher", "offline/researcher", Decimal("0.05"))  # niche research: no topic
        _usage(conn, shop, "embedder", "offline/embedder", Decimal("0.002"))  # an embedding batch
        _usage(conn, other, "writer", "offline/writer-small", Decimal("0.10"), article=other_articles[0]["id"])
        _usage(conn, other, "embedder", "offline/embedder", Decimal("0.001"))

    target = tmp_path / "target"
    done = subprocess.run(
        [dbt_executable(), "build", "--project-dir", str(project_dir()), "--profiles-dir", str(project_dir()),
         "--target-path", str(target), "--log-path", str(target), "--select", "+mart_ai_cost_roi", "--indirect-selection", "cautious"],
        env=dbt_environment(), capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    assert "assert_ai_cost_roi_equals_ledger" in done.stdout  # the conservation test ran and passed

    with connect(db) as conn:
        totals = dict(conn.execute(
            """SELECT t.slug, (SELECT sum(r.generation_cost_usd) FROM marts.mart_ai_cost_roi r
                               WHERE r.tenant_id = t.id AND r.ledger_cost_usd > 0)
               FROM tenants t""").fetchall())
        ledger = dict(conn.execute(
            "SELECT t.slug, sum(u.cost_usd) FROM ai_usage u JOIN tenants t ON t.id = u.tenant_id GROUP BY 1"
        ).fetchall())
        unattributed = conn.execute(
            """SELECT t.slug, r.task, r.model, r.generation_cost_usd FROM marts.mart_ai_cost_roi r
               JOIN tenants t ON t.id = r.tenant_id WHERE r.cost_line = 'unattributed' ORDER BY 1, 2""").fetchall()
        articles_counted = conn.execute("SELECT count(article_id) FROM marts.mart_ai_cost_roi").fetchone()[0]
    assert totals == ledger  # every dollar of the ledger, none twice
    assert [(s, t, m, float(c)) for s, t, m, c in unattributed] == [
        ("other", "embedder", "offline/embedder", 0.001),
        ("shop", "embedder", "offline/embedder", 0.002),
        ("shop", "researcher", "offline/researcher", 0.05),
    ]
    assert articles_counted == 4
