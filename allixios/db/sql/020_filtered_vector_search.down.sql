CREATE INDEX IF NOT EXISTS embeddings_tenant_niche_idx ON embeddings (tenant_id, niche_id, model);
