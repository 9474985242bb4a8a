-- Issue 18: internal-link suggestions applied (accepted or automatic) and the competitor fetch cache.

-- One row per internal link Allixios inserted into an article (allixios/content/link_apply.py):
-- accepting the same suggestion twice finds this row (and the link in the text) and adds nothing;
-- the per-article cap of automatic links counts the 'auto' rows of the source.
CREATE TABLE internal_link_applications (
    id bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    source_article_id uuid NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    target_article_id uuid NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    anchor text NOT NULL,
    mode text NOT NULL CHECK (mode IN ('accepted', 'auto')),
    actor text NOT NULL,
    version_number integer NOT NULL,
    reason text,
    applied_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_article_id, target_article_id)
);
CREATE INDEX internal_link_applications_tenant ON internal_link_applications (tenant_id, applied_at);

-- Competitors' robots.txt and sitemaps fetched over HTTP (allixios/automation/competitor_fetch.py):
-- the validators (ETag, Last-Modified) make the next fetch a conditional GET; a 304 reuses body.
-- Per tenant: which competitors a tenant watches is its own business.
CREATE TABLE competitor_fetch_cache (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    url text NOT NULL,
    status integer,
    etag text,
    last_modified text,
    body bytea,
    fetched_at timestamptz,
    checked_at timestamptz NOT NULL DEFAULT now(),
    error text,
    PRIMARY KEY (tenant_id, url)
);
