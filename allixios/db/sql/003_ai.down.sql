DROP TABLE IF EXISTS ai_spend, model_selections, circuit_breakers, ai_budget_reservations, ai_budgets, ai_usage CASCADE;
