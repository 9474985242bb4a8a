{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_window('day') }}",
        indexes=[{'columns': ['day']}, {'columns': ['tenant_id', 'article_id', 'day']}],
    )
}}
-- Daily health of each article: engagement, current quality/SEO scores, revenue, their trailing
-- 7-day baselines (the 7 days before, the day itself excluded) and the drop flag the score-drop
-- sensor reads. Thresholds are project vars (dbt_project.yml), documented in docs/areas/analytics.md.
with perf as (
    -- the window plus the 7 days before it, for the baselines
    select tenant_id, niche_id, article_id, day, views, unique_visitors, engagement_score, revenue_usd
    from {{ ref('fct_article_daily_performance') }}
    where day between {{ window_start() }} - 7 and {{ window_end() }}
),

baselines as (
    select
        p.*,
        avg(engagement_score) over last_week as baseline_engagement,
        count(engagement_score) over last_week as baseline_days,
        avg(revenue_usd) over last_week as baseline_revenue_usd
    from perf p
    window last_week as (
        partition by article_id order by day
        range between interval '7 days' preceding and interval '1 day' preceding
    )
),

drops as (
    select
        b.*,
        case when b.baseline_engagement > 0 and b.engagement_score is not null
             then round(100 * (b.baseline_engagement - b.engagement_score) / b.baseline_engagement, 1)
        end as engagement_drop_pct,
        case when b.baseline_revenue_usd > 0
             then round(100 * (b.baseline_revenue_usd - b.revenue_usd) / b.baseline_revenue_usd, 1)
        end as revenue_drop_pct
    from baselines b
    where b.day between {{ window_start() }} and {{ window_end() }}
),

flagged as (
    select
        d.*,
        d.baseline_days >= {{ var('drop_min_baseline_days') }}
            and d.views >= {{ var('drop_min_views') }}
            and coalesce(d.engagement_drop_pct, 0) >= {{ var('drop_engagement_pct') }} as engagement_dropped,
        d.baseline_days >= {{ var('drop_min_baseline_days') }}
            and coalesce(d.baseline_revenue_usd, 0) >= {{ var('drop_min_baseline_revenue_usd') }}
            and coalesce(d.revenue_drop_pct, 0) >= {{ var('drop_revenue_pct') }} as revenue_dropped
    from drops d
)

select
    f.tenant_id,
    f.niche_id,
    f.article_id,
    f.day,
    f.views,
    f.unique_visitors,
    f.engagement_score,
    a.quality_score,
    a.seo_score,
    f.revenue_usd,
    round(f.baseline_engagement, 1) as baseline_engagement,
    round(f.baseline_revenue_usd, 4) as baseline_revenue_usd,
    f.baseline_days,
    f.engagement_drop_pct,
    f.revenue_drop_pct,
    (f.engagement_dropped or f.revenue_dropped) as is_drop,
    case
        when f.engagement_dropped and f.revenue_dropped then 'engagement+revenue'
        when f.engagement_dropped then 'engagement'
        when f.revenue_dropped then 'revenue'
    end as drop_reason
from flagged f
join {{ ref('dim_articles') }} a on a.article_id = f.article_id
