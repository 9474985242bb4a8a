-- Imported money as revenue events of their article and day (affiliate orders net of reversals,
-- ad revenue per page), in the shape of stg_revenue_events, so the revenue marts count them
-- beside the event feed. Rows whose page maps to no article stay in staging (unattributed).
select tenant_id, article_id, revenue_day as day, 'affiliate' as revenue_source, counted_usd as amount_usd
from {{ ref('stg_affiliate_orders') }}
where article_id is not null
union all
select tenant_id, article_id, day, 'ads' as revenue_source, revenue_usd as amount_usd
from {{ ref('stg_ad_revenue') }}
where article_id is not null
