-- CASCADE: dbt views read it (stg_link_clicks and what is built on it); a re-build recreates them
DROP TABLE IF EXISTS raw.link_clicks CASCADE;
DROP TABLE IF EXISTS collector_refusals;
DROP TABLE IF EXISTS collector_salts;
DROP TABLE IF EXISTS collector_sites;
