{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='article_id',
        pre_hook="{{ revenue_to_date_reset() }}",
        indexes=[{'columns': ['article_id'], 'unique': True}],
    )
}}
-- Each article's revenue to date from fct_article_daily_performance, kept as running totals so the
-- daily build adds the new days instead of re-reading every article's whole history (the part of
-- mart_ai_cost_roi that grew with the history: a sort of all its rows). Per article: first and
-- last day with data, days with data, views and revenue to date, the payback day (the first day
-- the cumulative revenue covered generation_cost_usd, for the cost in payback_cost_usd) and the
-- last 7 days with data (days and revenue, newest first) for the projected payback.
--
-- A build adds the fact rows after through_day (the newest day already counted) only when its
-- window starts after it: the usual next day. Any other window (a re-run, a backfill of an older
-- day, a plain `dbt build` with the default window, a full refresh) recomputes everything (the
-- pre-hook empties the table first: revenue_to_date_reset). An article whose cost changed since
-- its payback day was computed (new ledger rows) gets its history recomputed alone.
{%- set extend = revenue_to_date_extends() %}

with cost as (
    select article_id, generation_cost_usd from {{ ref('dim_articles') }}
),

{%- if extend %}

prior as (
    select * from {{ this }}
),

through as (
    select max(through_day) as day from prior
),

-- articles whose payback was computed for another cost: their whole history again
recost as (
    select p.article_id, p.tenant_id
    from prior p
    left join cost c on c.article_id = p.article_id
    where p.payback_cost_usd is distinct from c.generation_cost_usd
),

new_days as (
    select f.tenant_id, f.article_id, f.day, f.views, f.revenue_usd
    from {{ ref('fct_article_daily_performance') }} f
    where f.day > (select day from through)
      and not exists (select 1 from recost r where r.article_id = f.article_id)
),

history as (
    select f.tenant_id, f.article_id, f.day, f.views, f.revenue_usd
    from {{ ref('fct_article_daily_performance') }} f
    join recost r on r.tenant_id = f.tenant_id and r.article_id = f.article_id
),

{%- else %}

history as (
    select tenant_id, article_id, day, views, revenue_usd
    from {{ ref('fct_article_daily_performance') }}
),

{%- endif %}

daily as (
    select
        h.*,
        sum(h.revenue_usd) over (partition by h.article_id order by h.day) as cumulative_revenue_usd,
        row_number() over (partition by h.article_id order by h.day desc) as days_back
    from history h
),

recomputed as (
    select
        d.article_id,
        d.tenant_id,
        min(d.day) as first_day,
        max(d.day) as last_day,
        count(*) as days_with_data,
        sum(d.views)::numeric as views,
        sum(d.revenue_usd)::numeric as revenue_usd,
        min(d.day) filter (where d.cumulative_revenue_usd >= c.generation_cost_usd) as payback_day,
        c.generation_cost_usd as payback_cost_usd,
        array_agg(d.day order by d.day desc) filter (where d.days_back <= 7) as recent_days,
        array_agg(d.revenue_usd::numeric order by d.day desc) filter (where d.days_back <= 7) as recent_revenue_usd
    from daily d
    left join cost c on c.article_id = d.article_id
    group by d.article_id, d.tenant_id, c.generation_cost_usd
)

{%- if extend %},

-- the new days on top of each article's totals so far
added as (
    select
        n.*,
        coalesce(p.revenue_usd, 0)
            + sum(n.revenue_usd) over (partition by n.article_id order by n.day) as cumulative_revenue_usd
    from new_days n
    left join prior p on p.article_id = n.article_id
),

recent as (
    select article_id, day, revenue_usd,
           row_number() over (partition by article_id order by day desc) as days_back
    from (
        select article_id, day, revenue_usd::numeric as revenue_usd from added
        union all
        select p.article_id, r.day, r.revenue_usd
        from prior p
        cross join lateral unnest(p.recent_days, p.recent_revenue_usd) as r(day, revenue_usd)
        where exists (select 1 from new_days n where n.article_id = p.article_id)
    ) x
),

recent_by_article as (
    select article_id,
           array_agg(day order by day desc) as recent_days,
           array_agg(revenue_usd order by day desc) as recent_revenue_usd
    from recent
    where days_back <= 7
    group by article_id
),

extended as (
    select
        a.article_id,
        a.tenant_id,
        coalesce(min(p.first_day), min(a.day)) as first_day,
        max(a.day) as last_day,
        coalesce(min(p.days_with_data), 0) + count(*) as days_with_data,
        coalesce(min(p.views), 0) + sum(a.views) as views,
        coalesce(min(p.revenue_usd), 0) + sum(a.revenue_usd) as revenue_usd,
        coalesce(min(p.payback_day), min(a.day) filter (where a.cumulative_revenue_usd >= c.generation_cost_usd))
            as payback_day,
        c.generation_cost_usd as payback_cost_usd
    from added a
    left join prior p on p.article_id = a.article_id
    left join cost c on c.article_id = a.article_id
    group by a.article_id, a.tenant_id, c.generation_cost_usd
)

select e.article_id, e.tenant_id, e.first_day, e.last_day, e.days_with_data, e.views, e.revenue_usd,
       e.payback_day, e.payback_cost_usd, r.recent_days, r.recent_revenue_usd,
       greatest((select day from through), (select max(day) from new_days)) as through_day
from extended e
join recent_by_article r on r.article_id = e.article_id
union all
select *, greatest((select day from through), (select max(day) from new_days)) as through_day
from recomputed

{%- else %}

select *, (select max(day) from history) as through_day
from recomputed

{%- endif %}
