"""System health, liveness and performance metrics (the orchestrator's monitoring interface)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query, Request

from allixios.api.auth import Principal, need
from allixios.api.problems import problem_doc
from allixios.api.web import cached_json, json_response, time_range
from allixios.db.engine import connect

router = APIRouter(tags=["system"])


@router.get("/system/live", summary="Liveness: the process answers (no database, no credential)",
            responses=problem_doc(500))
async def live() -> dict:  # async: no thread hop, the stack's floor
    return {"status": "ok"}


def _daemon_heartbeat() -> dict:
    """The newest dagster-daemon heartbeat, read from Dagster's storage tables without importing Dagster."""
    import psycopg

    from allixios.db import server

    try:
        url = server.dagster_url()
    except Exception as exc:  # not configured
        return {"status": "unknown", "detail": type(exc).__name__}
    try:
        with psycopg.connect(server.libpq_conninfo(url), connect_timeout=2) as c:
            row = c.execute("SELECT max(timestamp) FROM daemon_heartbeats").fetchone()
    except psycopg.Error as exc:
        return {"status": "unknown", "detail": type(exc).__name__}
    if row is None or row[0] is None:
        return {"status": "down", "detail": "no daemon heartbeat recorded"}
    last = row[0] if row[0].tzinfo else row[0].replace(tzinfo=UTC)
    age = (datetime.now(UTC) - last).total_seconds()
    return {"status": "up" if age < 120 else "down", "last_heartbeat": last.isoformat(), "age_s": round(age, 1)}


@router.get("/system/health", summary="Database, Dagster daemon heartbeat, circuit states, queue depth",
            responses=problem_doc(401, 403, 429))
def health(request: Request, principal: Principal = Depends(need("system:read"))):
    from allixios.ai import circuit

    started = time.perf_counter()
    with connect() as conn:
        conn.execute("SELECT 1")
        db_ms = (time.perf_counter() - started) * 1000
        circuits = circuit.states(conn)
        queued = conn.execute("""SELECT status::text, count(*) FROM workflow_executions
                                 WHERE status IN ('queued', 'running') AND tenant_id = %s GROUP BY 1""",
                              (principal.tenant.id,)).fetchall()
        planned = conn.execute("SELECT count(*) FROM content_requests WHERE tenant_id = %s AND status = 'planned'",
                               (principal.tenant.id,)).fetchone()[0]
    daemon = _daemon_heartbeat()
    states = {k: v.get("state") if isinstance(v, dict) else v for k, v in circuits.items()}
    status = "ok" if daemon["status"] == "up" and not any(s == "open" for s in states.values()) else "degraded"
    return json_response({
        "status": status, "database": {"status": "up", "latency_ms": round(db_ms, 2)}, "dagster_daemon": daemon,
        "circuits": states, "queue": {**{k: v for k, v in queued}, "planned_requests": planned},
    })


@router.get("/metrics/performance", summary="Runs, durations, success rate, tokens and cost over a time range",
            responses=problem_doc(401, 403, 422, 429))
def performance(request: Request, since: datetime | None = Query(None), until: datetime | None = Query(None),
                principal: Principal = Depends(need("executions:read"))):
    since, until = time_range(since, until)
    with connect() as conn:
        rows = conn.execute(
            """SELECT workflow_type, count(*), count(*) FILTER (WHERE status = 'completed'),
                      count(*) FILTER (WHERE status = 'failed'),
                      percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms),
                      percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms),
                      coalesce(sum(tokens_used), 0), coalesce(sum(cost_usd), 0)
               FROM workflow_executions WHERE tenant_id = %s AND created_at >= %s AND created_at < %s
               GROUP BY 1 ORDER BY 1""", (principal.tenant.id, since, until)).fetchall()
    out = [{"workflow_type": r[0], "runs": r[1], "completed": r[2], "failed": r[3],
            "success_rate": round(r[2] / r[1], 4) if r[1] else None,
            "duration_ms_p50": r[4], "duration_ms_p95": r[5], "tokens": int(r[6]), "cost_usd": float(r[7])} for r in rows]
    return cached_json(request, {"since": since, "until": until, "by_workflow": out})
