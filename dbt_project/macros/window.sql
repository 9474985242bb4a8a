{#- The build window: vars start_date / end_date (inclusive), checked so only a date reaches SQL. -#}
{% macro _window_date(name) -%}
    {%- set value = var(name) | string -%}
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
