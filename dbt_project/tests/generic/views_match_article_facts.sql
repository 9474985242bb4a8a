{#- A traffic mart splits the article facts' views, never adds or loses one: per tenant, niche and
    day of the build window its views sum to fct_article_daily_performance's. -#}
{% test views_match_article_facts(model) %}
with split as (
    select tenant_id, coalesce(niche_id::text, '') as niche, day, sum(views) as views
    from {{ model }}
    where day between {{ window_start() }} and {{ window_end() }}
    group by 1, 2, 3
),

facts as (
    select tenant_id, coalesce(niche_id::text, '') as niche, day, sum(views) as views
    from {{ ref('fct_article_daily_performance') }}
    where day between {{ window_start() }} and {{ window_end() }}
    group by 1, 2, 3
    having sum(views) > 0
)

select coalesce(s.tenant_id, f.tenant_id) as tenant_id, coalesce(s.niche, f.niche) as niche,
       coalesce(s.day, f.day) as day, s.views as split_views, f.views as fact_views
from split s
full join facts f on f.tenant_id = s.tenant_id and f.day = s.day and f.niche = s.niche
where coalesce(s.views, 0) <> coalesce(f.views, 0)
{% endtest %}
