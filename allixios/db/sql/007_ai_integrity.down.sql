-- undo 007_ai_integrity
ALTER TABLE ai_budget_reservations DROP COLUMN IF EXISTS run_id;
ALTER TABLE ai_budget_reservations DROP COLUMN IF EXISTS owner;
DROP INDEX IF EXISTS ai_usage_pending_tenant_idx;
DROP INDEX IF EXISTS ai_usage_one_pending_idx;
DELETE FROM ai_usage WHERE status = 'pending';
UPDATE ai_usage SET status = 'error', error_class = coalesce(error_class, 'Interrupted') WHERE status = 'interrupted';
ALTER TABLE ai_usage DROP COLUMN IF EXISTS finished_at;
ALTER TABLE ai_usage DROP COLUMN IF EXISTS owner;
ALTER TABLE ai_usage DROP COLUMN IF EXISTS reservation_id;
ALTER TABLE ai_usage DROP COLUMN IF EXISTS reserved_usd;
ALTER TABLE ai_usage DROP CONSTRAINT IF EXISTS ai_usage_status_check;
ALTER TABLE ai_usage ADD CONSTRAINT ai_usage_status_check
    CHECK (status IN ('success', 'error', 'skipped_budget', 'circuit_open'));
