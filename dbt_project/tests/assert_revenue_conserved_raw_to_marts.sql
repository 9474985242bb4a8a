{{ config(meta={'dagster': {'ref': {'name': 'fct_niche_revenue_daily'}}}) }}
-- Revenue is conserved: for every day of the build window, the USD loaded into raw.revenue_events
-- equals the article facts' total and the niche facts' total (to the micro-dollar).
with raw_revenue as (
    select day, sum(usd) as usd from (
        select event_date as day, amount_usd as usd
        from {{ source('raw', 'revenue_events') }}
        where event_date between {{ window_start() }} and {{ window_end() }}
        union all  -- imported affiliate/ad revenue attributed to an article (models/staging/_imports.yml)
        select day, amount_usd from {{ ref('int_imported_revenue_events') }}
        where day between {{ window_start() }} and {{ window_end() }}
    ) revenue
    group by 1
),

articles as (
    select day, sum(revenue_usd) as usd
    from {{ ref('fct_article_daily_performance') }}
    where day between {{ window_start() }} and {{ window_end() }}
    group by 1
),

niches as (
    select day, sum(revenue_usd) as usd
    from {{ ref('fct_niche_revenue_daily') }}
    where day between {{ window_start() }} and {{ window_end() }}
    group by 1
)

select
    coalesce(r.day, a.day, n.day) as day,
    r.usd as raw_usd,
    a.usd as article_fact_usd,
    n.usd as niche_fact_usd
from raw_revenue r
full join articles a on a.day = r.day
full join niches n on n.day = coalesce(r.day, a.day)
where abs(coalesce(r.usd, 0) - coalesce(a.usd, 0)) > 0.000001
   or abs(coalesce(r.usd, 0) - coalesce(n.usd, 0)) > 0.000001
