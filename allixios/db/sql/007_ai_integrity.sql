-- AI ledger integrity: pending attempts, request claims, embedding budgets (issue 11, AI and security)
-- (placeholder until its issue fills it)
SELECT 1;
