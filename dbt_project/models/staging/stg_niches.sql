select
    id as niche_id,
    tenant_id,
    slug as niche_slug,
    name as niche_name,
    partition_key,
    active
from {{ source('app', 'niches') }}
