-- The first-party beacon's collector (docs/areas/collector.md).

-- One collecting site per tenant: its public key (it is in every page), the origins its pages are
-- served from, where the beacon posts, and whether headless browsers are accepted (browser tests).
CREATE TABLE collector_sites (
    tenant_id uuid PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    site_key text NOT NULL UNIQUE,
    allowed_origins text[] NOT NULL,
    collect_url text NOT NULL,
    allow_headless boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The visitor-id salt of the current UTC day, shared by every API worker. Rows of earlier days
-- are deleted whenever the salt is read, so a salt never outlives its day (no visitor can be
-- followed across days). UNLOGGED: losing it in a crash only rotates it early.
CREATE UNLOGGED TABLE collector_salts (
    day date PRIMARY KEY,
    salt bytea NOT NULL
);

-- Requests the collector refused, counted per day, site and reason (forged keys, wrong origins,
-- bots, rate limits, bodies too large, malformed events): a bot storm is one row, not a million.
CREATE TABLE collector_refusals (
    day date NOT NULL,
    tenant_id uuid,
    reason text NOT NULL,
    hits bigint NOT NULL DEFAULT 0,
    last_seen timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX collector_refusals_key ON collector_refusals (day, coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), reason);

-- Outbound and affiliate link clicks reported by the beacon, landed with their page's article.
-- Keyed by (event_date, tenant, event id): a replayed landing inserts nothing twice.
CREATE TABLE raw.link_clicks (
    event_id text NOT NULL,
    event_ts timestamptz NOT NULL,
    event_date date NOT NULL,
    tenant_id uuid NOT NULL,
    article_id uuid NOT NULL,
    view_id text NOT NULL,
    url text NOT NULL,
    href text NOT NULL,
    affiliate boolean NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_date, tenant_id, event_id)
);
