"""Business alerts: budgets, revenue and traffic drops, open AI circuits, failing publications,
forecast decay. Each is a ``business_alerts`` row, once per (tenant, kind, subject, window).

Kinds (``detect``), each with the asset it links to in the Dagster UI:

| kind | condition | window | severity |
|---|---|---|---|
| ``budget`` | a daily/monthly AI budget at >= 80 % (subject ``daily:80``) or >= 100 % (``daily:100``) | the period | warning / critical |
| ``revenue_drop``, ``traffic_drop`` | a niche's revenue / views on its latest mart day >= ``drop_pct`` under its trailing 7-day mean | the day | warning |
| ``circuit_open`` | an AI deployment's circuit is open | its opening | critical |
| ``publication_failing`` | a publication to a target still pending after ``publication_attempts`` attempts | the day | warning |
| ``predicted_decay`` | an article forecast to fall below its floor (allixios/analytics/forecast.py) | the forecast day | info |

Delivery (``deliver``): Slack-compatible JSON (``text`` plus a ``blocks`` section) to
``ALLIXIOS_ALERT_WEBHOOK_URL`` and an e-mail through SMTP (``ALLIXIOS_SMTP_HOST``/``_PORT``,
``ALLIXIOS_SMTP_USER``/``_PASSWORD`` when the server wants a login, ``ALLIXIOS_ALERT_EMAIL_FROM``) to
the tenant's ``alert_emails`` setting, else ``ALLIXIOS_ALERT_EMAIL_TO``. Each channel is marked
delivered on its own, so a down channel is retried at the next tick without repeating the other.
Quiet hours (tenant setting ``alert_quiet_hours``, e.g. ``"22:00-07:00"`` in ``alert_timezone``):
alerts that are not critical wait until they end.
"""

from __future__ import annotations

import logging
import os
import smtplib
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
from psycopg.types.json import Jsonb

from allixios import settings
from allixios.automation.alerts import WEBHOOK_ENV
from allixios.db.engine import fetch_dicts
from allixios.errors import ValidationError

log = logging.getLogger("allixios.alerts")

SMTP_HOST_ENV, SMTP_PORT_ENV = "ALLIXIOS_SMTP_HOST", "ALLIXIOS_SMTP_PORT"
SMTP_USER_ENV, SMTP_PASSWORD_ENV = "ALLIXIOS_SMTP_USER", "ALLIXIOS_SMTP_PASSWORD"
EMAIL_FROM_ENV, EMAIL_TO_ENV = "ALLIXIOS_ALERT_EMAIL_FROM", "ALLIXIOS_ALERT_EMAIL_TO"
ICONS = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}


@dataclass(frozen=True)
class AlertRules:
    budget_thresholds: tuple[int, ...] = (80, 100)
    drop_pct: float = 30.0
    min_baseline_views: float = 20.0
    publication_attempts: int = 3


@dataclass
class Alert:
    tenant_id: Any
    kind: str
    subject: str
    window_start: datetime
    message: str
    asset_key: str | None = None
    severity: str = "warning"
    details: dict[str, Any] = field(default_factory=dict)


def asset_link(asset_key: str | None) -> str:
    """The asset's page in the Dagster UI (``marts/fct_niche_revenue_daily`` -> /assets/marts/fct_...)."""
    return f"{settings.ui_url()}/assets/{asset_key}" if asset_key else settings.ui_url()


def _day_start(d) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def detect(conn: psycopg.Connection, rules: AlertRules = AlertRules()) -> list[Alert]:
    return [*_budgets(conn, rules), *_drops(conn, rules), *_circuits(conn), *_publications(conn, rules),
            *_decay(conn)]


