-- AI ledger integrity: pending attempts, request claims, owners of reservations (issue 11, AI and security)

-- An attempt is written as 'pending' BEFORE its HTTP call and completed after it. A pending row
-- whose process is gone becomes 'interrupted' and is counted at its reserved worst case (possibly
-- paid), so a crash mid-call never loses a paid call from the ledger, ai_spend or the budget.
ALTER TABLE ai_usage DROP CONSTRAINT IF EXISTS ai_usage_status_check;
ALTER TABLE ai_usage ADD CONSTRAINT ai_usage_status_check
    CHECK (status IN ('success', 'error', 'skipped_budget', 'circuit_open', 'pending', 'interrupted'));
ALTER TABLE ai_usage ADD COLUMN reserved_usd numeric(14, 8) NOT NULL DEFAULT 0;
ALTER TABLE ai_usage ADD COLUMN reservation_id bigint;
-- host:pid:process-start of the process making the call (pending rows only)
ALTER TABLE ai_usage ADD COLUMN owner text;
ALTER TABLE ai_usage ADD COLUMN finished_at timestamptz;
-- the claim: at most one call of a request in flight, whatever the number of processes
CREATE UNIQUE INDEX ai_usage_one_pending_idx ON ai_usage (request_id) WHERE status = 'pending';
CREATE INDEX ai_usage_pending_tenant_idx ON ai_usage (tenant_id) WHERE status = 'pending';

-- who holds a reservation: released as soon as that process is gone, not after a TTL
ALTER TABLE ai_budget_reservations ADD COLUMN owner text;
ALTER TABLE ai_budget_reservations ADD COLUMN run_id text;
