-- Ad revenue per page and day as imported, converted to USD with the day's rate.
select
    tenant_id,
    day,
    page,
    network,
    article_id,
    revenue,
    currency,
    usd_per_unit,
    revenue_usd,
    impressions,
    clicks,
    source_file
from {{ source('imports', 'ad_revenue') }}
