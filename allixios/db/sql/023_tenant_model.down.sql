DROP TABLE IF EXISTS tenant_usage CASCADE;
DROP INDEX IF EXISTS articles_author_idx;
DROP INDEX IF EXISTS articles_category_idx;
DROP INDEX IF EXISTS categories_niche_idx;
ALTER TABLE categories DROP COLUMN IF EXISTS keywords, DROP COLUMN IF EXISTS description;
DROP INDEX IF EXISTS authors_niche_idx;
DROP INDEX IF EXISTS authors_tenant_slug_idx;
ALTER TABLE authors DROP COLUMN IF EXISTS niche_id, DROP COLUMN IF EXISTS slug, DROP COLUMN IF EXISTS job_title,
    DROP COLUMN IF EXISTS active;
UPDATE tenants SET plan_type = 'free' WHERE plan_type = 'self_hosted';
ALTER TABLE tenants ALTER COLUMN plan_type SET DEFAULT 'free';
