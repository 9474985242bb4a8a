-- undo 008_site_media
DROP INDEX IF EXISTS article_versions_slug_idx;
DROP TABLE IF EXISTS site_urls;
DROP TABLE IF EXISTS site_releases;
ALTER TABLE articles DROP COLUMN IF EXISTS featured_media_id;
DROP TABLE IF EXISTS media_assets;
