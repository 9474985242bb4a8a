{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_window('day') }}",
        indexes=[{'columns': ['tenant_id', 'day']}],
    )
}}
-- One row per niche and day: traffic, revenue by source, RPM, engagement, and the niche's SEO
-- score from its latest SEO report on or before the day. Articles without a niche roll up under a
-- null niche_id.
with perf as (
    select * from {{ ref('fct_article_daily_performance') }}
    where day between {{ window_start() }} and {{ window_end() }}
),

visitors as (
    -- distinct visitors across the niche's articles (a reader of two articles counts once)
    select a.niche_id, e.tenant_id, e.day, count(distinct e.visitor_hash) as unique_visitors
    from {{ ref('stg_page_events') }} e
    join {{ ref('stg_articles') }} a on a.article_id = e.article_id
    where e.day between {{ window_start() }} and {{ window_end() }}
    group by a.niche_id, e.tenant_id, e.day
),

rollup as (
    select
        tenant_id,
        niche_id,
        day,
        count(*) as articles_live,
        count(*) filter (where views > 0) as articles_with_views,
        sum(views) as views,
        sum(revenue_usd) as revenue_usd,
        sum(ads_usd) as ads_usd,
        sum(affiliate_usd) as affiliate_usd,
        sum(sponsorship_usd) as sponsorship_usd,
        round(sum(engagement_score * views) / nullif(sum(views) filter (where engagement_score is not null), 0), 1)
            as avg_engagement_score
    from perf
    group by tenant_id, niche_id, day
)

select
    r.tenant_id,
    r.niche_id,
    r.day,
    r.articles_live,
    r.articles_with_views,
    r.views,
    coalesce(v.unique_visitors, 0) as unique_visitors,
    r.revenue_usd,
    r.ads_usd,
    r.affiliate_usd,
    r.sponsorship_usd,
    round(1000 * r.revenue_usd / nullif(r.views, 0), 4) as rpm_usd,
    r.avg_engagement_score,
    seo.avg_seo as niche_avg_seo
from rollup r
left join visitors v
  on v.tenant_id = r.tenant_id and v.day = r.day and v.niche_id is not distinct from r.niche_id
left join lateral (
    select s.avg_seo from {{ ref('stg_seo_reports') }} s
    where s.niche_id = r.niche_id and s.report_date <= r.day
    order by s.report_date desc
    limit 1
) seo on true
