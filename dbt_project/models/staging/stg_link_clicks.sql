-- Outbound and affiliate link clicks from the beacon, one row per click (event_date renamed day).
select
    event_id,
    event_ts,
    event_date as day,
    tenant_id,
    article_id,
    view_id,
    href,
    affiliate
from {{ source('raw', 'link_clicks') }}
