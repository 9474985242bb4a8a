-- undo 009_publications
SELECT 1;
