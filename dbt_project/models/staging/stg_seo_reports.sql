select
    tenant_id,
    niche_id,
    report_date,
    article_count,
    published_count,
    avg_quality,
    avg_seo,
    jsonb_array_length(cannibalization_pairs) as cannibalization_pairs,
    jsonb_array_length(broken_links) as broken_links
from {{ source('app', 'seo_reports') }}
