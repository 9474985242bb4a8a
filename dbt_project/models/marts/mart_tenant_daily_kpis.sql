{{ config(materialized='view') }}
-- Tenant-wide KPIs per day. A view (security_invoker): it reads fct_niche_revenue_daily with the
-- caller's rights, so an analyst sees only their tenant's days.
select
    tenant_id,
    day,
    sum(views) as views,
    sum(revenue_usd) as revenue_usd,
    round(1000 * sum(revenue_usd) / nullif(sum(views), 0), 4) as rpm_usd,
    sum(articles_with_views) as articles_with_views,
    round(sum(avg_engagement_score * views) / nullif(sum(views) filter (where avg_engagement_score is not null), 0), 1)
        as avg_engagement_score
from {{ ref('fct_niche_revenue_daily') }}
group by tenant_id, day
