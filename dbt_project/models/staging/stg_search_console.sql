-- Search Console rows as imported (one per day, page, query, country, device, search type).
select
    tenant_id,
    day,
    page,
    query,
    country,
    device,
    search_type,
    article_id,
    article_id is null as is_unattributed,
    clicks,
    impressions,
    ctr,
    position,
    source_file
from {{ source('imports', 'search_console') }}
