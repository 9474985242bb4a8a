-- Every loaded page view with the article's niche and its traffic dimensions normalised: referrer
-- host and channel, device (unknown when not sent), country (unknown when not sent or not ISO).
select
    e.event_id,
    e.tenant_id,
    a.niche_id,
    e.article_id,
    e.day,
    e.session_id,
    e.visitor_hash,
    e.time_on_page_s,
    coalesce({{ referrer_host('e.referrer') }}, '(direct)') as referrer_host,
    {{ referrer_channel(referrer_host('e.referrer')) }} as channel,
    coalesce(e.device, 'unknown') as device,
    coalesce(e.country, 'unknown') as country
from {{ ref('stg_page_events') }} e
join {{ ref('stg_articles') }} a on a.article_id = e.article_id