def _budgets(conn, rules: AlertRules) -> list[Alert]:
    rows = fetch_dicts(
        conn,
        """SELECT b.tenant_id, t.slug, b.period, b.limit_usd::float AS limit_usd,
                  coalesce(s.spent_usd, 0)::float AS spent_usd, p.start
           FROM ai_budgets b JOIN tenants t ON t.id = b.tenant_id AND t.deleted_at IS NULL
           CROSS JOIN LATERAL (SELECT CASE b.period WHEN 'daily' THEN (now() AT TIME ZONE 'UTC')::date
                                       ELSE date_trunc('month', now() AT TIME ZONE 'UTC')::date END AS start) p
           LEFT JOIN ai_spend s ON s.tenant_id = b.tenant_id AND s.period = b.period AND s.period_start = p.start""",
    )
    out = []
    for r in rows:
        pct = 100.0 * r["spent_usd"] / r["limit_usd"] if r["limit_usd"] > 0 else (100.0 if r["spent_usd"] > 0 else 0.0)
        reached = [t for t in rules.budget_thresholds if pct >= t]
        if not reached:
            continue
        top = max(reached)
        out.append(Alert(
            r["tenant_id"], "budget", f"{r['period']}:{top}", _day_start(r["start"]),
            f"tenant {r['slug']}: {r['period']} AI budget at {pct:.0f} % (${r['spent_usd']:.2f} of "
            f"${r['limit_usd']:.2f})" + ("; new paid calls are refused until the period ends" if top >= 100 else ""),
            "article_drafts", "critical" if top >= 100 else "warning",
            {"period": r["period"], "threshold": top, "spent_usd": r["spent_usd"], "limit_usd": r["limit_usd"]},
        ))
    return out


def _drops(conn, rules: AlertRules) -> list[Alert]:
    if conn.execute("SELECT to_regclass('marts.fct_niche_revenue_daily')").fetchone()[0] is None:
        return []
    rows = fetch_dicts(
        conn,
        """WITH latest AS (SELECT tenant_id, max(day) AS day FROM marts.fct_niche_revenue_daily GROUP BY tenant_id)
           SELECT f.tenant_id, t.slug AS tenant, f.niche_id, coalesce(n.slug, 'none') AS niche, f.day,
                  f.views::float AS views, f.revenue_usd::float AS revenue_usd,
                  b.views AS base_views, b.revenue_usd AS base_revenue, b.days
           FROM marts.fct_niche_revenue_daily f
           JOIN latest l ON l.tenant_id = f.tenant_id AND l.day = f.day
           JOIN tenants t ON t.id = f.tenant_id AND t.deleted_at IS NULL
           LEFT JOIN niches n ON n.id = f.niche_id
           CROSS JOIN LATERAL (
               SELECT avg(p.views)::float AS views, avg(p.revenue_usd)::float AS revenue_usd, count(*) AS days
               FROM marts.fct_niche_revenue_daily p
               WHERE p.tenant_id = f.tenant_id AND p.niche_id IS NOT DISTINCT FROM f.niche_id
                 AND p.day BETWEEN f.day - 7 AND f.day - 1) b
           WHERE b.days >= 3""",
    )
    out = []
    for r in rows:
        for kind, now_v, base, unit in (("traffic_drop", r["views"], r["base_views"], "views"),
                                        ("revenue_drop", r["revenue_usd"], r["base_revenue"], "USD")):
            if not base or (kind == "traffic_drop" and base < rules.min_baseline_views):
                continue
            drop = 100.0 * (base - now_v) / base
            if drop < rules.drop_pct:
                continue
            shown = (f"{now_v:.0f} vs {base:.0f}" if unit == "views" else f"${now_v:.2f} vs ${base:.2f}")
            out.append(Alert(
                r["tenant_id"], kind, f"niche:{r['niche']}", _day_start(r["day"]),
                f"tenant {r['tenant']}, niche {r['niche']}: {'traffic' if unit == 'views' else 'revenue'} on "
                f"{r['day']} down {drop:.0f} % against the trailing 7-day mean ({shown} {unit if unit == 'views' else ''})".rstrip(),
                "marts/fct_niche_revenue_daily", "warning",
                {"day": r["day"].isoformat(), "value": now_v, "baseline": base, "drop_pct": round(drop, 1)},
            ))
    return out


