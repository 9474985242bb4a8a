-- CASCADE: the dbt views over articles (staging.stg_articles and what reads it) use the column;
-- dbt rebuilds them on its next run.
ALTER TABLE articles DROP COLUMN IF EXISTS metadata CASCADE;
