-- undo 010_api
DROP TABLE IF EXISTS content_allocations, content_requests, idempotency_keys, rate_limit_counters, refresh_tokens, signing_keys, api_keys;
DROP INDEX IF EXISTS users_email_hash_idx;
DROP INDEX IF EXISTS users_subject_idx;
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_role_check;
DELETE FROM users WHERE email IS NULL;
ALTER TABLE users DROP COLUMN email_hash, DROP COLUMN email_enc, DROP COLUMN name_enc, DROP COLUMN kind,
    DROP COLUMN external_subject, DROP COLUMN disabled_at, DROP COLUMN last_seen_at;
UPDATE users SET role = 'admin' WHERE role IN ('owner', 'operator');
UPDATE users SET role = 'editor' WHERE role = 'writer';
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'editor', 'analyst', 'viewer'));
ALTER TABLE users ADD CONSTRAINT users_tenant_id_email_key UNIQUE (tenant_id, email);
