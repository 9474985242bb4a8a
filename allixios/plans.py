"""Plans, limits and feature flags of a tenant (the seed's `plan_type`, `limits`, `feature_flags`).

A plan gives defaults; `tenants.limits` and `tenants.feature_flags` override them key by key
(`allixios tenants limits|flags|plan`). Limits are enforced where the limited thing happens:

- ``articles_per_day``: drafts inserted per UTC day (allixios/content/article_drafts.py) — the
  drafting step plans only as many LLM calls as are left, and the insert counts atomically;
- ``seats``: enabled person users (allixios/identity/users.py); ``api_keys``: live API keys
  (allixios/identity/keys.py) — checked under a lock on the tenant row, so two concurrent adds
  cannot both take the last seat;
- ``api_calls_per_day``: authenticated API requests per UTC day, counted by the API's auth layer
  next to the per-minute rate limits (``api_requests_per_minute``, allixios/api/ratelimit.py).

A limit of None is "no limit". Counters live in `tenant_usage` keyed by tenant: one tenant's
counters are never read or written on another's behalf.

Flags are tri-state: True/False switch a feature on/off for the tenant; absent means the feature's
own default (its configuration). Known flags: ``learned_routing`` (writer routing by revenue,
allixios/ai/client.py), ``translation`` (allixios/content/translation.py).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from allixios.errors import AllixiosError, NotFoundError, ValidationError

LIMIT_KEYS = ("articles_per_day", "seats", "api_keys", "api_calls_per_day", "api_requests_per_minute",
              "api_requests_per_minute_per_credential")
FLAG_KEYS = ("learned_routing", "translation")

# self_hosted: the default of an operator's own installation (nothing limited, features as configured);
# the others are the seed's SaaS tiers
PLANS: dict[str, dict[str, dict[str, Any]]] = {
    "self_hosted": {"limits": {}, "flags": {}},
    "free": {"limits": {"articles_per_day": 5, "seats": 2, "api_keys": 2, "api_calls_per_day": 1_000,
                        "api_requests_per_minute": 60},
             "flags": {"learned_routing": False, "translation": False}},
    "pro": {"limits": {"articles_per_day": 50, "seats": 10, "api_keys": 20, "api_calls_per_day": 100_000,
                       "api_requests_per_minute": 1_200},
            "flags": {"learned_routing": True, "translation": True}},
    "enterprise": {"limits": {"articles_per_day": 1_000, "seats": 200, "api_keys": 500,
                              "api_calls_per_day": 5_000_000},
                   "flags": {"learned_routing": True, "translation": True}},
}

_FIX = "raise it with `allixios tenants limits --set {key}=N` or move to a larger plan (`allixios tenants plan`)"


class PlanLimitError(AllixiosError):
    """A limit of the tenant's plan is reached: nothing was done."""

    def __init__(self, key: str, limit: int, what: str, *, status: int = 403, retry_after_s: int | None = None):
        super().__init__(f"the tenant's limit of {limit} {what} is reached ({key})", fix=_FIX.format(key=key))
        self.key, self.limit, self.status, self.retry_after_s = key, limit, status, retry_after_s


