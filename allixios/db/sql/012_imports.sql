-- Imports from the tools teams use (docs/areas/analytics.md, "Imports"): Search Console, GA4,
-- Plausible, affiliate networks and ad networks. Files land per tenant in landing/<kind>/<tenant>/;
-- `allixios ingest <kind>` replaces the tenant's rows of that kind with what its folder holds now.

-- Search Console performance rows (the UI/API CSV or the bulk export). A page that maps to no
-- article of the tenant keeps article_id null (unattributed), never dropped. position is 1-based
-- (the bulk export's zero-based sum_position is converted at load); ctr is a fraction.
CREATE TABLE raw.search_console (
    tenant_id uuid NOT NULL,
    day date NOT NULL,
    page text NOT NULL,
    query text NOT NULL,           -- '' when the export has no query dimension or it is anonymized
    country text NOT NULL,         -- '' when not in the export
    device text NOT NULL,          -- '' when not in the export
    search_type text NOT NULL,     -- web unless the bulk export says otherwise
    article_id uuid,
    clicks bigint NOT NULL CHECK (clicks >= 0),
    impressions bigint NOT NULL CHECK (impressions >= 0 AND clicks <= impressions),
    ctr double precision CHECK (ctr >= 0 AND ctr <= 1),
    position double precision CHECK (position >= 1),
    source_file text NOT NULL,
    line_number integer NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, day, page, query, country, device, search_type)
);
CREATE INDEX search_console_article_idx ON raw.search_console (tenant_id, article_id, day);

-- GA4's BigQuery export, one row per event (events_YYYYMMDD as JSONL). row_key identifies an event
-- (the export has no event id): a hash of user, timestamp, name, session and page.
CREATE TABLE raw.ga4_events (
    tenant_id uuid NOT NULL,
    row_key text NOT NULL,
    day date NOT NULL,
    event_ts timestamptz NOT NULL,
    event_name text NOT NULL,
    user_pseudo_id text,
    session_id text,
    page text,
    article_id uuid,
    engagement_time_s double precision CHECK (engagement_time_s >= 0),
    device text,
    country text,
    traffic_source text,
    source_file text NOT NULL,
    line_number integer NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, row_key)
);
CREATE INDEX ga4_events_day_idx ON raw.ga4_events (tenant_id, day);

-- Page-level traffic per day from a tool's table export (GA4's UI CSV, Plausible's CSV).
CREATE TABLE raw.traffic_pages (
    tool text NOT NULL CHECK (tool IN ('ga4', 'plausible')),
    tenant_id uuid NOT NULL,
    day date NOT NULL,
    page text NOT NULL,
    article_id uuid,
    views bigint NOT NULL CHECK (views >= 0),
    visitors bigint CHECK (visitors >= 0),
    visits bigint CHECK (visits >= 0),
    avg_time_s double precision CHECK (avg_time_s >= 0),
    bounce_rate double precision CHECK (bounce_rate >= 0 AND bounce_rate <= 1),
    source_file text NOT NULL,
    line_number integer NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tool, tenant_id, day, page)
);

-- Affiliate network orders. A sale keeps its status (pending, approved, declined); a reversal is its
-- own row (entry = 'reversal') whose commission is negative and offsets the sale's in USD exactly.
CREATE TABLE raw.affiliate_orders (
    tenant_id uuid NOT NULL,
    order_id text NOT NULL,
    entry text NOT NULL CHECK (entry IN ('sale', 'reversal')),
    status text NOT NULL CHECK (status IN ('pending', 'approved', 'declined', 'reversed')),
    day date NOT NULL,
    page text,
    article_id uuid,
    network text,
    commission numeric(20, 6) NOT NULL,
    currency text NOT NULL,
    usd_per_unit numeric(20, 10) NOT NULL,
    commission_usd numeric(14, 6) NOT NULL,
    source_file text NOT NULL,
    line_number integer NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, order_id, entry),
    CHECK ((entry = 'sale') = (commission >= 0))
);

-- Ad revenue per page and day (an ad network's pages report), converted with the day's rate.
CREATE TABLE raw.ad_revenue (
    tenant_id uuid NOT NULL,
    day date NOT NULL,
    page text NOT NULL,
    network text NOT NULL,
    article_id uuid,
    revenue numeric(20, 6) NOT NULL CHECK (revenue >= 0),
    currency text NOT NULL,
    usd_per_unit numeric(20, 10) NOT NULL,
    revenue_usd numeric(14, 6) NOT NULL CHECK (revenue_usd >= 0),
    impressions bigint CHECK (impressions >= 0),
    clicks bigint CHECK (clicks >= 0),
    source_file text NOT NULL,
    line_number integer NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, day, page, network)
);

-- Reconciliation per imported file, like raw.ingested_files: rows_read = loaded + rejected + duplicate.
-- tenant is the folder the file landed in (it may name no tenant: the file is then rejected).
CREATE TABLE raw.import_files (
    kind text NOT NULL,
    tenant text NOT NULL,
    source_file text NOT NULL,
    file_format text NOT NULL,
    shape text,
    sha256 text NOT NULL,
    bytes bigint NOT NULL,
    rows_read integer NOT NULL,
    rows_loaded integer NOT NULL,
    rows_rejected integer NOT NULL,
    rows_duplicate integer NOT NULL,
    status text NOT NULL CHECK (status IN ('loaded', 'partial', 'rejected')),
    error text,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, tenant, source_file),
    CHECK (rows_read = rows_loaded + rows_rejected + rows_duplicate)
);

-- Rows (or whole files, without a line) an import could not load, with the reason.
CREATE TABLE raw.import_rejections (
    id bigserial PRIMARY KEY,
    kind text NOT NULL,
    tenant text NOT NULL,
    source_file text NOT NULL,
    line_number integer,
    raw_record text,
    reason text NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX import_rejections_file_idx ON raw.import_rejections (kind, tenant, source_file);
