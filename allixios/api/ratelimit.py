"""Rate limits per credential and per tenant, shared by every API worker through PostgreSQL.

No maintained limiter library stores its counters in PostgreSQL (`limits`/slowapi speak Redis,
Memcached, MongoDB or process memory), and a second store only for counters is what the design
avoids. So: a fixed window per (bucket, minute), counted by one UPSERT that returns the new count.
The UPSERT is atomic under concurrency (row lock on the counter), so N workers together let at
most `limit` requests through per window; the price is the fixed window's known burst (up to 2 x
limit across a window boundary), acceptable for abuse protection. Counters older than an hour are
deleted now and then by the same statement's caller.
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass

import psycopg

WINDOW_S = 60
DEFAULT_CREDENTIAL_LIMIT = 600  # requests per minute; env ALLIXIOS_API_RATE_CREDENTIAL overrides
DEFAULT_TENANT_LIMIT = 3000  # env ALLIXIOS_API_RATE_TENANT overrides


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int
    scope: str  # which bucket decided: "credential" or "tenant"

    def headers(self) -> dict[str, str]:
        h = {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining),
             "RateLimit-Reset": str(self.reset_s), "RateLimit-Policy": f"{self.limit};w={WINDOW_S}"}
        if not self.allowed:
            h["Retry-After"] = str(self.reset_s)
        return h


def limits_for(tenant_limits: dict) -> tuple[int, int]:
    """(per credential, per tenant) requests per minute: tenants.limits overrides the defaults."""
    cred = int(tenant_limits.get("api_requests_per_minute_per_credential") or
               os.environ.get("ALLIXIOS_API_RATE_CREDENTIAL") or DEFAULT_CREDENTIAL_LIMIT)
    tenant = int(tenant_limits.get("api_requests_per_minute") or
                 os.environ.get("ALLIXIOS_API_RATE_TENANT") or DEFAULT_TENANT_LIMIT)
    return cred, tenant


@dataclass(frozen=True)
class Count:
    """This request counted in its window: the UPSERT's cursor (read after the transaction's commit)."""
    cursor: psycopg.Cursor
    credential_bucket: str
    tenant_bucket: str
    reset_s: int


def count(conn: psycopg.Connection, credential: str, tenant: str) -> Count:
    """Count the request in both buckets (one UPSERT). The rows are not read here, so in a pipeline the
    caller's COMMIT goes in the same round trip and the two counter rows, which every request of the
    tenant updates, are locked only while PostgreSQL runs the UPSERT and the COMMIT, not across a
    round trip to a Python thread that is waiting for the GIL."""
    now = time.time()
    start = math.floor(now / WINDOW_S) * WINDOW_S
    reset = max(1, int(math.ceil(start + WINDOW_S - now)))
    c_bucket, t_bucket = f"c:{credential}", f"t:{tenant}"
    cursor = conn.execute(
        """INSERT INTO rate_limit_counters AS c (bucket, window_start, hits)
           VALUES (%s, to_timestamp(%s), 1), (%s, to_timestamp(%s), 1)
           ON CONFLICT (bucket, window_start) DO UPDATE SET hits = c.hits + 1
           RETURNING bucket, hits""",
        (c_bucket, start, t_bucket, start),
    )
    if random.random() < 0.005:
        conn.execute("DELETE FROM rate_limit_counters WHERE window_start < now() - interval '1 hour'")
    return Count(cursor, c_bucket, t_bucket, reset)


def decide(counted: Count, credential_limit: int, tenant_limit: int) -> Decision:
    """Allowed or not, from the counts `count` returned, under the limits of the credential's tenant."""
    counts = dict(counted.cursor.fetchall())
    c_hits, t_hits = counts[counted.credential_bucket], counts[counted.tenant_bucket]
    c_left, t_left = credential_limit - c_hits, tenant_limit - t_hits
    reset = counted.reset_s
    if c_left < t_left:
        return Decision(c_left >= 0, credential_limit, max(0, c_left), reset, "credential")
    return Decision(t_left >= 0, tenant_limit, max(0, t_left), reset, "tenant")


def hit(conn: psycopg.Connection, credential: str, tenant: str, credential_limit: int, tenant_limit: int) -> Decision:
    """Count and decide in one call (outside a pipeline: the UPSERT's round trip, then the decision)."""
    return decide(count(conn, credential, tenant), credential_limit, tenant_limit)
