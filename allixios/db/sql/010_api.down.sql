-- undo 010_api
SELECT 1;
