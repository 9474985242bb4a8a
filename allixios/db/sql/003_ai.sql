-- The AI ledger: one row per LLM attempt, budgets with atomic reservations, shared circuit breakers.
CREATE TABLE ai_usage (
    id bigserial PRIMARY KEY,
    tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE,
    article_id uuid,
    topic_id uuid,
    run_id text,
    task text NOT NULL,
    model text NOT NULL,
    deployment_id text NOT NULL,
    provider text NOT NULL,
    attempt integer NOT NULL DEFAULT 1,
    -- one logical request (e.g. "draft for topic X in run R") shares a request_id across attempts
    request_id text NOT NULL,
    tokens_in integer NOT NULL DEFAULT 0,
    tokens_out integer NOT NULL DEFAULT 0,
    cost_usd numeric(14, 8) NOT NULL DEFAULT 0,
    latency_ms integer NOT NULL DEFAULT 0,
    status text NOT NULL CHECK (status IN ('success', 'error', 'skipped_budget', 'circuit_open')),
    error_class text,
    error_message text,
    -- kept for successful attempts only, so a repeated request is answered without a new paid call
    response_text text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (request_id, deployment_id, attempt)
);
CREATE INDEX ai_usage_tenant_day_idx ON ai_usage (tenant_id, created_at);
CREATE INDEX ai_usage_article_idx ON ai_usage (article_id);

CREATE TABLE ai_budgets (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    period text NOT NULL CHECK (period IN ('daily', 'monthly')),
    limit_usd numeric(14, 6) NOT NULL CHECK (limit_usd >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, period)
);

-- Spending is reserved before a call (estimate) and settled after it (actual cost).
CREATE TABLE ai_budget_reservations (
    id bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    request_id text NOT NULL,
    reserved_usd numeric(14, 8) NOT NULL,
    actual_usd numeric(14, 8),
    status text NOT NULL DEFAULT 'reserved' CHECK (status IN ('reserved', 'settled', 'released')),
    created_at timestamptz NOT NULL DEFAULT now(),
    settled_at timestamptz
);
CREATE INDEX ai_budget_reservations_open_idx ON ai_budget_reservations (tenant_id, created_at) WHERE status = 'reserved';

-- Running totals per tenant and UTC day / month: spent (every ledger row's cost, added in the same
-- transaction) and reserved (open reservations). The budget check reads two locked rows instead of
-- summing a month of ai_usage under the lock.
CREATE TABLE ai_spend (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    period text NOT NULL CHECK (period IN ('daily', 'monthly')),
    period_start date NOT NULL,
    spent_usd numeric(16, 8) NOT NULL DEFAULT 0,
    reserved_usd numeric(16, 8) NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, period, period_start)
);

CREATE TABLE circuit_breakers (
    deployment_id text PRIMARY KEY,
    state text NOT NULL DEFAULT 'closed' CHECK (state IN ('closed', 'open', 'half_open')),
    consecutive_failures integer NOT NULL DEFAULT 0,
    opened_at timestamptz,
    last_error_class text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The seed's selectOptimalModel record, one per choice.
CREATE TABLE model_selections (
    id bigserial PRIMARY KEY,
    tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE,
    niche_id uuid,
    run_id text,
    task text NOT NULL,
    model_id text NOT NULL,
    provider text NOT NULL,
    estimated_cost numeric(14, 8) NOT NULL,
    estimated_quality numeric NOT NULL,
    reasoning text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
