{#- Where readers came from (docs/areas/analytics.md, "Traffic marts"). A referrer is a URL (the
    beacon's document.referrer) or a bare source name (exports, the traffic simulator: "google",
    "newsletter"); both normalise to a lower-case host without scheme, credentials, port, path or
    a leading "www.". Empty, "direct" and "(direct)" mean no referrer. -#}
{% macro referrer_host(referrer) -%}
    nullif(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
        lower(trim({{ referrer }})),
        '^[a-z][a-z0-9+.-]*://', ''),      -- scheme
        '^[^/?#]*@', ''),                  -- user:password@
        '[/?#:].*$', ''),                  -- port, path, query, fragment
        '^www\.', ''),
        '\.$', ''),
    '')
{%- endmacro %}

{#- The channel of a normalised host: direct (none), search, social, email, else referral. -#}
{% macro referrer_channel(host) -%}
    case
        when {{ host }} is null or {{ host }} in ('direct', '(direct)', 'none', '(none)') then 'direct'
        when {{ host }} ~ '(^|\.)(google|bing|duckduckgo|yahoo|baidu|yandex|ecosia|qwant|startpage|naver|seznam|search\.brave)(\.|$)'
            then 'search'
        when {{ host }} ~ '(^|\.)(facebook|fb|instagram|twitter|x|t\.co|linkedin|lnkd\.in|reddit|pinterest|youtube|tiktok|threads|mastodon|bsky)(\.|$)'
            then 'social'
        when {{ host }} ~ '(^|\.)(newsletter|mail|email|gmail|outlook|substack|mailchimp|list-manage)(\.|$)'
            then 'email'
        else 'referral'
    end
{%- endmacro %}

{#- One traffic mart: page views of the build window per tenant, niche, day and `dimensions`. -#}
{% macro traffic_by(dimensions) -%}
with events as (
    select * from {{ ref('int_page_events_traffic') }}
    where day between {{ window_start() }} and {{ window_end() }}
)

select
    tenant_id,
    niche_id,
    day,
    {{ dimensions | join(', ') }},
    count(*) as views,
    count(distinct visitor_hash) as unique_visitors,
    count(distinct coalesce(session_id, event_id)) as sessions,
    round(avg(time_on_page_s)::numeric, 1) as avg_time_on_page_s,
    round(count(*)::numeric / sum(count(*)) over (partition by tenant_id, niche_id, day), 4) as view_share
from events
group by tenant_id, niche_id, day, {{ dimensions | join(', ') }}
{%- endmacro %}

{#- The incremental config every traffic mart shares (the window is recomputed, like the facts). -#}
{% macro traffic_config() -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_window('day') }}",
        indexes=[{'columns': ['tenant_id', 'day']}],
    ) }}
{%- endmacro %}
