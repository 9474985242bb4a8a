-- The seed's tenant model filled in (issue 18): author personas and categories per niche, the
-- plan/limit/flag counters of tenants. See docs/areas/tenants.md.

-- an author persona belongs to one niche (or to the whole tenant when niche_id is NULL); its slug
-- names its page on the site (/authors/<slug>/)
ALTER TABLE authors
    ADD COLUMN niche_id uuid REFERENCES niches(id) ON DELETE SET NULL,
    ADD COLUMN slug text,
    ADD COLUMN job_title text,
    ADD COLUMN active boolean NOT NULL DEFAULT true;
UPDATE authors SET slug = trim(both '-' from regexp_replace(lower(name), '[^a-z0-9]+', '-', 'g')) WHERE slug IS NULL;
ALTER TABLE authors ALTER COLUMN slug SET NOT NULL;
CREATE UNIQUE INDEX authors_tenant_slug_idx ON authors (tenant_id, slug);
CREATE INDEX authors_niche_idx ON authors (tenant_id, niche_id) WHERE active;

-- categories: the words that put an article in one (title, tags, keyphrase), and a line for its page
ALTER TABLE categories
    ADD COLUMN keywords text[] NOT NULL DEFAULT '{}',
    ADD COLUMN description text;
CREATE INDEX categories_niche_idx ON categories (tenant_id, niche_id);
CREATE INDEX articles_author_idx ON articles (author_id) WHERE author_id IS NOT NULL;
CREATE INDEX articles_category_idx ON articles (category_id) WHERE category_id IS NOT NULL;

-- per-tenant daily counters of limited things (API calls; articles per day are counted from articles)
CREATE TABLE tenant_usage (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    metric text NOT NULL,
    day date NOT NULL,
    count bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, metric, day)
);

-- plans (allixios/plans.py): nothing was enforced before, so existing 'free' tenants become
-- 'self_hosted' (no limits, features as configured) and keep behaving as they did; SaaS tiers are
-- chosen with `allixios tenants plan`
ALTER TABLE tenants ALTER COLUMN plan_type SET DEFAULT 'self_hosted';
UPDATE tenants SET plan_type = 'self_hosted' WHERE plan_type = 'free';
