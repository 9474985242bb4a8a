select
    id as topic_id,
    tenant_id,
    niche_id,
    title,
    status,
    source as topic_source,
    priority,
    created_at
from {{ source('app', 'topics') }}
