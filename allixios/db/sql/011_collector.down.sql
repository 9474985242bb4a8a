DROP TABLE IF EXISTS raw.link_clicks;
DROP TABLE IF EXISTS collector_refusals;
DROP TABLE IF EXISTS collector_salts;
DROP TABLE IF EXISTS collector_sites;
