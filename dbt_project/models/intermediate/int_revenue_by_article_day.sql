-- Revenue per article and day, in USD, split by source: the event feed plus the imports
-- (affiliate network orders net of reversals, ad revenue per page; int_imported_revenue_events).
with revenue as (
    select tenant_id, article_id, day, revenue_source, amount_usd from {{ ref('stg_revenue_events') }}
    union all
    select tenant_id, article_id, day, revenue_source, amount_usd from {{ ref('int_imported_revenue_events') }}
)

select
    tenant_id,
    article_id,
    day,
    count(*) as revenue_events,
    sum(amount_usd) as revenue_usd,
    coalesce(sum(amount_usd) filter (where revenue_source = 'ads'), 0) as ads_usd,
    coalesce(sum(amount_usd) filter (where revenue_source = 'affiliate'), 0) as affiliate_usd,
    coalesce(sum(amount_usd) filter (where revenue_source = 'sponsorship'), 0) as sponsorship_usd
from revenue
group by tenant_id, article_id, day
