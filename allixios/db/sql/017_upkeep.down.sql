ALTER TABLE seo_reports DROP COLUMN IF EXISTS orphaned_articles, DROP COLUMN IF EXISTS link_suggestions;
UPDATE topics SET source = 'file' WHERE source = 'competitor';
ALTER TABLE topics DROP CONSTRAINT IF EXISTS topics_source_check;
ALTER TABLE topics ADD CONSTRAINT topics_source_check
    CHECK (source IN ('cli', 'file', 'research', 'api', 'refresh'));
DROP TABLE IF EXISTS business_alerts, revision_attempts CASCADE;
DROP TABLE IF EXISTS marts.mart_article_forecast CASCADE;
