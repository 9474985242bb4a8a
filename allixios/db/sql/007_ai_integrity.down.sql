-- undo 007_ai_integrity
SELECT 1;
