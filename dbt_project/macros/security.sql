{#- Run after every model. Marts tables: Row-Level Security per tenant, forced so the owner's
    bypass cannot leak through owner-run code; the pipeline role keeps full access by an explicit
    policy. Views: security_invoker, so they read with the caller's rights and policies. Marts
    relations are readable by the `analyst` group (when it exists: `allixios analysts grant`). -#}
{% macro secure_relation() -%}
    {%- if config.get('materialized') == 'view' -%}
        alter view {{ this }} set (security_invoker = true);
    {%- else -%}
        alter table {{ this }} enable row level security;
        alter table {{ this }} force row level security;
        drop policy if exists tenant_isolation on {{ this }};
        create policy tenant_isolation on {{ this }} for select
            using (tenant_id = (select marts.analyst_tenant_id(current_user)));
        drop policy if exists pipeline_full_access on {{ this }};
        create policy pipeline_full_access on {{ this }} to current_user using (true) with check (true);
    {%- endif %}
    {%- if this.schema == 'marts' %}
        do $grant$ begin
            if exists (select 1 from pg_roles where rolname = 'analyst') then
                execute 'grant select on {{ this }} to analyst';
            end if;
        end $grant$;
    {%- endif -%}
{%- endmacro %}
