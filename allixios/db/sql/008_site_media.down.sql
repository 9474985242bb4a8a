-- undo 008_site_media
SELECT 1;
