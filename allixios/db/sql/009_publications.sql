-- Publications per article version and target, target configuration (issue 13, targets)
-- (placeholder until its issue fills it)
SELECT 1;
