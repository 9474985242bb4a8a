"""Which articles a refresh may be requested for: the one rule shared by the score-drop candidates
(`score_drop.due_for_refresh`) and the predicted-decay candidates (`analytics.forecast.predicted_decay`).

Left out: tenants whose AI budget is spent (the running totals of `ai_spend`, the same figures budget
admission refuses a paid call on), articles someone holds an edit lock on, and articles with a
refresh request within the cooldown. The statements using it pass ``%(cooldown)s`` (days).
"""

from __future__ import annotations

# Tenants with a budget whose current period is spent (a budget of 0 counts as spent).
EXHAUSTED_TENANTS = """
    SELECT b.tenant_id FROM ai_budgets b
    LEFT JOIN ai_spend s ON s.tenant_id = b.tenant_id AND s.period = b.period
         AND s.period_start = CASE b.period WHEN 'daily' THEN (now() AT TIME ZONE 'UTC')::date
                                            ELSE date_trunc('month', now() AT TIME ZONE 'UTC')::date END
    WHERE coalesce(s.spent_usd, 0) >= b.limit_usd"""


def refresh_allowed(alias: str) -> str:
    """The WHERE condition on a candidate row ``alias`` (with ``tenant_id`` and ``article_id``)."""
    return f"""{alias}.tenant_id NOT IN ({EXHAUSTED_TENANTS})
          AND NOT EXISTS (SELECT 1 FROM edit_locks l WHERE l.article_id = {alias}.article_id AND l.expires_at > now())
          AND NOT EXISTS (SELECT 1 FROM refresh_requests r WHERE r.article_id = {alias}.article_id
                          AND r.requested_at > now() - make_interval(days => %(cooldown)s))"""
