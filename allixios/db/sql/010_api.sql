-- API: users and roles, API keys, signing keys, rate limits, idempotency (issue 14)
-- (placeholder until its issue fills it)
SELECT 1;
