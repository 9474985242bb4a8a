{#- on-run-end: record which build of the marts each tenant-day is at (table analytics_builds,
    allixios/analytics/builds.py). Runs after every dbt build that rebuilt mart_content_health
    successfully — from the analytics_job, `allixios marts build` or plain dbt alike. Per tenant and
    day of the window, a fingerprint of the day's health rows: a changed day gets a new build_seq,
    an unchanged one keeps its seq (seq 0 below marks "unchanged" for the upsert). -#}
{% macro record_analytics_builds(results) -%}
    {%- set built = [] -%}
    {%- for r in results if r.node.name == 'mart_content_health' and r.node.resource_type == 'model' and r.status == 'success' -%}
        {%- do built.append(r) -%}
    {%- endfor -%}
    {%- if execute and built -%}
        with days as (
            select h.tenant_id, h.day, count(*) as health_rows,
                   md5(string_agg(h::text, E'\n' order by h.article_id)) as fingerprint
            from marts.mart_content_health h
            where h.day between {{ window_start() }} and {{ window_end() }}
              and exists (select 1 from public.tenants t where t.id = h.tenant_id)
            group by h.tenant_id, h.day
        ), judged as (
            select d.*, b.fingerprint is distinct from d.fingerprint as changed
            from days d left join public.analytics_builds b using (tenant_id, day)
        )
        insert into public.analytics_builds as b (tenant_id, day, build_seq, fingerprint, health_rows, run_id)
        select tenant_id, day, case when changed then nextval('public.analytics_build_seq') else 0 end,
               fingerprint, health_rows, '{{ invocation_id }}'
        from judged
        on conflict (tenant_id, day) do update set
            build_seq = case when excluded.build_seq = 0 then b.build_seq else excluded.build_seq end,
            built_at = case when excluded.build_seq = 0 then b.built_at else now() end,
            fingerprint = excluded.fingerprint,
            health_rows = excluded.health_rows,
            checked_at = now(),
            builds = b.builds + 1,
            run_id = excluded.run_id
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
