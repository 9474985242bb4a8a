-- What generating each article cost: every LLM attempt of the article, plus the research calls of
-- its topic (int_ai_usage_attribution: each ledger row counts for one article at most). Articles
-- without ledger rows fall back to the cost recorded on the article. The model is the one that
-- cost the most. ledger_cost_usd is the part that comes from the ledger (0 for a recorded cost).
with usage as (
    select article_id, model, cost_usd, tokens, usage_id
    from {{ ref('int_ai_usage_attribution') }}
    where article_id is not null
),

by_model as (
    select article_id, model, sum(cost_usd) as cost_usd,
           row_number() over (partition by article_id order by sum(cost_usd) desc, model) as rank
    from usage
    group by article_id, model
),

totals as (
    select article_id, sum(cost_usd) as cost_usd, count(*) as llm_calls, sum(tokens) as tokens,
           max(usage_id) as last_usage_id
    from usage
    group by article_id
)

select
    a.article_id,
    a.tenant_id,
    coalesce(t.cost_usd, a.recorded_generation_cost_usd, 0) as generation_cost_usd,
    coalesce(t.cost_usd, 0) as ledger_cost_usd,
    t.last_usage_id,
    coalesce(t.llm_calls, 0) as llm_calls,
    coalesce(t.tokens, 0) as tokens,
    coalesce(m.model, a.ai_model_used, 'unknown') as model
from {{ ref('stg_articles') }} a
left join totals t on t.article_id = a.article_id
left join by_model m on m.article_id = a.article_id and m.rank = 1
