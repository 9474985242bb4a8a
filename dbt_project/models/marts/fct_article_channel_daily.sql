{{ traffic_config() }}
-- Page views per article, day and channel: a handful of rows per article-day, so cheap at article grain.
with events as (
    select * from {{ ref('int_page_events_traffic') }}
    where day between {{ window_start() }} and {{ window_end() }}
)

select
    tenant_id,
    niche_id,
    article_id,
    day,
    channel,
    count(*) as views,
    count(distinct visitor_hash) as unique_visitors,
    count(distinct coalesce(session_id, event_id)) as sessions,
    round(avg(time_on_page_s)::numeric, 1) as avg_time_on_page_s
from events
group by tenant_id, niche_id, article_id, day, channel
