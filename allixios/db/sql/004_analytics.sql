-- Raw analytics events land here (COPY from validated files); dbt reads them as sources and builds
-- `staging`, `intermediate` and `marts` (see dbt_project/). Analysts read `marts` only, per tenant.
CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE raw.page_events (
    event_id text NOT NULL,
    event_ts timestamptz NOT NULL,
    event_date date NOT NULL,
    tenant_id uuid NOT NULL,
    article_id uuid NOT NULL,
    url text,
    session_id text,
    visitor_hash text,
    referrer text,
    device text,
    country text,
    time_on_page_s double precision,
    scroll_depth double precision,
    source_file text NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_date, event_id)
);
CREATE INDEX page_events_article_idx ON raw.page_events (event_date, article_id);

CREATE TABLE raw.revenue_events (
    event_id text NOT NULL,
    event_ts timestamptz NOT NULL,
    event_date date NOT NULL,
    tenant_id uuid NOT NULL,
    article_id uuid NOT NULL,
    source text NOT NULL CHECK (source IN ('ads', 'affiliate', 'sponsorship')),
    -- as sent, in its currency (wide: some currencies count in millions per dollar)
    amount numeric(20, 6) NOT NULL CHECK (amount >= 0),
    currency text NOT NULL,
    -- converted at ingestion with the reference rates of allixios/analytics/currency.py
    amount_usd numeric(14, 6) NOT NULL CHECK (amount_usd >= 0),
    source_file text NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_date, event_id)
);
CREATE INDEX revenue_events_article_idx ON raw.revenue_events (event_date, article_id);

-- Rows (or whole files) that could not be loaded, with why. A whole-file rejection has no line.
CREATE TABLE raw.rejected_events (
    id bigserial PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('page', 'revenue')),
    event_date date NOT NULL,
    source_file text NOT NULL,
    line_number integer,
    raw_record text,
    reason text NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejected_events_day_idx ON raw.rejected_events (kind, event_date, source_file);

-- One row per file per load. Reconciliation: rows_read = rows_loaded + rows_rejected + rows_duplicate.
-- status: loaded (every row), partial (some rows rejected), rejected (whole file unreadable; error says why).
CREATE TABLE raw.ingested_files (
    kind text NOT NULL CHECK (kind IN ('page', 'revenue')),
    event_date date NOT NULL,
    source_file text NOT NULL,
    file_format text NOT NULL,
    sha256 text NOT NULL,
    bytes bigint NOT NULL,
    rows_read integer NOT NULL,
    rows_loaded integer NOT NULL,
    rows_rejected integer NOT NULL,
    rows_duplicate integer NOT NULL DEFAULT 0,
    status text NOT NULL CHECK (status IN ('loaded', 'partial', 'rejected')),
    error text,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, event_date, source_file),
    CHECK (rows_read = rows_loaded + rows_rejected + rows_duplicate)
);

-- Analyst access: which login role reads which tenant's rows in `marts` (Row-Level Security).
CREATE SCHEMA IF NOT EXISTS marts;

CREATE TABLE analyst_roles (
    role_name name PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The tenant an analyst role may read. SECURITY DEFINER so analysts need no access to
-- analyst_roles; it answers only for a role the session may act as, so nobody can ask for others.
CREATE FUNCTION marts.analyst_tenant_id(role_name name) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
AS $$
    SELECT r.tenant_id FROM public.analyst_roles r
    WHERE r.role_name = $1 AND pg_catalog.pg_has_role(session_user, $1, 'MEMBER')
$$;
REVOKE ALL ON FUNCTION marts.analyst_tenant_id(name) FROM PUBLIC;
