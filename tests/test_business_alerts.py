"""Business alerts over real HTTP (a local Slack-compatible webhook) and real SMTP (aiosmtpd):
each kind is stored and delivered once per window, quiet hours hold non-critical alerts, and a
down channel is retried without repeating the other.
"""

from __future__ import annotations

import email
import socket
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from aiosmtpd.controller import Controller

from allixios.ai.budgets import set_budget
from allixios.automation.business_alerts import Channels, asset_link, deliver, detect, raise_alerts
from allixios.db.engine import connect, fetch_dicts
from allixios.tenants import ensure_tenant, update_tenant_settings
from resources.warehouse import WarehouseResource
from tests.http_fakes import FakeHTTP


class _Inbox:
    def __init__(self):
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def channels():
    hook = FakeHTTP(respond=lambda _r: (200, {"ok": True})).start()
    inbox = _Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    try:
        yield Channels(webhook_url=hook.url + "/hook", smtp_host="127.0.0.1", smtp_port=smtp.port,
                       email_from="alerts@allixios.test", email_to=("ops@acme.test",)), hook, inbox
    finally:
        smtp.stop()
        hook.stop()


@pytest.fixture
def situations(db):
    """A tenant at 85 % of its daily budget, an open AI circuit and a publication failing 3 times."""
    with connect(db) as conn:
        tenant = ensure_tenant(conn, "acme")
        set_budget(conn, tenant.id, daily_usd=10.0)
        conn.execute("""INSERT INTO ai_spend (tenant_id, period, period_start, spent_usd)
                        VALUES (%s, 'daily', (now() AT TIME ZONE 'UTC')::date, 8.5)""", (tenant.id,))
        conn.execute("""INSERT INTO circuit_breakers (deployment_id, state, consecutive_failures, opened_at, last_error_class)
                        VALUES ('openai/gpt-4o-mini', 'open', 5, now(), 'RateLimitError')""")
        target = conn.execute("""INSERT INTO publishing_targets (tenant_id, name, kind) VALUES (%s, 'blog', 'cdn')
                                 RETURNING id""", (tenant.id,)).fetchone()[0]
        conn.execute("""INSERT INTO publications (tenant_id, target_id, action, attempts, last_error)
                        VALUES (%s, %s, 'purge', 3, 'HTTP 503 from the purge API')""", (tenant.id, target))
    return tenant


def _kinds(conn) -> dict[str, int]:
    return dict(conn.execute("SELECT kind, count(*) FROM business_alerts GROUP BY kind").fetchall())


def test_each_kind_is_delivered_once_per_window_over_http_and_smtp(situations, channels, db):
    chans, hook, inbox = channels
    for _ in range(2):  # two ticks: the same conditions alert once
        with connect(db) as conn:
            raise_alerts(conn, detect(conn))
        with connect(db) as conn:
            deliver(conn, chans)
    with connect(db) as conn:
        assert _kinds(conn) == {"budget": 1, "circuit_open": 1, "publication_failing": 1}
        alerts = fetch_dicts(conn, "SELECT * FROM business_alerts ORDER BY id")
    assert all(a["webhook_delivered_at"] and a["email_delivered_at"] for a in alerts)
    assert len(hook.requests) == 3 and len(inbox.messages) == 3
    posted = [r.json() for r in hook.requests]
    assert all(p["text"] and p["blocks"][0]["text"]["text"] == p["text"] for p in posted)  # Slack-compatible
    budget = next(p["text"] for p in posted if "budget" in p["text"])
    assert "85 %" in budget and f"<{asset_link('article_drafts')}|open asset>" in budget
    mail = next(m for m in inbox.messages if "circuit" in m["Subject"])
    assert mail["To"] == "ops@acme.test" and asset_link("article_drafts") in mail.get_payload()

    # crossing 100 % is a new alert (critical) in the same window; 80 % is not repeated
    with connect(db) as conn:
        conn.execute("UPDATE ai_spend SET spent_usd = 10.2 WHERE tenant_id = %s", (situations.id,))
        raise_alerts(conn, detect(conn))
        deliver(conn, chans)
        subjects = [r[0] for r in conn.execute("SELECT subject FROM business_alerts WHERE kind = 'budget' ORDER BY id")]
    assert subjects == ["daily:80", "daily:100"]
    assert len(hook.requests) == 4 and "refused" in hook.requests[-1].json()["text"]


def test_quiet_hours_hold_non_critical_alerts_and_a_down_channel_is_retried(situations, channels, db):
    chans, hook, inbox = channels
    now = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    with connect(db) as conn:
        update_tenant_settings(conn, "acme", {"alert_quiet_hours": "22:00-07:00", "alert_timezone": "UTC"})
        raise_alerts(conn, detect(conn))
        held = deliver(conn, chans, now=now)
    # the circuit (no tenant, critical) goes out; the tenant's budget and publication alerts wait
    assert held["held_quiet_hours"] == 2 and len(hook.requests) == 1 and "circuit" in hook.requests[0].json()["text"]

    broken = Channels(webhook_url="http://127.0.0.1:9/nowhere", smtp_host=chans.smtp_host, smtp_port=chans.smtp_port,
                      email_from=chans.email_from, email_to=chans.email_to)
    with connect(db) as conn:
        sent = deliver(conn, broken, now=now + timedelta(hours=8))  # after the quiet hours, webhook down
        errors = [r[0] for r in conn.execute("SELECT delivery_error FROM business_alerts WHERE delivery_error IS NOT NULL")]
    assert sent["email"] == 2 and sent["failed"] == 2 and all("webhook" in e for e in errors)
    with connect(db) as conn:
        again = deliver(conn, chans, now=now + timedelta(hours=9))
    # the webhook gets them now; e-mail is not sent twice
    assert again["webhook"] == 2 and again["email"] == 0 and len(inbox.messages) == 3


def test_the_sensor_detects_and_delivers(situations, channels, db, monkeypatch):
    from sensors.business_alerts import business_alerts_sensor

    chans, hook, inbox = channels
    monkeypatch.setenv("ALLIXIOS_ALERT_WEBHOOK_URL", chans.webhook_url)
    monkeypatch.setenv("ALLIXIOS_SMTP_HOST", chans.smtp_host)
    monkeypatch.setenv("ALLIXIOS_SMTP_PORT", str(chans.smtp_port))
    monkeypatch.setenv("ALLIXIOS_ALERT_EMAIL_TO", "ops@acme.test")
    ctx = dg.build_sensor_context(resources={"warehouse": WarehouseResource()})
    assert "3 new alert(s)" in business_alerts_sensor(ctx).skip_message
    assert "0 new alert(s)" in business_alerts_sensor(ctx).skip_message
    assert len(hook.requests) == 3 and len(inbox.messages) == 3
