-- Affiliate orders: a sale keeps its status; a reversal is its own negative row. counted_usd is
-- what the row contributes to revenue (pending and approved sales; reversals negative; declined 0),
-- booked on revenue_day: the sale's day, also for its reversal, so a reversal nets its sale out
-- where the sale was counted (a day's revenue never goes below zero).
select
    o.tenant_id,
    o.order_id,
    o.entry,
    o.status,
    o.day,
    coalesce(s.day, o.day) as revenue_day,
    o.page,
    o.article_id,
    o.network,
    o.commission,
    o.currency,
    o.usd_per_unit,
    o.commission_usd,
    case when o.status = 'declined' then 0 else o.commission_usd end as counted_usd,
    o.source_file
from {{ source('imports', 'affiliate_orders') }} o
left join {{ source('imports', 'affiliate_orders') }} s
    on o.entry = 'reversal' and s.entry = 'sale' and s.tenant_id = o.tenant_id and s.order_id = o.order_id
