-- AI management, completed (issue 17): shared rate limits, per-request cost caps, stored routing
-- overrides (failover order, drains) and the ledger's rate-limit waits.

-- Fixed-window counters per deployment, shared by every process: one row per deployment, window
-- kind (minute | day) and window start. An attempt is admitted by ONE conditional upsert that adds
-- its request and estimated tokens only while the window stays within the deployment's limits.
CREATE TABLE ai_rate_windows (
    deployment_id text NOT NULL,
    window_kind text NOT NULL CHECK (window_kind IN ('minute', 'day')),
    window_start timestamptz NOT NULL,
    requests integer NOT NULL DEFAULT 0,
    tokens bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (deployment_id, window_kind, window_start)
);

-- how long an attempt waited for a deployment's rate-limit window, and the deployments it passed
-- over because their windows were full
ALTER TABLE ai_usage ADD COLUMN rate_wait_ms integer NOT NULL DEFAULT 0;
ALTER TABLE ai_usage ADD COLUMN rate_limited_on text[];
-- the content request an attempt was made for (its max_cost_usd is enforced over these rows)
ALTER TABLE ai_usage ADD COLUMN content_request_id uuid;
CREATE INDEX ai_usage_content_request_idx ON ai_usage (content_request_id) WHERE content_request_id IS NOT NULL;
CREATE INDEX ai_usage_topic_cost_idx ON ai_usage (topic_id) WHERE topic_id IS NOT NULL;

-- Routing overrides edited from the CLI or the API (audited in audit_log), read by model selection:
--   kind 'order'  alias -> deployment ids in failover order (replaces the quality-per-cost order)
--   kind 'drain'  deployment -> its traffic goes to target_id (switchProvider)
-- tenant_id NULL: for every tenant (the operator's CLI); else only that tenant's calls (its admins,
-- through the API); a tenant's own override wins over the global one.
CREATE TABLE ai_routing_overrides (
    id bigserial PRIMARY KEY,
    tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('order', 'drain')),
    subject text NOT NULL,  -- the alias (order) or the drained deployment id (drain)
    deployment_ids text[] NOT NULL DEFAULT '{}',  -- order: the failover order
    target_id text,  -- drain: where its traffic goes
    actor text NOT NULL,
    reason text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX ai_routing_overrides_one_idx
    ON ai_routing_overrides (kind, subject, coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid));
