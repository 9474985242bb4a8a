"""Provider rate limits per deployment (the seed's RateLimit), shared by every process through PostgreSQL.

Each deployment may declare ``rpm``/``tpm`` (per minute) and ``rpd``/``tpd`` (per day) in the
catalogue. They are counted in fixed windows (``rate_window_s``, default 60 s, and
``rate_day_window_s``, default one UTC day) in ``ai_rate_windows``: an attempt is admitted by one
conditional upsert per window kind that adds its request and its estimated tokens only while the
window stays within the limits (the row lock of the upsert serialises processes; no advisory lock
or polling). Both kinds are taken in a savepoint, so a full day window gives the minute's slot back.
The window start comes from the database clock, so every process agrees on it.

Why not litellm's own rpm/tpm: the Router counts in process memory (or in Redis), so two Dagster
run workers would each allow the full rate. The Router still gets rpm/tpm for its own bookkeeping.

A full window is answered like a provider's 429 — without making the call: the client moves to the
next deployment that has room, or, when none has, waits until the soonest window opens (when that
is no longer than ``max_retry_after_s``), and records the wait on the attempt's ledger row
(``ai_usage.rate_wait_ms``, ``rate_limited_on``). Tokens are counted as prompt + expected output
at admission and corrected to the provider-reported total after the call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from allixios.ai.catalogue import Deployment, Policy

MINUTE, DAY = "minute", "day"


@dataclass(frozen=True)
class RatePermit:
    allowed: bool
    wait_s: float = 0.0  # when refused: until the fullest window opens again
    limit: str | None = None  # e.g. "rpm 2" (refused)
    windows: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (kind, window start) counted in
    tokens: int = 0  # tokens counted at admission


class _Full(Exception):  # noqa: N818 (rolls the savepoint back)
    def __init__(self, wait_s: float, limit: str):
        self.wait_s, self.limit = wait_s, limit


def _kinds(d: Deployment, policy: Policy) -> list[tuple[str, float, int | None, int | None]]:
    kinds = []
    if d.rpm or d.tpm:
        kinds.append((MINUTE, policy.rate_window_s, d.rpm, d.tpm))
    if d.rpd or d.tpd:
        kinds.append((DAY, policy.rate_day_window_s, d.rpd, d.tpd))
    return kinds


_UPSERT = """
WITH w AS (SELECT to_timestamp(floor(extract(epoch FROM clock_timestamp()) / %(w)s) * %(w)s) AS start)
INSERT INTO ai_rate_windows AS r (deployment_id, window_kind, window_start, requests, tokens)
SELECT %(d)s, %(k)s, w.start, 1, %(t)s FROM w
ON CONFLICT (deployment_id, window_kind, window_start) DO UPDATE
   SET requests = r.requests + 1, tokens = r.tokens + EXCLUDED.tokens
   WHERE r.requests + 1 <= %(rl)s AND (r.tokens = 0 OR r.tokens + EXCLUDED.tokens <= %(tl)s)
RETURNING r.window_start::text"""

_WAIT = """
SELECT greatest(0, extract(epoch FROM to_timestamp(floor(extract(epoch FROM clock_timestamp()) / %(w)s) * %(w)s)
                + make_interval(secs => %(w)s) - clock_timestamp()))::float8"""


def acquire(conn: psycopg.Connection, d: Deployment, tokens: int, policy: Policy) -> RatePermit:
    """Count one request of ``tokens`` against every window of the deployment, or refuse with the wait."""
    kinds = _kinds(d, policy)
    if not kinds:
        return RatePermit(True)
    taken: list[tuple[str, str]] = []
    try:
        with conn.transaction():  # savepoint: a full day window undoes the minute's count
            for kind, window_s, rl, tl in kinds:
                # a request larger than the whole token limit still goes alone into an empty window
                row = conn.execute(_UPSERT, {"w": window_s, "d": d.id, "k": kind, "t": tokens,
                                             "rl": rl or 2**31 - 1, "tl": tl or 2**62}).fetchone()
                if row is None:
                    wait = conn.execute(_WAIT, {"w": window_s}).fetchone()[0]
                    limit = (f"rpm {rl}" if kind == MINUTE else f"rpd {rl}") if rl else \
                        (f"tpm {tl}" if kind == MINUTE else f"tpd {tl}")
                    raise _Full(float(wait), limit)
                taken.append((kind, row[0]))
    except _Full as full:
        return RatePermit(False, full.wait_s, full.limit)
    return RatePermit(True, windows=tuple(taken), tokens=tokens)


def correct(conn: psycopg.Connection, d: Deployment, permit: RatePermit | None, actual_tokens: int) -> None:
    """Replace the admission's token estimate by what the provider reported (same windows)."""
    if permit is None or not permit.windows or actual_tokens == permit.tokens:
        return
    for kind, start in permit.windows:
        conn.execute("""UPDATE ai_rate_windows SET tokens = greatest(0, tokens + %s)
                        WHERE deployment_id = %s AND window_kind = %s AND window_start = %s::timestamptz""",
                     (actual_tokens - permit.tokens, d.id, kind, start))


def give_back(conn: psycopg.Connection, d: Deployment, permit: RatePermit | None) -> None:
    """Undo an admission whose call is not made after all (circuit open): same transaction."""
    if permit is None or not permit.windows:
        return
    for kind, start in permit.windows:
        conn.execute("""UPDATE ai_rate_windows SET requests = greatest(0, requests - 1), tokens = greatest(0, tokens - %s)
                        WHERE deployment_id = %s AND window_kind = %s AND window_start = %s::timestamptz""",
                     (permit.tokens, d.id, kind, start))


def usage(conn: psycopg.Connection) -> dict[str, dict[str, tuple[int, int]]]:
    """deployment id -> {kind: (requests, tokens)} in the windows open now (for `allixios ai models`)."""
    rows = conn.execute(
        """SELECT deployment_id, window_kind, requests, tokens FROM ai_rate_windows
           WHERE window_start > clock_timestamp() - interval '1 day' ORDER BY window_start""").fetchall()
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for dep, kind, req, tok in rows:
        out.setdefault(dep, {})[kind] = (req, tok)  # the latest window of each kind wins
    return out


def prune(conn: psycopg.Connection, older_than: str = "2 days") -> int:
    """Drop windows long closed (they only matter while open)."""
    return conn.execute(f"DELETE FROM ai_rate_windows WHERE window_start < now() - interval '{older_than}'").rowcount