def _row(conn: psycopg.Connection, tenant_id: UUID, *, lock: bool = False) -> tuple[str, dict, dict]:
    row = conn.execute("SELECT plan_type, limits, feature_flags FROM tenants WHERE id = %s"
                       + (" FOR UPDATE" if lock else ""), (tenant_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"tenant {tenant_id} not found")
    return row[0], dict(row[1] or {}), dict(row[2] or {})


def effective(plan: str, limits: dict, flags: dict) -> tuple[dict[str, int | None], dict[str, bool | None]]:
    """The plan's defaults overridden by the tenant's own values (JSON null = no limit)."""
    base = PLANS.get(plan, PLANS["self_hosted"])
    lim = {k: limits[k] if k in limits else base["limits"].get(k) for k in LIMIT_KEYS}
    fl = {k: flags[k] if k in flags else base["flags"].get(k) for k in FLAG_KEYS}
    return lim, fl


def limits_of(conn: psycopg.Connection, tenant_id: UUID, *, lock: bool = False) -> dict[str, int | None]:
    return effective(*_row(conn, tenant_id, lock=lock))[0]


def flag(conn: psycopg.Connection, tenant_id: UUID | None, name: str) -> bool | None:
    """True/False when the tenant's plan or flags decide the feature; None: the feature's own default."""
    if tenant_id is None:
        return None
    row = conn.execute("SELECT plan_type, limits, feature_flags FROM tenants WHERE id = %s", (tenant_id,)).fetchone()
    return None if row is None else effective(row[0], dict(row[1] or {}), dict(row[2] or {}))[1].get(name)


# --- counters -------------------------------------------------------------------------------------
_TODAY = "(now() AT TIME ZONE 'UTC')::date"


def used_today(conn: psycopg.Connection, tenant_id: UUID, metric: str) -> int:
    row = conn.execute(f"SELECT count FROM tenant_usage WHERE tenant_id = %s AND metric = %s AND day = {_TODAY}",
                       (tenant_id, metric)).fetchone()
    return int(row[0]) if row else 0


def left_today(conn: psycopg.Connection, tenant_id: UUID, key: str) -> int | None:
    """How many more of ``key`` (a per-day limit) the tenant may use today; None = unlimited."""
    limit = limits_of(conn, tenant_id).get(key)
    return None if limit is None else max(0, int(limit) - used_today(conn, tenant_id, key))


def count(conn: psycopg.Connection, tenant_id: UUID, key: str, what: str, *, limit: int | None = None,
          status: int = 403, limit_known: bool = False, uses: int = 1) -> int:
    """Count ``uses`` uses of a per-day limit, atomically; PlanLimitError (and none counted) when
    they would go past it.

    The UPSERT holds the counter row's lock until the transaction ends, so concurrent callers are
    serialised and at most ``limit`` uses get through per day. A refused use is not counted: the
    increment is undone in the same statement's transaction by the caller's rollback, or here.
    ``limit_known``: ``limit`` was read by the caller in this transaction (None = no limit), so a
    caller counting many uses (a batch of drafts) reads the plan once, not once per use.
    """
    if limit is None and not limit_known:
        limit = limits_of(conn, tenant_id).get(key)
    row = conn.execute(
        f"""INSERT INTO tenant_usage AS u (tenant_id, metric, day, count) VALUES (%s, %s, {_TODAY}, %s)
            ON CONFLICT (tenant_id, metric, day) DO UPDATE SET count = u.count + EXCLUDED.count RETURNING count""",
        (tenant_id, key, uses)).fetchone()
    if limit is not None and row[0] > int(limit):
        conn.execute(f"UPDATE tenant_usage SET count = count - %s WHERE tenant_id = %s AND metric = %s AND day = {_TODAY}",
                     (uses, tenant_id, key))
        raise PlanLimitError(key, int(limit), what, status=status, retry_after_s=seconds_to_midnight(conn))
    return row[0]


def seconds_to_midnight(conn: psycopg.Connection) -> int:
    return int(conn.execute("SELECT ceil(extract(epoch FROM date_trunc('day', now() AT TIME ZONE 'UTC') "
                            "+ interval '1 day' - now() AT TIME ZONE 'UTC'))").fetchone()[0])


def check_seats(conn: psycopg.Connection, tenant_id: UUID, key: str) -> None:
    """Before adding a user (``seats``) or an API key (``api_keys``): PlanLimitError when none is left."""
    limit = limits_of(conn, tenant_id, lock=True).get(key)  # the row lock serialises concurrent adds
    if limit is None:
        return
    if key == "seats":
        used = conn.execute("""SELECT count(*) FROM users WHERE tenant_id = %s AND kind = 'person'
                               AND disabled_at IS NULL AND deleted_at IS NULL""", (tenant_id,)).fetchone()[0]
        what = "seats (enabled users)"
    else:
        used = conn.execute("""SELECT count(*) FROM api_keys WHERE tenant_id = %s AND revoked_at IS NULL
                               AND (expires_at IS NULL OR expires_at > now())""", (tenant_id,)).fetchone()[0]
        what = "live API keys"
    if used >= int(limit):
        raise PlanLimitError(key, int(limit), what)


# --- configuration (CLI) ------------------------------------------------------------------------
def _parse_limit(key: str, value: str) -> int | None:
    if key not in LIMIT_KEYS:
        raise ValidationError(f"unknown limit {key!r}", fix=f"use one of {', '.join(LIMIT_KEYS)}")
    if value.strip().lower() in ("none", "unlimited", ""):
        return None
    try:
        number = int(value)
    except ValueError:
        raise ValidationError(f"limit {key}={value!r} is not a whole number", fix=f"write {key}=N or {key}=none") from None
    if number < 0:
        raise ValidationError(f"limit {key}={number} is negative", fix="use 0 or more, or none for no limit")
    return number


def set_limits(conn: psycopg.Connection, tenant_id: UUID, assignments: list[str], unset: list[str]) -> None:
    changes: dict[str, int | None] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValidationError(f"{item!r} is not KEY=VALUE", fix="write e.g. --set articles_per_day=20")
        changes[key.strip()] = _parse_limit(key.strip(), value)
    for key in unset:
        _parse_limit(key, "none")
    conn.execute("UPDATE tenants SET limits = (limits || %s) - %s::text[], updated_at = now() WHERE id = %s",
                 (Jsonb(changes), list(unset), tenant_id))


def set_flags(conn: psycopg.Connection, tenant_id: UUID, enable: list[str], disable: list[str], unset: list[str]) -> None:
    for name in [*enable, *disable, *unset]:
        if name not in FLAG_KEYS:
            raise ValidationError(f"unknown feature flag {name!r}", fix=f"use one of {', '.join(FLAG_KEYS)}")
    changes = {n: True for n in enable} | {n: False for n in disable}
    conn.execute("UPDATE tenants SET feature_flags = (feature_flags || %s) - %s::text[], updated_at = now() WHERE id = %s",
                 (Jsonb(changes), list(unset), tenant_id))


def set_plan(conn: psycopg.Connection, tenant_id: UUID, plan: str) -> None:
    if plan not in PLANS:
        raise ValidationError(f"unknown plan {plan!r}", fix=f"use one of {', '.join(PLANS)}")
    conn.execute("UPDATE tenants SET plan_type = %s, updated_at = now() WHERE id = %s", (plan, tenant_id))


def describe(conn: psycopg.Connection, tenant_id: UUID) -> dict[str, Any]:
    """Plan, effective limits with today's use, and flags: what `allixios tenants show` prints."""
    plan, limits, flags = _row(conn, tenant_id)
    lim, fl = effective(plan, limits, flags)
    used = dict(conn.execute(f"SELECT metric, count FROM tenant_usage WHERE tenant_id = %s AND day = {_TODAY}",
                             (tenant_id,)).fetchall())
    return {"plan": plan, "limits": [{"limit": k, "value": v, "source": "tenant" if k in limits else "plan",
                                      "used_today": used.get(k)} for k, v in lim.items()],
            "flags": [{"flag": k, "value": v, "source": "tenant" if k in flags else ("plan" if v is not None else
                                                                                      "feature default")}
                      for k, v in fl.items()]}
