{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_window('day') }}",
        indexes=[{'columns': ['day']}, {'columns': ['tenant_id', 'article_id', 'day']}],
    )
}}
-- Daily health of each article: engagement, current quality/SEO scores, revenue and Search
-- Console signals (clicks, impressions, position), their trailing 7-day baselines (the 7 days
-- before, the day itself excluded), the drop flag the score-drop sensor reads and the composite
-- health_score. Thresholds are project vars (dbt_project.yml; the search ones default here), the
-- formula is documented in docs/areas/analytics.md ("Content health").
with perf as (
    -- the window plus the 7 days before it, for the baselines
    select p.tenant_id, p.niche_id, p.article_id, p.day, p.views, p.unique_visitors, p.engagement_score,
           p.revenue_usd, s.clicks, s.impressions, s.avg_position
    from {{ ref('fct_article_daily_performance') }} p
    left join {{ ref('mart_search_performance_daily') }} s
        on s.article_id = p.article_id and s.day = p.day and s.day between {{ window_start() }} - 7 and {{ window_end() }}
    where p.day between {{ window_start() }} - 7 and {{ window_end() }}
),

baselines as (
    select
        p.*,
        avg(engagement_score) over last_week as baseline_engagement,
        count(engagement_score) over last_week as baseline_days,
        avg(revenue_usd) over last_week as baseline_revenue_usd,
        -- search: days with a Search Console row only (its data arrives days late: a missing day is unknown, not 0)
        count(impressions) over last_week as search_baseline_days,
        avg(clicks) over last_week as baseline_clicks,
        avg(impressions) over last_week as baseline_impressions,
        sum(avg_position * impressions) over last_week / nullif(sum(impressions) filter (where avg_position is not null) over last_week, 0)
            as baseline_position
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
        end as revenue_drop_pct,
        case when b.baseline_clicks > 0 and b.clicks is not null
             then round(100 * (b.baseline_clicks - b.clicks) / b.baseline_clicks, 1)
        end as click_drop_pct,
        case when b.baseline_impressions > 0 and b.impressions is not null
             then round(100 * (b.baseline_impressions - b.impressions) / b.baseline_impressions, 1)
        end as impression_drop_pct,
        round(b.avg_position - b.baseline_position, 2) as position_change
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
            and coalesce(d.revenue_drop_pct, 0) >= {{ var('drop_revenue_pct') }} as revenue_dropped,
        d.search_baseline_days >= {{ var('drop_min_baseline_days') }}
            and coalesce(d.baseline_impressions, 0) >= {{ var('drop_min_baseline_impressions', 50) }}
            and (coalesce(d.click_drop_pct, 0) >= {{ var('drop_clicks_pct', 50) }}
                 or coalesce(d.position_change, 0) >= {{ var('drop_position_places', 3) }}) as search_dropped
    from drops d
),

components as (
    -- each signal as 0-100 (null when unknown): search = mean of position (1 -> 100, 11+ -> 0) and
    -- clicks against their baseline; revenue = revenue against its baseline (capped at 100)
    select
        f.*,
        case when f.avg_position is not null
             then 100 * greatest(0, least(1, (11 - f.avg_position) / 10.0)) end as position_score,
        case when f.baseline_clicks > 0 and f.clicks is not null
             then 100 * least(1, f.clicks / f.baseline_clicks) end as click_trend_score,
        case when f.baseline_revenue_usd > 0
             then 100 * least(1, f.revenue_usd / f.baseline_revenue_usd) end as revenue_score
    from flagged f
),

scored as (
    select
        c.*,
        case when c.position_score is not null or c.click_trend_score is not null
             then (coalesce(c.position_score, 0) + coalesce(c.click_trend_score, 0))
                  / ((c.position_score is not null)::int + (c.click_trend_score is not null)::int)
        end as search_score
    from components c
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
    (f.engagement_dropped or f.revenue_dropped or f.search_dropped) as is_drop,
    nullif(concat_ws('+',
        case when f.engagement_dropped then 'engagement' end,
        case when f.revenue_dropped then 'revenue' end,
        case when f.search_dropped then 'search' end), '') as drop_reason,
    f.clicks,
    f.impressions,
    f.avg_position,
    round(f.baseline_clicks, 1) as baseline_clicks,
    round(f.baseline_impressions, 1) as baseline_impressions,
    round(f.baseline_position::numeric, 2) as baseline_position,
    f.search_baseline_days,
    f.click_drop_pct,
    f.impression_drop_pct,
    f.position_change,
    round(f.search_score::numeric, 1) as search_score,
    -- the composite: weighted mean of the known signals (weights of unknown ones drop out)
    round(((
        0.25 * coalesce(f.engagement_score, 0) + 0.20 * coalesce(a.quality_score, 0) + 0.15 * coalesce(a.seo_score, 0)
      + 0.25 * coalesce(f.search_score, 0) + 0.15 * coalesce(f.revenue_score, 0)
    ) / nullif(
        0.25 * (f.engagement_score is not null)::int + 0.20 * (a.quality_score is not null)::int
      + 0.15 * (a.seo_score is not null)::int + 0.25 * (f.search_score is not null)::int
      + 0.15 * (f.revenue_score is not null)::int, 0))::numeric, 1) as health_score
from scored f
join {{ ref('dim_articles') }} a on a.article_id = f.article_id
