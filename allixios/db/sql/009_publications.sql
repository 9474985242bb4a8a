-- Publishing targets per tenant and what was published where (issue 13, targets).
--
-- publishing_targets: a tenant's WordPress sites and CDN purge APIs, several at once. `config` holds
-- URLs, user names and the NAMES of environment variables that hold secrets (app passwords, CDN
-- tokens); a secret value is never stored here (checked by the code, which refuses a config key
-- that is not on its list).
CREATE TABLE publishing_targets (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    kind text NOT NULL CHECK (kind IN ('wordpress', 'cdn')),
    config jsonb NOT NULL DEFAULT '{}',
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    UNIQUE (tenant_id, name)
);

-- One row per article version x target x action (publish / unpublish), and one per CDN purge batch
-- (article_id NULL, `urls` set). `content_hash` is the hash of what the target was sent: equal to
-- the last delivered hash means nothing is written remotely. Pending rows keep their last error and
-- are retried with backoff (`next_attempt_at`); `alerted_at` is set once the alert was raised.
CREATE TABLE publications (
    id bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    target_id uuid NOT NULL REFERENCES publishing_targets(id) ON DELETE CASCADE,
    article_id uuid REFERENCES articles(id) ON DELETE CASCADE,
    version_number integer,
    action text NOT NULL CHECK (action IN ('publish', 'unpublish', 'purge')),
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'superseded')),
    remote_id text,
    remote_url text,
    content_hash text,
    urls text[],
    remote_meta jsonb NOT NULL DEFAULT '{}',  -- e.g. the WordPress media id and checksum of the featured image
    remote_writes integer NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    alerted_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    done_at timestamptz,
    CHECK ((action = 'purge') = (article_id IS NULL)),
    CHECK (article_id IS NULL OR version_number IS NOT NULL)
);
CREATE UNIQUE INDEX publications_version_target_idx
    ON publications (target_id, article_id, version_number, action) WHERE article_id IS NOT NULL;
CREATE UNIQUE INDEX publications_purge_idx
    ON publications (target_id, content_hash) WHERE action = 'purge' AND status = 'pending';
CREATE INDEX publications_due_idx ON publications (tenant_id, next_attempt_at) WHERE status = 'pending';
CREATE INDEX publications_article_idx ON publications (target_id, article_id, id DESC) WHERE article_id IS NOT NULL;
