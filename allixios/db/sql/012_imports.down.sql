-- CASCADE: dbt views (staging.stg_*, and what is built on them) read these tables; a re-build recreates them
DROP TABLE IF EXISTS raw.import_rejections CASCADE;
DROP TABLE IF EXISTS raw.import_files CASCADE;
DROP TABLE IF EXISTS raw.ad_revenue CASCADE;
DROP TABLE IF EXISTS raw.affiliate_orders CASCADE;
DROP TABLE IF EXISTS raw.traffic_pages CASCADE;
DROP TABLE IF EXISTS raw.ga4_events CASCADE;
DROP TABLE IF EXISTS raw.search_console CASCADE;
