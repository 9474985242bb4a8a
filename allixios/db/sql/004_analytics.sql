-- Raw analytics events land here (COPY from validated files); dbt reads them as sources.
CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE raw.page_events (
    event_id text NOT NULL,
    event_ts timestamptz NOT NULL,
    event_date date NOT NULL,
    tenant_id uuid NOT NULL,
    article_id uuid,
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
    article_id uuid,
    source text NOT NULL,
    amount numeric(14, 6) NOT NULL,
    currency text NOT NULL,
    amount_usd numeric(14, 6) NOT NULL,
    source_file text NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_date, event_id)
);

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
CREATE INDEX rejected_events_day_idx ON raw.rejected_events (kind, event_date);

-- One row per file per load: read = loaded + rejected.
CREATE TABLE raw.ingested_files (
    kind text NOT NULL,
    event_date date NOT NULL,
    source_file text NOT NULL,
    sha256 text NOT NULL,
    rows_read integer NOT NULL,
    rows_loaded integer NOT NULL,
    rows_rejected integer NOT NULL,
    rows_duplicate integer NOT NULL DEFAULT 0,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, event_date, source_file)
);
