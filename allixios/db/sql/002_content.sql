-- Topics backlog, articles with append-only versions, embeddings, SEO reports, edit locks, runs.
CREATE TYPE content_status AS ENUM ('draft', 'scored', 'needs_revision', 'published', 'archived', 'failed');
CREATE TYPE execution_status AS ENUM ('queued', 'running', 'completed', 'failed', 'cancelled');

CREATE TABLE topics (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    niche_id uuid NOT NULL REFERENCES niches(id) ON DELETE CASCADE,
    title text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 300),
    keywords text[] NOT NULL DEFAULT '{}',
    target_keyphrase text,
    priority integer NOT NULL DEFAULT 50 CHECK (priority BETWEEN 0 AND 100),
    -- pending: in the backlog; selected: picked for a day's partition; drafted: has an article;
    -- rejected: duplicate or invalid (reason kept); failed: generation failed (reason kept)
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'selected', 'drafted', 'rejected', 'failed', 'deferred')),
    source text NOT NULL DEFAULT 'cli' CHECK (source IN ('cli', 'file', 'research', 'api', 'refresh')),
    source_ref text,
    requested_at timestamptz NOT NULL DEFAULT now(),
    partition_date date,
    rejection_reason text,
    similar_article_id uuid,
    similarity real,
    failure_reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- the same title twice in one niche is one topic
CREATE UNIQUE INDEX topics_dedupe_idx ON topics (tenant_id, niche_id, lower(btrim(title)));
CREATE INDEX topics_backlog_idx ON topics (niche_id, status, priority DESC, requested_at);
CREATE INDEX topics_partition_idx ON topics (niche_id, partition_date);

CREATE TABLE articles (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    title text NOT NULL,
    content text,
    slug text NOT NULL,
    niche_id uuid REFERENCES niches(id),
    category_id uuid REFERENCES categories(id),
    author_id uuid REFERENCES authors(id),
    topic_id uuid REFERENCES topics(id) ON DELETE SET NULL,
    meta_title text,
    meta_description text,
    featured_image_url text,
    excerpt text,
    tags text[] NOT NULL DEFAULT '{}',
    primary_keyphrase text,
    status content_status NOT NULL DEFAULT 'draft',
    workflow_state jsonb NOT NULL DEFAULT '{}',
    content_quality_score integer NOT NULL DEFAULT 0,
    seo_score integer NOT NULL DEFAULT 0,
    engagement_score numeric NOT NULL DEFAULT 0,
    view_count integer NOT NULL DEFAULT 0,
    unique_views integer NOT NULL DEFAULT 0,
    time_on_page integer NOT NULL DEFAULT 0,
    bounce_rate numeric NOT NULL DEFAULT 0,
    social_shares integer NOT NULL DEFAULT 0,
    ai_generated boolean NOT NULL DEFAULT false,
    ai_model_used text,
    prompt_version text,
    generation_cost numeric(14, 8) NOT NULL DEFAULT 0,  -- same scale as ai_usage.cost_usd
    optimization_suggestions jsonb NOT NULL DEFAULT '[]',
    -- every assessment's result: [{id, group, score, rating, passed, detail}]
    assessments jsonb NOT NULL DEFAULT '[]',
    version_number integer NOT NULL DEFAULT 1,
    parent_version_id uuid,
    published_version_number integer,
    published_at timestamptz,
    content_hash text,
    partition_date date,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by text,
    updated_by text,
    deleted_at timestamptz,
    search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', coalesce(title, '')), 'A') ||
        setweight(to_tsvector('english', coalesce(excerpt, '')), 'B') ||
        setweight(to_tsvector('english', coalesce(content, '')), 'C')
    ) STORED,
    UNIQUE (tenant_id, slug)
);
CREATE UNIQUE INDEX articles_topic_idx ON articles (topic_id) WHERE topic_id IS NOT NULL;
CREATE INDEX articles_search_idx ON articles USING gin (search_vector);
CREATE INDEX articles_niche_status_idx ON articles (tenant_id, niche_id, status) WHERE deleted_at IS NULL;
CREATE INDEX articles_partition_idx ON articles (niche_id, partition_date);

