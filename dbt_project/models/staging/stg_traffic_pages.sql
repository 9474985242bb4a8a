-- Page-level daily traffic from the tools' table exports (GA4 UI CSV, Plausible CSV).
select
    tool,
    tenant_id,
    day,
    page,
    article_id,
    views,
    visitors,
    visits,
    avg_time_s,
    bounce_rate,
    source_file
from {{ source('imports', 'traffic_pages') }}
