-- undo 011_operations
SELECT 1;
