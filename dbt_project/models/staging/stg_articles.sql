select
    id as article_id,
    tenant_id,
    niche_id,
    topic_id,
    title,
    slug,
    status::text as status,
    published_at,
    (published_at at time zone 'UTC')::date as published_date,
    content_quality_score as quality_score,
    seo_score,
    ai_model_used,
    generation_cost as recorded_generation_cost_usd,
    version_number,
    deleted_at is not null as is_deleted,
    (metadata -> 'stand_in') is not null as is_stand_in,
    created_at
from {{ source('app', 'articles') }}
