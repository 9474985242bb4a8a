{{ config(indexes=[{'columns': ['tenant_id', 'day']}, {'columns': ['tenant_id', 'article_id', 'day']}]) }}
-- Search Console performance per article and day: clicks, impressions, CTR (clicks / impressions)
-- and the average position weighted by impressions (what Search Console itself reports for a
-- page). Pages that map to no article are one row per tenant and day with article_id null
-- (is_unattributed), so nothing imported disappears from the totals.
select
    s.tenant_id,
    a.niche_id,
    s.article_id,
    s.day,
    s.is_unattributed,
    sum(s.clicks) as clicks,
    sum(s.impressions) as impressions,
    round(sum(s.clicks)::numeric / nullif(sum(s.impressions), 0), 4) as ctr,
    round((sum(s.position * s.impressions) / nullif(sum(s.impressions) filter (where s.position is not null), 0))::numeric, 2)
        as avg_position,
    count(distinct s.query) filter (where s.query <> '') as queries,
    count(distinct s.page) as pages
from {{ ref('stg_search_console') }} s
left join {{ ref('stg_articles') }} a on a.article_id = s.article_id
group by s.tenant_id, a.niche_id, s.article_id, s.day, s.is_unattributed
