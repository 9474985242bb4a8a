"""Run-failure alerts: always logged and stored; posted to a Slack-compatible webhook when configured."""

from __future__ import annotations

import logging
import os

import httpx
import psycopg

from allixios import settings

WEBHOOK_ENV = "ALLIXIOS_ALERT_WEBHOOK_URL"
log = logging.getLogger("allixios.alerts")


def run_link(run_id: str) -> str:
    """The run's page in the Dagster UI (ALLIXIOS_UI_URL, else the ALLIXIOS_UI_PORT `make dev` serves)."""
    return f"{settings.ui_url()}/runs/{run_id}"


def failure_message(job_name: str, run_id: str, error: str | None) -> str:
    first = (error or "no error message").strip().splitlines()[0][:300]
    return f":red_circle: Allixios run failed: job `{job_name}` run {run_id[:8]}: {first} <{run_link(run_id)}|open run>"


def send_alert(conn: psycopg.Connection, run_id: str, job_name: str, message: str, webhook_url: str | None = None) -> bool:
    """Record and deliver one alert per run (a second call for the same run does nothing). Never raises for delivery."""
    inserted = conn.execute(
        "INSERT INTO alerts (run_id, job_name, message) VALUES (%s, %s, %s) ON CONFLICT (run_id) DO NOTHING RETURNING id",
        (run_id, job_name, message),
    ).fetchone()
    if not inserted:
        return False
    log.error(message)
    url = webhook_url if webhook_url is not None else os.environ.get(WEBHOOK_ENV, "")
    if not url:
        return True
    try:
        response = httpx.post(url, json={"text": message}, timeout=5.0)
        response.raise_for_status()
        conn.execute("UPDATE alerts SET delivered = true WHERE id = %s", (inserted[0],))
    except httpx.HTTPError as exc:
        reason = f"{type(exc).__name__}: {str(exc)[:200]}"
        log.warning("alert delivery failed for run %s: %s", run_id, reason)
        conn.execute("UPDATE alerts SET delivery_error = %s WHERE id = %s", (reason, inserted[0]))
    return True
