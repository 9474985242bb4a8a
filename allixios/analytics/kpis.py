"""Revenue KPIs over the dbt marts, and their rendering as Markdown (tables, bars, a sparkline).

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
SPARK = "▁▂▃▄▅▆▇█"


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


def sparkline(values: list[float]) -> str:
    if not values:
        return ""
    low, high = min(values), max(values)
    span = high - low or 1.0
    return "".join(SPARK[min(len(SPARK) - 1, int((v - low) / span * (len(SPARK) - 1) + 0.5))] for v in values)


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


def trend_chart(trend: list[dict]) -> str:
    """Daily revenue as a sparkline and a bar chart in a Markdown table (renders in the Dagster UI)."""
    revenue = [r["revenue_usd"] for r in trend]
    peak = max(revenue) or 1.0
    rows = [
        {"day": str(r["day"]), "views": r["views"], "revenue_usd": r["revenue_usd"],
         "": "█" * max(0, round(24 * r["revenue_usd"] / peak))}
        for r in trend
    ]
    return f"`{sparkline(revenue)}` revenue, last {len(trend)} days\n\n" + markdown_table(rows, ["day", "views", "revenue_usd", ""])
