select
    id as usage_id,
    tenant_id,
    article_id,
    topic_id,
    task,
    model,
    provider,
    status,
    tokens_in,
    tokens_out,
    cost_usd,
    created_at
from {{ source('app', 'ai_usage') }}
