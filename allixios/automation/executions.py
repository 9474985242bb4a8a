"""workflow_executions: the seed's execution record, kept in step with Dagster runs."""

from __future__ import annotations

import os
import re
import resource
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

# the seed's ErrorCode values a run record carries (error_details.code)
WORKFLOW_TIMEOUT = "WORKFLOW_TIMEOUT"
WORKFLOW_FAILED = "WORKFLOW_FAILED"
_SECRET_ENV = re.compile(r"(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)(?:_FILE)?$")


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    job_name: str
    status: str  # queued | running | completed | failed | cancelled
    tags: dict[str, str]
    started_at: datetime | None = None
    completed_at: datetime | None = None
    progress: int = 0
    error: dict[str, Any] | None = None
    parent_run_id: str | None = None
    tenant_slug: str | None = None
    output: dict[str, Any] | None = None  # output_data: what the run produced (counts per asset)
    memory_mb: int = 0  # peak RSS of the run's process(es), 0 while not reported



def record_run(conn: psycopg.Connection, run: RunRecord) -> None:
    """Upsert the run's row; tokens and cost come from the AI ledger rows of the run."""
    tenant_id: UUID | None = None
    if run.tenant_slug:
        row = conn.execute("SELECT id FROM tenants WHERE slug = %s", (run.tenant_slug,)).fetchone()
        tenant_id = row[0] if row else None
    parent = None
    if run.parent_run_id:
        row = conn.execute("SELECT id FROM workflow_executions WHERE execution_id = %s", (run.parent_run_id,)).fetchone()
        parent = row[0] if row else None
    duration = (
        int((run.completed_at - run.started_at).total_seconds() * 1000) if run.started_at and run.completed_at else None
    )
    conn.execute(
        """
        INSERT INTO workflow_executions AS w
            (tenant_id, workflow_type, workflow_id, execution_id, status, progress_percentage, input_data,
             error_details, started_at, completed_at, duration_ms, tokens_used, cost_usd, parent_execution_id,
             triggered_by, tags, output_data, memory_used_mb)
        SELECT %(tenant)s, %(type)s, %(job)s, %(run)s, %(status)s, %(progress)s, %(input)s, %(error)s,
               %(started)s, %(completed)s, %(duration)s,
               coalesce(sum(u.tokens_in + u.tokens_out), 0), coalesce(sum(u.cost_usd), 0),
               %(parent)s, %(trigger)s, %(tags)s, %(output)s, %(memory)s
        FROM ai_usage u WHERE u.run_id = %(run)s
        ON CONFLICT (execution_id) DO UPDATE SET
            status = EXCLUDED.status,
            progress_percentage = greatest(w.progress_percentage, EXCLUDED.progress_percentage),
            error_details = coalesce(EXCLUDED.error_details, w.error_details),
            started_at = coalesce(w.started_at, EXCLUDED.started_at),
            completed_at = coalesce(EXCLUDED.completed_at, w.completed_at),
            duration_ms = coalesce(EXCLUDED.duration_ms, w.duration_ms),
            tokens_used = EXCLUDED.tokens_used,
            cost_usd = EXCLUDED.cost_usd,
            tags = EXCLUDED.tags,
            output_data = coalesce(EXCLUDED.output_data, w.output_data),
            memory_used_mb = greatest(w.memory_used_mb, EXCLUDED.memory_used_mb),
            updated_at = now()
        """,
        {
            "tenant": tenant_id,
            "type": _workflow_type(run.job_name),
            "job": run.job_name,
            "run": run.run_id,
            "status": run.status,
            "progress": run.progress,
            "input": Jsonb({k: v for k, v in run.tags.items() if k.startswith(("dagster/partition", "allixios/"))}),
            "error": Jsonb(run.error) if run.error else None,
            "started": run.started_at,
            "completed": run.completed_at,
            "duration": duration,
            "parent": parent,
            "trigger": run.tags.get("dagster/sensor_name") or run.tags.get("dagster/schedule_name") or run.tags.get("allixios/trigger") or "manual",
            "tags": Jsonb(run.tags),
            "output": Jsonb(run.output) if run.output else None,
            "memory": max(0, int(run.memory_mb or 0)),
        },
    )


def _workflow_type(job_name: str) -> str:
    if job_name.startswith(("content", "article_refresh")):
        return "content_generation"
    if job_name.startswith("analytics"):
        return "analytics"
    if job_name.startswith("maintenance"):
        return "maintenance"
    return "other"


def peak_rss_mb() -> int:
    """Peak resident memory of this process or of the largest child it has waited for (dbt's
    sub-processes), in MB: what a run worker reports at the end of its run. Linux reports KB."""
    peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return max(1, round(peak_kb / 1024))


def secret_values_in_env() -> list[str]:
    """Values that must never reach a run record: every secret-named variable of this process
    (``*_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*_PASSWORD``, or the file a ``*_FILE`` one names) and
    the passwords inside database URLs."""
    from urllib.parse import urlsplit

    from allixios.ai.secrets import known_secret_values

    names = sorted({n.removesuffix("_FILE") for n in os.environ if _SECRET_ENV.search(n)})
    values = known_secret_values(names)
    for name, value in os.environ.items():
        if name.endswith("_URL") and "@" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                continue
            if password and len(password) >= 4:
                values.append(password)
    return values


def scrub_for_record(text: str | None, limit: int = 500) -> str | None:
    """Text safe for workflow_executions: known secrets and key-shaped tokens replaced, length bounded."""
    from allixios.ai.secrets import scrub

    return scrub(text, secret_values_in_env(), limit=limit)
