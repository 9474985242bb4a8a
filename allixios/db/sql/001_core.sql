-- Tenants, people and the niche catalogue. Every row carries tenant_id.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE tenants (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9_]*$'),
    logo_url text,
    primary_color text,
    secondary_color text,
    custom_domain text,
    -- quality bars, scheduling and AI settings; see allixios/tenants.py for the keys
    settings jsonb NOT NULL DEFAULT '{}',
    feature_flags jsonb NOT NULL DEFAULT '{}',
    limits jsonb NOT NULL DEFAULT '{}',
    plan_type text NOT NULL DEFAULT 'free',
    billing_email text,
    subscription_status text NOT NULL DEFAULT 'active',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);

CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email text NOT NULL,
    display_name text,
    role text NOT NULL DEFAULT 'editor' CHECK (role IN ('admin', 'editor', 'analyst', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    UNIQUE (tenant_id, email)
);

CREATE TABLE authors (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name text NOT NULL,
    email text,
    bio text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

CREATE TABLE niches (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    slug text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9_]*$'),
    name text NOT NULL,
    seed_keywords text[] NOT NULL DEFAULT '{}',
    daily_quota integer NOT NULL DEFAULT 5 CHECK (daily_quota >= 0),
    -- the key of this niche in Dagster's dynamic "niche" partition dimension
    partition_key text NOT NULL UNIQUE,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    UNIQUE (tenant_id, slug)
);

CREATE TABLE categories (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    niche_id uuid REFERENCES niches(id) ON DELETE SET NULL,
    name text NOT NULL,
    slug text NOT NULL,
    UNIQUE (tenant_id, slug)
);

-- Who changed what, when; before/after version numbers where an article changed.
CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE,
    actor text NOT NULL,
    action text NOT NULL,
    entity_type text NOT NULL,
    entity_id text,
    before_version integer,
    after_version integer,
    details jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_entity_idx ON audit_log (tenant_id, entity_type, entity_id, created_at);
