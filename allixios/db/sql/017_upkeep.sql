-- Issue 18: held articles revised automatically, article forecasts, business alerts.

-- One row per automatic revision attempt of a held (needs_revision) article: the per-article
-- attempt cap counts these rows; the outcome says what the attempt gave.
CREATE TABLE revision_attempts (
    id bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    article_id uuid NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    run_key text NOT NULL,
    from_version integer NOT NULL,
    run_id text,
    outcome text,
    requested_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_key, article_id)
);
CREATE INDEX revision_attempts_article ON revision_attempts (article_id);

-- Forecasts per published article (views and revenue, 1..28 days ahead, 80 % and 95 %
-- intervals), written by the `article_forecasts` asset (statsforecast), read by analysts: a
-- marts table with the same Row-Level Security as the dbt marts (macro secure_relation).
CREATE TABLE marts.mart_article_forecast (
    tenant_id uuid NOT NULL,
    niche_id uuid,
    article_id uuid NOT NULL,
    as_of date NOT NULL,
    metric text NOT NULL CHECK (metric IN ('views', 'revenue_usd')),
    target_day date NOT NULL,
    horizon_days integer NOT NULL CHECK (horizon_days BETWEEN 1 AND 28),
    model text NOT NULL,
    forecast double precision NOT NULL,
    lo_80 double precision NOT NULL,
    hi_80 double precision NOT NULL,
    lo_95 double precision NOT NULL,
    hi_95 double precision NOT NULL,
    history_days integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (article_id, as_of, metric, target_day)
);
CREATE INDEX mart_article_forecast_day ON marts.mart_article_forecast (as_of, tenant_id);
ALTER TABLE marts.mart_article_forecast ENABLE ROW LEVEL SECURITY;
ALTER TABLE marts.mart_article_forecast FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON marts.mart_article_forecast FOR SELECT
    USING (tenant_id = (SELECT marts.analyst_tenant_id(current_user)));
CREATE POLICY pipeline_full_access ON marts.mart_article_forecast TO current_user USING (true) WITH CHECK (true);
DO $grant$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'analyst') THEN
        EXECUTE 'GRANT SELECT ON marts.mart_article_forecast TO analyst';
    END IF;
END $grant$;

-- Business alerts: one row per (tenant, kind, subject, window), so the same condition alerts
-- once per window; delivered to the webhook and by e-mail, held back during quiet hours.
CREATE TABLE business_alerts (
    id bigserial PRIMARY KEY,
    tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE,
    kind text NOT NULL,
    subject text NOT NULL,
    window_start timestamptz NOT NULL,
    severity text NOT NULL DEFAULT 'warning' CHECK (severity IN ('info', 'warning', 'critical')),
    message text NOT NULL,
    asset_key text,
    details jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    webhook_delivered_at timestamptz,
    email_delivered_at timestamptz,
    delivery_error text,
    delivery_attempts integer NOT NULL DEFAULT 0
);
-- a platform-wide alert (no tenant) is deduplicated too: NULLS NOT DISTINCT
CREATE UNIQUE INDEX business_alerts_once_per_window
    ON business_alerts (tenant_id, kind, subject, window_start) NULLS NOT DISTINCT;
CREATE INDEX business_alerts_undelivered ON business_alerts (created_at)
    WHERE webhook_delivered_at IS NULL OR email_delivered_at IS NULL;

-- Competitor content gaps become backlog topics with their own source (allixios/automation/content_gaps.py)
ALTER TABLE topics DROP CONSTRAINT IF EXISTS topics_source_check;
ALTER TABLE topics ADD CONSTRAINT topics_source_check
    CHECK (source IN ('cli', 'file', 'research', 'api', 'refresh', 'competitor'));

-- seo_reports: orphaned articles and internal-link suggestions (allixios/content/internal_links.py)
ALTER TABLE seo_reports ADD COLUMN orphaned_articles jsonb NOT NULL DEFAULT '[]',
                        ADD COLUMN link_suggestions jsonb NOT NULL DEFAULT '[]';