def _circuits(conn) -> list[Alert]:
    rows = fetch_dicts(conn, """SELECT deployment_id, opened_at, consecutive_failures, last_error_class
                                FROM circuit_breakers WHERE state = 'open' AND opened_at IS NOT NULL""")
    return [Alert(None, "circuit_open", r["deployment_id"], r["opened_at"],
                  f"AI circuit opened for {r['deployment_id']} after {r['consecutive_failures']} consecutive failures "
                  f"({r['last_error_class'] or 'error'}); calls go to the fallbacks until it closes",
                  "article_drafts", "critical", {"failures": r["consecutive_failures"]}) for r in rows]


def _publications(conn, rules: AlertRules) -> list[Alert]:
    rows = fetch_dicts(
        conn,
        """SELECT p.tenant_id, t.slug AS tenant, g.name AS target, p.target_id::text AS target_id,
                  count(*) AS failing, max(p.attempts) AS attempts, (array_agg(p.last_error ORDER BY p.updated_at DESC))[1] AS error
           FROM publications p JOIN tenants t ON t.id = p.tenant_id JOIN publishing_targets g ON g.id = p.target_id
           WHERE p.status = 'pending' AND p.attempts >= %s AND p.last_error IS NOT NULL
           GROUP BY p.tenant_id, t.slug, g.name, p.target_id""",
        (rules.publication_attempts,),
    )
    today = _day_start(datetime.now(UTC).date())
    return [Alert(r["tenant_id"], "publication_failing", f"target:{r['target_id']}", today,
                  f"tenant {r['tenant']}: {r['failing']} publication(s) to {r['target']} failing after "
                  f"{r['attempts']} attempts: {(r['error'] or '')[:200]}",
                  "target_publications", "warning", {"failing": r["failing"], "attempts": r["attempts"]}) for r in rows]


def _decay(conn) -> list[Alert]:
    from allixios.analytics.forecast import latest_forecast_day, predicted_decay

    as_of = latest_forecast_day(conn)
    if as_of is None:
        return []
    rows = predicted_decay(conn, as_of, cooldown_days=0)  # alert even when a refresh is already on its way
    by_tenant: dict[Any, list[dict]] = {}
    for r in rows:
        by_tenant.setdefault(r["tenant_id"], []).append(r)
    out = []
    for tenant_id, items in by_tenant.items():
        slugs = {r["article_id"]: r for r in items}
        out.append(Alert(
            tenant_id, "predicted_decay", "articles", _day_start(as_of),
            f"tenant {items[0]['tenant']}: {len(items)} article(s) forecast to fall below their traffic floor within "
            f"a week (first on {min(r['target_day'] for r in items)}); refreshes are requested before the drop",
            "article_forecasts", "info", {"articles": [str(a) for a in slugs]}))
    return out


def raise_alerts(conn: psycopg.Connection, alerts: list[Alert]) -> list[int]:
    """Store the alerts; one already stored for its window is not stored again. Returns the new ids."""
    new = []
    for a in alerts:
        row = conn.execute(
            """INSERT INTO business_alerts (tenant_id, kind, subject, window_start, severity, message, asset_key, details)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (tenant_id, kind, subject, window_start) DO NOTHING RETURNING id""",
            (a.tenant_id, a.kind, a.subject, a.window_start, a.severity, a.message, a.asset_key, Jsonb(a.details)),
        ).fetchone()
        if row:
            new.append(row[0])
            log.warning("alert %s: %s", a.kind, a.message)
    return new


def parse_quiet_hours(value: str | None) -> tuple[time, time] | None:
    if not value:
        return None
    try:
        start, end = (time.fromisoformat(p.strip()) for p in value.split("-"))
    except ValueError:
        raise ValidationError(f"alert_quiet_hours {value!r} is not a time range",
                              fix='write it as "HH:MM-HH:MM", e.g. "22:00-07:00"') from None
    return start, end


def in_quiet_hours(tenant_settings: dict[str, Any], now: datetime) -> bool:
    hours = parse_quiet_hours(tenant_settings.get("alert_quiet_hours"))
    if hours is None:
        return False
    local = now.astimezone(ZoneInfo(tenant_settings.get("alert_timezone") or "UTC")).time()
    start, end = hours
    return start <= local < end if start <= end else (local >= start or local < end)


