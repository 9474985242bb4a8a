-- GA4 BigQuery-export events as imported; page_view events are the views.
select
    tenant_id,
    row_key,
    day,
    event_ts,
    event_name,
    user_pseudo_id,
    session_id,
    page,
    article_id,
    engagement_time_s,
    device,
    country,
    traffic_source,
    source_file
from {{ source('imports', 'ga4_events') }}
