{{ config(meta={'dagster': {'ref': {'name': 'mart_ai_cost_roi'}}}) }}
-- AI spend is conserved: per tenant, the ROI mart's ledger cost (article lines plus the explicit
-- unattributed lines) equals the tenant's ai_usage total, to the micro-dollar. Ledger rows written
-- after the mart was built (a content run during the build) are not counted against it.
with built as (
    select coalesce(max(last_usage_id), 0) as through_id from {{ ref('mart_ai_cost_roi') }}
),

ledger as (
    select tenant_id, sum(cost_usd) as usd
    from {{ ref('stg_ai_usage') }}
    where tenant_id is not null and usage_id <= (select through_id from built)
    group by 1
),

roi as (
    select tenant_id, sum(ledger_cost_usd) as usd
    from {{ ref('mart_ai_cost_roi') }}
    group by 1
)

select coalesce(l.tenant_id, r.tenant_id) as tenant_id, l.usd as ledger_usd, r.usd as roi_usd
from ledger l
full join roi r on r.tenant_id = l.tenant_id
where abs(coalesce(l.usd, 0) - coalesce(r.usd, 0)) > 0.000001
