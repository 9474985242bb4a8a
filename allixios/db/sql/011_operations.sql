-- Operations from the UI (issue 12)
-- (placeholder until its issue fills it)
SELECT 1;