@dataclass(frozen=True)
class Channels:
    webhook_url: str = ""
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    email_from: str = "allixios@localhost"
    email_to: tuple[str, ...] = ()

    @classmethod
    def from_env(cls) -> Channels:
        env = os.environ.get
        return cls(env(WEBHOOK_ENV, ""), env(SMTP_HOST_ENV, ""), int(env(SMTP_PORT_ENV, "25") or 25),
                   env(SMTP_USER_ENV, ""), env(SMTP_PASSWORD_ENV, ""), env(EMAIL_FROM_ENV, "") or "allixios@localhost",
                   tuple(a.strip() for a in env(EMAIL_TO_ENV, "").split(",") if a.strip()))


def slack_payload(alert: dict[str, Any]) -> dict[str, Any]:
    link = asset_link(alert["asset_key"])
    text = f"{ICONS.get(alert['severity'], '')} Allixios {alert['kind'].replace('_', ' ')}: {alert['message']} <{link}|open asset>"
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def _email(alert: dict[str, Any], sender: str, recipients: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"[Allixios] {alert['kind'].replace('_', ' ')}: {alert['message'][:120]}"
    msg["From"], msg["To"] = sender, ", ".join(recipients)
    msg["X-Allixios-Alert"] = f"{alert['kind']}:{alert['id']}"
    msg.set_content(f"{alert['message']}\n\nOpen in the Dagster UI: {asset_link(alert['asset_key'])}\n"
                    f"Window: {alert['window_start'].isoformat()} · severity {alert['severity']}\n")
    return msg


def deliver(conn: psycopg.Connection, channels: Channels | None = None, now: datetime | None = None) -> dict[str, int]:
    """Send undelivered alerts on every configured channel, outside quiet hours (critical ones always)."""
    channels = channels or Channels.from_env()
    now = now or datetime.now(UTC)
    rows = fetch_dicts(
        conn,
        """SELECT b.*, coalesce(t.settings, '{}'::jsonb) AS tenant_settings
           FROM business_alerts b LEFT JOIN tenants t ON t.id = b.tenant_id
           WHERE (b.webhook_delivered_at IS NULL OR b.email_delivered_at IS NULL)
             AND b.created_at > now() - interval '7 days'
           ORDER BY b.id""",
    )
    counts = {"webhook": 0, "email": 0, "held_quiet_hours": 0, "failed": 0}
    for a in rows:
        if a["severity"] != "critical" and in_quiet_hours(a["tenant_settings"], now):
            counts["held_quiet_hours"] += 1
            continue
        errors = []
        if channels.webhook_url and a["webhook_delivered_at"] is None:
            try:
                httpx.post(channels.webhook_url, json=slack_payload(a), timeout=5.0).raise_for_status()
                conn.execute("UPDATE business_alerts SET webhook_delivered_at = now() WHERE id = %s", (a["id"],))
                counts["webhook"] += 1
            except httpx.HTTPError as exc:
                errors.append(f"webhook: {type(exc).__name__}: {str(exc)[:200]}")
        recipients = list(a["tenant_settings"].get("alert_emails") or channels.email_to)
        if channels.smtp_host and recipients and a["email_delivered_at"] is None:
            try:
                with smtplib.SMTP(channels.smtp_host, channels.smtp_port, timeout=10) as smtp:
                    if channels.smtp_user:
                        smtp.starttls()
                        smtp.login(channels.smtp_user, channels.smtp_password)
                    smtp.send_message(_email(a, channels.email_from, recipients))
                conn.execute("UPDATE business_alerts SET email_delivered_at = now() WHERE id = %s", (a["id"],))
                counts["email"] += 1
            except (OSError, smtplib.SMTPException) as exc:
                errors.append(f"email: {type(exc).__name__}: {str(exc)[:200]}")
        if errors:
            counts["failed"] += 1
            log.warning("alert %s delivery failed: %s", a["id"], "; ".join(errors))
            conn.execute("UPDATE business_alerts SET delivery_error = %s, delivery_attempts = delivery_attempts + 1 "
                         "WHERE id = %s", ("; ".join(errors)[:500], a["id"]))
    return counts

