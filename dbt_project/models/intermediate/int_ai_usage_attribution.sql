-- Every ledger row of a tenant with the article it pays for: its own article, or, for a row with a
-- topic but no article (the topic's research), the topic's first article. Exactly one article or
-- none per row, so no dollar is counted twice; rows left without one (niche research that expands
-- seed keywords, embedding batches, topics that never became an article) keep article_id null and
-- show as unattributed lines in mart_ai_cost_roi.
with topic_article as (
    select distinct on (tenant_id, topic_id) tenant_id, topic_id, article_id
    from {{ ref('stg_articles') }}
    where topic_id is not null
    order by tenant_id, topic_id, created_at, article_id
)

select
    u.usage_id,
    u.tenant_id,
    u.task,
    u.model,
    u.cost_usd,
    u.tokens_in + u.tokens_out as tokens,
    coalesce(a.article_id, ta.article_id) as article_id
from {{ ref('stg_ai_usage') }} u
left join {{ ref('stg_articles') }} a on a.article_id = u.article_id and a.tenant_id = u.tenant_id
left join topic_article ta
  on u.article_id is null and ta.topic_id = u.topic_id and ta.tenant_id = u.tenant_id
where u.tenant_id is not null
