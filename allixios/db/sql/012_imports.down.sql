DROP TABLE IF EXISTS raw.import_rejections;
DROP TABLE IF EXISTS raw.import_files;
DROP TABLE IF EXISTS raw.ad_revenue;
DROP TABLE IF EXISTS raw.affiliate_orders;
DROP TABLE IF EXISTS raw.traffic_pages;
DROP TABLE IF EXISTS raw.ga4_events;
DROP TABLE IF EXISTS raw.search_console;
