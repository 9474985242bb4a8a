-- Page views per article and day. A bounce is a session with a single page view that day that
-- lasted under bounce_seconds(); a view without a session id is its own session.
with views as (
    select
        e.*,
        count(*) over (partition by e.day, coalesce(e.session_id, e.event_id)) as session_views
    from {{ ref('stg_page_events') }} e
)

select
    tenant_id,
    article_id,
    day,
    count(*) as views,
    count(distinct visitor_hash) as unique_visitors,
    count(distinct coalesce(session_id, event_id)) as sessions,
    avg(time_on_page_s) as avg_time_on_page_s,
    avg(scroll_depth) as avg_scroll_depth,
    count(*) filter (where session_views = 1 and coalesce(time_on_page_s, 0) < {{ bounce_seconds() }}) as bounces
from views
group by tenant_id, article_id, day
