{#- Engagement score 0-100 of an article-day (docs/areas/analytics.md, "Engagement score"):
    40% time on page (full marks at 2 minutes), 35% scroll depth, 25% not bouncing. -#}
{% macro engagement_score(avg_time_on_page_s, avg_scroll_depth, bounce_rate) -%}
    round((100 * (
        0.40 * least(coalesce({{ avg_time_on_page_s }}, 0) / 120.0, 1)
      + 0.35 * coalesce({{ avg_scroll_depth }}, 0)
      + 0.25 * (1 - coalesce({{ bounce_rate }}, 1))
    ))::numeric, 1)
{%- endmacro %}

{#- Seconds under which a single-page session counts as a bounce. -#}
{% macro bounce_seconds() %}30{% endmacro %}
