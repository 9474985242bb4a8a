{{ config(indexes=[{'columns': ['tenant_id', 'query']}]) }}
-- Search Console performance per keyphrase (query) of a tenant over every imported day: clicks,
-- impressions, CTR, impression-weighted average position, the days it was seen, how many of the
-- tenant's articles rank for it (two or more: possible cannibalization) and the article that
-- earns it the most clicks. Anonymized queries (empty) are left out: they name no keyphrase.
with by_article as (
    select
        tenant_id, query, article_id,
        sum(clicks) as clicks,
        sum(impressions) as impressions
    from {{ ref('stg_search_console') }}
    where query <> ''
    group by tenant_id, query, article_id
),

top_article as (
    select distinct on (tenant_id, query) tenant_id, query, article_id as top_article_id
    from by_article
    where article_id is not null
    order by tenant_id, query, clicks desc, impressions desc, article_id
)

select
    s.tenant_id,
    s.query,
    sum(s.clicks) as clicks,
    sum(s.impressions) as impressions,
    round(sum(s.clicks)::numeric / nullif(sum(s.impressions), 0), 4) as ctr,
    round((sum(s.position * s.impressions) / nullif(sum(s.impressions) filter (where s.position is not null), 0))::numeric, 2)
        as avg_position,
    count(distinct s.day) as days_seen,
    min(s.day) as first_day,
    max(s.day) as last_day,
    count(distinct s.article_id) as articles,
    t.top_article_id
from {{ ref('stg_search_console') }} s
left join top_article t on t.tenant_id = s.tenant_id and t.query = s.query
where s.query <> ''
group by s.tenant_id, s.query, t.top_article_id