-- Append-only: rows are never updated (a trigger refuses it); a change is a new version.
CREATE TABLE article_versions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    article_id uuid NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    version_number integer NOT NULL,
    reason text NOT NULL CHECK (reason IN ('generated', 'regenerated', 'refresh', 'edit', 'revert', 'published')),
    title text NOT NULL,
    content text,
    slug text NOT NULL,
    meta_title text,
    meta_description text,
    excerpt text,
    tags text[] NOT NULL DEFAULT '{}',
    primary_keyphrase text,
    content_hash text NOT NULL,
    parent_version_id uuid REFERENCES article_versions(id),
    run_id text,
    model text,
    prompt_version text,
    quality_score integer,
    seo_score integer,
    assessments jsonb NOT NULL DEFAULT '[]',
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (article_id, version_number)
);
ALTER TABLE articles ADD CONSTRAINT articles_parent_version_fk
    FOREIGN KEY (parent_version_id) REFERENCES article_versions(id) DEFERRABLE INITIALLY DEFERRED;

CREATE FUNCTION refuse_version_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'article_versions is append-only: create a new version instead of updating %', OLD.id;
END $$;
CREATE TRIGGER article_versions_append_only BEFORE UPDATE ON article_versions
    FOR EACH ROW EXECUTE FUNCTION refuse_version_update();

-- One vector per article, model and chunk. The column has no fixed dimension so a new model is a
-- re-embed; each model gets its own partial HNSW index over a cast to its dimension.
CREATE TABLE embeddings (
    article_id uuid NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    niche_id uuid REFERENCES niches(id),
    model text NOT NULL,
    dimension integer NOT NULL CHECK (dimension > 0),
    chunk_index integer NOT NULL DEFAULT 0,
    content_hash text NOT NULL,
    embedding vector NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (article_id, model, chunk_index),
    CHECK (vector_dims(embedding) = dimension)
);
CREATE INDEX embeddings_tenant_niche_idx ON embeddings (tenant_id, niche_id, model);
-- the offline embedder's index (allixios.ai.offline_embedder, 384 dimensions). ef_construction 200,
-- not pgvector's default 64: on 1M clustered vectors it took recall@10 from 0.88 to 0.98 (BENCHMARKS.md)
CREATE INDEX embeddings_hnsw_offline_hashing_384 ON embeddings
    USING hnsw ((embedding::vector(384)) vector_cosine_ops) WITH (m = 16, ef_construction = 200)
    WHERE model = 'offline/hashing-384';

CREATE TABLE seo_reports (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    niche_id uuid NOT NULL REFERENCES niches(id) ON DELETE CASCADE,
    report_date date NOT NULL,
    article_count integer NOT NULL DEFAULT 0,
    published_count integer NOT NULL DEFAULT 0,
    avg_quality numeric,
    avg_seo numeric,
    score_distribution jsonb NOT NULL DEFAULT '{}',
    failing_assessments jsonb NOT NULL DEFAULT '[]',
    cannibalization_pairs jsonb NOT NULL DEFAULT '[]',
    missing_metadata jsonb NOT NULL DEFAULT '[]',
    broken_links jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, niche_id, report_date)
);

CREATE TABLE edit_locks (
    article_id uuid PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    locked_by text NOT NULL,
    locked_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

-- Mirrors every Dagster run (the seed's Content Orchestrator execution record).
CREATE TABLE workflow_executions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE,
    workflow_type text NOT NULL,
    workflow_id text NOT NULL,
    execution_id text NOT NULL UNIQUE,
    status execution_status NOT NULL DEFAULT 'queued',
    progress_percentage integer NOT NULL DEFAULT 0,
    input_data jsonb,
    output_data jsonb,
    error_details jsonb,
    started_at timestamptz,
    completed_at timestamptz,
    duration_ms integer,
    tokens_used integer NOT NULL DEFAULT 0,
    cost_usd numeric(14, 6) NOT NULL DEFAULT 0,
    memory_used_mb integer NOT NULL DEFAULT 0,
    parent_execution_id uuid REFERENCES workflow_executions(id),
    triggered_by text,
    tags jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workflow_executions_status_idx ON workflow_executions (status, updated_at);
