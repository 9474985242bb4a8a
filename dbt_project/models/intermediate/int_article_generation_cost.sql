-- What generating each article cost: every LLM attempt of the article, plus the research calls of
-- its topic (ledger rows with a topic but no article yet). Articles without ledger rows fall back
-- to the cost recorded on the article. The model is the one that cost the most.
with usage as (
    select a.article_id, u.model, u.cost_usd, u.tokens_in + u.tokens_out as tokens
    from {{ ref('stg_articles') }} a
    join {{ ref('stg_ai_usage') }} u
      on u.article_id = a.article_id
      or (u.article_id is null and u.topic_id is not null and u.topic_id = a.topic_id)
),

by_model as (
    select article_id, model, sum(cost_usd) as cost_usd,
           row_number() over (partition by article_id order by sum(cost_usd) desc, model) as rank
    from usage
    group by article_id, model
),

totals as (
    select article_id, sum(cost_usd) as cost_usd, count(*) as llm_calls, sum(tokens) as tokens
    from usage
    group by article_id
)

select
    a.article_id,
    a.tenant_id,
    coalesce(t.cost_usd, a.recorded_generation_cost_usd, 0) as generation_cost_usd,
    coalesce(t.llm_calls, 0) as llm_calls,
    coalesce(t.tokens, 0) as tokens,
    coalesce(m.model, a.ai_model_used, 'unknown') as model
from {{ ref('stg_articles') }} a
left join totals t on t.article_id = a.article_id
left join by_model m on m.article_id = a.article_id and m.rank = 1
