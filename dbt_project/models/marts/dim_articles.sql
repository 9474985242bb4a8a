{{ config(indexes=[{'columns': ['article_id'], 'unique': True}, {'columns': ['tenant_id']}]) }}
-- One row per article: who owns it, where it lives, its current scores, model and generation cost.
select
    a.article_id,
    a.tenant_id,
    t.tenant_slug,
    a.niche_id,
    n.niche_slug,
    n.niche_name,
    a.topic_id,
    tp.topic_source,
    a.title,
    a.slug,
    a.status,
    a.published_at,
    a.published_date,
    a.quality_score,
    a.seo_score,
    c.model,
    c.generation_cost_usd,
    c.llm_calls,
    c.tokens,
    a.version_number,
    a.is_deleted,
    a.is_stand_in
from {{ ref('stg_articles') }} a
join {{ ref('stg_tenants') }} t on t.tenant_id = a.tenant_id
left join {{ ref('stg_niches') }} n on n.niche_id = a.niche_id
left join {{ ref('stg_topics') }} tp on tp.topic_id = a.topic_id
left join {{ ref('int_article_generation_cost') }} c on c.article_id = a.article_id
