DROP TABLE IF EXISTS ai_routing_overrides;
DROP INDEX IF EXISTS ai_usage_topic_cost_idx;
DROP INDEX IF EXISTS ai_usage_content_request_idx;
ALTER TABLE ai_usage DROP COLUMN IF EXISTS content_request_id;
ALTER TABLE ai_usage DROP COLUMN IF EXISTS rate_limited_on;
ALTER TABLE ai_usage DROP COLUMN IF EXISTS rate_wait_ms;
DROP TABLE IF EXISTS ai_rate_windows;
