{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_window('day') }}",
        indexes=[{'columns': ['day']}, {'columns': ['tenant_id', 'article_id', 'day']}],
    )
}}
-- One row per article and day with data: every article live that day (zero views included, so a
-- collapse shows), plus any article that had events. Recomputes the window [start_date, end_date].
with days as (
    select tenant_id, day
    from {{ ref('int_tenant_event_days') }}
    where day between {{ window_start() }} and {{ window_end() }}
),

views as (
    select * from {{ ref('int_page_views_by_article_day') }}
    where day between {{ window_start() }} and {{ window_end() }}
),

revenue as (
    select * from {{ ref('int_revenue_by_article_day') }}
    where day between {{ window_start() }} and {{ window_end() }}
),

grid as (
    select a.tenant_id, a.article_id, d.day
    from {{ ref('stg_articles') }} a
    join days d on d.tenant_id = a.tenant_id and a.published_date <= d.day
    where a.status = 'published'
    union
    select tenant_id, article_id, day from views
    union
    select tenant_id, article_id, day from revenue
)

select
    g.tenant_id,
    a.niche_id,
    g.article_id,
    g.day,
    coalesce(v.views, 0) as views,
    coalesce(v.unique_visitors, 0) as unique_visitors,
    coalesce(v.sessions, 0) as sessions,
    round(v.avg_time_on_page_s::numeric, 1) as avg_time_on_page_s,
    round(v.avg_scroll_depth::numeric, 3) as avg_scroll_depth,
    round(v.bounces::numeric / nullif(v.sessions, 0), 3) as bounce_rate,
    case when v.views > 0
         then {{ engagement_score('v.avg_time_on_page_s', 'v.avg_scroll_depth', 'v.bounces::numeric / nullif(v.sessions, 0)') }}
    end as engagement_score,
    coalesce(r.revenue_usd, 0) as revenue_usd,
    coalesce(r.ads_usd, 0) as ads_usd,
    coalesce(r.affiliate_usd, 0) as affiliate_usd,
    coalesce(r.sponsorship_usd, 0) as sponsorship_usd,
    coalesce(r.revenue_events, 0) as revenue_events,
    round(1000 * coalesce(r.revenue_usd, 0) / nullif(v.views, 0), 4) as rpm_usd
from grid g
join {{ ref('stg_articles') }} a on a.article_id = g.article_id
left join views v on v.article_id = g.article_id and v.day = g.day
left join revenue r on r.article_id = g.article_id and r.day = g.day
