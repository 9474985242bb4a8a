"""The API's dispatcher: launches planned content requests as Dagster runs and sends callbacks.

A background thread per API worker; one dispatcher acts per tick across all workers (a transaction
advisory lock), requests are claimed with FOR UPDATE SKIP LOCKED. Runs are coalesced: a request
whose partition already has an API run that has not started yet joins it (the run's `topics` step
picks every pending topic of the niche by priority when it starts). Requests planned for a later
day wait until that day.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from psycopg.types.json import Jsonb

from allixios.api.runs import RunLauncher
from allixios.automation.content_requests import JOB_NAME
from allixios.db.engine import connect

log = logging.getLogger("allixios.api.dispatch")
NOT_STARTED = {"NOT_STARTED", "QUEUED", "STARTING"}


class Dispatcher:
    def __init__(self, launcher: RunLauncher, interval_s: float = 2.0):
        self.launcher, self.interval_s = launcher, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="allixios-dispatch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.tick()
            except Exception as exc:  # keep dispatching; the request rows carry the error
                log.warning("dispatch tick failed: %s", type(exc).__name__, exc_info=exc)

    def tick(self) -> int:
        launched = self._launch_due()
        self._finish_done()
        with connect() as conn:  # stored Idempotency-Key answers are kept for a day
            conn.execute("DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'")
        return launched

    def _launch_due(self) -> int:
        today = datetime.now(UTC).date().isoformat()
        count = 0
        with connect() as conn:
            if not conn.execute("SELECT pg_try_advisory_xact_lock(hashtext('allixios.dispatch'))").fetchone()[0]:
                return 0
            rows = conn.execute(
                """SELECT r.id, r.priority, r.plan, r.runs, r.constraints FROM content_requests r
                   WHERE r.status IN ('planned', 'launched') AND EXISTS (
                     SELECT 1 FROM jsonb_array_elements(r.plan->'assignments') a
                     WHERE a->>'date' <= %s AND NOT r.runs ? (a->>'partition_key'))
                   ORDER BY r.priority DESC, r.created_at LIMIT 50 FOR UPDATE SKIP LOCKED""", (today,)).fetchall()
            open_runs: dict[str, str] = {}
            for rid, priority, plan, runs, constraints in rows:
                runs = dict(runs or {})
                try:
                    for a in plan["assignments"]:
                        key = a["partition_key"]
                        if a["date"] > today or key in runs:
                            continue
                        run_id = open_runs.get(key) or self._joinable_run(conn, key)
                        if run_id is None:
                            tags = {"allixios/trigger": "api", "allixios/content_request": str(rid),
                                    "dagster/priority": str(priority)}
                            if constraints.get("max_cost_usd") is not None:
                                tags["allixios/max_cost_usd"] = str(constraints["max_cost_usd"])
                            run_id = self.launcher.launch(JOB_NAME, partition_key=key, tags=tags)
                            count += 1
                        open_runs[key] = run_id
                        runs[key] = run_id
                    conn.execute("""UPDATE content_requests SET status = 'launched', runs = %s, run_ids = %s,
                                    last_error = NULL, updated_at = now() WHERE id = %s""",
                                 (Jsonb(runs), sorted(set(runs.values())), rid))
                except Exception as exc:
                    from allixios.errors import AllixiosError

                    text = exc.one_line() if isinstance(exc, AllixiosError) else type(exc).__name__
                    conn.execute("UPDATE content_requests SET runs = %s, last_error = %s, updated_at = now() "
                                 "WHERE id = %s", (Jsonb(runs), text[:500], rid))
        return count

    def _joinable_run(self, conn, partition_key: str) -> str | None:
        rows = conn.execute("""SELECT DISTINCT runs->>%s FROM content_requests WHERE runs ? %s
                               AND status = 'launched' AND updated_at > now() - interval '1 day'""",
                            (partition_key, partition_key)).fetchall()
        for (run_id,) in rows:
            if run_id and self.launcher.status(run_id) in NOT_STARTED:
                return run_id
        return None

    def _finish_done(self) -> None:
        from allixios.api import callbacks
        from allixios.automation.request_status import execution_state
        from allixios.identity import pii

        with connect() as conn:
            rows = conn.execute("""SELECT id, tenant_id, runs FROM content_requests WHERE status = 'launched'
                                   ORDER BY updated_at LIMIT 100 FOR UPDATE SKIP LOCKED""").fetchall()
            finished = []
            for rid, tenant_id, runs in rows:
                statuses = {r: self.launcher.status(r) for r in (runs or {}).values()}
                state = execution_state(conn, tenant_id, rid, statuses)
                if state["status"] in ("completed", "completed_with_errors", "failed"):
                    final = "failed" if state["status"] == "failed" else "completed"
                    conn.execute("UPDATE content_requests SET status = %s, updated_at = now() WHERE id = %s",
                                 (final, rid))
                    finished.append((rid, state))
        for rid, state in finished:  # outside the transaction: callbacks may take seconds
            with connect() as conn:
                row = conn.execute("SELECT callback_url, callback_secret_enc FROM content_requests WHERE id = %s",
                                   (rid,)).fetchone()
            if not row or not row[0]:
                continue
            result = callbacks.deliver(row[0], pii.decrypt(row[1], str(rid).encode()) or "",
                                       {"event": "execution.finished", "execution": _plain(state)})
            with connect() as conn:
                conn.execute("UPDATE content_requests SET callback_status = %s WHERE id = %s", (result, rid))


def _plain(state: dict) -> dict:
    from allixios.api.web import plain

    return plain(state)
