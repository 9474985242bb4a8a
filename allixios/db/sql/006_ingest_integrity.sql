-- Ingest integrity: tenant-bound event keys, per-file accounting (issue 11, ingest)
-- (placeholder until its issue fills it)
SELECT 1;
