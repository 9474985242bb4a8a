DROP INDEX IF EXISTS articles_tenant_slug_c_idx;
