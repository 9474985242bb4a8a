"""The state of a content request's execution: its topics, its runs, its tokens and cost.

Runs are shared (one run per partition serves every request planned into it), so progress, tokens
and cost are counted per request from its own topics and their AI ledger rows, not per run.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from allixios.errors import NotFoundError

TERMINAL_RUN = {"SUCCESS", "FAILURE", "CANCELED"}


def execution_state(conn: psycopg.Connection, tenant_id: UUID, request_id: UUID,
                    run_status: dict[str, str | None] | None = None) -> dict[str, Any]:
    row = conn.execute(
        """SELECT id, status, topic_ids, runs, plan, created_at, updated_at, last_error, callback_status, priority
           FROM content_requests WHERE id = %s AND tenant_id = %s""", (request_id, tenant_id)).fetchone()
    if row is None:
        raise NotFoundError(f"no execution {request_id}", fix="use the id returned by POST /v1/content-requests")
    rid, status, topic_ids, runs, plan, created, updated, last_error, callback_status, priority = row
    topics = conn.execute(
        """SELECT t.id, t.title, t.status, t.failure_reason, t.rejection_reason, a.id, a.slug, a.status::text
           FROM topics t LEFT JOIN articles a ON a.topic_id = t.id WHERE t.id = ANY(%s) ORDER BY t.title""",
        (topic_ids,)).fetchall()
    usage = conn.execute(
        """SELECT coalesce(sum(tokens_in + tokens_out), 0), coalesce(sum(cost_usd), 0), min(created_at), max(created_at)
           FROM ai_usage WHERE topic_id = ANY(%s)""", (topic_ids,)).fetchone()
    wf = {r[0]: r for r in conn.execute(
        """SELECT execution_id, status::text, started_at, completed_at, duration_ms, error_details
           FROM workflow_executions WHERE execution_id = ANY(%s)""", (list((runs or {}).values()),))}
    done = sum(1 for t in topics if t[2] in ("drafted", "rejected", "failed"))
    failed = [t for t in topics if t[2] in ("failed", "rejected")]
    run_list = []
    for partition, run_id in sorted((runs or {}).items()):
        w = wf.get(run_id)
        dagster = (run_status or {}).get(run_id)
        run_list.append({"run_id": run_id, "partition_key": partition,
                         "status": w[1] if w else (dagster or "launched").lower(),
                         "started_at": w[2] if w else None, "completed_at": w[3] if w else None,
                         "duration_ms": w[4] if w else None, "error": w[5] if w else None})
    if status == "cancelled":
        state = "cancelled"
    elif topics and done == len(topics):
        state = "failed" if len(failed) == len(topics) else ("completed_with_errors" if failed else "completed")
    elif status == "planned":
        state = "scheduled"
    elif any(r["status"] in ("running", "started", "starting") for r in run_list) or usage[2] is not None:
        state = "running"
    elif run_list and all(r["status"] in ("failed", "failure", "canceled", "cancelled", "completed", "success")
                          for r in run_list):
        state = "failed"  # every run ended but topics are left undone
    else:
        state = "queued"
    started = min([r["started_at"] for r in run_list if r["started_at"]] or [usage[2]] if usage[2] else [None])
    finished = usage[3] if state.startswith("completed") or state == "failed" else None
    duration = (finished - started).total_seconds() if started and finished else None
    errors = [{"topic": t[1], "reason": t[3] or t[4]} for t in failed]
    errors += [{"run_id": r["run_id"], "error": r["error"]} for r in run_list if r["error"]]
    if last_error:
        errors.append({"launch": last_error})
    return {
        "id": str(rid), "status": state, "priority": priority,
        "progress_percent": round(100 * done / len(topics)) if topics else 0,
        "topics": [{"topic_id": str(t[0]), "title": t[1], "status": t[2], "article_id": str(t[5]) if t[5] else None,
                    "article_slug": t[6], "article_status": t[7]} for t in topics],
        "runs": run_list, "tokens": int(usage[0]), "cost_usd": float(usage[1]),
        "estimated_cost_usd": plan.get("estimated_cost_usd"), "scheduled_at": plan.get("scheduled_at"),
        "duration_s": duration, "errors": errors, "callback": callback_status,
        "created_at": created, "updated_at": updated,
    }
