{{ config(indexes=[{'columns': ['article_id'], 'unique': True}, {'columns': ['tenant_id']}]) }}
-- Generation cost against the revenue an article has earned, per article (with its model and
-- niche; group by them for ROI by model or niche). payback_days: days from going live until the
-- cumulative revenue covered the cost; projected_payback_days: for those not there yet, the days
-- still needed at the average daily revenue of their last 7 days with data.
--
-- The mart accounts for the whole ledger: ledger spend that pays for no article in it (niche
-- research, embedding batches, topics without an article, articles neither live nor with traffic)
-- is shown as explicit lines with cost_line = 'unattributed', article_id null, one per tenant, task
-- and model. So sum(ledger_cost_usd) per tenant equals the tenant's ai_usage total (dbt test
-- assert_ai_cost_roi_equals_ledger); count(article_id) counts articles.
with totals as (
    -- each article's revenue to date, kept as running totals (the daily build adds its new days
    -- instead of re-reading every article's history)
    select
        article_id,
        first_day,
        days_with_data,
        views,
        revenue_usd,
        payback_day,
        payback_cost_usd,
        (select avg(r) from unnest(recent_revenue_usd) r) as recent_daily_revenue_usd
    from {{ ref('int_article_revenue_to_date') }}
),

payback as (
    -- the payback day was found for the cost the totals were built with (dim_articles' in this build)
    select t.article_id, t.payback_day
    from totals t
    join {{ ref('dim_articles') }} a on a.article_id = t.article_id
    where t.payback_day is not null and t.payback_cost_usd = a.generation_cost_usd
),

articles as (
select
    a.tenant_id,
    a.niche_id,
    a.niche_slug,
    a.article_id,
    a.model,
    a.published_date,
    a.generation_cost_usd,
    a.llm_calls,
    a.tokens,
    coalesce(t.views, 0) as views_to_date,
    coalesce(t.revenue_usd, 0) as revenue_to_date_usd,
    coalesce(t.revenue_usd, 0) - a.generation_cost_usd as net_usd,
    round((coalesce(t.revenue_usd, 0) - a.generation_cost_usd) / nullif(a.generation_cost_usd, 0), 4) as roi,
    coalesce(t.days_with_data, 0) as days_with_data,
    p.payback_day,
    p.payback_day - least(coalesce(a.published_date, t.first_day), t.first_day) as payback_days,
    case
        when p.payback_day is null and t.recent_daily_revenue_usd > 0
        then ceil((a.generation_cost_usd - coalesce(t.revenue_usd, 0)) / t.recent_daily_revenue_usd)::integer
    end as projected_payback_days,
    'article' as cost_line,
    null::text as task,
    c.ledger_cost_usd,
    c.last_usage_id
from {{ ref('dim_articles') }} a
join {{ ref('int_article_generation_cost') }} c on c.article_id = a.article_id
left join totals t on t.article_id = a.article_id
left join payback p on p.article_id = a.article_id
where a.status = 'published' or t.article_id is not null
),

unattributed as (
    select u.tenant_id, u.task, u.model, sum(u.cost_usd) as cost_usd, count(*) as llm_calls,
           sum(u.tokens) as tokens, max(u.usage_id) as last_usage_id
    from {{ ref('int_ai_usage_attribution') }} u
    left join articles a on a.article_id = u.article_id
    where a.article_id is null
    group by u.tenant_id, u.task, u.model
)

select * from articles
union all
select
    tenant_id,
    null::uuid as niche_id,
    null::text as niche_slug,
    null::uuid as article_id,
    model,
    null::date as published_date,
    cost_usd as generation_cost_usd,
    llm_calls,
    tokens,
    0 as views_to_date,
    0 as revenue_to_date_usd,
    -cost_usd as net_usd,
    null::numeric as roi,
    0 as days_with_data,
    null::date as payback_day,
    null::integer as payback_days,
    null::integer as projected_payback_days,
    'unattributed' as cost_line,
    task,
    cost_usd as ledger_cost_usd,
    last_usage_id
from unattributed
