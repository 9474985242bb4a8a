-- Site and media (issue 13, site): the media library, featured images, site releases and the URLs
-- ever served (so a changed slug answers 301 and a withdrawn article 410).

-- One row per image known to the tenant: where it came from, its checksum, size, alt and licence,
-- and the optimised variants written to the media store (content-hashed file names).
CREATE TABLE media_assets (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    -- what refers to it: a body path such as '/images/x.jpg', or 'featured:<article id>'
    source_ref text NOT NULL,
    source text NOT NULL CHECK (source IN ('folder', 'generated', 'llm')),
    -- generated images are offline stand-ins and say so in their pixels and here
    is_stand_in boolean NOT NULL DEFAULT false,
    original_name text,
    checksum text NOT NULL,            -- sha256 of the source bytes
    mime_type text NOT NULL,
    width integer NOT NULL CHECK (width > 0),
    height integer NOT NULL CHECK (height > 0),
    bytes integer NOT NULL CHECK (bytes >= 0),
    alt_text text NOT NULL DEFAULT '',
    credit text,
    licence text,
    -- site path of the fallback (original format, metadata stripped) and of each WebP width
    public_path text NOT NULL,
    variants jsonb NOT NULL DEFAULT '[]',  -- [{width, height, format, path}]
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, source_ref)
);
CREATE INDEX media_assets_checksum_idx ON media_assets (tenant_id, checksum);

ALTER TABLE articles ADD COLUMN featured_media_id uuid REFERENCES media_assets(id) ON DELETE SET NULL;

-- Every build of a tenant's site; the live one is what the `current` link points at.
CREATE TABLE site_releases (
    id bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    release_name text NOT NULL,
    status text NOT NULL CHECK (status IN ('live', 'superseded', 'rolled_back', 'failed', 'pruned')),
    base_url text NOT NULL,
    pages integer NOT NULL DEFAULT 0,
    rendered integer NOT NULL DEFAULT 0,
    reused integer NOT NULL DEFAULT 0,
    removed integer NOT NULL DEFAULT 0,
    redirects integer NOT NULL DEFAULT 0,
    gone integer NOT NULL DEFAULT 0,
    warnings jsonb NOT NULL DEFAULT '[]',
    error text,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    UNIQUE (tenant_id, release_name)
);

-- Every article URL the site has served: a path that no longer is its article's page redirects
-- (301) to the current one, or answers 410 once the article is unpublished or deleted.
CREATE TABLE site_urls (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    path text NOT NULL,
    article_id uuid NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    first_seen timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, path)
);
CREATE INDEX site_urls_article_idx ON site_urls (article_id);

-- internal links written to an old slug are resolved through the versions that carried it
CREATE INDEX article_versions_slug_idx ON article_versions (tenant_id, slug);
