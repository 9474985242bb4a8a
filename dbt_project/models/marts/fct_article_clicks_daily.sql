{{ traffic_config() }}
-- Link clicks per article and day (incremental by day): what readers did after reading.
select
    c.tenant_id,
    a.niche_id,
    c.article_id,
    c.day,
    count(*) as outbound_clicks,
    count(*) filter (where c.affiliate) as affiliate_clicks,
    count(distinct c.view_id) as views_with_a_click
from {{ ref('stg_link_clicks') }} c
left join {{ ref('stg_articles') }} a on a.article_id = c.article_id
where c.day between {{ window_start() }} and {{ window_end() }}
group by 1, 2, 3, 4
