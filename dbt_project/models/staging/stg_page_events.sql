select
    event_id,
    event_ts,
    event_date as day,
    tenant_id,
    article_id,
    session_id,
    visitor_hash,
    referrer,
    device,
    country,
    time_on_page_s,
    scroll_depth
from {{ source('raw', 'page_events') }}
