-- API: users and roles, API keys, signing keys, refresh tokens, rate limits, idempotency,
-- content requests (issue 14).

-- Users: personal data only encrypted (envelope encryption, see allixios/identity/pii.py);
-- looked up by a keyed hash of the normalised e-mail. The plain `email` column stays for old rows
-- and is NULL for every user written through allixios/identity/users.py.
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_role_check;
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_tenant_id_email_key;
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;
ALTER TABLE users
    ADD COLUMN email_hash bytea,
    ADD COLUMN email_enc bytea,
    ADD COLUMN name_enc bytea,
    ADD COLUMN kind text NOT NULL DEFAULT 'person' CHECK (kind IN ('person', 'service')),
    ADD COLUMN external_subject text,
    ADD COLUMN disabled_at timestamptz,
    ADD COLUMN last_seen_at timestamptz;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('owner', 'admin', 'editor', 'writer', 'analyst', 'viewer', 'operator'));
CREATE UNIQUE INDEX users_email_hash_idx ON users (tenant_id, email_hash) WHERE email_hash IS NOT NULL;
CREATE UNIQUE INDEX users_subject_idx ON users (tenant_id, external_subject) WHERE external_subject IS NOT NULL;

-- API keys: the secret is shown once; only its SHA-256 is kept. `prefix` is the visible part.
CREATE TABLE api_keys (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name text NOT NULL,
    prefix text NOT NULL UNIQUE,
    secret_hash bytea NOT NULL,
    scopes text[] NOT NULL DEFAULT '{}',
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id, created_at);

-- JWT signing keys: private key encrypted like PII; several verify at once so rotation logs nobody out.
CREATE TABLE signing_keys (
    kid text PRIMARY KEY,
    algorithm text NOT NULL,
    private_enc bytea NOT NULL,
    public_jwk jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- no new tokens signed after this; still verifies until retired_at
    rotated_at timestamptz,
    retired_at timestamptz
);

-- Refresh tokens: hash only, single use (rotation); a reuse revokes the whole family.
CREATE TABLE refresh_tokens (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    api_key_id uuid REFERENCES api_keys(id) ON DELETE CASCADE,
    family uuid NOT NULL,
    token_hash bytea NOT NULL UNIQUE,
    scopes text[] NOT NULL DEFAULT '{}',
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Fixed-window rate-limit counters shared by every API worker (UNLOGGED: counters, not records).
CREATE UNLOGGED TABLE rate_limit_counters (
    bucket text NOT NULL,
    window_start timestamptz NOT NULL,
    hits integer NOT NULL,
    PRIMARY KEY (bucket, window_start)
);

-- Idempotency-Key: the first response is kept and replayed for the same key and body.
CREATE TABLE idempotency_keys (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    credential text NOT NULL,
    key text NOT NULL,
    method text NOT NULL,
    path text NOT NULL,
    request_hash text NOT NULL,
    status_code integer,
    response_headers jsonb,
    response_body bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, credential, key)
);

-- Content requests (POST /v1/content-requests) with their ExecutionPlan and launched runs.
CREATE TABLE content_requests (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    niche_id uuid NOT NULL REFERENCES niches(id) ON DELETE CASCADE,
    priority integer NOT NULL CHECK (priority BETWEEN 0 AND 100),
    constraints jsonb NOT NULL DEFAULT '{}',
    topic_ids uuid[] NOT NULL DEFAULT '{}',
    plan jsonb NOT NULL,
    status text NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'launched', 'cancelled', 'completed', 'failed')),
    run_ids text[] NOT NULL DEFAULT '{}',
    runs jsonb NOT NULL DEFAULT '{}',  -- partition key -> Dagster run id
    last_error text,
    callback_url text,
    callback_secret_enc bytea,
    callback_status text,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX content_requests_tenant_idx ON content_requests (tenant_id, created_at);

-- Topics promised to a niche's day by content requests (the niche's daily quota is shared with the
-- daily backlog; an UPSERT per day keeps concurrent plans from over-promising a day).
CREATE TABLE content_allocations (
    niche_id uuid NOT NULL REFERENCES niches(id) ON DELETE CASCADE,
    day date NOT NULL,
    topics integer NOT NULL DEFAULT 0 CHECK (topics >= 0),
    PRIMARY KEY (niche_id, day)
);
