select
    event_id,
    event_ts,
    event_date as day,
    tenant_id,
    article_id,
    source as revenue_source,
    amount,
    currency,
    amount_usd
from {{ source('raw', 'revenue_events') }}
