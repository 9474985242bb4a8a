-- The days each tenant has event data for: the spine of the daily facts (a day without files is
-- "no data", not "zero traffic").
select distinct tenant_id, day from {{ ref('stg_page_events') }}
union
select distinct tenant_id, day from {{ ref('stg_revenue_events') }}
