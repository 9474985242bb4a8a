-- Revenue per article and day, in USD, split by source.
select
    tenant_id,
    article_id,
    day,
    count(*) as revenue_events,
    sum(amount_usd) as revenue_usd,
    coalesce(sum(amount_usd) filter (where revenue_source = 'ads'), 0) as ads_usd,
    coalesce(sum(amount_usd) filter (where revenue_source = 'affiliate'), 0) as affiliate_usd,
    coalesce(sum(amount_usd) filter (where revenue_source = 'sponsorship'), 0) as sponsorship_usd
from {{ ref('stg_revenue_events') }}
group by tenant_id, article_id, day
