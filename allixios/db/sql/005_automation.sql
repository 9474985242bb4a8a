-- What the sensors remember beyond their cursors: refresh requests (cooldown), intake files, alerts.
CREATE TABLE refresh_requests (
    id bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    article_id uuid NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    run_key text NOT NULL,
    reason jsonb NOT NULL DEFAULT '{}',
    requested_at timestamptz NOT NULL DEFAULT now(),
    run_id text,
    outcome text,
    UNIQUE (run_key, article_id)
);
CREATE INDEX refresh_requests_article_idx ON refresh_requests (article_id, requested_at);

CREATE TABLE intake_files (
    sha256 text PRIMARY KEY,
    file_name text NOT NULL,
    status text NOT NULL CHECK (status IN ('loaded', 'rejected')),
    topics_added integer NOT NULL DEFAULT 0,
    error text,
    processed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alerts (
    id bigserial PRIMARY KEY,
    run_id text NOT NULL,
    job_name text,
    message text NOT NULL,
    delivered boolean NOT NULL DEFAULT false,
    delivery_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id)
);
