"""Revenue KPIs over the dbt marts, their reconciliation with the marts, and a Markdown table helper.

Read by the ``revenue_metrics`` asset for one partition day; every query is set-based over the
marts (indexed on day), never a loop over articles.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import psycopg

from allixios.db.engine import fetch_dicts

TREND_DAYS = 14
RANK_DAYS = 7


def revenue_kpis(conn: psycopg.Connection, day: date, tenant_id=None) -> dict[str, Any]:
    """KPIs for ``day`` (all tenants, or one): the day's totals, a 14-day trend, top and bottom
    articles over the last 7 days, ROI by model and by niche, and today's drop flags."""
    scope = "AND tenant_id = %(tenant)s" if tenant_id else ""
    params = {"day": day, "trend_start": day - timedelta(days=TREND_DAYS - 1),
              "rank_start": day - timedelta(days=RANK_DAYS - 1), "tenant": tenant_id}
    trend = fetch_dicts(
        conn,
        f"""SELECT d.day::date AS day, coalesce(sum(f.views), 0)::bigint AS views,
                   coalesce(sum(f.revenue_usd), 0)::float AS revenue_usd
            FROM generate_series(%(trend_start)s::date, %(day)s::date, interval '1 day') AS d(day)
            LEFT JOIN marts.fct_niche_revenue_daily f ON f.day = d.day::date {scope.replace('tenant_id', 'f.tenant_id')}
            GROUP BY 1 ORDER BY 1""",
        params,
    )
    today = trend[-1]
    previous_week = sum(r["revenue_usd"] for r in trend[-14:-7])
    this_week = sum(r["revenue_usd"] for r in trend[-7:])
    ranked = fetch_dicts(
        conn,
        f"""WITH week AS (
                SELECT article_id, sum(views) AS views, sum(revenue_usd) AS revenue_usd
                FROM marts.fct_article_daily_performance
                WHERE day BETWEEN %(rank_start)s AND %(day)s {scope}
                GROUP BY article_id
            )
            SELECT d.title, coalesce(d.niche_slug, '-') AS niche, w.views::bigint AS views,
                   round(w.revenue_usd, 4)::float AS revenue_usd,
                   round(1000 * w.revenue_usd / nullif(w.views, 0), 2)::float AS rpm_usd,
                   row_number() OVER (ORDER BY w.revenue_usd DESC, d.article_id) AS top_rank,
                   row_number() OVER (ORDER BY w.revenue_usd ASC, d.article_id) AS bottom_rank
            FROM week w JOIN marts.dim_articles d USING (article_id)""",
        params,
    )
    roi_by = {}
    for dimension in ("model", "niche_slug"):
        roi_by[dimension] = fetch_dicts(
            conn,
            f"""SELECT coalesce({dimension}, '-') AS {dimension}, count(article_id) AS articles,
                       round(sum(generation_cost_usd), 4)::float AS cost_usd,
                       round(sum(revenue_to_date_usd), 4)::float AS revenue_usd,
                       round((sum(revenue_to_date_usd) - sum(generation_cost_usd))
                             / nullif(sum(generation_cost_usd), 0), 2)::float AS roi,
                       count(*) FILTER (WHERE payback_day IS NOT NULL) AS paid_back
                FROM marts.mart_ai_cost_roi WHERE true {scope}
                GROUP BY 1 ORDER BY revenue_usd DESC""",
            params,
        )
    drops = conn.execute(
        f"SELECT count(*) FILTER (WHERE is_drop), count(*) FROM marts.mart_content_health WHERE day = %(day)s {scope}",
        params,
    ).fetchone()
    return {
        "day": day.isoformat(),
        "views": int(today["views"]),
        "revenue_usd": round(today["revenue_usd"], 4),
        "rpm_usd": round(1000 * today["revenue_usd"] / today["views"], 4) if today["views"] else 0.0,
        "revenue_7d_usd": round(this_week, 4),
        "revenue_7d_change_pct": round(100 * (this_week - previous_week) / previous_week, 1) if previous_week else None,
        "trend": trend,
        "top_articles": [r for r in sorted(ranked, key=lambda r: r["top_rank"]) if r["top_rank"] <= 5],
        "bottom_articles": [r for r in sorted(ranked, key=lambda r: r["bottom_rank"]) if r["bottom_rank"] <= 5],
        "roi_by_model": roi_by["model"],
        "roi_by_niche": roi_by["niche_slug"],
        "articles_flagged_drop": int(drops[0] or 0),
        "articles_in_health_mart": int(drops[1] or 0),
    }


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    if not rows:
        return "_no rows_"
    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:,.4f}" if abs(value) < 1 else f"{value:,.2f}"
        return str(value).replace("|", "/") if value is not None else "-"
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


RECONCILE_TOLERANCE_USD = 0.0001


def reconcile_with_marts(conn: psycopg.Connection, kpis: dict[str, Any], tenant_id=None) -> list[str]:
    """What does not add up between the KPIs of ``kpis["day"]`` and the marts, one line each
    (empty when everything reconciles). The day's views and revenue (read from
    fct_niche_revenue_daily) must equal the article facts' and the tenant KPI view's totals; the ROI
    tables by model and by niche must both add up to mart_ai_cost_roi's cost and revenue."""
    scope = "AND tenant_id = %(tenant)s" if tenant_id else ""
    params = {"day": kpis["day"], "tenant": tenant_id}
    problems: list[str] = []
    for relation in ("marts.fct_article_daily_performance", "marts.mart_tenant_daily_kpis"):
        views, revenue = conn.execute(
            f"""SELECT coalesce(sum(views), 0)::bigint, coalesce(sum(revenue_usd), 0)::float
                FROM {relation} WHERE day = %(day)s {scope}""",
            params,
        ).fetchone()
        if int(views) != kpis["views"]:
            problems.append(f"views {kpis['views']} != {views} in {relation}")
        if abs(round(revenue, 4) - kpis["revenue_usd"]) > RECONCILE_TOLERANCE_USD:
            problems.append(f"revenue_usd {kpis['revenue_usd']} != {round(revenue, 4)} in {relation}")
    cost, revenue = conn.execute(
        f"""SELECT coalesce(sum(generation_cost_usd), 0)::float, coalesce(sum(revenue_to_date_usd), 0)::float
            FROM marts.mart_ai_cost_roi WHERE true {scope}""",
        params,
    ).fetchone()
    for table in ("roi_by_model", "roi_by_niche"):
        rows = kpis[table]
        # each row is rounded to 4 places: allow that rounding per row
        slack = RECONCILE_TOLERANCE_USD * (len(rows) + 1)
        if abs(sum(r["cost_usd"] or 0 for r in rows) - cost) > slack:
            problems.append(f"{table} cost {sum(r['cost_usd'] or 0 for r in rows):.4f} != {cost:.4f} in marts.mart_ai_cost_roi")
        if abs(sum(r["revenue_usd"] or 0 for r in rows) - revenue) > slack:
            problems.append(
                f"{table} revenue {sum(r['revenue_usd'] or 0 for r in rows):.4f} != {revenue:.4f} in marts.mart_ai_cost_roi"
            )
    return problems
