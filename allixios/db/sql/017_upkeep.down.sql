DROP TABLE IF EXISTS business_alerts, revision_attempts CASCADE;
DROP TABLE IF EXISTS marts.mart_article_forecast CASCADE;
