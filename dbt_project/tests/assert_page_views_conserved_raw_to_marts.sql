{{ config(meta={'dagster': {'ref': {'name': 'fct_article_daily_performance'}}}) }}
-- Every loaded page view is counted once in the article facts, per day of the build window.
with raw_views as (
    select event_date as day, count(*) as views
    from {{ source('raw', 'page_events') }}
    where event_date between {{ window_start() }} and {{ window_end() }}
    group by 1
),

facts as (
    select day, sum(views) as views
    from {{ ref('fct_article_daily_performance') }}
    where day between {{ window_start() }} and {{ window_end() }}
    group by 1
)

select coalesce(r.day, f.day) as day, r.views as raw_views, f.views as fact_views
from raw_views r
full join facts f on f.day = r.day
where coalesce(r.views, 0) <> coalesce(f.views, 0)
