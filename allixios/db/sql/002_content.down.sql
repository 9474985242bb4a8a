DROP TABLE IF EXISTS workflow_executions, edit_locks, seo_reports, embeddings CASCADE;
DROP TABLE IF EXISTS article_versions, articles, topics CASCADE;
DROP FUNCTION IF EXISTS refuse_version_update();
DROP TYPE IF EXISTS execution_status, content_status;
