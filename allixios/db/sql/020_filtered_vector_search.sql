-- Filtered vector search through the HNSW index (issue 19).
-- With this b-tree the planner answered the product's tenant (+ niche) filtered top-10 by reading the
-- whole niche through the b-tree and sorting it exactly: p95 48.8 ms at 1M vectors. Without it the
-- same query takes the model's HNSW index with pgvector's iterative scan: recall@10 0.99 at p95 5.6 ms
-- on the same corpus (benchmarks/vector_search.py, "HNSW-only" rows). Nothing else reads embeddings
-- by (tenant, niche): every other query joins on the primary key (article_id, model, chunk_index).
DROP INDEX IF EXISTS embeddings_tenant_niche_idx;
