"""Reports over the ledger: usage by tenant/model/day and the catalogue with each deployment's health."""

from __future__ import annotations

from uuid import UUID

import psycopg

from allixios.ai.catalogue import Catalogue
from allixios.db.engine import fetch_dicts


def usage_report(conn: psycopg.Connection, tenant_id: UUID | None = None, days: int = 7) -> list[dict]:
    """Calls, tokens, cost and failures per tenant, deployment and UTC day, newest first."""
    return fetch_dicts(
        conn,
        """SELECT t.slug AS tenant, (u.created_at AT TIME ZONE 'UTC')::date AS day, u.deployment_id, u.model,
                  count(*) AS calls,
                  count(*) FILTER (WHERE u.status = 'success') AS ok,
                  count(*) FILTER (WHERE u.status = 'error') AS failures,
                  count(*) FILTER (WHERE u.status = 'skipped_budget') AS skipped_budget,
                  count(*) FILTER (WHERE u.status = 'circuit_open') AS circuit_open,
                  count(*) FILTER (WHERE u.status IN ('pending', 'interrupted')) AS in_flight_or_interrupted,
                  sum(u.tokens_in) AS tokens_in, sum(u.tokens_out) AS tokens_out,
                  sum(u.cost_usd) AS cost_usd,
                  round(avg(u.latency_ms) FILTER (WHERE u.status = 'success')) AS avg_latency_ms
           FROM ai_usage u LEFT JOIN tenants t ON t.id = u.tenant_id
           WHERE u.created_at >= date_trunc('day', now(), 'UTC') - make_interval(days => %s)
             AND (%s::uuid IS NULL OR u.tenant_id = %s)
           GROUP BY 1, 2, 3, 4 ORDER BY day DESC, tenant, cost_usd DESC""",
        (max(0, days - 1), tenant_id, tenant_id),
    )


def models_health(conn: psycopg.Connection, catalogue: Catalogue) -> list[dict]:
    """Every deployment with its key status, price, prior, circuit and last-24h record."""
    from allixios.ai.costs import price_of
    from allixios.errors import ConfigError

    circuits = {r["deployment_id"]: r for r in fetch_dicts(
        conn, "SELECT deployment_id, state, consecutive_failures, last_error_class FROM circuit_breakers")}
    recent = {r["deployment_id"]: r for r in fetch_dicts(
        conn,
        """SELECT deployment_id, count(*) AS calls, count(*) FILTER (WHERE status = 'error') AS failures,
                  round(avg(latency_ms) FILTER (WHERE status = 'success')) AS avg_latency_ms
           FROM ai_usage WHERE created_at > now() - interval '24 hours' GROUP BY 1""")}
    # reliability: share of provider attempts that succeeded in 7 days (budget/cap skips and circuit
    # skips are not the provider's fault and do not count); cost per request: mean cost of a
    # successful request including its failed attempts
    reliability = {r["deployment_id"]: r for r in fetch_dicts(
        conn,
        """SELECT deployment_id, count(*) FILTER (WHERE status = 'success') AS ok,
                  count(*) FILTER (WHERE status IN ('success', 'error', 'interrupted')
                                   AND coalesce(error_class, '') <> 'RateLimited') AS attempts,
                  sum(cost_usd) / nullif(count(DISTINCT request_id) FILTER (WHERE status = 'success'), 0)
                      AS usd_per_request
           FROM ai_usage WHERE created_at > now() - interval '7 days' GROUP BY 1""")}
    rows = []
    for d in catalogue.all_deployments():
        try:
            price = price_of(d)
            price_text = f"{price.input_per_token * 1e6:g}/{price.output_per_token * 1e6:g} ({price.source})"
        except ConfigError:
            price_text = "unknown: add price:"
        circuit = circuits.get(d.id, {})
        last = recent.get(d.id, {})
        key = d.key_status()
        if key.startswith("missing"):
            health = "unavailable (no key)"
        elif circuit.get("state", "closed") != "closed":
            health = f"circuit {circuit['state'].replace('_', '-')} ({circuit.get('last_error_class')})"
        elif d.stand_in and d not in catalogue.usable(d.alias):
            health = "standby (a real deployment is available)"
        else:
            health = "ok"
        rows.append({
            "alias": d.alias, "deployment": d.id, "model": d.model, "key": key,
            "usd_per_mtok_in_out": price_text, "quality_prior": d.quality_prior,
            "stand_in": d.stand_in, "health": health,
            "calls_24h": last.get("calls", 0), "failures_24h": last.get("failures", 0),
            "avg_latency_ms": last.get("avg_latency_ms"),
            "reliability_7d": (round(rel["ok"] / rel["attempts"], 4) if (rel := reliability.get(d.id)) and rel["attempts"]
                               else None),
            "usd_per_request": (round(float(rel["usd_per_request"]), 8)
                                if (rel := reliability.get(d.id)) and rel["usd_per_request"] is not None else None),
            "limits": ", ".join(f"{k} {v}" for k, v in d.limits.items()) or "-",
            "max_tokens": d.max_tokens, "languages": list(d.languages), "content_types": list(d.content_types),
            "default_params": dict(d.default_params), "weight": d.weight, "fine_tuned_from": d.fine_tuned_from,
        })
    return rows
