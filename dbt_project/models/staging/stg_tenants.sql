select
    id as tenant_id,
    slug as tenant_slug,
    name as tenant_name
from {{ source('app', 'tenants') }}
where deleted_at is null
