"""Idempotency-Key on POSTs: the first response is stored and replayed; another body answers 409.

The key row is inserted in the same transaction as the operation's own writes, so two concurrent
requests with one key serialise on its primary key: the second waits, then replays the first's
stored response (or sees the conflict). Nothing runs twice.
"""

from __future__ import annotations

import hashlib
import json

import psycopg
from fastapi import Request
from fastapi.responses import Response
from psycopg.types.json import Jsonb

from allixios.api.auth import Principal
from allixios.api.problems import ApiProblem

MAX_KEY_CHARS = 200


def key_of(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip()
    if not 1 <= len(key) <= MAX_KEY_CHARS or not key.isprintable():
        raise ApiProblem("VALIDATION_ERROR", "Idempotency-Key must be 1-200 printable characters",
                         fix="send a UUID as Idempotency-Key")
    return key


def request_hash(request: Request, body: object) -> str:
    payload = json.dumps(body, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.url.path}\n{payload}".encode()).hexdigest()


def begin(conn: psycopg.Connection, principal: Principal, request: Request, key: str | None,
          digest: str) -> Response | None:
    """None: go ahead (the key is now taken). A Response: replay it. 409: same key, other request."""
    if key is None:
        return None
    row = conn.execute(
        """INSERT INTO idempotency_keys (tenant_id, credential, key, method, path, request_hash)
           VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1""",
        (principal.tenant.id, principal.credential, key, request.method, request.url.path, digest),
    ).fetchone()
    if row is not None:
        return None
    stored = conn.execute(
        """SELECT request_hash, status_code, response_headers, response_body FROM idempotency_keys
           WHERE tenant_id = %s AND credential = %s AND key = %s""",
        (principal.tenant.id, principal.credential, key),
    ).fetchone()
    if stored is None or stored[0] != digest:
        raise ApiProblem("CONFLICT", "this Idempotency-Key was already used with a different request",
                         fix="use a new Idempotency-Key for a new request; resend the same body to replay")
    if stored[1] is None:
        raise ApiProblem("CONFLICT", "a request with this Idempotency-Key is still in progress",
                         fix="retry in a moment to get its response")
    headers = {**(stored[2] or {}), "Idempotent-Replayed": "true"}
    return Response(bytes(stored[3]), status_code=stored[1], headers=headers, media_type="application/json")


def finish(conn: psycopg.Connection, principal: Principal, key: str | None, response: Response) -> Response:
    if key is not None:
        keep = {k: v for k, v in response.headers.items() if k.lower() in ("location", "etag", "cache-control")}
        conn.execute(
            """UPDATE idempotency_keys SET status_code = %s, response_headers = %s, response_body = %s
               WHERE tenant_id = %s AND credential = %s AND key = %s""",
            (response.status_code, Jsonb(keep), bytes(response.body), principal.tenant.id, principal.credential, key),
        )
    return response
