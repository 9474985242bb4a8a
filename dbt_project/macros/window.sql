{#- The build window (inclusive), checked so only a date reaches SQL: the environment's
    ALLIXIOS_DBT_START_DATE / ALLIXIOS_DBT_END_DATE when set (Dagster's daily build sets them for its
    dbt process), else vars start_date / end_date (`dbt build --vars`, `allixios marts build`).
    The environment is read only when executing, never while parsing: a window passed as --vars
    changes dbt's vars checksum and makes every invocation re-parse the whole project, and an
    env_var() read at parse time would make partial parsing re-parse every file that renders the
    window; read at execution, the daily build reuses the prepared partial_parse.msgpack. -#}
{% macro _window_date(name) -%}
    {%- set value = (env_var('ALLIXIOS_DBT_' ~ name | upper, '') if execute else '') or (var(name) | string) -%}
    {%- if not modules.re.match('^\d{4}-\d{2}-\d{2}$', value) -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a date YYYY-MM-DD, got " ~ value) }}
    {%- endif -%}
    '{{ value }}'::date
{%- endmacro %}

{% macro window_start() -%}{{ _window_date('start_date') }}{%- endmacro %}
{% macro window_end() -%}{{ _window_date('end_date') }}{%- endmacro %}

{#- Pre-hook of the incremental facts: the window is recomputed, so its old rows go first (same
    transaction as the insert). A day that lost all its events loses its rows too. -#}
{% macro delete_window(column) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ column }} between {{ window_start() }} and {{ window_end() }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- Day-grained relations whose rows only change inside the build window: the incremental facts
    (their window is deleted and re-inserted; other days were tested when they were built), the
    view over one of them, and the staging views of events landed per partition day. Their data
    tests check the window's days only, so a day's build tests that day, not the whole history
    (a plain `dbt build` keeps the default window, every day). Tables rebuilt in full and the
    import views (whose rows may arrive for any day) keep testing everything. -#}
{% macro window_tested_relations() -%}
    {{ return({
        'fct_article_daily_performance': 'day', 'fct_niche_revenue_daily': 'day', 'mart_content_health': 'day',
        'fct_article_channel_daily': 'day', 'fct_article_clicks_daily': 'day', 'fct_traffic_country_daily': 'day',
        'fct_traffic_device_daily': 'day', 'fct_traffic_referrer_daily': 'day', 'mart_tenant_daily_kpis': 'day',
        'stg_page_events': 'day', 'stg_revenue_events': 'day', 'stg_link_clicks': 'day',
    }) }}
{%- endmacro %}

{#- dbt's hook for a data test's `where` config (global_project where_subquery.sql), extended: the
    tested relation of window_tested_relations() is also filtered to the build window. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set column = window_tested_relations().get(relation.identifier) if relation.identifier is defined else none -%}
    {%- if column -%}
        {%- set window = column ~ ' between ' ~ window_start() ~ ' and ' ~ window_end() -%}
        {%- set where = '(' ~ where ~ ') and ' ~ window if where else window -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- int_article_revenue_to_date: true when this build may add the new fact days to the running
    totals (the table is there and the window starts after the newest day they count), false when
    they are recomputed from the whole history. Asked by the model's SQL (compiled first) and by its
    pre-hook, of the same table, so both give the same answer. -#}
{% macro revenue_to_date_extends() -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set answer = run_query("select coalesce(max(through_day) < " ~ window_start() ~ ", false) from " ~ this) -%}
    {{ return(answer.columns[0].values()[0] == true) }}
{%- endmacro %}

{#- Pre-hook of int_article_revenue_to_date: a build that recomputes the totals empties them first
    (in the model's transaction), so no article keeps totals of days that are gone. -#}
{% macro revenue_to_date_reset() -%}
    {%- if is_incremental() and not revenue_to_date_extends() -%}
        delete from {{ this }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
