-- undo 006_ingest_integrity
SELECT 1;
